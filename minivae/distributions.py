"""Normal densities and the Gaussian KL divergence used by the VAE.

    normal_pdf, normal_logpdf       N(x; mean, std^2), elementwise with broadcasting
    multivariate_normal_logpdf      N(x; mean, cov) for any symmetric positive-definite cov
    diagonal_gaussian_logpdf        log N(z; mu, diag(exp(log_var))), summed over the last axis
    diagonal_gaussian_kl            KL(N(mu, diag(exp(log_var))) || N(0, I)) per sample
    reparameterize                  z = mu + exp(0.5 log_var) eps, a draw from
                                    N(mu, diag(exp(log_var)))

The diagonal forms use the encoder's parametrisation (mu, log_var = log sigma^2)
and reduce over the last axis only, so leading axes broadcast: z of shape
(K, N, d) against mu of shape (N, d) gives (K, N), what importance-weighted
(IWAE) evaluation needs.

Results are in the common floating dtype of the inputs (float32 stays float32);
integer inputs are promoted to float64.
"""

import math
import numbers

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, solve_triangular

from .errors import InputError, InputTypeError

LOG_2PI = math.log(2.0 * math.pi)


def _as_real(x, name, owner):
    """x as a floating ndarray; integers become float64, anything else is refused."""
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return x                                # a Python number stays "weak" for dtype promotion
    try:
        x = np.asarray(x)
    except Exception as exc:                    # ragged lists and the like
        raise InputTypeError(f"{owner}: {name} must be an array of real numbers: {exc}") from None
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(np.float64)
    if not np.issubdtype(x.dtype, np.floating):
        raise InputTypeError(f"{owner}: {name} must be an array of real numbers, got dtype "
                             f"{x.dtype}")
    return x


def _common_dtype(arrays):
    """Cast to the inputs' common floating dtype (float64 if they are all integers)."""
    dtype = np.result_type(*arrays)
    if not np.issubdtype(dtype, np.floating):
        dtype = np.dtype(np.float64)
    return [np.asarray(a, dtype=dtype) for a in arrays]


def _broadcastable(arrays, names, owner):
    """Cast to one floating dtype and check that the shapes broadcast together."""
    arrays = _common_dtype(arrays)
    try:
        np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        shown = ", ".join(f"{n} {a.shape}" for n, a in zip(names, arrays))
        raise InputError(f"{owner}: shapes do not broadcast together: {shown}") from None
    return arrays


def normal_logpdf(x, mean=0.0, std=1.0):
    """log N(x; mean, std^2) = -0.5 ((x - mean) / std)^2 - log(std) - 0.5 log(2 pi).

    Elementwise; x, mean and std broadcast. std must be > 0.
    """
    owner = "normal_logpdf"
    x, mean, std = _broadcastable([_as_real(x, "x", owner), _as_real(mean, "mean", owner),
                            _as_real(std, "std", owner)], ("x", "mean", "std"), owner)
    if not np.all(std > 0):
        raise InputError(f"{owner}: std must be > 0 everywhere, got a minimum of {np.min(std)}")
    u = (x - mean) / std
    return -0.5 * np.square(u) - np.log(std) - 0.5 * LOG_2PI


def normal_pdf(x, mean=0.0, std=1.0):
    """N(x; mean, std^2) = exp(-0.5 ((x - mean) / std)^2) / (std sqrt(2 pi)), elementwise."""
    return np.exp(normal_logpdf(x, mean, std))


