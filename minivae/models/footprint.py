"""What one forward pass of a model needs in memory, counted from its layers' shapes.

A checkpoint of a few kilobytes can describe a model whose forward pass needs
gigabytes: few parameters, huge activations (a stride-3000 transposed
convolution, a million filters, a 1000 x 1000 kernel). The parameter limit of
minivae.checkpoint does not see that, so the commands estimate a pass before
running it and refuse what exceeds a budget they state.

For a batch of n, layer by layer, the estimate counts the layer's input, its
output and the scratch its kernels allocate, and takes the largest over the
layers (in inference a layer's input and output are what is alive; the cached
activations of training come on top and are not counted here):

    Conv2D            padded input n Hp Wp C and im2col's columns n Ho Wo kh kw C (the
                      taps form, which runs only at stride 1 where F < C, makes at most
                      Hp Wp / (Ho Wo) times as much: a little more on small images)
    Conv2DTranspose   the columns n H W kh kw F and the padded output n Hp' Wp' F
    anything else     its input and output

It is an estimate in the model's dtype, within a small factor of what numpy
allocates (tests/test_footprint.py measures the book's VAE against it); its
purpose is to tell a model that fits from one that asks for gigabytes.
"""

import math

import numpy as np

from ..errors import InputError
from ..fast.data_parallel import leaves
from ..layers import Conv2D, Conv2DTranspose

# What a command's forward pass may ask for unless told otherwise: the book's VAE needs
# about 40 MB at 100 images, so this leaves room for models 50 times larger and still
# fits a machine of a few GB.
DEFAULT_BUDGET = 2 * 1024 ** 3


def _size(shape):
    return math.prod(int(s) for s in shape)


def layer_bytes(layer, n, itemsize):
    """Bytes alive while `layer` runs a forward pass on n examples (see the module)."""
    values = n * (_size(layer.input_shape) + _size(layer.output_shape))
    (top, bottom), (left, right) = getattr(layer, "pads", ((0, 0), (0, 0)))
    if isinstance(layer, Conv2D):
        # the taps form runs only where F < C, and there its products are no larger
        (kh, kw), (height, width, channels) = layer.kernel_size, layer.input_shape
        out_h, out_w, _ = layer.output_shape
        padded = (height + top + bottom) * (width + left + right)
        values += n * (padded + out_h * out_w * kh * kw) * channels
    elif isinstance(layer, Conv2DTranspose):
        (kh, kw), (height, width, _) = layer.kernel_size, layer.input_shape
        out_h, out_w, filters = layer.output_shape
        values += n * (height * width * kh * kw * filters
                       + (out_h + top + bottom) * (out_w + left + right) * filters)
    return values * itemsize


def forward_bytes(part, n):
    """The largest layer_bytes over a built part (an encoder, a decoder) for n examples."""
    itemsize = np.dtype(part.dtype).itemsize
    return max((layer_bytes(layer, n, itemsize) for layer in leaves(part)
                if layer.input_shape is not None), default=0)


def check_budget(model, n, budget=DEFAULT_BUDGET, what="a forward pass", flag="--memory-budget"):
    """Raise InputError when a forward pass of n examples through the model's encoder or
    decoder would need more than `budget` bytes, saying how much and how to allow it.
    Returns the estimate."""
    need = max(forward_bytes(model.encoder, n), forward_bytes(model.decoder, n))
    if need > budget:
        raise InputError(f"{what} of {n:,} example(s) through this model needs about "
                         f"{_gib(need)} (its largest layer's input, output and scratch), more "
                         f"than the budget of {_gib(budget)}; ask for fewer at a time, or "
                         f"raise the budget with {flag}")
    return need


def _gib(nbytes):
    """Bytes in the largest unit that keeps them above 1 (a budget of 100 bytes is not
    '0.0 MiB')."""
    for unit, size, digits in (("GiB", 1024 ** 3, 2), ("MiB", 1024 ** 2, 1), ("KiB", 1024, 1)):
        if nbytes >= size:
            return f"{nbytes / size:.{digits}f} {unit}"
    return f"{nbytes:,.0f} bytes"
