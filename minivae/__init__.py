"""minivae: the Variational Autoencoder of Generative Deep Learning (ch. 3) in NumPy.

The models are here at the top (`minivae.VAE`, `minivae.Autoencoder`); the rest
lives in its modules: layers, losses, optimizers, gradcheck, architectures,
datasets, checkpoint, evaluation, analysis and plotting.
"""

__version__ = "0.1.0"

from .models import VAE, Autoencoder, GaussianEncoder  # noqa: E402  (after __version__)

__all__ = ["VAE", "Autoencoder", "GaussianEncoder", "__version__"]
