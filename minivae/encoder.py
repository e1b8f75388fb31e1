"""GaussianEncoder: the VAE's encoder q(z|x) = N(z_mean, exp(z_log_var)) (docs/models.md).

    h         = body(x)                     any layers: convolutions, Flatten, ...
    z_mean    = h @ W_mu + b_mu             Dense head "z_mean"
    z_log_var = h @ W_lv + b_lv             Dense head "z_log_var"
    z         = z_mean + exp(0.5 * z_log_var) * eps        Sampling

Backward, given dz from the decoder and the KL's direct gradients on the heads:

    (d_mu, d_lv) = Sampling.backward(dz) + (d_z_mean, d_z_log_var)
    dh           = z_mean.backward(d_mu) + z_log_var.backward(d_lv)
    dx           = body.backward(dh)

It is not a Layer: forward returns three arrays and backward takes three
gradients. It offers what a Layer's container offers (params, grads and state
views, build, astype, summary), so models treat it like their other parts.
"""

import numpy as np

from . import fast
from ._validation import check_positive_int
from .errors import InputTypeError
from .layers import Dense, Layer, Sampling
from .layers.sequential import LayerList, assign_names


class GaussianEncoder(LayerList):
    """x -> (z_mean, z_log_var, z): body layers, two Dense heads and Sampling.

    `layers` lists the body's layers, then z_mean, z_log_var and sampling, so
    params, grads and summary read as Keras's encoder does.
    """

    def __init__(self, body_layers, latent_dim, rng=None, name="encoder"):
        self.latent_dim = check_positive_int(latent_dim, "latent_dim", "GaussianEncoder")
        body = list(body_layers)
        for i, layer in enumerate(body):
            if not isinstance(layer, Layer):
                raise InputTypeError(f"GaussianEncoder: body item {i} is {type(layer).__name__}, "
                                     f"not a Layer")
        heads = [Dense(self.latent_dim, name="z_mean"), Dense(self.latent_dim, name="z_log_var"),
                 Sampling(rng=rng, name="sampling")]
        self.layers = body + heads
        assign_names(self.layers, owner="GaussianEncoder")
        self.body = self.layers[:-3]
        self.z_mean, self.z_log_var, self.sampling = self.layers[-3:]
        self.name = name
        self.input_shape = self.output_shape = None
        self._dtype = np.dtype("float32")

    def get_config(self):
        from .serialization import serialize
        return {"name": self.name, "latent_dim": self.latent_dim,
                "body": [serialize(layer) for layer in self.body]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from .serialization import deserialize
        config = dict(config)
        body = [deserialize(spec, custom_objects) for spec in config.pop("body", [])]
        return cls(body, **config)

    built = Layer.built
    _check_input = Layer._check_input           # the same checks as a layer's input

    def __repr__(self):
        return f"GaussianEncoder {self.name!r}"

    def build(self, input_shape, rng=None, dtype="float32"):
        """Build body and heads for inputs of `input_shape`; returns (latent_dim,)."""
        shape = input_shape                     # each layer's build checks what it is given
        for layer in self.body:
            shape = layer.build(shape, rng=rng, dtype=dtype)
        self.z_mean.build(shape, rng=rng, dtype=dtype)
        self.z_log_var.build(shape, rng=rng, dtype=dtype)
        self.output_shape = self.sampling.build((self.latent_dim,), rng=rng, dtype=dtype)
        self.input_shape = (self.body[0] if self.body else self.z_mean).input_shape
        self._dtype = self.z_mean._dtype
        return self.output_shape

    def encode(self, x, training=True):
        """Body and heads only: (z_mean, z_log_var), each (N, latent_dim)."""
        h = self._check_input(x)
        for layer in self.body:
            h = fast.forward(layer, h, training)
        return fast.forward(self.z_mean, h, training), fast.forward(self.z_log_var, h, training)

    def forward(self, x, training=True, eps=None):
        """(z_mean, z_log_var, z); eps (N, latent_dim), when given, fixes Sampling's noise."""
        z_mean, z_log_var = self.encode(x, training)
        z = self.sampling.forward((z_mean, z_log_var), training=training, eps=eps)
        return z_mean, z_log_var, z

    def backward(self, dz, d_z_mean=None, d_z_log_var=None):
        """dz from the decoder plus any direct gradients on the heads (the KL's) -> dx."""
        d_mu, d_lv = self.sampling.backward(dz)
        if d_z_mean is not None:
            d_mu += d_z_mean
        if d_z_log_var is not None:
            d_lv += d_z_log_var
        dh = fast.backward(self.z_mean, d_mu)
        dh += fast.backward(self.z_log_var, d_lv)
        for layer in reversed(self.body):
            dh = fast.backward(layer, dh)
        return dh
