"""Tests for minivae.attributes: the book's attribute vector, adding it, morphing."""

import numpy as np
import pytest

from minivae import attributes, latent
from minivae.layers import Dense, Flatten, Reshape
from minivae.models import VAE, GaussianEncoder, Sequential
from minivae.optimizers import Adam
from tests.conftest import images, tiny_autoencoder, tiny_vae

SHAPE = (8, 8, 1)


def linear_vae(W, log_var=-80.0):
    """A VAE whose codes are known: z_mean = W^T x (x flattened), z_log_var = log_var
    (so sampled z = z_mean up to exp(-40) ~ 4e-18), and decode(z) = W z, unclipped."""
    d = W.shape[1]
    encoder = GaussianEncoder([Flatten()], d)
    decoder = Sequential([Dense(W.shape[0], name="dense"), Reshape(SHAPE)], name="decoder")
    model = VAE(encoder, decoder, reconstruction_loss="mse")
    model.build(SHAPE, rng=np.random.default_rng(0), dtype="float64")
    params = model.named_params()
    params["z_mean/kernel"][...] = W
    params["z_mean/bias"][...] = 0.0
    params["z_log_var/kernel"][...] = 0.0
    params["z_log_var/bias"][...] = log_var
    params["dense/kernel"][...] = W.T
    params["dense/bias"][...] = 0.0
    return model


def planted(rng, n, d=3, noise=0.2):
    """Images x = 0.5 + U(-noise, noise) + label * p, with p = s W u in the codes' span
    and s chosen to keep every pixel in [0, 1]; labels -1/1. The attribute's true
    direction in latent space is u; its difference of means is s u."""
    W = np.linalg.qr(rng.standard_normal((64, d)))[0]          # orthonormal columns
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    s = 0.25 / np.abs(W @ u).max()                             # |p| <= 0.25 per pixel
    labels = np.where(rng.random(n) < 0.3, 1, -1)
    x = 0.5 + rng.uniform(-noise, noise, (n, 64)) + (labels == 1)[:, None] * (s * W @ u)
    return linear_vae(W), x.reshape(n, *SHAPE), labels, u, s


def test_recovers_the_planted_direction_exactly_without_noise(rng):
    model, x, labels, u, s = planted(rng, 600, noise=0.0)
    found = attributes.attribute_vector(model, x, labels, rng=np.random.default_rng(0))
    # Every image with the attribute has code W^T 0.5 + s u, every other W^T 0.5: the
    # difference of the means is s u from the first batch on (up to ~1e-16 per operation).
    np.testing.assert_allclose(found.vector, u, atol=1e-12)
    np.testing.assert_allclose(found.difference, s * u, atol=1e-12)
    assert found.converged and found.batches == 2          # the first batch has no move yet
    assert np.isclose(np.linalg.norm(found.vector), 1.0)


def test_recovers_the_planted_direction_through_noise(rng):
    model, x, labels, u, s = planted(rng, 4000, d=4, noise=0.25)
    found = attributes.attribute_vector(model, x, labels, rng=np.random.default_rng(1))
    # Each code axis carries uniform noise of sd 0.4 / sqrt(3) = 0.23; with n+ and n-
    # images averaged the difference of means errs by 0.23 sqrt(1/n+ + 1/n-) per axis,
    # about 0.05 over four axes at the ~150 + 350 images the 0.08 rule stops at, an
    # angle of 0.05 / s (s ~ 0.5-1) to u: cos >= 0.98 allows twice the worst of that.
    assert found.vector @ u > 0.98
    assert found.converged
    rows = found.history
    assert rows[-1]["move_positive"] + rows[-1]["move_negative"] < attributes.BOOK_TOLERANCE
    assert all(r["move_positive"] + r["move_negative"] >= attributes.BOOK_TOLERANCE
               for r in rows[:-1])
    assert rows[-1]["n_positive"] == found.n_positive
    # A tighter tolerance averages more images and lands closer.
    tight = attributes.attribute_vector(model, x, labels, tolerance=0.005,
                                        rng=np.random.default_rng(1))
    assert tight.n_positive > found.n_positive and tight.vector @ u > 0.99


def test_max_positive_stops_the_loop_unconverged(rng):
    model, x, labels, _, _ = planted(rng, 3000, noise=0.25)
    found = attributes.attribute_vector(model, x, labels, tolerance=0.0, max_positive=200,
                                        batch_size=100, rng=np.random.default_rng(0))
    assert not found.converged
    # Checked before each batch, as the book's `while n_pos < 10000`: the last batch
    # may carry the count past the cap by at most one batch.
    assert 200 <= found.n_positive < 200 + 100
    assert np.isclose(np.linalg.norm(found.vector), 1.0)


def test_the_end_of_the_data_stops_the_loop_unconverged(rng):
    model, x, labels, _, _ = planted(rng, 300, noise=0.25)
    found = attributes.attribute_vector(model, x, labels, tolerance=0.0)
    assert not found.converged and found.n_positive + found.n_negative == 300


def test_batches_from_an_iterable_equal_arrays_in_that_order(rng):
    model, x, labels, _, _ = planted(rng, 500, noise=0.25)
    from_arrays = attributes.attribute_vector(model, x, labels, batch_size=64, shuffle=False)
    batches = ((x[i:i + 64], labels[i:i + 64]) for i in range(0, 500, 64))
    from_iterable = attributes.attribute_vector(model, batches, batch_size=64)
    np.testing.assert_array_equal(from_arrays.vector, from_iterable.vector)
    assert from_arrays.history == from_iterable.history


