"""The rest of chapter 3's views of the latent space: decoded samples over the scatter,
the range grid, p-space and latent histograms (docs/plotting.md). The latent
arithmetic's strips are in arithmetic.py.

Like every figure here, each takes plain arrays (codes, points, images) and a
path; minivae.latent computes them from a model.
"""

import numpy as np

from .._validation import check_codes, check_finite, check_float_array, check_positive_int
from ..errors import InputError, InputTypeError
from ..latent import latent_histograms, p_space
from ._canvas import (GAP, _check_dpi, _check_images, _check_labels, _check_path, _class_colours,
                      _save, _tile_centres, legend_marker, new_figure, tile_images)
from .book import GRID_TILE_INCHES
from .latent import plane

SAMPLE_COLOUR = "#00B0F0"       # the book's colour for the sampled points


def _scatter(ax, xy, labels, class_names, owner, size=None, legend=True):
    """Codes as dots: black as the book's plain scatter, or coloured by class."""
    classes, index, names = _check_labels(labels, len(xy), class_names, owner)
    size = float(np.clip(15000.0 / len(xy), 2.0, 30.0)) if size is None else size
    if classes is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=size, c="black", alpha=0.5, linewidths=0,
                   rasterized=True)
        return None
    colours = _class_colours(len(classes))
    ax.scatter(xy[:, 0], xy[:, 1], s=size, color=colours[index], alpha=0.8, linewidths=0,
               rasterized=True)
    handles = [legend_marker(c, n, size=6) for c, n in zip(colours, names)]
    if legend:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                  fontsize=8, title="class")
    return classes, colours, names


def _show(ax, image):
    ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0.0,
              vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_latent_samples(codes, points, images, path, ncols=6, labels=None, class_names=None,
                        title=None, dpi=100):
    """The notebooks' "generate using the decoder" figure: the codes as a scatter with
    the sampled points on it (numbered, in the book's blue), and below it each
    point's decoded image labelled with its number and coordinates.

    codes (N, d); points (n, d), e.g. latent.bounding_box_samples (the
    autoencoder's gaps) or latent.prior_samples (the VAE's prior); images
    (n, H, W, C) in [0, 1], decoded from points. d > 2: the scatter shows the
    codes' first two principal components, and the labels those coordinates.
    labels (N,) colours the codes by class; None draws them black as the book.
    """
    owner = "plot_latent_samples"
    codes = check_codes(codes, owner, name="codes")
    points = check_codes(points, owner, name="points")
    images = _check_images(images, "images", owner)
    if len(images) != len(points):
        raise InputError(f"{owner}: images must be one per point: {len(points)} points but "
                         f"{len(images)} images")
    ncols = min(check_positive_int(ncols, "ncols", owner), len(points))
    path, dpi = _check_path(path, owner), _check_dpi(dpi, owner)
    if points is not None and points.shape[1] != codes.shape[1]:
        raise InputError(f"{owner}: points must have the codes' {codes.shape[1]} columns, got "
                         f"shape {points.shape}")
    xy, uv, axis_names = plane(codes, points, owner)
    # Each tile gets a white band below it for its label: one imshow, not n axes.
    n, H, W, C = images.shape
    band = max(4, round(0.3 * H))
    banded = np.concatenate([images, np.ones((n, band, W, C), images.dtype)], axis=1)
    tiled = tile_images(banded, ncols, pad=GAP, fill=1.0)
    width = max(7.0, 1.15 * ncols)
    strip_height = width * tiled.shape[0] / tiled.shape[1]
    fig = new_figure(figsize=(width, 6.0 + strip_height))
    total = 6.0 + strip_height
    ax = fig.add_axes((0.1, (strip_height + 0.6) / total, 0.62, 5.0 / total))
    _scatter(ax, xy, labels, class_names, owner)
    ax.scatter(uv[:, 0], uv[:, 1], s=40, c=SAMPLE_COLOUR, edgecolors="black", linewidths=0.5)
    for i, (u, v) in enumerate(uv):
        ax.annotate(str(i), (u, v), textcoords="offset points", xytext=(4, 3), fontsize=7)
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(title if title is not None else f"{n} points decoded below")
    strip = fig.add_axes((0.0, 0.0, 1.0, strip_height / total))
    _show(strip, tiled)
    for spine in strip.spines.values():
        spine.set_visible(False)
    for i in range(n):
        row, col = divmod(i, ncols)
        strip.text(col * (W + GAP) + (W - 1) / 2, row * (H + band + GAP) + H + band / 2,
                   f"{i}: [{uv[i, 0]:.1f}, {uv[i, 1]:.1f}]", ha="center", va="center",
                   fontsize=8)
    return _save(fig, path, dpi, tight=True)


