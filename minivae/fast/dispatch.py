"""Where a layer meets the fast path: the switch, the choice of kernel, and the run.

Containers (minivae.models) call `forward(layer, x, training)` and
`backward(layer, dy)` here for each layer. `kernel_for` is the one place a
kernel is chosen, by the layer's exact type and shape; a layer with no kernel
runs its own (reference) code. What a kernel's backward needs stays in this
module's table, keyed by the layer (weakly: the entry goes with the layer),
never in the layer's attributes.
"""


import contextlib
import contextvars
import os
import weakref

from ..layers import Conv2D, Conv2DTranspose
from .conv import Conv2DIm2col, Conv2DTaps, TransposePhase, TransposeScatter

REFERENCE_VAR = "MINIVAE_REFERENCE"
# Conv2DTranspose runs in the phase form while the phase form's padded input holds at
# most this many times the input's pixels (docs/fast.md: the book's 16x16 input, 1.13,
# is 1.6x faster by phase; its 8x8 and 4x4 inputs, 1.27 and 1.56, are not faster).
PHASE_MAX_PADDING = 1.25

_reference = contextvars.ContextVar("minivae_reference", default=False)
# layer -> (kernel, cache) of the layer's last forward on a kernel: backward follows the
# forward that ran, with what that forward kept. Each layer object has its own entry (a
# model's replicas on threads have their own layers), and the entry dies with the layer.
_runs = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def reference(enabled=True):
    """Inside the block (in this thread or task), every layer runs its reference code;
    reference(False) turns the fast path back on inside an outer reference block."""
    token = _reference.set(bool(enabled))
    try:
        yield
    finally:
        _reference.reset(token)


def using_reference():
    """True inside reference() or when MINIVAE_REFERENCE is set to anything but 0."""
    return _reference.get() or os.environ.get(REFERENCE_VAR, "") not in ("", "0")


def kernel_for(layer):
    """The fast kernel for this layer, or None (run its reference code).

    Only the exact built-in classes are served, never a subclass, whose forward may
    differ from its parent's.
    """
    if using_reference():
        return None
    kind = type(layer)
    if kind is Conv2D:
        # taps multiply every padded pixel (s*s times im2col's flops at stride s) into
        # a buffer of kh*kw*F values per pixel against im2col's kh*kw*C
        if layer.strides == (1, 1) and layer.filters < layer.input_shape[-1]:
            return Conv2DTaps
        return Conv2DIm2col
    if kind is Conv2DTranspose:
        if TransposePhase.padding_ratio(layer) <= PHASE_MAX_PADDING:
            return TransposePhase
        return TransposeScatter
    return None


def forward(layer, x, training=True):
    """layer.forward(x, training), on the kernel kernel_for chooses when there is one."""
    kernel = kernel_for(layer) if layer.built else None
    if kernel is None:
        _runs.pop(layer, None)
        return layer.forward(x, training=training)
    cache = {}
    _runs[layer] = (kernel, cache)
    return kernel.forward(layer, x, training, cache)


def backward(layer, dy):
    """layer.backward(dy), on the kernel that ran the last forward."""
    run = _runs.get(layer)
    if run is None:
        return layer.backward(dy)
    kernel, cache = run
    return kernel.backward(layer, dy, cache)


def last_kernel(layer):
    """The kernel that ran the layer's last forward through `forward`, or None (its
    reference code)."""
    run = _runs.get(layer)
    return None if run is None else run[0]
