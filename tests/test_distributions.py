"""Distributions: densities against scipy.stats, the KL against its closed form."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from minivae import distributions as D
from minivae import losses

# scipy evaluates the same float64 formulas in another order: ~1e-15 relative,
# so 1e-10 is loose for rounding and tight for any wrong term.
RTOL = 1e-10

seeds = st.integers(0, 2**32 - 1)
shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


def random_spd(d, rng):
    """A A^T + d I: symmetric, eigenvalues >= d, so well conditioned (no near-singular draws)."""
    A = rng.standard_normal((d, d))
    return A @ A.T + d * np.eye(d)


# -- univariate normal ----------------------------------------------------------------
@settings(deadline=None, max_examples=30)
@given(shape=shapes, seed=seeds)
def test_normal_matches_scipy(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 3, shape)
    mean = rng.normal(0, 1, shape[-1:])                 # broadcasts along the last axis
    std = rng.uniform(0.1, 3.0)
    np.testing.assert_allclose(D.normal_logpdf(x, mean, std),
                               stats.norm.logpdf(x, mean, std), rtol=RTOL)
    np.testing.assert_allclose(D.normal_pdf(x, mean, std),
                               stats.norm.pdf(x, mean, std), rtol=RTOL)
    np.testing.assert_allclose(D.normal_logpdf(x), stats.norm.logpdf(x), rtol=RTOL)


def test_normal_scalars_integers_and_dtypes():
    assert D.normal_pdf(0) == pytest.approx(1 / math.sqrt(2 * math.pi), rel=1e-15)
    assert D.normal_logpdf(np.array([1, 2]), mean=1, std=2).dtype == np.float64
    x32 = np.linspace(-3, 3, 7, dtype=np.float32)
    # float32 stays float32 with Python-number parameters (they are "weak" in NumPy 2)
    assert D.normal_logpdf(x32, 0.5, 2.0).dtype == np.float32
    assert D.normal_pdf(x32).dtype == np.float32
    np.testing.assert_allclose(D.normal_pdf(x32), stats.norm.pdf(x32.astype(np.float64)),
                               rtol=1e-6)    # float32 rounding, a few ulps of 6e-8


def test_normal_rejects_bad_input():
    with pytest.raises(ValueError,
                       match="normal_logpdf: std must be > 0 everywhere, got a minimum of 0.0"):
        D.normal_logpdf(np.zeros(3), std=np.array([1.0, 0.0, 2.0]))
    with pytest.raises(ValueError, match="std must be > 0 everywhere, got a minimum of -1.0"):
        D.normal_pdf(1.0, std=-1.0)
    with pytest.raises(ValueError, match=r"shapes do not broadcast together: "
                                         r"x \(3,\), mean \(2,\), std \(\)"):
        D.normal_logpdf(np.zeros(3), mean=np.zeros(2))
    with pytest.raises(TypeError, match="x must be an array of real numbers, got dtype complex128"):
        D.normal_logpdf(np.zeros(2, dtype=complex))
    with pytest.raises(TypeError, match="mean must be an array of real numbers, got dtype <U1"):
        D.normal_pdf(1.0, mean="a")


# -- multivariate normal ------------------------------------------------------------
@settings(deadline=None, max_examples=30)
@given(d=st.integers(1, 6), n=st.integers(1, 5), seed=seeds)
def test_multivariate_normal_matches_scipy(d, n, seed):
    rng = np.random.default_rng(seed)
    cov = random_spd(d, rng)
    mean = rng.normal(0, 1, d)
    x = rng.normal(0, 2, (n, d))
    expected = np.atleast_1d(stats.multivariate_normal.logpdf(x, mean, cov))
    got = D.multivariate_normal_logpdf(x, mean, cov)
    assert got.shape == (n,)
    np.testing.assert_allclose(got, expected, rtol=RTOL)
    single = D.multivariate_normal_logpdf(x[0], mean, cov)      # x of shape (d,): a scalar
    assert np.ndim(single) == 0
    np.testing.assert_allclose(single, expected[0], rtol=RTOL)


def test_multivariate_normal_reduces_to_the_univariate_and_diagonal_cases():
    rng = np.random.default_rng(5)
    z, mu, log_var = rng.normal(size=(4, 3)), rng.normal(size=3), rng.uniform(-2, 2, 3)
    np.testing.assert_allclose(D.multivariate_normal_logpdf(z, mu, np.diag(np.exp(log_var))),
                               D.diagonal_gaussian_logpdf(z, mu, log_var), rtol=RTOL)
    np.testing.assert_allclose(D.multivariate_normal_logpdf(z[:, :1], mu[:1], [[4.0]]),
                               D.normal_logpdf(z[:, 0], mu[0], 2.0), rtol=RTOL)


def test_multivariate_normal_float32():
    rng = np.random.default_rng(0)
    cov, mean, x = random_spd(4, rng), rng.normal(size=4), rng.normal(size=(3, 4))
    got = D.multivariate_normal_logpdf(x.astype(np.float32), mean.astype(np.float32),
                                       cov.astype(np.float32))
    assert got.dtype == np.float32
    # float32 Cholesky of a matrix with condition number < ~10: errors ~1e-6 relative
    np.testing.assert_allclose(got, stats.multivariate_normal.logpdf(x, mean, cov), rtol=1e-5)


def test_multivariate_normal_rejects_non_spd_and_bad_shapes():
    owner = "multivariate_normal_logpdf"
    x, mean = np.zeros(2), np.zeros(2)
    with pytest.raises(ValueError, match=rf"{owner}: cov must be positive definite, but its "
                                         r"Cholesky factorisation failed "
                                         r"\(smallest eigenvalue -1\)"):
        D.multivariate_normal_logpdf(x, mean, np.array([[1.0, 0.0], [0.0, -1.0]]))
    with pytest.raises(ValueError, match="cov must be positive definite"):     # singular
        D.multivariate_normal_logpdf(x, mean, np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"cov must be symmetric, got max \|cov - cov.T\| = 0.5"):
        D.multivariate_normal_logpdf(x, mean, np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="cov holds non-finite values"):
        D.multivariate_normal_logpdf(x, mean, np.array([[1.0, np.nan], [np.nan, 1.0]]))
    with pytest.raises(ValueError,
                       match=r"cov must be a square matrix \(d, d\), got shape \(2, 3\)"):
        D.multivariate_normal_logpdf(x, mean, np.zeros((2, 3)))
    with pytest.raises(ValueError,
                       match=r"mean must have shape \(2,\) to match cov \(2, 2\), got \(3,\)"):
        D.multivariate_normal_logpdf(x, np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match=r"x must have shape \(2,\) or \(n, 2\) to match cov "
                                         r"\(2, 2\), got \(4, 3\)"):
        D.multivariate_normal_logpdf(np.zeros((4, 3)), mean, np.eye(2))


# -- diagonal Gaussians ---------------------------------------------------------------
@settings(deadline=None, max_examples=30)
@given(k=st.integers(1, 3), n=st.integers(1, 4), d=st.integers(1, 6), seed=seeds)
def test_diagonal_gaussian_logpdf_matches_scipy_with_broadcasting(k, n, d, seed):
    rng = np.random.default_rng(seed)
    mu, log_var = rng.normal(size=(n, d)), rng.uniform(-4, 4, (n, d))
    z = rng.normal(size=(k, n, d))                     # K importance samples per data point
    got = D.diagonal_gaussian_logpdf(z, mu, log_var)
    assert got.shape == (k, n)
    expected = stats.norm.logpdf(z, mu, np.exp(0.5 * log_var)).sum(axis=-1)
    np.testing.assert_allclose(got, expected, rtol=RTOL)


@settings(deadline=None, max_examples=30)
@given(shape=shapes, seed=seeds)
def test_diagonal_gaussian_kl_matches_closed_form_and_losses(shape, seed):
    rng = np.random.default_rng(seed)
    mu, log_var = rng.normal(0, 2, shape), rng.uniform(-5, 5, shape)
    got = D.diagonal_gaussian_kl(mu, log_var)
    assert np.shape(got) == shape[:-1]
    # KL(q || p) = -H(q) - E_q[log p], with scipy's entropy of q = N(mu, sigma^2)
    sigma = np.exp(0.5 * log_var)
    expected = (-stats.norm.entropy(mu, sigma) + 0.5 * math.log(2 * math.pi)
                + 0.5 * (mu ** 2 + sigma ** 2)).sum(axis=-1)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    if len(shape) == 2:                                 # the loss calls the same kernel
        np.testing.assert_array_equal(losses.gaussian_kl(mu, log_var, reduction="none")[0], got)


def test_diagonal_gaussian_kl_is_accurate_near_the_prior():
    # for mu = 0 and small lv, KL = 0.5 (e^lv - 1 - lv) = sum_k>=2 lv^k / (2 k!), here to k = 6
    # expm1(lv) - lv is exact to a few ulps of lv (each term rounds to half an ulp of lv),
    # where exp(lv) - 1 - lv would be off by ~ulp(1) = 2e-16, more than the KL itself here
    log_var = np.array([[1e-10], [1e-5], [-1e-3]])
    got = D.diagonal_gaussian_kl(np.zeros_like(log_var), log_var)
    lv = log_var[:, 0]
    series = lv ** 2 / 4 + lv ** 3 / 12 + lv ** 4 / 48 + lv ** 5 / 240 + lv ** 6 / 1440
    assert np.all(np.abs(got - series) <= 4 * np.finfo(float).eps * np.abs(lv))
    assert D.diagonal_gaussian_kl(np.zeros(3), np.zeros(3)) == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_diagonal_forms_are_finite_for_log_var_in_minus_50_to_50(dtype):
    log_var = np.linspace(-50, 50, 11, dtype=dtype)
    mu = np.ones_like(log_var)
    kl = D.diagonal_gaussian_kl(mu, log_var)
    logpdf = D.diagonal_gaussian_logpdf(mu + np.float32(0.5), mu, log_var)
    assert kl.dtype == dtype and logpdf.dtype == dtype
    assert np.isfinite(kl) and np.isfinite(logpdf)


def test_diagonal_forms_reject_bad_input():
    with pytest.raises(ValueError, match=r"diagonal_gaussian_kl: mu and log_var must have the same "
                                         r"shape, got mu \(2, 3\) and log_var \(3,\)"):
        D.diagonal_gaussian_kl(np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(ValueError,
                       match=r"diagonal_gaussian_kl: expected arrays of shape \(\.\.\., d\)"):
        D.diagonal_gaussian_kl(0.0, 0.0)
    with pytest.raises(ValueError, match=r"diagonal_gaussian_logpdf: shapes do not broadcast "
                                         r"together: z \(4, 3\), mu \(2,\), log_var \(2,\)"):
        D.diagonal_gaussian_logpdf(np.zeros((4, 3)), np.zeros(2), np.zeros(2))
    with pytest.raises(TypeError, match="log_var must be an array of real numbers, got dtype bool"):
        D.diagonal_gaussian_logpdf(np.zeros(2), np.zeros(2), np.zeros(2, dtype=bool))
