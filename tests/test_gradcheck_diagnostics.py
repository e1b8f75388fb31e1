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
    assert "analytic is 0 on 3 failing entries" in hints_of(report)


def test_no_hint_for_noise_like_errors(rng):
    x = rng.standard_normal(8)
    wobble = 1 + 0.01 * rng.standard_normal(8)
    report = check_grad(lambda v: np.sum(np.sin(v)), lambda v: np.cos(v) * wobble, x)
    assert report.verdict == "FAIL" and report["x"].hints == []
