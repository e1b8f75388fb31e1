"""BatchNormalization: finite differences in both modes, loop references (the staged
backward), Keras's moving-statistics update, hypothesis shapes, dtypes, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import reference_layers as ref
from minivae.gradcheck import check_layer
from minivae.layers import BatchNormalization

# Smooth in x, gamma and beta (epsilon = 1e-3 keeps 1/sqrt(var + eps) away from
# a pole): float64 central differences land near 1e-9; 1e-6 is gradcheck's
# default with three orders of margin, and a wrong backward (say, a missing
# mean term) errs by ~1.
RTOL = 1e-6
# Reference comparisons: the same quantities through different float64 routes
# (fsum two-pass statistics, a staged backward); values are O(1).
REF_TOL = 1e-10


def built(shape, seed=0, dtype="float64", **kwargs):
    """A layer with non-trivial gamma, beta and moving statistics."""
    layer = BatchNormalization(**kwargs)
    layer.build(shape, dtype=dtype)
    rng = np.random.default_rng(seed)
    channels = shape[-1]
    layer.params["gamma"][:] = rng.uniform(0.5, 2.0, channels)
    layer.params["beta"][:] = rng.standard_normal(channels)
    layer.state["moving_mean"][:] = rng.standard_normal(channels)
    layer.state["moving_variance"][:] = rng.uniform(0.2, 3.0, channels)
    return layer


def batch(shape, seed):
    # Off-centre, non-unit scale per channel: normalisation has work to do.
    rng = np.random.default_rng(seed)
    scale, shift = rng.uniform(0.5, 3.0, shape[-1]), rng.normal(0, 2, shape[-1])
    return rng.standard_normal(shape) * scale + shift


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 3, 2)])
def test_gradcheck_float64(shape, training):
    layer = built(shape[1:])
    x = batch(shape, 1)
    report = check_layer(layer, x, training=training, rng=np.random.default_rng(2))
    assert [r.name for r in report] == ["x", "gamma", "beta"]
    ref.assert_grads_close(report, RTOL)


def test_training_matches_staged_reference():
    layer = built((3, 2, 4))
    x, dy = batch((3, 3, 2, 4), 3), np.random.default_rng(4).standard_normal((3, 3, 2, 4))
    gamma, beta = layer.params["gamma"].copy(), layer.params["beta"].copy()
    y_ref, _, _ = ref.batchnorm_forward(x, gamma, beta, layer.epsilon)
    dx_ref, dgamma_ref, dbeta_ref = ref.batchnorm_backward_training(x, gamma, layer.epsilon, dy)
    y = layer.forward(x)
    dx = layer.backward(dy)
    np.testing.assert_allclose(y, y_ref, rtol=REF_TOL, atol=REF_TOL)
    np.testing.assert_allclose(dx, dx_ref, rtol=REF_TOL, atol=REF_TOL)
    np.testing.assert_allclose(layer.grads["gamma"], dgamma_ref, rtol=REF_TOL, atol=REF_TOL)
    np.testing.assert_allclose(layer.grads["beta"], dbeta_ref, rtol=REF_TOL, atol=REF_TOL)


def test_inference_matches_reference():
    layer = built((5,), epsilon=0.01)
    x, dy = batch((4, 5), 5), np.random.default_rng(6).standard_normal((4, 5))
    gamma, beta = layer.params["gamma"], layer.params["beta"]
    mean, var = layer.state["moving_mean"].copy(), layer.state["moving_variance"].copy()
    y_ref, _, _ = ref.batchnorm_forward(x, gamma, beta, 0.01, mean, var)
    dx_ref, dgamma_ref, dbeta_ref = ref.batchnorm_backward_inference(x, gamma, 0.01, mean, var, dy)
    y = layer.forward(x, training=False)
    dx = layer.backward(dy)
    np.testing.assert_allclose(y, y_ref, rtol=REF_TOL, atol=REF_TOL)
    np.testing.assert_allclose(dx, dx_ref, rtol=REF_TOL, atol=REF_TOL)
    np.testing.assert_allclose(layer.grads["gamma"], dgamma_ref, rtol=REF_TOL, atol=REF_TOL)
    np.testing.assert_allclose(layer.grads["beta"], dbeta_ref, rtol=REF_TOL, atol=REF_TOL)
    # Inference reads the moving statistics and leaves them alone.
    np.testing.assert_array_equal(layer.state["moving_mean"], mean)
    np.testing.assert_array_equal(layer.state["moving_variance"], var)


@settings(max_examples=30, deadline=None)
@given(n=ref.batch_sizes,
       feature_shape=st.one_of(st.tuples(st.integers(1, 4)), ref.image_shapes),
       training=st.booleans(), seed=ref.seeds)
def test_random_shapes(n, feature_shape, training, seed):
    layer = built(feature_shape, seed=seed % 1000)
    x = batch((n,) + feature_shape, seed)
    dy = np.random.default_rng(seed + 1).standard_normal(x.shape)
    gamma, beta = layer.params["gamma"].copy(), layer.params["beta"].copy()
    mean, var = layer.state["moving_mean"].copy(), layer.state["moving_variance"].copy()
    if training:
        y_ref, _, _ = ref.batchnorm_forward(x, gamma, beta, layer.epsilon)
        grads_ref = ref.batchnorm_backward_training(x, gamma, layer.epsilon, dy)
    else:
        y_ref, _, _ = ref.batchnorm_forward(x, gamma, beta, layer.epsilon, mean, var)
        grads_ref = ref.batchnorm_backward_inference(x, gamma, layer.epsilon, mean, var, dy)
    y = layer.forward(x, training=training)
    assert y.shape == x.shape
    np.testing.assert_allclose(y, y_ref, rtol=REF_TOL, atol=REF_TOL)
    dx = layer.backward(dy)
    for got, want in zip((dx, layer.grads["gamma"], layer.grads["beta"]), grads_ref):
        np.testing.assert_allclose(got, want, rtol=REF_TOL, atol=REF_TOL)
    # With two entries per channel, xhat = +-d / sqrt(d^2 + epsilon) barely moves
    # with x (dx ~ epsilon / d^3) while the loss is O(1): such dx sit at the
    # rounding floor of central differences, which the helper allows for.
    report = check_layer(layer, x, dy=dy, training=training)
    ref.assert_grads_close(report, RTOL, loss_scale=float(np.sum(np.abs(y * dy))))


def test_moving_statistics_follow_keras():
    momentum = 0.9
    layer = BatchNormalization(momentum=momentum)
    layer.build((2, 2, 3), dtype="float64")
    moving_mean, moving_var = np.zeros(3), np.ones(3)       # Keras's initial values
    for step in range(3):
        x = batch((4, 2, 2, 3), 10 + step)
        layer.forward(x)
        _, mu, var = ref.batchnorm_forward(x, np.ones(3), np.zeros(3), layer.epsilon)
        # moving = momentum * moving + (1 - momentum) * batch statistic, where the
        # batch variance is the biased one (divide by m), as in keras.layers.BatchNormalization.
        moving_mean = momentum * moving_mean + (1 - momentum) * mu
        moving_var = momentum * moving_var + (1 - momentum) * var
        np.testing.assert_allclose(layer.state["moving_mean"], moving_mean, rtol=1e-12)
        np.testing.assert_allclose(layer.state["moving_variance"], moving_var, rtol=1e-12)
    # Inference then normalises with exactly those statistics.
    x = batch((2, 2, 2, 3), 20)
    y_ref, _, _ = ref.batchnorm_forward(x, np.ones(3), np.zeros(3), layer.epsilon,
                                        moving_mean, moving_var)
    np.testing.assert_allclose(layer.forward(x, training=False), y_ref, rtol=1e-12, atol=1e-12)


def test_moving_statistics_are_updated_in_place():
    layer = built((3,))
    mean_view = layer.state["moving_mean"]
    layer.forward(batch((5, 3), 0))
    assert layer.state["moving_mean"] is mean_view


def test_training_dx_sums_to_zero_per_channel():
    # Adding a constant to a channel leaves training-mode y unchanged, so dx is
    # orthogonal to the all-ones direction of every channel.
    layer = built((3, 3, 2))
    layer.forward(batch((4, 3, 3, 2), 7))
    dx = layer.backward(np.random.default_rng(8).standard_normal((4, 3, 3, 2)))
    np.testing.assert_allclose(dx.sum(axis=(0, 1, 2)), 0, atol=1e-12)


def test_training_output_is_normalised():
    layer = BatchNormalization()
    layer.build((4, 4, 3), dtype="float64")
    x = batch((8, 4, 4, 3), 1)
    y = layer.forward(x)
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0, atol=1e-12)
    # The biased variance of xhat is var / (var + epsilon): just under 1.
    var = x.var(axis=(0, 1, 2))
    np.testing.assert_allclose(y.var(axis=(0, 1, 2)), var / (var + 1e-3), rtol=1e-12)


def test_keras_layout_and_count():
    layer = BatchNormalization()
    layer.build((8, 8, 16))
    assert sorted(layer.params) == ["beta", "gamma"]
    assert sorted(layer.state) == ["moving_mean", "moving_variance"]
    np.testing.assert_array_equal(layer.params["gamma"], np.ones(16))
    np.testing.assert_array_equal(layer.params["beta"], np.zeros(16))
    np.testing.assert_array_equal(layer.state["moving_mean"], np.zeros(16))
    np.testing.assert_array_equal(layer.state["moving_variance"], np.ones(16))
    assert layer.count_params() == 4 * 16        # Keras counts the state too
    layer.forward(np.ones((2, 8, 8, 16), dtype=np.float32))
    layer.backward(np.ones((2, 8, 8, 16), dtype=np.float32))
    assert sorted(layer.grads) == ["beta", "gamma"]     # no gradient for state
    assert layer.get_config() == {"name": None, "momentum": 0.99, "epsilon": 1e-3}


def test_float32_stays_float32():
    layer = built((3, 3, 2), dtype="float32")
    x = batch((2, 3, 3, 2), 0).astype(np.float32)
    for training in (True, False):
        y = layer.forward(x, training=training)
        dx = layer.backward(np.ones_like(y))
        assert y.dtype == dx.dtype == np.float32
        assert all(g.dtype == np.float32 for g in layer.grads.values())
        assert all(s.dtype == np.float32 for s in layer.state.values())


def test_float64_params_make_a_float64_layer():
    layer = built((3,), dtype="float32").astype("float64")
    assert layer.dtype == np.float64
    assert all(s.dtype == np.float64 for s in layer.state.values())
    assert layer.forward(np.ones((2, 3), dtype=np.float32)).dtype == np.float64


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"momentum": 1.5}, ValueError, r"momentum must lie in \[0, 1\], got 1.5"),
    ({"momentum": -0.1}, ValueError, "momentum must lie in"),
    ({"epsilon": 0}, ValueError, "epsilon must be a finite number > 0, got 0"),
    ({"epsilon": float("inf")}, ValueError, "epsilon must be a finite number > 0"),
    ({"epsilon": "1e-3"}, TypeError, "epsilon must be a number"),
])
def test_bad_constructor_args(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        BatchNormalization(**kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match="needs a channels axis"):
        BatchNormalization().build(())
    layer = built((4, 4, 3))
    with pytest.raises(ValueError,
                       match=r"expected x of shape \(batch, 4, 4, 3\), got \(2, 4, 4, 2\)"):
        layer.forward(np.ones((2, 4, 4, 2)))
    with pytest.raises(TypeError, match="floating-point array, got dtype int"):
        layer.forward(np.ones((2, 4, 4, 3), dtype=int))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.ones((2, 4, 4, 3)))
