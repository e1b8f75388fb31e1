"""Dense: y = x @ W + b (docs/dense.md)."""

from .._validation import check_positive_int
from ..errors import InputError
from .activations import activation_name, get_activation
from .base import Layer
from .initializers import fans_of, get_initializer, serialize


class Dense(Layer):
    """Fully connected layer: y = act(x @ W + b).

    Shapes: x (N, D_in), W "kernel" (D_in, D_out), b "bias" (D_out,), y (N, D_out).
    Backward: dW = x.T @ dy, db = dy.sum(0), dx = dy @ W.T (dy after the activation's backward).
    W and b are drawn by kernel_initializer and bias_initializer (Keras's names and
    defaults, docs/initializers.md) with fans (D_in, D_out).
    """

    def __init__(self, units, activation=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None):
        super().__init__(name)
        self.units = check_positive_int(units, "units", "Dense")
        self.activation = get_activation(activation, "Dense")
        self.kernel_initializer = get_initializer(kernel_initializer, "kernel_initializer",
                                                  "Dense")
        self.bias_initializer = get_initializer(bias_initializer, "bias_initializer", "Dense")

    def fans(self):
        """(fan_in, fan_out) = (D_in, D_out), the fans the initialisers are given."""
        return fans_of((self.input_shape[0], self.units))

    def _build(self, input_shape, rng):
        if len(input_shape) != 1:
            raise InputError(f"{self}: expects flat inputs (features,), got input_shape "
                             f"{input_shape}; put a Flatten() before it")
        shape = (input_shape[0], self.units)
        fans = fans_of(shape)
        self.params = {
            "kernel": self.kernel_initializer(shape, fans, rng, self._dtype),
            "bias": self.bias_initializer((self.units,), fans, rng, self._dtype),
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
                "activation": activation_name(self.activation),
                "kernel_initializer": serialize(self.kernel_initializer),
                "bias_initializer": serialize(self.bias_initializer)}
