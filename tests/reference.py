"""Slow, independent references for the convolutions: plain loops, no im2col.

Written from the definitions, not from minivae's code: the 'same' padding is
recomputed here from TensorFlow's documented rule, and the transposed
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
    else:
        t = bo = le = ri = 0
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


def conv2d_transpose_loops(x, W, b, strides, padding):
    """Scatter definition: input pixel (i, j) adds W[a, c, :, :] @ x[n, i, j, :] at
    (i*sh + a, j*sw + c) of a full canvas; the canvas is then cut to Keras's size:
    'valid' keeps n*s + max(k - s, 0) from the start, 'same' keeps n*s after
    dropping max(k - s, 0) // 2 leading rows (TensorFlow's smaller half first)."""
    N, H, Wd, C = x.shape
    kh, kw, F, _ = W.shape
    sh, sw = strides
    full = np.zeros((N, (H - 1) * sh + kh + sh, (Wd - 1) * sw + kw + sw, F))
    for n in range(N):
        for i in range(H):
            for j in range(Wd):
                for a in range(kh):
                    for c in range(kw):
                        for f in range(F):
                            full[n, i * sh + a, j * sw + c, f] += np.dot(W[a, c, f, :], x[n, i, j, :])
    if padding == "same":
        Ho, Wo = H * sh, Wd * sw
        t, le = max(kh - sh, 0) // 2, max(kw - sw, 0) // 2
    else:
        Ho, Wo = H * sh + max(kh - sh, 0), Wd * sw + max(kw - sw, 0)
        t = le = 0
    return full[:, t:t + Ho, le:le + Wo, :] + b


@st.composite
def conv_cases(draw, max_hw=8):
    """A random convolution configuration: shapes, kernel, strides, padding."""
    padding = draw(st.sampled_from(["valid", "same"]))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    lo_h, lo_w = (kh, kw) if padding == "valid" else (1, 1)
    h, w = draw(st.integers(lo_h, max(lo_h, max_hw))), draw(st.integers(lo_w, max(lo_w, max_hw)))
    return dict(batch=draw(st.integers(1, 3)), h=h, w=w, channels=draw(st.integers(1, 3)),
                filters=draw(st.integers(1, 3)), kernel=(kh, kw), strides=(sh, sw),
                padding=padding)


def blobs(n, seed=0):
    """Images with structure to learn: a bright square at one of four places."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 32, 32, 1), np.uint8)
    for i, k in enumerate(rng.integers(0, 4, n)):
        r, c = 4 + 12 * (k // 2), 4 + 12 * (k % 2)
        x[i, r:r + 12, c:c + 12, 0] = 200 + rng.integers(0, 55)
    return x
