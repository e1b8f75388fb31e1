"""gradcheck.functions: check_grad and check_vjp on plain NumPy functions, the way
a user brings them, including the cases that used to raise false alarms."""

import numpy as np
import pytest

from minivae.errors import InputError, InputTypeError
from minivae.gradcheck import DEFAULT_MAX_ENTRIES, check_grad, check_vjp


def conv1d(x, w):
    """'valid' 1-D correlation, one channel: y[n, i] = sum_k x[n, i + k] w[k]."""
    k = len(w)
    return np.stack([x[:, i:i + k] @ w for i in range(x.shape[1] - k + 1)], axis=1)


def conv1d_vjp(dy, x, w):
    k = len(w)
    dx = np.zeros_like(x)
    for i in range(dy.shape[1]):
        dx[:, i:i + k] += dy[:, i:i + 1] * w
    dw = sum(dy[:, i] @ x[:, i:i + k] for i in range(dy.shape[1]))
    return dx, dw


def test_check_vjp_names_inputs_after_fs_parameters(rng):
    report = check_vjp(conv1d, conv1d_vjp, rng.standard_normal((2, 7)), rng.standard_normal(3))
    assert [r.name for r in report] == ["x", "w"] and report.verdict == "pass"
    # Smooth (bilinear) f in float64: errors near 1e-10 of the scale; 1e-6 is the default.
    assert report.worst() < 1e-6


def test_check_vjp_catches_one_wrong_entry(rng):
    def off_by_1e4(dy, x, w):
        dx, dw = conv1d_vjp(dy, x, w)
        dw[1] *= 1 + 1e-4          # torch's gradcheck accepts this (rtol 1e-3)
        return dx, dw
    report = check_vjp(conv1d, off_by_1e4, rng.standard_normal((2, 7)),
                       rng.standard_normal(3))
    assert report["w"].verdict == "FAIL" and report["x"].verdict == "pass"
    assert report["w"].torch_passed


def test_any_layout_and_dtype_is_copied_and_an_upcast_is_noted(rng):
    x = np.asfortranarray(rng.standard_normal((3, 7)).astype(np.float32))
    w = rng.standard_normal(3)[::-1]
    seen = []

    def f(x, w):
        seen.append((x.dtype, x.flags.c_contiguous, w.flags.c_contiguous))
        return conv1d(x, w)
    report = check_vjp(f, conv1d_vjp, x, w)
    assert report.verdict == "pass" and set(seen) == {(np.dtype(np.float64), True, True)}
    assert report.notes == ["x: float32 copied to float64 (the check perturbs it by about "
                            "1e-6 and needs float64 to hold that)"]


def test_relu_with_two_or_more_exact_zeros_passes(rng):
    x = rng.standard_normal((3, 5))
    x[0, :2] = x[2, 4] = 0.0
    report = check_vjp(lambda v: np.maximum(v, 0), lambda dy, v: (dy * (v > 0),), x)
    assert report.verdict == "pass" and report["v"].kinks == 3


def test_a_mean_over_the_books_batch_is_no_false_alarm(rng):
    # Mean squared error over 100 x 32 x 32 entries: gradients ~1e-5 against a loss
    # ~0.17, where the old checker failed at rtol 1e-6. 200 sampled entries.
    y, t = rng.uniform(0, 1, (100, 32, 32, 1)), rng.uniform(0, 1, (100, 32, 32, 1))
    report = check_grad(lambda v: np.mean((v - t) ** 2), lambda v: 2 * (v - t) / v.size, y,
                        max_entries=200)
    assert report.verdict != "FAIL"
    wrong = check_grad(lambda v: np.mean((v - t) ** 2), lambda v: (v - t) / v.size, y,
                       max_entries=200)
    assert wrong.verdict == "FAIL"


