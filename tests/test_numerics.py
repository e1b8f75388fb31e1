"""Numerics at the extremes: saturated sigmoids, huge logits, log-variances of +-50.

tests/test_losses.py already holds the losses alone at the extremes (BCE from
logits at |l| = 1e4, 1e6, 1e30; the KL over log_var in [-50, 50]) and
tests/test_activations.py the sigmoid at +-1e4. Here: the Sampling layer over
the same range, the same ranges through the whole model, scipy's log_expit as
an independent check of the hand-written softplus, and where float32 stops
(no clamp is applied anywhere; docs/sampling.md and docs/losses.md).
"""

import warnings

import numpy as np
import pytest
from scipy.special import expit, log_expit

from minivae import losses
from minivae.architectures import fashion_vae
from minivae.layers import Sampling
from minivae.optimizers import Adam
from minivae.training import TrainingDiverged

DTYPES = [np.float32, np.float64]
LOG_VARS = np.linspace(-50, 50, 101)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sampling_is_finite_for_log_var_from_minus_50_to_50(dtype):
    layer = Sampling()
    layer.build((LOG_VARS.size,), rng=np.random.default_rng(0), dtype=dtype)
    z_mean = np.linspace(-10, 10, LOG_VARS.size, dtype=dtype)[None]
    z_log_var = LOG_VARS.astype(dtype)[None]
    eps = np.random.default_rng(1).standard_normal(z_mean.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # an overflow in exp would warn
        z = layer.forward((z_mean, z_log_var), eps=eps)
        d_z_mean, d_z_log_var = layer.backward(np.ones_like(z))
    for array in (z, d_z_mean, d_z_log_var):
        assert array.dtype == dtype and np.all(np.isfinite(array))
    # sigma = exp(lv / 2) spans exp(-25) = 1.4e-11 to exp(25) = 7.2e10: both ends are
    # exact to float rounding, so the layer neither clamps nor flushes them.
    sigma = np.exp(0.5 * LOG_VARS)
    rtol = 1e-6 if dtype == np.float32 else 1e-13      # a few ulps of the dtype
    np.testing.assert_allclose(d_z_log_var[0], 0.5 * sigma * eps[0], rtol=rtol)
    np.testing.assert_allclose(z[0], z_mean[0] + sigma * eps[0], rtol=rtol,
                               atol=rtol * np.abs(z_mean).max())


@pytest.mark.parametrize("dtype", DTYPES)
def test_where_float_stops_nothing_is_clamped_and_fit_says_so(dtype):
    """Past log_var = 88.7 exp overflows float32 (709.8 for float64). No clamp hides it:
    the KL becomes inf, and fit stops with TrainingDiverged instead of training on it."""
    edge = 89.0 if dtype == np.float32 else 710.0
    with np.errstate(over="ignore"):
        value, _, d_log_var = losses.gaussian_kl(np.zeros((1, 1), dtype),
                                                 np.full((1, 1), edge, dtype))
    assert value == np.inf and d_log_var[0, 0] == np.inf
    model = fashion_vae(seed=0, dtype=np.dtype(dtype).name).compile(Adam())
    head = model.encoder.z_log_var.params
    head["kernel"][:] = 0
    head["bias"][:] = edge                     # every z_log_var is `edge`
    x = np.random.default_rng(0).random((4, 32, 32, 1)).astype(dtype)
    with pytest.raises(TrainingDiverged, match=r"epoch 1, batch 1: non-finite total_loss"):
        model.fit(x, epochs=1, batch_size=4, verbose=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log_var", [-50.0, 50.0])
def test_the_model_stays_finite_at_extreme_log_var(dtype, log_var):
    """The whole VAE, every z_log_var at -50 or 50 (and z_mean at 0): loss and every
    gradient finite."""
    model = fashion_vae(seed=0, dtype=np.dtype(dtype).name)
    for head, value in ((model.encoder.z_mean, 0.0), (model.encoder.z_log_var, log_var)):
        head.params["kernel"][:] = 0
        head.params["bias"][:] = value
    x = np.random.default_rng(0).random((4, 32, 32, 1)).astype(dtype)
    with np.errstate(all="raise"):              # any overflow would raise FloatingPointError
        metrics = model.forward_backward(x)
    assert all(np.isfinite(v) for v in metrics.values()), metrics
    # KL per image = 0.5 * latent_dim * (expm1(lv) - lv): 2 dims give 49 at -50, 5.2e21 at 50
    np.testing.assert_allclose(metrics["kl_loss"], np.expm1(log_var) - log_var, rtol=1e-6)
    for name, grad in model.named_grads().items():
        assert grad.dtype == dtype and np.all(np.isfinite(grad)), name


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [-1e4, 1e4])
def test_bce_stays_finite_when_the_decoder_sigmoid_saturates(dtype, bias):
    """A final sigmoid pushed to exactly 0 or 1 (logit +-1e4). The model scores BCE from
    the logits, as Keras does for a sigmoid's output: the loss is finite (|l| per wrong
    pixel, not capped by a clip) and the gradient is finite and alive (sigmoid(l) - x),
    where the clipped form would report 16.1 per pixel and a zero gradient."""
    model = fashion_vae(seed=0, dtype=np.dtype(dtype).name)
    last = model.decoder.layers[-1].params
    last["kernel"][:] = 0
    last["bias"][:] = bias
    x = np.random.default_rng(0).random((4, 32, 32, 1)).astype(dtype)
    with np.errstate(all="raise"):
        metrics = model.forward_backward(x)
    per_pixel = metrics["reconstruction_loss"] / model.reconstruction_weight
    # softplus(l) - x l with l = +-1e4: 1e4 (1 - x) or 1e4 x, whose mean over uniform
    # pixels is near 5e3; far beyond the clipped form's 16.1.
    assert np.isfinite(per_pixel) and 1e3 < per_pixel < 1e4
    for name, grad in model.named_grads().items():
        assert np.all(np.isfinite(grad)), name
    assert np.abs(model.decoder.layers[-1].grads["bias"]).max() > 0.1


@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus_by_hand_agrees_with_scipy_log_expit(dtype):
    """BCE from logits is written by hand as max(l, 0) - l y + log1p(exp(-|l|)), because
    scipy.special.softplus needs scipy 1.15 and minivae supports 1.10. scipy's log_expit
    (1.8+), itself stable, gives the same loss as -(y log s + (1 - y) log(1 - s))."""
    logits = np.array([-1e30, -1e4, -50, -1, -1e-3, 0, 1e-3, 1, 50, 1e4, 1e30], dtype)
    y = np.linspace(0, 1, logits.size, dtype=dtype)
    values, grad = losses.binary_crossentropy_from_logits(y[None], logits[None],
                                                          reduction="none")
    ell = -(y * log_expit(logits) + (1 - y) * log_expit(-logits))
    assert np.all(np.isfinite(ell)) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(values[0], ell.mean(), rtol=1e-6)
    # the per-sample value is the mean over the 11 entries, so each gradient carries 1/11;
    # atol: at l = +-1e-3, sigmoid(l) - y is a difference of O(1) numbers (a float32 ulp)
    np.testing.assert_allclose(grad[0] * logits.size, expit(logits) - y, rtol=1e-6,
                               atol=1e-7)
