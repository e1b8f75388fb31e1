"""gradcheck.layers: check_layer on anyone's layer."""

import numpy as np
import pytest

from minivae.errors import InputError, InputTypeError
from minivae.gradcheck import check_layer
from minivae.layers import Dense


class Scale:
    """A layer written outside minivae: y = x * gamma + beta, per feature. No dtype,
    no build, no base class; only the protocol of minivae.gradcheck.layers."""

    def __init__(self, features, rng):
        self.params = {"gamma": rng.standard_normal(features),
                       "beta": rng.standard_normal(features)}
        self.grads = {}

    def forward(self, x):
        self.x = x
        return x * self.params["gamma"] + self.params["beta"]

    def backward(self, dy):
        self.grads["gamma"] = (dy * self.x).sum(axis=0)
        self.grads["beta"] = dy.sum(axis=0)
        return dy * self.params["gamma"]


def test_a_duck_typed_layer_is_checked(rng):
    report = check_layer(Scale(4, rng), rng.standard_normal((3, 4)))
    assert [r.name for r in report] == ["x", "gamma", "beta"]
    assert report.verdict == "pass"


def test_a_duck_typed_layers_bug_is_found(rng):
    class ForgetsTheBatch(Scale):
        def backward(self, dy):
            dx = super().backward(dy)
            self.grads["gamma"] = dy[0] * self.x[0]
            return dx
    report = check_layer(ForgetsTheBatch(4, rng), rng.standard_normal((3, 4)))
    assert report["gamma"].verdict == "FAIL" and report["beta"].verdict == "pass"


def test_protocol_violations_are_named(rng):
    layer = Scale(2, rng)
    layer.params["gamma"] = layer.params["gamma"].astype(np.float32)
    with pytest.raises(TypeError, match="parameter 'gamma' is float32; the check perturbs "
                                        "it in place and needs float64"):
        check_layer(layer, np.ones((1, 2)))
    layer = Scale(2, rng)
    layer.backward = lambda dy: dy           # fills no grads
    with pytest.raises(ValueError, match=r"no gradient for 'gamma' after backward: it must "
                                         r"fill grads\['gamma'\]"):
        check_layer(layer, np.ones((1, 2)))


def test_a_layer_that_skips_its_input_gradient(rng):
    layer = Dense(2, name="first")
    layer.build((3,), rng=rng, dtype="float64")
    layer.input_gradient = False            # a model's first layer: backward returns None
    report = check_layer(layer, rng.standard_normal((2, 3)))
    assert [r.name for r in report] == ["kernel", "bias"] and report.verdict == "pass"
    assert "the input is not checked" in report.notes[-1]


class Root:
    """y = sqrt(x) * gamma, a duck-typed layer whose input may sit near sqrt's edge."""

    def __init__(self, gamma, wrong_dx=False, nan_dgamma=False):
        self.params, self.grads = {"gamma": np.array(gamma, dtype=np.float64)}, {}
        self.wrong_dx, self.nan_dgamma = wrong_dx, nan_dgamma

    def forward(self, x):
        self.x = x
        with np.errstate(invalid="ignore"):
            return np.sqrt(x) * self.params["gamma"]

    def backward(self, dy):
        self.grads["gamma"] = (dy * np.sqrt(self.x)).sum(axis=0)
        if self.nan_dgamma:
            self.grads["gamma"][0] = np.nan
        slope = 5.0 if self.wrong_dx else 0.5 / np.sqrt(self.x)
        return dy * slope * self.params["gamma"]


def test_check_layer_fails_a_wrong_input_gradient_at_the_domain_edge():
    x = np.full((2, 3), 1e-7)
    report = check_layer(Root([1.0, 2.0, 3.0], wrong_dx=True), x)
    assert report["x"].verdict == "FAIL" and report["gamma"].verdict == "pass"
    assert "the step leaves f's domain" in str(report)
    assert check_layer(Root([1.0, 2.0, 3.0]), x).verdict != "FAIL"


def test_check_layer_fails_a_nan_parameter_gradient():
    report = check_layer(Root([1.0, 2.0, 3.0], nan_dgamma=True), np.full((2, 3), 0.5))
    assert report["gamma"].verdict == "FAIL" and report.verdict == "FAIL"
    assert "analytic gradient not finite at 1 of 3 entries, first (0,): nan" in str(report)


