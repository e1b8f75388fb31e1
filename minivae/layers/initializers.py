"""Keras's default initialisers: glorot-uniform kernels, zero biases."""

import numpy as np


def glorot_uniform(shape, rng, dtype):
    """U(-L, L) with L = sqrt(6 / (fan_in + fan_out)), fans as Keras computes them.

    For a kernel of rank > 2 both fans carry the receptive field kh*kw:
    fan_in = kh*kw*shape[-2], fan_out = kh*kw*shape[-1].
    """
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)
