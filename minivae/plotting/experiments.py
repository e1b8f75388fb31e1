"""Figures beyond the book: latent spaces compared, the rate-distortion curve."""

import numpy as np

from .._validation import check_finite, check_float_array
from ..errors import InputError
from ._canvas import (GAP, _check_dpi, _check_images, _check_labels, _check_path, _class_colours,
                      _save, _tile_centres, legend_marker, new_figure, tile_images)
from .latent import plane


def plot_compare(panels, path, class_names=None, dpi=100):
    """Latent spaces side by side: per panel, a scatter of the codes coloured by
    class with the sampled points as black crosses, and below it the images
    decoded from those points.

    panels: a list of dicts with "title" (str), "codes" (N, d), "labels" (N,)
    integers or None, "points" (M, d) and "images" (M, H, W, C) in [0, 1].
    """
    owner = "plot_compare"
    if not isinstance(panels, (list, tuple)) or not panels:
        raise InputError(f"{owner}: panels must be a non-empty list of dicts, got {panels!r}")
    path, dpi = _check_path(path, owner), _check_dpi(dpi, owner)
    fig = new_figure(figsize=(5.2 * len(panels) + 1.6, 10.4), layout="constrained")
    axes = fig.subplots(2, len(panels), squeeze=False, height_ratios=(1.0, 1.0))
    handles = None
    for column, panel in enumerate(panels):
        codes = check_finite(check_float_array(panel["codes"], "codes", owner, ndim=2),
                             "codes", owner)
        points = check_float_array(panel["points"], "points", owner, ndim=2)
        images = _check_images(panel["images"], "images", owner)
        xy, uv, names = plane(codes, points, "plot_compare")
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
            handles = [legend_marker(c, n) for c, n in zip(colours, legend)]
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
        raise InputError(f"{owner}: points must be a non-empty list of dicts, got {points!r}")
    path, dpi = _check_path(path, owner), _check_dpi(dpi, owner)
    rate = np.array([float(p["rate"]) for p in points])
    distortion = np.array([float(p["distortion"]) for p in points])
    if not (np.all(np.isfinite(rate)) and np.all(np.isfinite(distortion))):
        raise InputError(f"{owner}: rates and distortions must be finite")
    samples = [_check_images(p["samples"], "samples", owner) for p in points]
    if len({s.shape for s in samples}) != 1:
        raise InputError(f"{owner}: every beta needs as many samples of one shape, got "
                         f"{[s.shape for s in samples]}")
    fig = new_figure(figsize=(12.5, max(4.2, 0.75 * len(points) + 1.0)), layout="constrained")
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
