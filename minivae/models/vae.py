"""The chapter's VAE and its encoder q(z|x) (docs/models.md).

Per batch x (N, H, W, C), as the book's train_step:

    h         = body(x)                             any layers: convolutions, Flatten, ...
    z_mean    = h @ W_mu + b_mu                     Dense head "z_mean"
    z_log_var = h @ W_lv + b_lv                     Dense head "z_log_var"
    z         = z_mean + exp(0.5 * z_log_var) * eps Sampling, eps ~ N(0, I)
    l         = decoder(z)                          logits; the images are sigmoid(l)
    R    = w * mean_n mean_pixels BCE(x, sigmoid(l))   the book's w = 500, computed from
                                                    l as Keras scores a sigmoid output
    KL   = mean_n sum_d -0.5 (1 + z_log_var - z_mean^2 - exp(z_log_var))
    loss = R + beta * KL

Backward: dR/dl through the decoder gives dz; Sampling turns dz into
(d_mu, d_lv), to which beta * dKL adds; then

    dh = z_mean.backward(d_mu) + z_log_var.backward(d_lv),   dx = body.backward(dh)

`forward_backward` does all of it and fills every layer's grads without changing
a parameter (the whole model's gradient check uses it); `train_step` then applies
the optimizer, and `fit` runs `train_step` per batch (minivae/training.py).
"""

import numpy as np

from ..fast import dispatch
from .._validation import check_generator, check_positive_int, check_real
from ..distributions import reparameterize
from ..errors import InputTypeError
from ..layers import Dense, Layer, Sampling, initializers
from ..losses import gaussian_kl
from ..serialization import built_in, deserialize, serialize
from .model import PREDICT_BATCH, Model
from .sequential import LayerList, assign_names

# the Dense heads' initializers by default: Dense's own (Keras's)
HEAD_INITIALIZERS = {"kernel_initializer": "glorot_uniform", "bias_initializer": "zeros"}


@built_in
class GaussianEncoder(LayerList):
    """x -> (z_mean, z_log_var, z): body layers, two Dense heads and Sampling.

    It is not a Layer: forward returns three arrays and backward takes three
    gradients. It offers what a Layer's container offers (params, grads and state
    views, build, astype, summary), so models treat it like their other parts.
    `layers` lists the body's layers, then z_mean, z_log_var and sampling, so
    params, grads and summary read as Keras's encoder does.
    """

    def __init__(self, body_layers, latent_dim, rng=None, name="encoder",
                 kernel_initializer=HEAD_INITIALIZERS["kernel_initializer"],
                 bias_initializer=HEAD_INITIALIZERS["bias_initializer"]):
        self.latent_dim = check_positive_int(latent_dim, "latent_dim", "GaussianEncoder")
        body = list(body_layers)
        for i, layer in enumerate(body):
            if not isinstance(layer, Layer):
                raise InputTypeError(f"GaussianEncoder: body item {i} is {type(layer).__name__}, "
                                     f"not a Layer")
        # kernel_initializer, bias_initializer: the two Dense heads', as Dense takes them
        heads = [Dense(self.latent_dim, kernel_initializer=kernel_initializer,
                       bias_initializer=bias_initializer, name=head)
                 for head in ("z_mean", "z_log_var")] + [Sampling(rng=rng, name="sampling")]
        self.layers = body + heads
        assign_names(self.layers, owner="GaussianEncoder")
        self.body = self.layers[:-3]
        self.z_mean, self.z_log_var, self.sampling = self.layers[-3:]
        self.name = name
        self.input_shape = self.output_shape = None
        self._dtype = np.dtype("float32")

    def get_config(self):
        config = {"name": self.name, "latent_dim": self.latent_dim,
                  "body": [serialize(layer) for layer in self.body]}
        # the heads' initializers, where they are not the defaults (a checkpoint of the
        # book's VAE describes it as before)
        heads = self.z_mean.get_config()
        for key, default in HEAD_INITIALIZERS.items():
            if heads[key] != initializers.serialize(initializers.get_initializer(default)):
                config[key] = heads[key]
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
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
            h = dispatch.forward(layer, h, training)
        return (dispatch.forward(self.z_mean, h, training),
                dispatch.forward(self.z_log_var, h, training))

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
        dh = dispatch.backward(self.z_mean, d_mu)
        dh += dispatch.backward(self.z_log_var, d_lv)
        for layer in reversed(self.body):
            dh = dispatch.backward(layer, dh)
        return dh


