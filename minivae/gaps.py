"""Latent gaps and Gaussian fits of codes z (N, d), for any model (docs/evaluation.md).

    standardize(z)                  (z - mean) / std per axis: radii in the space's own units
    region(z, trim)                 the box the codes occupy, percentiles trimmed
    uniform_points(z, n)            n points drawn uniformly over that box
    gap_share(z, radius)            share of the codes' region farther than radius from any code
    gaussian_fit_kl(z)              KL(N(mean, cov of the codes) || N(0, I)): how far from the prior
    latent_report(z)                both numbers and the codes' moments, JSON-ready

Each takes plain codes, so they work on any model's (latent.encode_codes gives
them). The chapter's argument in numbers: minivae.experiments.
"""

import numbers

import numpy as np
from scipy.spatial import cKDTree

from ._validation import check_codes, check_positive_int, generator_or_default
from .errors import InputError

DEFAULT_RADII = (0.25, 0.5)                     # in units of each axis's standard deviation
DEFAULT_TRIM = 1.0                              # the region is the 1st-99th percentile box


def standardize(z):
    """(z - mean) / std per axis, so that radii are in each latent space's own units."""
    return _standardize(z, "standardize")


def _standardize(z, owner):
    """standardize, its refusals in the name of `owner`, the function the user called."""
    z = check_codes(z, owner, min_rows=2)
    std = z.std(axis=0)
    if not np.all(std > 0):
        raise InputError(f"{owner}: every axis of z must vary, got standard deviations {std}")
    return (z - z.mean(axis=0)) / std


def region(z, trim=DEFAULT_TRIM):
    """The box the codes occupy: per axis, the trim-th to (100 - trim)-th percentile.

    Trimming keeps a few far-flung codes from stretching the box over empty space
    that no reasonable reader would call "the region the data occupies".
    Returns (lo, hi), each (d,).
    """
    return _region(z, trim, "region")


def _region(z, trim, owner):
    z = check_codes(z, owner, min_rows=2)
    if isinstance(trim, bool) or not isinstance(trim, numbers.Real) or not 0 <= trim < 50:
        raise InputError(f"{owner}: trim must be a percentage in [0, 50), got {trim!r}")
    return np.percentile(z, trim, axis=0), np.percentile(z, 100 - trim, axis=0)


def uniform_points(z, n, rng=None, trim=DEFAULT_TRIM):
    """n points drawn uniformly over region(z, trim): (n, d) float64."""
    return _uniform_points(z, n, rng, trim, "uniform_points")


def _uniform_points(z, n, rng, trim, owner):
    lo, hi = _region(z, trim, owner)
    n = check_positive_int(n, "n", owner)
    return generator_or_default(rng, "rng", owner).uniform(lo, hi, size=(n, len(lo)))


def gap_share(z, radius=DEFAULT_RADII, n_points=20000, trim=DEFAULT_TRIM, standardized=True,
              rng=None):
    """The share of the codes' region farther than `radius` from every code.

    n_points are drawn uniformly over region(z, trim); each one's distance to
    the nearest code comes from a k-d tree. standardized=True first rescales
    each axis to mean 0 and standard deviation 1, so that the radius is in the
    latent space's own units and two models whose codes differ in scale are
    judged alike (an autoencoder's codes may span 10 units, a VAE's 3).
    radius: a number or a sequence; returns a float or an array of the same shape.
    The Monte Carlo error of a share s is sqrt(s (1 - s) / n_points) <= 0.0035.
    """
    return _gap_share(z, radius, n_points, trim, standardized, rng, "gap_share")


def _gap_share(z, radius, n_points, trim, standardized, rng, owner):
    z = _standardize(z, owner) if standardized else check_codes(z, owner, min_rows=2)
    radius = np.asarray(radius, dtype=np.float64)
    if not np.all(np.isfinite(radius)) or np.any(radius <= 0):
        raise InputError(f"{owner}: radius must be positive, got {radius}")
    u = _uniform_points(z, n_points, rng, trim, owner)
    distance, _ = cKDTree(z).query(u, k=1)
    share = (distance[:, None] > radius.ravel()[None, :]).mean(axis=0).reshape(radius.shape)
    return float(share) if share.ndim == 0 else share


def gaussian_fit_kl(z, noise_variance=None):
    """KL(N(m, S) || N(0, I)) for the mean m and covariance S of the codes z (N, d).

        KL = 0.5 (tr S + m^T m - d - log det S)

    Zero only when the codes have the prior's first two moments; an
    autoencoder's, free of any prior, are typically far off.
    noise_variance (d,): for a VAE, E_x[sigma^2(x)]. What a VAE encodes is the
    mixture E_x q(z|x) of its posteriors, whose covariance is, by the law of
    total variance, Cov(z_mean) + E_x[diag sigma^2(x)]: z_mean alone is narrower.
    """
    return _gaussian_fit_kl(z, noise_variance, "gaussian_fit_kl")


def _gaussian_fit_kl(z, noise_variance, owner):
    z = check_codes(z, owner, min_rows=3)
    d = z.shape[1]
    m, S = z.mean(axis=0), np.atleast_2d(np.cov(z, rowvar=False))
    if noise_variance is not None:
        S = S + np.diag(np.broadcast_to(np.asarray(noise_variance, dtype=np.float64), (d,)))
    sign, log_det = np.linalg.slogdet(S)
    if sign <= 0:
        raise InputError(f"{owner}: the codes' covariance is singular (they lie in a "
                         f"subspace of dimension < {d}); the fitted Gaussian has no density")
    return float(0.5 * (np.trace(S) + m @ m - d - log_det))


def latent_report(z, radius=DEFAULT_RADII, n_points=20000, trim=DEFAULT_TRIM, rng=None,
                  noise_variance=None):
    """The numbers `minivae compare` prints for one model's codes z (N, d).

    gaussian_fit_kl is the encoded distribution's (with noise_variance, see
    gaussian_fit_kl), gaussian_fit_kl_of_codes that of the codes z alone.
    """
    owner = "latent_report"
    z = check_codes(z, owner, min_rows=2)
    radius = np.atleast_1d(np.asarray(radius, dtype=np.float64))
    shares = _gap_share(z, radius, n_points, trim, True, rng, owner)
    return {"codes": len(z), "mean": z.mean(axis=0).tolist(), "std": z.std(axis=0).tolist(),
            "gaussian_fit_kl": _gaussian_fit_kl(z, noise_variance, owner),
            "gaussian_fit_kl_of_codes": _gaussian_fit_kl(z, None, owner),
            "gap_share": {f"{r:g}": float(s) for r, s in zip(radius, shares)}}
