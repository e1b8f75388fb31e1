"""The book's figures: reconstructions, samples, the latent scatter and grid, the losses."""

from collections.abc import Mapping

import numpy as np
from scipy.special import ndtri

from .._validation import check_codes, check_positive_int
from ..errors import InputError, InputTypeError
from ..latent import principal_components
from ._canvas import (_check_dpi, _check_images, _check_labels, _check_path, _class_colours,
                      _save, _tile_centres, _tiled_figure, legend_marker, new_figure)
from .latent import _grid_scale, grid_points

GRID_TILE_INCHES = 0.55   # a 15 x 15 latent grid then prints near 8 x 8 inches, as in the book
LOSS_ORDER = ("total_loss", "reconstruction_loss", "kl_loss")
PANEL_TITLES = {"total_loss": "total loss", "reconstruction_loss": "reconstruction loss",
                "kl_loss": "KL loss"}


def plot_reconstructions(originals, reconstructions, path, n=10, dpi=100):
    """Originals (top row) over their reconstructions (bottom row), first n pairs.

    originals, reconstructions: (N, H, W, C) in [0, 1], same shape. Returns Path(path).
    """
    owner = "plot_reconstructions"
    x = _check_images(originals, "originals", owner)
    x_hat = _check_images(reconstructions, "reconstructions", owner)
    if x.shape != x_hat.shape:
        raise InputError(f"{owner}: originals and reconstructions must have the same shape, "
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
    z = check_codes(z, owner)           # integer codes are taken as floats
    N, d = z.shape
    path, dpi = _check_path(path, owner), _check_dpi(dpi, owner)
    classes, index, names = _check_labels(labels, N, class_names, owner)

    width = 7.0 if labels is not None else 5.5     # room for the legend on the right
    fig = new_figure(figsize=(width, 3.5 if d == 1 else 5.5), layout="constrained")
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
        handles = [legend_marker(c, name) for c, name in zip(colours, names)]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  frameon=False, title="class")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    if d >= 2:
        ax.set_aspect("equal", adjustable="datalim")    # distances read the same on both axes
    ax.set_title(title if title is not None else f"latent space ({N} points, d = {d})")
    return _save(fig, path, dpi)


def plot_latent_grid(decode, path, n=15, latent_dim=None, components=None, mean=None,
                     scale=None, dpi=100):
    """Decode the n x n grid of latent_grid_points and tile the images into one.

    decode(points (n*n, latent_dim) float64) -> images (n*n, H, W, C) in [0, 1]
    is called once. Tile (i, j) shows point i*n + j, so the tick labels read
    z_1 (or PC 1) left to right and z_2 (or PC 2) upwards.
    """
    owner = "plot_latent_grid"
    if not callable(decode):
        raise InputTypeError(f"{owner}: decode must be callable, points -> images, "
                             f"got {type(decode).__name__}")
    path, dpi = _check_path(path, owner), _check_dpi(dpi, owner)
    points = grid_points(n, latent_dim, components, mean, scale, owner)
    images = _check_images(decode(points), "decode(points)", owner)
    if images.shape[0] != n * n:
        raise InputError(f"{owner}: decode(points) must return one image per point, "
                         f"{n * n} in all, got shape {images.shape}")
    fig, ax = _tiled_figure(images, n, GRID_TILE_INCHES)
    g = ndtri(np.linspace(0.01, 0.99, n)) * _grid_scale(scale, owner)[:, None]   # norm.ppf
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
        raise InputTypeError(f"{owner}: history must be a dict of metric name -> per-epoch values "
                             f"(Keras History.history), got {type(history).__name__}")
    path, dpi = _check_path(path, owner), _check_dpi(dpi, owner)
    series = {}
    for key, values in history.items():
        try:
            v = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            raise InputTypeError(f"{owner}: history[{key!r}] must be a list of numbers, "
                                 f"got {values!r}") from None
        if v.ndim != 1:
            raise InputError(f"{owner}: history[{key!r}] must be one value per epoch, "
                             f"got shape {v.shape}")
        if v.size:
            series[str(key)] = np.where(np.isfinite(v), v, np.nan)
    if not series:
        raise InputError(f"{owner}: history holds no values; expected e.g. "
                         f"{{'total_loss': [..], 'val_total_loss': [..]}}, got {dict(history)!r}")
    found = list(dict.fromkeys(k.removeprefix("val_") for k in series))
    metrics = [m for m in LOSS_ORDER if m in found] + [m for m in found if m not in LOSS_ORDER]

    fig = new_figure(figsize=(4.0 * len(metrics), 3.4), layout="constrained")
    from matplotlib.ticker import MaxNLocator     # after new_figure, which starts matplotlib
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