def test_small_entries_beside_large_ones_are_checked(rng):
    # Weight decay 2x too large on the weights of always-zero raw pixels: there the
    # gradient is lam * W ~ 1e-5 beside entries ~1e2.
    x = rng.integers(0, 256, (8, 6)).astype(float)
    x[:, :2] = 0.0
    t, lam = rng.standard_normal((8, 3)), 5e-4
    W = 0.05 * rng.standard_normal((6, 3))

    def loss(w):
        return np.sum((x @ w) * t) / 8 + 0.5 * lam * np.sum(w * w)
    assert check_grad(loss, lambda w: x.T @ t / 8 + lam * w, W).verdict == "pass"
    report = check_grad(loss, lambda w: x.T @ t / 8 + 2 * lam * w, W)
    assert report.verdict == "FAIL" and report["x"].relative_error < 1e-6


def test_a_scalar_f_is_required_and_a_vjp_must_match_its_inputs(rng):
    x = rng.standard_normal(3)
    with pytest.raises(TypeError, match="f must return a scalar, got an array of shape"):
        check_grad(lambda v: v * 2, lambda v: 2 * np.ones_like(v), x)
    with pytest.raises(TypeError, match="vjp must return 2 gradient"):
        check_vjp(lambda a, b: a * b, lambda dy, a, b: dy * b, x, x)
    with pytest.raises(ValueError, match=r"grad\(x\) has shape \(2,\)"):
        check_grad(lambda v: np.sum(v), lambda v: np.ones(2), x)
    with pytest.raises(ValueError, match="dy must have f's output shape"):
        check_vjp(np.sin, lambda dy, v: dy * np.cos(v), x, dy=np.ones(4))


def test_changing_an_input_in_place_is_refused(rng):
    def rude(dy, v):
        v += 1.0
        return dy
    with pytest.raises(ValueError, match="v was changed in place by f or by its gradient"):
        check_vjp(lambda v: v * 1.0, rude, rng.standard_normal(3))


@pytest.mark.parametrize("option,value,match", [
    ("step", 0.0, "step must be a finite number > 0"),
    ("rtol", float("nan"), "rtol must be a finite number > 0"),
    ("max_entries", 0, "max_entries must be a positive integer or None"),
    ("directions", -1, "directions must be an integer >= 0"),
])
def test_settings_are_validated(rng, option, value, match):
    with pytest.raises(ValueError, match=match):
        check_grad(lambda v: np.sum(v), np.ones_like, rng.standard_normal(2), **{option: value})


def test_a_float32_function_is_checked_at_its_own_precision(rng):
    x = rng.standard_normal(20)
    f = lambda v: np.sum(np.sin(v.astype(np.float32)))        # noqa: E731
    report = check_grad(f, np.cos, x)
    assert report.verdict != "FAIL" and "f computes in float32: step 0.001" in str(report)
    assert check_grad(f, lambda v: 1.05 * np.cos(v), x).verdict == "FAIL"


# -- non-finite values: never a pass (issue 22) --------------------------------

def quiet(f):
    """f with NumPy's warnings for sqrt and log outside their domain silenced."""
    def g(*args):
        with np.errstate(invalid="ignore", divide="ignore"):
            return f(*args)
    return g


SQRT = quiet(lambda v: float(np.sum(np.sqrt(v))))
LOG = quiet(lambda v: float(np.sum(np.log(v))))


@pytest.mark.parametrize("f", [SQRT, LOG], ids=["sqrt", "log"])
def test_a_wrong_gradient_where_the_step_leaves_the_domain_fails(f):
    # The adversarial report's case: x = 1e-7, h = 1e-6, so f(x - h) is NaN; the
    # claimed 5 is wrong (the true slopes are 1581 and 1e7).
    report = check_grad(f, lambda v: np.full_like(v, 5.0), np.full(3, 1e-7))
    assert report.verdict == "FAIL" and not report.passed
    text = str(report)
    assert "numerical gradient not finite at (0,): f is nan at x - h" in text
    assert "the step leaves f's domain" in text and "3 one-sided (domain)" in text


