"""What every figure shares: argument checks, tiling, colours and saving.

Figures draw with matplotlib's object-oriented API on an Agg canvas. pyplot is
never imported: no display is needed, no window opens, and no figure is left in
pyplot's global registry, so there is nothing to close; a `Figure` pyplot never
saw is freed like any other object.

matplotlib itself is imported when a figure is first drawn (new_figure, legend_marker,
_save, _class_colours), not when minivae is: it takes about half a second, which
`python -m minivae --help` and every command that draws nothing need not spend.
"""

import numbers
import os
from pathlib import Path

import numpy as np

from .._atomic import atomic_write
from .._matplotlib import start_matplotlib as _start_matplotlib
from .._validation import check_finite, check_float_array, check_positive_int
from ..errors import InputError, InputTypeError

TILE_INCHES = 0.8         # one image tile in print: a 32 px tile covers 80 px at dpi 100
GAP = 1                   # white pixels between tiles, so neighbouring images do not merge
# The file's extension names its format; matplotlib's Agg canvas writes all four
# (JPEG through Pillow).
FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".pdf": "pdf", ".svg": "svg"}
JPEG_QUALITY = 95         # Pillow's default, 75, blurs the edges of small tiles


def tile_images(images, ncols, pad=0, fill=0.0):
    """Lay N images out row by row in one array, `ncols` per row.

    images (N, H, W) or (N, H, W, C) -> (rows*H + (rows-1)*pad, ncols*W + (ncols-1)*pad[, C])
    with rows = ceil(N / ncols). Image k sits in row k // ncols, column k % ncols;
    cells past the last image and the `pad` pixels between cells hold `fill`.
    The dtype is kept.
    """
    x = np.asarray(images)
    if x.ndim not in (3, 4):
        raise InputError(f"tile_images: images must have shape (N, H, W) or (N, H, W, C), "
                         f"got shape {x.shape}")
    if x.shape[0] == 0:
        raise InputError(f"tile_images: images is empty, shape {x.shape}")
    ncols = check_positive_int(ncols, "ncols", "tile_images")
    if isinstance(pad, bool) or not isinstance(pad, numbers.Integral) or pad < 0:
        raise InputError(f"tile_images: pad must be an integer >= 0, got {pad!r}")
    if isinstance(fill, bool) or not isinstance(fill, numbers.Real):
        raise InputTypeError(f"tile_images: fill must be a number (the value between and "
                             f"after the images), got {fill!r} of type {type(fill).__name__}")
    N, H, W, rest = x.shape[0], x.shape[1], x.shape[2], x.shape[3:]
    rows = -(-N // ncols)
    # Give every cell a pad-wide border on its bottom and right, then a reshape
    # and one axis swap put the cells side by side; the outer border is cut off.
    cells = np.full((rows * ncols, H + pad, W + pad) + rest, fill, dtype=x.dtype)
    cells[:N, :H, :W] = x
    grid = cells.reshape((rows, ncols, H + pad, W + pad) + rest).swapaxes(1, 2)
    grid = grid.reshape((rows * (H + pad), ncols * (W + pad)) + rest)
    return grid[:rows * (H + pad) - pad, :ncols * (W + pad) - pad]


def _check_images(images, name, owner):
    images = check_float_array(images, name, owner, ndim=4)
    if images.shape[0] == 0:
        raise InputError(f"{owner}: {name} is empty, shape {images.shape}")
    if images.shape[-1] not in (1, 3):
        raise InputError(f"{owner}: {name} must be (N, H, W, C) with C = 1 (grayscale) or "
                         f"3 (RGB), got shape {images.shape}")
    check_finite(images, name, owner)
    lo, hi = float(images.min()), float(images.max())
    if lo < 0.0 or hi > 1.0:
        raise InputError(f"{owner}: {name} must lie in [0, 1], got values from {lo:.4g} to "
                         f"{hi:.4g}; rescale it or np.clip(x, 0, 1) first")
    return images


def _check_path(path, owner):
    """The figure's path, once its extension names a format minivae writes (a refusal
    names the path, not `owner`: a command's --out reaches here too)."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputTypeError(f"{owner}: path must be a str or os.PathLike, got "
                             f"{type(path).__name__}")
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        given = f"extension {path.suffix!r}" if path.suffix else "no extension"
        raise InputError(f"cannot tell the figure format of {str(path)!r} from its "
                         f"{given}; end the name in {', '.join(FORMATS)}")
    return path


def _check_dpi(dpi, owner):
    if isinstance(dpi, bool) or not isinstance(dpi, numbers.Real) or not dpi > 0:
        raise InputError(f"{owner}: dpi must be a positive number, got {dpi!r}")
    return float(dpi)


def new_figure(**kwargs):
    """matplotlib.figure.Figure(**kwargs): a figure no pyplot registry holds."""
    _start_matplotlib()
    from matplotlib.figure import Figure
    return Figure(**kwargs)


def legend_marker(colour, label, size=7):
    """A legend entry: one round marker of `colour`, no line."""
    _start_matplotlib()
    from matplotlib.lines import Line2D
    return Line2D([], [], linestyle="", marker="o", markersize=size, color=colour, label=label)


def _save(fig, path, dpi, tight=False):
    """Write fig to `path` (checked by _check_path) in the format its extension names."""
    _start_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(fig)                    # attach a raster canvas: no display, no pyplot
    kind = FORMATS[path.suffix.lower()]
    extra = {"bbox_inches": "tight", "pad_inches": 0.05} if tight else {}
    if kind == "jpeg":
        extra["pil_kwargs"] = {"quality": JPEG_QUALITY}
    # whole or not at all: a full disk leaves the old figure, or none, never half of one
    atomic_write(path, lambda f: fig.savefig(f, dpi=dpi, format=kind, **extra))
    return path


def _tiled_figure(images, ncols, tile_inches=TILE_INCHES):
    """A figure whose one axes shows the tiled images at `tile_inches` per tile.

    The axes fills the figure; titles and tick labels fall outside it and are
    brought back by saving with bbox_inches="tight".
    """
    tiled = tile_images(images, ncols, pad=GAP, fill=1.0)
    inch = tile_inches / images.shape[1]
    fig = new_figure(figsize=(tiled.shape[1] * inch, tiled.shape[0] * inch))
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


def _check_labels(labels, N, class_names, owner):
    """-> (classes, index of each point's class, legend names), all None without labels."""
    if labels is None:
        return None, None, None
    labels = np.asarray(labels)
    if labels.shape != (N,):
        raise InputError(f"{owner}: labels must have shape ({N},), one per row of z, "
                         f"got shape {labels.shape}")
    if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
        raise InputTypeError(f"{owner}: labels must be integer class indices, got dtype "
                             f"{labels.dtype}")
    classes, index = np.unique(labels, return_inverse=True)
    if class_names is None:
        return classes, index, [str(c) for c in classes]
    class_names = [str(name) for name in class_names]
    if classes[0] < 0 or classes[-1] >= len(class_names):
        raise InputError(f"{owner}: labels must index class_names (0 to {len(class_names) - 1}), "
                         f"got labels from {classes[0]} to {classes[-1]}")
    return classes, index, [class_names[c] for c in classes]


def _class_colours(count):
    _start_matplotlib()
    from matplotlib import colormaps
    if count <= 10:
        return np.asarray(colormaps["tab10"].colors)[:count]
    if count <= 20:
        return np.asarray(colormaps["tab20"].colors)[:count]
    return colormaps["turbo"](np.linspace(0.0, 1.0, count))