def plot_range_grid(images, xs, ys, path, codes=None, labels=None, class_names=None,
                    axis_names=("z_1", "z_2"), dpi=100):
    """The autoencoder notebook's 15 x 15 grid decoded over the codes' range.

    images (n*n, H, W, C) in [0, 1], decoded from latent.range_grid's points:
    image i*n + j at (xs[j], ys[i]), ys from the top row down. With codes
    (N, 2) in the grid's plane (for d > 2, their principal-component
    coordinates), the scatter of the codes is drawn beside the grid with the
    grid's points on it, so each tile can be matched to what lies there.
    """
    owner = "plot_range_grid"
    images = _check_images(images, "images", owner)
    xs = check_finite(check_float_array(np.asarray(xs, float), "xs", owner, ndim=1), "xs", owner)
    ys = check_finite(check_float_array(np.asarray(ys, float), "ys", owner, ndim=1), "ys", owner)
    n = len(xs)
    if len(ys) != n or len(images) != n * n:
        raise InputError(f"{owner}: a grid needs len(xs) == len(ys) == n and n * n images, got "
                         f"{len(xs)} xs, {len(ys)} ys and {len(images)} images")
    path, dpi = _check_path(path, owner), _check_dpi(dpi, owner)
    H, W = images.shape[1:3]
    tiled = tile_images(images, n, pad=GAP, fill=1.0)
    grid_inches = n * GRID_TILE_INCHES
    width = grid_inches + (grid_inches + 2.0 if codes is not None else 0.0)
    fig = new_figure(figsize=(width + 0.8, grid_inches + 0.8), layout="constrained")
    if codes is not None:
        codes = check_codes(codes, owner, name="codes")
        if codes.shape[1] != 2:
            raise InputError(f"{owner}: codes must be the 2-D coordinates the grid spans, shape "
                             f"(N, 2), got {codes.shape}")
        scatter_ax, ax = fig.subplots(1, 2, width_ratios=(grid_inches + 2.0, grid_inches))
        _scatter(scatter_ax, codes, labels, class_names, owner, legend=True)
        gx, gy = np.meshgrid(xs, ys)
        scatter_ax.scatter(gx.ravel(), gy.ravel(), s=4, c="black", marker="+", linewidths=0.6)
        scatter_ax.set_xlabel(axis_names[0])
        scatter_ax.set_ylabel(axis_names[1])
        scatter_ax.set_title("codes, and the grid's points (+)", fontsize=10)
    else:
        ax = fig.add_subplot()
    ax.imshow(tiled[..., 0] if tiled.shape[-1] == 1 else tiled, cmap="gray", vmin=0.0, vmax=1.0,
              interpolation="nearest")
    step = 1 if n <= 15 else 2
    ax.set_xticks(_tile_centres(n, W)[::step], labels=_coordinates(xs[::step]))
    ax.set_yticks(_tile_centres(n, H)[::step], labels=_coordinates(ys[::step]))
    ax.tick_params(labelsize=7, length=2)
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(f"decoded on a {n} x {n} grid over the codes' range", fontsize=10)
    return _save(fig, path, dpi)


def _coordinates(values):
    """Tick labels to the grid's own precision: one more decimal than its step needs,
    so a value that is 0 up to rounding reads 0, not -0.00057."""
    spacing = np.abs(np.diff(values)).min() if len(values) > 1 else 1.0
    decimals = int(max(0, 1 - np.floor(np.log10(spacing)))) if spacing > 0 else 2
    return [f"{round(float(v), decimals) + 0.0:.{decimals}f}" for v in values]


