"""The gathers and scatters of the fast kernels (docs/fast.md).

Each computes what a composition of minivae/im2col.py's reference functions
computes, with less memory traffic or on both cores:

    pad, padded_empty   pad(x) with the copy split over the batch, no copy when the pads
                        are zero, and a padded buffer whose window a caller fills itself
    im2col              the reference gather, split over the batch
    col2im_cropped      crop(col2im(cols)) added into an output, without the padded canvas
    scatter_products    the same for cols = x2 @ W, the products made a row tap and a group of
                        column taps at a time
    tap_sum, tap_spread the GEMM-first ("taps") form of a convolution and its adjoint
    phase_*             the geometry of a transposed convolution's phase form, and its
                        padded (or trimmed) input

tests/test_fast_gather.py proves each equal to its reference composition.
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .threads import over_batch


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
    """minivae.im2col.pad, with no copy when the pads are all zero (the result may then
    be x itself: read it, never write it)."""
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        return x
    xp, inner = padded_empty(x.shape, pads, x.dtype)

    def copy(s):
        inner[s] = x[s]
    over_batch(copy, x.shape[0])
    return xp


def im2col(xp, kh, kw, sh, sw, out_h, out_w):
    """Gather receptive fields: xp (N, Hp, Wp, C) -> cols (N*out_h*out_w, kh*kw*C).

    minivae.im2col.im2col, with the copy into the fresh column matrix split over the
    batch between threads.
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


# The GEMM-first form of a convolution (docs/fast.md): multiply every input pixel by
# every kernel tap first, Q = x2 @ Wq with Q (N, H, W, kh, kw, F), then gather:
# y[n, i, j] = sum_{a, b} Q[n, i*sh + a - top, j*sw + b - left, a, b], over the taps that
# land on the input (the padding's pixels would only add zero products). Its buffer holds
# kh*kw*F values per pixel where im2col's holds kh*kw*C, so it wins when F < C (the
# 32 -> 1 output conv).

def tap_sum(q, out, sh, sw, pads):
    """out (N, out_h, out_w, F) += sum over taps (a, b) of q[:, sh*i + a - top, sw*j + b -
    left, a, b, :], for each tap over the outputs whose input pixel exists.

    q is (N, H, W, kh, kw, F), the products of the unpadded input; `out` may hold a
    bias. Equal to the sum over the padded input's products, whose padding rows are 0.
    """
    _, height, width, kh, kw, _ = q.shape
    _, out_h, out_w, _ = out.shape
    (top, _), (left, _) = pads
    for a in range(kh):
        i_lo, i_hi, r_lo = _tap_range(a, sh, out_h, height, top)
        for b in range(kw):
            j_lo, j_hi, c_lo = _tap_range(b, sw, out_w, width, left)
            if i_hi > i_lo and j_hi > j_lo:
                out[:, i_lo:i_hi, j_lo:j_hi] += q[:, r_lo:r_lo + sh * (i_hi - i_lo - 1) + 1:sh,
                                                  c_lo:c_lo + sw * (j_hi - j_lo - 1) + 1:sw,
                                                  a, b, :]
    return out


def tap_spread(dy, in_shape, kh, kw, sh, sw, pads):
    """Adjoint of tap_sum, tap by tap: dq (kh, kw, N, H, W, F), where dq[a, b] is tap
    (a, b)'s slot of every input pixel, dy copied to the pixels its outputs read.

    in_shape is (N, H, W). Taps never collide (each (a, b) owns its own plane), so this
    is pure assignment; the slots no output reads stay zero. Plane by plane, each copy
    runs along whole rows of dy (tap_sum's q has the taps innermost, where the copies
    would write F values at a time, one value for the book's last layer).
    """
    n, out_h, out_w, f = dy.shape
    _, height, width = in_shape
    (top, _), (left, _) = pads
    dq = np.zeros((kh, kw, n, height, width, f), dtype=dy.dtype)
    for a in range(kh):
        i_lo, i_hi, r_lo = _tap_range(a, sh, out_h, height, top)
        for b in range(kw):
            j_lo, j_hi, c_lo = _tap_range(b, sw, out_w, width, left)
            if i_hi > i_lo and j_hi > j_lo:
                dq[a, b, :, r_lo:r_lo + sh * (i_hi - i_lo - 1) + 1:sh,
                   c_lo:c_lo + sw * (j_hi - j_lo - 1) + 1:sw] = dy[:, i_lo:i_hi, j_lo:j_hi]
    return dq


def _tap_range(offset, stride, n_in, n_out, before):
    """For kernel offset `offset`: the indices i in [0, n_in) whose o = stride*i + offset -
    before lands inside [0, n_out), as (i_lo, i_hi, o_lo). (A transposed convolution's
    input i lands on output o; a convolution's output i reads input o.)"""
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
                o_c:o_c + sw * (c_hi - c_lo - 1) + 1:sw, :] += \
                blocks[:, r_lo:r_hi, c_lo:c_hi, a, b, :]


