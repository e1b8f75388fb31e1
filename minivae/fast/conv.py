"""Fast kernels for Conv2D and Conv2DTranspose (docs/fast.md).

Each kernel computes what the layer's reference forward and backward compute
(minivae/layers/conv.py), with the same params, grads and output. What its
backward needs it keeps in `cache`, a dict of the fast path's own that
minivae.fast holds for the layer between the two calls (the layer's attributes
stay the ones its own code sets). minivae.fast.kernel_for chooses among them by
shape.

    Conv2DIm2col      the reference's three products with a threaded gather, the
                      fused activation in place and the bias gradient as a GEMV
    Conv2DTaps        GEMM first, then sum the shifted taps: for stride 1 with F < C
    TransposeScatter  the reference's scatter, straight into the cropped output
    TransposePhase    one accumulating GEMM per tap and phase, phases interleaved
"""

import numpy as np

from .activations import activate, deactivate, deactivate_by_parts
from .gather import (col2im_cropped, im2col, pad, padded_empty, phase_geometry, phase_input,
                     phase_rows, phase_taps, scatter_products, tap_spread, tap_sum)
from .threads import over_batch


# The products that reduce over the batch (dW of a layer with few weights, a bias
# gradient) have small outputs, and numpy's matmul keeps the GIL through a product of
# fewer than 500 outputs however long it runs (numpy 2.4: its loop releases the GIL only
# above that size). Those are written np.dot(a, b), which releases the GIL around every
# BLAS call, so the other part's thread goes on meanwhile (docs/fast.md, "The GIL").
# The same BLAS products, the same numbers.

# A product whose operand is built for it (im2col's columns of dy in a transposed
# convolution's backward) runs on chunks of the batch whose share of that operand is
# about this many bytes, so that the GEMMs read it from the cache the gather has just
# written it to instead of from memory (docs/fast.md, "Chunks").
CHUNK_BYTES = 2 << 20


