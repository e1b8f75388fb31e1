"""PyTorch both ways: a minivae model as torch.nn modules with the same weights, and back.

    to_torch(model)        -> a torch.nn.Module of class VAE (or Autoencoder) holding
                              .encoder  x -> (z_mean, z_log_var)  (.body, .z_mean, .z_log_var)
                              .decoder  nn.Sequential  z -> images
                              and minivae's loss as .losses(x, eps=None); train it in PyTorch
    to_torch(layer)        -> the layer's (or Sequential's) nn.Module
    from_torch(vae)        -> the minivae model, from what to_torch returned
    from_torch(module, input_shape)
                           -> a minivae Sequential, from an nn.Sequential of one's own
    vae_from_torch(body, fc_mu, fc_logvar, decoder, input_shape, ...)
    autoencoder_from_torch(encoder, decoder, input_shape, ...)
                           -> a minivae VAE / Autoencoder, from PyTorch code of one's own

The weights are the same numbers in PyTorch's layouts (layouts.py): images NCHW,
kernels out-axis first, and the flat features after a Flatten in PyTorch's
channels-first order, the Dense layers beside them permuted to match. Three things
are written differently on the two sides, and each translation rewrites them:

  - The output sigmoid. A minivae decoder ends in logits and the model applies the
    sigmoid; a PyTorch decoder ends in nn.Sigmoid, and the loss of to_torch's VAE
    reads the logits before it, as minivae does.
  - Fused activations. minivae's Dense, Conv2D and Conv2DTranspose carry an
    activation=; PyTorch writes nn.ReLU, nn.LeakyReLU or nn.Sigmoid after the layer.
    from_torch fuses such a module into the layer before it.
  - Padding. PyTorch's integer padding (and output_padding) is minivae's. Keras's
    'valid' and 'same' are PyTorch's padding='valid' and 'same' at stride 1, and
    otherwise a ZeroPad2d beside the convolution (padding before a Conv2d, a crop
    after a ConvTranspose2d), which from_torch reads back as the word.

BatchNormalization's momentum is PyTorch's 1 - momentum, its epsilon eps. PyTorch
updates running_var with the unbiased batch variance (m / (m - 1) times the biased
one that minivae and Keras use, m entries per channel), so after a training step
the moving variances differ by that factor in the new term; outputs and gradients
do not. A module or a setting with no twin on the other side is refused with a
message naming it. PyTorch is imported inside the functions: minivae never depends
on it, and nothing in minivae imports this package.

    layouts.py     NHWC and NCHW, kernels, the order of flat features: numpy only
    padding.py     a convolution's padding in PyTorch's terms: numpy only
    classes.py     the PyTorch-side GaussianEncoder, VAE and Autoencoder
    to_torch.py    minivae -> PyTorch
    translate.py   PyTorch modules -> minivae layers
    from_torch.py  PyTorch -> minivae models
"""

from .classes import torch_classes
from .from_torch import autoencoder_from_torch, from_torch, vae_from_torch
from .layouts import images_from_torch, images_to_torch
from .to_torch import to_torch

__all__ = ["to_torch", "from_torch", "vae_from_torch", "autoencoder_from_torch",
           "torch_classes", "images_to_torch", "images_from_torch"]
