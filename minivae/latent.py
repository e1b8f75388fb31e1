"""Where the codes lie, for any minivae model: the views of chapter 3 (docs/latent.md).

    encode_codes(model, x)            (z_mean, z_log_var) of a VAE, (z, None) of any model:
                                      the one batched encode, as float64
    codes(model, x)                   z_mean (VAE), z (autoencoder), or z sampled
    codes_and_draws(model, x, rng)    z_mean and z sampled, from one pass of the encoder
    principal_components(z, k)        PCA of the codes: the plane the figures look at
    bounding_box(z)                   per axis, the smallest and largest code
    bounding_box_samples(z, n, rng)   n points uniform in that box: the autoencoder's gaps
    prior_samples(d, n, rng)          n points from N(0, I): the VAE's generator
    range_grid(z, n)                  an n x n grid over the codes' range, evenly spaced
    decode_points(model, points)      the images a model draws at given latent points
    p_space(z)                        norm.cdf(z): each axis mapped through the prior's CDF
    latent_histograms(z, dims, bins)  per axis: histogram, mean, std, KL to N(0, 1)
    interpolate(z_a, z_b, steps)      straight or spherical paths between two codes
    interpolation_images(model, ...)  the images decoded along the path between two images

Each works on any model with encode/decode (VAE or Autoencoder, any latent
size) or on plain codes. Randomness comes from the Generator passed in; with
rng=None a fresh default_rng(0), so a call repeats itself.
The attribute arithmetic of the faces notebook is in minivae.attributes.
"""

import numpy as np
from scipy.special import ndtr

from ._validation import (check_codes, check_finite, check_float_array, check_positive_int,
                          generator_or_default)
from .distributions import reparameterize
from .errors import InputError, InputTypeError
from .models import PREDICT_BATCH, VAE

BOOK_SAMPLES = 18                   # the book's 6 x 3 strip of decoded points
BOOK_GRID = 15                      # the book's 15 x 15 decoded grid
BOOK_HISTOGRAM_DIMS = 50            # the faces notebook shows dimensions 0-49
BOOK_BINS = 20


def encode_codes(model, x, batch_size=PREDICT_BATCH, dtype=np.float64):
    """Where the encoder puts each image x (N, H, W, C), from one batched pass.

    Returns (z_mean, z_log_var) of a VAE, (z, None) of any other model, each
    (N, d) in `dtype` (float64 by default; None keeps the model's own). The
    model's encode runs underneath; this is the one place its two kinds of
    result are told apart.
    """
    return _encode(model, x, batch_size, dtype, "encode_codes")


def _encode(model, x, batch_size, dtype, owner):
    """encode_codes, its images checked in the name of `owner`, the function the user
    called (model.encode would name itself)."""
    _check_model(model, owner)
    if hasattr(model, "check_images"):
        x = model.check_images(x, owner)
    check_positive_int(batch_size, "batch_size", owner)
    if not isinstance(model, VAE):
        return np.asarray(model.encode(x, batch_size=batch_size), dtype=dtype), None
    z_mean, z_log_var = model.encode(x, batch_size=batch_size)
    return np.asarray(z_mean, dtype=dtype), np.asarray(z_log_var, dtype=dtype)


def _check_model(model, owner):
    if not all(callable(getattr(model, name, None)) for name in ("encode", "decode")):
        raise InputTypeError(f"{owner}: model must be a minivae model (VAE or Autoencoder, "
                             f"with encode and decode), got {type(model).__name__}")
    return model


def codes(model, x, sample=False, rng=None, batch_size=PREDICT_BATCH):
    """Where the encoder puts each image x (N, H, W, C): (N, d) float64.

    Autoencoder: z = encoder(x). VAE: z_mean, or with sample=True one draw
    z = z_mean + exp(0.5 z_log_var) * eps, eps ~ N(0, I) from rng, which is the
    encoder's third output, what the book's notebooks plot and average.
    """
    z, z_log_var = _encode(model, x, batch_size, np.float64, "codes")
    return _draw(z, z_log_var, rng, "codes") if sample and z_log_var is not None else z


def codes_and_draws(model, x, rng=None, batch_size=PREDICT_BATCH):
    """codes(model, x) and codes(model, x, sample=True, rng=rng) from one pass of the
    encoder: (z, z_sampled), z_sampled None for a model that is not a VAE."""
    z, z_log_var = _encode(model, x, batch_size, np.float64, "codes_and_draws")
    return z, None if z_log_var is None else _draw(z, z_log_var, rng, "codes_and_draws")


