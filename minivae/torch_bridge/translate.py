"""PyTorch modules -> minivae layers, one chain at a time, remembering which module holds
each layer's weights (from_torch.py builds the model around them)."""

from ..errors import InputError
from ..im2col import padding_amounts
from ..layers import (BatchNormalization, Conv2D, Conv2DTranspose, Dense, Dropout, Flatten,
                      LeakyReLU, ReLU, Reshape, Sigmoid)
from ..models import Sequential
from .layouts import (dense_from_torch, kernel_from_torch, shape_from_torch, shape_to_torch,
                      vector_from_torch)
from .padding import transpose_crops

OWNER = "from_torch"      # the messages name the public entry point
SUPPORTED = ("Linear, Conv2d, ConvTranspose2d, BatchNorm1d, BatchNorm2d, ReLU, LeakyReLU, "
             "Sigmoid, Flatten, Unflatten, Dropout, Identity, ZeroPad2d (beside a convolution) "
             "and nested nn.Sequential")


def _initializers(module):
    """A PyTorch layer starts as PyTorch's reset_parameters starts it ("torch_default"),
    unless to_torch recorded the minivae layer's own initializers beside it."""
    return getattr(module, "minivae_initializers",
                   {"kernel_initializer": "torch_default", "bias_initializer": "torch_default"})


def _label(key, module):
    return f"module {key!r} ({type(module).__name__})" if key is not None \
        else f"module {type(module).__name__}"


def _refuse(key, module, why):
    raise InputError(f"{OWNER}: {_label(key, module)} {why}")


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


