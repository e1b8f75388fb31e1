"""Conv2D and Conv2DTranspose, proved three ways: finite differences, slow loops, hypothesis.
Plus the adjoint identity, scipy as a second opinion at stride 1, dtype and bad input.

These test the reference (the layers' own forward and backward, as a direct call
runs them); tests/test_fast_conv.py proves the fast kernels equal to it."""

import numpy as np
import pytest
from hypothesis import given
from scipy.signal import correlate

from minivae.gradcheck import check_layer
from minivae.layers import Conv2D, Conv2DTranspose
from tests.reference import conv2d_loops, conv2d_transpose_loops, conv_cases

# Forward against loops: the same products summed in another order, float64.
# Values are O(1) with at most 4*4*3 = 48 terms, so 1e-12 is generous rounding room.
FORWARD_RTOL = 1e-12
# Finite differences in float64 (eps 1e-6): truncation ~1e-12, rounding ~1e-10
# of the loss scale; measured worst ~1e-8 for these sizes. 1e-6 keeps margin
# while a wrong backward shows errors of order 1.
GRAD_RTOL = 1e-6


def _built(cls, case, rng, activation=None):
    layer = cls(case["filters"], case["kernel"], strides=case["strides"],
                padding=case["padding"], activation=activation)
    layer.build((case["h"], case["w"], case["channels"]), rng=rng, dtype="float64")
    layer.params["bias"] = rng.standard_normal(layer.params["bias"].shape)
    return layer


def _input(case, rng):
    return rng.standard_normal((case["batch"], case["h"], case["w"], case["channels"]))


@given(case=conv_cases())
def test_conv2d_matches_loops_and_gradients(case):
    rng = np.random.default_rng(1)
    layer, x = _built(Conv2D, case, rng), _input(case, rng)
    y = layer.forward(x)
    ref = conv2d_loops(x, layer.params["kernel"], layer.params["bias"], case["strides"],
                       case["padding"])
    np.testing.assert_allclose(y, ref, rtol=FORWARD_RTOL, atol=1e-12)
    report = check_layer(layer, x, rtol=GRAD_RTOL)
    assert report.passed, str(report)


@given(case=conv_cases())
def test_conv2d_transpose_matches_loops_and_gradients(case):
    rng = np.random.default_rng(2)
    layer, x = _built(Conv2DTranspose, case, rng), _input(case, rng)
    y = layer.forward(x)
    ref = conv2d_transpose_loops(x, layer.params["kernel"], layer.params["bias"],
                                 case["strides"], case["padding"])
    np.testing.assert_allclose(y, ref, rtol=FORWARD_RTOL, atol=1e-12)
    report = check_layer(layer, x, rtol=GRAD_RTOL)
    assert report.passed, str(report)


@given(conv_cases())
def test_transpose_is_the_adjoint_of_conv(case):
    """<conv(x), y> == <x, conv_T(y)> with one shared kernel and no bias."""
    rng = np.random.default_rng(3)
    t = _built(Conv2DTranspose, {**case, "channels": case["filters"],
                                 "filters": case["channels"]}, rng)
    t.params["bias"][:] = 0
    conv = Conv2D(case["filters"], case["kernel"], strides=case["strides"],
                  padding=case["padding"])
    conv.build(t.output_shape, rng=rng, dtype="float64")
    assert conv.output_shape == t.input_shape
    conv.params["kernel"] = t.params["kernel"]           # (kh, kw, C, F) in both readings
    x = rng.standard_normal((case["batch"], *t.output_shape))
    y = rng.standard_normal((case["batch"], *t.input_shape))
    lhs, rhs = np.sum(conv.forward(x) * y), np.sum(x * t.forward(y))
    # Two sums of the same products; relative rounding ~1e-14 on O(1e3) terms.
    assert lhs == pytest.approx(rhs, rel=1e-11, abs=1e-11)


def test_conv2d_stride1_agrees_with_scipy_correlate(rng):
    x = rng.standard_normal((2, 9, 7, 3))
    layer = Conv2D(4, (3, 2), padding="valid")
    layer.build(x.shape[1:], rng=rng, dtype="float64")
    W = layer.params["kernel"]
    y = layer.forward(x)
    for n in range(2):
        for f in range(4):
            # correlate over (H, W, C) with a kernel as deep as the channels: 'valid'
            # leaves a single channel position, which is the convolution's output.
            ref = correlate(x[n], W[:, :, :, f], mode="valid")[:, :, 0]
            np.testing.assert_allclose(y[n, :, :, f], ref, rtol=1e-12, atol=1e-12)


def test_conv2d_same_stride1_agrees_with_scipy_on_zero_padded_input(rng):
    x = rng.standard_normal((1, 8, 8, 2))
    layer = Conv2D(1, 3, padding="same")
    layer.build(x.shape[1:], rng=rng, dtype="float64")
    ref = correlate(np.pad(x[0], ((1, 1), (1, 1), (0, 0))), layer.params["kernel"][..., 0],
                    mode="valid")[:, :, 0]
    np.testing.assert_allclose(layer.forward(x)[0, :, :, 0], ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", [Conv2D, Conv2DTranspose])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid"])
def test_fused_activation_gradients(cls, activation, rng):
    case = dict(batch=2, h=5, w=6, channels=2, filters=3, kernel=(3, 3), strides=(2, 1),
                padding="same")
    layer, x = _built(cls, case, rng, activation), _input(case, rng)
    # A ReLU kink within eps = 1e-6 of a pre-activation would spoil the difference; with
    # ~100 standard-normal pre-activations the chance is ~1e-4, and the seed is fixed.
    report = check_layer(layer, x, rtol=GRAD_RTOL)
    assert report.passed, str(report)


