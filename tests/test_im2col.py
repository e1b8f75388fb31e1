"""im2col against a loop gather, col2im as its exact adjoint, crop as pad's, and the
padding rules (the reference; tests/test_fast_gather.py tests the fast path's forms)."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from minivae.im2col import (col2im, conv_output_length, conv_transpose_output_length, crop,
                            im2col, pad, padding_amounts, same_padding)
from tests.reference import tf_same_pads


def _loop_im2col(xp, kh, kw, sh, sw, out_h, out_w):
    n, _, _, c = xp.shape
    rows = []
    for b in range(n):
        for i in range(out_h):
            for j in range(out_w):
                rows.append(xp[b, i * sh:i * sh + kh, j * sw:j * sw + kw, :].reshape(-1))
    return np.array(rows).reshape(n * out_h * out_w, kh * kw * c)


geometry = st.tuples(st.integers(1, 3), st.integers(1, 9), st.integers(1, 9), st.integers(1, 3),
                     st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3))


@given(geometry)
def test_im2col_matches_loop_gather_and_col2im_is_its_adjoint(g):
    n, h, w, c, kh, kw, sh, sw = g
    h, w = max(h, kh), max(w, kw)
    out_h, out_w = (h - kh) // sh + 1, (w - kw) // sw + 1
    rng = np.random.default_rng(0)
    xp = rng.standard_normal((n, h, w, c))
    cols = im2col(xp, kh, kw, sh, sw, out_h, out_w)
    # A gather copies values: equality is exact.
    np.testing.assert_array_equal(cols, _loop_im2col(xp, kh, kw, sh, sw, out_h, out_w))
    # Adjoint: <im2col(x), c> == <x, col2im(c)>. Both sides sum the same products in a
    # different order, so they agree to float64 rounding on O(1e2) terms: 1e-12 relative.
    c_mat = rng.standard_normal(cols.shape)
    lhs = np.sum(cols * c_mat)
    rhs = np.sum(xp * col2im(c_mat, xp.shape, kh, kw, sh, sw, out_h, out_w))
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-12)


def test_im2col_keeps_float32():
    xp = np.ones((2, 5, 5, 3), dtype=np.float32)
    cols = im2col(xp, 3, 3, 1, 1, 3, 3)
    assert cols.dtype == np.float32
    assert col2im(cols, xp.shape, 3, 3, 1, 1, 3, 3).dtype == np.float32


# (n, k, s) -> (out, pad_before, pad_after) for 'same', and 'valid' output length:
# TensorFlow's documented rule worked by hand. The first row is the book's encoder.
SAME_TABLE = [
    (32, 3, 2, 16, 0, 1),
    (16, 3, 2, 8, 0, 1),
    (28, 3, 2, 14, 0, 1),
    (32, 3, 1, 32, 1, 1),
    (5, 3, 2, 3, 1, 1),
    (7, 4, 3, 3, 1, 2),
    (6, 1, 3, 2, 0, 0),
    (1, 5, 1, 1, 2, 2),
]
VALID_TABLE = [(32, 3, 2, 15), (28, 5, 1, 24), (7, 4, 3, 2), (3, 3, 3, 1), (10, 1, 4, 3)]


@pytest.mark.parametrize("n,k,s,out,before,after", SAME_TABLE)
def test_same_padding_follows_tensorflow(n, k, s, out, before, after):
    assert conv_output_length(n, k, s, "same") == out
    assert same_padding(n, k, s) == (before, after) == tf_same_pads(n, k, s)


@pytest.mark.parametrize("n,k,s,out", VALID_TABLE)
def test_valid_output_length(n, k, s, out):
    assert conv_output_length(n, k, s, "valid") == out


@pytest.mark.parametrize("n,k,s,padding,out", [
    (4, 3, 2, "same", 8), (4, 3, 2, "valid", 9), (4, 2, 3, "valid", 12), (4, 5, 1, "valid", 8),
    (2, 3, 2, "same", 4), (16, 3, 2, "same", 32),
])
def test_transpose_output_length_follows_keras(n, k, s, padding, out):
    assert conv_transpose_output_length(n, k, s, padding) == out


# PyTorch's rules worked by hand: Conv2d out = floor((n + 2p - k) / s) + 1, padding p on
# both sides. The first row is issue 25's: the same 16 outputs as 'same', other pads.
TORCH_CONV_TABLE = [(32, 3, 2, 1, 16), (5, 3, 2, 1, 3), (7, 4, 3, 2, 3), (4, 3, 1, 0, 2),
                    (1, 5, 1, 2, 1), (6, 2, 2, 3, 6)]


@pytest.mark.parametrize("n,k,s,p,out", TORCH_CONV_TABLE)
def test_integer_padding_follows_pytorch(n, k, s, p, out):
    assert conv_output_length(n, k, s, p) == out
    assert padding_amounts(n, n + 1, k, k, s, s, (p, 0)) == ((p, p), (0, 0))
    assert padding_amounts(n, n, k, k, s, s, "same") == (same_padding(n, k, s),) * 2


# ConvTranspose2d out = (n - 1)*s - 2p + k + op (PyTorch); Keras with output_padding:
# (n - 1)*s + k - 2*(k // 2 if 'same' else 0) + op. The first two rows are issue 25's
# decoder step 16 -> 32 both ways.
@pytest.mark.parametrize("n,k,s,padding,op,out", [
    (16, 3, 2, 1, 1, 32), (16, 3, 2, "same", 1, 32), (16, 3, 2, 1, 0, 31),
    (16, 3, 2, "same", 0, 31), (4, 4, 2, 1, None, 8), (3, 1, 1, 0, 0, 3), (5, 3, 3, 2, 2, 13),
    (16, 3, 2, "valid", 1, 34), (4, 2, 3, "valid", 0, 11), (4, 2, 3, "same", 2, 11),
])
def test_transpose_output_length_with_output_padding(n, k, s, padding, op, out):
    assert conv_transpose_output_length(n, k, s, padding, op) == out
    # the Conv2D reading that output gives back n: the pair stays an adjoint pair
    assert conv_output_length(out, k, s, padding) == n


@given(geometry, st.integers(0, 2), st.integers(0, 2), st.integers(0, 2), st.integers(0, 2))
def test_pad_places_the_image_and_crop_is_its_adjoint(g, top, bottom, left, right):
    n, h, w, c = g[:4]
    pads = ((top, bottom), (left, right))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, h, w, c))
    xp = pad(x, pads)
    assert xp.shape == (n, h + top + bottom, w + left + right, c)
    np.testing.assert_array_equal(crop(xp, pads, h, w), x)
    assert np.sum(xp) == pytest.approx(np.sum(x), rel=1e-12, abs=1e-12)   # zeros elsewhere
    # <pad(x), z> == <x, crop(z)>: the same products, the padding's all times zero.
    z = rng.standard_normal(xp.shape)
    assert np.sum(xp * z) == pytest.approx(np.sum(x * crop(z, pads, h, w)), rel=1e-12,
                                           abs=1e-12)


def test_im2col_never_returns_a_view_of_its_input():
    """A layer caches cols; a 1x1 stride-1 gather must still copy."""
    xp = np.ones((2, 3, 3, 2))
    cols = im2col(xp, 1, 1, 1, 1, 3, 3)
    assert not np.shares_memory(cols, xp)
