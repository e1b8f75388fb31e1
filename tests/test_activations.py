"""ReLU, LeakyReLU, Sigmoid: finite differences, scalar references, hypothesis shapes."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import reference_layers as ref
from minivae.gradcheck import check_layer
from minivae.layers import Dense, LeakyReLU, ReLU, Sigmoid, get_activation
from minivae.layers.activations import activation_name

# ReLU and LeakyReLU are exactly linear between kinks and the test points keep
# |x| >= 0.05 >> eps = 1e-6, so central differences are exact up to rounding
# (~1e-10); Sigmoid is smooth, ~1e-9. 1e-6 is gradcheck's default with margin.
RTOL = 1e-6
# Reference comparisons: one float64 rounding in a different formula.
REF_TOL = 1e-14

LAYERS = {
    "relu": (ReLU, lambda v: ref.relu(v), lambda v, g: ref.relu_grad(v, g)),
    "leaky_relu": (lambda: LeakyReLU(0.3), lambda v: ref.leaky_relu(v, 0.3),
                   lambda v, g: ref.leaky_relu_grad(v, g, 0.3)),
    "sigmoid": (Sigmoid, ref.sigmoid, ref.sigmoid_grad),
}


def built(kind, shape, dtype="float64"):
    layer = LAYERS[kind][0]()
    layer.build(shape, dtype=dtype)
    return layer


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("shape", [(4,), (3, 3, 2)])
def test_gradcheck_float64(kind, shape):
    layer = built(kind, shape)
    x = ref.away_from_zero(np.random.default_rng(0), (2,) + shape)
    report = check_layer(layer, x, rng=np.random.default_rng(1))
    assert [r.name for r in report] == ["x"]
    ref.assert_grads_close(report, RTOL)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_matches_scalar_reference(kind):
    _, f, f_grad = LAYERS[kind]
    rng = np.random.default_rng(2)
    # Wide range, both signs, exact zero, and large magnitudes for sigmoid's tails.
    x = np.concatenate([rng.standard_normal(20) * 5, [0.0, -0.0, 40.0, -40.0, 700.0, -700.0]])
    x = x.reshape(2, 13)
    dy = rng.standard_normal(x.shape)
    layer = built(kind, (13,))
    y = layer.forward(x)
    dx = layer.backward(dy)
    np.testing.assert_allclose(y, ref.elementwise(f, x), rtol=REF_TOL, atol=REF_TOL)
    np.testing.assert_allclose(dx, ref.elementwise(f_grad, x, dy), rtol=REF_TOL, atol=REF_TOL)


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(sorted(LAYERS)), n=ref.batch_sizes,
       feature_shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
       seed=ref.seeds)
def test_random_shapes(kind, n, feature_shape, seed):
    rng = np.random.default_rng(seed)
    _, f, _ = LAYERS[kind]
    layer = built(kind, feature_shape)
    x = ref.away_from_zero(rng, (n,) + feature_shape)
    y = layer.forward(x)
    assert y.shape == x.shape
    np.testing.assert_allclose(y, ref.elementwise(f, x), rtol=REF_TOL, atol=REF_TOL)
    ref.check_layer_close(layer, x, RTOL, seed=seed)


@settings(max_examples=25, deadline=None)
@given(slope=st.floats(0.0, 2.0), seed=ref.seeds)
def test_leaky_relu_any_slope(slope, seed):
    rng = np.random.default_rng(seed)
    layer = LeakyReLU(slope)
    layer.build((5,), dtype="float64")
    x, dy = ref.away_from_zero(rng, (3, 5)), rng.standard_normal((3, 5))
    y = layer.forward(x)
    dx = layer.backward(dy)
    np.testing.assert_allclose(y, ref.elementwise(lambda v: ref.leaky_relu(v, slope), x),
                               rtol=REF_TOL, atol=REF_TOL)
    np.testing.assert_allclose(dx, ref.elementwise(
        lambda v, g: ref.leaky_relu_grad(v, g, slope), x, dy), rtol=REF_TOL, atol=REF_TOL)


def test_relu_gradient_at_zero_is_zero():
    # Keras's (and TensorFlow's) convention for the subgradient at the kink.
    layer = built("relu", (3,))
    layer.forward(np.array([[-1.0, 0.0, 1.0]]))
    np.testing.assert_array_equal(layer.backward(np.ones((1, 3))), [[0.0, 0.0, 1.0]])


def test_sigmoid_is_stable_in_the_tails():
    layer = built("sigmoid", (2,), dtype="float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # an overflow in exp would warn
        y = layer.forward(np.array([[-1e4, 1e4]], dtype=np.float32))
        dx = layer.backward(np.ones((1, 2), dtype=np.float32))
    np.testing.assert_array_equal(y, [[0.0, 1.0]])
    np.testing.assert_array_equal(dx, [[0.0, 0.0]])


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_float32_stays_float32(kind):
    layer = built(kind, (3,), dtype="float32")
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_float64_layer(kind):
    # Parameter-free layers compute in the dtype given to build (or astype).
    layer = built(kind, (3,), dtype="float32").astype("float64")
    assert layer.dtype == np.float64
    assert layer.forward(np.ones((2, 3), dtype=np.float32)).dtype == np.float64


def test_get_activation():
    assert get_activation(None) is None
    assert get_activation("linear") is None
    assert isinstance(get_activation("ReLU"), ReLU)     # case-insensitive, as Keras
    assert isinstance(get_activation("sigmoid"), Sigmoid)
    # Keras: the leaky_relu *function* has slope 0.2, the LeakyReLU layer 0.3.
    assert get_activation("leaky_relu").negative_slope == 0.2
    assert LeakyReLU().negative_slope == 0.3
    assert activation_name(get_activation("relu")) == "relu"
    with pytest.raises(ValueError, match="Dense: unknown activation 'softmax'; expected one of"):
        get_activation("softmax", "Dense")


@pytest.mark.parametrize("slope", [-0.1, float("nan"), float("inf")])
def test_bad_negative_slope(slope):
    with pytest.raises(ValueError, match="negative_slope must be a finite number >= 0"):
        LeakyReLU(slope)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_bad_inputs(kind):
    layer = built(kind, (2, 3))
    with pytest.raises(ValueError, match=r"expected x of shape \(batch, 2, 3\), got \(4, 6\)"):
        layer.forward(np.ones((4, 6)))
    with pytest.raises(TypeError, match="floating-point array, got dtype int"):
        layer.forward(np.ones((4, 2, 3), dtype=int))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.ones((4, 2, 3)))
    layer.forward(np.ones((4, 2, 3)))
    with pytest.raises(ValueError, match=r"expected dy of shape \(4, 2, 3\)"):
        layer.backward(np.ones((4, 3, 2)))


@pytest.mark.parametrize("slope", [None, "a", True, -0.1, float("nan")])
def test_leaky_relu_rejects_bad_slopes_with_a_sentence(slope):
    with pytest.raises(ValueError, match="negative_slope must be a finite number >= 0"):
        LeakyReLU(slope)


def test_only_activation_layers_are_accepted_as_activations():
    with pytest.raises(TypeError, match="activation must be None, a name or an activation layer"):
        Dense(3, activation=Dense(2))


def test_a_custom_leaky_slope_survives_the_config():
    config = Dense(2, activation=LeakyReLU(0.3)).get_config()
    assert Dense(2, activation=config["activation"]).activation.negative_slope == 0.3
    assert Dense(2, activation="leaky_relu").get_config()["activation"] == "leaky_relu"
