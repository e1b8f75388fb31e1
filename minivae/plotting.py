"""Figures for a VAE, written as PNG files (docs/plotting.md).

Every function takes plain arrays (the latent grid takes a plain `decode`
callable) and a path, draws with matplotlib's object-oriented API on an Agg
canvas and writes a PNG, creating missing parent folders. pyplot is never
imported: no display is needed, no window opens, and no figure is left in
pyplot's global registry, so there is nothing to close; a `Figure` pyplot
never saw is freed like any other object.

Images are NHWC floats in [0, 1] with C = 1 (grayscale) or C = 3 (RGB), as a
sigmoid decoder produces them.
"""

import numbers
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from scipy.stats import norm

from ._validation import check_finite, check_float_array, check_positive_int

__all__ = ["tile_images", "principal_components", "latent_grid_points", "plot_reconstructions",
           "plot_image_grid", "plot_interpolation", "plot_latent_scatter", "plot_latent_grid",
           "plot_history"]

TILE_INCHES = 0.8         # one image tile in print: a 32 px tile covers 80 px at dpi 100
GRID_TILE_INCHES = 0.55   # a 15 x 15 latent grid then prints near 8 x 8 inches, as in the book
GAP = 1                   # white pixels between tiles, so neighbouring images do not merge
LOSS_ORDER = ("total_loss", "reconstruction_loss", "kl_loss")
PANEL_TITLES = {"total_loss": "total loss", "reconstruction_loss": "reconstruction loss",
                "kl_loss": "KL loss"}


# ---------------------------------------------------------------- pure numpy

