"""Losses: values against slow references, gradients against finite differences."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from minivae import distributions, losses
from minivae.gradcheck import numerical_gradient, relative_error

# Central differences in float64 (eps = 1e-6) of these smooth losses land near
# 1e-9 relative error (truncation ~eps^2 f''', rounding ~1e-16 |f| / eps); 1e-6
# leaves three orders of margin while a wrong factor or sign gives an error ~1.
GRAD_RTOL = 1e-6
# Values against the slow references: the same float64 arithmetic in another
# order, so only rounding differs (~1e-15 relative).
VALUE_RTOL = 1e-12

RECONSTRUCTION = [losses.binary_crossentropy, losses.binary_crossentropy_from_logits,
                  losses.mean_squared_error]

batch_shapes = st.builds(lambda n, rest: (n, *rest), st.integers(1, 4),
                         st.lists(st.integers(1, 4), max_size=3))
seeds = st.integers(0, 2**32 - 1)


def _inputs(fn, shape, rng):
    """y_true in [0, 1] and a prediction suited to `fn`, both float64."""
    y_true = rng.uniform(0, 1, shape)
    if fn is losses.binary_crossentropy_from_logits:
        return y_true, rng.normal(0, 3, shape)
    # probabilities kept 0.05 away from the clip, so central differences never cross it
    return y_true, rng.uniform(0.05, 0.95, shape)


# -- slow references: one element at a time, Python floats -----------------------
def _per_sample(ell, y_true, y_pred):
    n = y_true.shape[0]
    rows = zip(y_true.reshape(n, -1), y_pred.reshape(n, -1))
    return np.array([sum(ell(float(a), float(b)) for a, b in zip(yt, yp)) / yt.size
                     for yt, yp in rows])


def ref_bce(y_true, y_pred):
    def ell(y, p):
        p = min(max(p, 1e-7), 1 - 1e-7)            # Keras: clip to [epsilon, 1 - epsilon]
        return -(y * math.log(p) + (1 - y) * math.log(1 - p))
    return _per_sample(ell, y_true, y_pred)


def ref_bce_logits(y_true, logits):
    def ell(y, l):                                  # log sigmoid(l) and log sigmoid(-l), by scipy
        return -(y * special.log_expit(l) + (1 - y) * special.log_expit(-l))
    return _per_sample(ell, y_true, logits)


def ref_mse(y_true, y_pred):
    return _per_sample(lambda y, p: (p - y) ** 2, y_true, y_pred)


def ref_kl(mu, log_var):
    return np.array([sum(-0.5 * (1 + lv - m * m - math.exp(lv)) for m, lv in zip(mu_n, lv_n))
                     for mu_n, lv_n in zip(mu.tolist(), log_var.tolist())])


REFERENCES = {losses.binary_crossentropy: ref_bce,
              losses.binary_crossentropy_from_logits: ref_bce_logits,
              losses.mean_squared_error: ref_mse}


# -- reconstruction losses: value, gradient, reductions ------------------------------
@pytest.mark.parametrize("fn", RECONSTRUCTION, ids=lambda f: f.__name__)
@settings(deadline=None, max_examples=30)
@given(shape=batch_shapes, seed=seeds)
def test_value_matches_reference(fn, shape, seed):
    y_true, y_pred = _inputs(fn, shape, np.random.default_rng(seed))
    per_sample = REFERENCES[fn](y_true, y_pred)
    value, _ = fn(y_true, y_pred)
    np.testing.assert_allclose(value, per_sample.mean(), rtol=VALUE_RTOL)
    values, _ = fn(y_true, y_pred, reduction="none")
    assert values.shape == (shape[0],)
    np.testing.assert_allclose(values, per_sample, rtol=VALUE_RTOL)


@pytest.mark.parametrize("fn", RECONSTRUCTION, ids=lambda f: f.__name__)
@settings(deadline=None, max_examples=30)
@given(shape=batch_shapes, seed=seeds)
def test_gradient_matches_finite_differences(fn, shape, seed):
    y_true, y_pred = _inputs(fn, shape, np.random.default_rng(seed))
    _, grad = fn(y_true, y_pred)
    numeric = numerical_gradient(lambda x: fn(y_true, x)[0], y_pred.copy())
    assert relative_error(grad, numeric) <= GRAD_RTOL
    # reduction="none": samples do not interact, so d sum(values) / d y_pred holds
    # every sample's own gradient d values[n] / d y_pred[n]
    _, grads = fn(y_true, y_pred, reduction="none")
    numeric = numerical_gradient(lambda x: fn(y_true, x, reduction="none")[0].sum(),
                                 y_pred.copy())
    assert relative_error(grads, numeric) <= GRAD_RTOL
    np.testing.assert_allclose(grads, shape[0] * grad, rtol=1e-14)


@pytest.mark.parametrize("fn", RECONSTRUCTION, ids=lambda f: f.__name__)
def test_float32_stays_float32(fn):
    rng = np.random.default_rng(0)
    y_true, y_pred = _inputs(fn, (3, 4, 4, 1), rng)
    # float64 data against a float32 prediction: computed in the prediction's dtype
    value32, grad32 = fn(y_true, y_pred.astype(np.float32))
    values32, _ = fn(y_true, y_pred.astype(np.float32), reduction="none")
    assert grad32.dtype == np.float32 and values32.dtype == np.float32
    value64, grad64 = fn(y_true, y_pred)
    # float32 rounding (~6e-8 per operation, a few dozen operations deep) stays below 1e-5
    np.testing.assert_allclose(value32, value64, rtol=1e-5)
    np.testing.assert_allclose(grad32, grad64, rtol=1e-5, atol=1e-7 * np.abs(grad64).max())


# -- binary cross-entropy: Keras's clip ------------------------------------------------
def test_bce_clips_like_keras():
    y_true = np.array([[1.0, 0.0, 1.0, 0.0, 0.5, 0.5]])
    y_pred = np.array([[0.0, 1.0, -0.2, 1.3, 0.0, 1.0]])
    # every prediction is clipped to 1e-7 or 1 - 1e-7: -log(1e-7) = 16.118 where it is wrong
    expected = ref_bce(y_true, y_pred)
    value, grad = losses.binary_crossentropy(y_true, y_pred)
    np.testing.assert_allclose(value, expected[0], rtol=VALUE_RTOL)
    np.testing.assert_allclose(value * 6, 4 * -math.log(1e-7) + 2 * 0.5 * 16.118095, rtol=1e-6)
    # the clipped value is flat in y_pred, so the gradient is exactly zero, as in Keras
    assert np.all(grad == 0)
    # a finite difference of 1e-8 stays inside the flat region at 0 and at 1
    numeric = numerical_gradient(lambda x: losses.binary_crossentropy(y_true, x)[0],
                                 y_pred.copy(), eps=1e-8)
    assert np.all(numeric == 0)


def test_bce_clip_in_float32():
    y_true = np.array([[1.0, 0.0]], dtype=np.float32)
    y_pred = np.array([[0.0, 1.0]], dtype=np.float32)
    value, grad = losses.binary_crossentropy(y_true, y_pred)
    # the bounds are float32(1e-7) and float32(1 - 1e-7) = 1 - 2^-23 (1e-7 rounds to 2 ulps)
    lo, hi = np.float32(1e-7), np.float32(1 - 1e-7)
    expected = 0.5 * (-np.log(lo) - np.log(np.float32(1) - hi))
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    assert np.all(grad == 0) and grad.dtype == np.float32


def test_bce_gradient_passes_at_the_clip_bounds():
    # like tf.clip_by_value, the gradient is zero strictly outside [1e-7, 1 - 1e-7] only
    y_pred = np.array([[1e-7, 1 - 1e-7, 1e-7 * 0.999]])
    _, grad = losses.binary_crossentropy(np.ones_like(y_pred), y_pred)
    assert grad[0, 0] != 0 and grad[0, 1] != 0 and grad[0, 2] == 0


# -- binary cross-entropy from logits --------------------------------------------------
@settings(deadline=None, max_examples=30)
@given(shape=batch_shapes, seed=seeds)
def test_bce_from_logits_equals_bce_on_probabilities(shape, seed):
    rng = np.random.default_rng(seed)
    y_true = rng.uniform(0, 1, shape)
    # |l| <= 10 keeps sigmoid(l) in [4.5e-5, 1 - 4.5e-5], far from the clip at 1e-7
    logits = rng.uniform(-10, 10, shape)
    s = special.expit(logits)
    value, d_logits = losses.binary_crossentropy_from_logits(y_true, logits)
    value_p, d_s = losses.binary_crossentropy(y_true, s)
    # log(1 - s) loses digits to cancellation near s = 1: at l = 10 about 1e-16 / 4.5e-5
    # = 2e-12 relative in one term, hence 1e-9 rather than 1e-12
    np.testing.assert_allclose(value, value_p, rtol=1e-9)
    # chain rule: d/dl = d/ds * s (1 - s)
    np.testing.assert_allclose(d_logits, d_s * s * (1 - s), rtol=1e-9, atol=1e-18)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("magnitude", [1e4, 1e6, 1e30])
def test_bce_from_logits_stable_at_huge_logits(dtype, magnitude):
    y_true = np.array([[0.0, 1.0, 0.3, 0.0, 1.0, 0.3]], dtype=dtype)
    logits = np.array([[magnitude] * 3 + [-magnitude] * 3], dtype=dtype)
    value, grad = losses.binary_crossentropy_from_logits(y_true, logits)
    assert np.isfinite(value) and np.all(np.isfinite(grad)) and grad.dtype == dtype
    # exact limits: ell = (1 - y) l for l -> +inf and y |l| for l -> -inf; sigmoid -> 1, 0
    y, m = y_true.astype(np.float64)[0], float(magnitude)
    expected = np.concatenate([(1 - y[:3]) * m, y[3:] * m]).mean()
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    expected_grad = (np.array([1, 1, 1, 0, 0, 0]) - y) / 6
    np.testing.assert_allclose(grad[0], expected_grad, rtol=1e-6)
    if magnitude == 1e4 and dtype == np.float64:
        np.testing.assert_allclose(value, ref_bce_logits(y_true, logits)[0], rtol=VALUE_RTOL)


# -- Gaussian KL --------------------------------------------------------------------
latent_shapes = st.tuples(st.integers(1, 5), st.integers(1, 6))


def test_kl_is_zero_at_the_prior():
    value, d_mu, d_log_var = losses.gaussian_kl(np.zeros((3, 2)), np.zeros((3, 2)))
    assert value == 0 and np.all(d_mu == 0) and np.all(d_log_var == 0)


@settings(deadline=None, max_examples=30)
@given(shape=latent_shapes, seed=seeds)
def test_kl_matches_reference_and_finite_differences(shape, seed):
    rng = np.random.default_rng(seed)
    mu, log_var = rng.normal(0, 1.5, shape), rng.uniform(-3, 3, shape)
    value, d_mu, d_log_var = losses.gaussian_kl(mu, log_var)
    np.testing.assert_allclose(value, ref_kl(mu, log_var).mean(), rtol=VALUE_RTOL)
    values, _, _ = losses.gaussian_kl(mu, log_var, reduction="none")
    np.testing.assert_allclose(values, ref_kl(mu, log_var), rtol=VALUE_RTOL)
    np.testing.assert_allclose(values, distributions.diagonal_gaussian_kl(mu, log_var), rtol=0)
    num_mu = numerical_gradient(lambda m: losses.gaussian_kl(m, log_var)[0], mu.copy())
    num_lv = numerical_gradient(lambda lv: losses.gaussian_kl(mu, lv)[0], log_var.copy())
    assert relative_error(d_mu, num_mu) <= GRAD_RTOL
    assert relative_error(d_log_var, num_lv) <= GRAD_RTOL


@pytest.mark.parametrize("mu, log_var", [(0.0, 0.0), (1.3, -0.7), (-2.0, 1.5), (0.2, -4.0)])
def test_kl_matches_scipy_integral(mu, log_var):
    sigma = math.exp(0.5 * log_var)
    q, p = stats.norm(mu, sigma), stats.norm(0, 1)
    # KL = integral q(z) (log q(z) - log p(z)) dz; quad's default accuracy is ~1.5e-8
    integral, _ = integrate.quad(lambda z: q.pdf(z) * (q.logpdf(z) - p.logpdf(z)),
                                 mu - 40 * sigma, mu + 40 * sigma, points=[mu], limit=200)
    # and the closed form built from scipy's entropy: KL = -H(q) - E_q[log p]
    closed = -q.entropy() + 0.5 * math.log(2 * math.pi) + 0.5 * (mu ** 2 + sigma ** 2)
    value, _, _ = losses.gaussian_kl(np.array([[mu]]), np.array([[log_var]]))
    assert abs(value - integral) <= 1e-7
    assert abs(value - closed) <= 1e-12 * max(1.0, abs(closed))


def test_kl_matches_monte_carlo():
    rng = np.random.default_rng(1234)
    mu, log_var = np.array([[0.5, -1.0, 0.0]]), np.array([[-0.5, 0.3, 1.0]])
    sigma = np.exp(0.5 * log_var)
    n = 200_000
    z = mu + sigma * rng.standard_normal((n, 3))
    w = (stats.norm.logpdf(z, mu, sigma) - stats.norm.logpdf(z)).sum(axis=1)   # log q - log p
    estimate, standard_error = w.mean(), w.std(ddof=1) / math.sqrt(n)
    value, _, _ = losses.gaussian_kl(mu, log_var)
    # the Monte-Carlo mean is unbiased with standard error ~2e-3 here; 5 standard errors
    # would be crossed by chance with probability ~6e-7 (and the seed is fixed)
    assert abs(estimate - value) <= 5 * standard_error


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kl_finite_over_wide_log_var(dtype):
    log_var = np.linspace(-50, 50, 101, dtype=dtype).reshape(1, -1)
    mu = np.linspace(-10, 10, 101, dtype=dtype).reshape(1, -1)
    value, d_mu, d_log_var = losses.gaussian_kl(mu, log_var)
    values, _, _ = losses.gaussian_kl(mu, log_var, reduction="none")
    assert math.isfinite(value) and values.dtype == dtype
    assert d_mu.dtype == dtype and d_log_var.dtype == dtype
    assert np.all(np.isfinite(d_mu)) and np.all(np.isfinite(d_log_var))
    expected = ref_kl(mu.astype(np.float64), log_var.astype(np.float64))[0]
    np.testing.assert_allclose(value, expected, rtol=1e-6)


# -- bad input ------------------------------------------------------------------------
@pytest.mark.parametrize("fn", RECONSTRUCTION, ids=lambda f: f.__name__)
def test_reconstruction_losses_reject_bad_input(fn):
    name = "logits" if fn is losses.binary_crossentropy_from_logits else "y_pred"
    good = np.full((2, 3), 0.5)
    with pytest.raises(ValueError, match=rf"y_true and {name} must have the same shape, "
                                         rf"got y_true \(2, 3\) and {name} \(2, 4\)"):
        fn(good, np.full((2, 4), 0.5))
    with pytest.raises(TypeError, match="y_true must be a floating-point array, got dtype int64"):
        fn(np.ones((2, 3), dtype=np.int64), good)
    with pytest.raises(TypeError, match=rf"{name} must be a floating-point array, got dtype uint8"):
        fn(good, np.ones((2, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match=rf"non-empty batch .* got {name} of shape \(0, 3\)"):
        fn(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError, match=rf"got {name} of shape \(\)"):
        fn(np.array(0.5), np.array(0.5))
    with pytest.raises(ValueError, match="unknown reduction 'sum'; expected one of 'mean', 'none'"):
        fn(good, good, reduction="sum")


def test_kl_rejects_bad_input():
    with pytest.raises(ValueError, match=r"mu and log_var must have the same shape, "
                                         r"got mu \(2, 3\) and log_var \(2, 2\)"):
        losses.gaussian_kl(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"shape \(batch, latent_dim\), got \(3,\)"):
        losses.gaussian_kl(np.zeros(3), np.zeros(3))
    with pytest.raises(TypeError, match="log_var must be a floating-point array, got dtype int64"):
        losses.gaussian_kl(np.zeros((2, 3)), np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="unknown reduction"):
        losses.gaussian_kl(np.zeros((2, 3)), np.zeros((2, 3)), reduction="sum")
