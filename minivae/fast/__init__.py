"""The fast path: kernels that compute what the reference layers compute, in less time.

The layers (minivae/layers) are the reference: each forward and backward is the
math of its docstring and nothing else. Everything that exists only for speed
lives here (docs/fast.md):

    dispatch.py       the switch, the choice of a kernel per layer (kernel_for), and the
                      forward and backward containers call for each layer
    conv.py           Conv2D and Conv2DTranspose kernels (im2col or taps; scatter or phase)
    gather.py         the gathers and scatters those kernels use
    activations.py    a fused ReLU in place, on both cores
    threads.py        memory passes split over the batch between threads
    data_parallel.py  DataParallel: each batch split between model replicas on threads
    memory.py         glibc's malloc tuned for training (only when asked)

Containers (minivae.models: Sequential, GaussianEncoder) run each layer through
dispatch.forward and dispatch.backward, and `kernel_for` is the one place a
kernel is chosen, by the layer's type and shape. What a kernel's backward needs
stays in dispatch.py, in a table keyed by the layer, never in the layer's
attributes. A layer called directly (`layer.forward(x)`) always runs its
reference code.

The switch: inside `with minivae.fast.reference():`, or with MINIVAE_REFERENCE=1 in
the environment, every layer runs its reference forward and backward.
tests/test_fast_*.py prove each kernel equal to the reference in float64.
"""

from .dispatch import (PHASE_MAX_PADDING, REFERENCE_VAR, backward, forward, kernel_for,
                       last_kernel, reference, using_reference)

__all__ = ["reference", "using_reference", "kernel_for", "forward", "backward", "last_kernel",
           "REFERENCE_VAR", "PHASE_MAX_PADDING"]