def test_book_shapes():
    enc = [Conv2D(32, 3, strides=2, padding="same"), Conv2D(64, 3, strides=2, padding="same"),
           Conv2D(128, 3, strides=2, padding="same")]
    shape = (32, 32, 1)
    for layer in enc:
        shape = layer.build(shape, rng=np.random.default_rng(0))
    assert shape == (4, 4, 128)
    dec = [Conv2DTranspose(128, 3, strides=2, padding="same"),
           Conv2DTranspose(64, 3, strides=2, padding="same"),
           Conv2DTranspose(32, 3, strides=2, padding="same"), Conv2D(1, 3, padding="same")]
    for layer in dec:
        shape = layer.build(shape, rng=np.random.default_rng(0))
    assert shape == (32, 32, 1)
    # Keras layouts and counts: Conv2D (kh, kw, in, out), Conv2DTranspose (kh, kw, out, in).
    assert enc[1].params["kernel"].shape == (3, 3, 32, 64)
    assert dec[1].params["kernel"].shape == (3, 3, 64, 128)
    assert [layer.count_params() for layer in enc] == [320, 18496, 73856]


def test_glorot_uniform_limits(rng):
    layer = Conv2D(64, 3)
    layer.build((10, 10, 32), rng=rng)
    limit = np.sqrt(6 / (9 * 32 + 9 * 64))
    W = layer.params["kernel"]
    assert np.abs(W).max() <= limit
    # 18,432 uniform draws: the max sits within 0.1% of the limit with overwhelming odds.
    assert np.abs(W).max() > 0.999 * limit
    assert np.all(layer.params["bias"] == 0)


@pytest.mark.parametrize("cls", [Conv2D, Conv2DTranspose])
def test_float32_stays_float32_and_float64_params_make_a_float64_layer(cls, rng):
    layer = cls(2, 3, strides=2, padding="same")
    layer.build((6, 6, 3), rng=rng)
    y = layer.forward(rng.standard_normal((2, 6, 6, 3)).astype(np.float32))
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    assert layer.grads["kernel"].dtype == np.float32
    layer.params = {k: v.astype(np.float64) for k, v in layer.params.items()}
    y64 = layer.forward(rng.standard_normal((2, 6, 6, 3)).astype(np.float32))
    assert y64.dtype == np.float64


def test_float32_agrees_with_float64(rng):
    layer = Conv2D(8, 3, strides=2, padding="same", activation="relu")
    layer.build((16, 16, 4), rng=rng)
    x = rng.random((4, 16, 16, 4)).astype(np.float32)
    y32 = layer.forward(x)
    dx32 = layer.backward(np.ones_like(y32))
    layer.astype("float64")
    y64 = layer.forward(x.astype(np.float64))
    dx64 = layer.backward(np.ones_like(y64))
    # float32 has 2^-24 ~ 6e-8 unit rounding; 36-term dot products stay well under 1e-5.
    np.testing.assert_allclose(y32, y64, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx32, dx64, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(filters=0, kernel_size=3), ValueError, "filters must be a positive integer"),
    (dict(filters=2.5, kernel_size=3), TypeError, "filters must be a positive integer"),
    (dict(filters=2, kernel_size=(3, 3, 3)), ValueError, "kernel_size must be an int or a pair"),
    (dict(filters=2, kernel_size=3, strides=0), ValueError, "strides must be a positive"),
    (dict(filters=2, kernel_size=3, padding="full"), ValueError, "unknown padding 'full'"),
    (dict(filters=2, kernel_size=3, activation="tanhh"), ValueError, "unknown activation"),
])
@pytest.mark.parametrize("cls", [Conv2D, Conv2DTranspose])
def test_bad_constructor_arguments(cls, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        cls(**kwargs)


@pytest.mark.parametrize("cls", [Conv2D, Conv2DTranspose])
def test_bad_inputs_name_the_layer_and_shapes(cls, rng):
    layer = cls(2, 3, padding="same", name="c")
    layer.build((8, 8, 3), rng=rng)
    with pytest.raises(ValueError, match=r"'c'.*expected x of shape \(batch, 8, 8, 3\), "
                                         r"got \(2, 8, 8, 1\)"):
        layer.forward(np.zeros((2, 8, 8, 1), np.float32))
    with pytest.raises(ValueError, match=r"got \(8, 8, 3\)"):
        layer.forward(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(TypeError, match="floating-point array, got dtype uint8"):
        layer.forward(np.zeros((2, 8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="expects images"):
        cls(2, 3).build((8, 8))
    with pytest.raises(RuntimeError, match="not built"):
        cls(2, 3).forward(np.zeros((1, 8, 8, 3)))
    y = layer.forward(np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="expected dy of shape"):
        layer.backward(np.zeros((2,) + y.shape[1:-1] + (5,), np.float32))


def test_valid_input_smaller_than_kernel_is_a_clear_error(rng):
    with pytest.raises(ValueError, match="smaller than the 5x5 kernel"):
        Conv2D(2, 5).build((3, 8, 1), rng=rng)


@pytest.mark.parametrize("cls,shape", [(Conv2D, (6, 6, 2)), (Conv2DTranspose, (3, 3, 2))])
def test_no_input_gradient_when_not_needed(cls, shape, rng):
    layer = cls(3, 3, strides=2, padding="same")
    layer.build(shape, rng=rng, dtype="float64")
    x = rng.standard_normal((2, *shape))
    dy = rng.standard_normal((2, *layer.output_shape))
    layer.forward(x)
    layer.backward(dy)
    full = {k: v.copy() for k, v in layer.grads.items()}
    layer.input_gradient = False
    layer.forward(x)
    assert layer.backward(dy) is None
    for k, v in full.items():
        np.testing.assert_array_equal(layer.grads[k], v)
