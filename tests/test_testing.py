"""minivae.testing: assertions with the report as their message, and conv geometries."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings

from minivae.gradcheck import check_layer
from minivae.layers import Conv2D, Conv2DTranspose
from minivae.testing import (ConvGeometry, assert_grad, assert_layer, assert_passes,
                             assert_vjp, conv_geometries, seeds)


def test_assertions_carry_the_report(rng):
    x = rng.standard_normal(4)
    report = assert_grad(lambda v: np.sum(v ** 2), lambda v: 2 * v, x)
    assert report.verdict == "pass"
    with pytest.raises(AssertionError) as caught:
        assert_vjp(np.sin, lambda dy, v: (dy * np.sin(v),), x)
    message = str(caught.value)
    assert message.startswith("gradient check FAIL") and "x: FAIL" in message
    assert "analytic" in message and "verdict: FAIL" in message


def test_strict_refuses_an_inconclusive_check(rng):
    # A loss with heavy cancellation: the floor is far above rtol * scale.
    x = rng.standard_normal(5) * 1e3
    f = lambda v: np.sum(v ** 2) - np.sum(v ** 2 * (1 - 1e-9))      # noqa: E731
    assert assert_grad(f, lambda v: 2e-9 * v, x).verdict == "inconclusive"
    with pytest.raises(AssertionError, match="gradient check inconclusive"):
        assert_grad(f, lambda v: 2e-9 * v, x, strict=True)
    with pytest.raises(AssertionError):
        assert_passes(assert_grad(f, lambda v: 2e-9 * v, x), strict=True)


def test_conv_geometry_shapes_follow_keras():
    g = ConvGeometry(batch=2, height=7, width=6, channels=3, filters=4, kernel_size=3,
                     strides=2, padding="same")
    assert g.output_shape == (2, 4, 3, 4) and g.kernel_shape == (3, 3, 3, 4)
    valid = ConvGeometry(1, 7, 6, 1, 1, 3, 2, "valid")
    assert valid.output_shape == (1, 3, 2, 1)
    # PyTorch's padding=1: (7 + 2 - 3) // 2 + 1 = 4 and (6 + 2 - 3) // 2 + 1 = 3
    assert ConvGeometry(1, 7, 6, 1, 1, 3, 2, 1).output_shape == (1, 4, 3, 1)
    x, kernel, bias = g.arrays(seed=0)
    assert (x.shape, kernel.shape, bias.shape) == (g.input_shape, g.kernel_shape, (4,))


@settings(max_examples=12, deadline=None)
@given(geometry=conv_geometries(max_size=6, max_channels=2, max_filters=2,
                                paddings=("same", "valid", 1, 2)), seed=seeds())
def test_conv2d_gradients_over_geometries(geometry, seed):
    # The strategies in use, as another project would use them: minivae's Conv2D.
    layer = Conv2D(geometry.filters, geometry.kernel_size, strides=geometry.strides,
                   padding=geometry.padding)
    layer.build(geometry.input_shape[1:], rng=np.random.default_rng(seed), dtype="float64")
    assert layer.output_shape == geometry.output_shape[1:]
    x, _, _ = geometry.arrays(seed)
    report = assert_layer(layer, x)
    assert report["x"].shape == geometry.input_shape


@settings(max_examples=6, deadline=None)
@given(geometry=conv_geometries(max_size=4, paddings=("same",), strides=(2,)), seed=seeds())
def test_conv2d_transpose_gradients_over_geometries(geometry, seed):
    layer = Conv2DTranspose(geometry.filters, geometry.kernel_size, strides=2, padding="same")
    layer.build(geometry.input_shape[1:], rng=np.random.default_rng(seed), dtype="float64")
    x, _, _ = geometry.arrays(seed)
    assert check_layer(layer, x).verdict == "pass"


def test_importing_needs_no_hypothesis():
    # hypothesis is a test dependency: the module imports it only inside its strategies.
    code = ("import sys; sys.modules['hypothesis'] = None; import minivae.testing as t; "
            "print(t.ConvGeometry(1, 2, 2, 1, 1, 1, 1, 'same').output_shape)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "(1, 2, 2, 1)", out.stderr