def tile_images(images, ncols, pad=0, fill=0.0):
    """Lay N images out row by row in one array, `ncols` per row.

    images (N, H, W) or (N, H, W, C) -> (rows*H + (rows-1)*pad, ncols*W + (ncols-1)*pad[, C])
    with rows = ceil(N / ncols). Image k sits in row k // ncols, column k % ncols;
    cells past the last image and the `pad` pixels between cells hold `fill`.
    The dtype is kept.
    """
    x = np.asarray(images)
    if x.ndim not in (3, 4):
        raise ValueError(f"tile_images: images must have shape (N, H, W) or (N, H, W, C), "
                         f"got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"tile_images: images is empty, shape {x.shape}")
    ncols = check_positive_int(ncols, "ncols", "tile_images")
    if isinstance(pad, bool) or not isinstance(pad, numbers.Integral) or pad < 0:
        raise ValueError(f"tile_images: pad must be an integer >= 0, got {pad!r}")
    N, H, W, rest = x.shape[0], x.shape[1], x.shape[2], x.shape[3:]
    rows = -(-N // ncols)
    # Give every cell a pad-wide border on its bottom and right, then a reshape
    # and one axis swap put the cells side by side; the outer border is cut off.
    cells = np.full((rows * ncols, H + pad, W + pad) + rest, fill, dtype=x.dtype)
    cells[:N, :H, :W] = x
    grid = cells.reshape((rows, ncols, H + pad, W + pad) + rest).swapaxes(1, 2)
    grid = grid.reshape((rows * (H + pad), ncols * (W + pad)) + rest)
    return grid[:rows * (H + pad) - pad, :ncols * (W + pad) - pad]


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
        raise ValueError(f"{owner}: k must be at most the dimension of z ({d}), got k={k}")
    if N < max(2, k):
        raise ValueError(f"{owner}: z needs at least {max(2, k)} rows for {k} components, "
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
    owner = "latent_grid_points"
    n = check_positive_int(n, "n", owner)
    if n < 2:
        raise ValueError(f"{owner}: n must be at least 2 (one point has no grid), got {n}")
    if latent_dim is not None:
        latent_dim = check_positive_int(latent_dim, "latent_dim", owner)
    if components is None:
        d = 2 if latent_dim is None else latent_dim
        if d < 2:
            raise ValueError(f"{owner}: a 2-D grid needs latent_dim >= 2, got {d}")
        components = np.eye(2, d)
    else:
        components = check_float_array(components, "components", owner, ndim=2)
        check_finite(components, "components", owner)
        d = components.shape[1]
        if components.shape[0] != 2 or (latent_dim is not None and d != latent_dim):
            expected = "latent_dim" if latent_dim is None else latent_dim
            raise ValueError(f"{owner}: components must have shape (2, {expected}), "
                             f"got {components.shape}")
    mean = np.zeros(d) if mean is None else check_float_array(mean, "mean", owner, ndim=1)
    if mean.shape != (d,):
        raise ValueError(f"{owner}: mean must have shape ({d},), got {mean.shape}")
    check_finite(mean, "mean", owner)
    scale = _grid_scale(scale, owner)
    g = norm.ppf(np.linspace(0.01, 0.99, n))
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
        raise ValueError(f"{owner}: scale must be a positive number or two of them, got {scale!r}")
    return s


# ------------------------------------------------------------ shared helpers

def _check_images(images, name, owner):
    images = check_float_array(images, name, owner, ndim=4)
    if images.shape[0] == 0:
        raise ValueError(f"{owner}: {name} is empty, shape {images.shape}")
    if images.shape[-1] not in (1, 3):
        raise ValueError(f"{owner}: {name} must be (N, H, W, C) with C = 1 (grayscale) or "
                         f"3 (RGB), got shape {images.shape}")
    check_finite(images, name, owner)
    lo, hi = float(images.min()), float(images.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{owner}: {name} must lie in [0, 1], got values from {lo:.4g} to "
                         f"{hi:.4g}; rescale it or np.clip(x, 0, 1) first")
    return images


def _check_path(path, owner):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{owner}: path must be a str or os.PathLike, got "
                        f"{type(path).__name__}")
    return Path(path)


def _check_dpi(dpi, owner):
    if isinstance(dpi, bool) or not isinstance(dpi, numbers.Real) or not dpi > 0:
        raise ValueError(f"{owner}: dpi must be a positive number, got {dpi!r}")
    return float(dpi)


def _save(fig, path, dpi, tight=False):
    FigureCanvasAgg(fig)                    # attach a raster canvas: no display, no pyplot
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = {"bbox_inches": "tight", "pad_inches": 0.05} if tight else {}
    fig.savefig(path, dpi=dpi, format="png", **extra)
    return path


def _tiled_figure(images, ncols, tile_inches=TILE_INCHES):
    """A figure whose one axes shows the tiled images at `tile_inches` per tile.

    The axes fills the figure; titles and tick labels fall outside it and are
    brought back by saving with bbox_inches="tight".
    """
    tiled = tile_images(images, ncols, pad=GAP, fill=1.0)
    inch = tile_inches / images.shape[1]
    fig = Figure(figsize=(tiled.shape[1] * inch, tiled.shape[0] * inch))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.imshow(tiled[..., 0] if tiled.shape[-1] == 1 else tiled,
              cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    return fig, ax


def _tile_centres(count, size):
    return np.arange(count) * (size + GAP) + (size - 1) / 2


# ------------------------------------------------------------------- figures

def plot_reconstructions(originals, reconstructions, path, n=10, dpi=100):
    """Originals (top row) over their reconstructions (bottom row), first n pairs.

    originals, reconstructions: (N, H, W, C) in [0, 1], same shape. Returns Path(path).
    """
    owner = "plot_reconstructions"
    x = _check_images(originals, "originals", owner)
    x_hat = _check_images(reconstructions, "reconstructions", owner)
    if x.shape != x_hat.shape:
        raise ValueError(f"{owner}: originals and reconstructions must have the same shape, "
                         f"got {x.shape} and {x_hat.shape}")
    n = min(check_positive_int(n, "n", owner), x.shape[0])
    path, dpi = _check_path(path, owner), _check_dpi(dpi, owner)
    fig, ax = _tiled_figure(np.concatenate([x[:n], x_hat[:n]]), n)
    ax.set_yticks(_tile_centres(2, x.shape[1]), labels=["original", "reconstruction"])
    ax.tick_params(axis="y", length=0)
    return _save(fig, path, dpi, tight=True)


def plot_image_grid(images, path, ncols=10, title=None, dpi=100):
    """Images (N, H, W, C) in [0, 1] tiled row by row, e.g. samples from the prior."""
    return _image_grid(images, path, ncols, title, dpi, "plot_image_grid")


def plot_interpolation(images, path, title=None, dpi=100):
    """A one-row strip of images (N, H, W, C) in [0, 1], e.g. a latent interpolation."""
    images = _check_images(images, "images", "plot_interpolation")
    return _image_grid(images, path, images.shape[0], title, dpi, "plot_interpolation")


def _image_grid(images, path, ncols, title, dpi, owner):
    images = _check_images(images, "images", owner)
    ncols = min(check_positive_int(ncols, "ncols", owner), images.shape[0])
    path, dpi = _check_path(path, owner), _check_dpi(dpi, owner)
    fig, ax = _tiled_figure(images, ncols)
    if title is not None:
        ax.set_title(str(title))
    return _save(fig, path, dpi, tight=True)


def plot_latent_scatter(z, labels, path, class_names=None, dpi=100, title=None):
    """Scatter of latent codes z (N, d), coloured by integer class labels (N,) or None.

    d == 2: z_1 against z_2. d > 2: the first two principal components (axes
    "PC 1"/"PC 2" with their share of variance). d == 1: z_1 against a uniform
    jitter in [-0.5, 0.5] that only spreads the points (drawn from a generator
    with a fixed seed, so the figure repeats). class_names[label] names each
    class in the legend; without it the label value does.
    """
    owner = "plot_latent_scatter"
    z = check_finite(check_float_array(z, "z", owner, ndim=2), "z", owner)
    N, d = z.shape
    if N == 0 or d == 0:
        raise ValueError(f"{owner}: z must have at least one row and one column, got {z.shape}")
    path, dpi = _check_path(path, owner), _check_dpi(dpi, owner)
    classes, index, names = _check_labels(labels, N, class_names, owner)

    width = 7.0 if labels is not None else 5.5     # room for the legend on the right
    fig = Figure(figsize=(width, 3.5 if d == 1 else 5.5), layout="constrained")
    ax = fig.add_subplot()
    if d == 1:
        jitter = np.random.default_rng(0).uniform(-0.5, 0.5, N)
        xy, axis_names = np.column_stack([z[:, 0], jitter]), ("z_1", "jitter (no meaning)")
        ax.set_yticks([])
    elif d == 2:
        xy, axis_names = z, ("z_1", "z_2")
    else:
        xy, _, _, ratio = principal_components(z, 2)
        axis_names = tuple(f"PC {i + 1} ({r:.1%} of variance)" for i, r in enumerate(ratio))
    size = float(np.clip(15000.0 / N, 3.0, 30.0))   # many points: small dots, few: visible ones
    if classes is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=size, alpha=0.6, linewidths=0, color="tab:blue")
    else:
        colours = _class_colours(len(classes))
        # One call in data order, so no class is drawn over all the others.
        ax.scatter(xy[:, 0], xy[:, 1], s=size, alpha=0.6, linewidths=0, color=colours[index])
        handles = [Line2D([], [], linestyle="", marker="o", markersize=7, color=c, label=name)
                   for c, name in zip(colours, names)]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  frameon=False, title="class")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    if d >= 2:
        ax.set_aspect("equal", adjustable="datalim")    # distances read the same on both axes
    ax.set_title(title if title is not None else f"latent space ({N} points, d = {d})")
    return _save(fig, path, dpi)


def _check_labels(labels, N, class_names, owner):
    """-> (classes, index of each point's class, legend names), all None without labels."""
    if labels is None:
        return None, None, None
    labels = np.asarray(labels)
    if labels.shape != (N,):
        raise ValueError(f"{owner}: labels must have shape ({N},), one per row of z, "
                         f"got shape {labels.shape}")
    if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
        raise TypeError(f"{owner}: labels must be integer class indices, got dtype {labels.dtype}")
    classes, index = np.unique(labels, return_inverse=True)
    if class_names is None:
        return classes, index, [str(c) for c in classes]
    class_names = [str(name) for name in class_names]
    if classes[0] < 0 or classes[-1] >= len(class_names):
        raise ValueError(f"{owner}: labels must index class_names (0 to {len(class_names) - 1}), "
                         f"got labels from {classes[0]} to {classes[-1]}")
    return classes, index, [class_names[c] for c in classes]


def _class_colours(count):
    if count <= 10:
        return np.asarray(colormaps["tab10"].colors)[:count]
    if count <= 20:
        return np.asarray(colormaps["tab20"].colors)[:count]
    return colormaps["turbo"](np.linspace(0.0, 1.0, count))


def plot_latent_grid(decode, path, n=15, latent_dim=None, components=None, mean=None,
                     scale=None, dpi=100):
    """Decode the n x n grid of latent_grid_points and tile the images into one.

    decode(points (n*n, latent_dim) float64) -> images (n*n, H, W, C) in [0, 1]
    is called once. Tile (i, j) shows point i*n + j, so the tick labels read
    z_1 (or PC 1) left to right and z_2 (or PC 2) upwards.
    """
    owner = "plot_latent_grid"
    if not callable(decode):
        raise TypeError(f"{owner}: decode must be callable, points -> images, "
                        f"got {type(decode).__name__}")
    path, dpi = _check_path(path, owner), _check_dpi(dpi, owner)
    points = latent_grid_points(n, latent_dim, components, mean, scale)
    images = _check_images(decode(points), "decode(points)", owner)
    if images.shape[0] != n * n:
        raise ValueError(f"{owner}: decode(points) must return one image per point, "
                         f"{n * n} in all, got shape {images.shape}")
    fig, ax = _tiled_figure(images, n, GRID_TILE_INCHES)
    g = norm.ppf(np.linspace(0.01, 0.99, n)) * _grid_scale(scale, owner)[:, None]
    step = 1 if n <= 15 else 2                           # keep tick labels from colliding
    H, W = images.shape[1:3]
    ax.set_xticks(_tile_centres(n, W)[::step], labels=_tick_labels(g[0][::step]))
    ax.set_yticks(_tile_centres(n, H)[::step], labels=_tick_labels(g[1][::-1][::step]))
    ax.tick_params(labelsize=8, length=2)
    axis = ("PC 1", "PC 2") if components is not None else ("z_1", "z_2")
    ax.set_xlabel(axis[0])
    ax.set_ylabel(axis[1])
    return _save(fig, path, dpi, tight=True)


def _tick_labels(values):
    # The middle grid value is ppf(0.5 + rounding) ~ 1e-16, not 0: round before
    # formatting, and add 0.0 to turn -0.0 into 0.0.
    return [f"{round(float(v), 2) + 0.0:g}" for v in values]


def plot_history(history, path, dpi=100):
    """Training curves from a Keras-style History.history dict, one panel per metric.

    history: metric name -> per-epoch values; "val_<name>" goes in <name>'s panel
    as the validation line. The book's "total_loss", "reconstruction_loss" and
    "kl_loss" come first, in that order, then any other metric; metrics with no
    values are skipped. NaN or inf (a diverged run) shows as a gap. Epochs are
    counted from 1.
    """
    owner = "plot_history"
    if not isinstance(history, Mapping):
        raise TypeError(f"{owner}: history must be a dict of metric name -> per-epoch values "
                        f"(Keras History.history), got {type(history).__name__}")
    path, dpi = _check_path(path, owner), _check_dpi(dpi, owner)
    series = {}
    for key, values in history.items():
        try:
            v = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(f"{owner}: history[{key!r}] must be a list of numbers, "
                            f"got {values!r}") from None
        if v.ndim != 1:
            raise ValueError(f"{owner}: history[{key!r}] must be one value per epoch, "
                             f"got shape {v.shape}")
        if v.size:
            series[str(key)] = np.where(np.isfinite(v), v, np.nan)
    if not series:
        raise ValueError(f"{owner}: history holds no values; expected e.g. "
                         f"{{'total_loss': [..], 'val_total_loss': [..]}}, got {dict(history)!r}")
    found = list(dict.fromkeys(k.removeprefix("val_") for k in series))
    metrics = [m for m in LOSS_ORDER if m in found] + [m for m in found if m not in LOSS_ORDER]

    fig = Figure(figsize=(4.0 * len(metrics), 3.4), layout="constrained")
    for ax, metric in zip(fig.subplots(1, len(metrics), squeeze=False)[0], metrics):
        for key, label, style in ((metric, "train", "-"), ("val_" + metric, "validation", "--")):
            if key in series:
                v = series[key]
                ax.plot(np.arange(1, v.size + 1), v, style, label=label,
                        marker="o" if v.size <= 30 else None, markersize=3)
        ax.set_title(PANEL_TITLES.get(metric, metric.replace("_", " ")))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path, dpi)


