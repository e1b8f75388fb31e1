"""PyTorch -> minivae: the modules minivae has, refusing the rest by name (docs/torch_port.md)."""

import numpy as np

from ..errors import InputError, InputTypeError
from ..models import VAE, Autoencoder, GaussianEncoder, Sequential
from .layouts import flat_orders, model_orders, shape_from_torch, shape_to_torch
from ._torch import _import_torch
from .classes import torch_classes
from .translate import Translator

OWNER = "from_torch"


def _unique(layers, taken):
    """Automatic names where a name came before (torch keys repeat across parts)."""
    for layer in layers:
        if layer.name in taken:
            layer.name = None
        elif layer.name is not None:
            taken.add(layer.name)


def _dtype(torch, modules, dtype):
    if dtype is not None:
        return np.dtype(dtype)
    for module in modules:
        for parameter in module.parameters():
            return np.dtype({torch.float64: "float64"}.get(parameter.dtype, "float32"))
    return np.dtype("float32")


def _check_modules(torch, owner, **modules):
    for role, module in modules.items():
        if not isinstance(module, torch.nn.Module):
            raise InputTypeError(f"{owner}: {role} must be a torch.nn.Module, got "
                                 f"{type(module).__name__}")


def _check_shape(input_shape, owner):
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise InputTypeError(f"{owner}: input_shape must be one sample's shape as PyTorch "
                             f"reads it, (C, H, W) or (D,), got {input_shape!r}") from None
    if len(shape) not in (1, 3) or min(shape) < 1:
        raise InputError(f"{owner}: input_shape must be one sample's shape as PyTorch reads "
                         f"it, (C, H, W) or (D,), got {input_shape!r}")
    return shape_from_torch(shape)


def from_torch(module, input_shape=None, dtype=None, seed=None):
    """The minivae model or layers with the same weights as PyTorch modules.

    module: what to_torch returned (a VAE or Autoencoder, whose input shape and loss
        settings it holds), or an nn.Sequential / one supported module, which becomes
        a minivae Sequential built for `input_shape`.
    input_shape: one sample's shape as PyTorch reads it, (C, H, W) or (D,); minivae
        builds for (H, W, C).
    dtype: the minivae weights' dtype (default: the torch weights' own).
    seed: seeds the minivae model's Generator (Sampling noise and shuffling).
    An activation module right after a Linear or a convolution becomes that layer's
    activation=, as minivae's own models write it.
    """
    torch = _import_torch(OWNER)
    _check_modules(torch, OWNER, module=module)
    classes = torch_classes()
    if isinstance(module, classes["VAE"]):
        enc = module.encoder
        return vae_from_torch(enc.body, enc.z_mean, enc.z_log_var, module.decoder,
                              module.input_shape,
                              reconstruction_weight=module.reconstruction_weight,
                              beta=module.beta, reconstruction_loss=module.reconstruction_loss,
                              dtype=dtype, seed=seed)
    if isinstance(module, classes["Autoencoder"]):
        return autoencoder_from_torch(module.encoder, module.decoder, module.input_shape,
                                      reconstruction_weight=module.reconstruction_weight,
                                      reconstruction_loss=module.reconstruction_loss,
                                      dtype=dtype, seed=seed)
    if input_shape is None:
        raise InputError(f"{OWNER}: give input_shape, one sample's shape as PyTorch reads it "
                         f"((C, H, W) or (D,)), for a {type(module).__name__}")
    shape = _check_shape(input_shape, OWNER)
    translator = Translator(torch, _dtype(torch, [module], dtype))
    layers, _ = translator.chain(module, shape)
    ours = Sequential(layers)
    ours.build(shape, rng=np.random.default_rng(seed), dtype=translator.dtype)
    translator.copy(flat_orders(ours.layers, shape, OWNER, output_fixed=False))
    return ours


