"""The gradient checker is an oracle: it must accept right gradients and reject wrong ones."""

import ast
from pathlib import Path

import numpy as np
import pytest

import minivae.gradcheck
from minivae.gradcheck import (check_gradients, check_layer, numerical_gradient,
                               relative_error)
from minivae.layers import Conv2D, Dense
from minivae.models import Sequential


def test_numerical_gradient_of_a_cubic(rng):
    x = rng.standard_normal((3, 4))
    g = numerical_gradient(lambda v: np.sum(v ** 3), x)
    # Central differences on x^3 have truncation error exactly eps^2 = 1e-12 per entry,
    # plus rounding ~1e-16 * |f| / eps ~ 1e-9; 1e-7 absolute leaves margin.
    np.testing.assert_allclose(g, 3 * x ** 2, atol=1e-7)


def test_numerical_gradient_restores_x_exactly(rng):
    x = rng.standard_normal(10)
    before = x.copy()
    numerical_gradient(lambda v: np.sum(np.sin(v)), x)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_sees_in_place_perturbation_through_another_reference(rng):
    W = rng.standard_normal((3, 2))
    holder = {"W": W}
    g = numerical_gradient(lambda _: float(np.sum(holder["W"] ** 2)), W)
    np.testing.assert_allclose(g, 2 * W, atol=1e-7)


def test_numerical_gradient_on_selected_indices(rng):
    x = rng.standard_normal(6)
    g = numerical_gradient(lambda v: np.sum(v ** 2), x, indices=[1, 4])
    assert np.isnan(g[[0, 2, 3, 5]]).all()
    np.testing.assert_allclose(g[[1, 4]], 2 * x[[1, 4]], atol=1e-7)


def test_relative_error_is_scale_relative():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error([1.0, 0.0], [1.0, 1e-12]) == pytest.approx(1e-12)
    assert relative_error([2.0, 1.0], [2.0, 1.1]) == pytest.approx(0.05)


@pytest.mark.parametrize("bad,exc,match", [
    (np.ones(3, dtype=np.float32), TypeError, "float64"),
    (np.array([1.0, np.nan]), ValueError, "non-finite"),
    ([1.0, 2.0], TypeError, "float64 ndarray"),
    (np.ones((3, 4))[:, ::2], ValueError, "contiguous"),
])
def test_numerical_gradient_rejects_bad_x(bad, exc, match):
    with pytest.raises(exc, match=match):
        numerical_gradient(lambda v: 0.0, bad)


def test_numerical_gradient_rejects_non_finite_f():
    with pytest.raises(ValueError, match="non-finite"):
        numerical_gradient(lambda v: np.inf, np.ones(2))


def test_check_layer_passes_a_correct_layer(rng):
    layer = Dense(3, activation="sigmoid")
    layer.build((4,), rng=rng, dtype="float64")
    report = check_layer(layer, rng.standard_normal((5, 4)))
    assert report.passed
    assert [r.name for r in report] == ["x", "kernel", "bias"]
    # Smooth layer in float64: the measured error sits near 1e-9 or below.
    assert report.worst() < 1e-7
    assert all(r.torch_passed for r in report)
    assert "kernel" in str(report) and "ok" in str(report)


class _WrongBias(Dense):
    """Dense with a deliberately wrong bias gradient (missing the batch sum)."""

    def backward(self, dy):
        dx = super().backward(dy)
        self.grads["bias"] = dy[0].copy()
        return dx


class _SlightlyWrongInput(Dense):
    """Dense whose input gradient is 0.01% off: torch's gradcheck would accept it."""

    def backward(self, dy):
        return 1.0001 * super().backward(dy)


def test_check_layer_rejects_wrong_gradients(rng):
    layer = _WrongBias(3)
    layer.build((4,), rng=rng, dtype="float64")
    report = check_layer(layer, rng.standard_normal((5, 4)))
    assert not report.passed
    assert report["bias"].relative_error > 0.1 and not report["bias"].passed
    assert report["kernel"].passed and report["x"].passed
    assert "FAIL" in str(report)

    subtle = _SlightlyWrongInput(3)
    subtle.build((4,), rng=rng, dtype="float64")
    report = check_layer(subtle, rng.standard_normal((5, 4)))
    assert not report["x"].passed and report["x"].torch_passed


