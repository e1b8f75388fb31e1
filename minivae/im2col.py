"""Patch extraction (im2col) and its adjoint (col2im): the performance core.

Data is NHWC. A convolution with kernel W (kh, kw, C, F) over a padded input
xp (N, Hp, Wp, C) is one matrix product

    cols = im2col(xp)            (N*Ho*Wo, kh*kw*C)   row = one receptive field
    y    = cols @ W.reshape(kh*kw*C, F)

and col2im is the exact adjoint of im2col: it scatters each row back onto the
pixels it was read from, summing where receptive fields overlap, so that
<im2col(x), c> == <x, col2im(c)> for all x and c (tests/test_im2col.py).

The copies and scatter-adds are split over the batch between threads
(minivae.parallel); each image's work is unchanged, so results do not depend
on the number of threads.

Padding follows TensorFlow: 'valid' pads nothing; 'same' gives ceil(n/s)
outputs and pads max((out-1)*s + k - n, 0) in total, the smaller half before.
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .parallel import over_batch


def conv_output_length(n, k, s, padding):
    """Output length of a Conv2D along one axis (TensorFlow's rule)."""
    if padding == "same":
        return -(-n // s)
    return (n - k) // s + 1


def conv_transpose_output_length(n, k, s, padding):
    """Output length of a Conv2DTranspose along one axis (Keras's rule)."""
    if padding == "same":
        return n * s
    return n * s + max(k - s, 0)


def same_padding(n, k, s):
    """(before, after) padding of TensorFlow's 'same' for length n, kernel k, stride s."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def padding_amounts(height, width, kh, kw, sh, sw, padding):
    """((top, bottom), (left, right)) for a convolution over a height x width input."""
    if padding == "same":
        return same_padding(height, kh, sh), same_padding(width, kw, sw)
    return (0, 0), (0, 0)


def padded_empty(shape, pads, dtype):
    """An (N, H + top + bottom, W + left + right, C) array whose padding is zero.

    Returns (xp, inner): `inner` is the H x W window the caller fills. Only the
    borders are written here, so the window costs one pass, not a zero fill and then
    a copy.
    """
    (top, bottom), (left, right) = pads
    n, h, w, c = shape
    xp = np.empty((n, h + top + bottom, w + left + right, c), dtype=dtype)
    if top or bottom or left or right:
        def zero(s):
            part = xp[s]
            part[:, :top] = 0
            part[:, top + h:] = 0
            part[:, top:top + h, :left] = 0
            part[:, top:top + h, left + w:] = 0
        over_batch(zero, n)
    return xp, xp[:, top:top + h, left:left + w]


def pad(x, pads):
    """Zero-pad the two spatial axes of an NHWC array; no copy when pads are all zero."""
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        return x
    xp, inner = padded_empty(x.shape, pads, x.dtype)

    def copy(s):
        inner[s] = x[s]
    over_batch(copy, x.shape[0])
    return xp


def crop(xp, pads, height, width):
    """The inverse of pad: the height x width window that pad placed at (top, left)."""
    (top, _), (left, _) = pads
    return xp[:, top:top + height, left:left + width, :]


def im2col(xp, kh, kw, sh, sw, out_h, out_w):
    """Gather receptive fields: xp (N, Hp, Wp, C) -> cols (N*out_h*out_w, kh*kw*C).

    A read-only strided view (N, out_h, out_w, kh, kw, C) of xp is copied once
    into a fresh column matrix (never a view of xp, even for a 1x1 stride-1 kernel,
    so later changes to the caller's array cannot reach a cached copy); xp must
    already be padded.
    """
    n, _, _, c = xp.shape
    s_n, s_h, s_w, s_c = xp.strides
    patches = as_strided(xp, shape=(n, out_h, out_w, kh, kw, c),
                         strides=(s_n, s_h * sh, s_w * sw, s_h, s_w, s_c), writeable=False)
    cols = np.empty((n, out_h, out_w, kh, kw, c), dtype=xp.dtype)

    def gather(s):
        cols[s] = patches[s]
    over_batch(gather, n)
    return cols.reshape(n * out_h * out_w, kh * kw * c)


def col2im(cols, xp_shape, kh, kw, sh, sw, out_h, out_w):
    """Adjoint of im2col: cols (N*out_h*out_w, kh*kw*C) -> xp (N, Hp, Wp, C).

    One strided `+=` per kernel offset (i, j): the offset's column block lands on
    the pixels it was read from. Overlapping fields add up.
    """
    n, _, _, c = xp_shape
    blocks = cols.reshape(n, out_h, out_w, kh, kw, c)
    xp = np.zeros(xp_shape, dtype=cols.dtype)
    rows_end, cols_end = sh * (out_h - 1) + 1, sw * (out_w - 1) + 1
    for i in range(kh):
        for j in range(kw):
            xp[:, i:i + rows_end:sh, j:j + cols_end:sw, :] += blocks[:, :, :, i, j, :]
    return xp


# The GEMM-first form of a convolution (docs/conv.md): multiply every padded pixel by
# every kernel tap first, Q = xp2 @ Wq with Q (N, Hp, Wp, kh, kw, F), then gather:
# y[n, i, j] = sum_{a, b} Q[n, i*sh + a, j*sw + b, a, b]. Its buffer holds kh*kw*F values
# per pixel where im2col's holds kh*kw*C, so it wins when F < C (the 32 -> 1 output conv).

def tap_sum(q, out_h, out_w, sh, sw, out=None):
    """y (N, out_h, out_w, F) = sum over taps (a, b) of q[:, a + sh*i, b + sw*j, a, b, :].

    q is (N, Hp, Wp, kh, kw, F); `out`, when given, is added into (it may hold a bias).
    """
    n, _, _, kh, kw, f = q.shape
    y = np.zeros((n, out_h, out_w, f), dtype=q.dtype) if out is None else out
    rows_end, cols_end = sh * (out_h - 1) + 1, sw * (out_w - 1) + 1
    for a in range(kh):
        for b in range(kw):
            y += q[:, a:a + rows_end:sh, b:b + cols_end:sw, a, b, :]
    return y


def tap_spread(dy, xp_shape, kh, kw, sh, sw):
    """Adjoint of tap_sum: dq (N, Hp, Wp, kh, kw, F) with dy copied to every tap's place.

    Taps never collide (each (a, b) owns its own slot), so this is pure assignment.
    """
    n, out_h, out_w, f = dy.shape
    dq = np.zeros((n, xp_shape[1], xp_shape[2], kh, kw, f), dtype=dy.dtype)
    rows_end, cols_end = sh * (out_h - 1) + 1, sw * (out_w - 1) + 1
    for a in range(kh):
        for b in range(kw):
            dq[:, a:a + rows_end:sh, b:b + cols_end:sw, a, b, :] = dy
    return dq


def _tap_range(offset, stride, n_in, n_out, before):
    """For kernel offset `offset`: the input indices i whose output o = stride*i + offset -
    before lands inside [0, n_out), as (i_lo, i_hi, o_lo)."""
    i_lo = max(0, -(-(before - offset) // stride))
    i_hi = min(n_in, (n_out - 1 + before - offset) // stride + 1)
    return i_lo, i_hi, stride * i_lo + offset - before


def col2im_cropped(cols, out, kh, kw, sh, sw, in_h, in_w, pads):
    """crop(col2im(cols), pads) added into `out` (N, H, W, C), without the padded buffer.

    Equal to adding crop(col2im(cols, padded shape, ...), pads, H, W) to out; each tap's
    block is clipped to the part that lands inside the crop. `out` may hold a bias.
    """
    n, height, width, c = out.shape
    blocks = cols.reshape(n, in_h, in_w, kh, kw, c)
    over_batch(lambda s: _scatter_cropped(blocks[s], out[s], sh, sw, pads), n)
    return out


def _scatter_cropped(blocks, out, sh, sw, pads):
    _, in_h, in_w, kh, kw, _ = blocks.shape
    _, height, width, _ = out.shape
    (top, _), (left, _) = pads
    for a in range(kh):
        r_lo, r_hi, o_r = _tap_range(a, sh, in_h, height, top)
        if r_hi <= r_lo:
            continue
        for b in range(kw):
            c_lo, c_hi, o_c = _tap_range(b, sw, in_w, width, left)
            if c_hi <= c_lo:
                continue
            out[:, o_r:o_r + sh * (r_hi - r_lo - 1) + 1:sh,
                o_c:o_c + sw * (c_hi - c_lo - 1) + 1:sw, :] += blocks[:, r_lo:r_hi, c_lo:c_hi, a, b, :]


# The phase form of a transposed convolution (docs/conv.md, "Conv2DTranspose's
# phases"). Along one axis, output o = s*i + a - before for input i and tap a. Writing
# o + before = s*q + r, row o is phase r of block q, and it gathers the taps a = r + s*t
# (t = 0, 1, ...) from the inputs i = q - t. So each phase is a stride-1 correlation
# over blocks, and the s*s phases interleave into the output without overlap: no
# scatter-add at all.

def phase_geometry(n, k, s, before, length):
    """One axis of the phase form: (window, blocks, (pad_lo, pad_hi), offset).

    Every phase reads inputs q - window + 1 .. q for its block q, window = ceil(k/s).
    `blocks` blocks cover the outputs [0, length). Padded by pad_lo zeros before and
    pad_hi after, the input's row j + d is the one block j reads at window position d
    (tap t = window - 1 - d). Row s*j + r of the blocked output is output row
    s*j + r - offset.
    """
    window = -(-k // s)
    q_lo, q_hi = before // s, (length - 1 + before) // s
    return window, q_hi - q_lo + 1, (window - 1 - q_lo, q_hi - (n - 1)), before - s * q_lo


def phase_taps(r, k, s, window):
    """[(window position d, tap a)] for every tap of phase r: a = r + s*t < k, d = window-1-t."""
    return [(window - 1 - t, r + s * t) for t in range(max(0, -(-(k - r) // s)))]


def phase_rows(r, s, offset, length, blocks):
    """Blocks j whose phase-r row s*j + r - offset lies in [0, length): (j_lo, j_hi, o_lo)."""
    j_lo = max(0, -(-(offset - r) // s))
    j_hi = min(blocks, (length - 1 + offset - r) // s + 1)
    return j_lo, j_hi, s * j_lo + r - offset

