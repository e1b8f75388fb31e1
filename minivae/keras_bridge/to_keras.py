"""minivae -> Keras: each layer's twin, with the same weights (docs/own_model.md)."""

from ..errors import InputError, InputTypeError
from ..im2col import conv_output_length, conv_transpose_output_length, padding_amounts
from ..layers import (BatchNormalization, Conv2D, Conv2DTranspose, Dense, Dropout, Flatten,
                      LeakyReLU, ReLU, Reshape, Sequential, Sigmoid)
from ..layers.activations import activation_name
from ..layers.initializers import TorchDefault, serialize
from ..models import VAE, Autoencoder
from ._keras import OUTPUT_SIGMOID, _import_keras
from .classes import keras_classes


def _keras_activation(activation, keras):
    """What Keras's activation= takes for a fused minivae activation."""
    name = activation_name(activation)
    if isinstance(name, dict):      # a LeakyReLU whose slope the name "leaky_relu" would lose
        return keras.layers.LeakyReLU(negative_slope=activation.negative_slope)
    return name


def _keras_padding(layer):
    """Keras's padding= (and output_padding=) for a built convolution.

    A string padding is Keras's own. PyTorch's symmetric padding has no Keras
    spelling, but on the input the layer was built for it may compute exactly what
    'valid' or 'same' (with some output_padding) computes: the same output size and
    the same rows cropped or padded at the top and left along each axis. That
    setting is taken; anything else is refused.
    """
    transpose = type(layer) is Conv2DTranspose
    if isinstance(layer.padding, str):
        return {"padding": layer.padding, **({"output_padding": layer.output_padding}
                                             if transpose else {})}
    (height, width, _), (kh, kw), (sh, sw) = layer.input_shape, layer.kernel_size, layer.strides

    def geometry(padding, op):
        """(output size, (top, left)) of Keras's layer with these settings, or None."""
        if not transpose:
            out = (conv_output_length(height, kh, sh, padding),
                   conv_output_length(width, kw, sw, padding))
            return out, padding_amounts(height, width, kh, kw, sh, sw, padding)
        op_h, op_w = op or (None, None)
        out = (conv_transpose_output_length(height, kh, sh, padding, op_h),
               conv_transpose_output_length(width, kw, sw, padding, op_w))
        back = (conv_output_length(out[0], kh, sh, padding),
                conv_output_length(out[1], kw, sw, padding))
        if min(out) < 1 or back != (height, width):
            return None                                 # Keras would refuse to build it
        return out, padding_amounts(*out, kh, kw, sh, sw, padding)

    ours = (layer.output_shape[:2], layer.pads)
    ops = [None] + [(a, b) for a in range(sh) for b in range(sw)] if transpose else [None]
    for padding in ("valid", "same"):
        for op in ops:
            theirs = geometry(padding, op)
            # the function is fixed by the output size and the top/left pads (a bottom
            # or right pad differs only by rows no window reads)
            if theirs and theirs[0] == ours[0] and [p[0] for p in theirs[1]] == \
                    [p[0] for p in ours[1]]:
                return {"padding": padding, **({"output_padding": op} if transpose else {})}
    extra = f" and output_padding {layer.output_padding}" if transpose else ""
    raise InputError(f"to_keras: layer {layer.name!r} ({type(layer).__name__}) has padding "
                     f"{layer.padding}{extra} (PyTorch's, symmetric), which no Keras padding "
                     f"equals on its {height}x{width} input; Keras pads 'same' at the bottom "
                     f"and right first")


def _keras_initializers(layer):
    """kernel_initializer= and bias_initializer= for Keras: Keras's own as serialised, and
    torch_default as the Keras initialisers that draw the same: VarianceScaling(1/3,
    fan_in, uniform) for the kernel (Keras's fan_in is the layer's), and for the bias,
    whose fans Keras would read off its own shape, RandomUniform(-B, B) with B fixed."""
    bound = 1.0 / float(layer.fans().fan_in) ** 0.5
    exact = {"kernel_initializer": {"class_name": "VarianceScaling", "config": {
                 "scale": 1.0 / 3.0, "mode": "fan_in", "distribution": "uniform"}},
             "bias_initializer": {"class_name": "RandomUniform",
                                  "config": {"minval": -bound, "maxval": bound}}}
    return {key: exact[key] if isinstance(init, TorchDefault) else serialize(init)
            for key, init in (("kernel_initializer", layer.kernel_initializer),
                              ("bias_initializer", layer.bias_initializer))}