def multivariate_normal_logpdf(x, mean, cov):
    """log N(x; mean, cov) through the Cholesky factor cov = L L^T.

        log N = -0.5 (d log(2 pi) + log det cov + |L^-1 (x - mean)|^2),
        log det cov = 2 sum_i log L_ii

    Shapes: x (d,) or (n, d); mean (d,); cov (d, d) symmetric positive definite.
    Returns a scalar for x of shape (d,), else shape (n,).
    """
    owner = "multivariate_normal_logpdf"
    x = np.asarray(_as_real(x, "x", owner))
    mean = np.asarray(_as_real(mean, "mean", owner))
    cov = np.asarray(_as_real(cov, "cov", owner))
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] < 1:
        raise InputError(f"{owner}: cov must be a square matrix (d, d), got shape {cov.shape}")
    d = cov.shape[0]
    if mean.shape != (d,):
        raise InputError(f"{owner}: mean must have shape ({d},) to match cov {cov.shape}, "
                         f"got {mean.shape}")
    if x.ndim not in (1, 2) or x.shape[-1] != d:
        raise InputError(f"{owner}: x must have shape ({d},) or (n, {d}) to match cov "
                         f"{cov.shape}, got {x.shape}")
    x, mean, cov = _common_dtype([x, mean, cov])
    if not np.all(np.isfinite(cov)):
        raise InputError(f"{owner}: cov holds non-finite values")
    # cho_factor reads one triangle only; an asymmetric cov would be silently symmetrised
    scale = float(np.max(np.abs(cov)))
    asymmetry = float(np.max(np.abs(cov - cov.T)))
    if asymmetry > 100 * np.finfo(cov.dtype).eps * scale:
        raise InputError(f"{owner}: cov must be symmetric, got max |cov - cov.T| = {asymmetry:.3g}")
    try:
        L, _ = cho_factor(cov, lower=True, check_finite=False)
    except LinAlgError:
        smallest = float(np.linalg.eigvalsh(cov)[0])
        raise InputError(f"{owner}: cov must be positive definite, but its Cholesky "
                         f"factorisation failed (smallest eigenvalue {smallest:.3g})") from None
    r = solve_triangular(L, np.atleast_2d(x - mean).T, lower=True, check_finite=False)  # (d, n)
    mahalanobis = np.sum(np.square(r), axis=0)
    log_det = 2 * np.sum(np.log(np.diag(L)))
    logpdf = -0.5 * (d * LOG_2PI + log_det + mahalanobis)
    return logpdf[0] if x.ndim == 1 else logpdf


def diagonal_gaussian_logpdf(z, mu, log_var):
    """log N(z; mu, diag(exp(log_var))), summed over the last axis.

        sum_j -0.5 (log(2 pi) + log_var_j + (z_j - mu_j)^2 exp(-log_var_j))

    Shapes: z, mu, log_var broadcast to (..., d); returns shape (...).
    """
    owner = "diagonal_gaussian_logpdf"
    z, mu, log_var = _broadcastable([_as_real(z, "z", owner), _as_real(mu, "mu", owner),
                              _as_real(log_var, "log_var", owner)], ("z", "mu", "log_var"), owner)
    if max(z.ndim, mu.ndim, log_var.ndim) < 1:
        raise InputError(f"{owner}: expected arrays with a last axis of latent dims (..., d), "
                         f"got scalars")
    terms = LOG_2PI + log_var + np.square(z - mu) * np.exp(-log_var)
    return -0.5 * np.sum(terms, axis=-1)


def _diagonal_gaussian_kl(mu, log_var):
    """The unvalidated kernel shared with losses.gaussian_kl (see diagonal_gaussian_kl)."""
    # expm1(lv) - lv rather than exp(lv) - 1 - lv: the latter carries a rounding error of
    # ~ulp(1) = 2e-16, which near the prior (|lv| < 1e-8) is all of the KL; the former ~ulp(lv)
    return 0.5 * np.sum(np.square(mu) + (np.expm1(log_var) - log_var), axis=-1)


def diagonal_gaussian_kl(mu, log_var):
    """KL(N(mu, diag(exp(log_var))) || N(0, I)) for each sample.

        KL = -0.5 sum_j (1 + log_var_j - mu_j^2 - exp(log_var_j))

    Shapes: mu, log_var (..., d), the same shape; returns shape (...).
    """
    owner = "diagonal_gaussian_kl"
    mu, log_var = _as_real(mu, "mu", owner), _as_real(log_var, "log_var", owner)
    if np.shape(mu) != np.shape(log_var):
        raise InputError(f"{owner}: mu and log_var must have the same shape, "
                         f"got mu {np.shape(mu)} and log_var {np.shape(log_var)}")
    if np.ndim(mu) < 1:
        raise InputError(f"{owner}: expected arrays of shape (..., d), got scalars")
    mu, log_var = _broadcastable([mu, log_var], ("mu", "log_var"), owner)
    return _diagonal_gaussian_kl(mu, log_var)


def reparameterize(mu, log_var, eps):
    """(z, sigma): z = mu + sigma * eps, sigma = exp(0.5 * log_var), the reparameterisation trick.

    With eps ~ N(0, I), z is a draw from N(mu, diag(exp(log_var))) written as a
    deterministic function of (mu, log_var), so gradients reach the encoder. The one
    place minivae draws a latent code: the Sampling layer (which keeps sigma for its
    backward), the models' sampled reconstructions, the latent views and the
    importance-weighted bounds, where eps (K, N, d) broadcasts against mu (N, d).
    """
    sigma = np.exp(0.5 * log_var)
    return mu + sigma * eps, sigma
