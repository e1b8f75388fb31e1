"""The fast convolution kernels equal the reference layers, in float64, over random
geometries, and the switch runs everything on the reference.

Every kernel is run on its own (whatever kernel_for would choose), so each one is
proved over kernels 1-4, strides 1-3, 'valid', 'same' and PyTorch's explicit
paddings (0 to k per axis) with and without output_padding, odd and even sizes
from 1 to 8, 1-3 channels and filters, batches of 1 to 20 (from 16 the memory passes split
between threads) and each fused activation.

Tolerance: the kernels sum the same products as the reference in another order
(taps, phases, a GEMV for the bias), so in float64 they agree to rounding:
relative 1e-12 of each array's scale leaves room for ~1e3-term sums, while a
missed tap, a wrong shift or a dropped bias errs by order 1.
"""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from minivae import fast
from minivae.fast import conv as kernels
from minivae.layers import Conv2D, Conv2DTranspose, Dense, Flatten
from minivae.models import Sequential
from tests.reference import conv_cases

RTOL = 1e-12
ACTIVATIONS = st.sampled_from([None, "relu", "leaky_relu", "sigmoid"])
BATCHES = st.sampled_from([1, 3, 17, 20])


def assert_close(got, want, what):
    scale = max(np.abs(want).max(), 1e-300)
    err = np.abs(got - want).max() / scale
    assert err <= RTOL, f"{what}: relative error {err:.2e} > {RTOL:g}"


def _layer(cls, case, activation, seed):
    rng = np.random.default_rng(seed)
    extra = {"output_padding": case.get("output_padding")} if cls is Conv2DTranspose else {}
    layer = cls(case["filters"], case["kernel"], strides=case["strides"],
                padding=case["padding"], activation=activation, **extra)
    layer.build((case["h"], case["w"], case["channels"]), rng=rng, dtype="float64")
    layer.params["bias"] = rng.standard_normal(layer.params["bias"].shape)
    return layer


def _check_kernel(kernel, layer, batch, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, *layer.input_shape))
    dy = rng.standard_normal((batch, *layer.output_shape))
    y_ref = layer.forward(x)
    dx_ref = layer.backward(dy)
    grads_ref = {k: v.copy() for k, v in layer.grads.items()}
    cache = {}                  # what minivae.fast keeps for the layer between the two
    y = kernel.forward(layer, x, True, cache)
    dx = kernel.backward(layer, dy, cache)
    assert y.dtype == dx.dtype == np.float64
    assert_close(y, y_ref, "y")
    assert_close(dx, dx_ref, "dx")
    assert set(layer.grads) == set(grads_ref)
    for k, v in grads_ref.items():
        assert layer.grads[k].shape == v.shape
        assert_close(layer.grads[k], v, k)


@pytest.mark.parametrize("kernel", [kernels.Conv2DIm2col, kernels.Conv2DTaps])
@given(case=conv_cases(), activation=ACTIVATIONS, batch=BATCHES)
def test_conv2d_kernels_equal_the_reference(kernel, case, activation, batch):
    _check_kernel(kernel, _layer(Conv2D, case, activation, 1), batch, 2)


@pytest.mark.parametrize("kernel", [kernels.TransposeScatter, kernels.TransposePhase])
@given(case=conv_cases(), activation=ACTIVATIONS, batch=BATCHES)
def test_conv2d_transpose_kernels_equal_the_reference(kernel, case, activation, batch):
    _check_kernel(kernel, _layer(Conv2DTranspose, case, activation, 3), batch, 4)


@pytest.mark.parametrize("kernel", [kernels.TransposeScatter, kernels.TransposePhase])
@given(case=conv_cases(), activation=ACTIVATIONS, batch=BATCHES,
       chunk_bytes=st.sampled_from([1, 200, 3000]))
def test_transposed_backward_in_chunks_equals_the_reference(kernel, case, activation, batch,
                                                            chunk_bytes):
    """The test geometries fit one chunk of CHUNK_BYTES (2 MB); with it at 1 byte every
    example is a chunk of its own, and at 200 or 3000 bytes the chunks hold several."""
    saved = kernels.CHUNK_BYTES
    kernels.CHUNK_BYTES = chunk_bytes
    try:
        _check_kernel(kernel, _layer(Conv2DTranspose, case, activation, 3), batch, 4)
    finally:
        kernels.CHUNK_BYTES = saved


