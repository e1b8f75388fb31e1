"""Elementwise activations: ReLU, LeakyReLU, Sigmoid (docs/activations.md).

Each is a Layer of its own and also what `activation="relu"` etc. attaches to
Dense, Conv2D and Conv2DTranspose.
"""

import numbers

import numpy as np
from scipy.special import expit

from .._validation import check_choice
from ..errors import InputError, InputTypeError
from .base import Layer


class ReLU(Layer):
    """y = max(x, 0).  Backward: dx = dy * [x > 0].  Shapes: y, dx like x."""

    def forward(self, x, training=True):
        return self._forward(self._check_input(x))

    def _forward(self, x):
        self.mask = x > 0                   # the only thing backward needs
        self._y_shape = x.shape
        return np.maximum(x, 0)

    def backward(self, dy):
        return self._backward(self._check_grad(dy))

    def _backward(self, dy):
        return dy * self.mask


class LeakyReLU(Layer):
    """y = x if x > 0 else a * x, with a = negative_slope (Keras 3 default 0.3).

    Backward: dx = dy * (1 if x > 0 else a).
    """

    def __init__(self, negative_slope=0.3, name=None):
        super().__init__(name)
        if isinstance(negative_slope, bool) or not isinstance(negative_slope, numbers.Real) \
                or not np.isfinite(negative_slope) or negative_slope < 0:
            raise InputError(f"LeakyReLU: negative_slope must be a finite number >= 0, "
                             f"got {negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def forward(self, x, training=True):
        return self._forward(self._check_input(x))

    def _forward(self, x):
        self.mask = x > 0                   # the only thing backward needs
        self._y_shape = x.shape
        return np.where(self.mask, x, x * x.dtype.type(self.negative_slope))

    def backward(self, dy):
        return self._backward(self._check_grad(dy))

    def _backward(self, dy):
        return np.where(self.mask, dy, dy * dy.dtype.type(self.negative_slope))

    def get_config(self):
        return {"name": self.name, "negative_slope": self.negative_slope}


class Sigmoid(Layer):
    """y = 1 / (1 + exp(-x)), computed stably by scipy.special.expit.

    Backward: dx = dy * y * (1 - y), so y is what is cached.
    """

    def forward(self, x, training=True):
        return self._forward(self._check_input(x))

    def _forward(self, x):
        self.y = expit(x)                   # cached: the backward needs y, not x
        self._y_shape = x.shape
        return self.y

    def backward(self, dy):
        return self._backward(self._check_grad(dy))

    def _backward(self, dy):
        return dy * self.y * (1 - self.y)


ACTIVATIONS = {"relu": ReLU, "leaky_relu": LeakyReLU, "sigmoid": Sigmoid}


def get_activation(activation, owner=None):
    """None / "linear" -> None; "relu" | "leaky_relu" | "sigmoid" -> a fresh layer.

    Layers with a fused activation call its unchecked `_forward`/`_backward`:
    the shapes were already validated at the owning layer's boundary.
    """
    if activation is None:
        return None
    if isinstance(activation, dict) and activation.get("class_name") in ("LeakyReLU",):
        kwargs = {k: v for k, v in activation.items() if k not in ("class_name", "name")}
        return LeakyReLU(**kwargs)
    if isinstance(activation, tuple(ACTIVATIONS.values())):
        return activation
    if isinstance(activation, Layer):
        raise InputTypeError(f"{owner + ': ' if owner else ''}activation must be None, a name "
                             f"or an activation layer (ReLU, LeakyReLU, Sigmoid), "
                             f"got {activation!r}")
    key = check_choice(activation, "activation", (None, "linear") + tuple(ACTIVATIONS), owner)
    if key == "linear":
        return None
    if key == "leaky_relu":
        # Keras's activation *function* leaky_relu defaults to slope 0.2, unlike the
        # LeakyReLU layer's 0.3; activation="leaky_relu" follows the function.
        return LeakyReLU(negative_slope=0.2)
    return ACTIVATIONS[key]()


def activation_name(activation):
    """What get_activation accepts to rebuild this activation (for configs): its name,
    or the layer's own config when the name alone would lose a setting."""
    if isinstance(activation, LeakyReLU) and activation.negative_slope != 0.2:
        return {"class_name": "LeakyReLU", **activation.get_config()}
    for key, cls in ACTIVATIONS.items():
        if type(activation) is cls:
            return key
    return None
