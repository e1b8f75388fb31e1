"""Flatten and Reshape: the same numbers in a new shape (docs/reshape.md).

Both keep each sample's entries in the same row-major (C) order and change
only the shape, so the Jacobian is the identity on that order and the backward
pass is the inverse reshape: dx = dy.reshape(x.shape). C order is Keras's too,
so the book's Flatten -> Dense and Dense -> Reshape weights line up with Keras's.
"""

import numbers

import numpy as np

from ..errors import InputError, InputTypeError
from .base import Layer


class _Reshaping(Layer):
    """forward and backward of both: each sample to output_shape and back, in C order."""

    def forward(self, x, training=True):
        x = self._check_input(x)
        y = x.reshape((x.shape[0],) + self.output_shape)
        self._y_shape = y.shape
        return y

    def backward(self, dy):
        dy = self._check_grad(dy)
        return dy.reshape((dy.shape[0],) + self.input_shape)


class Flatten(_Reshaping):
    """y[n] = x[n].ravel() in C order.

    Shapes: x (N, d1, ..., dk) -> y (N, d1*...*dk); dx = dy.reshape(N, d1, ..., dk).
    """

    def _build(self, input_shape, rng):
        return (int(np.prod(input_shape, dtype=np.int64)),)


class Reshape(_Reshaping):
    """y[n] = x[n].reshape(target_shape) in C order (Keras's Reshape).

    target_shape excludes the batch axis; one entry may be -1 and is inferred
    at build from the input size. Shapes: x (N, *input_shape) ->
    y (N, *target_shape); dx = dy.reshape(N, *input_shape).
    """

    def __init__(self, target_shape, name=None):
        super().__init__(name)
        self.target_shape = self._check_target_shape(target_shape)

    @staticmethod
    def _check_target_shape(target_shape):
        if isinstance(target_shape, numbers.Integral) and not isinstance(target_shape, bool):
            target_shape = (target_shape,)
        try:
            shape = tuple(target_shape)
        except TypeError:
            raise InputTypeError(f"Reshape: target_shape must be a tuple of ints without the batch "
                                 f"axis, got {target_shape!r}") from None
        for s in shape:
            if isinstance(s, bool) or not isinstance(s, numbers.Integral):
                raise InputTypeError(f"Reshape: target_shape entries must be ints, got {s!r} "
                                     f"in {target_shape!r}")
        shape = tuple(int(s) for s in shape)
        if not shape:
            raise InputError("Reshape: target_shape must have at least one entry, got ()")
        if any(s < 1 and s != -1 for s in shape):
            raise InputError(f"Reshape: target_shape entries must be positive (or one -1 to "
                             f"infer), got {shape}")
        if shape.count(-1) > 1:
            raise InputError(f"Reshape: at most one target_shape entry may be -1, got {shape}")
        return shape

    def _build(self, input_shape, rng):
        size = int(np.prod(input_shape, dtype=np.int64))
        known = int(np.prod([s for s in self.target_shape if s != -1], dtype=np.int64))
        if -1 in self.target_shape:
            if size % known:
                raise InputError(f"{self}: cannot infer the -1 in target_shape "
                                 f"{self.target_shape}: input_shape {input_shape} has {size} "
                                 f"entries, not a multiple of {known}")
            return tuple(size // known if s == -1 else s for s in self.target_shape)
        if known != size:
            raise InputError(f"{self}: target_shape {self.target_shape} has {known} entries but "
                             f"input_shape {input_shape} has {size}; the sizes must match")
        return self.target_shape

    def get_config(self):
        return {"name": self.name, "target_shape": list(self.target_shape)}
