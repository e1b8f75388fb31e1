"""Tests for minivae.latent: codes, the bounding box, the range grid, p-space, histograms."""

import numpy as np
import pytest
from scipy.stats import norm

from minivae import latent
from tests.conftest import images, tiny_autoencoder, tiny_vae


@pytest.fixture(scope="module")
def vae():
    return tiny_vae(0, latent_dim=3)


def test_codes_are_z_mean_for_a_vae_and_z_for_an_autoencoder(vae, rng):
    x = images(rng, 7)
    np.testing.assert_array_equal(latent.codes(vae, x), vae.encode(x)[0])
    ae = tiny_autoencoder(0)
    np.testing.assert_array_equal(latent.codes(ae, x), ae.encode(x))
    assert latent.codes(vae, x).dtype == np.float64


def test_sampled_codes_are_the_reparameterised_draw_from_the_generator(vae, rng):
    x = images(rng, 5)
    z_mean, z_log_var = vae.encode(x)
    eps = np.random.default_rng(3).standard_normal(z_mean.shape)
    np.testing.assert_array_equal(latent.codes(vae, x, sample=True, rng=np.random.default_rng(3)),
                                  z_mean + np.exp(0.5 * z_log_var) * eps)
    # rng=None is default_rng(0): a call repeats itself
    np.testing.assert_array_equal(latent.codes(vae, x, sample=True),
                                  latent.codes(vae, x, sample=True))


def test_bounding_box_samples_lie_in_the_box_and_repeat_for_a_seed():
    z = np.random.default_rng(0).normal(size=(500, 3)) * [1.0, 5.0, 0.1]
    lo, hi = latent.bounding_box(z)
    np.testing.assert_array_equal(lo, z.min(axis=0))
    np.testing.assert_array_equal(hi, z.max(axis=0))
    points = latent.bounding_box_samples(z, 1000, np.random.default_rng(1))
    assert points.shape == (1000, 3)
    assert np.all(points >= lo) and np.all(points <= hi)
    # Uniform, so the samples fill the box: each axis's extreme samples come within
    # 2% of its edges (a 1000-point uniform misses a 2% margin with chance 0.98^1000).
    span = hi - lo
    assert np.all(points.min(axis=0) < lo + 0.02 * span)
    assert np.all(points.max(axis=0) > hi - 0.02 * span)
    np.testing.assert_array_equal(points, latent.bounding_box_samples(z, 1000,
                                                                      np.random.default_rng(1)))


def test_prior_samples_are_standard_normal_from_the_generator():
    points = latent.prior_samples(4, 18, np.random.default_rng(5))
    np.testing.assert_array_equal(points, np.random.default_rng(5).standard_normal((18, 4)))


def test_range_grid_in_two_dimensions_is_the_book_layout():
    z = np.array([[-2.0, 1.0], [4.0, 3.0], [0.0, -5.0]])
    grid = latent.range_grid(z, n=4)
    xs, ys, points = grid["xs"], grid["ys"], grid["points"]
    np.testing.assert_allclose(xs, np.linspace(-2.0, 4.0, 4))
    np.testing.assert_allclose(ys, np.linspace(3.0, -5.0, 4))    # top row first
    for i in range(4):
        for j in range(4):
            np.testing.assert_array_equal(points[i * 4 + j], [xs[j], ys[i]])
    assert grid["components"] is None and grid["axis_names"] == ("z_1", "z_2")
    np.testing.assert_array_equal(grid["plane"], z)


def test_range_grid_in_more_dimensions_spans_the_principal_plane():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(300, 5)) * [3.0, 1.0, 0.2, 0.1, 0.1] + 7.0
    grid = latent.range_grid(z, n=5)
    C, plane = grid["components"], grid["plane"]
    mean = z.mean(axis=0)
    # Each point is mean + (x, y) @ C, so projecting it back gives its grid coordinates.
    back = (grid["points"] - mean) @ C.T
    expected = np.column_stack([np.tile(grid["xs"], 5), np.repeat(grid["ys"], 5)])
    np.testing.assert_allclose(back, expected, atol=1e-12)   # float64 rounding of a 5-D dot
    np.testing.assert_allclose(grid["xs"][[0, -1]], [plane[:, 0].min(), plane[:, 0].max()])
    np.testing.assert_allclose(grid["ys"][[0, -1]], [plane[:, 1].max(), plane[:, 1].min()])
    assert grid["axis_names"] == ("PC 1", "PC 2")


@pytest.mark.parametrize("z, n, match", [
    (np.zeros((5, 1)), 3, "needs codes with d >= 2"),
    (np.zeros((5, 2)), 1, "n must be at least 2"),
    (np.zeros((1, 2)), 3, r"N >= 2"),
    (np.full((3, 2), np.nan), 3, "non-finite"),
])
def test_range_grid_rejects_bad_input(z, n, match):
    with pytest.raises(ValueError, match=match):
        latent.range_grid(z, n)


def test_p_space_is_the_normal_cdf_and_uniform_under_the_prior():
    z = np.random.default_rng(0).standard_normal((20000, 2))
    p = latent.p_space(z)
    np.testing.assert_array_equal(p, norm.cdf(z))
    counts = np.histogram(p[:, 0], bins=10, range=(0, 1))[0]
    # 2,000 expected per bin, standard deviation 42: 5 sigma is 210.
    assert np.all(np.abs(counts - 2000) < 210)


def test_latent_histograms_are_densities_with_the_fitted_gaussian_kl():
    rng = np.random.default_rng(0)
    z = np.column_stack([rng.standard_normal(50000), 2.0 + 0.5 * rng.standard_normal(50000),
                         rng.standard_normal(50000)])
    h = latent.latent_histograms(z, dims=2, bins=20)
    np.testing.assert_array_equal(h["dims"], [0, 1])
    assert h["density"].shape == (2, 20) and h["edges"].shape == (2, 21)
    widths = np.diff(h["edges"], axis=1)
    np.testing.assert_allclose((h["density"] * widths).sum(axis=1), 1.0, rtol=1e-12)
    # KL(N(m, s^2) || N(0, 1)): 0 for the standard normal, 0.5 (0.25 + 4 - 1 - log 0.25)
    # = 2.318 for N(2, 0.25). Sampling error of m and s from 50,000 draws moves the
    # estimate by about 0.01 (|dKL/dm| = 2 times sd 0.002, and the like for s).
    np.testing.assert_allclose(h["kl"], [0.0, 0.5 * (0.25 + 4 - 1 - np.log(0.25))], atol=0.02)
    np.testing.assert_allclose(h["pdf"], norm.pdf(h["x"]))
    picked = latent.latent_histograms(z, dims=[2, 0])
    np.testing.assert_array_equal(picked["dims"], [2, 0])
    assert latent.latent_histograms(z)["density"].shape[0] == 3     # 50 asked, 3 exist


@pytest.mark.parametrize("dims", [[3], [], [-1], [0.5]])
def test_latent_histograms_rejects_bad_dims(dims):
    with pytest.raises(ValueError, match="dims must be"):
        latent.latent_histograms(np.zeros((4, 3)), dims=dims)


def test_decode_points_casts_to_the_model_dtype():
    model = tiny_vae(0).astype("float32")
    out = latent.decode_points(model, np.zeros((3, 2)))
    assert out.shape == (3, 8, 8, 1) and out.dtype == np.float32


def test_generator_is_checked():
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        latent.prior_samples(2, 3, rng=42)
