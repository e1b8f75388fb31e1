"""The fast path's gathers and scatters (minivae/fast/gather.py), each against the
reference composition it replaces (minivae/im2col.py)."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from minivae import im2col as reference
from minivae.fast.gather import (col2im_cropped, im2col, pad, padded_empty, scatter_products,
                                 tap_spread, tap_sum)

geometry = st.tuples(st.integers(1, 20), st.integers(1, 9), st.integers(1, 9), st.integers(1, 3),
                     st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3))


@given(geometry)
def test_threaded_im2col_equals_the_reference(g):
    """Batches up to 20 images: from 16 up the gather is split between threads."""
    n, h, w, c, kh, kw, sh, sw = g
    h, w = max(h, kh), max(w, kw)
    out_h, out_w = (h - kh) // sh + 1, (w - kw) // sw + 1
    xp = np.random.default_rng(0).standard_normal((n, h, w, c))
    # A gather copies values: equality is exact.
    np.testing.assert_array_equal(im2col(xp, kh, kw, sh, sw, out_h, out_w),
                                  reference.im2col(xp, kh, kw, sh, sw, out_h, out_w))


@given(geometry, st.integers(1, 3), st.integers(0, 3), st.integers(0, 3), st.integers(0, 3),
       st.integers(0, 3))
def test_tap_sum_clips_the_padding_and_tap_spread_is_its_adjoint(g, f, top, bottom, left, right):
    n, h, w, _, kh, kw, sh, sw = g
    hp, wp = max(h + top + bottom, kh), max(w + left + right, kw)
    bottom, right = hp - h - top, wp - w - left
    out_h, out_w = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    pads = ((top, bottom), (left, right))
    rng = np.random.default_rng(0)
    q = rng.standard_normal((n, h, w, kh, kw, f))
    bias = rng.standard_normal(f)
    out = np.empty((n, out_h, out_w, f))
    out[...] = bias
    y = tap_sum(q, out, sh, sw, pads)
    # Loop definition: y[n, i, j] = sum_{a, b} q[n, i*sh + a - top, j*sw + b - left, a, b]
    # over the input pixels that exist (a padding pixel's products are zero).
    ref = np.zeros_like(y) + bias
    for i in range(out_h):
        for j in range(out_w):
            for a in range(kh):
                for b in range(kw):
                    r, c = i * sh + a - top, j * sw + b - left
                    if 0 <= r < h and 0 <= c < w:
                        ref[:, i, j] += q[:, r, c, a, b]
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    spread = tap_spread(dy, (n, h, w), kh, kw, sh, sw, pads)
    lhs, rhs = np.sum((y - bias) * dy), np.sum(q.transpose(3, 4, 0, 1, 2, 5) * spread)
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-12)


@given(geometry, st.integers(0, 2), st.integers(0, 2), st.integers(0, 2), st.integers(0, 2))
def test_col2im_cropped_equals_crop_of_col2im(g, top, bottom, left, right):
    n, h, w, c, kh, kw, sh, sw = g
    hp, wp = max(h, kh) + top + bottom, max(w, kw) + left + right
    out_h, out_w = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    rng = np.random.default_rng(0)
    cols = rng.standard_normal((n * out_h * out_w, kh * kw * c))
    pads = ((top, bottom), (left, right))
    full = reference.col2im(cols, (n, hp, wp, c), kh, kw, sh, sw, out_h, out_w)
    height, width = hp - top - bottom, wp - left - right
    bias = rng.standard_normal(c)
    out = np.empty((n, height, width, c))
    out[...] = bias
    got = col2im_cropped(cols, out, kh, kw, sh, sw, out_h, out_w, pads)
    # The same additions in the same order per element, minus the clipped ones: ~1 ulp.
    np.testing.assert_allclose(got, reference.crop(full, pads, height, width) + bias, rtol=1e-13,
                               atol=1e-13)


@given(geometry, st.integers(1, 3), st.integers(0, 2), st.integers(0, 2), st.integers(0, 2),
       st.integers(0, 2))
def test_scatter_products_equals_crop_of_col2im_of_the_product(g, k, top, bottom, left, right):
    """Any stride against any kernel width: a group of column taps is cut short by the
    kernel's last taps (kw not a multiple of sw) and at the crop's edges; batches up to 20
    split between threads."""
    n, h, w, c, kh, kw, sh, sw = g
    hp, wp = max(h, kh) + top + bottom, max(w, kw) + left + right
    out_h, out_w = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    rng = np.random.default_rng(0)
    x2 = rng.standard_normal((n * out_h * out_w, k))
    taps = rng.standard_normal((kh, kw, k, c))
    pads = ((top, bottom), (left, right))
    cols = x2 @ taps.transpose(2, 0, 1, 3).reshape(k, -1)
    full = reference.col2im(cols, (n, hp, wp, c), kh, kw, sh, sw, out_h, out_w)
    height, width = hp - top - bottom, wp - left - right
    bias = rng.standard_normal(c)
    out = np.empty((n, height, width, c))
    out[...] = bias
    got = scatter_products(x2, taps, out, out_h, out_w, sh, sw, pads)
    assert got is out
    # The same products (each a dot product of k terms, from a GEMM of other shape) and
    # the same additions per element, minus the clipped ones: a few ulp of the scale.
    np.testing.assert_allclose(got, reference.crop(full, pads, height, width) + bias,
                               rtol=1e-12, atol=1e-12)


def test_padded_empty_zeroes_only_the_border_and_pad_fills_the_window():
    x = np.arange(2 * 3 * 4 * 2, dtype=np.float32).reshape(2, 3, 4, 2) + 1
    pads = ((1, 2), (0, 3))
    xp, inner = padded_empty(x.shape, pads, x.dtype)
    assert xp.shape == (2, 6, 7, 2) and inner.shape == x.shape
    assert np.shares_memory(xp, inner)
    inner[...] = x
    np.testing.assert_array_equal(xp, np.pad(x, ((0, 0), (1, 2), (0, 3), (0, 0))))
    np.testing.assert_array_equal(pad(x, pads), xp)
    np.testing.assert_array_equal(reference.pad(x, pads), xp)
    assert pad(x, ((0, 0), (0, 0))) is x
