"""minivae: the Variational Autoencoder of Generative Deep Learning (ch. 3) in NumPy.

The models are here at the top (`minivae.VAE`, `minivae.Autoencoder`,
`minivae.Sequential`); the rest lives in its modules: layers (the reference math),
fast (the same sums, faster), losses, optimizers, gradcheck, architectures,
serialization, datasets, checkpoint, latent, gaps, evaluation, attributes,
model_check, plotting, figures (a checkpoint's figures), experiments, runs (run
folders) and cli (the commands, one library function each).
"""

__version__ = "0.2.0"

from .errors import InputError, InputTypeError  # noqa: E402  (after __version__)
from .models import VAE, Autoencoder, GaussianEncoder, Model, Sequential  # noqa: E402

__all__ = ["VAE", "Autoencoder", "GaussianEncoder", "Model", "Sequential", "InputError",
           "InputTypeError", "__version__"]
