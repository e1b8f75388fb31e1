"""Sampling: the reparameterisation trick of the VAE (docs/sampling.md)."""

import numpy as np

from .._validation import check_float_array
from ..distributions import reparameterize
from ..errors import InputError, InputTypeError
from .base import Layer


class Sampling(Layer):
    """z = z_mean + sigma * eps,  sigma = exp(0.5 * z_log_var),  eps ~ N(0, I).

    Writing the sample as a deterministic function of (z_mean, z_log_var) and
    an independent eps lets gradients flow to the encoder. Backward:
      d_z_mean = dz,   d_z_log_var = dz * 0.5 * sigma * eps.

    Shapes: z_mean, z_log_var, eps, z, dz (N, latent_dim). build takes
    input_shape = (latent_dim,), the shape of each of the two inputs.

    eps comes from `self.rng` (the constructor's Generator, else the one handed
    to build) unless given to forward, e.g. held fixed for a gradient check. As
    the book's Keras layer, it samples in inference mode too (training=False):
    `training` is accepted for the Layer protocol and ignored; use z_mean
    directly for a deterministic encoding.
    """

    draws_noise = True          # unless eps is handed to forward

    def __init__(self, rng=None, name=None):
        super().__init__(name)
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise InputTypeError(f"Sampling: rng must be a numpy.random.Generator or None, "
                                 f"got {type(rng).__name__}")
        self.rng = rng          # kept by build when given, so samples are reproducible

    def _build(self, input_shape, rng):
        if len(input_shape) != 1:
            raise InputError(f"{self}: expects input_shape (latent_dim,), the shape of z_mean "
                             f"and of z_log_var without the batch axis, got {input_shape}")
        return input_shape

    def __call__(self, inputs, training=True, eps=None):
        return self.forward(inputs, training=training, eps=eps)

    def forward(self, inputs, training=True, eps=None):
        if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
            raise InputTypeError(f"{self}: expects a pair (z_mean, z_log_var), got "
                                 f"{type(inputs).__name__}"
                                 + (f" of length {len(inputs)}" if isinstance(inputs, (tuple, list))
                               else ""))
        z_mean = self._check_input(inputs[0], "z_mean")
        z_log_var = self._check_input(inputs[1], "z_log_var")
        if z_mean.shape != z_log_var.shape:
            raise InputError(f"{self}: z_mean and z_log_var must have the same batch size, got "
                             f"z_mean {z_mean.shape} and z_log_var {z_log_var.shape}")
        if eps is None:
            eps = self.draw_eps(len(z_mean))
        else:
            eps = check_float_array(eps, "eps", owner=self)
            if eps.shape != z_mean.shape:
                raise InputError(f"{self}: eps must have z_mean's shape {z_mean.shape}, "
                                 f"got {eps.shape}")
            eps = eps.astype(self.dtype, copy=False)
        self.eps = eps                              # cached for d_z_log_var
        z, self.sigma = reparameterize(z_mean, z_log_var, eps)     # sigma cached for d_z_log_var
        self._y_shape = z.shape
        return z

    def draw_eps(self, n):
        """The eps (n, latent_dim) forward draws for a batch of n, from self.rng.

        Drawn in float64 and cast, so one seed gives the same eps in every dtype.
        """
        return self.rng.standard_normal((n, *self.input_shape)).astype(self.dtype, copy=False)

    def backward(self, dz):
        """dz (N, latent_dim) -> (d_z_mean, d_z_log_var), each (N, latent_dim)."""
        dz = self._check_grad(dz)
        # A copy, so a caller adding the KL gradient to d_z_mean in place cannot
        # change the dz it passed in (often the decoder's dx).
        d_z_mean = dz.copy()
        d_z_log_var = dz * 0.5 * self.sigma * self.eps
        return d_z_mean, d_z_log_var
