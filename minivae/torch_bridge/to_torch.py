"""minivae -> PyTorch: each layer's torch.nn twin, with the same weights in PyTorch's
layouts (minivae/torch_bridge/layouts.py)."""

import collections

import numpy as np

from ..errors import InputError, InputTypeError
from ..layers import (BatchNormalization, Conv2D, Conv2DTranspose, Dense, Dropout, Flatten, Layer,
                      LeakyReLU, ReLU, Reshape, Sigmoid)
from ..layers.initializers import serialize
from ..models.sequential import snake_case
from ..models import VAE, Autoencoder, GaussianEncoder, Sequential
from .layouts import (dense_to_torch, flat_orders, images_to_torch, kernel_to_torch, model_orders,
                      shape_to_torch, vector_to_torch)
from .padding import conv_geometry, transpose_geometry
from ._torch import ACTIVATION, CROP, OUTPUT_SIGMOID, PAD, _import_torch
from .classes import torch_classes

OWNER = "to_torch"


def _activation(activation, nn):
    """The torch module of a minivae activation layer (fused or standalone)."""
    if type(activation) is ReLU:
        return nn.ReLU()
    if type(activation) is LeakyReLU:
        return nn.LeakyReLU(negative_slope=activation.negative_slope)
    return nn.Sigmoid()


class _Twins:
    """Makes the torch modules of minivae layers, weights copied, in one dtype."""

    def __init__(self, torch, dtype, orders):
        self.torch, self.nn, self.orders = torch, torch.nn, orders
        self.dtype = {np.dtype("float32"): torch.float32,
                      np.dtype("float64"): torch.float64}.get(np.dtype(dtype))
        if self.dtype is None:
            raise InputError(f"{OWNER}: the model computes in {dtype}; the bridge moves "
                             f"float32 and float64 models")

    def set(self, parameter, value):
        with self.torch.no_grad():
            parameter.copy_(self.torch.from_numpy(np.ascontiguousarray(value)))

    def modules(self, layer):
        """[(key, module)]: the layer's twin, with its padding, crop and fused activation."""
        nn, kind, kw = self.nn, type(layer), {"dtype": self.dtype}
        name = layer.name or snake_case(kind.__name__)      # a lone layer may have none
        found = []
        if kind is Sequential:
            return [(name, self.sequential(layer.layers))]
        if kind is Dense:
            twin = nn.Linear(layer.input_shape[0], layer.units, **kw)
            weight, bias = dense_to_torch(layer.params["kernel"], layer.params["bias"],
                                                  *self.orders[id(layer)])
            self.set(twin.weight, weight), self.set(twin.bias, bias)
        elif kind is Conv2D:
            zero_pad, padding = conv_geometry(layer)
            if zero_pad is not None:
                found.append((name + PAD, nn.ZeroPad2d(zero_pad)))
            twin = nn.Conv2d(layer.input_shape[2], layer.filters, layer.kernel_size,
                             stride=layer.strides, padding=padding, **kw)
        elif kind is Conv2DTranspose:
            padding, output_padding, crop = transpose_geometry(layer, OWNER)
            twin = nn.ConvTranspose2d(layer.input_shape[2], layer.filters, layer.kernel_size,
                                      stride=layer.strides, padding=padding,
                                      output_padding=output_padding, **kw)
        elif kind is BatchNormalization:
            image = len(layer.input_shape) == 3
            twin = (nn.BatchNorm2d if image else nn.BatchNorm1d)(
                layer.input_shape[-1], eps=layer.epsilon, momentum=1.0 - layer.momentum, **kw)
            order = self.orders[id(layer)][0]
            for key, target in (("gamma", twin.weight), ("beta", twin.bias)):
                self.set(target, vector_to_torch(layer.params[key], order))
            for key, target in (("moving_mean", twin.running_mean),
                                ("moving_variance", twin.running_var)):
                self.set(target, vector_to_torch(layer.state[key], order))
        elif kind in (ReLU, LeakyReLU, Sigmoid):
            twin = _activation(layer, nn)
        elif kind is Flatten or (kind is Reshape and len(layer.output_shape) == 1):
            twin = nn.Flatten()
        elif kind is Reshape:
            if len(layer.input_shape) == 1:
                twin = nn.Unflatten(1, shape_to_torch(layer.output_shape))
            else:       # an image to itself: nothing to do (flat_orders refused the rest)
                twin = nn.Identity()
        elif kind is Dropout:
            twin = nn.Dropout(layer.rate)
        else:
            raise InputTypeError(f"{OWNER}: layer {name!r} ({kind.__name__}) has no PyTorch twin "
                                 f"here; the bridge translates Dense, Conv2D, Conv2DTranspose, "
                                 f"ReLU, LeakyReLU, Sigmoid, Flatten, Reshape, Dropout, "
                                 f"BatchNormalization and Sequential")
        if kind in (Conv2D, Conv2DTranspose):
            self.set(twin.weight, kernel_to_torch(layer.params["kernel"]))
            self.set(twin.bias, layer.params["bias"])
        if kind in (Dense, Conv2D, Conv2DTranspose):
            # kept beside the module (not in its state_dict) so that from_torch restores them
            twin.minivae_initializers = {key: serialize(getattr(layer, key)) for key in
                                         ("kernel_initializer", "bias_initializer")}
        found.append((name, twin))
        if kind is Conv2DTranspose and crop is not None:
            found.append((name + CROP, nn.ZeroPad2d(crop)))
        if getattr(layer, "activation", None) is not None:
            found.append((name + ACTIVATION, _activation(layer.activation, nn)))
        return found

    def sequential(self, layers, tail=()):
        items = [item for layer in layers for item in self.modules(layer)]
        return self.nn.Sequential(collections.OrderedDict(items + list(tail)))


