"""Tests for minivae.latent: codes, the bounding box, the range grid, p-space, histograms,
principal components and interpolation paths."""

import numpy as np
import pytest
from scipy.stats import norm

from minivae import latent
from minivae.gaps import uniform_points
from minivae.latent import principal_components
from tests.conftest import exact_pca_data, images, tiny_autoencoder, tiny_vae


@pytest.fixture(scope="module")
def vae():
    return tiny_vae(0, latent_dim=3)


def test_codes_are_z_mean_for_a_vae_and_z_for_an_autoencoder(vae, rng):
    x = images(rng, 7)
    np.testing.assert_array_equal(latent.codes(vae, x), vae.encode(x)[0])
    ae = tiny_autoencoder(0)
    np.testing.assert_array_equal(latent.codes(ae, x), ae.encode(x))
    assert latent.codes(vae, x).dtype == np.float64


def test_encode_codes_is_one_batched_pass_for_either_model(vae, rng):
    x = images(rng, 7)
    z_mean, z_log_var = latent.encode_codes(vae, x, batch_size=3)
    np.testing.assert_array_equal(z_mean, vae.encode(x, batch_size=3)[0])
    np.testing.assert_array_equal(z_log_var, vae.encode(x, batch_size=3)[1])
    assert z_mean.dtype == z_log_var.dtype == np.float64
    ae = tiny_autoencoder(0)
    z, none = latent.encode_codes(ae, x)
    assert none is None and z.dtype == np.float64
    np.testing.assert_array_equal(z, ae.encode(x))
    assert latent.encode_codes(ae, x, dtype=None)[0].dtype == ae.dtype     # the model's own


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


def test_bounding_box_samples_draw_as_uniform_points_and_take_one_code():
    """They are gaps.uniform_points with no trim, drawn without it: a single code (a box
    of one point) was refused by gaps.region, a function the caller never called."""
    z = np.random.default_rng(0).normal(size=(50, 2))
    np.testing.assert_array_equal(latent.bounding_box_samples(z, 7, np.random.default_rng(3)),
                                  uniform_points(z, 7, np.random.default_rng(3), trim=0.0))
    one = np.array([[0.5, -2.0]])
    np.testing.assert_array_equal(latent.bounding_box_samples(one, 3), np.repeat(one, 3, axis=0))


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


# ---------------------------------------------------------- principal_components

def test_principal_components_recovers_exact_axes_and_variances():
    rng = np.random.default_rng(0)
    z, Q, sigma, mean = exact_pca_data(rng)
    projected, components, mu, ratio = principal_components(z, k=3)
    assert projected.shape == (200, 3) and components.shape == (3, 5) and ratio.shape == (3,)
    # The data is an exact SVD up to float64 rounding, so the only error is
    # round-off: ~1e-15 relative, amplified at most by the gaps between the
    # singular values (smallest 2.0 -> 1.0); 1e-10 leaves orders of margin.
    np.testing.assert_allclose(mu, mean, atol=1e-10)
    np.testing.assert_allclose(np.abs(components @ Q[:, :3]), np.eye(3), atol=1e-10)
    np.testing.assert_allclose(ratio, sigma[:3] ** 2 / np.sum(sigma ** 2), rtol=1e-10)
    np.testing.assert_allclose(components @ components.T, np.eye(3), atol=1e-12)


def test_principal_components_finds_dominant_direction_in_noisy_data():
    rng = np.random.default_rng(1)
    N, d = 2000, 6
    u = rng.normal(size=d)
    u /= np.linalg.norm(u)
    z = rng.normal(0.0, 3.0, size=(N, 1)) * u + rng.normal(0.0, 0.1, size=(N, d))
    _, components, _, ratio = principal_components(z, k=2)
    # Sampling noise tilts the top axis by about (0.1 / 3) * sqrt((d - 1) / N)
    # ~ 1.7e-3 rad, so 1 - |cos| ~ 1.4e-6; 1e-4 is a margin of ~70x, while any
    # other axis would give |cos| near 0.
    assert abs(components[0] @ u) > 1 - 1e-4
    # Expected share 9 / (9 + 6 * 0.01) = 0.9934; sampling error is ~1e-3.
    assert ratio[0] == pytest.approx(0.9934, abs=0.01)