# ------------------------------------------------- beyond the book: analysis

__all__ += ["plot_compare", "plot_rate_distortion"]


def _plane(codes, points):
    """2-D views of codes and of extra points: themselves for d = 2, else both
    projected on the codes' first two principal components."""
    if codes.shape[1] == 2:
        return codes, points, ("z_1", "z_2")
    if codes.shape[1] == 1:
        raise ValueError("plot_compare: a 1-D latent space has no plane to draw; use d >= 2")
    _, components, mean, _ = principal_components(codes, 2)
    return (codes - mean) @ components.T, (points - mean) @ components.T, ("PC 1", "PC 2")


def plot_compare(panels, path, class_names=None, dpi=100):
    """Latent spaces side by side: per panel, a scatter of the codes coloured by
    class with the sampled points as black crosses, and below it the images
    decoded from those points.

    panels: a list of dicts with "title" (str), "codes" (N, d), "labels" (N,)
    integers or None, "points" (M, d) and "images" (M, H, W, C) in [0, 1].
    """
    owner = "plot_compare"
    if not isinstance(panels, (list, tuple)) or not panels:
        raise ValueError(f"{owner}: panels must be a non-empty list of dicts, got {panels!r}")
    path, dpi = _check_path(path, owner), _check_dpi(dpi, owner)
    fig = Figure(figsize=(5.2 * len(panels) + 1.6, 10.4), layout="constrained")
    axes = fig.subplots(2, len(panels), squeeze=False, height_ratios=(1.0, 1.0))
    handles = None
    for column, panel in enumerate(panels):
        codes = check_finite(check_float_array(panel["codes"], "codes", owner, ndim=2),
                             "codes", owner)
        points = check_float_array(panel["points"], "points", owner, ndim=2)
        images = _check_images(panel["images"], "images", owner)
        xy, uv, names = _plane(codes, points)
        classes, index, legend = _check_labels(panel.get("labels"), len(codes), class_names,
                                               owner)
        ax = axes[0, column]
        size = float(np.clip(15000.0 / len(codes), 1.0, 30.0))
        if classes is None:
            ax.scatter(xy[:, 0], xy[:, 1], s=size, alpha=0.5, linewidths=0, color="tab:blue")
        else:
            colours = _class_colours(len(classes))
            ax.scatter(xy[:, 0], xy[:, 1], s=size, alpha=0.5, linewidths=0,
                       color=colours[index], rasterized=True)
            handles = [Line2D([], [], linestyle="", marker="o", markersize=7, color=c, label=n)
                       for c, n in zip(colours, legend)]
        ax.scatter(uv[:, 0], uv[:, 1], s=30, marker="x", color="black", linewidths=1.2)
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_title(str(panel.get("title", "")), fontsize=10)
        ncols = int(np.ceil(np.sqrt(len(images))))
        tiled = tile_images(images, ncols, pad=GAP, fill=1.0)
        image_ax = axes[1, column]
        image_ax.imshow(tiled[..., 0] if tiled.shape[-1] == 1 else tiled, cmap="gray",
                        vmin=0.0, vmax=1.0, interpolation="nearest")
        image_ax.set_xticks([])
        image_ax.set_yticks([])
        image_ax.set_title("decoded from the crosses above", fontsize=10)
    if handles:                 # on the last scatter, outside it: constrained layout makes room
        axes[0, -1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                           frameon=False, title="class")
    return _save(fig, path, dpi)