def test_nan_on_one_side_only_through_check_vjp():
    # y = sqrt(1e-7 - v): NaN at v + h only. The vjp's sign is flipped.
    f = quiet(lambda v: np.sqrt(1e-7 - v))
    wrong = check_vjp(f, lambda dy, v: dy * 0.5 / np.sqrt(1e-7 - v), np.zeros(2))
    right = check_vjp(f, lambda dy, v: -dy * 0.5 / np.sqrt(1e-7 - v), np.zeros(2))
    assert wrong.verdict == "FAIL" and "f is nan at x + h" in str(wrong)
    assert right.verdict != "FAIL"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_analytic_gradient_fails_and_says_so(rng, bad):
    x = rng.standard_normal(4)
    report = check_grad(lambda v: float(np.sum(np.sin(v))),
                        lambda v: np.where(np.arange(4) == 2, bad, np.cos(v)), x)
    assert report.verdict == "FAIL"
    assert f"analytic gradient not finite at 1 of 4 entries, first (2,): {bad}" in str(report)
    vjp = check_vjp(np.sin, lambda dy, v: np.full_like(v, bad), x)
    assert vjp.verdict == "FAIL" and np.isnan(vjp.worst())


def test_a_non_finite_analytic_entry_fails_even_when_not_sampled(rng):
    x = rng.standard_normal(50)
    report = check_grad(lambda v: float(np.sum(np.sin(v))),
                        lambda v: np.where(np.arange(50) == 37, np.nan, np.cos(v)), x,
                        max_entries=5)
    assert report.verdict == "FAIL" and "first (37,): nan" in str(report)


def test_a_right_gradient_near_a_domain_boundary_is_not_a_failure():
    # sqrt at 1e-3: x - 2h stays inside, and the central difference's truncation
    # (h^2 f'''/6 ~ 2e-6 against a slope of 15.8) is below rtol 1e-6 of it: a pass.
    assert check_grad(SQRT, quiet(lambda v: 0.5 / np.sqrt(v)), np.full(3, 1e-3)).certified
    # Closer, where the step leaves the domain: never FAIL (inconclusive at worst).
    for x0 in (1e-7, 1.5e-6, 3e-6):
        report = check_grad(SQRT, quiet(lambda v: 0.5 / np.sqrt(v)), np.full(2, x0))
        assert report.verdict != "FAIL", str(report)
    assert check_grad(LOG, lambda v: 1 / v, np.full(2, 1e-7)).verdict != "FAIL"


def test_f_not_finite_at_the_point_itself_is_refused():
    with pytest.raises(InputError, match="the loss is not finite at the given point"):
        check_grad(SQRT, lambda v: np.ones_like(v), np.array([-1.0, 1.0]))
    with pytest.raises(InputError, match="f returned non-finite values at the given inputs"):
        check_vjp(quiet(np.log), lambda dy, v: dy / v, np.array([0.0, 1.0]))


# -- refused outputs and inputs ------------------------------------------------

@pytest.mark.parametrize("output", [True, 3, 1.0 + 0j, np.int32(2), np.complex64(1)])
def test_f_must_return_a_real_floating_point_scalar(output):
    with pytest.raises(InputTypeError, match="check_grad: f must return real floating-point "
                                             "values, got"):
        check_grad(lambda v: output, np.zeros_like, np.ones(2))


@pytest.mark.parametrize("dtype", [bool, np.int64, np.complex128])
def test_a_gradient_or_vjp_of_another_kind_is_refused(rng, dtype):
    x = rng.standard_normal(3)
    with pytest.raises(InputTypeError, match=f"gradient of 'x' has dtype {np.dtype(dtype)}"):
        check_grad(lambda v: float(np.sum(v)), lambda v: np.ones(3, dtype), x)
    with pytest.raises(InputTypeError, match=f"gradient of 'v' has dtype {np.dtype(dtype)}"):
        check_vjp(lambda v: v * 1.0, lambda dy, v: np.ones(3, dtype), x)
    with pytest.raises(InputTypeError, match="check_vjp: f must return real floating-point"):
        check_vjp(lambda v: np.ones(3, dtype), lambda dy, v: dy, x)


