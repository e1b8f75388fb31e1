"""Self-describing models: every layer, container and model round-trips through its
config, a class of one's own is found once registered, and anything else is named."""

import json

import numpy as np
import pytest

from minivae import serialization
from minivae.architectures import faces_vae, fashion_autoencoder, fashion_vae, keras_io_vae
from minivae.errors import InputTypeError
from minivae.layers import (BatchNormalization, Conv2D, Conv2DTranspose, Dense, Dropout, Flatten,
                            Layer, LeakyReLU, ReLU, Reshape, Sampling, Sigmoid)
from minivae.models import VAE, GaussianEncoder, Sequential
from minivae.serialization import SerializationError, deserialize, serialize

# One of each built-in layer, with non-default settings where a layer has them.
LAYERS = [
    (Dense(5, activation="relu", name="d"), (3,)),
    (Conv2D(4, (3, 2), strides=(2, 1), padding="same", activation="sigmoid"), (7, 6, 2)),
    (Conv2DTranspose(3, 3, strides=2, padding="valid", activation="leaky_relu"), (4, 5, 2)),
    (Conv2D(4, 3, strides=2, padding=(1, 0)), (7, 6, 2)),                       # PyTorch's
    (Conv2DTranspose(3, 3, strides=2, padding=1, output_padding=(1, 0)), (4, 5, 2)),
    (Conv2DTranspose(3, 3, strides=(2, 3), padding="same", output_padding=(1, 2)), (4, 5, 2)),
    (Dense(2, activation={"class_name": "LeakyReLU", "negative_slope": 0.1}), (3,)),
    (ReLU(), (4,)), (LeakyReLU(negative_slope=0.05), (4,)), (Sigmoid(), (4,)),
    (Flatten(), (2, 3, 2)), (Reshape((3, -1)), (6,)), (Dropout(0.25), (4,)),
    (BatchNormalization(momentum=0.9, epsilon=1e-4), (3, 3, 2)),
    (Sequential([Dense(3), Sequential([Dense(2), ReLU()], name="inner")]), (4,)),
]


@pytest.mark.parametrize("layer, shape", LAYERS, ids=[type(lay).__name__ for lay, _ in LAYERS])
def test_every_built_in_layer_round_trips_through_its_config(layer, shape):
    rng = np.random.default_rng(0)
    layer.build(shape, rng=rng, dtype="float64")
    spec = json.loads(json.dumps(serialize(layer)))          # what a checkpoint keeps
    twin = deserialize(spec)
    assert type(twin) is type(layer) and twin.get_config() == layer.get_config()
    twin.build(shape, rng=rng, dtype="float64")
    twin.set_weights(layer.get_weights())
    x = rng.standard_normal((3, *shape))
    # Same class, same settings, same weights: the same function, bit for bit.
    np.testing.assert_array_equal(twin.forward(x, training=False), layer.forward(x, training=False))


def test_sampling_round_trips():
    spec = serialize(Sampling(name="s"))
    assert spec == {"class_name": "Sampling", "config": {"name": "s"}}
    assert isinstance(deserialize(spec), Sampling)


@pytest.mark.parametrize("make", [fashion_vae, fashion_autoencoder, keras_io_vae,
                                  lambda seed: faces_vae(latent_dim=4, seed=seed)],
                         ids=["fashion_vae", "fashion_autoencoder", "keras_io_vae", "faces_vae"])
def test_the_books_models_round_trip_with_their_loss_settings(make):
    model = make(seed=0)
    twin = deserialize(json.loads(json.dumps(serialize(model))))
    assert type(twin) is type(model)
    twin.build(model.input_shape, rng=np.random.default_rng(1))
    twin.set_weights(model.get_weights())
    assert twin.get_config() == model.get_config()
    assert twin.count_params() == model.count_params()
    assert list(twin.named_params()) == list(model.named_params())
    z = np.random.default_rng(2).standard_normal((2, model.latent_dim)).astype(np.float32)
    np.testing.assert_array_equal(twin.decode(z), model.decode(z))


def test_a_class_of_ones_own_is_named_until_registered():
    class Swish(Layer):
        def forward(self, x, training=True):
            x = self._check_input(x)
            self.x = x
            self._y_shape = x.shape
            return x / (1 + np.exp(-x))

    model = Sequential([Dense(3), Swish()])
    spec = json.loads(json.dumps(serialize(model)))
    with pytest.raises(SerializationError, match=r"unknown class 'Swish'.*register.*"
                                                 r"custom_objects=\{'Swish': Swish\}"):
        deserialize(spec)
    assert isinstance(deserialize(spec, {"Swish": Swish}).layers[1], Swish)
    serialization.register(Swish, name="test_serialization.Swish")
    spec = json.loads(json.dumps(serialize(model)))
    assert spec["config"]["layers"][1]["class_name"] == "test_serialization.Swish"
    assert isinstance(deserialize(spec).layers[1], Swish)
    with pytest.raises(ValueError, match="already belongs to"):
        serialization.register(Swish, name="Dense")


def test_broken_configs_name_what_is_wrong():
    with pytest.raises(SerializationError, match="expected {'class_name': str, 'config': dict}"):
        deserialize(["Dense"])
    with pytest.raises(SerializationError, match="cannot rebuild a Dense from its config"):
        deserialize({"class_name": "Dense", "config": {"units": 3, "colour": "red"}})
    with pytest.raises(SerializationError, match="cannot rebuild a Dense"):
        deserialize({"class_name": "Dense", "config": {"units": -3}})


def test_a_model_builds_on_first_use_and_numbers_names_across_its_parts():
    """As Keras: no build() call needed, and an encoder and a decoder that each name
    their Dense "dense" get dense and dense_1, not a clash."""
    encoder = GaussianEncoder([Flatten(), Dense(8, activation="relu")], 2)
    decoder = Sequential([Dense(8, activation="relu"), Dense(16, activation="sigmoid"),
                          Reshape((4, 4, 1))])
    model = VAE(encoder, decoder, rng=np.random.default_rng(0))
    assert not model.built
    names = [layer.name for layer in encoder.layers + decoder.layers]
    assert names == ["flatten", "dense", "z_mean", "z_log_var", "sampling", "dense_1", "dense_2",
                     "reshape"]
    from minivae.optimizers import Adam
    x = np.random.default_rng(1).uniform(size=(6, 4, 4, 1)).astype(np.float32)
    history = model.compile(Adam()).fit(x, epochs=1, batch_size=3, verbose=0)
    assert model.built and model.input_shape == (4, 4, 1)
    assert np.isfinite(history.history["total_loss"][0])
    unbuilt = VAE(GaussianEncoder([Flatten()], 2), Sequential([Dense(16), Reshape((4, 4, 1))]))
    assert unbuilt.encode(x)[0].shape == (6, 2)             # encode builds it too


def test_register_leaves_nothing_behind_when_it_refuses():
    """Issue 22: register(os.system) raised but stayed registered."""
    import os
    from minivae import serialization
    for thing in (os.system, len, 3):
        with pytest.raises(InputTypeError, match="register: expected a class"):
            serialization.register(thing)
    assert not {"system", "len"} & set(serialization._registered)
