"""Tests for minivae.plotting.arithmetic: the attribute and morph strips, and bad input."""

import numpy as np
import pytest

from minivae import attributes
from minivae.plotting import plot_attribute_arithmetic, plot_morph
from tests.conftest import images, tiny_vae
from tests.test_plotting import assert_real_png


@pytest.fixture(scope="module")
def small():
    return tiny_vae(0, latent_dim=3), images(np.random.default_rng(0), 6)


def test_attribute_arithmetic_and_morph_strips(tmp_path, small):
    vae, x = small
    factors = (-2, 0, 2)
    decoded, _ = attributes.add_vector(vae, x[:4], np.ones(3) / np.sqrt(3), factors)
    path = tmp_path / "attribute.png"
    grid = assert_real_png(path, plot_attribute_arithmetic(x[:4], decoded, factors, path,
                                                           title="t", row_labels=list("abcd")))
    morphed, _ = attributes.morph(vae, x[0], x[1])
    strip = tmp_path / "morph.png"
    row = assert_real_png(strip, plot_morph(morphed, attributes.BOOK_ALPHAS, strip,
                                            originals=x[:2], title="m"))
    assert grid.shape[0] > grid.shape[1] / 2        # 4 rows of 4 images: near square
    assert row.shape[1] > 5 * row.shape[0]          # 13 images in one row
    plain = assert_real_png(tmp_path / "m2.png", plot_morph(morphed, attributes.BOOK_ALPHAS,
                                                             tmp_path / "m2.png"))
    assert plain.shape[1] < row.shape[1]            # 11 tiles, not 13


IMAGES = np.full((3, 4, 4, 1), 0.5)


@pytest.mark.parametrize("call, error, match", [
    (lambda p: plot_attribute_arithmetic(IMAGES, np.full((3, 2, 4, 4, 1), 0.5), [1, 2, 3], p),
     ValueError, r"\(n, k, H, W, C\) = \(3, 3, 4, 4, 1\)"),
    (lambda p: plot_attribute_arithmetic(IMAGES, np.full((3, 1, 4, 4, 1), 0.5), [1], p,
                                         row_labels=["a"]), ValueError, "name each of the 3"),
    (lambda p: plot_morph(IMAGES, [0, 1], p), ValueError, "3 images but 2 alphas"),
    (lambda p: plot_morph(IMAGES, [0, 0.5, 1], p, originals=IMAGES), ValueError,
     r"originals must be the two images"),
])
def test_bad_inputs_raise_clear_errors(tmp_path, call, error, match):
    path = tmp_path / "never.png"
    with pytest.raises(error, match=match):
        call(path)
    assert not path.exists()
