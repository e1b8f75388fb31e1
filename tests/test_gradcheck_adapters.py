"""gradcheck.adapters: layers written in other libraries' conventions, checked through
one adapter argument (or none), never a wrapper class."""

import numpy as np
import pytest

from minivae.errors import InputError, InputTypeError
from minivae.gradcheck import check_layer


class NumpyMLBatchNorm:
    """numpy-ml's conventions: parameters/gradients dicts, the running statistics among
    the parameters, gradients that accumulate (+=), and every input since the last
    backward cached in a list that backward differentiates in turn."""

    def __init__(self, channels, rng, bug=None):
        self.parameters = {"scaler": rng.standard_normal(channels),
                           "intercept": rng.standard_normal(channels),
                           "running_mean": np.zeros(channels), "running_var": np.ones(channels)}
        self.gradients = {"scaler": np.zeros(channels), "intercept": np.zeros(channels)}
        self.X, self.bug = [], bug

    def forward(self, X):
        self.X.append(X)
        P = self.parameters
        P["running_mean"] = 0.9 * P["running_mean"] + 0.1 * X.mean(axis=0)
        P["running_var"] = 0.9 * P["running_var"] + 0.1 * X.var(axis=0)
        return P["scaler"] * (X - X.mean(axis=0)) / np.sqrt(X.var(axis=0) + 1e-5) \
            + P["intercept"]

    def backward(self, dy):
        dX = []
        for X in self.X:
            n, inv = len(X), 1 / np.sqrt(X.var(axis=0) + 1e-5)
            xhat = (X - X.mean(axis=0)) * inv
            self.gradients["scaler"] += (dy * xhat).sum(axis=0)
            self.gradients["intercept"] += dy[0] if self.bug else dy.sum(axis=0)
            dxhat = dy * self.parameters["scaler"]
            dX.append(inv / n * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(0)))
        self.X = []
        return dX[0] if len(dX) == 1 else dX


def test_a_numpy_ml_layer_is_checked_with_one_argument(rng):
    layer = NumpyMLBatchNorm(3, rng)
    before = {k: v.copy() for k, v in layer.parameters.items()}
    report = check_layer(layer, rng.standard_normal((5, 3)), trainable=["scaler", "intercept"])
    assert report.verdict == "pass" and [r.name for r in report] == ["x", "scaler", "intercept"]
    assert "not checked: running_mean, running_var (state" in str(report)
    # The layer as it was: statistics, cache and gradients put back.
    for k, v in before.items():
        np.testing.assert_array_equal(layer.parameters[k], v)
    assert layer.X == [] and not layer.gradients["scaler"].any()
    wrong = check_layer(NumpyMLBatchNorm(3, rng, bug=True), rng.standard_normal((5, 3)),
                        trainable=["scaler", "intercept"])
    assert wrong["intercept"].verdict == "FAIL" and wrong["scaler"].verdict == "pass"


def test_the_gradients_a_layer_holds_say_which_arrays_are_trainable(rng):
    # numpy-ml creates a zero gradient per trainable parameter: the rest is state.
    report = check_layer(NumpyMLBatchNorm(3, rng), rng.standard_normal((5, 3)))
    assert report.verdict == "pass" and [r.name for r in report] == ["x", "scaler", "intercept"]
    assert "not checked: running_mean, running_var (state, not trainable: gradients holds no " \
           "gradient for them" in str(report)


def test_state_among_the_parameters_is_named_with_the_fix(rng):
    class Assigns(NumpyMLBatchNorm):
        """Its gradients are created by backward: nothing says what is state."""

        def backward(self, dy):
            self.gradients = {"scaler": 0.0, "intercept": 0.0}
            return super().backward(dy)
    layer = Assigns(3, rng)
    layer.gradients = {}
    with pytest.raises(InputError, match=r"no gradient for 'running_mean' after backward: it "
                                         r"must fill gradients\['running_mean'\].*"
                                         r"trainable=\['scaler', 'intercept'\]"):
        check_layer(layer, rng.standard_normal((5, 3)))


def test_a_layer_may_declare_its_trainable_arrays(rng):
    layer = NumpyMLBatchNorm(2, rng)
    layer.trainable = ("scaler", "intercept")
    assert check_layer(layer, rng.standard_normal((4, 2))).verdict == "pass"