@built_in
class VAE(Model):
    """The chapter's Variational Autoencoder.

    reconstruction_weight: the book's 500 on the per-image mean pixel BCE.
    beta: weight of the KL term (a beta-VAE when != 1), separate from the above.
    reconstruction_loss: "bce" or "mse".
    output_activation: None or "sigmoid", applied by the model to the decoder's
        output; a decoder whose last layer has a fused sigmoid hands it over here.
    image_shape: (H, W, C) of the images a model of flat vectors (N, H*W*C) reads,
        recorded in its config so every command shows its vectors as those images.
    """

    def __init__(self, encoder, decoder, reconstruction_weight=500.0, beta=1.0,
                 reconstruction_loss="bce", output_activation=None, rng=None, name="vae",
                 image_shape=None):
        if not isinstance(encoder, GaussianEncoder):
            raise InputTypeError(f"VAE: encoder must be a GaussianEncoder (body, z_mean, "
                                 f"z_log_var, sampling), got {type(encoder).__name__}")
        super().__init__(encoder, decoder, reconstruction_weight, reconstruction_loss,
                         output_activation, rng, name, image_shape)
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

    def forward_backward(self, x, eps=None):
        """total = recon + beta * kl: the batch's metrics, every layer's grads filled, no
        parameter changed. eps (N, latent_dim) fixes the Sampling noise (a deterministic
        function for gradient checks); by default it comes from the model's Generator."""
        x = self.check_batch(x)
        z_mean, z_log_var, z = self.encoder.forward(x, training=True, eps=eps)
        out = self.decoder.forward(z, training=True)
        metrics, d_out, d_mu, d_log_var = self.losses(x, out, z_mean, z_log_var)
        dz = self.decoder.backward(d_out)
        self.encoder.backward(dz, d_mu, d_log_var)
        return metrics

    def test_step(self, x):
        """The book's test_step: the same losses with z sampled, in inference mode."""
        x = self.check_batch(x)
        z_mean, z_log_var, z = self.encoder.forward(x, training=False)
        out = self.decoder.forward(z, training=False)
        return self.losses(x, out, z_mean, z_log_var)[0]

    def encode(self, x, batch_size=PREDICT_BATCH):
        """(z_mean, z_log_var), each (N, latent_dim), in inference mode."""
        return self._encode(x, batch_size, "VAE.encode")

    def _encode(self, x, batch_size, owner):
        """encode, its refusals in the name of `owner`, the method the user called."""
        x = self.check_images(x, owner)
        return self.batched(lambda b: self.encoder.encode(b, training=False), x, batch_size,
                            owner)

    def reconstruct(self, x, sample=False, batch_size=PREDICT_BATCH):
        """decode(z_mean), or decode(z sampled) with sample=True as the book's predict."""
        owner = "VAE.reconstruct"
        z_mean, z_log_var = self._encode(x, batch_size, owner)
        if sample:
            z_mean = reparameterize(z_mean, z_log_var, self.rng.standard_normal(z_mean.shape))[0]
        return self._decode(z_mean.astype(self.dtype, copy=False), batch_size, False, owner)

    def generate(self, n, rng=None):
        """n images decoded from z ~ N(0, I), the prior."""
        owner = "VAE.generate"
        n = check_positive_int(n, "n", owner)
        rng = check_generator(rng, "rng", owner) or self.rng
        z = rng.standard_normal((n, self.latent_dim)).astype(self.dtype)
        return self._decode(z, PREDICT_BATCH, False, owner)