@given(n=st.integers(1, 300), bytes_per_example=st.integers(1, 5 << 20))
def test_chunks_cover_the_batch_in_near_equal_contiguous_slices(n, bytes_per_example):
    parts = kernels.chunks(n, bytes_per_example)
    want = max(1, min(n, n * bytes_per_example // kernels.CHUNK_BYTES))
    assert len(parts) == want
    assert parts[0].start == 0 and parts[-1].stop == n
    assert all(a.stop == b.start for a, b in zip(parts, parts[1:]))
    sizes = [p.stop - p.start for p in parts]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("kernel", [kernels.Conv2DIm2col, kernels.Conv2DTaps,
                                    kernels.TransposeScatter, kernels.TransposePhase])
def test_kernels_skip_the_input_gradient_when_not_needed(kernel):
    cls = Conv2D if kernel in (kernels.Conv2DIm2col, kernels.Conv2DTaps) else Conv2DTranspose
    case = dict(h=6, w=5, channels=3, filters=2, kernel=(3, 3), strides=(2, 2), padding="same")
    layer = _layer(cls, case, "relu", 5)
    x = np.random.default_rng(6).standard_normal((2, *layer.input_shape))
    dy = np.ones((2, *layer.output_shape))
    layer.forward(x)
    layer.backward(dy)
    want = {k: v.copy() for k, v in layer.grads.items()}
    layer.input_gradient = False
    cache = {}
    kernel.forward(layer, x, True, cache)
    assert kernel.backward(layer, dy, cache) is None
    for k, v in want.items():
        assert_close(layer.grads[k], v, k)


@pytest.mark.parametrize("kernel", [kernels.Conv2DIm2col, kernels.Conv2DTaps,
                                    kernels.TransposeScatter, kernels.TransposePhase])
def test_kernels_keep_float32(kernel):
    cls = Conv2D if kernel in (kernels.Conv2DIm2col, kernels.Conv2DTaps) else Conv2DTranspose
    layer = cls(2, 3, strides=2, padding="same", activation="relu")
    layer.build((6, 6, 3), rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((20, 6, 6, 3)).astype(np.float32)
    cache = {}
    y = kernel.forward(layer, x, True, cache)
    dx = kernel.backward(layer, np.ones_like(y), cache)
    assert y.dtype == dx.dtype == layer.grads["kernel"].dtype == layer.grads["bias"].dtype \
        == np.float32


def _built(layer, shape):
    layer.build(shape, rng=np.random.default_rng(0))
    return layer


def test_kernel_for_chooses_by_shape_as_documented():
    """taps for stride 1 with F < C (the book's last conv), im2col otherwise; phase for
    the book's 16x16 -> 32x32 transposed conv (padding ratio 17*17/256 = 1.13), scatter
    on its 4x4 and 8x8 inputs (1.56 and 1.27 > 1.25); the reference for anything else."""
    assert fast.kernel_for(_built(Conv2D(1, 3, padding="same"), (32, 32, 32))) \
        is kernels.Conv2DTaps
    assert fast.kernel_for(_built(Conv2D(32, 3, strides=2, padding="same"), (32, 32, 1))) \
        is kernels.Conv2DIm2col
    assert fast.kernel_for(_built(Conv2D(8, 3, padding="same"), (8, 8, 4))) \
        is kernels.Conv2DIm2col
    chosen = [fast.kernel_for(_built(Conv2DTranspose(f, 3, strides=2, padding="same"), shape))
              for shape, f in (((4, 4, 128), 128), ((8, 8, 128), 64), ((16, 16, 64), 32))]
    assert chosen == [kernels.TransposeScatter, kernels.TransposeScatter, kernels.TransposePhase]
    assert fast.kernel_for(_built(Dense(3), (4,))) is None

    class MyConv(Conv2D):           # a subclass may compute something else: reference
        pass
    assert fast.kernel_for(_built(MyConv(1, 3, padding="same"), (8, 8, 4))) is None


def test_the_switch_runs_the_reference(monkeypatch):
    layer = _built(Conv2D(1, 3, padding="same"), (8, 8, 4))
    assert fast.kernel_for(layer) is kernels.Conv2DTaps
    with fast.reference():
        assert fast.using_reference() and fast.kernel_for(layer) is None
        with fast.reference(False):
            assert fast.kernel_for(layer) is kernels.Conv2DTaps
        assert fast.kernel_for(layer) is None
    assert not fast.using_reference()
    monkeypatch.setenv("MINIVAE_REFERENCE", "1")
    assert fast.kernel_for(layer) is None
    monkeypatch.setenv("MINIVAE_REFERENCE", "0")
    assert fast.kernel_for(layer) is kernels.Conv2DTaps


def test_containers_run_backward_on_the_kernel_that_ran_forward():
    """A Sequential switched to the reference between forward and backward still
    backpropagates through what its forward computed."""
    model = Sequential([Conv2D(2, 3, strides=2, padding="same", activation="relu"), Flatten(),
                        Dense(3)])
    model.build((8, 8, 2), rng=np.random.default_rng(0), dtype="float64")
    x = np.random.default_rng(1).standard_normal((4, 8, 8, 2))
    dy = np.random.default_rng(2).standard_normal((4, 3))
    with fast.reference():
        model.forward(x)
        want_dx = model.backward(dy)
        want = {k: v.copy() for k, v in model.grads.items()}
    model.forward(x)
    assert fast.last_kernel(model.layers[0]) is kernels.Conv2DIm2col
    with fast.reference():
        dx = model.backward(dy)
    assert_close(dx, want_dx, "dx")
    for k, v in want.items():
        assert_close(model.grads[k], v, k)
