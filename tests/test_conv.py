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
    extra = {"output_padding": case.get("output_padding")} if cls is Conv2DTranspose else {}
    layer = cls(case["filters"], case["kernel"], strides=case["strides"],
                padding=case["padding"], activation=activation, **extra)
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
                                 case["strides"], case["padding"], case["output_padding"])
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


def test_pytorch_padding_pads_both_sides_where_same_pads_the_bottom(rng):
    """Issue 25: on 32x32 with k=3, s=2, 'same' pads 0 on top and 1 at the bottom,
    padding=1 one on each side (the spare last row unread). Same shape, other numbers."""
    x = rng.standard_normal((2, 32, 32, 1))

    def conv(padding, x):               # one kernel (one seed), any padding
        layer = Conv2D(2, 3, strides=2, padding=padding)
        layer.build(x.shape[1:], rng=np.random.default_rng(0), dtype="float64")
        return layer.forward(x)

    def padded(before, after):
        return np.pad(x, ((0, 0), (before, after), (before, after), (0, 0)))

    same, torch_like = conv("same", x), conv(1, x)
    assert same.shape == torch_like.shape == (2, 16, 16, 2)
    np.testing.assert_array_equal(same, conv("valid", padded(0, 1)))
    np.testing.assert_array_equal(torch_like, conv("valid", padded(1, 1)))   # 34 -> 16
    assert np.abs(same - torch_like).max() > 0.1


def test_pytorch_transposed_padding_crops_both_sides(rng):
    """16 -> 32 both ways: Keras's 'same' crops nothing at the top, PyTorch's padding=1
    with output_padding=1 crops one row there and keeps one more at the bottom."""
    x = rng.standard_normal((1, 16, 16, 2))
    same = Conv2DTranspose(1, 3, strides=2, padding="same")
    torch_like = Conv2DTranspose(1, 3, strides=2, padding=1, output_padding=1)
    for layer in (same, torch_like):
        assert layer.build((16, 16, 2), rng=np.random.default_rng(0), dtype="float64") \
            == (32, 32, 1)
    assert same.pads == ((0, 1), (0, 1)) and torch_like.pads == ((1, 1), (1, 1))
    W, b = same.params["kernel"], same.params["bias"]
    full = conv2d_transpose_loops(x, W, b, (2, 2), "valid")          # the whole 33x33 canvas
    np.testing.assert_allclose(same.forward(x), full[:, :32, :32], rtol=FORWARD_RTOL)
    np.testing.assert_allclose(torch_like.forward(x), full[:, 1:, 1:], rtol=FORWARD_RTOL)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(padding=-1), ValueError, r"padding must be an integer >= 0, got -1"),
    (dict(padding=1.5), TypeError, r"padding must be 'valid', 'same', or an integer >= 0 or "
                                   r"a pair of them, got 1.5 of type float"),
    (dict(padding=True), TypeError, r"padding must be .* got True of type bool"),
    (dict(padding=(1, 2, 3)), ValueError, r"padding must be an int or a pair of ints, got 3"),
    (dict(padding=(1, "1")), TypeError, r"padding must be an integer >= 0, got '1'"),
    (dict(padding="SAME"), None, None),
])
@pytest.mark.parametrize("cls", [Conv2D, Conv2DTranspose])
def test_bad_padding_is_named(cls, kwargs, exc, match):
    if exc is None:
        assert cls(2, 3, **kwargs).padding == "same"
        return
    with pytest.raises(exc, match=f"{cls.__name__}: {match}"):
        cls(2, 3, **kwargs)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(strides=2, output_padding=2), ValueError,
     r"output_padding must be smaller than strides along each axis \(0 <= output_padding < "
     r"stride\), got output_padding \(2, 2\) with strides \(2, 2\)"),
    (dict(strides=(2, 1), padding=1, output_padding=(1, 1)), ValueError,
     r"output_padding must .* got output_padding \(1, 1\) with strides \(2, 1\)"),
    (dict(output_padding=-1), ValueError, r"output_padding must be an integer >= 0, got -1"),
    (dict(output_padding="1"), TypeError, r"output_padding must be an int or a pair of ints"),
])
def test_bad_output_padding_is_named(kwargs, exc, match):
    with pytest.raises(exc, match=f"Conv2DTranspose: {match}"):
        Conv2DTranspose(2, 3, **kwargs)


def test_geometries_without_an_output_are_refused(rng):
    with pytest.raises(ValueError, match=r"a 1x1 input is smaller than the 5x5 kernel with "
                                         r"padding \(1, 1\)"):
        Conv2D(2, 5, padding=1).build((1, 1, 1), rng=rng)
    Conv2D(2, 5, padding=2).build((1, 1, 1), rng=rng)        # 1 + 4 - 5 + 1 = 1 output
    with pytest.raises(ValueError, match=r"padding \(2, 2\) crops a 1x1 input's output to "
                                         r"-3x-3; use less padding"):
        Conv2DTranspose(2, 1, padding=2, output_padding=0).build((1, 1, 1), rng=rng)
    # TensorFlow's refusal: 'same', even kernel, output_padding 0 -> (n - 1)*s rows, which
    # the 'same' Conv2D maps to n - 1.
    with pytest.raises(ValueError, match=r"gives a 4x6 output, which the Conv2D it is the "
                                         r"adjoint of maps to 2x3, not the 3x4 input"):
        Conv2DTranspose(2, 2, strides=2, padding="same", output_padding=0).build((3, 4, 1),
                                                                                 rng=rng)


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
