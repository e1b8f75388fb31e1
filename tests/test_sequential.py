"""Sequential: the chain rule over layers, proved by finite differences, by composing
the loop references, and over random widths; plus its views, names, dtypes, errors."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests import reference_layers as ref
from minivae.gradcheck import check_layer
from minivae.layers import (BatchNormalization, Conv2D, Conv2DTranspose, Dense, Dropout, Flatten,
                            LeakyReLU, ReLU, Reshape, Sigmoid)
from minivae.models import Sequential

# Every layer in these chains is smooth, or linear away from ReLU's kink (kept
# >= 1e-3 from every probe): float64 central differences land near 1e-9, so 1e-6
# (gradcheck's default) has three orders of margin; a wrong chain rule errs by ~1.
RTOL = 1e-6
# Reference comparisons: the same sums in another order through a few layers.
REF_TOL = 1e-11


def mlp(widths, seed=0, dtype="float64"):
    """Dense -> ReLU -> ... -> Dense -> Sigmoid with standalone activation layers."""
    layers = []
    for units in widths[1:-1]:
        layers += [Dense(units), ReLU()]
    layers += [Dense(widths[-1]), Sigmoid()]
    model = Sequential(layers)
    model.build((widths[0],), rng=np.random.default_rng(seed), dtype=dtype)
    bias_rng = np.random.default_rng(seed + 1)
    for layer in model.layers:
        if "bias" in layer.params:                   # non-zero, so a dropped bias shows
            layer.params["bias"][:] = 0.5 * bias_rng.standard_normal(layer.params["bias"].shape)
    return model


def mlp_reference(model, x, dy):
    """Forward and backward by composing the loop references layer by layer."""
    cache, h = [], x
    for layer in model.layers:
        cache.append(h)
        if isinstance(layer, Dense):
            h = ref.dense_forward(h, layer.params["kernel"], layer.params["bias"])
        elif isinstance(layer, ReLU):
            h = ref.elementwise(ref.relu, h)
        else:
            h = ref.elementwise(ref.sigmoid, h)
    y, grads, g = h, {}, dy
    for layer, h in zip(reversed(model.layers), reversed(cache)):
        if isinstance(layer, Dense):
            g, dW, db = ref.dense_backward(h, layer.params["kernel"], g)
            grads[f"{layer.name}/kernel"], grads[f"{layer.name}/bias"] = dW, db
        elif isinstance(layer, ReLU):
            g = ref.elementwise(ref.relu_grad, h, g)
        else:
            g = ref.elementwise(ref.sigmoid_grad, h, g)
    return y, g, grads


def relu_margin(model, x, training=True):
    """The smallest |input| any ReLU or LeakyReLU layer in the model sees at x."""
    margin, h = np.inf, x
    for layer in model.layers:
        if isinstance(layer, (ReLU, LeakyReLU)):
            margin = min(margin, np.min(np.abs(h)))
        h = layer.forward(h, training=training)
    return margin


def test_gradcheck_mlp():
    model = mlp([4, 5, 3, 2])
    x = np.random.default_rng(2).standard_normal((3, 4))
    assert relu_margin(model, x) > 1e-3
    report = check_layer(model, x, rng=np.random.default_rng(3))
    assert [r.name for r in report] == ["x", "dense/kernel", "dense/bias", "dense_1/kernel",
                                        "dense_1/bias", "dense_2/kernel", "dense_2/bias"]
    ref.assert_grads_close(report, RTOL)


@pytest.mark.parametrize("training", [True, False])
def test_gradcheck_image_chain(training):
    """Every layer family of this package in one chain; Dropout with a fixed mask."""
    model = Sequential([Reshape((3, 3, 2)), BatchNormalization(), LeakyReLU(0.2),
                        ref.FixedMaskDropout(0.3), Flatten(), Dense(4, activation="sigmoid")])
    model.build((18,), rng=np.random.default_rng(0), dtype="float64")
    bn = model.get_layer("batch_normalization")
    bn.params["gamma"][:] = [1.5, 0.7]
    bn.params["beta"][:] = [0.3, -0.2]
    bn.state["moving_mean"][:] = [0.1, -0.4]
    bn.state["moving_variance"][:] = [0.8, 2.0]
    x = np.random.default_rng(1).standard_normal((3, 18))
    assert relu_margin(model, x, training) > 1e-3
    report = check_layer(model, x, training=training, rng=np.random.default_rng(2))
    assert [r.name for r in report] == ["x", "batch_normalization/gamma",
                                        "batch_normalization/beta", "dense/kernel", "dense/bias"]
    ref.assert_grads_close(report, RTOL)


def test_matches_composed_reference():
    model = mlp([3, 6, 4])
    rng = np.random.default_rng(4)
    x, dy = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    y_ref, dx_ref, grads_ref = mlp_reference(model, x, dy)
    y = model.forward(x)
    dx = model.backward(dy)
    np.testing.assert_allclose(y, y_ref, rtol=REF_TOL, atol=REF_TOL)
    np.testing.assert_allclose(dx, dx_ref, rtol=REF_TOL, atol=REF_TOL)
    assert sorted(model.grads) == sorted(grads_ref)
    for key, value in grads_ref.items():
        np.testing.assert_allclose(model.grads[key], value, rtol=REF_TOL, atol=REF_TOL)


@settings(max_examples=25, deadline=None)
@given(n=ref.batch_sizes, widths=st.lists(ref.small_dims, min_size=2, max_size=4),
       seed=ref.seeds)
def test_random_widths(n, widths, seed):
    model = mlp(widths, seed=seed % 1000)
    rng = np.random.default_rng(seed)
    x, dy = rng.standard_normal((n, widths[0])), rng.standard_normal((n, widths[-1]))
    assume(relu_margin(model, x) > 1e-3)
    y_ref, dx_ref, grads_ref = mlp_reference(model, x, dy)
    np.testing.assert_allclose(model.forward(x), y_ref, rtol=REF_TOL, atol=REF_TOL)
    np.testing.assert_allclose(model.backward(dy), dx_ref, rtol=REF_TOL, atol=REF_TOL)
    for key, value in grads_ref.items():
        np.testing.assert_allclose(model.grads[key], value, rtol=REF_TOL, atol=REF_TOL)
    ref.assert_grads_close(check_layer(model, x, dy=dy), RTOL,
                           loss_scale=float(np.sum(np.abs(y_ref * dy))))


def test_views_share_the_layers_arrays():
    model = Sequential([Dense(3), BatchNormalization()])
    model.build((2,), rng=np.random.default_rng(0))
    assert sorted(model.params) == ["batch_normalization/beta", "batch_normalization/gamma",
                                    "dense/bias", "dense/kernel"]
    assert sorted(model.state) == ["batch_normalization/moving_mean",
                                   "batch_normalization/moving_variance"]
    # An optimizer updates the flat view in place: the layer sees it.
    model.params["dense/kernel"][...] = 1.0
    np.testing.assert_array_equal(model.layers[0].params["kernel"], np.ones((2, 3)))
    # BatchNormalization's moving statistics, updated by a training forward, show too.
    model.forward(np.random.default_rng(1).standard_normal((4, 2)).astype(np.float32))
    np.testing.assert_array_equal(model.state["batch_normalization/moving_mean"],
                                  model.layers[1].state["moving_mean"])
    assert np.any(model.state["batch_normalization/moving_mean"] != 0)
    assert model.count_params() == 2 * 3 + 3 + 4 * 3
    with pytest.raises(AttributeError, match="view of its layers' params"):
        model.params = {"dense/kernel": np.zeros((2, 3))}


def test_keras_style_names():
    model = Sequential([Conv2D(2, 3), Conv2D(2, 3, name="conv2d_1"), Conv2D(2, 3), Flatten(),
                        Dense(4), Dense(2, name="head"), Dense(2)])
    assert [layer.name for layer in model.layers] == [
        "conv2d", "conv2d_1", "conv2d_2", "flatten", "dense", "head", "dense_1"]


def test_relu_names_match_keras():
    model = Sequential([ReLU(), LeakyReLU(), Conv2DTranspose(1, 1), BatchNormalization(),
                        ReLU()])
    assert [layer.name for layer in model.layers] == [
        "re_lu", "leaky_re_lu", "conv2d_transpose", "batch_normalization", "re_lu_1"]


def test_inference_mode_reaches_every_layer():
    model = Sequential([Dropout(0.5), BatchNormalization()])
    model.build((3,), rng=np.random.default_rng(0), dtype="float64")
    x = np.random.default_rng(1).standard_normal((4, 3))
    # Dropout is the identity and BatchNormalization uses its moving statistics
    # (0 and 1 initially), so inference is y = x / sqrt(1 + epsilon).
    np.testing.assert_allclose(model.forward(x, training=False), x / np.sqrt(1 + 1e-3),
                               rtol=1e-15)


def test_float32_stays_float32():
    model = mlp([3, 4, 2], dtype="float32")
    y = model.forward(np.ones((2, 3), dtype=np.float32))
    dx = model.backward(np.ones_like(y))
    assert y.dtype == dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in model.grads.values())


def test_astype_float64_converts_every_layer():
    model = mlp([3, 4, 2], dtype="float32").astype("float64")
    assert model.dtype == np.float64
    assert all(v.dtype == np.float64 for v in model.params.values())
    assert all(layer.dtype == np.float64 for layer in model.layers)
    assert model.forward(np.ones((2, 3), dtype=np.float32)).dtype == np.float64


def test_bad_construction_and_inputs():
    with pytest.raises(TypeError, match="item 1 is str, not a Layer"):
        Sequential([Dense(2), "relu"])
    with pytest.raises(ValueError, match=r"layer names must be unique, repeated: \['a'\]"):
        Sequential([Dense(2, name="a"), Dense(2, name="a")])
    with pytest.raises(ValueError, match="flat inputs.*Flatten"):
        Sequential([Dense(2)]).build((4, 4))
    model = mlp([3, 2])
    with pytest.raises(ValueError, match=r"expected x of shape \(batch, 3\), got \(2, 4\)"):
        model.forward(np.ones((2, 4)))
    with pytest.raises(TypeError, match="floating-point array, got dtype int"):
        model.forward(np.ones((2, 3), dtype=int))
    with pytest.raises(KeyError, match="no layer named 'nope'"):
        model.get_layer("nope")
    model.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"expected dy of shape \(2, 2\)"):
        model.backward(np.ones((2, 3)))


def test_summary_prints_as_keras_does_and_returns_nothing(capsys):
    """Issue 21: summary() returned a string where docs/models.md said it prints."""
    model = Sequential([Dense(3, name="dense"), ReLU(name="relu")])
    model.build((4,), rng=np.random.default_rng(0))
    assert model.summary() is None
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("layer (type)")
    assert "dense (Dense)" in out and "(None, 3)" in out and "total params: 15" in out
    lines = []
    model.summary(print_fn=lines.append)
    assert len(lines) == 1 and lines[0] == out.rstrip("\n")
