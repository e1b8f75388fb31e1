"""minivae layers: each with a hand-written backward pass next to its forward."""

from .activations import LeakyReLU, ReLU, Sigmoid, get_activation
from .base import Layer
from .conv import Conv2D, Conv2DTranspose
from .dense import Dense
from .sequential import Sequential

__all__ = ["Layer", "Dense", "Conv2D", "Conv2DTranspose", "ReLU", "LeakyReLU", "Sigmoid",
           "Sequential", "get_activation"]
