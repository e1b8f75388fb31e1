"""gradcheck.core: the engine's order of work, its validation and its two modes."""

import numpy as np
import pytest

from minivae.errors import InputTypeError
from minivae.gradcheck import DEFAULT_MAX_ENTRIES, check_gradients, run_check
from minivae.gradcheck.core import sample, validate_grads

U = np.finfo(np.float64).eps


def test_sample_draws_distinct_sorted_entries(rng):
    assert list(sample(5, None, rng)) == [0, 1, 2, 3, 4]
    assert list(sample(5, 8, rng)) == [0, 1, 2, 3, 4]
    picked = sample(1000, 10, rng)
    assert len(set(picked)) == 10 and list(picked) == sorted(picked)


@pytest.mark.parametrize("grads,match", [
    ({}, r"no analytic gradient for \['w'\]"),
    ({"w": np.zeros(4)}, r"gradient of 'w' has shape \(4,\), the array \(3,\)"),
])
def test_validate_grads(grads, match):
    with pytest.raises(ValueError, match=match):
        validate_grads(grads, {"w": np.zeros(3)}, "check")


@pytest.mark.parametrize("dtype", [bool, np.int64, np.complex128])
def test_a_gradient_that_is_not_real_floating_point_is_refused(dtype):
    with pytest.raises(InputTypeError, match=f"gradient of 'w' has dtype {np.dtype(dtype)}; "
                                             f"it must be real floating point"):
        validate_grads({"w": np.zeros(3, dtype)}, {"w": np.zeros(3)}, "check")


def test_a_non_finite_gradient_is_not_refused_but_judged():
    # It is a wrong answer, not a wrong input: result.py makes it FAIL.
    validate_grads({"w": np.array([0.0, np.nan, 0.0])}, {"w": np.zeros(3)}, "check")


def test_directions_catch_an_error_spread_over_the_array_and_pass_the_right_one(rng):
    x = rng.standard_normal(200)

    def report(grad):
        return run_check(lambda: float(np.sum(np.sin(x))), lambda: {"x": grad}, {"x": x},
                         magnitude=float(np.sum(np.abs(np.sin(x)))), unit=U, step=1e-6,
                         rtol=1e-6, directions=3, rng=np.random.default_rng(0))
    right = report(np.cos(x))
    assert right.verdict == "pass" and right["x"].checked == 3
    assert right["x"].mode == "directions" and "3 dir" in str(right)
    assert report(np.cos(x) * 1.001).verdict == "FAIL"


def test_a_nondeterministic_loss_fails_without_finite_differences(rng):
    w = rng.standard_normal(3)
    noise = np.random.default_rng(1)
    report = check_gradients(lambda: float(np.sum(w) + noise.standard_normal()), {"w": w},
                             {"w": np.ones(3)})
    assert report.verdict == "FAIL" and report["w"].checked == 0
    assert "f must give one value at one input" in str(report)


def test_a_non_finite_loss_is_refused(rng):
    w = rng.standard_normal(3)
    with pytest.raises(ValueError, match="the loss is not finite"):
        check_gradients(lambda: float("inf"), {"w": w}, {"w": np.ones(3)})


def test_an_empty_array_is_refused_by_the_engine():
    with pytest.raises(ValueError, match=r"check: b is empty \(shape \(0,\)\)"):
        run_check(lambda: 0.0, lambda: {}, {"b": np.zeros(0)}, magnitude=0.0, unit=U,
                  step=1e-6, rtol=1e-6)


def test_the_default_cap_samples_and_screens_and_none_checks_all(rng):
    x = rng.standard_normal(1500)

    def report(**options):
        return run_check(lambda: float(np.sum(np.sin(x))), lambda: {"x": np.cos(x)},
                         {"x": x}, magnitude=float(np.sum(np.abs(np.sin(x)))), unit=U,
                         step=1e-6, rtol=1e-6, rng=np.random.default_rng(0), **options)
    capped = report()
    assert capped["x"].checked == DEFAULT_MAX_ENTRIES and capped.verdict == "pass"
    assert any(n.startswith("x: checked 1,000 of 1,500 entries, sampled: 1,000 drawn at "
                            "random (max_entries=1000; max_entries=None checks every entry) "
                            "and 0 singled out by 1 group test of the other 500")
               for n in capped.notes)
    assert report(max_entries=None)["x"].checked == 1500
