"""The two models of the chapter: Autoencoder and VAE (docs/models.md).

VAE, per batch x (N, H, W, C), as the book's train_step:

    z_mean, z_log_var = encoder(x)              heads of one shared body
    z    = z_mean + exp(0.5 * z_log_var) * eps  Sampling, eps ~ N(0, I)
    l    = decoder(z)                           logits; the images are sigmoid(l)
    R    = w * mean_n mean_pixels BCE(x, sigmoid(l))   the book's w = 500, computed from
                                                l as Keras scores a sigmoid output
    KL   = mean_n sum_d -0.5 (1 + z_log_var - z_mean^2 - exp(z_log_var))
    loss = R + beta * KL

Backward: dR/dl through the decoder gives dz; Sampling turns dz into
(d_z_mean, d_z_log_var), to which beta * dKL adds; the heads and the body
finish the chain. `forward_backward` does all of it and fills every layer's
grads without changing a parameter (the whole model's gradient check uses it);
`train_step` then applies the optimizer, and `fit` runs `train_step` per batch.
"""

import numpy as np

from ._validation import check_generator, check_positive_int, check_real
from .encoder import GaussianEncoder
from .errors import InputTypeError
from .losses import gaussian_kl
from .model import PREDICT_BATCH, RECONSTRUCTION_LOSSES, Model

__all__ = ["VAE", "Autoencoder", "GaussianEncoder", "Model", "PREDICT_BATCH",
           "RECONSTRUCTION_LOSSES"]


class VAE(Model):
    """The chapter's Variational Autoencoder.

    reconstruction_weight: the book's 500 on the per-image mean pixel BCE.
    beta: weight of the KL term (a beta-VAE when != 1), separate from the above.
    reconstruction_loss: "bce" or "mse".
    output_activation: None or "sigmoid", applied by the model to the decoder's
        output; a decoder whose last layer has a fused sigmoid hands it over here.
    """

    def __init__(self, encoder, decoder, reconstruction_weight=500.0, beta=1.0,
                 reconstruction_loss="bce", output_activation=None, rng=None, name="vae"):
        if not isinstance(encoder, GaussianEncoder):
            raise InputTypeError(f"VAE: encoder must be a GaussianEncoder (body, z_mean, "
                                 f"z_log_var, sampling), got {type(encoder).__name__}")
        super().__init__(encoder, decoder, reconstruction_weight, reconstruction_loss,
                         output_activation, rng, name)
        self.beta = check_real(beta, "beta", "VAE", minimum=0)
        self.reseed_sampling()

    def reseed(self, seed):
        super().reseed(seed)
        self.reseed_sampling()

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}

    def reseed_sampling(self):
        # One Generator drives shuffling and eps, so one seed fixes a whole run.
        self.encoder.sampling.rng = self.rng

    def draw_eps(self, n):
        return self.encoder.sampling.draw_eps(n)

    def losses(self, x, out, z_mean, z_log_var):
        """(metrics, d_out, d_z_mean, d_z_log_var) for one batch; `out` is what the
        decoder returned (logits, with a sigmoid output activation)."""
        rec, d_out = self.reconstruction(x, out)
        kl, d_mu, d_log_var = gaussian_kl(z_mean, z_log_var)
        beta = self.beta
        metrics = {"total_loss": float(rec + beta * kl), "reconstruction_loss": float(rec),
                   "kl_loss": float(kl)}
        t = d_out.dtype.type
        return metrics, d_out, d_mu * t(beta), d_log_var * t(beta)

    def _forward_backward(self, x, eps=None):
        """total = recon + beta * kl, for a batch already checked and in the model's dtype."""
        z_mean, z_log_var, z = self.encoder.forward(x, training=True, eps=eps)
        out = self.decoder.forward(z, training=True)
        metrics, d_out, d_mu, d_log_var = self.losses(x, out, z_mean, z_log_var)
        dz = self.decoder.backward(d_out)
        self.encoder.backward(dz, d_mu, d_log_var)
        return metrics

    def test_step(self, x):
        """The book's test_step: the same losses with z sampled, in inference mode."""
        x = self._check_x(x)
        z_mean, z_log_var, z = self.encoder.forward(x, training=False)
        out = self.decoder.forward(z, training=False)
        return self.losses(x, out, z_mean, z_log_var)[0]

    def encode(self, x, batch_size=PREDICT_BATCH):
        """(z_mean, z_log_var), each (N, latent_dim), in inference mode."""
        x = self._images(x, "VAE.encode")
        return self._batched(lambda b: self.encoder.encode(b, training=False), x, batch_size,
                             "VAE.encode")

    def reconstruct(self, x, sample=False, batch_size=PREDICT_BATCH):
        """decode(z_mean), or decode(z sampled) with sample=True as the book's predict."""
        z_mean, z_log_var = self.encode(x, batch_size)
        if sample:
            z_mean = z_mean + np.exp(0.5 * z_log_var) * self.rng.standard_normal(z_mean.shape)
        return self.decode(z_mean.astype(self.dtype, copy=False), batch_size)

    def generate(self, n, rng=None):
        """n images decoded from z ~ N(0, I), the prior."""
        n = check_positive_int(n, "n", "VAE.generate")
        rng = check_generator(rng, "rng", "VAE.generate") or self.rng
        return self.decode(rng.standard_normal((n, self.latent_dim)).astype(self.dtype))


class Autoencoder(Model):
    """The chapter's plain autoencoder: z = encoder(x), loss = w * mean pixel BCE."""

    def __init__(self, encoder, decoder, reconstruction_weight=1.0, reconstruction_loss="bce",
                 output_activation=None, rng=None, name="autoencoder"):
        super().__init__(encoder, decoder, reconstruction_weight, reconstruction_loss,
                         output_activation, rng, name)

    def _forward_backward(self, x, eps=None):
        """The autoencoder has no noise: eps is accepted for a common interface and ignored."""
        z = self.encoder.forward(x, training=True)
        value, d_out = self.reconstruction(x, self.decoder.forward(z, training=True))
        self.encoder.backward(self.decoder.backward(d_out))
        return {"total_loss": float(value), "reconstruction_loss": float(value)}

    def test_step(self, x):
        x = self._check_x(x)
        out = self.decoder.forward(self.encoder.forward(x, training=False), training=False)
        value = float(self.reconstruction(x, out)[0])
        return {"total_loss": value, "reconstruction_loss": value}

    def encode(self, x, batch_size=PREDICT_BATCH):
        """z (N, latent_dim), in inference mode."""
        x = self._images(x, "Autoencoder.encode")
        return self._batched(lambda b: self.encoder.forward(b, training=False), x, batch_size,
                             "Autoencoder.encode")

    def reconstruct(self, x, batch_size=PREDICT_BATCH):
        return self.decode(self.encode(x, batch_size), batch_size)