def scatter_products(x2, taps, out, in_h, in_w, sh, sw, pads):
    """out (N, H, W, F) += the products of x2 with every tap, scattered: for each tap (a, b),
    out[:, sh*i + a - top, sw*j + b - left] += x2[(n, i, j)] @ taps[a, b], over the (i, j)
    that land inside out.

    x2 is (N*in_h*in_w, K), taps (kh, kw, K, F); `out` may hold a bias. Equal to adding
    crop(col2im(x2 @ W, padded shape, ...), pads, H, W) to out, W the taps side by side
    (K, kh*kw*F): a transposed convolution's forward, or a convolution's input gradient.

    Made that way, the products (N, in_h, in_w, kh, kw, F) would be added one tap at a
    time, F values per run of numpy's inner loop (numpy spends its time starting loops).
    Here they are made one row tap `a` and one group of (at most) sw neighbouring column
    taps at a time, (N, in_h, in_w, g, F): the group's taps land on g neighbouring output
    pixels, and the next input pixel's on the next sw, so with g = sw a row of products is
    one run, as is the row of the output it is added to. The columns where only some of a
    group's taps land (at the edges) are added tap by tap.
    """
    n, height, width, f = out.shape
    kh, kw, k, _ = taps.shape
    (top, _), (left, _) = pads
    s_w, s_f = out.strides[2:]
    for a in range(kh):
        r_lo, r_hi, o_r = _tap_range(a, sh, in_h, height, top)
        if r_hi <= r_lo:
            continue
        rows = out[:, o_r:o_r + sh * (r_hi - r_lo - 1) + 1:sh]
        for b0 in range(0, kw, sw):
            g = min(sw, kw - b0)
            spans = [_tap_range(b0 + t, sw, in_w, width, left) for t in range(g)]
            if all(hi <= lo for lo, hi, _ in spans):
                continue
            weights = taps[a, b0:b0 + g].transpose(1, 0, 2).reshape(k, g * f)
            products = (x2 @ weights).reshape(n, in_h, in_w, g, f)[:, r_lo:r_hi]
            c_lo, c_hi = max(lo for lo, _, _ in spans), min(hi for _, hi, _ in spans)
            adds = []
            if c_hi > c_lo:                 # every tap of the group lands: one add
                first = rows[:, :, sw * c_lo + b0 - left]
                adds.append((as_strided(first, shape=(*first.shape[:2], c_hi - c_lo, g, f),
                                        strides=(*first.strides[:2], sw * s_w, s_w, s_f)),
                             products[:, :, c_lo:c_hi]))
            for t, (lo, hi, o_c) in enumerate(spans):
                # the tap's columns outside the group's common ones, on either side
                for j_lo, j_hi in ((lo, min(hi, c_lo)), (max(lo, c_hi), hi)) if c_hi > c_lo \
                        else ((lo, hi),):
                    if j_hi > j_lo:
                        o = o_c + sw * (j_lo - lo)
                        adds.append((rows[:, :, o:o + sw * (j_hi - j_lo - 1) + 1:sw],
                                     products[:, :, j_lo:j_hi, t]))

            def add(s, adds=adds):
                for dst, src in adds:
                    dst[s] += src[s]
            over_batch(add, n)
    return out


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
    s*j + r - offset. A negative pad_lo or pad_hi (a crop that cuts into the stamps,
    as PyTorch's padding can) trims input rows that no block reads: phase_input.
    """
    window = -(-k // s)
    q_lo, q_hi = before // s, (length - 1 + before) // s
    return window, q_hi - q_lo + 1, (window - 1 - q_lo, q_hi - (n - 1)), before - s * q_lo


def phase_input(x, pads_h, pads_w):
    """x (N, H, W, C) padded by phase_geometry's pads, (lo, hi) per axis: a positive
    amount adds zeros, a negative one trims as many rows (or columns) from that side."""
    (lo_h, hi_h), (lo_w, hi_w) = pads_h, pads_w
    _, height, width, _ = x.shape
    kept = x[:, max(-lo_h, 0):height - max(-hi_h, 0), max(-lo_w, 0):width - max(-hi_w, 0)]
    if kept.shape[1:3] != (height, width):
        kept = np.ascontiguousarray(kept)
    return pad(kept, ((max(lo_h, 0), max(hi_h, 0)), (max(lo_w, 0), max(hi_w, 0))))


def phase_taps(r, k, s, window):
    """[(window position d, tap a)] for every tap of phase r: a = r + s*t < k, d = window-1-t."""
    return [(window - 1 - t, r + s * t) for t in range(max(0, -(-(k - r) // s)))]


def phase_rows(r, s, offset, length, blocks):
    """Blocks j whose phase-r row s*j + r - offset lies in [0, length): (j_lo, j_hi, o_lo)."""
    j_lo = max(0, -(-(offset - r) // s))
    j_hi = min(blocks, (length - 1 + offset - r) // s + 1)
    return j_lo, j_hi, s * j_lo + r - offset
