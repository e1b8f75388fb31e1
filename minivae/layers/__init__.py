"""minivae layers: each with a hand-written backward pass next to its forward."""

from .activations import LeakyReLU, ReLU, Sigmoid, get_activation
from .base import Layer
from .conv import Conv2D, Conv2DTranspose
from .dense import Dense
from .dropout import Dropout
from .normalization import BatchNormalization
from .reshape import Flatten, Reshape
from .sampling import Sampling
from .sequential import Sequential

__all__ = ["Layer", "Dense", "Conv2D", "Conv2DTranspose", "ReLU", "LeakyReLU", "Sigmoid",
           "Flatten", "Reshape", "Dropout", "BatchNormalization", "Sampling",
           "Sequential", "get_activation"]