def chunks(n, bytes_per_example):
    """Contiguous slices covering range(n): as many as whole CHUNK_BYTES fit in the
    batch's bytes (at least one), of near-equal sizes. They depend on n and the layer's
    shapes only, never on the number of threads."""
    k = max(1, min(n, n * bytes_per_example // CHUNK_BYTES))
    bounds = [n * i // k for i in range(k + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(k)]


def channel_sum(dy):
    """The bias gradient: dy (N, H, W, F) summed over all but the channel axis, (F,).

    Computed as the product ones . dy.reshape(-1, F): BLAS reads dy once with all
    cores, where numpy's sum over axes (0, 1, 2) runs 4x slower on one. np.dot keeps
    the GIL free while it runs (see above).
    """
    flat = dy.reshape(-1, dy.shape[-1])
    return np.dot(np.ones(flat.shape[0], dtype=flat.dtype), flat)


def bias_image(bias, height, width):
    """The bias repeated over a height x width image, (height, width, F).

    numpy broadcasts a per-channel bias over an NHWC batch with an inner loop of F
    values; broadcast as a whole image, its inner loop runs over the image (adding the
    book's 32-channel bias to a 32x32 batch of 50: 0.26 ms against 0.11). The values
    added are the same.
    """
    return np.tile(bias, height * width).reshape(height, width, -1)


def _biased_output(layer, n):
    out_h, out_w, filters = layer.output_shape
    y = np.empty((n, out_h, out_w, filters), dtype=layer.dtype)
    y[...] = bias_image(layer.params["bias"], out_h, out_w)
    return y


class Conv2DIm2col:
    """Conv2D as the reference writes it: im2col, one GEMM, three products back."""

    @staticmethod
    def forward(layer, x, training, cache):
        x = layer._check_input(x)
        (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
        out_h, out_w, filters = layer.output_shape
        xp = pad(x, layer.pads)
        cols = im2col(xp, kh, kw, sh, sw, out_h, out_w)
        cache["cols"] = cols
        y = (cols @ layer.params["kernel"].reshape(-1, filters)).reshape(
            x.shape[0], out_h, out_w, filters)
        y += bias_image(layer.params["bias"], out_h, out_w)
        return activate(layer, y, cache)

    @staticmethod
    def backward(layer, dy, cache):
        dy = deactivate(layer, layer._check_grad(dy, cache["y_shape"]), cache)
        (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
        out_h, out_w, filters = layer.output_shape
        W, cols = layer.params["kernel"], cache["cols"]
        dy2 = dy.reshape(-1, filters)
        layer.grads["kernel"] = np.dot(cols.T, dy2).reshape(W.shape)
        layer.grads["bias"] = channel_sum(dy)
        if not layer.input_gradient:
            return None
        # one GEMM, then the scatter: products split as scatter_products splits them ran
        # 3% slower at the book's 8x8 -> 4x4 conv (GEMMs of 800 rows), and no faster at
        # its 16x16 -> 8x8
        dcols = dy2 @ W.reshape(-1, filters).T
        dx = np.zeros((dy.shape[0], *layer.input_shape), dtype=dcols.dtype)
        return col2im_cropped(dcols, dx, kh, kw, sh, sw, out_h, out_w, layer.pads)


class Conv2DTaps:
    """Q = x2 @ Wq for every input pixel and tap, then y = b + tap_sum(Q).

    Its buffer holds kh*kw*F values per pixel where im2col's holds kh*kw*C, and it
    multiplies every input pixel, s*s times im2col's flops at stride s. The padding is
    never built: a tap that would read it is clipped (its products would be zeros).
    """

    @staticmethod
    def forward(layer, x, training, cache):
        x = layer._check_input(x)
        W = layer.params["kernel"]
        n, height, width, channels = x.shape
        x2 = cache["x2"] = x.reshape(-1, channels)
        q = x2 @ W.transpose(2, 0, 1, 3).reshape(channels, -1)
        (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
        y = tap_sum(q.reshape(n, height, width, kh, kw, layer.filters),
                    _biased_output(layer, n), sh, sw, layer.pads)
        return activate(layer, y, cache)

    @staticmethod
    def backward(layer, dy, cache):
        dy = deactivate(layer, layer._check_grad(dy, cache["y_shape"]), cache)
        (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
        W, x2 = layer.params["kernel"], cache["x2"]
        n = dy.shape[0]
        height, width, channels = layer.input_shape
        layer.grads["bias"] = channel_sum(dy)
        taps = tap_spread(dy, (n, height, width), kh, kw, sh, sw, layer.pads)
        # dq (N*H*W, kh*kw*F), tap_sum's layout: a view of the planes when F = 1 (the
        # book's last conv), a copy otherwise
        dq = taps.reshape(kh * kw, -1, layer.filters).transpose(1, 0, 2).reshape(
            -1, kh * kw * layer.filters)
        # dq.T @ x2 (kh*kw*F x C) runs faster than x2.T @ dq when F is small (0.54 against
        # 0.71 ms for the book's last conv, one core); the transposed copy is 288 numbers
        dW = np.dot(dq.T, x2).reshape(kh, kw, layer.filters, channels)
        layer.grads["kernel"] = np.ascontiguousarray(dW.transpose(0, 1, 3, 2))
        if not layer.input_gradient:
            return None
        dx = dq @ W.transpose(0, 1, 3, 2).reshape(-1, channels)
        return dx.reshape(n, height, width, channels)


class _Transpose:
    """The backward both transposed kernels share: Conv2D's forward applied to dy.

    It runs chunk by chunk of the batch (`chunks`): the activation's backward is written
    into a padded buffer of one chunk, whose columns im2col gathers and both GEMMs
    multiply while they are in the cache. dW and the bias gradient are the sums of the
    chunks' parts, in the chunks' order, and each chunk writes its own rows of dx.
    """

    @staticmethod
    def backward(layer, dy, cache):
        dy = layer._check_grad(dy, cache["y_shape"])
        (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
        height, width, channels = layer.input_shape
        W = layer.params["kernel"]
        n = dy.shape[0]
        x2, W2 = cache["x2"], W.reshape(-1, channels)
        pixels = height * width
        parts = chunks(n, pixels * W2.shape[0] * dy.itemsize)
        # one padded buffer serves every chunk: its border stays zero
        dyp, inner = padded_empty((max(p.stop - p.start for p in parts), *dy.shape[1:]),
                                  layer.pads, dy.dtype)
        write = deactivate_by_parts(layer, dy, cache)
        dx = np.empty((n * pixels, channels), dtype=dy.dtype) if layer.input_gradient else None
        dW = bias = None
        for part in parts:
            k = part.stop - part.start
            write(part, inner[:k])
            rows = slice(part.start * pixels, part.stop * pixels)
            cols = im2col(dyp[:k], kh, kw, sh, sw, height, width)
            if dW is None:
                # the padding adds zeros to the bias gradient
                dW, bias = np.dot(cols.T, x2[rows]), channel_sum(dyp[:k])
            else:
                dW += np.dot(cols.T, x2[rows])
                bias += channel_sum(dyp[:k])
            if dx is not None:
                np.matmul(cols, W2, out=dx[rows])
        layer.grads["kernel"] = dW.reshape(W.shape)
        layer.grads["bias"] = bias
        if dx is None:
            return None
        return dx.reshape(n, height, width, channels)


class TransposeScatter(_Transpose):
    """The reference's products and col2im's adds, straight into the cropped output,
    pre-filled with the bias: no padded canvas, no crop copy, no separate bias pass. The
    products are made a row tap and a group of column taps at a time (scatter_products),
    so that each add runs along whole rows."""

    @staticmethod
    def forward(layer, x, training, cache):
        x = layer._check_input(x)
        sh, sw = layer.strides
        n, height, width, channels = x.shape
        x2 = x.reshape(-1, channels)
        cache["x2"] = x2
        y = scatter_products(x2, layer.params["kernel"].transpose(0, 1, 3, 2),
                             _biased_output(layer, n), height, width, sh, sw, layer.pads)
        return activate(layer, y, cache)


class TransposePhase(_Transpose):
    """The phase form: per output phase, one accumulating GEMM per tap, then interleave.

    The input is padded to (n, hp, wp, C) and flattened to X (n*hp*wp, C). Block
    (j, i) of image n is row n*hp*wp + j*wp + i of each phase's product P, and the
    input it reads at window position (d, e) sits `shift` = d*wp + e rows further
    on in X. So one tap is P[:m - shift] += X[shift:] @ W[a, b].T for all blocks
    at once. Rows of P outside the blocks (the padding's) take junk and are never
    read.
    """

    @staticmethod
    def padding_ratio(layer):
        """Pixels of the padded input the phase form multiplies, over the input's."""
        (kh, kw), (sh, sw), ((top, _), (left, _)) = layer.kernel_size, layer.strides, layer.pads
        (height, width, _), (out_h, out_w, _) = layer.input_shape, layer.output_shape
        window_h, blocks_h, _, _ = phase_geometry(height, kh, sh, top, out_h)
        window_w, blocks_w, _, _ = phase_geometry(width, kw, sw, left, out_w)
        return (blocks_h + window_h - 1) * (blocks_w + window_w - 1) / (height * width)

    @staticmethod
    def forward(layer, x, training, cache):
        x = layer._check_input(x)
        cache["x2"] = x.reshape(-1, x.shape[-1])
        (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
        n, height, width, channels = x.shape
        out_h, out_w, filters = layer.output_shape
        W, b = layer.params["kernel"], layer.params["bias"]
        (top, _), (left, _) = layer.pads
        th, blocks_h, pads_h, off_h = phase_geometry(height, kh, sh, top, out_h)
        tw, blocks_w, pads_w, off_w = phase_geometry(width, kw, sw, left, out_w)
        xp = phase_input(x, pads_h, pads_w)
        wp = xp.shape[2]
        X = xp.reshape(-1, channels)
        m = X.shape[0]
        y = np.empty((n, out_h, out_w, filters), dtype=X.dtype)
        product = np.empty((m, filters), dtype=X.dtype)
        blocked = product.reshape(*xp.shape[:3], filters)
        bias = bias_image(b, *xp.shape[1:3])
        for r in range(sh):
            j_lo, j_hi, o_r = phase_rows(r, sh, off_h, out_h, blocks_h)
            for c in range(sw):
                i_lo, i_hi, o_c = phase_rows(c, sw, off_w, out_w, blocks_w)
                if j_hi <= j_lo or i_hi <= i_lo:
                    continue
                target = y[:, o_r:o_r + sh * (j_hi - j_lo - 1) + 1:sh,
                           o_c:o_c + sw * (i_hi - i_lo - 1) + 1:sw]
                # Smallest shift first: it covers the most rows, so every later tap adds
                # onto rows already written (beyond them lie only padding rows).
                taps = sorted((d * wp + e, a, t) for d, a in phase_taps(r, kh, sh, th)
                              for e, t in phase_taps(c, kw, sw, tw))
                if not taps:                        # no tap reaches this phase: the bias
                    target[...] = b
                    continue
                for k, (shift, a, t) in enumerate(taps):
                    if k == 0:
                        np.matmul(X[shift:], W[a, t].T, out=product[:m - shift])
                    else:
                        product[:m - shift] += X[shift:] @ W[a, t].T
                # the bias on the product's contiguous rows, then a plain copy: numpy's
                # strided add with a broadcast bias runs 1.5x slower than the two together
                np.add(blocked, bias, out=blocked)
                source = blocked[:, j_lo:j_hi, i_lo:i_hi]
                over_batch(lambda s: np.copyto(target[s], source[s]), n)
        return activate(layer, y, cache)
