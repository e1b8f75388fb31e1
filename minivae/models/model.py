"""Model: what the chapter's models share (docs/models.md).

A model is an encoder and a decoder with a reconstruction loss: parameters by
name, the book's train_step, Keras's fit and evaluate, batched encoding and
decoding (with the output activation applied where probabilities are wanted),
weights in Keras's order, and a config that rebuilds it. VAE and Autoencoder
(vae.py, autoencoder.py beside this file) add their losses, their
forward_backward and their encode.
"""

import numbers
import warnings
from collections.abc import Mapping

import numpy as np

from .._validation import (check_choice, check_finite, check_float_array, check_float_dtype,
                           check_generator, check_image_shape, check_positive_int, check_real,
                           check_seed)
from ..batching import Batches
from ..errors import InputError, InputTypeError
from ..layers import Flatten, Reshape, Sigmoid, get_activation
from ..losses import binary_crossentropy, binary_crossentropy_from_logits, mean_squared_error
from ..pixels import check_images, to_float
from ..serialization import deserialize, serialize
# fit, evaluate and train_step below are the training loop's functions, not these methods
from ..training import evaluate, fit, train_step
from .sequential import Sequential, assign_names

# Images per forward pass in encode/decode/reconstruct. The im2col buffers grow with
# it: at 1000 images of 32x32 the second convolution's alone holds 295 MB, at 100 30 MB,
# and larger batches are no faster per image once the GEMMs are a few MFLOP each.
PREDICT_BATCH = 100
RECONSTRUCTION_LOSSES = {"bce": binary_crossentropy, "mse": mean_squared_error}


def _output_end(decoder):
    """(container, index) of the decoder's last layer that computes something: the
    walk from the end passes Reshape and Flatten (an elementwise activation gives the
    same values before or after them) and enters nested Sequentials. None when the
    decoder is not a container or holds nothing else."""
    if not isinstance(decoder, Sequential):
        return None
    for i in reversed(range(len(decoder.layers))):
        layer = decoder.layers[i]
        if isinstance(layer, Sequential):
            inner = _output_end(layer)
            if inner is not None:
                return inner
            continue
        if not isinstance(layer, (Reshape, Flatten)):
            return decoder, i
    return None


def _output_activation(decoder, output_activation, reconstruction_loss, owner):
    """The model's output activation: the one given, or the sigmoid the decoder ends in,
    which moves to the model (the decoder then ends in logits).

    The rule (docs/models.md, "The output activation"): a sigmoid at the end of the
    decoder, fused into its last layer (activation="sigmoid") or a Sigmoid layer of
    its own, before or after any Reshape or Flatten, is the model's output activation.
    The move is made once, here: Keras scores BCE on a sigmoid output from the logits
    behind it (no 1e-7 clip, a finite gradient where the sigmoid saturates), and with
    the sigmoid outside the decoder the loss does the same in plain sight, whichever
    way the sigmoid was written. A BCE model whose decoder ends in no sigmoid is warned
    about, naming the layer: its BCE is scored on clipped outputs.
    """
    activation = get_activation(output_activation, owner)
    if activation is not None and not isinstance(activation, Sigmoid):
        raise InputError(f"{owner}: output_activation must be None or 'sigmoid', got "
                         f"{output_activation!r}")
    end = _output_end(decoder)
    head = decoder if end is None and not isinstance(decoder, Sequential) else \
        None if end is None else end[0].layers[end[1]]
    found = None
    if isinstance(head, Sigmoid):
        found = "a Sigmoid layer"
    elif isinstance(getattr(head, "activation", None), Sigmoid):
        found = "a sigmoid"
    if found and activation is not None:
        raise InputError(f"{owner}: the decoder already ends in {found} ({head}); pass "
                         f"output_activation=None or remove that sigmoid")
    if found == "a Sigmoid layer" and end is None:
        raise InputError(f"{owner}: the decoder is a bare {head}, which maps nothing; a decoder "
                         f"maps latent points to images")
    if found == "a Sigmoid layer":
        container, i = end
        container.layers = container.layers[:i] + container.layers[i + 1:]
        activation = head
    elif found:
        head.activation, activation = None, head.activation
    elif activation is None and reconstruction_loss == "bce":
        warnings.warn(f"{owner}: reconstruction_loss='bce' on the decoder's own output, which "
                      f"ends in {head} with no sigmoid: BCE is then scored on outputs "
                      f"clipped to [1e-7, 1 - 1e-7]. End the decoder in a sigmoid "
                      f"(activation='sigmoid' or a Sigmoid layer) or pass "
                      f"output_activation='sigmoid' to score it from logits",
                      OutputActivationWarning, stacklevel=4)
    return activation


