"""Slow, independent references for the convolutions: plain loops, no im2col.

Written from the definitions, not from minivae's code: the 'same' padding is
recomputed here from TensorFlow's documented rule, an integer padding from
PyTorch's (torch.nn.Conv2d and ConvTranspose2d docs), and the transposed
convolution is the scatter definition (each input pixel stamps the kernel onto
the output), not an adjoint of anything.
"""

import numpy as np
from hypothesis import strategies as st


def tf_same_pads(n, k, s):
    """TensorFlow 'same': ceil(n/s) outputs, total padding split smaller-half-first."""
    out = (n + s - 1) // s
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def conv2d_loops(x, W, b, strides, padding):
    """y[n, i, j, f] = b[f] + sum_{a, c, ch} xp[n, i*sh + a, j*sw + c, ch] * W[a, c, ch, f]."""
    N, H, Wd, C = x.shape
    kh, kw, _, F = W.shape
    sh, sw = strides
    if padding == "same":
        (t, bo), (le, ri) = tf_same_pads(H, kh, sh), tf_same_pads(Wd, kw, sw)
    elif padding == "valid":
        t = bo = le = ri = 0
    else:                       # PyTorch: p zeros on each side; the floor drops spare rows
        (t, le) = (bo, ri) = (padding, padding) if np.isscalar(padding) else padding
    xp = np.zeros((N, H + t + bo, Wd + le + ri, C))
    xp[:, t:t + H, le:le + Wd, :] = x
    Ho = (xp.shape[1] - kh) // sh + 1
    Wo = (xp.shape[2] - kw) // sw + 1
    y = np.zeros((N, Ho, Wo, F))
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                for f in range(F):
                    total = b[f]
                    for a in range(kh):
                        for c in range(kw):
                            for ch in range(C):
                                total += xp[n, i * sh + a, j * sw + c, ch] * W[a, c, ch, f]
                    y[n, i, j, f] = total
    return y


def _transpose_crop(n, k, s, padding, output_padding):
    """(first row kept, rows kept) of the full scatter canvas along one axis.

    PyTorch, integer p: out = (n - 1)*s - 2p + k + op, starting at row p.
    Keras: 'valid' keeps n*s + max(k - s, 0) from row 0 and 'same' keeps n*s after
    dropping max(k - s, 0) // 2 rows; with output_padding op the length is
    (n - 1)*s + k - 2*(k // 2 if 'same' else 0) + op and TensorFlow crops the
    'same' padding of a Conv2D reading that length (tf_same_pads) from the top.
    """
    if not isinstance(padding, str):
        return padding, (n - 1) * s - 2 * padding + k + (output_padding or 0)
    if output_padding is None:
        if padding == "same":
            return max(k - s, 0) // 2, n * s
        return 0, n * s + max(k - s, 0)
    length = (n - 1) * s + k - 2 * (k // 2 if padding == "same" else 0) + output_padding
    return (tf_same_pads(length, k, s)[0] if padding == "same" else 0), length


def conv2d_transpose_loops(x, W, b, strides, padding, output_padding=None):
    """Scatter definition: input pixel (i, j) adds W[a, c, :, :] @ x[n, i, j, :] at
    (i*sh + a, j*sw + c) of a full canvas; the canvas is then cut to the layer's size
    (_transpose_crop), rows past the last stamp being zeros. padding: 'valid', 'same'
    or PyTorch's (ph, pw); output_padding None or (oph, opw)."""
    N, H, Wd, C = x.shape
    kh, kw, F, _ = W.shape
    sh, sw = strides
    ph, pw = (padding, padding) if isinstance(padding, str) else padding
    oph, opw = (None, None) if output_padding is None else output_padding
    t, Ho = _transpose_crop(H, kh, sh, ph, oph)
    le, Wo = _transpose_crop(Wd, kw, sw, pw, opw)
    full = np.zeros((N, max((H - 1) * sh + kh, t + Ho), max((Wd - 1) * sw + kw, le + Wo), F))
    for n in range(N):
        for i in range(H):
            for j in range(Wd):
                for a in range(kh):
                    for c in range(kw):
                        for f in range(F):
                            full[n, i * sh + a, j * sw + c, f] += np.dot(W[a, c, f, :], x[n, i, j, :])
    return full[:, t:t + Ho, le:le + Wo, :] + b


@st.composite
def conv_cases(draw, max_hw=8, kinds=("valid", "same", "explicit")):
    """A random convolution configuration: shapes, kernel, strides, padding ('valid',
    'same' or PyTorch's (ph, pw), 0 to k per axis) and the output_padding a
    Conv2DTranspose of it takes (None or (oph, opw), each below its stride). Sizes
    are drawn so that a Conv2D and a Conv2DTranspose both have outputs: the
    Conv2D's window fits (h + 2p >= k) and the transposed crop leaves a row."""
    kind = draw(st.sampled_from(kinds))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    if kind == "explicit":
        padding = (draw(st.integers(0, kh)), draw(st.integers(0, kw)))
        output_padding = (draw(st.integers(0, sh - 1)), draw(st.integers(0, sw - 1)))
    else:
        padding = kind
        output_padding = draw(st.one_of(st.none(), st.tuples(st.integers(0, sh - 1),
                                                              st.integers(0, sw - 1))))
        if kind == "same" and output_padding is not None:
            # TensorFlow refuses 'same' with an even kernel and output_padding 0 (the
            # output's 'same' Conv2D does not map back to the input): take 1 there.
            output_padding = tuple(1 if k % 2 == 0 and op == 0 and s > 1 else op
                                   for k, s, op in zip((kh, kw), (sh, sw), output_padding))
            if any(k % 2 == 0 and op == 0 for k, op in zip((kh, kw), output_padding)):
                output_padding = None

    def low(k, s, p, op):
        if kind == "valid":
            return k
        if kind == "same":
            return 1
        # Conv2D: n + 2p >= k; Conv2DTranspose: (n - 1)*s + k - 2p + op >= 1
        return max(1, k - 2 * p, 1 + -(-(1 + 2 * p - k - op) // s))

    lo_h, lo_w = (low(kh, sh, padding[0], output_padding[0]), low(kw, sw, padding[1],
                  output_padding[1])) if kind == "explicit" else (low(kh, sh, 0, 0),
                                                                  low(kw, sw, 0, 0))
    h, w = draw(st.integers(lo_h, max(lo_h, max_hw))), draw(st.integers(lo_w, max(lo_w, max_hw)))
    return dict(batch=draw(st.integers(1, 3)), h=h, w=w, channels=draw(st.integers(1, 3)),
                filters=draw(st.integers(1, 3)), kernel=(kh, kw), strides=(sh, sw),
                padding=padding, output_padding=output_padding)


def blobs(n, seed=0):
    """Images with structure to learn: a bright square at one of four places."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 32, 32, 1), np.uint8)
    for i, k in enumerate(rng.integers(0, 4, n)):
        r, c = 4 + 12 * (k // 2), 4 + 12 * (k % 2)
        x[i, r:r + 12, c:c + 12, 0] = 200 + rng.integers(0, 55)
    return x
