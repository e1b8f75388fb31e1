"""BatchNormalization over every axis but the last, as Keras (docs/normalization.md)."""

import numbers

import numpy as np

from .._validation import check_probability
from ..errors import InputError, InputTypeError
from .base import Layer
from .initializers import ones, zeros


class BatchNormalization(Layer):
    """y = gamma * xhat + beta,  xhat = (x - mu) * inv_std,  inv_std = 1 / sqrt(var + epsilon).

    Statistics are per channel (the last axis), over the m = x.size / C entries
    of the other axes (batch, and height and width for images).
      training:  mu, var = the batch's mean and biased variance, and then
                 moving = momentum * moving + (1 - momentum) * batch statistic
      inference: mu, var = moving_mean, moving_variance

    Shapes: x, y (N, ..., C); params gamma (C,) ones, beta (C,) zeros; state
    moving_mean (C,) zeros, moving_variance (C,) ones (kept, never trained).
    Backward, with sums over the m entries of each channel:
      dgamma = sum(dy * xhat),  dbeta = sum(dy),  dxhat = gamma * dy
      training:  dx = inv_std / m * (m * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))
      inference: dx = inv_std * dxhat
    """

    couples_examples = True     # in training, each output depends on the batch's statistics

    def __init__(self, momentum=0.99, epsilon=1e-3, name=None):
        super().__init__(name)
        self.momentum = check_probability(momentum, "momentum", "BatchNormalization",
                                          include_one=True)
        if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real):
            raise InputTypeError(f"BatchNormalization: epsilon must be a number, got {epsilon!r}")
        if not (np.isfinite(epsilon) and epsilon > 0):
            raise InputError(f"BatchNormalization: epsilon must be a finite number > 0, "
                             f"got {epsilon}")
        self.epsilon = float(epsilon)

    def _build(self, input_shape, rng):
        if len(input_shape) < 1:
            raise InputError(f"{self}: needs a channels axis, got input_shape {input_shape}")
        channels = input_shape[-1]
        self.params = {"gamma": ones((channels,), self._dtype),
                       "beta": zeros((channels,), self._dtype)}
        self.state = {"moving_mean": zeros((channels,), self._dtype),
                      "moving_variance": ones((channels,), self._dtype)}
        return input_shape

    def forward(self, x, training=True):
        x = self._check_input(x)
        axes = tuple(range(x.ndim - 1))         # all but channels
        if training:
            mu = x.mean(axis=axes)
            xc = x - mu
            var = np.mean(xc * xc, axis=axes)   # biased (divide by m), as Keras
            # Updated in place so views of `state` (Sequential's, a checkpoint's) see it.
            for key, stat in (("moving_mean", mu), ("moving_variance", var)):
                moving = self.state[key]
                moving *= self.momentum
                moving += (1.0 - self.momentum) * stat
        else:
            mu, var = self.state["moving_mean"], self.state["moving_variance"]
            xc = x - mu
        self.inv_std = 1.0 / np.sqrt(var + self.epsilon)   # cached: both backward forms use it
        self.xhat = xc * self.inv_std                       # cached for dgamma and dx
        self.training = training                            # which backward applies
        self._y_shape = x.shape
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dy):
        dy = self._check_grad(dy)
        axes = tuple(range(dy.ndim - 1))
        gamma, xhat, inv_std = self.params["gamma"], self.xhat, self.inv_std
        self.grads["gamma"] = np.sum(dy * xhat, axis=axes)
        self.grads["beta"] = np.sum(dy, axis=axes)
        dxhat = gamma * dy
        if not self.training:
            return inv_std * dxhat
        m = dy.size // dy.shape[-1]
        # gamma is constant over the summed axes, so sum(dxhat) = gamma * dbeta and
        # sum(dxhat * xhat) = gamma * dgamma: no second pass over the data.
        sum_dxhat = gamma * self.grads["beta"]
        sum_dxhat_xhat = gamma * self.grads["gamma"]
        return (inv_std / m) * (m * dxhat - sum_dxhat - xhat * sum_dxhat_xhat)

    def get_config(self):
        return {"name": self.name, "momentum": self.momentum, "epsilon": self.epsilon}
