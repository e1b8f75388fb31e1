"""The two models of the chapter: Autoencoder and VAE (docs/models.md).

VAE, per batch x (N, H, W, C), as the book's train_step:

    z_mean, z_log_var = encoder(x)              heads of one shared body
    z    = z_mean + exp(0.5 * z_log_var) * eps  Sampling, eps ~ N(0, I)
    x'   = decoder(z)
    R    = w * mean_n mean_pixels BCE(x, x')    the book's w = 500; from the logits
                                                behind the sigmoid, as Keras scores it
    KL   = mean_n sum_d -0.5 (1 + z_log_var - z_mean^2 - exp(z_log_var))
    loss = R + beta * KL

Backward: dR/dx' through the decoder gives dz; Sampling turns dz into
(d_z_mean, d_z_log_var), to which beta * dKL adds; the heads and the body
finish the chain. `forward_backward` does all of it and fills every layer's
grads without changing a parameter: the whole model's gradient check uses it.
"""

import copy
from contextlib import contextmanager

import numpy as np

from . import blas, parallel, training
from ._validation import (check_choice, check_finite, check_float_array, check_generator,
                          check_positive_int, check_real, check_seed)
from .layers import Dense, Sampling, Sequential, Sigmoid
from .losses import (binary_crossentropy, binary_crossentropy_from_logits, gaussian_kl,
                     mean_squared_error)

# Images per forward pass in encode/decode/reconstruct. The im2col buffers grow with
# it: at 1000 images of 32x32 the second convolution's alone holds 295 MB, at 100 30 MB,
# and larger batches are no faster per image once the GEMMs are a few MFLOP each.
PREDICT_BATCH = 100
RECONSTRUCTION_LOSSES = {"bce": binary_crossentropy, "mse": mean_squared_error}


class GaussianEncoder(Sequential):
    """x -> (z_mean, z_log_var, z): a body of layers, two Dense heads and Sampling.

    `layers` lists the body's layers, then z_mean, z_log_var and sampling, so
    params, grads and summary read as Keras's encoder does.
    """

    def __init__(self, body_layers, latent_dim, rng=None, name="encoder"):
        latent_dim = check_positive_int(latent_dim, "latent_dim", "GaussianEncoder")
        self.latent_dim = latent_dim
        body_layers = list(body_layers)
        heads = [Dense(latent_dim, name="z_mean"), Dense(latent_dim, name="z_log_var"),
                 Sampling(rng=rng, name="sampling")]
        super().__init__(body_layers + heads, name=name)
        self.body = self.layers[:-3]
        self.z_mean, self.z_log_var, self.sampling = self.layers[-3:]

    def _replica(self):
        twin = super()._replica()
        twin.body = twin.layers[:-3]
        twin.z_mean, twin.z_log_var, twin.sampling = twin.layers[-3:]
        return twin

    def _build(self, input_shape, rng):
        shape = input_shape
        for layer in self.body:
            shape = layer.build(shape, rng=rng, dtype=self._dtype)
        self.z_mean.build(shape, rng=rng, dtype=self._dtype)
        self.z_log_var.build(shape, rng=rng, dtype=self._dtype)
        return self.sampling.build((self.latent_dim,), rng=rng, dtype=self._dtype)

    def encode(self, x, training=True):
        """Body and heads only: (z_mean, z_log_var)."""
        h = self._check_input(x)
        for layer in self.body:
            h = layer.forward(h, training=training)
        return self.z_mean.forward(h, training), self.z_log_var.forward(h, training)

    def forward(self, x, training=True, eps=None):
        z_mean, z_log_var = self.encode(x, training)
        z = self.sampling.forward((z_mean, z_log_var), training=training, eps=eps)
        self._y_shape = z.shape
        return z_mean, z_log_var, z

    def backward(self, dz, d_z_mean=None, d_z_log_var=None):
        """dz from the decoder plus any direct gradients on the heads (the KL's)."""
        dm, dlv = self.sampling.backward(dz)
        if d_z_mean is not None:
            dm += d_z_mean
        if d_z_log_var is not None:
            dlv += d_z_log_var
        dh = self.z_mean.backward(dm)
        dh += self.z_log_var.backward(dlv)
        for layer in reversed(self.body):
            dh = layer.backward(dh)
        return dh