def _keras_twin(layer, keras, dtype, pairs, sigmoid_into):
    """The Keras layer equal to a minivae layer, unbuilt; (layer, twin) joins `pairs`
    when the layer holds weights. `sigmoid_into`: the layer that takes the model's
    output sigmoid as its fused activation."""
    L, kind, kw = keras.layers, type(layer), {"name": layer.name, "dtype": dtype}
    if kind is Sequential:
        return keras.Sequential([_keras_twin(child, keras, dtype, pairs, sigmoid_into)
                                 for child in layer.layers], name=layer.name)
    if kind in (Dense, Conv2D, Conv2DTranspose):
        act = "sigmoid" if layer is sigmoid_into else _keras_activation(layer.activation, keras)
        kw.update(_keras_initializers(layer))
        if kind is Dense:
            twin = L.Dense(layer.units, activation=act, **kw)
        else:
            twin = getattr(L, kind.__name__)(layer.filters, layer.kernel_size,
                                             strides=layer.strides, activation=act,
                                             **_keras_padding(layer), **kw)
    elif kind is BatchNormalization:
        twin = L.BatchNormalization(momentum=layer.momentum, epsilon=layer.epsilon, **kw)
    elif kind is ReLU:
        twin = L.ReLU(**kw)
    elif kind is LeakyReLU:
        twin = L.LeakyReLU(negative_slope=layer.negative_slope, **kw)
    elif kind is Sigmoid:
        twin = L.Activation("sigmoid", **kw)
    elif kind is Flatten:
        twin = L.Flatten(**kw)
    elif kind is Reshape:
        twin = L.Reshape(tuple(layer.target_shape), **kw)
    elif kind is Dropout:
        twin = L.Dropout(layer.rate, **kw)
    else:
        raise InputTypeError(f"to_keras: layer {layer.name!r} ({kind.__name__}) has no Keras twin "
                             f"here; the bridge translates Dense, Conv2D, Conv2DTranspose, ReLU, "
                             f"LeakyReLU, Sigmoid, Flatten, Reshape, Dropout, BatchNormalization "
                             f"and Sequential")
    if layer.params or layer.state:
        pairs.append((layer, twin))
    return twin


def _last_leaf(layers):
    """The last layer of a list, looking inside a trailing Sequential."""
    last = layers[-1]
    return _last_leaf(last.layers) if type(last) is Sequential and last.layers else last


def _layers_of(part):
    return list(part.layers) if isinstance(part, Sequential) else [part]


def to_keras(model, seed=None):
    """The Keras twin of a built minivae VAE or Autoencoder, with copies of its weights.

    Returns a keras.Model of the class keras_classes()["VAE"] (or "Autoencoder")
    with .encoder, .decoder, .reconstruction_weight, .reconstruction_loss (and
    .beta): model.compile(keras.optimizers.Adam(...)) then model.fit(x) trains on
    in Keras, where x is float images in [0, 1]. The encoder and decoder are
    functional keras.Models with minivae's layer names; each layer computes in the
    model's dtype. seed: the Keras Sampling layer's seed (None: random).
    """
    keras = _import_keras("to_keras")
    classes = keras_classes()
    if not isinstance(model, (VAE, Autoencoder)):
        raise InputTypeError(f"to_keras: model must be a minivae VAE or Autoencoder, "
                             f"got {type(model).__name__}")
    if not model.built:
        raise InputError("to_keras: the model was never built, so it has no weights to "
                         "copy; call model.build(input_shape) or train it first")
    dtype, pairs = str(model.dtype), []
    decoder_layers = _layers_of(model.decoder)
    sigmoid_into = None
    if model.output_activation is not None:
        leaf = _last_leaf(decoder_layers)
        if type(leaf) in (Dense, Conv2D, Conv2DTranspose) and leaf.activation is None:
            sigmoid_into = leaf

    def chain(layers, x):
        for layer in layers:
            x = _keras_twin(layer, keras, dtype, pairs, sigmoid_into)(x)
        return x

    x_in = keras.Input(shape=model.input_shape, dtype=dtype, name="encoder_input")
    if isinstance(model, VAE):
        enc = model.encoder
        h = chain(enc.body, x_in)
        z_mean, z_log_var = chain([enc.z_mean], h), chain([enc.z_log_var], h)
        z = classes["Sampling"](seed=seed, name=enc.sampling.name,
                                dtype=dtype)([z_mean, z_log_var])
        encoder = keras.Model(x_in, [z_mean, z_log_var, z], name=enc.name or "encoder")
    else:
        encoder = keras.Model(x_in, chain(_layers_of(model.encoder), x_in),
                              name=model.encoder.name or "encoder")
    z_in = keras.Input(shape=model.decoder.input_shape, dtype=dtype, name="decoder_input")
    images = chain(decoder_layers, z_in)
    if model.output_activation is not None and sigmoid_into is None:
        images = keras.layers.Activation("sigmoid", name=OUTPUT_SIGMOID, dtype=dtype)(images)
    decoder = keras.Model(z_in, images, name=model.decoder.name or "decoder")

    for ours, theirs in pairs:
        theirs.set_weights(ours.get_weights())
    settings = {"reconstruction_weight": model.reconstruction_weight,
                "reconstruction_loss": model.reconstruction_loss, "name": model.name}
    if isinstance(model, VAE):
        return classes["VAE"](encoder, decoder, beta=model.beta, **settings)
    return classes["Autoencoder"](encoder, decoder, **settings)