class OutputActivationWarning(UserWarning):
    """A model's loss is scored on outputs that no sigmoid bounds (see _output_activation)."""


def _first_layer(encoder):
    """The layer that reads the data, or None: a GaussianEncoder's body comes first."""
    layers = getattr(encoder, "body", None)
    if layers is None:
        layers = getattr(encoder, "layers", [encoder])
    return layers[0] if layers else None


def _check_input_shape(shape, owner):
    """One input's shape without the batch axis: a tuple of positive ints."""
    expected = (f"{owner}: input_shape must be the shape of one input without the batch axis, "
                f"a tuple of positive ints such as (32, 32, 1), got {shape!r}")
    try:
        if isinstance(shape, str):
            raise TypeError
        shape = tuple(shape)
    except TypeError:
        raise InputTypeError(expected) from None
    if not shape or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1
                        for v in shape):
        raise InputError(expected)
    return tuple(int(v) for v in shape)


class Model:
    """What both models share: parameters by name, train_step, fit, evaluate, decoding."""

    def __init__(self, encoder, decoder, reconstruction_weight, reconstruction_loss,
                 output_activation, rng, name, image_shape=None):
        owner = type(self).__name__
        for part, role in ((encoder, "encoder"), (decoder, "decoder")):
            if not all(callable(getattr(part, m, None)) for m in ("build", "forward", "backward")):
                raise InputTypeError(f"{owner}: {role} must be a Layer or a Sequential of "
                                     f"layers, got {type(part).__name__}")
        self.encoder, self.decoder, self.name = encoder, decoder, name
        for part, default in ((encoder, "encoder"), (decoder, "decoder")):
            if isinstance(part, Sequential) and part.name is None:
                part.name = default         # as Keras names a model's parts
        # Layers named automatically are numbered across the model: dense, dense_1, ...
        assign_names(list(getattr(encoder, "layers", [])) + list(getattr(decoder, "layers", [])),
                     owner)
        self.reconstruction_weight = check_real(reconstruction_weight, "reconstruction_weight",
                                                owner, minimum=0)
        self.reconstruction_loss = check_choice(reconstruction_loss, "reconstruction_loss",
                                                tuple(RECONSTRUCTION_LOSSES), owner)
        self.output_activation = _output_activation(decoder, output_activation,
                                                    self.reconstruction_loss, owner)
        self.optimizer = None
        self.config = {}
        self.rng = rng if rng is not None else np.random.default_rng()
        self.image_shape = image_shape

    @property
    def image_shape(self):
        """The shape (H, W, C) of the images the model's inputs are: its input shape
        when it reads images, the one recorded when it reads flat vectors (N, D) of
        images flattened (docs/models.md, "Flat vectors"), else None."""
        if self.built and len(self.input_shape) == 3:
            return tuple(self.input_shape)
        return self._image_shape

    @image_shape.setter
    def image_shape(self, shape):
        self._image_shape = None if shape is None else check_image_shape(
            shape, "image_shape", type(self).__name__)

    def build(self, input_shape, rng=None, dtype="float32"):
        """Build encoder then decoder for inputs of `input_shape` (no batch axis), drawing
        weights from `rng` (default: the model's Generator); raises if any two
        parameters share a name. fit, train_step, evaluate and encode build a model
        that was never built from their first batch's shape, as Keras does."""
        owner = f"{type(self).__name__}.build"
        input_shape = _check_input_shape(input_shape, owner)
        check_float_dtype(dtype, "dtype", owner)
        rng = self.rng if rng is None else check_generator(rng, "rng", owner)
        latent_shape = self.encoder.build(input_shape, rng=rng, dtype=dtype)
        output_shape = self.decoder.build(latent_shape, rng=rng, dtype=dtype)
        if tuple(output_shape) != tuple(input_shape):
            raise InputError(f"{type(self).__name__}: the decoder outputs {output_shape}, "
                             f"not the input shape {tuple(input_shape)}")
        first = _first_layer(self.encoder)
        if first is not None:       # it reads data: no one needs its input gradient
            first.input_gradient = False
        clash = set(self.encoder.params) & set(self.decoder.params)
        if clash:
            raise InputError(f"{type(self).__name__}: encoder and decoder share parameter names "
                             f"{sorted(clash)}; give their layers distinct names")
        return self

    @property
    def built(self):
        return self.encoder.input_shape is not None and self.decoder.input_shape is not None

    def __repr__(self):
        """What a notebook shows for the model (compile returns it, so calls chain)."""
        parts = [f"{self.count_params():,} parameters" if self.built else "not built"]
        if self.built:
            parts.append(f"input {tuple(self.input_shape)}, latent {self.latent_dim}")
        if self.optimizer is not None:
            rate = getattr(self.optimizer, "learning_rate", None)
            parts.append(f"{type(self.optimizer).__name__}"
                         + (f"(learning_rate={rate:g})" if rate is not None else ""))
        return f"<{type(self).__name__} {self.name!r}: {', '.join(parts)}>"

    def build_for(self, x):
        """Build for x's shape (its first axis is the batch) unless built already."""
        if not self.built:
            shape = np.shape(x)
            if len(shape) < 2:
                raise InputError(f"{type(self).__name__}: cannot build from data of shape "
                                 f"{shape}; expected a batch (N, height, width, channels)")
            self.build(shape[1:])
        return self

    @property
    def input_shape(self):
        return self.encoder.input_shape

    @property
    def dtype(self):
        return self.encoder.dtype

    def astype(self, dtype):
        """The model's parameters (and optimizer state) cast to the floating `dtype`."""
        if dtype is None:           # numpy would read None as float64
            raise InputTypeError(f"{type(self).__name__}.astype: dtype must name a floating "
                                 f"type such as 'float32' or 'float64', got None")
        dtype = check_float_dtype(dtype, "dtype", f"{type(self).__name__}.astype")
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

    def get_weights(self):
        """Every array in Keras's order: the encoder's layers then the decoder's, each
        layer's params then its state (what keras.Model.get_weights returns)."""
        return self.encoder.get_weights() + self.decoder.get_weights()

    def set_weights(self, weights):
        """The inverse of get_weights, copied in place (Keras's order and layouts): every
        array is checked first (count, shape, real and finite values), so a refused one
        leaves the whole model as it was."""
        owner = f"{type(self).__name__}.set_weights"
        try:
            weights = list(weights)
        except TypeError:
            raise InputTypeError(f"{owner}: weights must be a list of arrays, got "
                                 f"{type(weights).__name__}") from None
        n = len(self.encoder.get_weights())
        expected = n + len(self.decoder.get_weights())
        if len(weights) != expected:
            raise InputError(f"{owner}: expected {expected} arrays (the encoder's {n}, then "
                             f"the decoder's), got {len(weights)}")
        encoder = self.encoder.check_weights(weights[:n], owner)
        decoder = self.decoder.check_weights(weights[n:], owner)
        self.encoder.set_weights(encoder)
        self.decoder.set_weights(decoder)

    def get_config(self):
        """What rebuilds this model without the code that built it (serialization.py)."""
        return {"name": self.name, "encoder": serialize(self.encoder),
                "decoder": serialize(self.decoder),
                "reconstruction_weight": self.reconstruction_weight,
                "reconstruction_loss": self.reconstruction_loss,
                "output_activation": None if self.output_activation is None else "sigmoid",
                # recorded when given (a model of flat vectors): image models' stay as they were
                **({} if self._image_shape is None else {"image_shape": list(self._image_shape)})}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if not isinstance(config, Mapping):
            raise InputTypeError(f"{cls.__name__}.from_config: config must be a dict, as "
                                 f"get_config returns it, got {type(config).__name__}")
        config = dict(config)
        encoder = deserialize(config.pop("encoder", None), custom_objects)
        decoder = deserialize(config.pop("decoder", None), custom_objects)
        return cls(encoder, decoder, **config)

    def compile(self, optimizer):
        if not hasattr(optimizer, "apply_gradients"):
            raise InputTypeError(f"{type(self).__name__}.compile: optimizer must have "
                                 f"apply_gradients(params, grads), got {type(optimizer).__name__}")
        self.optimizer = optimizer
        return self

    def check_images(self, x, owner, name="x"):
        """x checked against the input shape (the model built from it on first use),
        as it came (uint8 pixels stay uint8)."""
        self.build_for(x)
        return check_images(x, name, self.input_shape, owner)

    def check_batch(self, x, name="x"):
        """A batch checked and in the model's dtype, as forward_backward computes on it."""
        return to_float(self.check_images(x, type(self).__name__, name), self.dtype)

    def reconstruction(self, x, out):
        """R = w * the reconstruction loss of the decoder's output `out`, and dR/dout.

        With a sigmoid output activation `out` holds logits: BCE is then computed from
        them (as Keras does), MSE on sigmoid(out) with the sigmoid's backward applied.
        """
        act = self.output_activation
        if act is None:
            value, d_out = RECONSTRUCTION_LOSSES[self.reconstruction_loss](x, out)
        elif self.reconstruction_loss == "bce":
            value, d_out = binary_crossentropy_from_logits(x, out)
        else:
            value, d_prob = mean_squared_error(x, act._forward(out))
            d_out = act._backward(d_prob)
        w = self.reconstruction_weight
        return w * value, d_out * d_out.dtype.type(w)

    def forward_backward(self, x, eps=None):
        """Losses of the batch and every layer's grads filled; no parameter changes.

        For the VAE, eps (N, latent_dim) fixes the Sampling noise (a deterministic
        function for gradient checks); by default it comes from the model's Generator.
        Returns the metrics: {"total_loss", "reconstruction_loss"[, "kl_loss"]}.
        Each model writes its own (vae.py, autoencoder.py).
        """
        raise NotImplementedError(f"{type(self).__name__} must define forward_backward")

    def draw_eps(self, n):
        """The noise forward_backward would draw for a batch of n (None: no noise)."""
        return None

    def train_step(self, x):
        """One optimizer step on the batch x; returns the batch's metrics.

        As the book's train_step: the losses and their gradients, then the optimizer.
        A non-finite loss or gradient raises TrainingDiverged before the update, with
        the parameters, the optimizer and any BatchNormalization statistics as they
        were before this batch. The batch stays whole here; fit's steps split it
        (minivae.training.train_step with a DataParallel, fit's data_parallel).
        """
        return train_step(self, x)

    def fit(self, x, epochs=1, batch_size=100, validation_data=None, shuffle=True, seed=None,
            initial_epoch=0, verbose=1, callbacks=(), history=None, data_parallel=True):
        """Keras's fit: returns a History of per-epoch metric means (and val_ ones).

        seed, when given, restarts the model's Generator (shuffling and eps).
        data_parallel (default True) splits each batch into one part per core, run
        on model replicas on threads (minivae.fast.DataParallel), with every BLAS in
        the process held to one thread during each step and restored after it;
        a model with BatchNormalization or Dropout trains on the whole batch.
        data_parallel=False trains on the whole batch and leaves BLAS alone.
        """
        if seed is not None:
            self.reseed(check_seed(seed, "seed", f"{type(self).__name__}.fit"))
        return fit(self, x, epochs=epochs, batch_size=batch_size, validation_data=validation_data,
                   shuffle=shuffle, initial_epoch=initial_epoch, verbose=verbose,
                   callbacks=callbacks, history=history, data_parallel=data_parallel)

    def evaluate(self, x, batch_size=100):
        """Mean metrics over x, as the book's test_step computes them: images in memory,
        a Sequence of batches or an iterable of batches (minivae/batching.py)."""
        owner = f"{type(self).__name__}.evaluate"
        data = Batches(x, check_positive_int(batch_size, "batch_size", owner), owner)
        data.check_whole(lambda images: self.check_images(images, owner))
        return evaluate(self, data,
                        check=lambda batch, where: self.check_images(batch, owner, where))

    def reseed(self, seed):
        """Restart the model's Generator from `seed` (None or an integer >= 0)."""
        seed = check_seed(seed, "seed", f"{type(self).__name__}.reseed")
        self.rng = np.random.default_rng(seed)

    def batched(self, fn, x, batch_size, owner):
        """fn on x in batches of batch_size, each in the model's dtype, the results joined:
        the one batched pass under encode, decode and what runs on them."""
        batch_size = check_positive_int(batch_size, "batch_size", owner)
        outs = [fn(to_float(x[i:i + batch_size], self.dtype))
                for i in range(0, len(x), batch_size)]
        if isinstance(outs[0], tuple):
            return tuple(np.concatenate(parts) for parts in zip(*outs))
        return np.concatenate(outs)

    def as_images(self, x):
        """The model's inputs or outputs x (N, *input_shape) as images (N, H, W, C): a
        view of flat vectors in the recorded image_shape, image models' as they are."""
        shape = self.image_shape
        if shape is None:
            raise InputError(f"{type(self).__name__}: reads flat vectors {tuple(self.input_shape)} "
                             f"and records no image shape to show them in; give it as "
                             f"image_shape=(H, W, C) (--image-shape HxWxC)")
        return np.reshape(x, (len(x), *shape))

    def decode(self, z, batch_size=PREDICT_BATCH, logits=False):
        """Images x' (N, H, W, C) for latent points z (N, latent_dim).

        logits=True returns the decoder's own output, the logits behind the model's
        output sigmoid (a model without one refuses).
        """
        return self._decode(z, batch_size, logits, f"{type(self).__name__}.decode")

    def _decode(self, z, batch_size, logits, owner):
        """decode, its refusals in the name of `owner`, the method the user called."""
        if not self.built:
            raise InputError(f"{owner}: the model is not built, so its latent size is not "
                             f"known; build it (model.build(input_shape)) or fit it first")
        z = check_float_array(z, "z", owner, ndim=2)
        if len(z) == 0:
            raise InputError(f"{owner}: z holds no point, shape {z.shape}")
        if z.shape[1:] != self.decoder.input_shape:
            raise InputError(f"{owner}: z must have shape (N, {self.decoder.input_shape[0]}), "
                             f"got {z.shape}")
        check_finite(z, "z", owner)
        act = self.output_activation
        if logits and act is None:
            raise InputError(f"{owner}: logits=True needs a model whose decoder ends in logits "
                             f"(output_activation='sigmoid'); this one outputs images directly")

        def run(b):
            out = self.decoder.forward(b, training=False)
            return out if logits or act is None else act._forward(out)
        return self.batched(run, z, batch_size, owner)

    @property
    def latent_dim(self):
        return self.decoder.input_shape[0]
