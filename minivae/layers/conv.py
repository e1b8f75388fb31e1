"""Conv2D and Conv2DTranspose: an adjoint pair built on im2col (docs/conv.md).

Conv2D, kernel W (kh, kw, C, F), bias b (F,), x (N, H, W, C) -> y (N, Ho, Wo, F):

    cols = im2col(pad(x))                       (N*Ho*Wo, kh*kw*C)
    y    = cols @ W2 + b,  W2 = W.reshape(kh*kw*C, F)
    backward:  dW = cols.T @ dy2,  db = sum(dy2),  dx = crop(col2im(dy2 @ W2.T))

Conv2DTranspose, kernel W (kh, kw, F, C) in Keras's layout (out, in), maps
x (N, H, W, C) -> y (N, Ho, Wo, F) and is, by construction, the input gradient
of the Conv2D with the same kernel that maps (Ho, Wo, F) to (H, W, C):

    y    = crop(col2im(x2 @ W2.T)) + b,  W2 = W.reshape(kh*kw*F, C)
    backward:  cols = im2col(pad(dy)),  dx = cols @ W2,  dW = cols.T @ x2,  db = sum(dy)

so <Conv2D(x), y> == <x, Conv2DTranspose(y)> when both share W and have no bias.
Where it pays, Conv2DTranspose's forward runs in the phase form instead: the same
sums, as one accumulating GEMM per tap and no overlapping adds (docs/conv.md).
All products go through minivae.blas.matmul (one BLAS, see there).
"""

from .._validation import as_pair, check_choice, check_positive_int
from ..blas import matmul
from ..im2col import (col2im_cropped, conv_output_length, conv_transpose_output_length, crop,
                      im2col, pad, padded_empty, padding_amounts, phase_geometry, phase_rows,
                      phase_taps, tap_spread, tap_sum)
from ..parallel import over_batch
from .activations import activation_name, get_activation
from .base import Layer
from .initializers import glorot_uniform

import numpy as np


PHASE_MAX_PADDING = 1.25          # see Conv2DTranspose.algorithm


def channel_sum(dy):
    """The bias gradient: dy (N, H, W, F) summed over all but the channel axis, (F,).

    Computed as the product ones @ dy.reshape(-1, F): BLAS reads dy once with all
    cores, where numpy's sum over axes (0, 1, 2) runs 4x slower on one.
    """
    flat = dy.reshape(-1, dy.shape[-1])
    return matmul(np.ones((1, flat.shape[0]), dtype=flat.dtype), flat)[0]


class _Conv(Layer):
    """Arguments shared by both directions, with Keras names and defaults."""

    batch_independent = True

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 name=None):
        super().__init__(name)
        owner = type(self).__name__
        self.filters = check_positive_int(filters, "filters", owner)
        self.kernel_size = as_pair(kernel_size, "kernel_size", owner)
        self.strides = as_pair(strides, "strides", owner)
        self.padding = check_choice(padding, "padding", ("valid", "same"), owner)
        self.activation = get_activation(activation, owner)

    def _check_image_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{self}: expects images (height, width, channels) without the "
                             f"batch axis, got input_shape {input_shape}")

    def get_config(self):
        return {"name": self.name, "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding,
                "activation": activation_name(self.activation)}

    def _activate(self, y):
        """Apply the fused activation in place: y is a fresh buffer this layer owns."""
        self._y_shape = y.shape
        return y if self.activation is None else self.activation._forward(y, out=y)

    def _deactivate(self, dy):
        dy = self._check_grad(dy)
        return dy if self.activation is None else self.activation._backward(dy)