def test_check_layer_refuses_a_forward_that_is_not_real_floating_point():
    layer = Scale(2, np.random.default_rng(0))
    layer.forward = lambda x: (x > 0)
    with pytest.raises(InputTypeError, match="check_layer: forward must return real "
                                             "floating-point values, got ndarray of dtype bool"):
        check_layer(layer, np.ones((1, 2)))
    with pytest.raises(InputError, match=r"check_layer: x is empty \(shape \(0, 2\)\)"):
        check_layer(Scale(2, np.random.default_rng(0)), np.ones((0, 2)))


# -- several inputs, integer inputs (issue 24) -----------------------------------

class Attention:
    """softmax(q k^T / sqrt(d)) v: three inputs, backward returns three gradients."""

    params, grads = {}, {}

    def forward(self, q, k, v):
        s = q @ k.T / np.sqrt(q.shape[1])
        e = np.exp(s - s.max(axis=1, keepdims=True))
        self.q, self.k, self.v, self.p = q, k, v, e / e.sum(axis=1, keepdims=True)
        return self.p @ v

    def backward(self, dy):
        dp = dy @ self.v.T
        ds = self.p * (dp - (dp * self.p).sum(axis=1, keepdims=True)) / np.sqrt(self.q.shape[1])
        return ds @ self.k, ds.T @ self.q, self.p.T @ dy


def test_a_layer_with_several_inputs(rng):
    q, k, v = (rng.standard_normal((3, 4)) for _ in range(3))
    report = check_layer(Attention(), q, k, v)
    assert [r.name for r in report] == ["q", "k", "v"] and report.verdict == "pass"

    class DropsScale(Attention):
        def backward(self, dy):
            dq, dk, dv = super().backward(dy)
            return dq * 2.0, dk, dv             # sqrt(d) = 2: the scale left out of dq
    report = check_layer(DropsScale(), q, k, v)
    assert report["q"].verdict == "FAIL" and report["v"].verdict == "pass"
    assert "analytic = 2 x numerical on every failing entry" in " ".join(report["q"].hints)


class Embedding:
    """y = W[ids]: the ids are integers, never perturbed; backward returns None."""

    def __init__(self, rng, assign=False):
        self.params, self.grads, self.assign = {"W": rng.standard_normal((6, 3))}, {}, assign

    def forward(self, ids):
        self.ids = ids
        return self.params["W"][ids]

    def backward(self, dy):
        dW = np.zeros_like(self.params["W"])
        if self.assign:
            dW[self.ids] = dy           # repeated ids: the last wins, the rest are lost
        else:
            np.add.at(dW, self.ids, dy)
        self.grads["W"] = dW


def test_integer_inputs_are_passed_unperturbed_and_named(rng):
    ids = np.array([1, 4, 4, 0, 4])
    report = check_layer(Embedding(rng), ids)
    assert [r.name for r in report] == ["W"] and report.verdict == "pass"
    assert "not checked: x (int64), passed to f unperturbed" in str(report)
    wrong = check_layer(Embedding(rng, assign=True), ids)
    assert wrong.verdict == "FAIL"
    assert "errors only at index 4 of axis 0" in " ".join(wrong["W"].hints)


def test_a_layer_drawing_from_numpys_global_state(rng):
    class GlobalDropout:
        params, grads = {}, {}

        def forward(self, x):
            self.mask = np.random.rand(*x.shape) < 0.5
            return x * self.mask

        def backward(self, dy):
            return dy * self.mask
    x = rng.standard_normal((4, 5))
    state = np.random.get_state()
    report = check_layer(GlobalDropout(), x)
    assert report.verdict == "FAIL" and "global_seed=0" in str(report)
    assert report["x"].hint_kinds == ["global-rng"] and "fixed_noise" not in str(report)
    np.random.set_state(state)
    report = check_layer(GlobalDropout(), x, global_seed=3)
    assert report.verdict == "pass"
    # Re-seeded only during the check: the global state is as it was before.
    after = np.random.get_state()
    assert np.array_equal(after[1], state[1]) and after[2] == state[2]
