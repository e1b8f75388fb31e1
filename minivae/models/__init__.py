"""Models: layers put together, and the chapter's VAE and autoencoder (docs/models.md).

    sequential.py   Sequential (layers applied in order, itself a Layer) and LayerList,
                    what any container of layers offers; Keras-style automatic names
    model.py        Model: what every model shares (parameters by name, train_step, fit,
                    evaluate, batched encode and decode, weights, config)
    vae.py          GaussianEncoder q(z|x) and the VAE
    autoencoder.py  the plain Autoencoder
    footprint.py    the memory of a forward pass, estimated from the layer shapes

Containers run each layer through minivae.fast, which may pick a faster kernel
for it; a layer's own forward and backward are the reference.
"""

from .autoencoder import Autoencoder
from .model import PREDICT_BATCH, RECONSTRUCTION_LOSSES, Model, OutputActivationWarning
from .sequential import LayerList, Sequential
from .vae import VAE, GaussianEncoder

__all__ = ["Model", "VAE", "Autoencoder", "GaussianEncoder", "Sequential", "LayerList",
           "OutputActivationWarning", "PREDICT_BATCH", "RECONSTRUCTION_LOSSES"]
