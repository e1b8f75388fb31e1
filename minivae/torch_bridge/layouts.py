"""How one array reads in minivae and in PyTorch: NHWC against NCHW, kernels, flat features.

Images. minivae holds a batch as (N, H, W, C), PyTorch as (N, C, H, W):
x_torch = x.transpose(0, 3, 1, 2). Kernels move the same way, out-axis first:

    Conv2D           kernel (kh, kw, in, out)   ->  Conv2d weight           (out, in, kh, kw)
    Conv2DTranspose  kernel (kh, kw, out, in)   ->  ConvTranspose2d weight  (in, out, kh, kw)
    Dense            kernel (in, out)           ->  Linear weight           (out, in)

(each is kernel.transpose(3, 2, 0, 1), or .T for Dense). Conv2DTranspose's
kernel and ConvTranspose2d's weight are both the kernel of the convolution the
layer is the adjoint of, so no tap is flipped.

Flat features. A Flatten reads an image in memory order: minivae's enumerates
(h, w, c), PyTorch's (c, h, w). So the same features stand in another order,
and a Dense reading them must have its rows permuted; a Dense that feeds a
Reshape (PyTorch: Unflatten) to an image must have its columns permuted. An
order is an index array: features_torch = features[..., order]. Each flat
tensor of a chain gets one:

  - a Flatten of an (H, W, C) image makes the order chw_order((H, W, C));
  - a Reshape of flat features to (H, W, C) needs that order;
  - the data (a flat input) and the latent z, and a model's flat output, keep
    minivae's order (identity: the data are the same numbers on both sides);
  - ReLU, LeakyReLU, Sigmoid, Dropout and BatchNormalization act feature by
    feature and pass their input's order on (a BatchNormalization's vectors
    are permuted with it);
  - a Dense reads any order (its rows follow) and writes any (its columns
    follow), so it ends one stretch of flat tensors and starts the next.

Within a stretch the orders must agree; when two of them differ (a Flatten of
one image shape read by a Reshape to another, with no Dense between) no PyTorch
module of the bridge reorders features, and the chain is refused.
"""

import numpy as np

from ..errors import InputError
from ..layers import BatchNormalization, Dropout, Flatten, LeakyReLU, ReLU, Reshape, Sigmoid
from ..models import GaussianEncoder, Sequential

# Layers that map each flat feature by itself: the order of their output is their input's.
FEATUREWISE = (ReLU, LeakyReLU, Sigmoid, Dropout, BatchNormalization)


def leaves(layers):
    """The layers of a chain in order, looking inside nested Sequentials."""
    found = []
    for layer in layers:
        found.extend(leaves(layer.layers) if type(layer) is Sequential else [layer])
    return found


def chw_order(shape):
    """The order of a flattened (H, W, C) image in PyTorch: entry j of its flat
    features (j enumerating (c, h, w)) is minivae's entry chw_order(shape)[j]."""
    height, width, channels = shape
    return np.arange(height * width * channels).reshape(shape).transpose(2, 0, 1).ravel()


def identity(size):
    return np.arange(size)


def _describe(who):
    return who if isinstance(who, str) else f"layer {who.name!r} ({type(who).__name__})"