class _Model:
    """What both models share: parameters by name, compile/fit/evaluate, decoding."""

    def __init__(self, encoder, decoder, rng=None, name=None):
        self.encoder, self.decoder, self.name = encoder, decoder, name
        self.optimizer = None
        self.config = {}
        self.rng = rng if rng is not None else np.random.default_rng()

    def build(self, input_shape, rng=None, dtype="float32"):
        """Build encoder then decoder; raises if any two parameters share a name."""
        latent_shape = self.encoder.build(input_shape, rng=rng, dtype=dtype)
        output_shape = self.decoder.build(latent_shape, rng=rng, dtype=dtype)
        if tuple(output_shape) != tuple(input_shape):
            raise ValueError(f"{type(self).__name__}: the decoder outputs {output_shape}, "
                             f"not the input shape {tuple(input_shape)}")
        # The first layer reads data: no one needs its input gradient, so skip that work.
        self.encoder.layers[0].input_gradient = False
        clash = set(self.encoder.params) & set(self.decoder.params)
        if clash:
            raise ValueError(f"{type(self).__name__}: encoder and decoder share parameter names "
                             f"{sorted(clash)}; give their layers distinct names")
        return self

    @contextmanager
    def _scored_decoder(self):
        """Yields the reconstruction loss for what the decoder returns inside the block.

        Keras scores BCE on a sigmoid layer's output from the logits behind it: no
        1e-7 clip, and a finite gradient where the sigmoid saturates (the clipped form's
        is zero there). So when the loss is BCE and the decoder ends in a fused sigmoid,
        that sigmoid is bypassed inside the block, forward and backward alike, and the
        loss is taken from the logits. Outside the block the decoder is unchanged.
        """
        head = self.decoder.layers[-1] if isinstance(self.decoder, Sequential) else None
        if self.reconstruction_loss != "bce" or \
                not isinstance(getattr(head, "activation", None), Sigmoid):
            yield RECONSTRUCTION_LOSSES[self.reconstruction_loss]
            return
        sigmoid, head.activation = head.activation, None
        try:
            yield binary_crossentropy_from_logits
        finally:
            head.activation = sigmoid

    @property
    def input_shape(self):
        return self.encoder.input_shape

    @property
    def dtype(self):
        return self.encoder.dtype

    def astype(self, dtype):
        self.encoder.astype(dtype)
        self.decoder.astype(dtype)
        return self

    def named_params(self):
        """"layer_name/param" -> the layer's own array (updates in place reach the layer)."""
        return {**self.encoder.params, **self.decoder.params}

    def named_grads(self):
        return {**self.encoder.grads, **self.decoder.grads}

    def named_state(self):
        return {**self.encoder.state, **self.decoder.state}

    def count_params(self):
        return self.encoder.count_params() + self.decoder.count_params()

    def compile(self, optimizer):
        if not hasattr(optimizer, "apply_gradients"):
            raise TypeError(f"{type(self).__name__}.compile: optimizer must have "
                            f"apply_gradients(params, grads), got {type(optimizer).__name__}")
        self.optimizer = optimizer
        return self

    def _check_x(self, x, name="x"):
        x = training.check_images(x, name, self.input_shape, type(self).__name__)
        return training.to_batch(x, self.dtype)

    def compute_gradients(self, x):
        """The fit loop's forward_backward: x was validated once for the whole dataset
        and converted to the model's dtype, so no per-batch checks run here.

        Where it can, it splits the batch between replicas of the model on two threads
        with single-threaded BLAS (minivae.parallel, "Data parallelism"). The losses and
        gradients are those of the whole batch, from the same noise, up to float
        rounding: each part's are its means, weighted by its share of the batch.
        """
        parts = self._data_parallel_parts(len(x))
        if parts is None:
            return self._forward_backward(x)
        eps = self._noise(len(x))
        replicas = [self._replica() for _ in parts]
        with blas.single_threaded():
            results = parallel.run_each(
                [lambda r=r, s=s: r._forward_backward(x[s], None if eps is None else eps[s])
                 for r, s in zip(replicas, parts)])
        weights = [(s.stop - s.start) / len(x) for s in parts]
        for layer, twins in zip(self._leaves(), zip(*(r._leaves() for r in replicas))):
            for name in layer.params:
                grad = twins[0].grads[name] * weights[0]
                for twin, w in zip(twins[1:], weights[1:]):
                    grad += twin.grads[name] * w
                layer.grads[name] = grad
        return {k: sum(w * m[k] for m, w in zip(results, weights)) for k in results[0]}

    # False runs every batch whole on the calling thread (a per-layer profile needs
    # that); the split changes float rounding only.
    data_parallel = True

    def _data_parallel_parts(self, n):
        """The batch's split, or None: a layer that couples examples (BatchNormalization)
        or draws its own noise (Dropout), or a BLAS whose threads cannot be held to one,
        keeps the batch whole."""
        if not (self.data_parallel and self.encoder.batch_independent
                and self.decoder.batch_independent and blas.can_run_single_threaded()):
            return None
        return parallel.batch_chunks(n)

    def _noise(self, n):
        """The noise the whole batch would draw (None for a model without any)."""
        return None

    def _replica(self):
        twin = copy.copy(self)
        twin.encoder, twin.decoder = self.encoder._replica(), self.decoder._replica()
        return twin

    def _leaves(self):
        """Every layer that is not a container, encoder first, in order."""
        def walk(layer):
            if isinstance(layer, Sequential):
                for child in layer.layers:
                    yield from walk(child)
            else:
                yield layer
        return [*walk(self.encoder), *walk(self.decoder)]

    def forward_backward(self, x, eps=None):
        """Losses of the batch and every layer's grads filled; no parameter changes.

        For the VAE, eps (N, latent_dim) fixes the Sampling noise (a deterministic
        function for gradient checks); by default it comes from the model's Generator.
        Returns the metrics: {"total_loss", "reconstruction_loss"[, "kl_loss"]}.
        """
        return self._forward_backward(self._check_x(x), eps)

    def train_step(self, x):
        """One optimizer step on the batch x; returns the batch's metrics."""
        if self.optimizer is None:
            raise RuntimeError(f"{type(self).__name__}: call compile(optimizer) first")
        metrics = self.compute_gradients(self._check_x(x))
        self.optimizer.apply_gradients(self.named_params(), self.named_grads())
        return metrics

    def fit(self, x, epochs=1, batch_size=100, validation_data=None, shuffle=True, seed=None,
            initial_epoch=0, verbose=1, callbacks=(), history=None):
        """Keras's fit: returns a History of per-epoch metric means (and val_ ones).

        seed, when given, restarts the model's Generator (shuffling and eps).
        """
        if seed is not None:
            self.reseed(check_seed(seed, "seed", f"{type(self).__name__}.fit"))
        return training.fit(self, x, epochs=epochs, batch_size=batch_size,
                            validation_data=validation_data, shuffle=shuffle,
                            initial_epoch=initial_epoch, verbose=verbose, callbacks=callbacks,
                            history=history)

    def evaluate(self, x, batch_size=100):
        """Mean metrics over x, as the book's test_step computes them."""
        owner = f"{type(self).__name__}.evaluate"
        x = training.check_images(x, "x", self.input_shape, owner)
        return training.evaluate(self, x, check_positive_int(batch_size, "batch_size", owner))

    def reseed(self, seed):
        """Restart the model's Generator from `seed` (None or an integer >= 0)."""
        seed = check_seed(seed, "seed", f"{type(self).__name__}.reseed")
        self.rng = np.random.default_rng(seed)

    def _batched(self, fn, x, batch_size, owner):
        batch_size = check_positive_int(batch_size, "batch_size", owner)
        outs = [fn(training.to_batch(x[i:i + batch_size], self.dtype))
                for i in range(0, len(x), batch_size)]
        if isinstance(outs[0], tuple):
            return tuple(np.concatenate(parts) for parts in zip(*outs))
        return np.concatenate(outs)

    def decode(self, z, batch_size=PREDICT_BATCH):
        """Images x' (N, H, W, C) for latent points z (N, latent_dim)."""
        z = check_float_array(z, "z", f"{type(self).__name__}.decode", ndim=2)
        if z.shape[1:] != self.decoder.input_shape:
            raise ValueError(f"{type(self).__name__}.decode: z must have shape "
                             f"(N, {self.decoder.input_shape[0]}), got {z.shape}")
        check_finite(z, "z", f"{type(self).__name__}.decode")
        return self._batched(lambda b: self.decoder.forward(b, training=False), z, batch_size,
                             f"{type(self).__name__}.decode")

    @property
    def latent_dim(self):
        return self.decoder.input_shape[0]


