"""Keras's default initialisers: glorot-uniform kernels, zero biases, unit scales.

Under `shapes_only()` each of them returns a read-only, zero-strided view of one
zero (np.broadcast_to) with the right shape and dtype instead: a model built that
way shows the shapes of its parameters at no cost in memory, which is how
checkpoint.build_model checks a model description before building it for real.
A layer of one's own that allocates its arrays otherwise (np.zeros, rng.normal,
...) allocates them in full even then.
"""

import contextlib
import contextvars

import numpy as np

# A context variable, not a module flag: a dry build in one thread (or asyncio task)
# leaves a real build running in another unaffected.
_shapes_only = contextvars.ContextVar("minivae_shapes_only", default=False)


@contextlib.contextmanager
def shapes_only():
    """Within this block the initialisers allocate nothing (see the module docstring)."""
    token = _shapes_only.set(True)
    try:
        yield
    finally:
        _shapes_only.reset(token)


def _placeholder(shape, dtype):
    return np.broadcast_to(np.zeros((), dtype=dtype), shape)


def glorot_uniform(shape, rng, dtype):
    """U(-L, L) with L = sqrt(6 / (fan_in + fan_out)), fans as Keras computes them.

    For a kernel of rank > 2 both fans carry the receptive field kh*kw:
    fan_in = kh*kw*shape[-2], fan_out = kh*kw*shape[-1].
    """
    if _shapes_only.get():
        return _placeholder(shape, dtype)
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def zeros(shape, dtype):
    """np.zeros(shape, dtype): biases, BatchNormalization's beta and moving mean."""
    return _placeholder(shape, dtype) if _shapes_only.get() else np.zeros(shape, dtype=dtype)


def ones(shape, dtype):
    """np.ones(shape, dtype): BatchNormalization's gamma and moving variance."""
    return _placeholder(shape, dtype) if _shapes_only.get() else np.ones(shape, dtype=dtype)
