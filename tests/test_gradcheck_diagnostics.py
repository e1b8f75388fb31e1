"""gradcheck.diagnostics: each hint shows on the bug it is written for, and stays
quiet on a bug it is not."""

import numpy as np
import pytest

from minivae.gradcheck import check_grad, check_vjp


def hints_of(report, name="x"):
    return " | ".join(report[name].hints)


@pytest.mark.parametrize("factor,words", [
    (0.5, "0.5 x numerical on every failing entry: a factor 2 lost"),
    (2.0, "a term counted twice"),
    (-1.0, "a flipped sign"),
    (1 / 16, "(1/16): a mean over 16 items where a sum belongs"),
])
def test_constant_ratios_are_named(rng, factor, words):
    x = rng.standard_normal((4, 4))
    report = check_grad(lambda v: np.sum(np.sin(v)), lambda v: factor * np.cos(v), x)
    assert report.verdict == "FAIL" and words in hints_of(report)


def test_a_transposed_gradient_is_recognised(rng):
    W = rng.standard_normal((3, 3))
    C = rng.standard_normal((3, 3))
    report = check_grad(lambda w: np.sum(w * C), lambda w: C.T, W)
    assert "axes in the order (1, 0): a transposed layout" in hints_of(report)


def test_a_reshape_where_a_transpose_belongs_is_recognised(rng):
    x, dy = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    W = rng.standard_normal((3, 2))
    report = check_vjp(lambda x, W: x @ W, lambda g, x, W: (g @ W.T, (g.T @ x).reshape(W.shape)),
                       x, W, dy=dy)
    assert report["x"].verdict == "pass"
    assert "a reshape where a transpose belongs" in hints_of(report, "W")


def test_a_kernel_not_rotated_is_recognised(rng):
    K = rng.standard_normal((3, 3, 2))
    C = rng.standard_normal((3, 3, 2))
    report = check_grad(lambda k: np.sum(k * C), lambda k: C[::-1, ::-1], K)
    assert "not rotated by 180 degrees" in hints_of(report)


def test_errors_at_the_border_of_an_odd_axis(rng):
    x = rng.standard_normal((2, 5, 5, 1))

    def grad(v):
        g = np.cos(v)
        g[:, -1] *= 1.5            # the last row, as a crop on the wrong side would
        return g
    report = check_grad(lambda v: np.sum(np.sin(v)), grad, x)
    assert "errors only at the last index of axis 1 (size 5, odd)" in hints_of(report)
    assert "padding or cropping at the border" in hints_of(report)


def test_errors_only_beyond_the_first_batch_item(rng):
    x = rng.standard_normal((3, 4)) + 3.0          # no zero gradients in row 0

    def grad(v):
        g = 2 * v
        g[1:] *= 0.7
        return g
    report = check_grad(lambda v: np.sum(v ** 2), grad, x)
    assert "a sum over the batch left out" in hints_of(report)


def test_a_missing_term_shows_as_zeros(rng):
    x = rng.standard_normal(6)
    report = check_grad(lambda v: np.sum(v ** 3) + np.sum(v[:3]),
                        lambda v: np.concatenate([3 * v[:3] ** 2, np.zeros(3)]), x)
    assert "analytic is 0 on 3 of 6 failing entries" in hints_of(report)


def test_no_hint_for_noise_like_errors(rng):
    x = rng.standard_normal(8)
    wobble = 1 + 0.01 * rng.standard_normal(8)
    report = check_grad(lambda v: np.sum(np.sin(v)), lambda v: np.cos(v) * wobble, x)
    assert report.verdict == "FAIL" and report["x"].hints == []


# -- the causes of issue 24 ------------------------------------------------------

def gaussian_nll(y, mean, logvar):
    return 0.5 * (logvar + (y - mean) ** 2 * np.exp(-logvar))


def gaussian_nll_vjp(dy, y, mean, logvar):
    r = (y - mean) * np.exp(-logvar)
    return dy * r, -dy * r, dy * 0.5 * (1 - (y - mean) * r)


def test_gradients_returned_in_another_order_are_named_swapped(rng):
    y, mean, logvar = (rng.standard_normal((3, 4)) for _ in range(3))

    def swapped(dy, y, mean, logvar):
        dY, dMean, dLogVar = gaussian_nll_vjp(dy, y, mean, logvar)
        return dY, dLogVar, dMean
    report = check_vjp(gaussian_nll, swapped, y, mean, logvar)
    assert report["y"].verdict == "pass"
    for name in ("mean", "logvar"):
        assert report[name].hint_kinds == ["swapped"]
    assert "backward returns mean's and logvar's gradients swapped" in hints_of(report, "mean")
    assert check_vjp(gaussian_nll, gaussian_nll_vjp, y, mean, logvar).verdict == "pass"


