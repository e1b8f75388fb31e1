"""The book's encoders and decoders, built from minivae layers (docs/models.md).

Layer names follow Keras's automatic naming in a fresh session (conv2d,
conv2d_1, ...), counted across the encoder and the decoder of one model as
Keras's global counter would. The book names a few layers itself (z_mean and
z_log_var, kept here; decoder_output and encoder_output, which here keep their
automatic names conv2d_3 and dense), so weights map one to one onto the book's
layer by layer, in order, with those names translated.
Parameter counts equal Keras's `count_params()` (trainable plus non-trainable).
"""

import numpy as np

from ._validation import check_choice, check_float_dtype, check_positive_int, check_seed
from .layers import (BatchNormalization, Conv2D, Conv2DTranspose, Dense, Flatten, LeakyReLU,
                     Reshape)
from .models import VAE, Autoencoder, GaussianEncoder, Sequential


class _Names:
    """Keras-style unique names: conv2d, conv2d_1, ... within one model."""

    def __init__(self):
        self.counts = {}

    def __call__(self, base):
        k = self.counts.get(base, 0)
        self.counts[base] = k + 1
        return base if k == 0 else f"{base}_{k}"


def _fashion_body(name):
    """Three stride-2 3x3 ReLU convolutions (32, 64, 128 filters), then Flatten."""
    return [Conv2D(f, 3, strides=2, padding="same", activation="relu", name=name("conv2d"))
            for f in (32, 64, 128)] + [Flatten(name=name("flatten"))]


def _fashion_decoder(name):
    """Dense(2048), Reshape(4, 4, 128), three stride-2 transposed convolutions, a 1-filter
    conv. The book's conv ends in a sigmoid: here the model applies it (output_activation),
    so the decoder returns its logits."""
    return Sequential(
        [Dense(4 * 4 * 128, name=name("dense")), Reshape((4, 4, 128), name=name("reshape"))]
        + [Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu",
                           name=name("conv2d_transpose")) for f in (128, 64, 32)]
        + [Conv2D(1, 3, strides=1, padding="same", name=name("conv2d"))],
        name="decoder")


def _finish(model, input_shape, seed, dtype, config):
    owner = config["architecture"]
    seed = check_seed(seed, "seed", owner)
    dtype = check_float_dtype(dtype, "dtype", owner)
    rng = np.random.default_rng(seed)
    model.rng = rng
    if isinstance(model, VAE):
        model.reseed_sampling()
    model.build(input_shape, rng=rng, dtype=dtype)
    model.config = config
    return model


def fashion_vae(latent_dim=2, beta=1.0, reconstruction_weight=500.0, seed=None,
                dtype="float32"):
    """The chapter's Fashion-MNIST VAE on 32x32x1 images.

    Encoder 100,868 parameters and decoder 246,273 at latent_dim=2, as Keras counts.
    """
    latent_dim = check_positive_int(latent_dim, "latent_dim", "fashion_vae")
    name = _Names()
    encoder = GaussianEncoder(_fashion_body(name), latent_dim, name="encoder")
    model = VAE(encoder, _fashion_decoder(name), reconstruction_weight=reconstruction_weight,
                beta=beta, reconstruction_loss="bce", output_activation="sigmoid")
    config = {"architecture": "fashion_vae", "latent_dim": latent_dim, "beta": float(beta),
              "reconstruction_weight": float(reconstruction_weight)}
    return _finish(model, (32, 32, 1), seed, dtype, config)


def fashion_autoencoder(latent_dim=2, seed=None, dtype="float32"):
    """The chapter's plain autoencoder: encoder 96,770 and decoder 246,273 parameters."""
    latent_dim = check_positive_int(latent_dim, "latent_dim", "fashion_autoencoder")
    name = _Names()
    encoder = Sequential(_fashion_body(name) + [Dense(latent_dim, name=name("dense"))],
                         name="encoder")
    model = Autoencoder(encoder, _fashion_decoder(name), reconstruction_loss="bce",
                        output_activation="sigmoid")
    config = {"architecture": "fashion_autoencoder", "latent_dim": latent_dim}
    return _finish(model, (32, 32, 1), seed, dtype, config)


def _faces_block(layer, name):
    return [layer, BatchNormalization(name=name("batch_normalization")),
            LeakyReLU(name=name("leaky_re_lu"))]


