"""The chapter's argument in numbers: latent gaps, beta's trade, interpolation (docs/evaluation.md).

    latent_codes(model, x)          E[z|x] = z_mean for a VAE, z for an autoencoder
    gap_share(z, radius)            share of the codes' region farther than radius from any code
    gaussian_fit_kl(z)              KL(N(mean, cov of the codes) || N(0, I)): how far from the prior
    compare_latent_spaces(models)   both numbers, plus images decoded from uniform points
    train_pair, sweep               train an autoencoder and a VAE / one VAE per beta
    interpolate                     straight or spherical paths between two codes
"""

import numpy as np
from scipy.spatial import cKDTree

from . import evaluation
from ._validation import check_codes, check_finite, check_float_array, check_positive_int
from .architectures import fashion_autoencoder, fashion_vae
from .errors import InputError
from .models import PREDICT_BATCH, VAE
from .optimizers import Adam

LEARNING_RATE, BATCH_SIZE = 5e-4, 100           # the book's
DEFAULT_RADII = (0.25, 0.5)                     # in units of each axis's standard deviation
DEFAULT_TRIM = 1.0                              # the region is the 1st-99th percentile box
FASHION_PIXELS = 32 * 32                        # the book's padded 32 x 32 x 1 images


def latent_codes(model, x, batch_size=PREDICT_BATCH):
    """Where the encoder puts each image: z_mean (VAE) or z (autoencoder), (N, d) float64."""
    z = model.encode(x, batch_size=batch_size)
    return np.asarray(z[0] if isinstance(model, VAE) else z, dtype=np.float64)


def standardize(z):
    """(z - mean) / std per axis, so that radii are in each latent space's own units."""
    z = check_codes(z, "standardize", min_rows=2)
    std = z.std(axis=0)
    if not np.all(std > 0):
        raise InputError(f"standardize: every axis of z must vary, got standard deviations {std}")
    return (z - z.mean(axis=0)) / std


def region(z, trim=DEFAULT_TRIM):
    """The box the codes occupy: per axis, the trim-th to (100 - trim)-th percentile.

    Trimming keeps a few far-flung codes from stretching the box over empty space
    that no reasonable reader would call "the region the data occupies".
    Returns (lo, hi), each (d,).
    """
    z = check_codes(z, "region", min_rows=2)
    if not 0 <= trim < 50:
        raise InputError(f"region: trim must be a percentage in [0, 50), got {trim!r}")
    return np.percentile(z, trim, axis=0), np.percentile(z, 100 - trim, axis=0)


def uniform_points(z, n, rng=None, trim=DEFAULT_TRIM):
    """n points drawn uniformly over region(z, trim): (n, d) float64."""
    lo, hi = region(z, trim)
    rng = np.random.default_rng(0) if rng is None else rng
    return rng.uniform(lo, hi, size=(check_positive_int(n, "n", "uniform_points"), len(lo)))


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
    owner = "gap_share"
    z = standardize(z) if standardized else check_codes(z, owner, min_rows=2)
    radius = np.asarray(radius, dtype=np.float64)
    if not np.all(np.isfinite(radius)) or np.any(radius <= 0):
        raise InputError(f"{owner}: radius must be positive, got {radius}")
    u = uniform_points(z, n_points, rng, trim)
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
    z = check_codes(z, "gaussian_fit_kl", min_rows=3)
    d = z.shape[1]
    m, S = z.mean(axis=0), np.atleast_2d(np.cov(z, rowvar=False))
    if noise_variance is not None:
        S = S + np.diag(np.broadcast_to(np.asarray(noise_variance, dtype=np.float64), (d,)))
    sign, log_det = np.linalg.slogdet(S)
    if sign <= 0:
        raise InputError(f"gaussian_fit_kl: the codes' covariance is singular (they lie in a "
                         f"subspace of dimension < {d}); the fitted Gaussian has no density")
    return float(0.5 * (np.trace(S) + m @ m - d - log_det))


def latent_report(z, radius=DEFAULT_RADII, n_points=20000, trim=DEFAULT_TRIM, rng=None,
                  noise_variance=None):
    """The numbers `minivae compare` prints for one model's codes z (N, d).

    gaussian_fit_kl is the encoded distribution's (with noise_variance, see
    gaussian_fit_kl), gaussian_fit_kl_of_codes that of the codes z alone.
    """
    z = check_codes(z, "latent_report", min_rows=2)
    radius = np.atleast_1d(np.asarray(radius, dtype=np.float64))
    shares = gap_share(z, radius, n_points, trim, rng=rng)
    return {"codes": len(z), "mean": z.mean(axis=0).tolist(), "std": z.std(axis=0).tolist(),
            "gaussian_fit_kl": gaussian_fit_kl(z, noise_variance),
            "gaussian_fit_kl_of_codes": gaussian_fit_kl(z),
            "gap_share": {f"{r:g}": float(s) for r, s in zip(radius, shares)}}


def compare_latent_spaces(models, x, radius=DEFAULT_RADII, n_points=20000, n_images=36,
                          trim=DEFAULT_TRIM, seed=0):
    """For each named model: its codes of x, the report, and images decoded from
    n_images points drawn uniformly over its region (the chapter's "sample the
    latent space" experiment). Every model sees the same seeds.

    models: {name: trained model}. Returns {name: {"codes", "points", "images", "report"}}.
    """
    out = {}
    for name, model in models.items():
        noise_variance = None
        if isinstance(model, VAE):
            z, log_var = (np.asarray(a, dtype=np.float64) for a in model.encode(x))
            noise_variance = np.exp(log_var).mean(axis=0)
        else:
            z = latent_codes(model, x)
        report = latent_report(z, radius, n_points, trim, np.random.default_rng(seed),
                               noise_variance)
        points = uniform_points(z, n_images, np.random.default_rng(seed + 1), trim)
        images = model.decode(points.astype(model.dtype))
        out[name] = {"codes": z, "points": points, "images": images, "report": report}
    return out


