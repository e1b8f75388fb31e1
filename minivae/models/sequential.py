"""Sequential: a chain of layers, itself a Layer (docs/sequential.md).

forward applies the layers in order; backward applies their backward passes in
reverse, so dx = J_1^T ... J_L^T dy (the chain rule, one Jacobian at a time).
`params`, `grads` and `state` are flat views keyed "layer_name/param" of the
very arrays the layers hold, so an optimizer updating them in place updates
the layers. Each layer runs through minivae.fast, which may pick a faster
kernel for it (docs/fast.md); the layer's own forward is the reference.
"""

import re

import numpy as np

from ..fast import dispatch
from .._validation import check_float_dtype
from ..errors import InputError, InputTypeError
from ..layers import Layer
from ..serialization import built_in, deserialize, serialize


def snake_case(name):
    """Keras's automatic names: Conv2DTranspose -> conv2d_transpose, ReLU -> re_lu."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def assign_names(layers, owner="Sequential"):
    """Keras-style names for the layers given none (conv2d, conv2d_1, ...), unique among
    `layers`; raises when two layers share a name. A name given here is given again
    when the layers meet others (a model numbers its encoder's and decoder's layers
    together, as Keras's session-wide counter does)."""
    for layer in layers:
        if getattr(layer, "_auto_named", False):
            layer.name = None
    taken = {layer.name for layer in layers if layer.name}
    counts = {}
    for layer in layers:
        if layer.name:
            continue
        base = snake_case(type(layer).__name__)
        while True:
            k = counts.get(base, 0)
            counts[base] = k + 1
            candidate = base if k == 0 else f"{base}_{k}"
            if candidate not in taken:
                break
        layer.name, layer._auto_named = candidate, True
        taken.add(candidate)
    names = [layer.name for layer in layers]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"{owner}: layer names must be unique, repeated: {dupes}")


class LayerList:
    """What a list of layers offers as a whole: flat views of their params, grads and
    state, dtype, astype, parameter counts, lookup by name and a summary."""

    def _flat(self, attr):
        return {f"{layer.name}/{k}": v for layer in self.layers
                for k, v in getattr(layer, attr).items()}

    @property
    def params(self):
        return self._flat("params")

    @params.setter
    def params(self, value):
        if value:  # Layer.__init__ assigns {}; real parameters live in the layers
            raise AttributeError(f"{type(self).__name__}.params is a view of its layers' "
                                 f"params; assign to layer.params instead")

    @property
    def grads(self):
        return self._flat("grads")

    @grads.setter
    def grads(self, value):
        if value:
            raise AttributeError(f"{type(self).__name__}.grads is a view of its layers' grads")

    @property
    def state(self):
        return self._flat("state")

    @state.setter
    def state(self, value):
        if value:
            raise AttributeError(f"{type(self).__name__}.state is a view of its layers' state")

    @property
    def dtype(self):
        for layer in self.layers:
            if layer.params:
                return layer.dtype
        return self._dtype

    def astype(self, dtype):
        """Convert every layer's params and state to `dtype` in place; returns self."""
        self._dtype = check_float_dtype(dtype, "dtype", f"{self}.astype")
        for layer in self.layers:
            layer.astype(dtype)
        return self

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    def get_weights(self):
        """Every layer's arrays in Keras's order: layer by layer, params then state."""
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """The inverse of get_weights, copied in place: all of them or, when any array is
        refused, none."""
        weights = self.check_weights(weights)
        start = 0
        for layer in self.layers:
            count = len(layer.params) + len(layer.state)
            layer.set_weights(weights[start:start + count])
            start += count

    def check_weights(self, weights, owner=None):
        """The arrays set_weights would copy, each checked (count, shape, real and finite
        values); raises naming the first refused, having changed nothing."""
        owner = owner or f"{self}.set_weights"
        try:
            weights = list(weights)
        except TypeError:
            raise InputTypeError(f"{owner}: weights must be a list of arrays, got "
                                 f"{type(weights).__name__}") from None
        counts = [len(layer.params) + len(layer.state) for layer in self.layers]
        if len(weights) != sum(counts):
            raise InputError(f"{owner}: expected {sum(counts)} arrays, one per parameter and "
                             f"state array, got {len(weights)}")
        starts = np.cumsum([0] + counts)
        return [w for layer, start, count in zip(self.layers, starts, counts)
                for w in layer.check_weights(weights[start:start + count], owner)]

    def get_layer(self, name):
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"{self}: no layer named {name!r}; "
                       f"layers are {[layer.name for layer in self.layers]}")

    def summary(self, print_fn=print):
        """Print a Keras-like table of layers, output shapes and parameter counts, as
        Keras's summary() does (print_fn receives the table; returns None)."""
        rows = [f"{'layer (type)':<36}{'output shape':<24}{'params':>10}"]
        for layer in self.layers:
            shape = "(None, " + ", ".join(str(s) for s in (layer.output_shape or ())) + ")"
            rows.append(f"{layer.name + ' (' + type(layer).__name__ + ')':<36}{shape:<24}"
                        f"{layer.count_params():>10,}")
        rows.append(f"total params: {self.count_params():,}")
        print_fn("\n".join(rows))


@built_in
class Sequential(LayerList, Layer):
    """Layers applied in order. Unnamed layers get Keras-style names: conv2d,
    conv2d_1, ... unique within this Sequential (a model renames across its parts)."""

    def __init__(self, layers, name=None):
        super().__init__(name)
        if isinstance(layers, Layer):
            raise InputTypeError(f"Sequential: layers must be a list of layers, got one "
                                 f"{type(layers).__name__}; write Sequential([layer])")
        try:
            layers = list(layers)
        except TypeError:
            raise InputTypeError(f"Sequential: layers must be a list of layers, got "
                                 f"{type(layers).__name__}") from None
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise InputTypeError(f"Sequential: item {i} is {type(layer).__name__}, not a Layer")
        self.layers = layers
        assign_names(self.layers)

    @property
    def couples_examples(self):
        return any(layer.couples_examples for layer in self.layers)

    @property
    def draws_noise(self):
        return any(layer.draws_noise for layer in self.layers)

    def get_config(self):
        return {"name": self.name, "layers": [serialize(layer) for layer in self.layers]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layers = [deserialize(spec, custom_objects) for spec in config.pop("layers", [])]
        return cls(layers, **config)

    def _build(self, input_shape, rng):
        shape = input_shape
        for layer in self.layers:
            shape = layer.build(shape, rng=rng, dtype=self._dtype)
        return shape

    def forward(self, x, training=True):
        x = self._check_input(x)
        for layer in self.layers:
            x = dispatch.forward(layer, x, training)
        self._y_shape = x.shape
        return x

    def backward(self, dy):
        dy = self._check_grad(dy)
        for layer in reversed(self.layers):
            dy = dispatch.backward(layer, dy)
        return dy
