"""Conv2D and Conv2DTranspose: an adjoint pair built on im2col (docs/conv.md).

Conv2D, kernel W (kh, kw, C, F), bias b (F,), x (N, H, W, C) -> y (N, Ho, Wo, F):

    cols = im2col(pad(x))                       (N*Ho*Wo, kh*kw*C)
    y    = act(cols @ W2 + b),  W2 = W.reshape(kh*kw*C, F)
    backward, dy2 = act'(dy).reshape(-1, F):
        dW = cols.T @ dy2,  db = dy2.sum(0),  dx = crop(col2im(dy2 @ W2.T))

Conv2DTranspose, kernel W (kh, kw, F, C) in Keras's layout (out, in), maps
x (N, H, W, C) -> y (N, Ho, Wo, F) and is, by construction, the input gradient
of the Conv2D with the same kernel that maps (Ho, Wo, F) to (H, W, C):

    y    = act(crop(col2im(x2 @ W2.T)) + b),  x2 = x.reshape(-1, C),  W2 = W.reshape(kh*kw*F, C)
    backward, cols = im2col(pad(act'(dy))):
        dW = cols.T @ x2,  db = act'(dy).sum(0, 1, 2),  dx = cols @ W2

so <Conv2D(x), y> == <x, Conv2DTranspose(y)> when both share W and have no bias.
This is the reference; minivae/fast computes the same sums faster (docs/fast.md).
"""

from .._validation import as_pair, check_choice, check_positive_int
from ..errors import InputError
from ..im2col import (col2im, conv_output_length, conv_transpose_output_length, crop, im2col,
                      pad, padding_amounts)
from .activations import activation_name, get_activation
from .base import Layer
from .initializers import glorot_uniform, zeros


class _Conv(Layer):
    """Arguments shared by both directions, with Keras names and defaults."""

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
            raise InputError(f"{self}: expects images (height, width, channels) without the "
                             f"batch axis, got input_shape {input_shape}")

    def _new_params(self, kernel_shape, rng):
        self.params = {"kernel": glorot_uniform(kernel_shape, rng, self._dtype),
                       "bias": zeros((self.filters,), self._dtype)}

    def _activate(self, y):
        self._y_shape = y.shape
        return y if self.activation is None else self.activation._forward(y)

    def _deactivate(self, dy):
        """The gradient before the activation: act'(dy)."""
        dy = self._check_grad(dy)
        return dy if self.activation is None else self.activation._backward(dy)

    def get_config(self):
        return {"name": self.name, "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding,
                "activation": activation_name(self.activation)}


class Conv2D(_Conv):
    """2-D convolution (cross-correlation, as Keras), NHWC.  See the module docstring."""

    def _build(self, input_shape, rng):
        self._check_image_shape(input_shape)
        height, width, channels = input_shape
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        out_h = conv_output_length(height, kh, sh, self.padding)
        out_w = conv_output_length(width, kw, sw, self.padding)
        if out_h < 1 or out_w < 1:
            raise InputError(f"{self}: a {height}x{width} input is smaller than the {kh}x{kw} "
                             f"kernel with padding 'valid'; use a larger input or padding='same'")
        self.pads = padding_amounts(height, width, kh, kw, sh, sw, self.padding)
        self._new_params((kh, kw, channels, self.filters), rng)
        return out_h, out_w, self.filters

    def forward(self, x, training=True):
        x = self._check_input(x)
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        out_h, out_w, filters = self.output_shape
        W, b = self.params["kernel"], self.params["bias"]
        xp = pad(x, self.pads)
        self.xp_shape = xp.shape                                   # cached for col2im
        self.cols = im2col(xp, kh, kw, sh, sw, out_h, out_w)       # cached for dW
        y2 = self.cols @ W.reshape(-1, filters) + b
        return self._activate(y2.reshape(x.shape[0], out_h, out_w, filters))

    def backward(self, dy):
        dy = self._deactivate(dy)
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        out_h, out_w, filters = self.output_shape
        W = self.params["kernel"]
        dy2 = dy.reshape(-1, filters)
        self.grads["kernel"] = (self.cols.T @ dy2).reshape(W.shape)
        self.grads["bias"] = dy2.sum(axis=0)
        if not self.input_gradient:
            return None
        dcols = dy2 @ W.reshape(-1, filters).T
        dxp = col2im(dcols, self.xp_shape, kh, kw, sh, sw, out_h, out_w)
        return crop(dxp, self.pads, *self.input_shape[:2])


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
        self._new_params((kh, kw, self.filters, channels), rng)
        return out_h, out_w, self.filters

    def forward(self, x, training=True):
        x = self._check_input(x)
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        n, height, width, channels = x.shape
        out_h, out_w, filters = self.output_shape
        (top, bottom), (left, right) = self.pads
        W, b = self.params["kernel"], self.params["bias"]
        self.x2 = x.reshape(-1, channels)                          # cached for dW
        dcols = self.x2 @ W.reshape(-1, channels).T
        yp_shape = (n, out_h + top + bottom, out_w + left + right, filters)
        yp = col2im(dcols, yp_shape, kh, kw, sh, sw, height, width)
        return self._activate(crop(yp, self.pads, out_h, out_w) + b)

    def backward(self, dy):
        dy = self._deactivate(dy)
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        height, width, channels = self.input_shape
        W = self.params["kernel"]
        cols = im2col(pad(dy, self.pads), kh, kw, sh, sw, height, width)
        self.grads["kernel"] = (cols.T @ self.x2).reshape(W.shape)
        self.grads["bias"] = dy.sum(axis=(0, 1, 2))
        if not self.input_gradient:
            return None
        return (cols @ W.reshape(-1, channels)).reshape(dy.shape[0], height, width, channels)
