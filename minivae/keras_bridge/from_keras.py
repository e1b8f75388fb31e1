"""Keras -> minivae: the layers minivae has, refusing the rest by name (docs/own_model.md)."""

import functools

import numpy as np

from ..errors import InputError, InputTypeError
from ..layers import (BatchNormalization, Conv2D, Conv2DTranspose, Dense, Dropout, Flatten,
                      LeakyReLU, ReLU, Reshape)
from ..layers.activations import get_activation
from ..layers.initializers import get_initializer
from ..models import VAE, Autoencoder, GaussianEncoder, Sequential
from ._keras import FUSED, _import_keras


def _label(layer):
    return f"layer {layer.name!r} ({type(layer).__name__})"


def _refuse(layer, why):
    raise InputError(f"from_keras: {_label(layer)} {why}")


def _producer(tensor):
    """(layer, its input tensors) for a symbolic tensor of a functional Keras model.

    Keras records on each tensor the call that made it (_keras_history) and on each
    layer its calls (_inbound_nodes); Keras's own graph walks read the same two.
    """
    layer, node_index, _ = tensor._keras_history
    return layer, list(layer._inbound_nodes[node_index].input_tensors)


def _chain(model, keras, end=None):
    """The layers of a Keras model from its input to `end` (default: its one output),
    in order. minivae's parts are chains, so each layer must take one tensor."""
    if isinstance(model, keras.Sequential):
        return list(model.layers)
    if len(model.inputs) != 1 or (end is None and len(model.outputs) != 1):
        raise InputError(f"from_keras: the Keras model {model.name!r} has "
                         f"{len(model.inputs)} inputs and {len(model.outputs)} outputs; "
                         f"minivae's parts are chains of layers, one input, one output")
    chain, tensor = [], model.outputs[0] if end is None else end
    while True:
        layer, inputs = _producer(tensor)
        if isinstance(layer, keras.layers.InputLayer):
            return chain[::-1]
        if len(inputs) != 1:
            _refuse(layer, f"takes {len(inputs)} inputs; minivae's parts are chains of "
                           f"layers, each taking the previous one's output")
        chain.append(layer)
        tensor = inputs[0]


def _fused(layer, config):
    """A Keras layer's activation= setting as minivae's get_activation takes it."""
    act = config.get("activation")
    if act in (None, "linear") or act in FUSED:
        return act
    if isinstance(act, dict) and act.get("class_name") == "LeakyReLU":
        return {"class_name": "LeakyReLU", "negative_slope": act["config"]["negative_slope"]}
    _refuse(layer, f"has activation {act!r}; minivae's layers fuse only {', '.join(FUSED)}")


def _require(layer, config, **expected):
    """Settings minivae's layers do not have must hold Keras's plain values."""
    for key, value in config.items():
        if key.endswith(("_regularizer", "_constraint")) and value is not None:
            _refuse(layer, f"has {key} set; minivae has no regularizers or constraints "
                           f"(remove it, or train with it in Keras)")
    for key, want in expected.items():
        have = config.get(key, want)
        if (tuple(have) if isinstance(have, list) else have) != want:
            _refuse(layer, f"has {key}={have!r}; minivae supports only {key}={want!r}")


def _initializers(layer, config):
    """kernel_initializer= and bias_initializer= as minivae's, refusing one it lacks."""
    found = {}
    for key in ("kernel_initializer", "bias_initializer"):
        if config.get(key) is not None:
            try:
                found[key] = get_initializer(config[key], key)
            except (InputError, InputTypeError) as exc:
                _refuse(layer, f"has an initializer minivae lacks ({exc})")
    return found


def _conv(layer, config, cls):
    checks = {"data_format": "channels_last", "dilation_rate": (1, 1), "use_bias": True}
    extra = {}
    if cls is Conv2D:
        checks["groups"] = 1
    elif config.get("output_padding") is not None:          # Keras's meaning is minivae's
        extra["output_padding"] = tuple(config["output_padding"])
    _require(layer, config, **checks)
    return cls(config["filters"], tuple(config["kernel_size"]), strides=tuple(config["strides"]),
               padding=config["padding"], activation=_fused(layer, config), name=layer.name,
               **extra, **_initializers(layer, config))