class VAE(_Model):
    """The chapter's Variational Autoencoder.

    reconstruction_weight: the book's 500 on the per-image mean pixel BCE.
    beta: weight of the KL term (a beta-VAE when != 1), separate from the above.
    reconstruction_loss: "bce" (on probabilities, Keras-faithful) or "mse".
    """

    def __init__(self, encoder, decoder, reconstruction_weight=500.0, beta=1.0,
                 reconstruction_loss="bce", rng=None, name="vae"):
        if not isinstance(encoder, GaussianEncoder):
            raise TypeError(f"VAE: encoder must be a GaussianEncoder (body, z_mean, z_log_var, "
                            f"sampling), got {type(encoder).__name__}")
        super().__init__(encoder, decoder, rng, name)
        self.reconstruction_weight = check_real(reconstruction_weight, "reconstruction_weight",
                                                "VAE", minimum=0)
        self.beta = check_real(beta, "beta", "VAE", minimum=0)
        self.reconstruction_loss = check_choice(reconstruction_loss, "reconstruction_loss",
                                                tuple(RECONSTRUCTION_LOSSES), "VAE")
        self.reseed_sampling()

    def reseed(self, seed):
        super().reseed(seed)
        self.reseed_sampling()

    def reseed_sampling(self):
        # One Generator drives shuffling and eps, so one seed fixes a whole run.
        self.encoder.sampling.rng = self.rng

    def _noise(self, n):
        sampling = self.encoder.sampling               # the draw Sampling.forward makes
        return sampling.rng.standard_normal((n, self.latent_dim)).astype(self.dtype,
                                                                          copy=False)

    def losses(self, x, out, z_mean, z_log_var, reconstruction_loss):
        """(metrics, d_out, d_z_mean, d_z_log_var) for one batch; `out` is what the
        decoder returned inside _scored_decoder (logits or probabilities)."""
        rec, d_rec = reconstruction_loss(x, out)
        kl, d_mu, d_log_var = gaussian_kl(z_mean, z_log_var)
        w, beta = self.reconstruction_weight, self.beta
        metrics = {"total_loss": float(w * rec + beta * kl),
                   "reconstruction_loss": float(w * rec), "kl_loss": float(kl)}
        t = d_rec.dtype.type
        return metrics, d_rec * t(w), d_mu * t(beta), d_log_var * t(beta)

    def _forward_backward(self, x, eps=None):
        """total = recon + beta * kl, for a batch already checked and in the model's dtype."""
        z_mean, z_log_var, z = self.encoder.forward(x, training=True, eps=eps)
        with self._scored_decoder() as loss:
            out = self.decoder.forward(z, training=True)
            metrics, d_out, d_mu, d_log_var = self.losses(x, out, z_mean, z_log_var, loss)
            dz = self.decoder.backward(d_out)
        self.encoder.backward(dz, d_mu, d_log_var)
        return metrics

    def test_step(self, x):
        """The book's test_step: the same losses with z sampled, in inference mode."""
        z_mean, z_log_var, z = self.encoder.forward(x, training=False)
        with self._scored_decoder() as loss:
            out = self.decoder.forward(z, training=False)
        return self.losses(x, out, z_mean, z_log_var, loss)[0]

    def encode(self, x, batch_size=PREDICT_BATCH):
        """(z_mean, z_log_var), each (N, latent_dim), in inference mode."""
        x = training.check_images(x, "x", self.input_shape, "VAE.encode")
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


