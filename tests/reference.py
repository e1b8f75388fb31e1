"""Slow, independent references for the convolutions: plain loops, no im2col.

Written from the definitions, not from minivae's code: the 'same' padding is
recomputed here from TensorFlow's documented rule, and the transposed
convolution is the scatter definition (each input pixel stamps the kernel onto
the output), not an adjoint of anything.
"""

import numpy as np


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
