"""Dense: y = x @ W + b (docs/dense.md)."""

from .._validation import check_positive_int
from ..errors import InputError
from .activations import activation_name, get_activation
from .base import Layer
from .initializers import glorot_uniform, zeros


class Dense(Layer):
    """Fully connected layer: y = act(x @ W + b).

    Shapes: x (N, D_in), W "kernel" (D_in, D_out), b "bias" (D_out,), y (N, D_out).
    Backward: dW = x.T @ dy, db = dy.sum(0), dx = dy @ W.T (dy after the activation's backward).
    """

    def __init__(self, units, activation=None, name=None):
        super().__init__(name)
        self.units = check_positive_int(units, "units", "Dense")
        self.activation = get_activation(activation, "Dense")

    def _build(self, input_shape, rng):
        if len(input_shape) != 1:
            raise InputError(f"{self}: expects flat inputs (features,), got input_shape "
                             f"{input_shape}; put a Flatten() before it")
        self.params = {
            "kernel": glorot_uniform((input_shape[0], self.units), rng, self._dtype),
            "bias": zeros((self.units,), self._dtype),
        }
        return (self.units,)

    def forward(self, x, training=True):
        self.x = self._check_input(x)                           # cached for dW
        y = self.x @ self.params["kernel"] + self.params["bias"]
        self._y_shape = y.shape
        return y if self.activation is None else self.activation._forward(y)

    def backward(self, dy):
        dy = self._check_grad(dy)
        if self.activation is not None:
            dy = self.activation._backward(dy)
        self.grads["kernel"] = self.x.T @ dy
        self.grads["bias"] = dy.sum(axis=0)
        if not self.input_gradient:
            return None
        return dy @ self.params["kernel"].T

    def get_config(self):
        return {"name": self.name, "units": self.units,
                "activation": activation_name(self.activation)}
