"""minivae: the Variational Autoencoder of Generative Deep Learning (ch. 3) in NumPy.

The models are here at the top (`minivae.VAE`, `minivae.Autoencoder`); the rest
lives in its modules: layers (the reference math), fast (the same sums, faster),
losses, optimizers, gradcheck, architectures, serialization, datasets,
checkpoint, evaluation, analysis and plotting.
"""

__version__ = "0.2.0"

from .encoder import GaussianEncoder  # noqa: E402  (after __version__)
from .errors import InputError, InputTypeError  # noqa: E402
from .model import Model  # noqa: E402
from .models import VAE, Autoencoder  # noqa: E402

__all__ = ["VAE", "Autoencoder", "GaussianEncoder", "Model", "InputError", "InputTypeError",
           "__version__"]
