"""Dense: finite differences, a loop reference, hypothesis shapes, dtypes, errors."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests import reference_layers as ref
from minivae.gradcheck import check_layer
from minivae.layers import Dense

# Smooth (or, away from ReLU's kink, linear) in float64 with eps = 1e-6: central
# differences land near 1e-9 relative error (gradcheck's module docstring), so
# 1e-6 leaves three orders of margin while a wrong backward errs by ~1.
RTOL = 1e-6
# Reference comparisons: the same sums in a different order, float64 rounding only.
REF_TOL = 1e-12


def built_dense(d_in, units, activation=None, seed=0, dtype="float64"):
    layer = Dense(units, activation=activation)
    layer.build((d_in,), rng=np.random.default_rng(seed), dtype=dtype)
    # A non-zero bias, so a backward that forgot it would show.
    layer.params["bias"][:] = np.random.default_rng(seed + 1).standard_normal(units)
    return layer


def pre_activation_margin(layer, x):
    return np.min(np.abs(x @ layer.params["kernel"] + layer.params["bias"]))


@pytest.mark.parametrize("activation", [None, "relu", "leaky_relu", "sigmoid"])
def test_gradcheck_float64(activation):
    layer = built_dense(4, 3, activation)
    x = np.random.default_rng(2).standard_normal((5, 4))
    # The fused ReLU kink must be far from every probe (probes move it by ~1e-6).
    assert pre_activation_margin(layer, x) > 1e-3
    report = check_layer(layer, x, rng=np.random.default_rng(3))
    assert [r.name for r in report] == ["x", "kernel", "bias"]
    ref.assert_grads_close(report, RTOL)


@pytest.mark.parametrize("activation", [None, "relu", "sigmoid"])
def test_matches_loop_reference(activation):
    rng = np.random.default_rng(4)
    layer = built_dense(3, 4, activation)
    x, dy = rng.standard_normal((6, 3)), rng.standard_normal((6, 4))
    W, b = layer.params["kernel"], layer.params["bias"]
    pre = ref.dense_forward(x, W, b)
    act, act_grad = {None: (lambda v: v, lambda v, g: g),
                     "relu": (ref.relu, ref.relu_grad),
                     "sigmoid": (ref.sigmoid, ref.sigmoid_grad)}[activation]
    y_ref = ref.elementwise(act, pre)
    dpre = ref.elementwise(act_grad, pre, dy)
    dx_ref, dW_ref, db_ref = ref.dense_backward(x, W, dpre)

    y = layer.forward(x)
    dx = layer.backward(dy)
    np.testing.assert_allclose(y, y_ref, rtol=REF_TOL, atol=REF_TOL)
    np.testing.assert_allclose(dx, dx_ref, rtol=REF_TOL, atol=REF_TOL)
    np.testing.assert_allclose(layer.grads["kernel"], dW_ref, rtol=REF_TOL, atol=REF_TOL)
    np.testing.assert_allclose(layer.grads["bias"], db_ref, rtol=REF_TOL, atol=REF_TOL)


@settings(max_examples=30, deadline=None)
@given(n=ref.batch_sizes, d_in=ref.small_dims, units=ref.small_dims,
       activation=st.sampled_from([None, "relu", "leaky_relu", "sigmoid"]), seed=ref.seeds)
def test_random_shapes(n, d_in, units, activation, seed):
    rng = np.random.default_rng(seed)
    layer = built_dense(d_in, units, activation, seed=seed % 1000)
    x = rng.standard_normal((n, d_in))
    assume(activation is None or pre_activation_margin(layer, x) > 1e-3)
    y = layer.forward(x)
    assert y.shape == (n, units)
    pre = ref.dense_forward(x, layer.params["kernel"], layer.params["bias"])
    act = {None: lambda v: v, "relu": ref.relu, "sigmoid": ref.sigmoid,
           # activation="leaky_relu" follows Keras's function: slope 0.2
           "leaky_relu": lambda v: ref.leaky_relu(v, 0.2)}[activation]
    np.testing.assert_allclose(y, ref.elementwise(act, pre), rtol=REF_TOL, atol=REF_TOL)
    ref.check_layer_close(layer, x, RTOL, seed=seed)


def test_keras_param_layout_and_count():
    layer = Dense(7)
    assert layer.build((5,), rng=np.random.default_rng(0)) == (7,)
    assert layer.params["kernel"].shape == (5, 7)
    assert layer.params["bias"].shape == (7,)
    assert layer.count_params() == 5 * 7 + 7
    # glorot_uniform: |W| <= sqrt(6 / (fan_in + fan_out))
    assert np.max(np.abs(layer.params["kernel"])) <= np.sqrt(6 / 12)
    assert layer.get_config() == {
        "name": None, "units": 7, "activation": None,
        "kernel_initializer": {"class_name": "GlorotUniform", "config": {}},
        "bias_initializer": {"class_name": "Zeros", "config": {}}}


def test_float32_stays_float32():
    layer = built_dense(3, 2, "sigmoid", dtype="float32")
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    y = layer.forward(x)
    dx = layer.backward(np.ones_like(y))
    assert y.dtype == dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.grads.values())


def test_float64_params_make_a_float64_layer():
    layer = built_dense(3, 2, dtype="float32").astype("float64")
    assert layer.dtype == np.float64
    x32 = np.ones((2, 3), dtype=np.float32)
    assert layer.forward(x32).dtype == np.float64
    # Assigning float64 arrays has the same effect.
    other = built_dense(3, 2, dtype="float32")
    other.params = {k: v.astype(np.float64) for k, v in other.params.items()}
    assert other.forward(x32).dtype == np.float64


@pytest.mark.parametrize("units, exc, match", [
    (-3, ValueError, "units must be a positive integer, got -3"),
    (0, ValueError, "units must be a positive integer"),
    (2.5, TypeError, "units must be a positive integer.*float"),
    (True, TypeError, "units must be a positive integer"),
])
def test_bad_units(units, exc, match):
    with pytest.raises(exc, match=match):
        Dense(units)


def test_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation 'tanh'"):
        Dense(3, activation="tanh")


def test_bad_inputs():
    layer = Dense(2)
    with pytest.raises(RuntimeError, match="not built"):
        layer.forward(np.ones((1, 3)))
    with pytest.raises(ValueError, match="flat inputs.*Flatten"):
        Dense(2).build((4, 4))
    layer.build((3,), rng=np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.ones((1, 2)))
    with pytest.raises(ValueError, match=r"expected x of shape \(batch, 3\), got \(2, 4\)"):
        layer.forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"expected x of shape \(batch, 3\), got \(3,\)"):
        layer.forward(np.ones(3))
    with pytest.raises(TypeError, match="floating-point array, got dtype int64"):
        layer.forward(np.ones((2, 3), dtype=np.int64))
    layer.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"expected dy of shape \(2, 2\)"):
        layer.backward(np.ones((2, 3)))


@pytest.mark.parametrize("shape", [(2.7,), ("abc",), 5, (True,)])
def test_build_rejects_non_integer_shapes(shape):
    with pytest.raises(TypeError, match="input_shape must be a tuple of ints"):
        Dense(2).build(shape)