class Conv2D(_Conv):
    """2-D convolution (cross-correlation, as Keras), NHWC.  See the module docstring."""

    def _build(self, input_shape, rng):
        self._check_image_shape(input_shape)
        height, width, channels = input_shape
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        out_h = conv_output_length(height, kh, sh, self.padding)
        out_w = conv_output_length(width, kw, sw, self.padding)
        if out_h < 1 or out_w < 1:
            raise ValueError(f"{self}: a {height}x{width} input is smaller than the {kh}x{kw} "
                             f"kernel with padding 'valid'; use a larger input or padding='same'")
        self.pads = padding_amounts(height, width, kh, kw, sh, sw, self.padding)
        self.params = {
            "kernel": glorot_uniform((kh, kw, channels, self.filters), rng, self._dtype),
            "bias": np.zeros(self.filters, dtype=self._dtype),
        }
        return out_h, out_w, self.filters

    @property
    def algorithm(self):
        """"im2col" (gather patches, one GEMM) or "taps" (GEMM first, then sum shifted taps).

        Both compute the same convolution. "taps" multiplies every padded pixel, so it
        costs s*s times im2col's flops at stride s, and its buffer holds kh*kw*F values
        per pixel against im2col's kh*kw*C: it is chosen for stride 1 with F < C.
        Assign "im2col" or "taps" to force one (the tests run both).
        """
        if self._algorithm is not None:
            return self._algorithm
        channels = self.input_shape[-1]
        return "taps" if self.strides == (1, 1) and self.filters < channels else "im2col"

    @algorithm.setter
    def algorithm(self, value):
        self._algorithm = check_choice(value, "algorithm", (None, "im2col", "taps"), str(self))

    _algorithm = None

    def forward(self, x, training=True):
        x = self._check_input(x)
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        out_h, out_w, filters = self.output_shape
        W, b = self.params["kernel"], self.params["bias"]
        xp = pad(x, self.pads)
        self.xp_shape = xp.shape
        if self.algorithm == "taps":
            self.xp = xp                                           # cached for dW
            channels = xp.shape[-1]
            q = matmul(xp.reshape(-1, channels), W.transpose(2, 0, 1, 3).reshape(channels, -1))
            y = np.empty((x.shape[0], out_h, out_w, filters), dtype=q.dtype)
            y[...] = b
            return self._activate(tap_sum(q.reshape(*xp.shape[:3], kh, kw, filters),
                                          out_h, out_w, sh, sw, out=y))
        self.cols = im2col(xp, kh, kw, sh, sw, out_h, out_w)     # cached for dW
        y = matmul(self.cols, W.reshape(-1, filters))
        y += b
        return self._activate(y.reshape(x.shape[0], out_h, out_w, filters))

    def backward(self, dy):
        dy = self._deactivate(dy)
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        out_h, out_w, filters = self.output_shape
        W = self.params["kernel"]
        self.grads["bias"] = channel_sum(dy)
        if self.algorithm == "taps":
            channels = W.shape[2]
            dq = tap_spread(dy, self.xp_shape, kh, kw, sh, sw).reshape(-1, kh * kw * filters)
            xp2 = self.xp.reshape(-1, channels)
            dW = matmul(xp2.T, dq).reshape(channels, kh, kw, filters)
            self.grads["kernel"] = np.ascontiguousarray(dW.transpose(1, 2, 0, 3))
            if not self.input_gradient:
                return None
            dxp = matmul(dq, W.transpose(0, 1, 3, 2).reshape(-1, channels)).reshape(self.xp_shape)
            return crop(dxp, self.pads, *self.input_shape[:2])
        dy2 = dy.reshape(-1, filters)
        self.grads["kernel"] = matmul(self.cols.T, dy2).reshape(W.shape)
        if not self.input_gradient:
            return None
        dcols = matmul(dy2, W.reshape(-1, filters).T)
        dx = np.zeros((dy.shape[0], *self.input_shape), dtype=dcols.dtype)
        return col2im_cropped(dcols, dx, kh, kw, sh, sw, out_h, out_w, self.pads)


