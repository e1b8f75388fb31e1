"""The Keras side of docs/own_model.md: the keras.io example's VAE in Keras 3 itself
(TensorFlow backend), trained on the data examples/keras_io_vae.py trains minivae on.

    /opt/tfvenv/bin/python examples/keras_io_vae_keras.py --epochs 2 --seed 0

It prints the per-epoch training losses and the test-set losses, for the page's
comparison; the loss is written as the example writes it (the BCE summed over the
pixels, plus the KL, averaged over the batch), with Adam() and batches of 128.
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")     # train_step uses tf.GradientTape
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers, ops  # noqa: E402


class Sampling(layers.Layer):
    """z = z_mean + exp(z_log_var / 2) * eps, eps ~ N(0, I)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.noise = keras.random.SeedGenerator()

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = keras.random.normal(ops.shape(z_mean), seed=self.noise)
        return z_mean + ops.exp(0.5 * z_log_var) * eps


def build_encoder_decoder(latent_dim=2):
    x_in = keras.Input(shape=(28, 28, 1))
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x_in)
    h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Flatten()(h)
    h = layers.Dense(16, activation="relu")(h)
    z_mean = layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(h)
    z = Sampling()([z_mean, z_log_var])
    encoder = keras.Model(x_in, [z_mean, z_log_var, z], name="encoder")

    z_in = keras.Input(shape=(latent_dim,))
    h = layers.Dense(7 * 7 * 64, activation="relu")(z_in)
    h = layers.Reshape((7, 7, 64))(h)
    h = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(h)
    x_out = layers.Conv2DTranspose(1, 3, padding="same", activation="sigmoid")(h)
    decoder = keras.Model(z_in, x_out, name="decoder")
    return encoder, decoder


class VAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.trackers = [keras.metrics.Mean(name=name)
                         for name in ("total_loss", "reconstruction_loss", "kl_loss")]

    @property
    def metrics(self):
        return self.trackers

    def losses_of(self, x):
        z_mean, z_log_var, z = self.encoder(x)
        x_rec = self.decoder(z)
        rec = ops.mean(ops.sum(keras.losses.binary_crossentropy(x, x_rec), axis=(1, 2)))
        kl = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
        kl = ops.mean(ops.sum(kl, axis=1))
        return rec + kl, rec, kl

    def record(self, values):
        for tracker, value in zip(self.trackers, values):
            tracker.update_state(value)
        return {tracker.name: tracker.result() for tracker in self.trackers}

    def train_step(self, x):
        with tf.GradientTape() as tape:
            values = self.losses_of(x)
        grads = tape.gradient(values[0], self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return self.record(values)

    def test_step(self, x):
        return self.record(self.losses_of(x))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, help="use the first N training and test images")
    args = parser.parse_args(argv)

    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from keras_io_vae import load_data          # the minivae example's data, same images
    x_train, x_test, source = load_data(args.limit)
    x_train, x_test = (x.astype("float32") / 255 for x in (x_train, x_test))
    print(f"data: {source}, {len(x_train):,} training and {len(x_test):,} test images")

    keras.utils.set_random_seed(args.seed)
    encoder, decoder = build_encoder_decoder()
    print(f"parameters: encoder {encoder.count_params():,}, decoder {decoder.count_params():,}")
    vae = VAE(encoder, decoder)
    vae.compile(optimizer=keras.optimizers.Adam())
    start = time.perf_counter()
    history = vae.fit(x_train, epochs=args.epochs, batch_size=128, verbose=2)
    print(f"trained {args.epochs} epoch(s) in {time.perf_counter() - start:.1f} s")
    print("train:", {k: [round(float(v), 2) for v in vs] for k, vs in history.history.items()})
    print("test: ", {k: round(float(v), 2) for k, v in
                     vae.evaluate(x_test, batch_size=128, verbose=0, return_dict=True).items()})


if __name__ == "__main__":
    main()