def flat_orders(layers, input_shape, owner, input_fixed=True, output_fixed=True):
    """{id(layer): (order of its input, order of its output)} over a built chain's
    leaves: an index array for each flat tensor, None for an image.

    input_fixed / output_fixed: the chain's flat input / output keep minivae's
    order (data, z, a model's output); otherwise the chain's neighbours (the
    Dense heads after an encoder's body) take any order.
    """
    chain = leaves(layers)
    shapes = [tuple(input_shape)] + [tuple(layer.output_shape) for layer in chain]
    for layer, shape in zip(chain, shapes):
        if len(shape) not in (1, 3):
            raise InputError(f"{owner}: {_describe(layer)} reads tensors of shape {shape}; "
                             f"the bridge maps flat features (D,) and images (H, W, C) only")
    if len(shapes[-1]) not in (1, 3):
        who = _describe(chain[-1]) if chain else "the chain's input"
        raise InputError(f"{owner}: {who} has shape {shapes[-1]}; the bridge maps flat "
                         f"features (D,) and images (H, W, C) only")
    # stretch[p]: the stretch of flat tensors position p belongs to (position i is layer
    # i's input, i + 1 its output); featurewise layers and flat-to-flat reshapes join two.
    stretch = list(range(len(shapes)))
    for i, layer in enumerate(chain):
        if len(shapes[i]) == 1 and len(shapes[i + 1]) == 1 \
                and isinstance(layer, FEATUREWISE + (Flatten, Reshape)):
            stretch[i + 1] = stretch[i]
    needed = {}

    def need(position, order, who):
        key = stretch[position]
        if key in needed and not np.array_equal(needed[key][0], order):
            raise InputError(
                f"{owner}: {_describe(who)} and {_describe(needed[key][1])} see the same flat "
                f"features in two different PyTorch orders (channels-first flattening of "
                f"different image shapes, or of an image where data or z stand in their own "
                f"order), and no PyTorch module here reorders them; put a Dense between")
        needed.setdefault(key, (order, who))

    if len(shapes[0]) == 1 and input_fixed:
        need(0, identity(shapes[0][0]), "the chain's input")
    for i, layer in enumerate(chain):
        before, after = shapes[i], shapes[i + 1]
        if isinstance(layer, (Flatten, Reshape)) and len(before) != len(after):
            if len(before) == 3:
                need(i + 1, chw_order(before), layer)
            else:
                need(i, chw_order(after), layer)
        elif isinstance(layer, (Flatten, Reshape)) and len(before) == 3 and before != after:
            raise InputError(f"{owner}: {_describe(layer)} reshapes an image {before} into "
                             f"another {after}, which reads differently in NCHW; the bridge "
                             f"maps Reshape between flat features and an image only")
    if len(shapes[-1]) == 1 and output_fixed:
        need(len(chain), identity(shapes[-1][0]), "the chain's output")
    orders = [None if len(shape) != 1 else needed.get(stretch[p], (identity(shape[0]),))[0]
              for p, shape in enumerate(shapes)]
    return {id(layer): (orders[i], orders[i + 1]) for i, layer in enumerate(chain)}


def model_orders(model, owner):
    """flat_orders over a built VAE or Autoencoder: data and z in minivae's order, the
    VAE's heads reading its body's output in whatever order the body leaves it."""
    enc, dec = model.encoder, model.decoder
    orders = flat_orders(_layers_of(dec), dec.input_shape, owner)
    if isinstance(enc, GaussianEncoder):
        orders.update(flat_orders(enc.body, enc.input_shape, owner, output_fixed=False))
        body = leaves(enc.body)
        body_order = orders[id(body[-1])][1] if body else identity(enc.input_shape[0])
        for head in (enc.z_mean, enc.z_log_var):
            orders[id(head)] = (body_order, identity(head.units))
    else:
        orders.update(flat_orders(_layers_of(enc), enc.input_shape, owner))
    return orders


def _layers_of(part):
    return list(part.layers) if isinstance(part, Sequential) else [part]


# -------------------------------------------------------------- the weights --

def dense_to_torch(kernel, bias, in_order, out_order):
    """Linear's (weight (out, in), bias (out,)) for a Dense whose input and output
    PyTorch reads in the given orders."""
    return kernel[np.ix_(in_order, out_order)].T.copy(), bias[out_order].copy()


def dense_from_torch(weight, bias, in_order, out_order):
    """The inverse of dense_to_torch: a Dense's (kernel (in, out), bias (out,))."""
    kernel = np.empty(weight.T.shape, dtype=weight.dtype)
    kernel[np.ix_(in_order, out_order)] = weight.T
    b = np.empty_like(bias)
    b[out_order] = bias
    return kernel, b


def vector_to_torch(vector, order):
    """A per-feature vector (BatchNormalization's) in PyTorch's order; images: as is."""
    return vector.copy() if order is None else vector[order].copy()


def vector_from_torch(vector, order):
    if order is None:
        return vector.copy()
    ours = np.empty_like(vector)
    ours[order] = vector
    return ours


def kernel_to_torch(kernel):
    """Conv2D (kh, kw, in, out) -> Conv2d (out, in, kh, kw); and Conv2DTranspose's
    (kh, kw, out, in) -> ConvTranspose2d's (in, out, kh, kw): the same transpose."""
    return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))


def kernel_from_torch(weight):
    return np.ascontiguousarray(weight.transpose(2, 3, 1, 0))


def images_to_torch(x):
    """(N, H, W, C) -> (N, C, H, W); flat (N, D) data as is."""
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if x.ndim == 4 else x


def images_from_torch(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if x.ndim == 4 else x


def shape_to_torch(shape):
    """One sample's shape: (H, W, C) -> (C, H, W); (D,) as is."""
    shape = tuple(shape)
    return (shape[2], shape[0], shape[1]) if len(shape) == 3 else shape


def shape_from_torch(shape):
    shape = tuple(shape)
    return (shape[1], shape[2], shape[0]) if len(shape) == 3 else shape
