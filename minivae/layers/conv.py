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

padding is Keras's 'valid' or 'same' (TensorFlow's rules) or PyTorch's explicit
symmetric padding, an int or a pair (ph, pw). Either way pad/crop use the
((top, bottom), (left, right)) that minivae.im2col.padding_amounts gives for the
Conv2D side of the pair, so the transposed layer stays that Conv2D's adjoint.
Conv2DTranspose's output_padding op (< strides) lengthens its output by op
rows/columns at the bottom/right: the crop keeps op more of the canvas there
(rows the padding would have cut, or past the last stamp, where only the bias
lands). A stride-s Conv2D maps s input lengths to the same output length, and op
picks which of them its adjoint produces (PyTorch's and Keras's meaning).
"""

import numbers

from .._validation import as_pair, check_positive_int
from ..errors import InputError, InputTypeError
from ..im2col import (col2im, conv_output_length, conv_transpose_output_length, crop, im2col,
                      pad, padding_amounts)
from .activations import activation_name, get_activation
from .base import Layer
from .initializers import fans_of, get_initializer, serialize


def check_padding(padding, owner):
    """'valid' or 'same' (lower-cased), or PyTorch's symmetric padding as a pair (ph, pw)."""
    if isinstance(padding, str):
        if padding.lower() not in ("valid", "same"):
            raise InputError(f"{owner}: unknown padding {padding!r}; expected one of 'valid', "
                             f"'same', or an integer >= 0 or a pair of them (PyTorch's padding)")
        return padding.lower()
    if isinstance(padding, bool) or not isinstance(padding, (numbers.Integral, list, tuple)):
        raise InputTypeError(f"{owner}: padding must be 'valid', 'same', or an integer >= 0 or a "
                             f"pair of them, got {padding!r} of type {type(padding).__name__}")
    return as_pair(padding, "padding", owner, minimum=0)


def per_axis(value):
    """A padding or output_padding as (along height, along width)."""
    return (value, value) if value is None or isinstance(value, str) else value


def _as_config(value):
    return list(value) if isinstance(value, tuple) else value


class _Conv(Layer):
    """Arguments shared by both directions, with Keras names and defaults."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", name=None):
        super().__init__(name)
        owner = type(self).__name__
        self.filters = check_positive_int(filters, "filters", owner)
        self.kernel_size = as_pair(kernel_size, "kernel_size", owner)
        self.strides = as_pair(strides, "strides", owner)
        self.padding = check_padding(padding, owner)
        self.activation = get_activation(activation, owner)
        self.kernel_initializer = get_initializer(kernel_initializer, "kernel_initializer",
                                                  owner)
        self.bias_initializer = get_initializer(bias_initializer, "bias_initializer", owner)

    def fans(self):
        """(fan_in, fan_out) of the kernel as laid out, the fans the initialisers are
        given: Conv2D (kh*kw*C, kh*kw*F); Conv2DTranspose, kernel (kh, kw, F, C),
        (kh*kw*F, kh*kw*C), as Keras computes them (and torch's fan_in for both)."""
        return fans_of(self.params["kernel"].shape)

    def _check_image_shape(self, input_shape):
        if len(input_shape) != 3:
            raise InputError(f"{self}: expects images (height, width, channels) without the "
                             f"batch axis, got input_shape {input_shape}")

    def _new_params(self, kernel_shape, rng):
        fans = fans_of(kernel_shape)
        self.params = {"kernel": self.kernel_initializer(kernel_shape, fans, rng, self._dtype),
                       "bias": self.bias_initializer((self.filters,), fans, rng, self._dtype)}

    def _activate(self, y):
        self._y_shape = y.shape
        return y if self.activation is None else self.activation._forward(y)

    def _deactivate(self, dy):
        """The gradient before the activation: act'(dy)."""
        dy = self._check_grad(dy)
        return dy if self.activation is None else self.activation._backward(dy)

    def get_config(self):
        return {"name": self.name, "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": _as_config(self.padding),
                "activation": activation_name(self.activation),
                "kernel_initializer": serialize(self.kernel_initializer),
                "bias_initializer": serialize(self.bias_initializer)}


class Conv2D(_Conv):
    """2-D convolution (cross-correlation, as Keras), NHWC.  See the module docstring."""

    def _build(self, input_shape, rng):
        self._check_image_shape(input_shape)
        height, width, channels = input_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.strides, per_axis(self.padding)
        out_h = conv_output_length(height, kh, sh, ph)
        out_w = conv_output_length(width, kw, sw, pw)
        if out_h < 1 or out_w < 1:
            raise InputError(f"{self}: a {height}x{width} input is smaller than the {kh}x{kw} "
                             f"kernel with padding {self.padding!r}; use a larger input or "
                             f"padding='same'")
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

    Output size (minivae.im2col.conv_transpose_output_length): Keras's for 'same'
    (n*s) and 'valid' (n*s + max(k - s, 0)), or with output_padding op,
    (n - 1)*s + k - 2*(k // 2 if 'same' else 0) + op; PyTorch's for an integer
    padding p: (n - 1)*s + k - 2p + op. Each axis needs 0 <= op < stride.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 activation=None, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 name=None):
        super().__init__(filters, kernel_size, strides, padding, activation, kernel_initializer,
                         bias_initializer, name)
        if output_padding is not None:
            output_padding = as_pair(output_padding, "output_padding", str(self), minimum=0)
            if any(op >= s for op, s in zip(output_padding, self.strides)):
                raise InputError(f"{self}: output_padding must be smaller than strides along "
                                 f"each axis (0 <= output_padding < stride), got output_padding "
                                 f"{output_padding} with strides {self.strides}")
        self.output_padding = output_padding

    def _build(self, input_shape, rng):
        self._check_image_shape(input_shape)
        height, width, channels = input_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.strides, per_axis(self.padding)
        oph, opw = per_axis(self.output_padding)
        out_h = conv_transpose_output_length(height, kh, sh, ph, oph)
        out_w = conv_transpose_output_length(width, kw, sw, pw, opw)
        if out_h < 1 or out_w < 1:
            raise InputError(f"{self}: padding {self.padding!r} crops a {height}x{width} input's "
                             f"output to {out_h}x{out_w}; use less padding or a larger input")
        # The Conv2D this layer is the adjoint of reads (out_h, out_w) and yields (height, width).
        back = (conv_output_length(out_h, kh, sh, ph), conv_output_length(out_w, kw, sw, pw))
        if back != (height, width):
            raise InputError(f"{self}: padding {self.padding!r} with output_padding "
                             f"{self.output_padding} gives a {out_h}x{out_w} output, which the "
                             f"Conv2D it is the adjoint of maps to {back[0]}x{back[1]}, not the "
                             f"{height}x{width} input (TensorFlow refuses this too); with 'same' "
                             f"and an even kernel_size, use output_padding >= 1 or None")
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

    def get_config(self):
        return {**super().get_config(), "output_padding": _as_config(self.output_padding)}