def _draw(z_mean, z_log_var, rng, owner):
    """z = z_mean + exp(0.5 z_log_var) * eps, eps ~ N(0, I) from rng."""
    eps = generator_or_default(rng, "rng", owner).standard_normal(z_mean.shape)
    return reparameterize(z_mean, z_log_var, eps)[0]


def principal_components(z, k=2):
    """PCA of the rows of z by the SVD of the centred data.

    z (N, d) -> (projected (N, k), components (k, d), mean (d,), explained_variance_ratio (k,)).
    With zc = z - mean = U S V^T, components = V^T[:k] (orthonormal rows, by
    decreasing variance), projected = zc @ components.T, and the ratio is
    S_i^2 / sum_j S_j^2 (all zeros when z has no variance). An SVD fixes each
    direction only up to sign, so each component is flipped to make its
    largest-magnitude entry positive: the same data always gives the same figure.
    """
    owner = "principal_components"
    z = check_finite(check_float_array(z, "z", owner, ndim=2), "z", owner)
    k = check_positive_int(k, "k", owner)
    N, d = z.shape
    if k > d:
        raise InputError(f"{owner}: k must be at most the dimension of z ({d}), got k={k}")
    if N < max(2, k):
        raise InputError(f"{owner}: z needs at least {max(2, k)} rows for {k} components, "
                         f"got shape {z.shape}")
    mean = z.mean(axis=0)
    zc = z - mean
    _, S, Vt = np.linalg.svd(zc, full_matrices=False)
    components = Vt[:k]
    peak = components[np.arange(k), np.argmax(np.abs(components), axis=1)]
    components = components * np.where(peak < 0, -1.0, 1.0).astype(z.dtype)[:, None]
    variance = S ** 2
    total = variance.sum()
    ratio = variance[:k] / total if total > 0 else np.zeros(k, dtype=z.dtype)
    return zc @ components.T, components, mean, ratio


def bounding_box(z):
    """The smallest box holding every code: (lo, hi), each (d,), per-axis min and max."""
    z = check_codes(z, "bounding_box")
    return z.min(axis=0), z.max(axis=0)


def bounding_box_samples(z, n=BOOK_SAMPLES, rng=None):
    """n points drawn uniformly from bounding_box(z): (n, d) float64.

    The autoencoder notebook's experiment: np.random.uniform(mins, maxs). Much of
    that box holds no code at all, and what the decoder draws there is the
    argument for the VAE.
    """
    owner = "bounding_box_samples"
    lo, hi = bounding_box(check_codes(z, owner))
    n = check_positive_int(n, "n", owner)
    # gaps.uniform_points(z, n, rng, trim=0.0), whose checks would name gaps.region
    return generator_or_default(rng, "rng", owner).uniform(lo, hi, size=(n, len(lo)))


def prior_samples(latent_dim, n=BOOK_SAMPLES, rng=None):
    """n points from the prior N(0, I): (n, latent_dim) float64."""
    owner = "prior_samples"
    latent_dim = check_positive_int(latent_dim, "latent_dim", owner)
    n = check_positive_int(n, "n", owner)
    return generator_or_default(rng, "rng", owner).standard_normal((n, latent_dim))


def decode_points(model, points):
    """model.decode at float64 points (n, d), cast to the model's dtype: (n, H, W, C)."""
    owner = "decode_points"
    _check_model(model, owner)
    points = check_float_array(points, "points", owner, ndim=2)
    d = getattr(model, "latent_dim", None)
    if d is not None and points.shape[1] != d:
        raise InputError(f"{owner}: points must have shape (n, {d}), the model's latent size, "
                         f"got {points.shape}")
    return model.decode(points.astype(model.dtype))


def range_grid(z, n=BOOK_GRID):
    """An n x n grid over the range of the codes, as the autoencoder notebook decodes it.

    d = 2: xs = linspace(min z_1, max z_1, n), ys = linspace(max z_2, min z_2, n)
    (top row first, as on a plotted axis), and point i*n + j = (xs[j], ys[i]).
    The values are evenly spaced in z, not in probability (the VAE's ppf grid,
    plotting.latent_grid_points): an autoencoder has no prior to take quantiles of.
    d > 2: the same grid in the plane of the codes' first two principal
    components through their mean, xs and ys in those components' coordinates:
    point = mean + (x, y) @ components.
    Returns a dict: points (n*n, d) float64, xs (n,), ys (n,), plane (N, 2)
    the codes in the grid's coordinates, axis_names, components (2, d) or None.
    """
    owner = "range_grid"
    z = check_codes(z, owner, min_rows=2)
    n = check_positive_int(n, "n", owner)
    if n < 2:
        raise InputError(f"{owner}: n must be at least 2 (one point has no grid), got {n}")
    d = z.shape[1]
    if d < 2:
        raise InputError(f"{owner}: a 2-D grid needs codes with d >= 2, got shape {z.shape}")
    components, mean, plane, names = None, np.zeros(d), z, ("z_1", "z_2")
    if d > 2:
        plane, components, mean, _ = principal_components(z, 2)
        names = ("PC 1", "PC 2")
    lo, hi = plane.min(axis=0), plane.max(axis=0)
    xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(hi[1], lo[1], n)
    grid = np.column_stack([np.tile(xs, n), np.repeat(ys, n)])
    points = grid if components is None else mean + grid @ components
    return {"points": points, "xs": xs, "ys": ys, "plane": plane, "axis_names": names,
            "components": components}


