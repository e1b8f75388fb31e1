"""Patch extraction (im2col), its adjoint (col2im), and padding (docs/conv.md).

Data is NHWC. A convolution with kernel W (kh, kw, C, F) over a padded input
xp (N, Hp, Wp, C) is one matrix product

    cols = im2col(xp)            (N*Ho*Wo, kh*kw*C)   row = one receptive field
    y    = cols @ W.reshape(kh*kw*C, F)

and col2im is the exact adjoint of im2col: it scatters each row back onto the
pixels it was read from, summing where receptive fields overlap, so that
<im2col(x), c> == <x, col2im(c)> for all x and c. In the same way crop is the
adjoint of pad (tests/test_im2col.py).

Padding, along each axis: 'valid' pads nothing; 'same' gives ceil(n/s) outputs
and pads max((out-1)*s + k - n, 0) in total, the smaller half before
(TensorFlow); an integer p pads p on both sides and gives floor((n + 2p - k)/s) + 1
outputs (PyTorch). Every layer reaches its pads through padding_amounts, whatever
the rule, as ((top, bottom), (left, right)).

This is the reference the layers are written with; faster forms of the same
sums live in minivae/fast (docs/fast.md).
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided


def conv_output_length(n, k, s, padding):
    """Output length of a Conv2D along one axis: TensorFlow's rule for 'same' and
    'valid', PyTorch's floor((n + 2p - k) / s) + 1 for an integer padding p."""
    if padding == "same":
        return -(-n // s)
    p = 0 if padding == "valid" else padding
    return (n + 2 * p - k) // s + 1


def conv_transpose_output_length(n, k, s, padding, output_padding=None):
    """Output length of a Conv2DTranspose along one axis.

    Keras, for 'same' and 'valid': n*s and n*s + max(k - s, 0), or with an
    output_padding op, (n - 1)*s + k - 2*(k // 2 if 'same' else 0) + op.
    PyTorch, for an integer padding p: (n - 1)*s + k - 2p + op (op None counts as 0).
    """
    if isinstance(padding, str) and output_padding is None:
        return n * s if padding == "same" else n * s + max(k - s, 0)
    if isinstance(padding, str):
        p = k // 2 if padding == "same" else 0
    else:
        p = padding
    return (n - 1) * s + k - 2 * p + (output_padding or 0)


def same_padding(n, k, s):
    """(before, after) padding of TensorFlow's 'same' for length n, kernel k, stride s."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def axis_padding(n, k, s, padding):
    """(before, after) zeros along one axis of a Conv2D reading length n.

    An integer p pads p on both sides; windows that would start in the last
    (n + 2p - k) % s rows of the padding are not taken (the floor in the length).
    """
    if padding == "same":
        return same_padding(n, k, s)
    if padding == "valid":
        return 0, 0
    return padding, padding


def padding_amounts(height, width, kh, kw, sh, sw, padding):
    """((top, bottom), (left, right)) for a convolution over a height x width input.

    padding: 'valid', 'same', or a pair (ph, pw) of PyTorch's symmetric paddings.
    """
    ph, pw = (padding, padding) if isinstance(padding, str) else padding
    return axis_padding(height, kh, sh, ph), axis_padding(width, kw, sw, pw)


def pad(x, pads):
    """Zero-pad the two spatial axes of an NHWC array: (N, H, W, C) -> (N, Hp, Wp, C)."""
    (top, bottom), (left, right) = pads
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))


def crop(xp, pads, height, width):
    """The adjoint of pad: the height x width window that pad placed at (top, left)."""
    (top, _), (left, _) = pads
    return xp[:, top:top + height, left:left + width, :]


def im2col(xp, kh, kw, sh, sw, out_h, out_w):
    """Gather receptive fields: xp (N, Hp, Wp, C) -> cols (N*out_h*out_w, kh*kw*C).

    cols[(n, i, j), (u, v, c)] = xp[n, i*sh + u, j*sw + v, c]. A read-only strided
    view (N, out_h, out_w, kh, kw, C) of xp (no data moves) is copied once into a
    fresh matrix, never a view of xp, so later changes to the caller's array cannot
    reach the copy a layer caches. xp must already be padded.
    """
    n, _, _, c = xp.shape
    s_n, s_h, s_w, s_c = xp.strides
    patches = as_strided(xp, shape=(n, out_h, out_w, kh, kw, c),
                         strides=(s_n, s_h * sh, s_w * sw, s_h, s_w, s_c), writeable=False)
    return patches.copy().reshape(n * out_h * out_w, kh * kw * c)


def col2im(cols, xp_shape, kh, kw, sh, sw, out_h, out_w):
    """Adjoint of im2col: cols (N*out_h*out_w, kh*kw*C) -> xp (N, Hp, Wp, C).

    One strided `+=` per kernel offset (u, v): the offset's column block lands on
    the pixels it was read from. Overlapping fields add up.
    """
    n, _, _, c = xp_shape
    blocks = cols.reshape(n, out_h, out_w, kh, kw, c)
    xp = np.zeros(xp_shape, dtype=cols.dtype)
    rows_end, cols_end = sh * (out_h - 1) + 1, sw * (out_w - 1) + 1
    for u in range(kh):
        for v in range(kw):
            xp[:, u:u + rows_end:sh, v:v + cols_end:sw, :] += blocks[:, :, :, u, v, :]
    return xp
