"""The faces notebook's latent arithmetic as strips of images: an attribute vector added
with a range of factors, and a morph between two images (docs/plotting.md).

Each takes the images minivae.attributes decoded, and a path.
"""

import numpy as np

from .._validation import check_float_array
from ..errors import InputError
from ._canvas import _check_dpi, _check_images, _check_path, _save, _tile_centres, _tiled_figure


def _strip_figure(grid, column_labels, row_labels, title, tile_inches):
    """Rows of images (rows, cols, H, W, C) tiled, labels over the columns."""
    rows, cols = grid.shape[:2]
    fig, ax = _tiled_figure(grid.reshape(rows * cols, *grid.shape[2:]), cols, tile_inches)
    H, W = grid.shape[2:4]
    ax.xaxis.tick_top()
    ax.set_xticks(_tile_centres(cols, W), labels=column_labels)
    ax.tick_params(axis="both", length=0, labelsize=9)
    if row_labels is not None:
        ax.set_yticks(_tile_centres(rows, H), labels=row_labels)
    if title is not None:
        ax.set_title(str(title), pad=18)
    return fig


def plot_attribute_arithmetic(originals, images, factors, path, title=None, row_labels=None,
                              tile_inches=0.9, dpi=100):
    """The faces notebook's "add vector to images": one row per image, its original
    then its code moved by each factor times the attribute vector, decoded.

    originals (n, H, W, C); images (n, k, H, W, C) from attributes.add_vector;
    factors (k,), the column headings.
    """
    owner = "plot_attribute_arithmetic"
    x = _check_images(originals, "originals", owner)
    decoded = check_float_array(images, "images", owner, ndim=5)
    factors = np.asarray(factors, dtype=float).ravel()
    if decoded.shape[0] != len(x) or decoded.shape[1] != len(factors) or \
            decoded.shape[2:] != x.shape[1:]:
        raise InputError(f"{owner}: images must have shape (n, k, H, W, C) = ({len(x)}, "
                         f"{len(factors)}, {', '.join(map(str, x.shape[1:]))}) for "
                         f"{len(x)} originals and {len(factors)} factors, got {decoded.shape}")
    flat = _check_images(decoded.reshape(-1, *decoded.shape[2:]), "images", owner)
    path, dpi = _check_path(path, owner), _check_dpi(dpi, owner)
    grid = np.concatenate([x[:, None], flat.reshape(decoded.shape)], axis=1)
    labels = ["original"] + [f"{f:+g}" if f else "0" for f in factors]
    if row_labels is not None and len(row_labels) != len(x):
        raise InputError(f"{owner}: row_labels must name each of the {len(x)} rows, got "
                         f"{len(row_labels)}")
    fig = _strip_figure(grid, labels, row_labels, title, tile_inches)
    return _save(fig, path, dpi, tight=True)


def plot_morph(images, alphas, path, originals=None, title=None, tile_inches=0.9, dpi=100):
    """The faces notebook's morph: images decoded along (1 - alpha) z_a + alpha z_b,
    one per alpha, between the two originals when given.

    images (k, H, W, C) from attributes.morph; alphas (k,); originals (2, H, W, C).
    """
    owner = "plot_morph"
    decoded = _check_images(images, "images", owner)
    alphas = np.asarray(alphas, dtype=float).ravel()
    if len(alphas) != len(decoded):
        raise InputError(f"{owner}: alphas must be one per image: {len(decoded)} images but "
                         f"{len(alphas)} alphas")
    labels = [f"α={a:g}" for a in alphas]
    if originals is not None:
        ends = _check_images(originals, "originals", owner)
        if ends.shape != (2, *decoded.shape[1:]):
            raise InputError(f"{owner}: originals must be the two images (2, "
                             f"{', '.join(map(str, decoded.shape[1:]))}), got {ends.shape}")
        decoded = np.concatenate([ends[:1], decoded, ends[1:]])
        labels = ["A"] + labels + ["B"]
    path, dpi = _check_path(path, owner), _check_dpi(dpi, owner)
    fig = _strip_figure(decoded[None], labels, None, title, tile_inches)
    return _save(fig, path, dpi, tight=True)