def test_check_layer_on_a_sequential_with_sampled_entries(rng):
    model = Sequential([Conv2D(3, 3, strides=2, padding="same", activation="sigmoid"),
                        Conv2D(2, 3, padding="same")])
    model.build((6, 6, 2), rng=rng, dtype="float64")
    report = check_layer(model, rng.standard_normal((2, 6, 6, 2)), max_entries=20)
    assert report.passed, str(report)
    assert {r.name for r in report} == {"x", "conv2d/kernel", "conv2d/bias", "conv2d_1/kernel",
                                        "conv2d_1/bias"}


def test_check_layer_requires_float64_parameters_and_copies_x(rng):
    layer = Dense(2)
    layer.build((3,), rng=rng)
    with pytest.raises(TypeError, match="float64"):
        check_layer(layer, np.ones((1, 3)))
    layer.astype("float64")
    # x of another dtype is copied to float64, and the report says so.
    report = check_layer(layer, np.ones((1, 3), np.float32))
    assert report.passed and any("float32 copied to float64" in n for n in report.notes)
    with pytest.raises(ValueError, match="non-finite"):
        check_layer(layer, np.array([[1.0, np.inf, 0.0]]))


def test_check_gradients_validates_its_dicts(rng):
    p = {"w": rng.standard_normal(3)}
    with pytest.raises(ValueError, match="no analytic gradient"):
        check_gradients(lambda: 0.0, p, {})
    with pytest.raises(ValueError, match="has shape"):
        check_gradients(lambda: 0.0, p, {"w": np.zeros(4)})


def test_an_entry_near_a_kink_is_rechecked_and_passes():
    # f(w) = sum relu(w): the third entry sits 3e-7 from the kink, inside eps = 1e-6.
    w = np.array([0.5, -0.7, 3e-7, 1.2])
    analytic = (w > 0).astype(float)
    report = check_gradients(lambda: float(np.maximum(w, 0).sum()), {"w": w},
                             {"w": analytic})
    assert report.verdict == "pass" and report["w"].rechecked == 1
    assert report["w"].kinks == 1 and "1 kink" in str(report)


def test_a_wrong_gradient_fails_at_both_steps():
    w = np.array([0.5, -0.7, 0.3, 1.2])
    wrong = np.array([1.0, 0.0, 0.0, 1.0])      # the third entry should be 1
    report = check_gradients(lambda: float(np.maximum(w, 0).sum()), {"w": w}, {"w": wrong})
    # Re-measured (Richardson, one-sided) and still wrong, and no kink is claimed.
    assert not report.passed and report["w"].rechecked == 1 and report["w"].kinks == 0
    assert "kink" not in str(report).split("criterion")[0]


def test_the_package_modules_import_neither_the_package_nor_inside_functions():
    # DESIGN.md: no import cycles, and an __init__ counts as a module. `from . import m`
    # (or `from .. import gradcheck`) runs the package's __init__ from inside it.
    package = Path(minivae.gradcheck.__file__).parent
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert not (node.level == 1 and node.module is None), \
                    f"{path.name}:{node.lineno} imports the package"
                assert not (node.level == 2 and node.module is None
                            and any(a.name == "gradcheck" for a in node.names)), path.name
                assert not (node.module or "").startswith("minivae.gradcheck"), path.name
        for func in ast.walk(tree):
            if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = [n for n in ast.walk(func) if isinstance(n, (ast.Import, ast.ImportFrom))]
                assert not inner, f"{path.name}: an import inside {func.name}()"


def test_the_package_submodules_import_each_other_without_a_cycle():
    package = Path(minivae.gradcheck.__file__).parent
    uses = {}
    for path in package.glob("*.py"):
        if path.stem == "__init__":
            continue
        tree = ast.parse(path.read_text())
        uses[path.stem] = {n.module for n in ast.walk(tree)
                           if isinstance(n, ast.ImportFrom) and n.level == 1 and n.module}
    done, visiting = set(), set()

    def visit(m):
        assert m not in visiting, f"import cycle through {m}"
        if m in done:
            return
        visiting.add(m)
        for n in uses.get(m, ()):
            visit(n)
        visiting.discard(m)
        done.add(m)
    for m in uses:
        visit(m)
