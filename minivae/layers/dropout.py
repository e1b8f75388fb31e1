"""Dropout: inverted dropout, as Keras (docs/dropout.md)."""

import numpy as np

from .._validation import check_probability
from ..errors import InputTypeError
from .base import Layer


class Dropout(Layer):
    """Training:  y = x * r,  r = m / (1 - rate),  m_i ~ Bernoulli(1 - rate) drawn afresh
    each forward from `self.rng`. Inference: y = x.

    Scaling the kept entries by 1 / (1 - rate) keeps E[y] = x, so inference
    needs no rescaling ("inverted" dropout). Backward: dx = dy * r (training),
    dx = dy (inference). Shapes: y, dx like x, any rank.

    rng: a numpy Generator for the masks; if None, the one handed to build.
    """

    draws_noise = True

    def __init__(self, rate, rng=None, name=None):
        super().__init__(name)
        self.rate = check_probability(rate, "rate", "Dropout")
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise InputTypeError(f"Dropout: rng must be a numpy.random.Generator or None, "
                                 f"got {type(rng).__name__}")
        self.rng = rng          # kept by build when given, so masks are reproducible

    def forward(self, x, training=True):
        x = self._check_input(x)
        self._y_shape = x.shape
        if not training or self.rate == 0.0:
            self.r = None       # identity: backward passes dy through
            return x
        keep = 1.0 - self.rate
        # u < keep has probability keep; the uniforms are float64 whatever the layer
        # dtype, so one seed gives the same mask in float32 and float64.
        m = self.rng.random(x.shape) < keep
        self.r = m.astype(x.dtype) / x.dtype.type(keep)   # the mask, pre-scaled
        return x * self.r

    def backward(self, dy):
        dy = self._check_grad(dy)
        return dy if self.r is None else dy * self.r

    def get_config(self):
        return {"name": self.name, "rate": self.rate}
