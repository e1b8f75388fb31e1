"""The Keras-side classes to_keras builds with: Sampling, and VAE and Autoencoder
models whose loss is minivae's (written with keras.ops, so any backend runs them)."""

import functools

from ..errors import InputError
from ._keras import _import_keras


@functools.cache    # one class per name: Keras registers each once, isinstance needs one
def keras_classes():
    """{"Sampling", "VAE", "Autoencoder"}: the Keras classes to_keras builds with.

    Calling it registers them with Keras (package "minivae"), which
    keras.saving.load_model needs before it reads a .keras file holding them.
    They are written with keras.ops only, so they run on any Keras backend.
    """
    keras = _import_keras("keras_classes")
    ops = keras.ops

    def register(cls):
        cls.__qualname__ = cls.__name__         # printed as VAE, not keras_classes.<locals>
        return keras.saving.register_keras_serializable(package="minivae")(cls)

    @register
    class Sampling(keras.layers.Layer):
        """z = z_mean + exp(0.5 * z_log_var) * eps, eps ~ N(0, I) from a seeded generator.

        As the book's layer, it samples in inference too.
        """

        def __init__(self, seed=None, **kwargs):
            super().__init__(**kwargs)
            self.seed = seed
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            eps = keras.random.normal(ops.shape(z_mean), dtype=self.compute_dtype,
                                      seed=self.seed_generator)
            return z_mean + ops.exp(0.5 * z_log_var) * eps

        def compute_output_shape(self, input_shape):
            return input_shape[0]

        def get_config(self):
            return {**super().get_config(), "seed": self.seed}

    def reconstruction(model, x, images):
        """w * the per-image mean of BCE or squared error, averaged over the batch."""
        x = ops.cast(x, images.dtype)
        axes = tuple(range(1, len(images.shape)))
        if model.reconstruction_loss == "bce":
            # from the logits behind a sigmoid output (TensorFlow), as minivae computes it
            per_image = keras.losses.binary_crossentropy(x, images, axis=axes)
        else:
            per_image = ops.mean(ops.square(x - images), axis=axes)
        return model.reconstruction_weight * ops.mean(per_image)

    class _Parts(keras.Model):
        """Encoder, decoder, loss settings and their config: what both models share."""

        def __init__(self, encoder, decoder, reconstruction_weight, reconstruction_loss,
                     **kwargs):
            super().__init__(**kwargs)
            if reconstruction_loss not in ("bce", "mse"):
                raise InputError(f"{type(self).__name__}: reconstruction_loss must be 'bce' "
                                 f"or 'mse', got {reconstruction_loss!r}")
            self.encoder, self.decoder = encoder, decoder
            self.reconstruction_weight = float(reconstruction_weight)
            self.reconstruction_loss = reconstruction_loss
            self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
            # Its weights are its parts', which exist already: nothing is left to build.
            self.built = encoder.built and decoder.built

        def _settings(self):
            return {"reconstruction_weight": self.reconstruction_weight,
                    "reconstruction_loss": self.reconstruction_loss}

        def get_config(self):
            return {"name": self.name, "trainable": self.trainable, **self._settings(),
                    "encoder": keras.saving.serialize_keras_object(self.encoder),
                    "decoder": keras.saving.serialize_keras_object(self.decoder)}

        @classmethod
        def from_config(cls, config):
            config = dict(config)
            for part in ("encoder", "decoder"):
                config[part] = keras.saving.deserialize_keras_object(config[part])
            return cls(**config)

    @register
    class VAE(_Parts):
        """The book's VAE, its train_step written as Keras 3's compute_loss, so that the
        default train_step (any backend, distribution, mixed precision) runs it:

            R     = reconstruction_weight * mean_n (per-image mean BCE or squared error)
            KL    = mean_n sum_d -0.5 (1 + z_log_var - z_mean^2 - exp(z_log_var))
            loss  = R + beta * KL        (logged as loss, reconstruction_loss, kl_loss)
        """

        def __init__(self, encoder, decoder, reconstruction_weight=500.0, beta=1.0,
                     reconstruction_loss="bce", **kwargs):
            super().__init__(encoder, decoder, reconstruction_weight, reconstruction_loss,
                             **kwargs)
            self.beta = float(beta)
            self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

        def _settings(self):
            return {**super()._settings(), "beta": self.beta}

        def call(self, x, training=None):
            z_mean, z_log_var, z = self.encoder(x, training=training)
            return z_mean, z_log_var, self.decoder(z, training=training)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                         training=True):
            z_mean, z_log_var, images = y_pred
            rec = reconstruction(self, x, images)
            kl = ops.mean(ops.sum(-0.5 * (1 + z_log_var - ops.square(z_mean)
                                          - ops.exp(z_log_var)), axis=1))
            self.reconstruction_loss_tracker.update_state(rec)
            self.kl_loss_tracker.update_state(kl)
            total = rec + self.beta * kl
            return total + ops.sum(self.losses) if self.losses else total

    @register
    class Autoencoder(_Parts):
        """The chapter's autoencoder: loss = reconstruction_weight * the reconstruction."""

        def __init__(self, encoder, decoder, reconstruction_weight=1.0,
                     reconstruction_loss="bce", **kwargs):
            super().__init__(encoder, decoder, reconstruction_weight, reconstruction_loss,
                             **kwargs)

        def call(self, x, training=None):
            return self.decoder(self.encoder(x, training=training), training=training)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                         training=True):
            rec = reconstruction(self, x, y_pred)
            self.reconstruction_loss_tracker.update_state(rec)
            return rec + ops.sum(self.losses) if self.losses else rec

    return {"Sampling": Sampling, "VAE": VAE, "Autoencoder": Autoencoder}
