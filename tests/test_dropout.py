"""Dropout: finite differences with a fixed mask, a loop reference, statistics, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import reference_layers as ref
from minivae.gradcheck import check_layer
from minivae.layers import Dropout

# Dropout with a fixed mask is linear in x (a diagonal of 0 and 1/(1-rate)):
# central differences are exact up to rounding, ~1e-10 relative. 1e-6 is
# gradcheck's default with margin; a backward that forgot the scale errs by ~rate.
RTOL = 1e-6
FixedMaskDropout = ref.FixedMaskDropout   # resets its Generator before every forward


def built(layer, shape, dtype="float64"):
    layer.build(shape, rng=np.random.default_rng(0), dtype=dtype)
    return layer


def kept_entries(y, x):
    """The mask a forward used, read back from its output (x has no zeros)."""
    assert np.all(x != 0)
    return y != 0


@pytest.mark.parametrize("rate", [0.0, 0.25, 0.5, 0.9])
@pytest.mark.parametrize("shape", [(6,), (3, 3, 2)])
def test_gradcheck_training_fixed_mask(rate, shape):
    layer = built(FixedMaskDropout(rate), shape)
    x = np.random.default_rng(1).standard_normal((4,) + shape)
    report = check_layer(layer, x, rng=np.random.default_rng(2))
    ref.assert_grads_close(report, RTOL)
    # The check saw a real mask: with 24 entries some are dropped whenever rate > 0.
    dropped = np.mean(layer.forward(x) == 0)
    assert (dropped > 0) == (rate > 0)


@pytest.mark.parametrize("rate", [0.0, 0.5])
def test_gradcheck_inference(rate):
    layer = built(Dropout(rate), (5,))
    x = np.random.default_rng(1).standard_normal((3, 5))
    ref.assert_grads_close(check_layer(layer, x, training=False), RTOL)


def test_matches_loop_reference():
    rate = 0.4
    rng = np.random.default_rng(3)
    x, dy = ref.away_from_zero(rng, (5, 7)), rng.standard_normal((5, 7))
    layer = built(Dropout(rate), (7,))
    y = layer.forward(x)
    kept = kept_entries(y, x)
    # Each entry is either dropped or scaled by exactly 1 / (1 - rate).
    np.testing.assert_allclose(y, ref.dropout(x, kept, rate), rtol=1e-15, atol=0)
    np.testing.assert_allclose(layer.backward(dy), ref.dropout(dy, kept, rate), rtol=1e-15, atol=0)


@settings(max_examples=30, deadline=None)
@given(n=ref.batch_sizes, shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
       rate=st.floats(0.0, 0.95), seed=ref.seeds)
def test_random_shapes(n, shape, rate, seed):
    rng = np.random.default_rng(seed)
    layer = built(Dropout(rate, rng=np.random.default_rng(seed)), shape)
    x = ref.away_from_zero(rng, (n,) + shape)
    y = layer.forward(x)
    kept = kept_entries(y, x)
    np.testing.assert_allclose(y, ref.dropout(x, kept, rate), rtol=1e-15, atol=0)
    # Gradient: the same mask, and a finite-difference check with it held fixed.
    dy = rng.standard_normal(y.shape)
    np.testing.assert_allclose(layer.backward(dy), ref.dropout(dy, kept, rate), rtol=1e-15, atol=0)
    fixed = built(FixedMaskDropout(rate), shape)
    ref.check_layer_close(fixed, x, RTOL, seed=seed)


def test_inference_is_identity():
    layer = built(Dropout(0.5), (4,))
    x = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_array_equal(layer.forward(x, training=False), x)
    dy = np.ones((3, 4))
    np.testing.assert_array_equal(layer.backward(dy), dy)


def test_keep_rate_and_mean_are_unbiased():
    rate, size = 0.3, 200_000
    layer = built(Dropout(rate, rng=np.random.default_rng(11)), (size,))
    y = layer.forward(np.ones((1, size)))
    kept = np.mean(y != 0)
    # Binomial: the kept fraction has standard error sqrt(p (1-p) / size) ~ 1e-3;
    # 5 standard errors fail a correct layer with probability < 1e-6.
    se = np.sqrt(rate * (1 - rate) / size)
    assert abs(kept - (1 - rate)) < 5 * se
    # Inverted dropout: E[y] = x = 1; y's std per entry is sqrt(rate/(1-rate)).
    assert abs(y.mean() - 1.0) < 5 * np.sqrt(rate / (1 - rate) / size)


def test_masks_come_from_the_layer_generator():
    x = np.ones((4, 10))
    a = built(Dropout(0.5, rng=np.random.default_rng(5)), (10,))
    b = built(Dropout(0.5, rng=np.random.default_rng(5)), (10,))
    np.testing.assert_array_equal(a.forward(x), b.forward(x))
    # A fresh mask every forward (40 entries: equal masks have probability 2**-40).
    assert not np.array_equal(a.forward(x), a.forward(x))
    # Without a constructor rng the Generator handed to build is used.
    c, d = Dropout(0.5), Dropout(0.5)
    c.build((10,), rng=np.random.default_rng(9))
    d.build((10,), rng=np.random.default_rng(9))
    np.testing.assert_array_equal(c.forward(x), d.forward(x))


def test_float32_stays_float32():
    layer = built(Dropout(0.5), (3,), dtype="float32")
    y = layer.forward(np.ones((2, 3), dtype=np.float32))
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    # The scale 1/(1-rate) is exact in float32 here: kept entries are exactly 2.
    assert set(np.unique(y)) <= {0.0, 2.0}


def test_float64_layer():
    layer = built(Dropout(0.5), (3,), dtype="float32").astype("float64")
    assert layer.forward(np.ones((2, 3), dtype=np.float32)).dtype == np.float64


@pytest.mark.parametrize("rate, exc, match", [
    (1.0, ValueError, r"rate must lie in \[0, 1\), got 1.0"),
    (-0.1, ValueError, r"rate must lie in \[0, 1\)"),
    (float("nan"), ValueError, r"rate must lie in \[0, 1\)"),
    ("0.5", TypeError, "rate must be a number"),
])
def test_bad_rate(rate, exc, match):
    with pytest.raises(exc, match=match):
        Dropout(rate)


def test_bad_rng_and_inputs():
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator or None, got int"):
        Dropout(0.5, rng=3)
    layer = built(Dropout(0.5), (3,))
    with pytest.raises(ValueError, match=r"expected x of shape \(batch, 3\), got \(2, 4\)"):
        layer.forward(np.ones((2, 4)))
    with pytest.raises(TypeError, match="floating-point array, got dtype int"):
        layer.forward(np.ones((2, 3), dtype=int))