class Conv2DTranspose(_Conv):
    """Transposed 2-D convolution, the adjoint of Conv2D.  See the module docstring.

    Output size: 'same' gives n*s; 'valid' gives n*s + max(k - s, 0) (Keras's rule).
    """

    def _build(self, input_shape, rng):
        self._check_image_shape(input_shape)
        height, width, channels = input_shape
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        out_h = conv_transpose_output_length(height, kh, sh, self.padding)
        out_w = conv_transpose_output_length(width, kw, sw, self.padding)
        # The Conv2D this layer is the adjoint of reads (out_h, out_w) and yields (height, width).
        self.pads = padding_amounts(out_h, out_w, kh, kw, sh, sw, self.padding)
        (top, bottom), (left, right) = self.pads
        self.yp_hw = (out_h + top + bottom, out_w + left + right)
        self.params = {
            "kernel": glorot_uniform((kh, kw, self.filters, channels), rng, self._dtype),
            "bias": np.zeros(self.filters, dtype=self._dtype),
        }
        return out_h, out_w, self.filters

    @property
    def algorithm(self):
        """"phase" (one accumulating GEMM per tap, phases interleaved) or "scatter".

        Both compute the same transposed convolution. "scatter" is the adjoint as the
        module docstring writes it: one GEMM, then col2im's overlapping strided adds,
        whose short channel runs make them slow. "phase" (docs/conv.md) splits the
        output into s*s phases, each a stride-1 correlation of the input: every tap is
        one GEMM on a shifted row range of the padded input, accumulated by BLAS in
        place (minivae.blas.matmul), and the phases interleave without overlap. Its
        price is the padding: every image gets ceil(k/s) - 1 more rows and columns, and
        their products are computed and thrown away. So "phase" is the default while
        the padded input holds at most PHASE_MAX_PADDING times the pixels of the input
        (the book's 16x16 -> 32x32 layer: 17*17/256 = 1.13, 1.6x faster forward than
        "scatter"; its 8x8 and 4x4 inputs, 1.27 and 1.56, are not faster).
        Assign "scatter" or "phase" to force one (the tests run both).
        """
        if self._algorithm is not None:
            return self._algorithm
        (kh, kw), (sh, sw), ((top, _), (left, _)) = self.kernel_size, self.strides, self.pads
        (height, width, _), (out_h, out_w, _) = self.input_shape, self.output_shape
        window_h, blocks_h, _, _ = phase_geometry(height, kh, sh, top, out_h)
        window_w, blocks_w, _, _ = phase_geometry(width, kw, sw, left, out_w)
        padded = (blocks_h + window_h - 1) * (blocks_w + window_w - 1)
        return "phase" if padded <= PHASE_MAX_PADDING * height * width else "scatter"

    @algorithm.setter
    def algorithm(self, value):
        self._algorithm = check_choice(value, "algorithm", (None, "scatter", "phase"), str(self))

    _algorithm = None

    def forward(self, x, training=True):
        x = self._check_input(x)
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        n, height, width, channels = x.shape
        out_h, out_w, filters = self.output_shape
        W, b = self.params["kernel"], self.params["bias"]
        self.x2 = x.reshape(-1, channels)                         # cached for dW
        if self.algorithm == "phase":
            return self._activate(self._phase_forward(x))
        dcols = matmul(self.x2, W.reshape(-1, channels).T)
        # Scatter straight into the cropped output, pre-filled with the bias: no padded
        # buffer, no crop copy, no separate bias pass.
        y = np.empty((n, out_h, out_w, filters), dtype=dcols.dtype)
        y[...] = b
        return self._activate(col2im_cropped(dcols, y, kh, kw, sh, sw, height, width,
                                             self.pads))

    def _phase_forward(self, x):
        """The phase form: per output phase, one accumulating GEMM per tap, then interleave.

        The input is padded to (n, hp, wp, C) and flattened to X (n*hp*wp, C). Block
        (j, i) of image n is row n*hp*wp + j*wp + i of each phase's product P, and the
        input it reads at window position (d, e) sits `shift` = d*wp + e rows further
        on in X. So one tap is P[:m - shift] += X[shift:] @ W[a, b].T for all blocks
        at once. Rows of P outside the blocks (the padding's) take junk and are never
        read.
        """
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        n, height, width, channels = x.shape
        out_h, out_w, filters = self.output_shape
        W, b = self.params["kernel"], self.params["bias"]
        (top, _), (left, _) = self.pads
        th, blocks_h, pads_h, off_h = phase_geometry(height, kh, sh, top, out_h)
        tw, blocks_w, pads_w, off_w = phase_geometry(width, kw, sw, left, out_w)
        xp = pad(x, (pads_h, pads_w))
        wp = xp.shape[2]
        X = xp.reshape(-1, channels)
        m = X.shape[0]
        y = np.empty((n, out_h, out_w, filters), dtype=X.dtype)
        product = np.empty((m, filters), dtype=X.dtype)
        blocked = product.reshape(*xp.shape[:3], filters)
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
                    matmul(X[shift:], W[a, t].T, out=product[:m - shift], accumulate=k > 0)
                source = blocked[:, j_lo:j_hi, i_lo:i_hi]
                over_batch(lambda s: np.add(source[s], b, out=target[s]), n)
        return y

    def backward(self, dy):
        dy = self._check_grad(dy)
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        height, width, channels = self.input_shape
        W = self.params["kernel"]
        if self.activation is None:
            dyp = pad(dy, self.pads)
        else:   # the activation's backward writes straight into the buffer im2col reads
            dyp, inner = padded_empty(dy.shape, self.pads, dy.dtype)
            self.activation._backward(dy, out=inner)
        cols = im2col(dyp, kh, kw, sh, sw, height, width)
        self.grads["kernel"] = matmul(cols.T, self.x2).reshape(W.shape)
        self.grads["bias"] = channel_sum(dyp)                   # the padding adds zeros
        if not self.input_gradient:
            return None
        dx = matmul(cols, W.reshape(-1, channels))
        return dx.reshape(dy.shape[0], height, width, channels)
