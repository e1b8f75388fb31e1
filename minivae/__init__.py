"""minivae: the Variational Autoencoder of Generative Deep Learning (ch. 3) in NumPy."""

__version__ = "0.1.0"
