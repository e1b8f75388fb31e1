"""Flatten and Reshape: finite differences, loop references, hypothesis shapes, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import reference_layers as ref
from minivae.gradcheck import check_layer
from minivae.layers import Flatten, Reshape

# Both layers are linear with a 0/1 Jacobian: central differences are exact up
# to the rounding of (f(x+e) - f(x-e)) / 2e, ~1e-10 relative. 1e-6 is gradcheck's
# default, three orders above that; a wrong backward (a transposed order) errs by ~1.
RTOL = 1e-6


def built(layer, shape, dtype="float64"):
    layer.build(shape, dtype=dtype)
    return layer


# -- Flatten ------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5,), (3, 2), (4, 3, 2)])
def test_flatten_gradcheck(shape):
    layer = built(Flatten(), shape)
    x = np.random.default_rng(0).standard_normal((2,) + shape)
    ref.assert_grads_close(check_layer(layer, x, rng=np.random.default_rng(1)), RTOL)


def test_flatten_matches_row_major_reference():
    x = np.random.default_rng(2).standard_normal((3, 4, 3, 2))
    layer = built(Flatten(), (4, 3, 2))
    y = layer.forward(x)
    np.testing.assert_array_equal(y, ref.flatten(x))
    dy = np.random.default_rng(3).standard_normal(y.shape)
    # The adjoint of the reference: entry i of sample n's flat list goes back to its index.
    dx_ref = ref.reshape(dy, (4, 3, 2))
    np.testing.assert_array_equal(layer.backward(dy), dx_ref)


@settings(max_examples=30, deadline=None)
@given(n=ref.batch_sizes, shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
       seed=ref.seeds)
def test_flatten_random_shapes(n, shape, seed):
    rng = np.random.default_rng(seed)
    layer = built(Flatten(), shape)
    assert layer.output_shape == (int(np.prod(shape)),)
    x = rng.standard_normal((n,) + shape)
    np.testing.assert_array_equal(layer.forward(x), ref.flatten(x))
    ref.check_layer_close(layer, x, RTOL, seed=seed)


# -- Reshape ------------------------------------------------------------------
@pytest.mark.parametrize("input_shape, target, out", [
    ((12,), (3, 4), (3, 4)),
    ((12,), (2, -1, 3), (2, 2, 3)),
    ((4, 4, 2), (-1,), (32,)),
    ((2048,), (4, 4, 128), (4, 4, 128)),        # the book's decoder
])
def test_reshape_output_shape(input_shape, target, out):
    assert Reshape(target).build(input_shape) == out


@pytest.mark.parametrize("input_shape, target", [((12,), (3, 4)), ((2, 6), (-1, 2, 3)),
                                                 ((3, 2, 2), (12,))])
def test_reshape_gradcheck(input_shape, target):
    layer = built(Reshape(target), input_shape)
    x = np.random.default_rng(0).standard_normal((2,) + input_shape)
    ref.assert_grads_close(check_layer(layer, x, rng=np.random.default_rng(1)), RTOL)


def test_reshape_matches_row_major_reference():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 2, 6))
    layer = built(Reshape((3, -1)), (2, 6))
    y = layer.forward(x)
    np.testing.assert_array_equal(y, ref.reshape(x, (3, 4)))
    dy = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(layer.backward(dy), ref.reshape(dy, (2, 6)))


@st.composite
def reshape_cases(draw):
    """An input shape and a target shape with the same size (maybe with one -1)."""
    factors = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    input_shape = tuple(draw(st.permutations(factors)))
    # Split the factors into a target of a different grouping.
    target = list(draw(st.permutations(factors)))
    if len(target) > 1 and draw(st.booleans()):
        target = [target[0] * target[1]] + target[2:]
    if draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return input_shape, tuple(target)


@settings(max_examples=30, deadline=None)
@given(n=ref.batch_sizes, case=reshape_cases(), seed=ref.seeds)
def test_reshape_random_shapes(n, case, seed):
    input_shape, target = case
    rng = np.random.default_rng(seed)
    layer = built(Reshape(target), input_shape)
    out = layer.output_shape
    assert int(np.prod(out)) == int(np.prod(input_shape))
    assert all(t in (-1, o) for t, o in zip(target, out))
    x = rng.standard_normal((n,) + input_shape)
    np.testing.assert_array_equal(layer.forward(x), ref.reshape(x, out))
    ref.check_layer_close(layer, x, RTOL, seed=seed)


# -- both -----------------------------------------------------------------------
@pytest.mark.parametrize("make", [Flatten, lambda: Reshape((6,))])
def test_float32_stays_float32(make):
    layer = built(make(), (2, 3), dtype="float32")
    y = layer.forward(np.ones((2, 2, 3), dtype=np.float32))
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    assert layer.count_params() == 0


@pytest.mark.parametrize("make", [Flatten, lambda: Reshape((6,))])
def test_float64_layer(make):
    layer = built(make(), (2, 3), dtype="float32").astype("float64")
    assert layer.forward(np.ones((2, 2, 3), dtype=np.float32)).dtype == np.float64


@pytest.mark.parametrize("target, exc, match", [
    ((2, -1, -1), ValueError, "at most one target_shape entry may be -1"),
    ((0, 4), ValueError, "entries must be positive"),
    ((-2, 3), ValueError, "entries must be positive"),
    ((), ValueError, "at least one entry"),
    ((2.0, 3), TypeError, "target_shape entries must be ints, got 2.0"),
    (None, TypeError, "target_shape must be a tuple of ints"),
])
def test_reshape_bad_target_shape(target, exc, match):
    with pytest.raises(exc, match=match):
        Reshape(target)


def test_reshape_size_mismatch_at_build():
    with pytest.raises(ValueError, match=r"target_shape \(3, 5\) has 15 entries but "
                                         r"input_shape \(4, 4\) has 16"):
        Reshape((3, 5)).build((4, 4))
    with pytest.raises(ValueError, match=r"cannot infer the -1.*16 entries, not a multiple of 3"):
        Reshape((3, -1)).build((16,))


def test_bad_inputs():
    layer = built(Reshape((2, 3)), (6,))
    with pytest.raises(ValueError, match=r"expected x of shape \(batch, 6\), got \(2, 2, 3\)"):
        layer.forward(np.ones((2, 2, 3)))
    with pytest.raises(TypeError, match="floating-point array, got dtype int"):
        layer.forward(np.ones((2, 6), dtype=int))
    flat = built(Flatten(), (2, 2))
    flat.forward(np.ones((3, 2, 2)))
    with pytest.raises(ValueError, match=r"expected dy of shape \(3, 4\)"):
        flat.backward(np.ones((3, 2, 2)))


def test_config():
    assert Reshape((4, -1)).get_config() == {"name": None, "target_shape": [4, -1]}