def p_space(z):
    """p = norm.cdf(z), per coordinate: (N, d) in [0, 1].

    Under the prior N(0, I) each p_i is uniform on [0, 1]; codes that fill
    the p-square evenly are codes distributed as the prior on that plane's axes.
    """
    return ndtr(check_codes(z, "p_space"))        # scipy.stats.norm.cdf's own kernel


def latent_histograms(z, dims=BOOK_HISTOGRAM_DIMS, bins=BOOK_BINS):
    """Per latent axis, what the faces notebook draws against the N(0, 1) density.

    dims: how many axes from the first (the book: 50, or all when fewer; None:
    all), or a sequence of axis indices. Each axis k gets a density histogram over its own
    range (np.histogram(z[:, k], bins, density=True), as the book's ax.hist),
    its mean m and standard deviation s, and the KL of the Gaussian N(m, s^2)
    fitted to it from the prior: 0.5 (s^2 + m^2 - 1 - log s^2), zero only for
    an axis with the prior's first two moments.
    Returns a dict: dims (k,), density (k, bins), edges (k, bins + 1),
    mean (k,), std (k,), kl (k,), and x (100,), pdf (100,), the N(0, 1)
    density on [-3, 3] for the overlay.
    """
    owner = "latent_histograms"
    z = check_codes(z, owner, min_rows=2)
    d = z.shape[1]
    if dims is None:
        dims = np.arange(d)
    elif isinstance(dims, (int, np.integer)) and not isinstance(dims, bool):
        dims = np.arange(min(check_positive_int(int(dims), "dims", owner), d))
    else:
        given, dims = dims, np.asarray(dims)
        if dims.ndim != 1 or dims.size == 0 or not np.issubdtype(dims.dtype, np.integer) \
                or dims.min() < 0 or dims.max() >= d:
            raise InputError(f"{owner}: dims must be a count or a non-empty list of axis "
                             f"indices in [0, {d - 1}], got {given!r}")
    bins = check_positive_int(bins, "bins", owner)
    density = np.empty((len(dims), bins))
    edges = np.empty((len(dims), bins + 1))
    for row, k in enumerate(dims):
        density[row], edges[row] = np.histogram(z[:, k], bins=bins, density=True)
    mean, std = z[:, dims].mean(axis=0), z[:, dims].std(axis=0)
    with np.errstate(divide="ignore"):      # a constant axis: log 0, KL = inf, said plainly
        kl = 0.5 * (std ** 2 + mean ** 2 - 1.0 - np.log(std ** 2))
    x = np.linspace(-3.0, 3.0, 100)
    pdf = np.exp(-x ** 2 / 2.0) / np.sqrt(2 * np.pi)       # as scipy.stats.norm.pdf computes it
    return {"dims": dims, "density": density, "edges": edges, "mean": mean, "std": std,
            "kl": kl, "x": x, "pdf": pdf}


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
    steps = _check_steps(steps, owner)
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


def _check_steps(steps, owner):
    steps = check_positive_int(steps, "steps", owner)
    if steps < 2:
        raise InputError(f"{owner}: steps must be at least 2 (both ends), got {steps}")
    return steps


def interpolation_images(model, x_a, x_b, steps=10, spherical=False):
    """Decode the path between the codes of two images x_a, x_b (H, W, C).

    Returns (images (steps, H, W, C), path (steps, d)).
    """
    owner = "interpolation_images"
    _check_steps(steps, owner)
    x_a, x_b = np.asarray(x_a), np.asarray(x_b)
    shape = tuple(getattr(_check_model(model, owner), "input_shape", None) or x_a.shape)
    if x_a.shape != shape or x_b.shape != shape:
        raise InputError(f"{owner}: x_a and x_b must each be one image of shape {shape}, "
                         f"got {x_a.shape} and {x_b.shape}")
    z = _encode(model, np.stack([x_a, x_b]), PREDICT_BATCH, np.float64, owner)[0]
    path = interpolate(z[0], z[1], steps, spherical)
    return model.decode(path.astype(model.dtype)), path