def test_an_empty_input_is_refused():
    with pytest.raises(InputError, match=r"check_grad: x is empty \(shape \(0,\)\): there is "
                                         r"nothing to check"):
        check_grad(lambda v: float(np.sum(v)), np.ones_like, np.zeros(0))
    with pytest.raises(InputError, match=r"check_vjp: w is empty \(shape \(2, 0\)\)"):
        check_vjp(lambda x, w: x * 1.0, lambda dy, x, w: (dy, w), np.ones(2), np.zeros((2, 0)))


# -- the default cap -----------------------------------------------------------

def test_by_default_a_large_array_is_sampled_and_the_report_says_so(rng):
    x = rng.uniform(1, 2, 20_000)
    report = check_grad(lambda v: float(np.sum(np.sqrt(v))), lambda v: 0.5 / np.sqrt(v), x)
    assert report.verdict == "pass" and report["x"].checked == DEFAULT_MAX_ENTRIES == 1000
    assert "checked 1,000 of 20,000 entries, sampled" in str(report)
    assert "sampled" in str(report).splitlines()[1]
    every = check_grad(lambda v: float(np.sum(v ** 2)), lambda v: 2 * v, x[:1500],
                       max_entries=None)
    assert every["x"].checked == 1500 and "sampled" not in str(every)


def test_one_wrong_entry_outside_the_sample_is_found(rng):
    # 4,000 entries, 1,000 sampled: entry 2,999 is off by 1e-4 of itself. The sample
    # alone would miss it 3 times in 4; the group tests of the rest single it out.
    x = rng.uniform(1, 2, 4000)
    g = 0.5 / np.sqrt(x)
    g[2999] *= 1 + 1e-4
    for seed in range(3):
        report = check_grad(lambda v: float(np.sum(np.sqrt(v))), lambda v: g, x,
                            rng=np.random.default_rng(seed))
        assert report.verdict == "FAIL" and report["x"].worst_entries[0]["index"] == (2999,)


# -- extra arguments and integer inputs (issue 24) ------------------------------

def test_check_grad_passes_extra_arguments_as_scipy_does(rng):
    A, b = rng.standard_normal((4, 3)), rng.standard_normal(4)

    def f(x, A, b):
        return 0.5 * float(np.sum((A @ x - b) ** 2))

    def grad(x, A, b):
        return A.T @ (A @ x - b)
    assert check_grad(f, grad, rng.standard_normal(3), A, b).verdict == "pass"
    assert check_grad(f, lambda x, A, b: 2 * grad(x, A, b), rng.standard_normal(3), A,
                      b).verdict == "FAIL"


def test_check_vjp_passes_integer_and_boolean_inputs_through(rng):
    logits, labels = rng.standard_normal((4, 5)), np.array([0, 3, 3, 1])
    keep = np.array([True, False, True, True])
    seen = []

    def f(z, labels, keep):
        seen.append((labels.dtype, keep.dtype))
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return -np.log(p[np.arange(4), labels]) * keep

    def vjp(dy, z, labels, keep):
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(4), labels] -= 1
        return p * (dy * keep)[:, None], None, None
    report = check_vjp(f, vjp, logits, labels, keep)
    assert [r.name for r in report] == ["z"] and report.verdict == "pass"
    assert set(seen) == {(np.dtype(np.int64), np.dtype(bool))}
    assert "not checked: labels (int64), keep (bool)" in str(report)
    # One gradient per checked input is accepted as well.
    assert check_vjp(f, lambda *a: vjp(*a)[0], logits, labels, keep).verdict == "pass"
    with pytest.raises(InputTypeError, match=r"must return 3 \(one per input\) or 1"):
        check_vjp(f, lambda *a: vjp(*a)[:2], logits, labels, keep)
    with pytest.raises(InputTypeError, match="every input is an integer or boolean"):
        check_vjp(lambda i: i * 1.0, lambda dy, i: None, labels)