def _check_built(layer_or_model):
    if not layer_or_model.built:
        raise InputError(f"{OWNER}: {layer_or_model} was never built, so it has no weights to "
                         f"copy; call build(input_shape) (or train it) first")


def to_torch(model, seed=None):
    """The PyTorch twin of a built minivae model or layer, with copies of its weights.

    model: a VAE -> torch_classes()["VAE"] with .encoder (a GaussianEncoder module:
        .body, .z_mean, .z_log_var), .decoder (nn.Sequential ending in nn.Sigmoid when
        the model has an output sigmoid), .input_shape, and the loss settings; its
        losses(x) is minivae's loss, to call backward() on. An Autoencoder -> the
        class "Autoencoder". A Layer or Sequential -> its nn.Module (a layer with a
        fused activation, padding or crop: an nn.Sequential of the pieces).
    Images are NCHW on the PyTorch side (images_to_torch); each module's key in
    its nn.Sequential is the minivae layer's name. Flat features after a Flatten stand
    in PyTorch's channels-first order there; the Dense layers reading or feeding them
    have their rows or columns permuted to match, so the function is the same.
    seed: the VAE's torch.Generator for eps (None: random).
    The modules compute in the model's dtype (float32 or float64).
    """
    torch = _import_torch(OWNER)
    if isinstance(model, (VAE, Autoencoder)):
        _check_built(model)
        return _model(model, torch, seed)
    if isinstance(model, Layer):
        _check_built(model)
        orders = flat_orders([model], model.input_shape, OWNER, output_fixed=False)
        modules = _Twins(torch, model.dtype, orders).modules(model)
        return modules[0][1] if len(modules) == 1 else torch.nn.Sequential(
            collections.OrderedDict(modules))
    raise InputTypeError(f"{OWNER}: model must be a minivae VAE, Autoencoder, Layer or "
                         f"Sequential, got {type(model).__name__}")


def _layers_of(part):
    return list(part.layers) if isinstance(part, Sequential) else [part]


def _model(model, torch, seed):
    classes, nn = torch_classes(), torch.nn
    enc, dec = model.encoder, model.decoder
    dec_layers = _layers_of(dec)
    twins = _Twins(torch, model.dtype, model_orders(model, OWNER))
    tail = [(OUTPUT_SIGMOID, nn.Sigmoid())] if model.output_activation is not None else []
    decoder = twins.sequential(dec_layers, tail)
    settings = {"input_shape": shape_to_torch(model.input_shape),
                "reconstruction_weight": model.reconstruction_weight,
                "reconstruction_loss": model.reconstruction_loss,
                "output_sigmoid": model.output_activation is not None}
    if isinstance(model, VAE):
        encoder = classes["GaussianEncoder"](twins.sequential(enc.body),
                                             twins.modules(enc.z_mean)[0][1],
                                             twins.modules(enc.z_log_var)[0][1])
        return classes["VAE"](encoder, decoder, beta=model.beta, seed=seed, **settings)
    encoder = twins.sequential(_layers_of(enc))
    return classes["Autoencoder"](encoder, decoder, **settings)
