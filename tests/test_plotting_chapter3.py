"""Tests for minivae.plotting.chapter3: every figure on small models, and bad input."""

import numpy as np
import pytest

from minivae import latent
from minivae.plotting import (plot_latent_histograms, plot_latent_samples, plot_p_space,
                              plot_range_grid)
from minivae.plotting.chapter3 import _coordinates
from tests.conftest import images, tiny_autoencoder, tiny_vae
from tests.test_plotting import FASHION, assert_real_png


@pytest.fixture(scope="module")
def small():
    """A small VAE (latent 3) and autoencoder (latent 2), 60 images and labels."""
    rng = np.random.default_rng(0)
    x = images(rng, 60)
    return tiny_vae(0, latent_dim=3), tiny_autoencoder(0), x, rng.integers(0, 10, 60)


@pytest.mark.parametrize("which", ["vae", "autoencoder"])
def test_latent_samples_from_the_box_and_the_prior(tmp_path, small, which):
    vae, ae, x, y = small
    model = vae if which == "vae" else ae
    z = latent.codes(model, x)
    for name, points, labels in (
            ("box", latent.bounding_box_samples(z, 18, np.random.default_rng(0)), None),
            ("prior", latent.prior_samples(z.shape[1], 7, np.random.default_rng(0)), y)):
        path = tmp_path / f"{which}_{name}.png"
        out = plot_latent_samples(z, points, latent.decode_points(model, points), path,
                                  labels=labels, class_names=FASHION, title=name)
        assert_real_png(path, out)


def test_range_grid_with_and_without_the_scatter(tmp_path, small):
    vae, ae, x, y = small
    for model in (vae, ae):
        grid = latent.range_grid(latent.codes(model, x), 4)
        decoded = latent.decode_points(model, grid["points"])
        path = tmp_path / f"grid_{model.latent_dim}.png"
        assert_real_png(path, plot_range_grid(decoded, grid["xs"], grid["ys"], path,
                                              codes=grid["plane"], labels=y,
                                              class_names=FASHION,
                                              axis_names=grid["axis_names"]))
    bare = plot_range_grid(decoded, grid["xs"], grid["ys"], tmp_path / "bare.png")
    pixels = assert_real_png(tmp_path / "bare.png", bare)
    # Without the scatter the figure is the square grid alone: near square.
    assert 0.8 < pixels.shape[1] / pixels.shape[0] < 1.3


def test_p_space_with_labels_without_and_on_other_axes(tmp_path, small):
    vae, _, x, y = small
    z = latent.codes(vae, x, sample=True, rng=np.random.default_rng(0))
    for name, labels, dims in (("labels", y, (0, 1)), ("plain", None, (2, 0))):
        path = tmp_path / f"p_{name}.png"
        assert_real_png(path, plot_p_space(z, labels, path, class_names=FASHION, dims=dims))


def test_latent_histograms_show_at_most_the_axes_there_are(tmp_path):
    z = np.random.default_rng(0).standard_normal((200, 7))
    path = tmp_path / "hist.png"
    wide = assert_real_png(path, plot_latent_histograms(z, path, dims=50, ncols=10))
    narrow = assert_real_png(tmp_path / "h2.png",
                             plot_latent_histograms(z, tmp_path / "h2.png", dims=3))
    assert wide.shape[1] > narrow.shape[1]          # 7 panels in a row against 3


def test_coordinates_round_to_the_grid_step():
    assert _coordinates(np.linspace(-0.33, 0.33, 3)) == ["-0.33", "0.00", "0.33"]
    assert _coordinates(np.linspace(-10.0, 12.0, 3)) == ["-10", "1", "12"]
    assert _coordinates(np.linspace(-3.0, 3.0, 4)) == ["-3.0", "-1.0", "1.0", "3.0"]


Z = np.zeros((5, 2))
IMAGES = np.full((3, 4, 4, 1), 0.5)


@pytest.mark.parametrize("call, error, match", [
    (lambda p: plot_latent_samples(Z, np.zeros((3, 2)), IMAGES[:2], p), ValueError,
     "one per point: 3 points but 2 images"),
    (lambda p: plot_latent_samples(Z, np.zeros((3, 3)), IMAGES, p), ValueError,
     "points must have the codes' 2 columns"),
    (lambda p: plot_latent_samples(np.zeros((5, 1)), np.zeros((3, 1)), IMAGES, p), ValueError,
     "1-D latent space has no plane"),
    (lambda p: plot_latent_samples(Z, np.zeros((3, 2)), IMAGES * 3, p), ValueError,
     r"must lie in \[0, 1\]"),
    (lambda p: plot_range_grid(IMAGES, [0, 1], [0, 1], p), ValueError, "n \\* n images"),
    (lambda p: plot_range_grid(np.full((4, 4, 4, 1), 0.5), [0, 1], [0, 1], p,
                               codes=np.zeros((5, 3))), ValueError, r"shape \(N, 2\)"),
    (lambda p: plot_p_space(Z, None, p, dims=(0, 0)), ValueError, "two different axes"),
    (lambda p: plot_p_space(Z, None, p, dims=(0, 2)), ValueError, r"axes in \[0, 1\]"),
    (lambda p: plot_p_space(Z, None, p, dims=3), TypeError, "two axis indices"),
    (lambda p: plot_latent_histograms(np.zeros((1, 2)), p), ValueError, "N >= 2"),
])
def test_bad_inputs_raise_clear_errors(tmp_path, call, error, match):
    path = tmp_path / "never.png"
    with pytest.raises(error, match=match):
        call(path)
    assert not path.exists()
