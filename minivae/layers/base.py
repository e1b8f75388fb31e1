"""The Layer protocol every minivae layer follows.

    build(input_shape, rng=None, dtype="float32") -> output_shape
        Shapes exclude the batch axis. Creates `params` (trained) and `state`
        (kept but not trained, e.g. BatchNormalization's moving statistics).
    forward(x, training=True) -> y
        Caches what backward needs.
    backward(dy) -> dx
        Fills grads[name] for every params[name]: same keys, same shapes.

A layer computes in the dtype of its parameters: assign float64 params (or call
`astype("float64")`) and it becomes a float64 layer; float32 stays float32.
Parameter-free layers keep the dtype given to `build`.
"""

import numbers

import numpy as np

from .._validation import (check_float_array, check_float_dtype, check_generator, check_weight,
                           format_shape)
from ..errors import InputError, InputTypeError


class Layer:
    """Base class: bookkeeping only, no math."""

    # Two facts about a layer's math that code running a model may need (a batch split
    # between threads, say: minivae/fast/data_parallel.py). Off unless a layer says so.
    couples_examples = False    # an example's output depends on the others' (batch statistics)
    draws_noise = False         # forward draws random numbers of its own

    def __init__(self, name=None):
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise InputError(f"{type(self).__name__}: name must be a non-empty string "
                             f"without '/', got {name!r}")
        self.name = name
        self.params = {}
        self.grads = {}
        self.state = {}
        self.input_shape = None
        self.output_shape = None
        self.rng = None
        self._dtype = np.dtype("float32")
        # False where nothing upstream needs dx (a model's first layer reads data):
        # backward then fills grads and returns None, skipping the input-gradient work.
        self.input_gradient = True

    # -- construction -------------------------------------------------------
    def build(self, input_shape, rng=None, dtype="float32"):
        """Create parameters for inputs of `input_shape` (no batch axis)."""
        try:
            shape = tuple(input_shape)
        except TypeError:
            shape = None
        if shape is None or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                                    for s in shape):
            raise InputTypeError(f"{self}: input_shape must be a tuple of ints without the batch "
                                 f"axis, got {input_shape!r}")
        input_shape = tuple(int(s) for s in shape)
        if any(s < 1 for s in input_shape):
            raise InputError(f"{self}: input_shape must be positive sizes, got {input_shape}")
        self._dtype = dtype = check_float_dtype(dtype, "dtype", str(self))
        if rng is None:
            rng = np.random.default_rng()
        check_generator(rng, "rng", str(self))
        if self.rng is None:
            self.rng = rng
        output_shape = tuple(self._build(input_shape, rng))
        self.input_shape = input_shape
        self.output_shape = output_shape
        return output_shape

    def _build(self, input_shape, rng):
        """Subclasses create params here and return the output shape."""
        return input_shape

    @property
    def built(self):
        return self.input_shape is not None

    @property
    def dtype(self):
        for value in self.params.values():
            return value.dtype
        return self._dtype

    def astype(self, dtype):
        """Convert params and state to `dtype` in place; returns self."""
        dtype = check_float_dtype(dtype, "dtype", f"{self}.astype")
        self._dtype = dtype
        for store in (self.params, self.state):
            for key, value in store.items():
                store[key] = value.astype(dtype)
        self.grads = {}
        return self

    def get_weights(self):
        """The layer's arrays in Keras's order: params, then state (copies)."""
        return [v.copy() for v in (*self.params.values(), *self.state.values())]

    def set_weights(self, weights):
        """Copy `weights` (Keras's order, as get_weights gives) into the layer, in place:
        all of them or, when any is refused, none."""
        targets = [*self.params.values(), *self.state.values()]
        for target, value in zip(targets, self.check_weights(weights)):
            target[...] = value

    def check_weights(self, weights, owner=None):
        """`weights` as set_weights would copy them, each checked (real, finite, the
        shape of its array); raises InputError or InputTypeError naming the first
        refused one, having changed nothing."""
        owner = owner or f"{self}.set_weights"
        names = [*self.params, *self.state]
        targets = [*self.params.values(), *self.state.values()]
        try:
            weights = list(weights)
        except TypeError:
            raise InputTypeError(f"{owner}: weights must be a list of arrays, got "
                                 f"{type(weights).__name__}") from None
        if len(weights) != len(targets):
            raise InputError(f"{owner}: expected {len(targets)} arrays "
                             f"({', '.join(names) or 'none'}), got {len(weights)}")
        return [check_weight(value, f"{self.name}/{key}" if self.name else key, target.shape,
                             owner)
                for key, target, value in zip(names, targets, weights)]

    def count_params(self):
        """Parameters as Keras counts them: trainable plus non-trainable."""
        return int(sum(v.size for v in self.params.values())
                   + sum(v.size for v in self.state.values()))

    # -- running ------------------------------------------------------------
    def __call__(self, x, training=True):
        return self.forward(x, training=training)

    def _check_input(self, x, name="x"):
        """Validate a batch at this layer's boundary and cast it to the layer dtype."""
        if not self.built:
            raise RuntimeError(f"{self} is not built: call build(input_shape) first")
        x = check_float_array(x, name, owner=self)
        if x.shape[1:] != self.input_shape or x.ndim != len(self.input_shape) + 1:
            raise InputError(f"{self}: expected {name} of shape {format_shape(self.input_shape)}, "
                             f"got {x.shape}")
        if x.shape[0] < 1:
            raise InputError(f"{self}: {name} has an empty batch, shape {x.shape}")
        return x.astype(self.dtype, copy=False)

    def _check_grad(self, dy, expected=None):
        """Validate an output gradient against the shape of the last forward output
        (`expected`, when the forward that ran recorded it elsewhere)."""
        dy = check_float_array(dy, "dy", owner=self)
        if expected is None:
            expected = getattr(self, "_y_shape", None)
        if expected is None:
            raise RuntimeError(f"{self}: backward called before forward")
        if dy.shape != expected:
            raise InputError(f"{self}: expected dy of shape {expected} (the last output's), "
                             f"got {dy.shape}")
        return dy.astype(self.dtype, copy=False)

    def forward(self, x, training=True):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    def get_config(self):
        """Constructor arguments (JSON-friendly) that rebuild this layer."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The layer get_config() describes, not yet built (minivae/serialization.py)."""
        return cls(**config)

    def __repr__(self):
        label = f" {self.name!r}" if self.name else ""
        return f"{type(self).__name__}{label}"