def faces_vae(latent_dim=200, beta=1.0, reconstruction_weight=2000.0, seed=None,
              dtype="float32"):
    """The chapter's CelebA VAE on 64x64x3 images: five Conv2D(64, 3, stride 2) +
    BatchNormalization + LeakyReLU blocks, z = 200, a mirrored decoder, and
    2000 x mean squared error as the reconstruction loss.

    Encoder 253,584 parameters (640 non-trainable), decoder 240,131 (1,152).
    """
    latent_dim = check_positive_int(latent_dim, "latent_dim", "faces_vae")
    name = _Names()
    body = []
    for _ in range(5):
        body += _faces_block(Conv2D(64, 3, strides=2, padding="same", name=name("conv2d")), name)
    body.append(Flatten(name=name("flatten")))
    encoder = GaussianEncoder(body, latent_dim, name="encoder")
    layers = _faces_block(Dense(2 * 2 * 64, name=name("dense")), name)
    layers.append(Reshape((2, 2, 64), name=name("reshape")))
    for _ in range(5):
        layers += _faces_block(Conv2DTranspose(64, 3, strides=2, padding="same",
                                               name=name("conv2d_transpose")), name)
    layers.append(Conv2DTranspose(3, 3, strides=1, padding="same", name=name("conv2d_transpose")))
    model = VAE(encoder, Sequential(layers, name="decoder"), beta=beta,
                reconstruction_weight=reconstruction_weight, reconstruction_loss="mse",
                output_activation="sigmoid")
    config = {"architecture": "faces_vae", "latent_dim": latent_dim, "beta": float(beta),
              "reconstruction_weight": float(reconstruction_weight)}
    return _finish(model, (64, 64, 3), seed, dtype, config)


def keras_io_vae(latent_dim=2, beta=1.0, seed=None, dtype="float32"):
    """The VAE of Keras's own example (keras.io, "Variational AutoEncoder") on 28x28x1.

    Encoder: Conv2D 32 and 64 (3x3, stride 2, 'same', ReLU), Flatten, Dense 16 (ReLU),
    the heads and Sampling: 69,076 parameters at latent_dim=2. Decoder: Dense 7*7*64
    (ReLU), Reshape, Conv2DTranspose 64 and 32 (stride 2, ReLU), Conv2DTranspose 1
    (sigmoid): 65,089. Loss: the BCE summed over the 784 pixels (reconstruction_weight
    784 on the mean) plus the KL. The example trains with Adam(1e-3), batch 128.
    """
    latent_dim = check_positive_int(latent_dim, "latent_dim", "keras_io_vae")
    name = _Names()
    body = [Conv2D(32, 3, strides=2, padding="same", activation="relu", name=name("conv2d")),
            Conv2D(64, 3, strides=2, padding="same", activation="relu", name=name("conv2d")),
            Flatten(name=name("flatten")), Dense(16, activation="relu", name=name("dense"))]
    encoder = GaussianEncoder(body, latent_dim, name="encoder")
    decoder = Sequential(
        [Dense(7 * 7 * 64, activation="relu", name=name("dense")),
         Reshape((7, 7, 64), name=name("reshape"))]
        + [Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu",
                           name=name("conv2d_transpose")) for f in (64, 32)]
        + [Conv2DTranspose(1, 3, padding="same", name=name("conv2d_transpose"))],
        name="decoder")
    model = VAE(encoder, decoder, reconstruction_weight=28.0 * 28.0, beta=beta,
                reconstruction_loss="bce", output_activation="sigmoid")
    config = {"architecture": "keras_io_vae", "latent_dim": latent_dim, "beta": float(beta)}
    return _finish(model, (28, 28, 1), seed, dtype, config)


ARCHITECTURES = {"fashion_vae": fashion_vae, "fashion_autoencoder": fashion_autoencoder,
                 "faces_vae": faces_vae, "keras_io_vae": keras_io_vae}


def from_config(config, seed=None, dtype="float32"):
    """Rebuild a model (fresh weights) from the `config` an architecture recorded."""
    config = dict(config)
    arch = check_choice(config.pop("architecture", None), "architecture", tuple(ARCHITECTURES),
                        "from_config")
    return ARCHITECTURES[arch](**config, seed=seed, dtype=dtype)