def test_a_gradient_where_f_is_flat_is_a_forgotten_mask(rng):
    x = rng.standard_normal((4, 5))
    report = check_vjp(lambda v: np.maximum(v, 0), lambda dy, v: (dy,), x)
    assert report["v"].hint_kinds == ["flat"]
    assert "where f is flat (numerical 0 within its floor): a mask backward forgot" in \
        hints_of(report, "v")


def test_a_mask_taken_of_the_wrong_array(rng):
    x, other = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    report = check_vjp(lambda v: np.maximum(v, 0), lambda dy, v: (dy * (other > 0),), x)
    assert report["v"].hint_kinds == ["mask"]


def max_pool(x, pad=1, k=3, s=2):
    """Max pooling over (N, H, W), padded with -inf by `pad` on each side as PyTorch pads."""
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)), constant_values=-np.inf)
    Ho, Wo = (xp.shape[1] - k) // s + 1, (xp.shape[2] - k) // s + 1
    windows = np.stack([xp[:, i:i + s * Ho:s, j:j + s * Wo:s] for i in range(k)
                        for j in range(k)], axis=-1)
    return windows.max(axis=-1), windows.argmax(axis=-1), (Ho, Wo)


def max_pool_vjp(dy, x, pad=1, k=3, s=2, shift=0):
    _, arg, (Ho, Wo) = max_pool(x, pad, k, s)
    dxp = np.zeros((x.shape[0], x.shape[1] + 2 * pad, x.shape[2] + 2 * pad))
    n, i, j = np.indices(arg.shape)
    rows, cols = s * i + arg // k, s * j + arg % k
    np.add.at(dxp, (n, rows, cols), dy)
    # shift: the padding left out of the scatter's coordinates, off by `shift` pixels
    return (dxp[:, pad - shift:pad - shift + x.shape[1], pad - shift:pad - shift + x.shape[2]],)


def test_mass_moved_to_a_neighbour_is_named_with_its_offset(rng):
    x = rng.standard_normal((2, 7, 7))
    f = lambda v: max_pool(v)[0]                                  # noqa: E731
    assert check_vjp(f, max_pool_vjp, x).verdict == "pass"
    report = check_vjp(f, lambda dy, v: max_pool_vjp(dy, v, shift=1), x)
    assert report["v"].hint_kinds == ["shifted"], hints_of(report, "v")
    assert "moved by +1 along axis 1, +1 along axis 2 (offset (0, 1, 1))" in \
        hints_of(report, "v")


def test_failures_confined_to_one_row_name_it_and_no_ratio_from_one_entry(rng):
    W = rng.standard_normal((8, 3))

    def grad(w):
        g = 2 * w
        g[5] += np.array([0.3, -0.1, 0.7])       # one class's row: no common ratio
        return g
    report = check_grad(lambda w: float(np.sum(w ** 2)), grad, W)
    assert report["x"].hint_kinds == ["index"]
    assert "errors only at index 5 of axis 0 (size 8)" in hints_of(report)

    def one_entry(w):
        g = 2 * w
        g[2, 1] *= 0.5
        return g
    report = check_grad(lambda w: float(np.sum(w ** 2)), one_entry, W)
    assert report.verdict == "FAIL" and report["x"].hints == []


def test_a_few_failures_at_a_border_by_chance_are_no_border_hint(rng):
    # ReLU with its mask forgotten: the failing entries are the negative inputs, here
    # placed in the first and last columns, but most entries there pass.
    x = np.abs(rng.standard_normal((6, 5))) + 0.1
    x[0, 0] = x[3, 4] = -1.0
    report = check_vjp(lambda v: np.maximum(v, 0), lambda dy, v: (dy,), x)
    assert report["v"].hint_kinds == ["flat"]


def test_an_error_proportional_to_the_weights_is_a_penalty_term(rng):
    # Weight decay counted twice beside a data term: the ratio a / n is not constant,
    # a - n = lam * W is.
    W, C, lam = rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), 1e-2
    report = check_grad(lambda w: float(np.sum(w * C) + 0.5 * lam * np.sum(w * w)),
                        lambda w: C + 2 * lam * w, W)
    assert report["x"].hint_kinds == ["proportional"]
    assert "analytic - numerical = 0.01 x the array's own values" in hints_of(report)
