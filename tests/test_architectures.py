"""The book's architectures: Keras names, layouts and parameter counts."""

import numpy as np
import pytest

from minivae.architectures import fashion_autoencoder, fashion_vae, faces_vae, from_config


def _trainable(part):
    return sum(v.size for v in part.params.values())


def test_fashion_vae_counts_and_names():
    model = fashion_vae()
    assert model.encoder.count_params() == 100_868
    assert model.decoder.count_params() == 246_273
    assert [layer.name for layer in model.encoder.layers] == [
        "conv2d", "conv2d_1", "conv2d_2", "flatten", "z_mean", "z_log_var", "sampling"]
    assert [layer.name for layer in model.decoder.layers] == [
        "dense", "reshape", "conv2d_transpose", "conv2d_transpose_1", "conv2d_transpose_2",
        "conv2d_3"]
    assert model.encoder.output_shape == (2,) and model.decoder.output_shape == (32, 32, 1)


def test_fashion_autoencoder_counts():
    model = fashion_autoencoder()
    assert model.encoder.count_params() == 96_770
    assert model.decoder.count_params() == 246_273


def test_faces_vae_counts_with_non_trainable_state():
    model = faces_vae()
    assert model.encoder.count_params() == 253_584
    assert model.decoder.count_params() == 240_131
    assert model.encoder.count_params() - _trainable(model.encoder) == 640
    assert model.decoder.count_params() - _trainable(model.decoder) == 1_152
    assert model.reconstruction_loss == "mse" and model.reconstruction_weight == 2000.0


def test_faces_vae_trains_a_step_on_generated_images(rng):
    from minivae.optimizers import Adam
    model = faces_vae(latent_dim=8, seed=0)
    model.compile(Adam(learning_rate=5e-4))
    x = rng.random((4, 64, 64, 3)).astype(np.float32)
    metrics = model.train_step(x)
    assert set(metrics) == {"total_loss", "reconstruction_loss", "kl_loss"}
    assert all(np.isfinite(v) for v in metrics.values())
    bn = model.encoder.get_layer("batch_normalization")
    # One training batch moves the moving mean off its initial zeros (momentum 0.99).
    assert np.any(bn.state["moving_mean"] != 0)
    assert model.generate(2).shape == (2, 64, 64, 3)


def test_seed_fixes_the_weights():
    a, b, c = fashion_vae(seed=7), fashion_vae(seed=7), fashion_vae(seed=8)
    for k, v in a.named_params().items():
        np.testing.assert_array_equal(v, b.named_params()[k])
    assert not np.array_equal(a.named_params()["conv2d/kernel"],
                              c.named_params()["conv2d/kernel"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype(dtype):
    assert fashion_vae(dtype=dtype).named_params()["dense/kernel"].dtype == np.dtype(dtype)


def test_from_config_rebuilds_the_same_architecture():
    model = fashion_vae(latent_dim=3, beta=2.0)
    again = from_config(model.config)
    assert again.latent_dim == 3 and again.beta == 2.0
    assert {k: v.shape for k, v in again.named_params().items()} == \
        {k: v.shape for k, v in model.named_params().items()}
    with pytest.raises(ValueError, match="unknown architecture 'resnet'"):
        from_config({"architecture": "resnet"})


def test_bad_latent_dim():
    with pytest.raises(ValueError, match="latent_dim must be a positive integer"):
        fashion_vae(latent_dim=0)