def _fit(model, x, epochs, seed, verbose, data_parallel=True):
    model.compile(Adam(learning_rate=LEARNING_RATE))
    history = model.fit(x, epochs=epochs, batch_size=BATCH_SIZE, seed=seed, verbose=verbose,
                        data_parallel=data_parallel)
    return model, history


def train_pair(x, epochs=5, latent_dim=2, seed=0, verbose=1, data_parallel=True):
    """The book's autoencoder and VAE trained on the same x with the same seed.

    data_parallel is fit's (on by default; False trains on whole batches).
    Returns {"autoencoder": model, "vae": model}.
    """
    models = {"autoencoder": fashion_autoencoder(latent_dim=latent_dim, seed=seed),
              "vae": fashion_vae(latent_dim=latent_dim, seed=seed)}
    for name, model in models.items():
        if verbose:
            print(f"training the {name} on {len(x)} images", flush=True)
        _fit(model, x, epochs, seed, verbose, data_parallel)
    return models


def sweep(x, x_eval, betas, epochs=3, latent_dim=2, seed=0, n_samples=10, verbose=1,
          data_parallel=True):
    """One VAE per beta on x; each one's rate and distortion on x_eval, and samples.

    beta weighs the KL against the *summed* pixel log-likelihood (the model's
    reconstruction_weight is set to the pixel count), so beta = 1 trains on the
    true ELBO and the book's 500 x mean BCE + KL is beta = 1024 / 500 = 2.048.
    rate = E_x KL(q(z|x) || p(z)), distortion = -E_x log p(x|z), both in nats
    per image (one z per image, default_rng(seed)); rate + distortion = -ELBO.
    Returns one dict per beta: beta, rate, distortion, elbo, active_units,
    history (the last epoch's losses), samples (n_samples images from the prior).
    """
    bad = [beta for beta in betas if not (np.isfinite(beta) and beta >= 0)]
    if bad or not len(betas):       # refused before any training starts
        raise InputError(f"sweep: betas must be finite numbers >= 0, at least one, got {betas!r}")
    points = []
    for beta in betas:
        if verbose:
            print(f"training the VAE with beta = {beta:g} on {len(x)} images", flush=True)
        model = fashion_vae(latent_dim=latent_dim, seed=seed, beta=beta,
                            reconstruction_weight=FASHION_PIXELS)
        model, history = _fit(model, x, epochs, seed, verbose, data_parallel)
        log_px_z, kl = evaluation.elbo_terms(model, x_eval, np.random.default_rng(seed))
        points.append({"beta": float(beta), "rate": float(kl.mean()),
                       "distortion": float(-log_px_z.mean()),
                       "elbo": float(np.mean(log_px_z - kl)),
                       "active_units": evaluation.active_units(model, x_eval),
                       "history": {k: v[-1] for k, v in history.history.items()},
                       "samples": model.generate(n_samples, np.random.default_rng(seed))})
    return points


def interpolate(z_a, z_b, steps=10, spherical=False):
    """steps points from z_a to z_b (both ends included): (steps, d) float64.

    Linear: (1 - t) z_a + t z_b. Spherical: the direction turns at constant
    speed along the great circle from z_a/|z_a| to z_b/|z_b| (slerp) while the
    norm moves linearly from |z_a| to |z_b|. Under a Gaussian prior in d
    dimensions the codes lie near the shell |z| ~ sqrt(d); a straight line cuts
    inside it (its midpoint between two opposite codes is 0) and the spherical
    path stays on it. Parallel or opposite directions, or a zero code, leave the
    great circle undefined; the path is then linear.
    """
    owner = "interpolate"
    a = check_finite(check_float_array(z_a, "z_a", owner, ndim=1), "z_a", owner)
    b = check_finite(check_float_array(z_b, "z_b", owner, ndim=1), "z_b", owner)
    if a.shape != b.shape:
        raise InputError(f"{owner}: z_a and z_b must have the same shape, got {a.shape} and "
                         f"{b.shape}")
    steps = check_positive_int(steps, "steps", owner)
    if steps < 2:
        raise InputError(f"{owner}: steps must be at least 2 (both ends), got {steps}")
    a, b = a.astype(np.float64), b.astype(np.float64)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    linear = (1 - t) * a + t * b
    norm_a, norm_b = np.linalg.norm(a), np.linalg.norm(b)
    if not spherical or norm_a == 0 or norm_b == 0:
        return linear
    u, v = a / norm_a, b / norm_b
    omega = np.arccos(np.clip(u @ v, -1.0, 1.0))
    if np.sin(omega) < 1e-6:        # 1 / sin(omega) would amplify rounding by > 1e6
        return linear
    direction = (np.sin((1 - t) * omega) * u + np.sin(t * omega) * v) / np.sin(omega)
    path = ((1 - t) * norm_a + t * norm_b) * direction
    path[0], path[-1] = a, b        # exact ends, not ends up to rounding
    return path


def interpolation_images(model, x_a, x_b, steps=10, spherical=False):
    """Decode the path between the codes of two images x_a, x_b (H, W, C).

    Returns (images (steps, H, W, C), path (steps, d)).
    """
    z = latent_codes(model, np.stack([np.asarray(x_a), np.asarray(x_b)]))
    path = interpolate(z[0], z[1], steps, spherical)
    return model.decode(path.astype(model.dtype)), path