class Affine:
    """Deep Learning from Scratch's Affine: W, b, dW, db as attributes."""

    def __init__(self, rng):
        self.W, self.b = rng.standard_normal((4, 3)), rng.standard_normal(3)
        self.dW = self.db = None

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW, self.db = self.x.T @ dout, dout.sum(axis=0)
        return dout @ self.W.T


class ListAffine(Affine):
    """Deep Learning from Scratch 2: params = [W, b], grads = [dW, db], filled in place."""

    def __init__(self, rng):
        super().__init__(rng)
        self.params = [self.W, self.b]
        self.grads = [np.zeros_like(self.W), np.zeros_like(self.b)]

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads[0][...] = self.dW
        self.grads[1][...] = self.db
        return dx


class ReturnsAll(Affine):
    """backward(dout) -> (dx, dW, db): the gradients returned, not stored."""

    def __init__(self, rng):
        super().__init__(rng)
        self.params = {"W": self.W, "b": self.b}

    def backward(self, dout):
        dx = super().backward(dout)
        return dx, self.dW, self.db


def test_attributes_lists_and_returned_gradients(rng):
    x = rng.standard_normal((5, 4))
    report = check_layer(Affine(rng), x, adapter="W,b/dW,db")
    assert report.verdict == "pass" and [r.name for r in report] == ["x", "W", "b"]
    report = check_layer(ListAffine(rng), x)
    assert report.verdict == "pass" and [r.name for r in report] == ["x", "params[0]",
                                                                       "params[1]"]
    assert check_layer(ReturnsAll(rng), x).verdict == "pass"
    assert check_layer(ReturnsAll(rng), x, adapter="params/returns").verdict == "pass"


def test_adapters_are_validated(rng):
    with pytest.raises(InputError, match="must read 'PARAMS/GRADS'"):
        check_layer(Affine(rng), np.ones((1, 4)), adapter="W,b")
    with pytest.raises(InputError, match="give one gradient per parameter"):
        check_layer(Affine(rng), np.ones((1, 4)), adapter="W,b/dW")
    with pytest.raises(InputError, match="no array attribute 'V'"):
        check_layer(Affine(rng), np.ones((1, 4)), adapter="V/dV")
    with pytest.raises(InputTypeError, match="adapter must be None, a string"):
        check_layer(Affine(rng), np.ones((1, 4)), adapter=3)
    with pytest.raises(InputError, match=r"trainable names \['c'\]"):
        check_layer(ReturnsAll(rng), np.ones((1, 4)), trainable=["c"])


def test_gradients_that_accumulate_are_zeroed_before_each_backward(rng):
    class Accumulates(Affine):
        def __init__(self, rng):
            super().__init__(rng)
            self.params = {"W": self.W, "b": self.b}
            self.grads = {"W": np.zeros_like(self.W), "b": np.zeros_like(self.b)}

        def backward(self, dout):
            dx = super().backward(dout)
            self.grads["W"] += self.dW
            self.grads["b"] += self.db
            return dx
    assert check_layer(Accumulates(rng), rng.standard_normal((5, 4))).verdict == "pass"


def test_arrays_outside_any_container_are_pointed_out(rng):
    report = check_layer(Affine(rng), rng.standard_normal((2, 4)))
    assert [r.name for r in report] == ["x"] and report.verdict == "pass"
    assert "only the inputs are checked; the layer holds float arrays W, b" in str(report)
    assert "adapter='W,b/dW,db'" in str(report)


def test_a_layer_with_integer_inputs_only_may_return_anything_for_them(rng):
    class Lookup:
        def __init__(self):
            self.params, self.grads = {"W": rng.standard_normal((5, 2))}, {}

        def forward(self, ids):
            self.ids = ids
            return self.params["W"][ids]

        def backward(self, dy):
            self.grads["W"] = np.zeros_like(self.params["W"])
            np.add.at(self.grads["W"], self.ids, dy)
            return np.zeros(self.ids.shape)        # a gradient for ids, which has none
    report = check_layer(Lookup(), np.array([0, 3, 3]))
    assert [r.name for r in report] == ["W"] and report.verdict == "pass"