def plot_p_space(z, labels, path, class_names=None, dims=(0, 1), dpi=100):
    """z-space beside p-space, with the label table: the Fashion VAE notebook's view.

    z (N, d); the panels show axes dims = (i, j) of z and of p = norm.cdf(z).
    Under the prior each p is uniform on [0, 1], so codes that follow the prior
    fill the p-square evenly. labels (N,) integer classes (or None); the table
    lists each class's id and name in its colour.
    """
    owner = "plot_p_space"
    z = check_codes(z, owner)
    try:
        i, j = (int(k) for k in dims)
    except (TypeError, ValueError):
        raise InputTypeError(f"{owner}: dims must be two axis indices, got {dims!r}") from None
    if not (0 <= i < z.shape[1] and 0 <= j < z.shape[1]) or i == j:
        raise InputError(f"{owner}: dims must be two different axes in [0, {z.shape[1] - 1}], "
                         f"got {dims!r}")
    path, dpi = _check_path(path, owner), _check_dpi(dpi, owner)
    p = p_space(z)
    fig = new_figure(figsize=(14.0, 5.6), layout="constrained")
    z_ax, p_ax, table_ax = fig.subplots(1, 3, width_ratios=(1.0, 1.0, 0.45))
    found = None
    for ax, values, name in ((z_ax, z, "z"), (p_ax, p, "p = norm.cdf(z)")):
        found = _scatter(ax, values[:, [i, j]], labels, class_names, owner, legend=False)
        ax.set_xlabel(f"{name.split(' ')[0]}_{i + 1}")
        ax.set_ylabel(f"{name.split(' ')[0]}_{j + 1}")
        ax.set_title(name)
        ax.set_aspect("equal", adjustable="datalim" if ax is z_ax else "box")
    p_ax.set_xlim(0.0, 1.0)
    p_ax.set_ylim(0.0, 1.0)
    table_ax.set_axis_off()
    if found is not None:
        classes, colours, names = found
        table = table_ax.table(cellText=[[str(c), n] for c, n in zip(classes, names)],
                               colLabels=["ID", "label"], loc="center", cellLoc="left",
                               colWidths=(0.25, 0.75))
        table.auto_set_font_size(False)
        table.set_fontsize(9)
        for row, colour in enumerate(colours, start=1):
            table[row, 0].set_facecolor(colour)
    return _save(fig, path, dpi)


def plot_latent_histograms(z, path, dims=50, bins=20, ncols=10, dpi=100):
    """The faces notebook's histograms: one panel per latent axis, its codes' density
    histogram (bins over the axis's own range) under the N(0, 1) density.

    z (N, d); dims: the first `dims` axes (the book: 0-49), at most d (None: all).
    """
    owner = "plot_latent_histograms"
    z = check_codes(z, owner, min_rows=2)
    k = z.shape[1] if dims is None else min(check_positive_int(dims, "dims", owner), z.shape[1])
    bins = check_positive_int(bins, "bins", owner)
    ncols = min(check_positive_int(ncols, "ncols", owner), k)
    path, dpi = _check_path(path, owner), _check_dpi(dpi, owner)
    rows = -(-k // ncols)
    fig = new_figure(figsize=(1.6 * ncols, 1.25 * rows + 0.5))
    # A fixed layout: constrained layout takes seconds over 50 panels and has no labels
    # to make room for here (each panel's number sits below it, inside its own cell).
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.05, top=1 - 0.45 / (1.25 * rows + 0.5),
                        wspace=0.1, hspace=0.5)
    hist = latent_histograms(z, k, bins)
    for index, ax in enumerate(fig.subplots(rows, ncols, squeeze=False).ravel()):
        ax.set_axis_off()
        if index >= k:
            continue
        ax.stairs(hist["density"][index], hist["edges"][index], fill=True,
                  color="tab:blue")                             # one patch, not `bins` bars
        ax.plot(hist["x"], hist["pdf"], color="tab:orange", linewidth=1.2)
        ax.set_title(str(index), fontsize=8, y=-0.3)
    fig.suptitle(f"latent axes 0-{k - 1}: histogram of {len(z)} codes (blue) and the N(0, 1) "
                 f"density (orange)", fontsize=10)
    return _save(fig, path, dpi)