def test_same_generator_same_vector_and_labels_of_any_binary_kind(rng):
    model, x, labels, _, _ = planted(rng, 800, noise=0.25)
    runs = [attributes.attribute_vector(model, x, y, rng=np.random.default_rng(7))
            for y in (labels, labels == 1, (labels == 1).astype(int))]
    for other in runs[1:]:
        np.testing.assert_array_equal(runs[0].vector, other.vector)


@pytest.mark.parametrize("labels, match", [
    (np.full(40, 2), "must be binary"),
    (np.ones(40), "both kinds are needed"),
    (np.ones(39), "one per image"),
])
def test_attribute_vector_rejects_bad_labels(labels, match):
    model = tiny_vae(0)
    with pytest.raises(ValueError, match=match):
        attributes.attribute_vector(model, images(np.random.default_rng(0), 40), labels)


def test_attribute_vector_needs_labels_with_arrays_and_pairs_from_iterables():
    model, x = tiny_vae(0), images(np.random.default_rng(0), 10)
    with pytest.raises(ValueError, match="labels are required"):
        attributes.attribute_vector(model, x)
    with pytest.raises(TypeError, match=r"batch 0 of data must be a pair"):
        attributes.attribute_vector(model, [x])


def test_adding_the_vector_moves_decoded_images_along_the_attribute(rng):
    model, x, labels, u, _ = planted(rng, 1000, noise=0.25)
    found = attributes.attribute_vector(model, x, labels, rng=np.random.default_rng(0))
    p = model.decode(u[None])[0].ravel()            # the attribute's image: W u
    decoded, z = attributes.add_vector(model, x[:6], found.vector, factors=(-2, 0, 1, 3))
    assert decoded.shape == (6, 4, *SHAPE)
    along = decoded.reshape(6, 4, -1) @ p           # how much of the attribute each shows
    # The decoder is linear: decode(z + f v) = decode(z) + f W v, so the attribute's
    # share grows by f (v . u) |p|^2 = f (v . u), exactly linear in f.
    np.testing.assert_allclose(along - along[:, 1:2], np.array([-2, 0, 1, 3]) *
                               (found.vector @ u) * np.ones((6, 1)), atol=1e-10)
    np.testing.assert_allclose(decoded[:, 1], model.reconstruct(x[:6]), atol=1e-12)


def blobs(rng, n):
    """8x8 images: a bright square top left (the attribute) or bottom right, on noise."""
    y = rng.random(n) < 0.5
    x = rng.uniform(0.0, 0.3, size=(n, *SHAPE))
    x[y, :4, :4] = rng.uniform(0.7, 1.0, size=(y.sum(), 4, 4, 1))
    x[~y, 4:, 4:] = rng.uniform(0.7, 1.0, size=((~y).sum(), 4, 4, 1))
    return x, y


def test_on_a_trained_vae_adding_the_vector_draws_the_attribute(rng):
    x, y = blobs(rng, 512)
    model = tiny_vae(0, latent_dim=2).compile(Adam(1e-2))
    model.fit(x, epochs=15, batch_size=32, verbose=0, seed=0)
    found = attributes.attribute_vector(model, x, y, batch_size=64, rng=np.random.default_rng(0))
    without = x[~y][:20]
    decoded, _ = attributes.add_vector(model, without, found.vector, factors=(0, 1, 2, 3))
    top_left = decoded[:, :, :4, :4].mean(axis=(0, 2, 3, 4))
    bottom_right = decoded[:, :, 4:, 4:].mean(axis=(0, 2, 3, 4))
    # The square moves from bottom right to top left as the factor grows (measured:
    # top left 0.13 -> 0.84, bottom right 0.84 -> 0.08); the bounds leave wide margins.
    assert np.all(np.diff(top_left) > 0) and np.all(np.diff(bottom_right) < 0)
    assert top_left[0] < 0.3 < 0.6 < top_left[-1]
    assert bottom_right[0] > 0.6 > 0.3 > bottom_right[-1]


@pytest.mark.parametrize("build", [lambda: tiny_vae(0, latent_dim=3), lambda: tiny_autoencoder(0)])
def test_morph_ends_are_the_two_reconstructions(build, rng):
    model = build()
    x = images(rng, 2)
    decoded, path = attributes.morph(model, x[0], x[1])
    assert decoded.shape == (11, *SHAPE) and path.shape == (11, model.latent_dim)
    # Reconstruct encodes both images in one batch as morph does: the same arithmetic.
    reconstructions = model.reconstruct(x)
    np.testing.assert_array_equal(decoded[0], reconstructions[0])
    np.testing.assert_array_equal(decoded[-1], reconstructions[1])
    np.testing.assert_allclose(path[5], 0.5 * (path[0] + path[-1]), atol=1e-15)


def test_morph_with_given_alphas_and_bad_ones(rng):
    model = tiny_vae(0)
    x = images(rng, 2)
    decoded, path = attributes.morph(model, x[0], x[1], alphas=[0.25, -1.0, 2.0])
    z = latent.codes(model, x)
    np.testing.assert_allclose(path, [0.75 * z[0] + 0.25 * z[1], 2 * z[0] - z[1],
                                      -z[0] + 2 * z[1]], atol=1e-15)
    for bad, error in (([], ValueError), ([np.nan], ValueError), (["a"], TypeError)):
        with pytest.raises(error, match="alphas"):
            attributes.morph(model, x[0], x[1], alphas=bad)


def test_add_vector_checks_the_vector_shape():
    model = tiny_vae(0)
    with pytest.raises(ValueError, match=r"vector must have shape \(2,\)"):
        attributes.add_vector(model, images(np.random.default_rng(0), 2), np.ones(3))