class Autoencoder(_Model):
    """The chapter's plain autoencoder: z = encoder(x), loss = w * mean pixel BCE."""

    def __init__(self, encoder, decoder, reconstruction_weight=1.0, reconstruction_loss="bce",
                 rng=None, name="autoencoder"):
        super().__init__(encoder, decoder, rng, name)
        self.reconstruction_weight = check_real(reconstruction_weight, "reconstruction_weight",
                                                "Autoencoder", minimum=0)
        self.reconstruction_loss = check_choice(reconstruction_loss, "reconstruction_loss",
                                                tuple(RECONSTRUCTION_LOSSES), "Autoencoder")

    def _loss(self, x, out, reconstruction_loss):
        rec, d_rec = reconstruction_loss(x, out)
        value = float(self.reconstruction_weight * rec)
        return {"total_loss": value, "reconstruction_loss": value}, \
            d_rec * d_rec.dtype.type(self.reconstruction_weight)

    def _forward_backward(self, x, eps=None):
        """The autoencoder has no noise: eps is accepted for a common interface and ignored."""
        z = self.encoder.forward(x, training=True)
        with self._scored_decoder() as loss:
            metrics, d_out = self._loss(x, self.decoder.forward(z, training=True), loss)
            dz = self.decoder.backward(d_out)
        self.encoder.backward(dz)
        return metrics

    def test_step(self, x):
        z = self.encoder.forward(x, training=False)
        with self._scored_decoder() as loss:
            out = self.decoder.forward(z, training=False)
        return self._loss(x, out, loss)[0]

    def encode(self, x, batch_size=PREDICT_BATCH):
        """z (N, latent_dim), in inference mode."""
        x = training.check_images(x, "x", self.input_shape, "Autoencoder.encode")
        return self._batched(lambda b: self.encoder.forward(b, training=False), x, batch_size,
                             "Autoencoder.encode")

    def reconstruct(self, x, batch_size=PREDICT_BATCH):
        return self.decode(self.encode(x, batch_size), batch_size)
