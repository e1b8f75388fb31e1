"""The book's chapter-3 encoders and decoders written in Keras, for the Keras cross-check.

Imported only by tests/test_keras_crosscheck.py, after it has checked that
TensorFlow is importable. The layers are the book's, in its order, with Keras's
defaults. The Sampling layer is left out: it has no weights (so it changes no
parameter count), and the cross-check draws eps itself so that Keras and minivae
see the same noise.
"""

import keras
from keras import layers


def fashion_vae(latent_dim=2, dtype="float32"):
    """(encoder x -> [z_mean, z_log_var], decoder z -> x') of the Fashion-MNIST VAE."""
    x_in = layers.Input(shape=(32, 32, 1), dtype=dtype, name="encoder_input")
    x = x_in
    for filters in (32, 64, 128):
        x = layers.Conv2D(filters, (3, 3), strides=2, activation="relu", padding="same",
                          dtype=dtype)(x)
    shape_before_flattening = tuple(x.shape[1:])
    x = layers.Flatten(dtype=dtype)(x)
    z_mean = layers.Dense(latent_dim, name="z_mean", dtype=dtype)(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var", dtype=dtype)(x)
    encoder = keras.Model(x_in, [z_mean, z_log_var], name="encoder")

    z_in = layers.Input(shape=(latent_dim,), dtype=dtype, name="decoder_input")
    x = layers.Dense(4 * 4 * 128, dtype=dtype)(z_in)
    x = layers.Reshape(shape_before_flattening, dtype=dtype)(x)
    for filters in (128, 64, 32):
        x = layers.Conv2DTranspose(filters, (3, 3), strides=2, activation="relu",
                                   padding="same", dtype=dtype)(x)
    x_out = layers.Conv2D(1, (3, 3), strides=1, activation="sigmoid", padding="same",
                          name="decoder_output", dtype=dtype)(x)
    return encoder, keras.Model(z_in, x_out, name="decoder")


def faces_vae(latent_dim=200, dtype="float32"):
    """(encoder, decoder) of the CelebA faces VAE: Conv + BatchNormalization + LeakyReLU."""

    def block(layer, x):
        x = layer(x)
        x = layers.BatchNormalization(dtype=dtype)(x)
        return layers.LeakyReLU(dtype=dtype)(x)

    x_in = layers.Input(shape=(64, 64, 3), dtype=dtype, name="encoder_input")
    x = x_in
    for _ in range(5):
        x = block(layers.Conv2D(64, kernel_size=3, strides=2, padding="same", dtype=dtype), x)
    shape_before_flattening = tuple(x.shape[1:])
    x = layers.Flatten(dtype=dtype)(x)
    z_mean = layers.Dense(latent_dim, name="z_mean", dtype=dtype)(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var", dtype=dtype)(x)
    encoder = keras.Model(x_in, [z_mean, z_log_var], name="encoder")

    z_in = layers.Input(shape=(latent_dim,), dtype=dtype, name="decoder_input")
    x = block(layers.Dense(2 * 2 * 64, dtype=dtype), z_in)
    x = layers.Reshape(shape_before_flattening, dtype=dtype)(x)
    for _ in range(5):
        x = block(layers.Conv2DTranspose(64, kernel_size=3, strides=2, padding="same",
                                         dtype=dtype), x)
    x_out = layers.Conv2DTranspose(3, kernel_size=3, strides=1, activation="sigmoid",
                                   padding="same", dtype=dtype)(x)
    return encoder, keras.Model(z_in, x_out, name="decoder")


def weighted_layers(model):
    """The layers of a Keras model that hold weights, in the model's order."""
    return [layer for layer in model.layers if layer.weights]
