"""The fast path: kernels that compute what the reference layers compute, in less time.

The layers (minivae/layers) are the reference: each forward and backward is the
math of its docstring and nothing else. Everything that exists only for speed
lives here (docs/fast.md):

    conv.py           Conv2D and Conv2DTranspose kernels (im2col or taps; scatter or phase)
    gather.py         the gathers and scatters those kernels use
    activations.py    a fused ReLU in place, on both cores
    threads.py        memory passes split over the batch between threads
    data_parallel.py  DataParallel: each batch split between model replicas on threads
    memory.py         glibc's malloc tuned for training (only when asked)

Containers (Sequential, GaussianEncoder) run each layer through `forward` and
`backward` below, and `kernel_for` is the one place a kernel is chosen, by the
layer's type and shape. A layer called directly (`layer.forward(x)`) always runs
its reference code.

The switch: inside `with minivae.fast.reference():`, or with MINIVAE_REFERENCE=1 in
the environment, every layer runs its reference forward and backward.
tests/test_fast_*.py prove each kernel equal to the reference in float64.
"""

import contextlib
import contextvars
import os

from . import conv

REFERENCE_VAR = "MINIVAE_REFERENCE"
# Conv2DTranspose runs in the phase form while the phase form's padded input holds at
# most this many times the input's pixels (docs/fast.md: the book's 16x16 input, 1.13,
# is 1.6x faster by phase; its 8x8 and 4x4 inputs, 1.27 and 1.56, are not faster).
PHASE_MAX_PADDING = 1.25

_reference = contextvars.ContextVar("minivae_reference", default=False)


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
    from ..layers.conv import Conv2D, Conv2DTranspose
    kind = type(layer)
    if kind is Conv2D:
        # taps multiply every padded pixel (s*s times im2col's flops at stride s) into
        # a buffer of kh*kw*F values per pixel against im2col's kh*kw*C
        if layer.strides == (1, 1) and layer.filters < layer.input_shape[-1]:
            return conv.Conv2DTaps
        return conv.Conv2DIm2col
    if kind is Conv2DTranspose:
        if conv.TransposePhase.padding_ratio(layer) <= PHASE_MAX_PADDING:
            return conv.TransposePhase
        return conv.TransposeScatter
    return None


def forward(layer, x, training=True):
    """layer.forward(x, training), on the kernel kernel_for chooses when there is one."""
    kernel = kernel_for(layer) if layer.built else None
    layer._kernel = kernel                  # backward must follow the forward that ran
    if kernel is None:
        return layer.forward(x, training=training)
    return kernel.forward(layer, x, training)


def backward(layer, dy):
    """layer.backward(dy), on the kernel that ran the last forward."""
    kernel = getattr(layer, "_kernel", None)
    if kernel is None:
        return layer.backward(dy)
    return kernel.backward(layer, dy)
