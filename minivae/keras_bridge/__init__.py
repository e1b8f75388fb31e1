"""Keras both ways: a minivae model as Keras objects with the same weights, and back.

    to_keras(model)        -> a Keras model of class VAE (or Autoencoder) holding
                              .encoder  keras.Model  x -> [z_mean, z_log_var, z]  (x -> z)
                              .decoder  keras.Model  z -> images
                              and the loss settings; compile() and fit() it in Keras
    from_keras(vae)        -> the minivae model, from what to_keras returned
    from_keras(encoder, decoder, reconstruction_weight=..., ...)
                           -> the minivae model, from Keras code of one's own

The weights are the same arrays in the same layouts (docs/own_model.md): each
layer's get_weights() is copied into its twin. Two things are written
differently on the two sides, and each translation rewrites them:

  - The output sigmoid. A minivae decoder ends in logits and the model applies
    the sigmoid (model.output_activation); a Keras decoder's last layer carries
    activation="sigmoid". Keras's TensorFlow backend scores binary cross-entropy
    on a sigmoid layer's output from the logits behind it, so both compute the
    same loss from the same logits.
  - The heads. minivae's GaussianEncoder calls its heads z_mean, z_log_var and
    sampling; a Keras encoder's two Dense heads may have any names, and its
    Sampling layer may be any weightless layer class named Sampling that takes
    [z_mean, z_log_var] (keras.io's, the book's, or the one written here), or
    be absent (an encoder with the two outputs z_mean and z_log_var).

Every other layer keeps its name, its settings and its place (a Keras
Activation("linear") computes nothing and is left out). A layer or a setting
with no twin on the other side is refused with a message naming the layer and
its type.
Keras is imported inside the functions: minivae never depends on it.

    classes.py     the Keras-side Sampling, VAE and Autoencoder
    to_keras.py    minivae -> Keras
    from_keras.py  Keras -> minivae
"""

from .classes import keras_classes
from .from_keras import from_keras
from .to_keras import to_keras

__all__ = ["to_keras", "from_keras", "keras_classes"]