def test_principal_components_projection_variances_are_ordered():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(500, 4)) * [0.3, 4.0, 1.0, 2.0]
    projected, components, mean, ratio = principal_components(z, k=4)
    var = projected.var(axis=0)
    assert np.all(np.diff(var) < 0) and np.all(np.diff(ratio) < 0)
    np.testing.assert_allclose(ratio.sum(), 1.0, rtol=1e-12)   # k = d keeps all variance
    # The projection is onto orthonormal axes, so it is the centred data rotated.
    np.testing.assert_allclose(projected @ components + mean, z, atol=1e-12)


def test_principal_components_sign_is_fixed_and_no_variance_gives_zero_ratio():
    rng = np.random.default_rng(3)
    _, components, _, _ = principal_components(rng.normal(size=(50, 3)), k=3)
    peaks = components[np.arange(3), np.argmax(np.abs(components), axis=1)]
    assert np.all(peaks > 0)
    _, _, _, ratio = principal_components(np.ones((4, 3)), k=2)
    np.testing.assert_array_equal(ratio, 0.0)


@pytest.mark.parametrize("z, k, error, match", [
    (np.zeros((5, 2)), 3, ValueError, "k must be at most the dimension of z"),
    (np.zeros((1, 3)), 1, ValueError, "at least 2 rows"),
    (np.zeros(5), 1, ValueError, "z must have 2 dimensions"),
    (np.array([[0.0, np.nan], [1.0, 2.0]]), 1, ValueError, "non-finite"),
    (np.zeros((4, 2), dtype=int), 1, TypeError, "floating-point"),
])
def test_principal_components_rejects_bad_input(z, k, error, match):
    with pytest.raises(error, match=match):
        principal_components(z, k)


# ---------------------------------------------------------- interpolation

def test_linear_path_ends_and_midpoint():
    a, b = np.array([1.0, -2.0, 0.0]), np.array([3.0, 2.0, 4.0])
    path = latent.interpolate(a, b, steps=5)
    assert path.shape == (5, 3)
    np.testing.assert_array_equal(path[0], a)
    np.testing.assert_array_equal(path[-1], b)
    np.testing.assert_allclose(path[2], (a + b) / 2, rtol=1e-15)


def test_spherical_path_ends_norms_and_even_turning():
    a, b = np.array([2.0, 0.0, 0.0]), np.array([0.0, 0.0, -5.0])
    path = latent.interpolate(a, b, steps=7, spherical=True)
    np.testing.assert_array_equal(path[0], a)
    np.testing.assert_array_equal(path[-1], b)
    t = np.linspace(0, 1, 7)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 2 + 3 * t, rtol=1e-14)
    unit = path / np.linalg.norm(path, axis=1, keepdims=True)
    turns = np.arccos(np.clip(np.sum(unit[1:] * unit[:-1], axis=1), -1, 1))
    np.testing.assert_allclose(turns, np.pi / 2 / 6, rtol=1e-12)          # equal steps
    np.testing.assert_allclose(path[:, 1], 0.0, atol=1e-15)             # in the plane of a, b
    # Equal norms stay on the sphere, where the straight line cuts inside it.
    c = np.array([0.0, 2.0, 0.0])
    np.testing.assert_allclose(np.linalg.norm(latent.interpolate(a, c, 9, True), axis=1), 2.0,
                               rtol=1e-14)
    assert np.linalg.norm(latent.interpolate(a, c, 9)[4]) < 1.5


def test_spherical_path_falls_back_to_linear_where_it_is_undefined():
    a = np.array([1.0, 1.0])
    for b in (-3 * a, 2 * a, np.zeros(2)):
        np.testing.assert_allclose(latent.interpolate(a, b, 4, spherical=True),
                                   latent.interpolate(a, b, 4), rtol=1e-15)
    with pytest.raises(ValueError, match="at least 2"):
        latent.interpolate(a, a, 1)


def test_interpolation_images_decode_the_path():
    model = tiny_vae()
    x = np.random.default_rng(7).uniform(size=(2, 8, 8, 1))
    images, path = latent.interpolation_images(model, x[0], x[1], steps=4)
    np.testing.assert_array_equal(path[0], model.encode(x)[0][0])
    np.testing.assert_allclose(images, model.decode(path), rtol=1e-12)
