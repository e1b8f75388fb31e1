"""minivae layers: each with a hand-written backward pass next to its forward.

The reference math, one layer per file; containers of layers (Sequential) and the
models are in minivae.models, above the fast path that runs these layers there.
"""

from .activations import LeakyReLU, ReLU, Sigmoid, get_activation
from .base import Layer
from .conv import Conv2D, Conv2DTranspose
from .dense import Dense
from .dropout import Dropout
from .normalization import BatchNormalization
from .reshape import Flatten, Reshape
from .sampling import Sampling

__all__ = ["Layer", "Dense", "Conv2D", "Conv2DTranspose", "ReLU", "LeakyReLU", "Sigmoid",
           "Flatten", "Reshape", "Dropout", "BatchNormalization", "Sampling",
           "get_activation"]