class Translator:
    """Torch modules -> minivae layers, remembering which module holds each layer's weights."""

    def __init__(self, torch, dtype):
        self.torch, self.nn, self.dtype = torch, torch.nn, dtype
        self.sources = {}           # id(minivae layer) -> (layer, torch module)

    # -- one chain ----------------------------------------------------------
    def chain(self, module, shape, key=None):
        """(minivae layers, output shape) of a module or an nn.Sequential read from inputs
        of `shape` (minivae's layout); each layer is built once to learn its output."""
        nn = self.nn
        items = list(module.named_children()) if type(module) is nn.Sequential \
            else [(key, module)]
        layers, i = [], 0
        while i < len(items):
            key, m = items[i]
            after = items[i + 1] if i + 1 < len(items) else (None, None)
            i += 1
            if type(m) is nn.Sequential:
                children, _ = self.chain(m, shape)
                layer = Sequential(children, name=_name(key))
                shape = layer.build(shape, dtype=self.dtype)
                layers.append(layer)
                continue
            if type(m) is nn.Identity:
                continue
            if type(m) is nn.ZeroPad2d:
                if type(after[1]) is not nn.Conv2d or min(m.padding) < 0:
                    _refuse(key, m, "pads outside a convolution; minivae pads only as a "
                                    "Conv2d's padding, so it must come right before a Conv2d "
                                    "(with padding=0), or crop right after a ConvTranspose2d")
                (key, m), zero_pad, i = after, tuple(m.padding), i + 1
                layer = self.conv(key, m, shape, zero_pad)
            elif type(m) is nn.Conv2d:
                layer = self.conv(key, m, shape, None)
            elif type(m) is nn.ConvTranspose2d:
                crop = None
                if type(after[1]) is nn.ZeroPad2d and max(after[1].padding) <= 0:
                    crop, i = tuple(after[1].padding), i + 1
                layer = self.transpose(key, m, shape, crop)
            else:
                layer = self.simple(key, m, shape)
            if isinstance(layer, (Dense, Conv2D, Conv2DTranspose)) and i < len(items) \
                    and type(items[i][1]) in (nn.ReLU, nn.LeakyReLU, nn.Sigmoid):
                # the activation right after becomes the layer's own, as minivae writes it
                layer.activation = self.simple(None, items[i][1], shape=None)
                i += 1
            shape = layer.build(shape, dtype=self.dtype)
            layers.append(layer)
        return layers, shape

    def simple(self, key, m, shape):
        """The minivae layer of a module that needs no neighbour."""
        nn, kind = self.nn, type(m)
        name = _name(key)
        if kind is nn.Linear:
            if m.bias is None:
                _refuse(key, m, "has bias=False; minivae's Dense always has a bias")
            if shape is not None and shape != (m.in_features,):
                _refuse(key, m, f"reads {m.in_features} features, but its input has shape "
                                f"{shape_to_torch(shape)}")
            layer = Dense(m.out_features, name=name, **_initializers(m))
        elif kind in (nn.BatchNorm1d, nn.BatchNorm2d):
            if not (m.affine and m.track_running_stats):
                _refuse(key, m, "has affine=False or track_running_stats=False; minivae's "
                                "BatchNormalization has gamma, beta and moving statistics")
            if m.momentum is None:
                _refuse(key, m, "has momentum=None (a cumulative average); minivae's moving "
                                "statistics are exponential averages")
            if shape is not None and (len(shape) != (3 if kind is nn.BatchNorm2d else 1)
                                      or shape[-1] != m.num_features):
                _refuse(key, m, f"normalizes {m.num_features} features, but its input has "
                                f"shape {shape_to_torch(shape)}")
            layer = BatchNormalization(momentum=1.0 - m.momentum, epsilon=m.eps, name=name)
        elif kind is nn.ReLU:
            layer = ReLU(name=name)
        elif kind is nn.LeakyReLU:
            layer = LeakyReLU(m.negative_slope, name=name)
        elif kind is nn.Sigmoid:
            layer = Sigmoid(name=name)
        elif kind is nn.Flatten:
            if (m.start_dim, m.end_dim) != (1, -1):
                _refuse(key, m, f"flattens dims {m.start_dim} to {m.end_dim}; minivae's "
                                f"Flatten keeps the batch axis and flattens the rest")
            layer = Flatten(name=name)
        elif kind is nn.Unflatten:
            size = tuple(m.unflattened_size)
            if m.dim not in (1, -1) or len(size) != 3 or (shape is not None and len(shape) != 1):
                _refuse(key, m, f"unflattens dim {m.dim} to {size}; the bridge maps flat "
                                f"features to an image (C, H, W) only")
            layer = Reshape(shape_from_torch(size), name=name)
        elif kind is nn.Dropout:
            layer = Dropout(m.p, name=name)
        else:
            _refuse(key, m, f"has no minivae twin; the bridge translates {SUPPORTED}")
        if m._parameters or any(b is not None for b in m._buffers.values()):
            self.sources[id(layer)] = (layer, m)
        return layer

    def _conv_checks(self, key, m, shape):
        if type(m.padding) is str and m.padding not in ("same", "valid"):
            _refuse(key, m, f"has padding={m.padding!r}")
        for setting, value, plain in (("groups", m.groups, 1), ("dilation", _pair(m.dilation),
                                                                 (1, 1)),
                                      ("padding_mode", m.padding_mode, "zeros")):
            if value != plain:
                _refuse(key, m, f"has {setting}={value!r}; minivae supports only "
                                f"{setting}={plain!r}")
        if m.bias is None:
            _refuse(key, m, "has bias=False; minivae's convolutions always have a bias")
        if len(shape) != 3 or shape[2] != m.in_channels:
            _refuse(key, m, f"reads {m.in_channels} channels, but its input has shape "
                            f"{shape_to_torch(shape)}")

    def conv(self, key, m, shape, zero_pad):
        """A Conv2d (with the ZeroPad2d before it): Keras's word where PyTorch says it
        (padding='valid' or 'same', or TensorFlow's 'same' padding as a ZeroPad2d),
        else PyTorch's integer padding."""
        self._conv_checks(key, m, shape)
        (kh, kw), (sh, sw) = _pair(m.kernel_size), _pair(m.stride)
        if zero_pad is None:
            padding = m.padding if isinstance(m.padding, str) else _pair(m.padding)
        else:
            left, right, top, bottom = zero_pad
            ph, pw = (0, 0) if m.padding == "valid" else _pair(m.padding)
            if m.padding == "same":
                _refuse(key, m, "has padding='same' after a ZeroPad2d; give the Conv2d "
                                "padding=0 and the ZeroPad2d all the padding")
            pads = ((ph + top, ph + bottom), (pw + left, pw + right))
            same = padding_amounts(shape[0], shape[1], kh, kw, sh, sw, "same")
            if pads == same:
                padding = "same"        # TensorFlow's 'same' at this input size
            elif pads[0][0] == pads[0][1] and pads[1][0] == pads[1][1]:
                padding = (pads[0][0], pads[1][0])
            else:
                _refuse(key, m, f"pads {pads[0]} rows and {pads[1]} columns; minivae's Conv2D "
                                f"pads as 'valid', as TensorFlow's 'same' ({same} here), or "
                                f"alike on both sides")
        layer = Conv2D(m.out_channels, (kh, kw), strides=(sh, sw), padding=padding,
                       name=_name(key), **_initializers(m))
        self.sources[id(layer)] = (layer, m)
        return layer

    def transpose(self, key, m, shape, crop):
        """A ConvTranspose2d: PyTorch's padding and output_padding; with the ZeroPad2d
        after it that crops (or is all zeros), Keras's 'valid' or 'same', whichever
        keeps the same part of the full transposed output."""
        self._conv_checks(key, m, shape)
        (kh, kw), (sh, sw) = _pair(m.kernel_size), _pair(m.stride)
        (ph, pw), (oh, ow) = _pair(m.padding), _pair(m.output_padding)
        if crop is None:
            layer = Conv2DTranspose(m.out_channels, (kh, kw), strides=(sh, sw),
                                    padding=(ph, pw),
                                    output_padding=None if (oh, ow) == (0, 0) else (oh, ow),
                                    name=_name(key), **_initializers(m))
            self.sources[id(layer)] = (layer, m)
            return layer
        left, right, top, bottom = crop
        crops = ((ph - top, ph - oh - bottom), (pw - left, pw - ow - right))
        # Keras's words, without and then with an output_padding (Keras's meaning)
        options = [None] + [(a, b) for a in range(sh) for b in range(sw)]
        for padding, output_padding in ((w, op) for w in ("valid", "same") for op in options):
            layer = Conv2DTranspose(m.out_channels, (kh, kw), strides=(sh, sw), padding=padding,
                                    output_padding=output_padding, name=_name(key),
                                    **_initializers(m))
            try:
                layer.build(shape, dtype=self.dtype)
            except InputError:      # an output_padding the word cannot take here
                continue
            if transpose_crops(layer) == crops:
                self.sources[id(layer)] = (layer, m)
                return layer
        layer = Conv2DTranspose(m.out_channels, (kh, kw), strides=(sh, sw), padding="same")
        layer.build(shape, dtype=self.dtype)
        _refuse(key, m, f"with the ZeroPad2d after it keeps its full output less {crops[0]} "
                        f"rows and {crops[1]} columns at the two ends; minivae's "
                        f"Conv2DTranspose crops as 'valid' or 'same' do "
                        f"({transpose_crops(layer)} for 'same' here), or as PyTorch's "
                        f"padding and output_padding alone")

    # -- the weights --------------------------------------------------------
    def copy(self, orders):
        """Every recorded layer's weights from its torch module, in minivae's layouts."""
        def array(tensor):
            return tensor.detach().cpu().numpy().astype(self.dtype)
        for layer, m in self.sources.values():
            if isinstance(layer, Dense):
                kernel, bias = dense_from_torch(array(m.weight), array(m.bias),
                                                        *orders[id(layer)])
                layer.set_weights([kernel, bias])
            elif isinstance(layer, (Conv2D, Conv2DTranspose)):
                layer.set_weights([kernel_from_torch(array(m.weight)), array(m.bias)])
            elif isinstance(layer, BatchNormalization):
                order = orders[id(layer)][0]
                layer.set_weights([vector_from_torch(array(v), order)
                                   for v in (m.weight, m.bias, m.running_mean, m.running_var)])


def _name(key):
    """A module's key in its nn.Sequential as the layer's name; torch's own 0, 1, ...
    give way to minivae's automatic names."""
    return None if key is None or key.isdigit() or "/" in key else key