def vae_from_torch(body, z_mean, z_log_var, decoder, input_shape, *,
                   reconstruction_weight=500.0, beta=1.0, reconstruction_loss="bce",
                   dtype=None, seed=None, name="vae"):
    """A minivae VAE from a PyTorch encoder body, its two Linear heads and a decoder.

    body: the modules from x to the features both heads read (an nn.Sequential, or
        one module); z_mean, z_log_var: nn.Linear heads (pytorch/examples: fc21, fc22);
    decoder: the modules from z to the images (a final nn.Sigmoid becomes the model's
        output activation, and the BCE is then computed from the logits).
    input_shape: one sample as PyTorch reads it, (C, H, W) or (D,).
    reconstruction_weight, beta, reconstruction_loss: minivae's loss, per sample
        R = w * the mean over pixels, averaged over the batch (a sum over 784 pixels:
        w = 784; docs/torch_port.md).
    """
    owner = "vae_from_torch"
    torch = _import_torch(owner)
    _check_modules(torch, owner, body=body, z_mean=z_mean, z_log_var=z_log_var,
                   decoder=decoder)
    for key, head in (("z_mean", z_mean), ("z_log_var", z_log_var)):
        if type(head) is not torch.nn.Linear:
            raise InputError(f"{owner}: the head {key} must be an nn.Linear, got "
                             f"{type(head).__name__}")
    if z_mean.out_features != z_log_var.out_features:
        raise InputError(f"{owner}: the heads give {z_mean.out_features} and "
                         f"{z_log_var.out_features} features; z_mean and z_log_var must agree")
    shape = _check_shape(input_shape, owner)
    translator = Translator(torch, _dtype(torch, [body, z_mean, decoder], dtype))
    body_layers, h_shape = translator.chain(body, shape)
    heads = [translator.simple(key, head, h_shape)
             for key, head in (("z_mean", z_mean), ("z_log_var", z_log_var))]
    decoder_layers, _ = translator.chain(decoder, (z_mean.out_features,))
    taken = {"z_mean", "z_log_var", "sampling"}
    _unique(body_layers, taken), _unique(decoder_layers, taken)
    rng = np.random.default_rng(seed)
    encoder = GaussianEncoder(body_layers, z_mean.out_features, name="encoder",
                              kernel_initializer=heads[0].kernel_initializer,
                              bias_initializer=heads[0].bias_initializer)
    model = VAE(encoder, Sequential(decoder_layers, name="decoder"),
                reconstruction_weight=reconstruction_weight, beta=beta,
                reconstruction_loss=reconstruction_loss, rng=rng, name=name)
    model.build(shape, rng=rng, dtype=translator.dtype)
    for ours, theirs in zip((encoder.z_mean, encoder.z_log_var), heads):
        translator.sources[id(ours)] = (ours, translator.sources.pop(id(theirs))[1])
    translator.copy(model_orders(model, OWNER))
    return model


def autoencoder_from_torch(encoder, decoder, input_shape, *, reconstruction_weight=1.0,
                           reconstruction_loss="bce", dtype=None, seed=None, name="autoencoder"):
    """A minivae Autoencoder from a PyTorch encoder (x -> z) and decoder (z -> images)."""
    owner = "autoencoder_from_torch"
    torch = _import_torch(owner)
    _check_modules(torch, owner, encoder=encoder, decoder=decoder)
    shape = _check_shape(input_shape, owner)
    translator = Translator(torch, _dtype(torch, [encoder, decoder], dtype))
    encoder_layers, z_shape = translator.chain(encoder, shape)
    if len(z_shape) != 1:
        raise InputError(f"{owner}: the encoder outputs {shape_to_torch(z_shape)}; "
                         f"an autoencoder's code must be flat (latent_dim,)")
    decoder_layers, _ = translator.chain(decoder, z_shape)
    taken = set()
    _unique(encoder_layers, taken), _unique(decoder_layers, taken)
    rng = np.random.default_rng(seed)
    model = Autoencoder(Sequential(encoder_layers, name="encoder"),
                        Sequential(decoder_layers, name="decoder"),
                        reconstruction_weight=reconstruction_weight,
                        reconstruction_loss=reconstruction_loss, rng=rng,
                        name=name)
    model.build(shape, rng=rng, dtype=translator.dtype)
    translator.copy(model_orders(model, OWNER))
    return model
