"""A convolution's fused activation, in place and on both cores (docs/fast.md).

The reference applies `layer.activation._forward(y)` to a fresh array and
`_backward(dy)` into another. Here ReLU, the activation the book's layers fuse,
overwrites the buffer the kernel has just made (its output is no longer needed
as a pre-activation) and can write its backward straight into a buffer the
kernel reads next (a padded one), chunk by chunk of the batch when the kernel
works in chunks (deactivate_by_parts). Its mask goes into the kernel's cache, beside
the output's shape that backward checks dy against. Other activations run their
reference code.
"""

import numpy as np

from ..layers import ReLU
from .threads import over_batch


def activate(layer, y, cache):
    """layer's activation applied to y, a buffer the kernel owns (overwritten)."""
    cache["y_shape"] = y.shape
    act = layer.activation
    if type(act) is ReLU:
        mask = cache["mask"] = np.empty(y.shape, dtype=bool)
        # np.maximum against a scalar runs numpy's unvectorised loop (numpy 2.4: 0.49 ms
        # for a 32x32x32 float32 batch of 50), against an image of zeros broadcast over
        # the batch its SIMD one (0.14 ms); the same ufunc, so the same values
        zeros = np.zeros(y.shape[1:], dtype=y.dtype)

        def relu(s):
            np.greater(y[s], 0, out=mask[s])
            np.maximum(y[s], zeros, out=y[s])
        over_batch(relu, y.shape[0])
        return y
    return y if act is None else act._forward(y)


def deactivate(layer, dy, cache, out=None):
    """The gradient before layer's activation, into `out` when given (else a new array
    or dy itself when there is no activation). dy has been checked by the caller."""
    act = layer.activation
    if act is None:
        if out is None:
            return dy
        over_batch(lambda s: np.copyto(out[s], dy[s]), dy.shape[0])
        return out
    if type(act) is ReLU:
        mask = cache["mask"]
        dx = np.empty_like(dy) if out is None else out
        over_batch(lambda s: np.multiply(dy[s], mask[s], out=dx[s]), dy.shape[0])
        return dx
    dx = act._backward(dy)
    if out is None:
        return dx
    out[...] = dx
    return out


def deactivate_by_parts(layer, dy, cache):
    """A function write(part, out) that puts the gradient before layer's activation, for
    the examples `part` of dy, into `out`: a kernel that works chunk by chunk of the
    batch then makes each chunk's while the chunk is in the cache. ReLU's (the mask)
    and no activation's (a copy) run part by part; any other activation's backward runs
    here once, on the whole batch, and the parts are copied from it."""
    act = layer.activation
    if act is None:
        return lambda part, out: np.copyto(out, dy[part])
    if type(act) is ReLU:
        mask = cache["mask"]
        return lambda part, out: np.multiply(dy[part], mask[part], out=out)
    dz = act._backward(dy)
    return lambda part, out: np.copyto(out, dz[part])
