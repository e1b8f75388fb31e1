"""Where the latent-space figures look: the plane of the codes' first two principal
components (minivae.latent.principal_components) and the book's grid of prior quantiles
(pure numpy)."""

import numpy as np
from scipy.special import ndtri

from .._validation import check_finite, check_float_array, check_positive_int
from ..errors import InputError
from ..latent import principal_components


def plane(codes, points, owner):
    """The 2-D view of codes (N, d) and of extra points (M, d) or None: themselves for
    d = 2, else both projected on the codes' first two principal components.
    -> (xy, uv, axis names)."""
    if codes.shape[1] == 2:
        return codes, points, ("z_1", "z_2")
    if codes.shape[1] == 1:
        raise InputError(f"{owner}: a 1-D latent space has no plane to draw; use d >= 2")
    _, components, mean, _ = principal_components(codes, 2)
    uv = None if points is None else (points - mean) @ components.T
    return (codes - mean) @ components.T, uv, ("PC 1", "PC 2")


def latent_grid_points(n=15, latent_dim=None, components=None, mean=None, scale=None):
    """The book's decoded-latent-grid points: (n*n, latent_dim), float64.

    Grid values g = norm.ppf(linspace(0.01, 0.99, n)): evenly spaced in
    probability under the N(0, 1) prior, so the grid covers 98% of each axis's
    mass and never asks for ppf(0) = -inf or ppf(1) = +inf.
    Layout is row-major like an image: point i*n + j has coordinates
    (g[j], g[n-1-i]), so z_1 grows left to right and z_2 grows upwards (the top
    row holds the largest z_2), as on a plotted axis.

    The 2-D grid maps into latent space as mean + (grid * scale) @ components.
    components (2, latent_dim), e.g. from principal_components(z)[1], makes the
    grid span the plane of the first two principal components; without it the
    grid lies in the (z_1, z_2) plane, the other coordinates at `mean` (zero by
    default); under the isotropic prior every such plane is alike. scale (a
    number or one per grid axis, default 1) stretches the grid, e.g.
    sqrt(explained variance) to match the data's spread. latent_dim defaults to
    components.shape[1], or 2 without components; it must be at least 2.
    """
    return grid_points(n, latent_dim, components, mean, scale, "latent_grid_points")


def grid_points(n, latent_dim, components, mean, scale, owner):
    """latent_grid_points, its refusals in the name of `owner` (the plot that draws them)."""
    n = check_positive_int(n, "n", owner)
    if n < 2:
        raise InputError(f"{owner}: n must be at least 2 (one point has no grid), got {n}")
    if latent_dim is not None:
        latent_dim = check_positive_int(latent_dim, "latent_dim", owner)
    if components is None:
        d = 2 if latent_dim is None else latent_dim
        if d < 2:
            raise InputError(f"{owner}: a 2-D grid needs latent_dim >= 2, got {d}")
        components = np.eye(2, d)
    else:
        components = check_float_array(components, "components", owner, ndim=2)
        check_finite(components, "components", owner)
        d = components.shape[1]
        if components.shape[0] != 2 or (latent_dim is not None and d != latent_dim):
            expected = "latent_dim" if latent_dim is None else latent_dim
            raise InputError(f"{owner}: components must have shape (2, {expected}), "
                             f"got {components.shape}")
    mean = np.zeros(d) if mean is None else check_float_array(mean, "mean", owner, ndim=1)
    if mean.shape != (d,):
        raise InputError(f"{owner}: mean must have shape ({d},), got {mean.shape}")
    check_finite(mean, "mean", owner)
    scale = _grid_scale(scale, owner)
    g = ndtri(np.linspace(0.01, 0.99, n))         # norm.ppf: scipy.stats's own kernel
    z1, z2 = np.meshgrid(g, g[::-1])
    grid = np.column_stack([z1.ravel(), z2.ravel()])
    return mean + (grid * scale) @ components


def _grid_scale(scale, owner):
    if scale is None:
        return np.ones(2)
    try:
        s = np.broadcast_to(np.asarray(scale, dtype=float), (2,))
    except (TypeError, ValueError):
        s = None
    if s is None or not np.all(np.isfinite(s)) or not np.all(s > 0):
        raise InputError(f"{owner}: scale must be a positive number or two of them, got {scale!r}")
    return s