def plot_rate_distortion(points, path, dpi=100):
    """A beta sweep: distortion against rate (one marker per beta, the dashed line
    through the best point is where -ELBO = rate + distortion stays the same), and
    beside it one row of samples per beta.

    points: a list of dicts with "beta", "rate", "distortion" (nats) and
    "samples" (n, H, W, C) in [0, 1], the same n for every beta.
    """
    owner = "plot_rate_distortion"
    if not isinstance(points, (list, tuple)) or not points:
        raise ValueError(f"{owner}: points must be a non-empty list of dicts, got {points!r}")
    path, dpi = _check_path(path, owner), _check_dpi(dpi, owner)
    rate = np.array([float(p["rate"]) for p in points])
    distortion = np.array([float(p["distortion"]) for p in points])
    if not (np.all(np.isfinite(rate)) and np.all(np.isfinite(distortion))):
        raise ValueError(f"{owner}: rates and distortions must be finite")
    samples = [_check_images(p["samples"], "samples", owner) for p in points]
    if len({s.shape for s in samples}) != 1:
        raise ValueError(f"{owner}: every beta needs as many samples of one shape, got "
                         f"{[s.shape for s in samples]}")
    fig = Figure(figsize=(12.5, max(4.2, 0.75 * len(points) + 1.0)), layout="constrained")
    curve_ax, sample_ax = fig.subplots(1, 2, width_ratios=(1.0, 1.45))
    order = np.argsort(rate)
    curve_ax.plot(rate[order], distortion[order], "-o", color="tab:blue")
    for p, r, d in zip(points, rate, distortion):
        curve_ax.annotate(f"β = {float(p['beta']):g}", (r, d), textcoords="offset points",
                          xytext=(6, 4), fontsize=9)
    best = int(np.argmin(rate + distortion))
    span = np.array([0.0, rate.max() * 1.1 + 1.0])
    curve_ax.plot(span, rate[best] + distortion[best] - span, "--", color="gray", linewidth=1,
                  label=f"-ELBO = {rate[best] + distortion[best]:.1f} nats")
    low, high = distortion.min(), distortion.max()
    margin = 0.15 * (high - low) + 1.0
    curve_ax.set_ylim(low - margin, high + margin)
    curve_ax.set_xlim(0.0, span[1])
    curve_ax.set_xlabel("rate: KL(q(z|x) || p(z)), nats per image")
    curve_ax.set_ylabel("distortion: -log p(x|z), nats per image")
    curve_ax.grid(alpha=0.3)
    curve_ax.legend(loc="upper right", fontsize=9)
    n = samples[0].shape[0]
    tiled = tile_images(np.concatenate(samples), n, pad=GAP, fill=1.0)
    sample_ax.imshow(tiled[..., 0] if tiled.shape[-1] == 1 else tiled, cmap="gray",
                     vmin=0.0, vmax=1.0, interpolation="nearest")
    sample_ax.set_xticks([])
    sample_ax.set_yticks(_tile_centres(len(points), samples[0].shape[1]),
                         labels=[f"β = {float(p['beta']):g}" for p in points])
    sample_ax.tick_params(axis="y", length=0)
    sample_ax.set_title("samples from the prior N(0, I)", fontsize=10)
    return _save(fig, path, dpi)
