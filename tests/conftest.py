"""Shared hypothesis settings, fixtures and small models (strategies and references:
tests/reference.py)."""

import os

import numpy as np
import pytest
from hypothesis import settings

from minivae.layers import Conv2D, Conv2DTranspose, Dense, Flatten, Reshape
from minivae.models import VAE, Autoencoder, GaussianEncoder, Sequential

PNG = b"\x89PNG\r\n\x1a\n"            # the first eight bytes of every PNG file

# Gradient checks run many forwards; wall-clock deadlines would only measure the
# shared machine's load, so they are off. The "ci" profile keeps examples modest.
settings.register_profile("ci", deadline=None, max_examples=30, derandomize=True)
settings.register_profile("dev", deadline=None, max_examples=30)
settings.load_profile("ci")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def hide_real_data(monkeypatch, home):
    """Hide every copy of Fashion-MNIST from this process (the variables are read per
    call): HOME at `home` (no ~/.cache copy), no $MINIVAE_DATA, no /usr/share/datasets."""
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("MINIVAE_DATA", raising=False)
    monkeypatch.setenv("MINIVAE_NO_SYSTEM_DATA", "1")


@pytest.fixture
def no_real_data(tmp_path, monkeypatch):
    """The CLI, run in this process, must fall back to the embedded sample."""
    hide_real_data(monkeypatch, tmp_path / "home")


@pytest.fixture(scope="session")
def hermetic_env(tmp_path_factory):
    """Environment for `python -m minivae` subprocesses that must not find real data.

    HOME in tmp (no ~/.cache copy), no $MINIVAE_DATA, and MINIVAE_NO_SYSTEM_DATA=1
    (no /usr/share/datasets copy): such a run trains on the embedded sample whether
    or not this machine has Fashion-MNIST installed. MPLCONFIGDIR keeps matplotlib
    on this process's cache, font list included: in a fresh HOME every subprocess
    would rebuild it, saying so on stderr.
    """
    import matplotlib
    import matplotlib.font_manager      # noqa: F401  builds the font cache now if missing

    env = {k: v for k, v in os.environ.items() if k != "MINIVAE_DATA"}
    env.update(HOME=str(tmp_path_factory.mktemp("home")), MINIVAE_NO_SYSTEM_DATA="1",
               MPLCONFIGDIR=matplotlib.get_cachedir())
    return env


# -- small models, shared by the model, training, analysis and checkpoint tests --

def tiny_vae(seed=0, latent_dim=2, **kw):
    """A small VAE on 8x8x1 images, the book's structure at a size that checks fully."""
    encoder = GaussianEncoder([Conv2D(3, 3, strides=2, padding="same", activation="relu"),
                               Conv2D(4, 3, strides=2, padding="same", activation="relu"),
                               Flatten()], latent_dim)
    decoder = Sequential([Dense(2 * 2 * 4, name="dense"), Reshape((2, 2, 4)),
                          Conv2DTranspose(3, 3, strides=2, padding="same", activation="relu",
                                          name="conv2d_transpose"),
                          Conv2DTranspose(2, 3, strides=2, padding="same", activation="relu",
                                          name="conv2d_transpose_1"),
                          Conv2D(1, 3, padding="same", activation="sigmoid", name="out")],
                         name="decoder")
    model = VAE(encoder, decoder, rng=np.random.default_rng(seed), **kw)
    return model.build((8, 8, 1), rng=np.random.default_rng(seed), dtype="float64")


def off_the_kinks(model, rng):
    """Random biases. Zero biases put every pre-activation whose receptive field is all
    zeros (dead ReLUs upstream) exactly on the next ReLU's kink, where a central
    difference straddles two slopes; random biases move them off it."""
    for name, value in model.named_params().items():
        if name.endswith("/bias"):
            value[:] = 0.1 * rng.standard_normal(value.shape)
    return model


def images(rng, n, shape=(8, 8, 1)):
    # Inputs strictly inside (0, 1), as pixels scaled from uint8 are; the BCE clip
    # at 1e-7 never binds for a freshly initialised sigmoid output.
    return rng.uniform(0.05, 0.95, size=(n, *shape))


def tiny_autoencoder(seed=0):
    """A small Autoencoder on 8x8x1 images."""
    encoder = Sequential([Conv2D(3, 3, strides=2, padding="same", activation="relu"),
                          Flatten(), Dense(2, name="code")], name="encoder")
    decoder = Sequential([Dense(4 * 4 * 2, name="dense"), Reshape((4, 4, 2)),
                          Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid",
                                          name="out")], name="decoder")
    model = Autoencoder(encoder, decoder)
    return model.build((8, 8, 1), rng=np.random.default_rng(seed), dtype="float64")


# -- data whose principal components are known, for the PCA and latent-grid tests --

def exact_pca_data(rng, N=200, d=5, mean_shift=3.0):
    """Data whose principal axes and variances are known exactly by construction.

    Columns of the centred score matrix are orthogonal with chosen norms, and
    Q is an orthonormal basis, so z - mean = scores @ Q.T is already an SVD.
    """
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    A = rng.normal(size=(N, d))
    A -= A.mean(axis=0)
    U, _ = np.linalg.qr(A)                              # orthonormal, centred columns
    sigma = np.array([10.0, 5.0, 2.0, 1.0, 0.5])[:d]
    mean = np.full(d, mean_shift)
    return mean + (U * sigma) @ Q.T, Q, sigma, mean