def _minivae_layer(layer, keras, pairs):
    """The minivae layer equal to a Keras layer (None for one that computes nothing);
    (ours, layer) joins `pairs` when it holds weights."""
    L, name, config = keras.layers, layer.name, layer.get_config()
    if isinstance(layer, keras.Model):                      # a nested Sequential or Model
        children = [_minivae_layer(child, keras, pairs) for child in _chain(layer, keras)]
        ours = Sequential([c for c in children if c is not None], name=name)
        return ours
    kind = type(layer)      # exact types: a subclass may compute something else
    if kind is L.Dense:
        _require(layer, config, use_bias=True)
        ours = Dense(config["units"], activation=_fused(layer, config), name=name,
                     **_initializers(layer, config))
    elif kind in (L.Conv2D, L.Conv2DTranspose):
        ours = _conv(layer, config, Conv2D if kind is L.Conv2D else Conv2DTranspose)
    elif kind is L.BatchNormalization:
        _require(layer, config, center=True, scale=True, renorm=False)
        if layer.axis not in (-1, layer.input_spec.ndim - 1):
            _refuse(layer, f"normalizes axis {layer.axis}; minivae's normalizes the last")
        ours = BatchNormalization(momentum=config["momentum"], epsilon=config["epsilon"],
                                  name=name)
    elif kind is L.ReLU:
        _require(layer, config, max_value=None, threshold=0.0)
        slope = config["negative_slope"]
        ours = LeakyReLU(slope, name=name) if slope else ReLU(name=name)
    elif kind is L.LeakyReLU:
        ours = LeakyReLU(config["negative_slope"], name=name)
    elif kind is L.Activation:
        act = _fused(layer, config)
        if act in (None, "linear"):
            return None
        ours = get_activation(act, "from_keras")
        ours.name = name
    elif kind is L.Flatten:
        _require(layer, config, data_format="channels_last")
        ours = Flatten(name=name)
    elif kind is L.Reshape:
        ours = Reshape(tuple(config["target_shape"]), name=name)
    elif kind is L.Dropout:
        _require(layer, config, noise_shape=None)
        ours = Dropout(config["rate"], name=name)
    else:
        _refuse(layer, "has no minivae twin; the bridge translates Dense, Conv2D, "
                       "Conv2DTranspose, ReLU, LeakyReLU, Activation (relu, leaky_relu, "
                       "sigmoid), Flatten, Reshape, Dropout, BatchNormalization, Sampling "
                       "(the encoder's last) and nested Sequential or Model")
    if layer.weights:
        pairs.append((ours, layer))
    return ours


def _heads(encoder, keras):
    """(z_mean layer, z_log_var layer, the tensor both read) of a VAE's Keras encoder."""
    outputs = encoder.outputs
    heads = [_producer(t) for t in outputs[:2]]
    for (layer, _), role in zip(heads, ("z_mean", "z_log_var")):
        if type(layer) is not keras.layers.Dense or _fused(layer, layer.get_config()) \
                not in (None, "linear"):
            _refuse(layer, f"makes the encoder's {role} output; minivae's heads are Dense "
                           f"layers without an activation")
    (mean, (h,)), (log_var, (h2,)) = heads
    if h is not h2:
        raise InputError(f"from_keras: the encoder's heads {mean.name!r} and {log_var.name!r} "
                         f"read different tensors; minivae's read the same one")
    if len(outputs) == 3:
        sampling, inputs = _producer(outputs[2])
        if type(sampling).__name__ != "Sampling" or sampling.weights \
                or len(inputs) != 2 or inputs[0] is not outputs[0] \
                or inputs[1] is not outputs[1]:
            _refuse(sampling, "makes the encoder's third output; minivae expects a weightless "
                              "Sampling layer taking [z_mean, z_log_var]")
    return mean, log_var, h


