"""The PyTorch-side models to_torch builds: GaussianEncoder, VAE and Autoencoder, whose
loss is minivae's (docs/torch_port.md), written with torch only."""

import functools

from ..errors import InputError
from ._torch import _import_torch


@functools.cache    # one class per name, so that isinstance holds across calls
def torch_classes():
    """{"GaussianEncoder", "VAE", "Autoencoder"}: the torch.nn.Module classes to_torch
    builds with, and from_torch reads back."""
    torch = _import_torch("torch_classes")
    nn, F = torch.nn, torch.nn.functional

    class GaussianEncoder(nn.Module):
        """x -> (z_mean, z_log_var): a body and two Linear heads reading its output."""

        def __init__(self, body, z_mean, z_log_var):
            super().__init__()
            self.body, self.z_mean, self.z_log_var = body, z_mean, z_log_var

        def forward(self, x):
            h = self.body(x)
            return self.z_mean(h), self.z_log_var(h)

    class _Parts(nn.Module):
        """Encoder, decoder, the loss settings and the input shape (as PyTorch reads it:
        (C, H, W) or (D,)) that both models share."""

        def __init__(self, encoder, decoder, input_shape, reconstruction_weight,
                     reconstruction_loss, output_sigmoid):
            super().__init__()
            if reconstruction_loss not in ("bce", "mse"):
                raise InputError(f"{type(self).__name__}: reconstruction_loss must be 'bce' "
                                 f"or 'mse', got {reconstruction_loss!r}")
            self.encoder, self.decoder = encoder, decoder
            self.input_shape = tuple(input_shape)
            self.reconstruction_weight = float(reconstruction_weight)
            self.reconstruction_loss = reconstruction_loss
            self.output_sigmoid = bool(output_sigmoid)

        def logits(self, z):
            """The decoder without its output sigmoid (the whole decoder if it has none)."""
            return self.decoder[:-1](z) if self.output_sigmoid else self.decoder(z)

        def decode(self, z):
            return self.decoder(z)

        def reconstruction(self, x, out):
            """w * the per-sample mean of BCE (from the logits behind the sigmoid, as
            minivae and Keras compute it) or squared error, averaged over the batch."""
            if self.reconstruction_loss == "mse":
                ell = torch.square((torch.sigmoid(out) if self.output_sigmoid else out) - x)
            elif self.output_sigmoid:
                ell = F.binary_cross_entropy_with_logits(out, x, reduction="none")
            else:       # Keras's BCE on probabilities: clipped to [1e-7, 1 - 1e-7]
                p = out.clamp(1e-7, 1 - 1e-7)
                ell = -(x * torch.log(p) + (1 - x) * torch.log(1 - p))
            return self.reconstruction_weight * ell.flatten(1).mean(1).mean()

    class VAE(_Parts):
        """minivae's VAE in PyTorch:

            z_mean, z_log_var = encoder(x);  z = z_mean + exp(0.5 z_log_var) eps
            R    = reconstruction_weight * mean_n (per-sample mean BCE or squared error)
            KL   = mean_n sum_d -0.5 (1 + z_log_var - z_mean^2 - exp(z_log_var))
            loss = R + beta * KL

        forward(x, eps=None) returns (images, z_mean, z_log_var), as pytorch/examples'
        VAE does; losses(x, eps=None) the three terms, to call backward() on the total.
        eps, when not given, comes from torch.randn with the module's generator.
        """

        def __init__(self, encoder, decoder, input_shape, reconstruction_weight=500.0, beta=1.0,
                     reconstruction_loss="bce", output_sigmoid=True, seed=None):
            super().__init__(encoder, decoder, input_shape, reconstruction_weight,
                             reconstruction_loss, output_sigmoid)
            self.beta = float(beta)
            self.generator = torch.Generator()
            if seed is not None:
                self.generator.manual_seed(seed)
            else:
                self.generator.seed()

        def encode(self, x):
            return self.encoder(x)

        def sample(self, z_mean, z_log_var, eps=None):
            if eps is None:
                # drawn on the CPU, where the generator lives, whatever the module's device
                eps = torch.randn(z_mean.shape, generator=self.generator,
                                  dtype=z_mean.dtype).to(z_mean.device)
            return z_mean + torch.exp(0.5 * z_log_var) * eps

        def forward(self, x, eps=None):
            z_mean, z_log_var = self.encoder(x)
            return self.decoder(self.sample(z_mean, z_log_var, eps)), z_mean, z_log_var

        def losses(self, x, eps=None):
            """{"total_loss", "reconstruction_loss", "kl_loss"}: 0-d tensors."""
            z_mean, z_log_var = self.encoder(x)
            out = self.logits(self.sample(z_mean, z_log_var, eps))
            rec = self.reconstruction(x, out)
            kl = (-0.5 * (1 + z_log_var - z_mean.square() - z_log_var.exp())).sum(1).mean()
            return {"total_loss": rec + self.beta * kl, "reconstruction_loss": rec,
                    "kl_loss": kl}

    class Autoencoder(_Parts):
        """minivae's Autoencoder in PyTorch: loss = reconstruction_weight * the reconstruction."""

        def __init__(self, encoder, decoder, input_shape, reconstruction_weight=1.0,
                     reconstruction_loss="bce", output_sigmoid=True):
            super().__init__(encoder, decoder, input_shape, reconstruction_weight,
                             reconstruction_loss, output_sigmoid)

        def encode(self, x):
            return self.encoder(x)

        def forward(self, x):
            return self.decoder(self.encoder(x))

        def losses(self, x, eps=None):
            rec = self.reconstruction(x, self.logits(self.encoder(x)))
            return {"total_loss": rec, "reconstruction_loss": rec}

    for cls in (GaussianEncoder, VAE, Autoencoder):
        cls.__qualname__ = cls.__name__         # printed as VAE, not torch_classes.<locals>
    return {"GaussianEncoder": GaussianEncoder, "VAE": VAE, "Autoencoder": Autoencoder}
