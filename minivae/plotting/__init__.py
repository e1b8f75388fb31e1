"""Figures for a VAE, written as PNG, JPEG, PDF or SVG files (docs/plotting.md).

    book.py         the book's figures
    experiments.py  figures beyond the book: latent spaces compared, the rate-distortion curve
    latent.py       the plane of the codes' principal components, the grid of prior quantiles
    chapter3.py     the rest of chapter 3: decoded samples on the scatter, the range grid,
                    p-space, latent histograms
    arithmetic.py   the latent arithmetic's strips: a vector added, a morph
    _canvas.py      checks, tiling, colours and saving, shared by all

Every function takes plain arrays (the latent grid takes a plain `decode`
callable) and a path, draws with matplotlib's object-oriented API on an Agg
canvas and writes the format the path's extension names (.png, .jpg/.jpeg,
.pdf, .svg), creating missing parent folders. pyplot is never imported: no
display is needed, no window opens, and no figure is left in pyplot's global
registry, so there is nothing to close; a `Figure` pyplot never saw is freed
like any other object.

Images are NHWC floats in [0, 1] with C = 1 (grayscale) or C = 3 (RGB), as a
sigmoid decoder produces them.
"""

from ._canvas import tile_images
from .book import (plot_history, plot_image_grid, plot_interpolation, plot_latent_grid,
                   plot_latent_scatter, plot_reconstructions)
from .arithmetic import plot_attribute_arithmetic, plot_morph
from .chapter3 import plot_latent_histograms, plot_latent_samples, plot_p_space, plot_range_grid
from .experiments import plot_compare, plot_rate_distortion
from .latent import latent_grid_points

__all__ = ["tile_images", "latent_grid_points", "plot_reconstructions",
           "plot_image_grid", "plot_interpolation", "plot_latent_scatter", "plot_latent_grid",
           "plot_history", "plot_compare", "plot_rate_distortion", "plot_latent_samples",
           "plot_range_grid", "plot_p_space", "plot_latent_histograms",
           "plot_attribute_arithmetic", "plot_morph"]