def from_keras(model, decoder=None, *, reconstruction_weight=None, reconstruction_loss=None,
               beta=None, dtype=None, seed=None, name=None):
    """The minivae model with the same layers and weights as Keras code.

    model: what to_keras returned (or any Keras model with .encoder and .decoder,
        as the book's VAE class), or else a Keras encoder with `decoder` beside it.
        An encoder with outputs [z_mean, z_log_var] or [z_mean, z_log_var, z]
        (z from a layer named Sampling) makes a VAE; one with a single output an
        Autoencoder.
    reconstruction_weight, reconstruction_loss, beta: the loss settings; by default
        those the Keras model holds, else minivae's defaults (VAE: 500, "bce", 1).
    dtype: the minivae model's dtype (default: the Keras weights' own).
    seed: seeds the minivae model's Generator (Sampling noise and shuffling).
    Returns a built minivae VAE or Autoencoder.
    """
    keras = _import_keras("from_keras")
    if decoder is None:
        if not (hasattr(model, "encoder") and hasattr(model, "decoder")):
            raise InputTypeError(f"from_keras: give the model to_keras returned (with .encoder and "
                                 f".decoder), or an encoder and a decoder; got "
                                 f"{type(model).__name__} alone")
        encoder, decoder = model.encoder, model.decoder
        found = {key: getattr(model, key, None)
                 for key in ("reconstruction_weight", "reconstruction_loss", "beta")}
        name = name or model.name
    else:
        encoder, found = model, {}
    for part, role in ((encoder, "encoder"), (decoder, "decoder")):
        if not isinstance(part, keras.Model):
            raise InputTypeError(f"from_keras: the {role} must be a keras.Model, "
                                 f"got {type(part).__name__}")
    given = {"reconstruction_weight": reconstruction_weight,
             "reconstruction_loss": reconstruction_loss, "beta": beta}
    settings = {k: v if v is not None else found.get(k) for k, v in given.items()}
    settings = {k: v for k, v in settings.items() if v is not None}

    pairs = []
    translate = functools.partial(_minivae_layer, keras=keras, pairs=pairs)
    variational = len(encoder.outputs) in (2, 3)
    if variational:
        mean, log_var, h = _heads(encoder, keras)
        body = [translate(layer) for layer in _chain(encoder, keras, end=h)]
    elif len(encoder.outputs) == 1:
        if beta is not None:
            raise InputTypeError("from_keras: beta weights a VAE's KL term, but this encoder has "
                                 "one output (an Autoencoder's)")
        body = [translate(layer) for layer in _chain(encoder, keras)]
        settings.pop("beta", None)
    else:
        raise InputError(f"from_keras: the encoder has {len(encoder.outputs)} outputs; "
                         f"expected [z_mean, z_log_var], [z_mean, z_log_var, z] or [z]")
    decoder_layers = [translate(layer) for layer in _chain(decoder, keras)]
    body, decoder_layers = ([x for x in xs if x is not None] for xs in (body, decoder_layers))

    input_shape = tuple(encoder.inputs[0].shape[1:])
    if any(s is None for s in input_shape):
        raise InputError(f"from_keras: the encoder's input shape {input_shape} is not fixed; "
                         f"minivae builds for one image shape")
    dtype = dtype or (encoder.weights[0].dtype if encoder.weights else "float32")
    rng = np.random.default_rng(seed)
    decoder_part = Sequential(decoder_layers, name=decoder.name)
    if variational:
        ours = GaussianEncoder(body, mean.units, name=encoder.name)
        pairs += [(ours.z_mean, mean), (ours.z_log_var, log_var)]
        result = VAE(ours, decoder_part, rng=rng, name=name or "vae", **settings)
    else:
        result = Autoencoder(Sequential(body, name=encoder.name), decoder_part, rng=rng,
                             name=name or "autoencoder", **settings)
    result.build(input_shape, rng=rng, dtype=dtype)
    for ours, theirs in pairs:
        ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    return result
