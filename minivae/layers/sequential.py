"""Sequential: a chain of layers, itself a Layer (docs/sequential.md).

forward applies the layers in order; backward applies their backward passes in
reverse, so dx = J_1^T ... J_L^T dy (the chain rule, one Jacobian at a time).
`params`, `grads` and `state` are flat views keyed "layer_name/param" of the
very arrays the layers hold, so an optimizer updating them in place updates
the layers.
"""

import copy
import re

from .base import Layer


def _snake(name):
    """Keras's automatic names: Conv2DTranspose -> conv2d_transpose, ReLU -> re_lu."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class Sequential(Layer):
    """Layers applied in order. Unnamed layers get Keras-style names at build:
    conv2d, conv2d_1, ... unique within this Sequential."""

    def __init__(self, layers, name=None):
        super().__init__(name)
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: item {i} is {type(layer).__name__}, not a Layer")
        self.layers = layers
        self._assign_names()

    def _assign_names(self):
        taken = {layer.name for layer in self.layers if layer.name}
        counts = {}
        for layer in self.layers:
            if layer.name:
                continue
            base = _snake(type(layer).__name__)
            while True:
                k = counts.get(base, 0)
                counts[base] = k + 1
                candidate = base if k == 0 else f"{base}_{k}"
                if candidate not in taken:
                    break
            layer.name = candidate
            taken.add(candidate)
        names = [layer.name for layer in self.layers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"Sequential: layer names must be unique, repeated: {dupes}")

    def _build(self, input_shape, rng):
        shape = input_shape
        for layer in self.layers:
            shape = layer.build(shape, rng=rng, dtype=self._dtype)
        return shape

    def _flat(self, attr):
        return {f"{layer.name}/{k}": v for layer in self.layers
                for k, v in getattr(layer, attr).items()}

    @property
    def params(self):
        return self._flat("params")

    @params.setter
    def params(self, value):
        if value:  # Layer.__init__ assigns {}; real parameters live in the layers
            raise AttributeError("Sequential.params is a view of its layers' params; "
                                 "assign to layer.params instead")

    @property
    def grads(self):
        return self._flat("grads")

    @grads.setter
    def grads(self, value):
        if value:
            raise AttributeError("Sequential.grads is a view of its layers' grads")

    @property
    def state(self):
        return self._flat("state")

    @state.setter
    def state(self, value):
        if value:
            raise AttributeError("Sequential.state is a view of its layers' state")

    @property
    def batch_independent(self):
        return all(layer.batch_independent for layer in self.layers)

    def _replica(self):
        twin = copy.copy(self)
        twin.layers = [layer._replica() for layer in self.layers]
        return twin

    @property
    def dtype(self):
        for layer in self.layers:
            if layer.params:
                return layer.dtype
        return self._dtype

    def astype(self, dtype):
        super().astype(dtype)
        for layer in self.layers:
            layer.astype(dtype)
        return self

    def forward(self, x, training=True):
        x = self._check_input(x)
        for layer in self.layers:
            x = layer.forward(x, training=training)
        self._y_shape = x.shape
        return x

    def backward(self, dy):
        dy = self._check_grad(dy)
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def get_layer(self, name):
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"{self}: no layer named {name!r}; "
                       f"layers are {[layer.name for layer in self.layers]}")

    def summary(self):
        """A Keras-like table of layers, output shapes and parameter counts."""
        rows = [f"{'layer (type)':<36}{'output shape':<24}{'params':>10}"]
        for layer in self.layers:
            shape = "(None, " + ", ".join(str(s) for s in (layer.output_shape or ())) + ")"
            rows.append(f"{layer.name + ' (' + type(layer).__name__ + ')':<36}{shape:<24}"
                        f"{layer.count_params():>10,}")
        rows.append(f"total params: {self.count_params():,}")
        return "\n".join(rows)
