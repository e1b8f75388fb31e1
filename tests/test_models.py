"""VAE and Autoencoder: whole-model gradients, the loss as the book defines it, the API."""

import warnings

import numpy as np
import pytest
from scipy.special import expit

from minivae.architectures import fashion_autoencoder, fashion_vae
from minivae.errors import InputError, InputTypeError
from minivae.gradcheck import check_model
from minivae.layers import Conv2D, Dense, Flatten, Reshape, Sigmoid
from minivae.models import VAE, Autoencoder, GaussianEncoder, OutputActivationWarning, Sequential
from minivae.optimizers import Adam
from tests.conftest import images as _images
from tests.conftest import off_the_kinks as _off_the_kinks
from tests.conftest import tiny_vae

# Whole-model finite differences in float64: the loss is a sum of O(1e2) terms,
# so rounding in each difference is ~1e-16 * 1e2 / 1e-6 ~ 1e-8 of the loss scale,
# and the measured worst relative error is ~1e-7. 1e-5 leaves margin; a wrong
# backward anywhere in the chain is off by O(1).
MODEL_RTOL = 1e-5


def test_tiny_vae_full_gradient_check(rng):
    model = _off_the_kinks(tiny_vae(reconstruction_weight=500.0, beta=2.0), rng)
    x = _images(rng, 3)
    eps = rng.standard_normal((3, 2))
    report = check_model(model, x, eps=eps, rtol=MODEL_RTOL)
    assert report.passed, str(report)
    assert len(report) == len(model.named_params()) == 16


def test_book_vae_gradient_check_on_sampled_entries(rng):
    model = _off_the_kinks(fashion_vae(seed=1, dtype="float64"), rng)
    x = _images(rng, 2, (32, 32, 1))
    report = check_model(model, x, eps=rng.standard_normal((2, 2)), rtol=MODEL_RTOL,
                         max_entries=4, rng=rng)
    assert report.passed, str(report)
    assert {r.name for r in report} == set(model.named_params())


def test_autoencoder_gradient_check_on_sampled_entries(rng):
    model = _off_the_kinks(fashion_autoencoder(seed=2, dtype="float64"), rng)
    # The autoencoder's loss is ~0.7 while its encoder gradients are ~1e-6 at
    # initialisation, so the central difference's rounding floor is
    # 2.2e-16 * 0.7 / (1e-6 step * 1e-6 gradient) ~ 1.5e-4 of the gradient's scale
    # (measured: 5.8e-5 at step 1e-6, worse at 1e-7 and at 1e-5). 3e-4 sits just above
    # that floor; a wrong backward is still off by O(1).
    report = check_model(model, _images(rng, 2, (32, 32, 1)), rtol=3e-4, max_entries=4,
                         rng=rng)
    assert report.passed, str(report)


def test_losses_are_the_books(rng):
    """total = 500 * mean_n mean_pixels BCE + beta * mean_n sum_d KL, computed directly."""
    model = tiny_vae(reconstruction_weight=500.0, beta=3.0)
    x = _images(rng, 4)
    eps = rng.standard_normal((4, 2))
    metrics = model.forward_backward(x, eps=eps)
    z_mean, z_log_var = model.encoder.encode(x)
    p = expit(model.decoder.forward(z_mean + np.exp(0.5 * z_log_var) * eps))   # from logits
    p = np.clip(p, 1e-7, 1 - 1e-7)
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).mean(axis=(1, 2, 3))
    kl = (-0.5 * (1 + z_log_var - z_mean ** 2 - np.exp(z_log_var))).sum(axis=1)
    # Same float64 arithmetic in another order: agreement to ~1e-12 relative.
    assert metrics["reconstruction_loss"] == pytest.approx(500 * bce.mean(), rel=1e-12)
    assert metrics["kl_loss"] == pytest.approx(kl.mean(), rel=1e-12)
    assert metrics["total_loss"] == pytest.approx(500 * bce.mean() + 3.0 * kl.mean(), rel=1e-12)


def test_forward_backward_changes_no_parameter(rng):
    model = tiny_vae()
    before = {k: v.copy() for k, v in model.named_params().items()}
    model.forward_backward(_images(rng, 2))
    for k, v in model.named_params().items():
        np.testing.assert_array_equal(v, before[k])
    assert set(model.named_grads()) == set(before)


def test_named_params_are_the_layers_arrays():
    model = fashion_vae(seed=0)
    params = model.named_params()
    assert params["conv2d/kernel"] is model.encoder.get_layer("conv2d").params["kernel"]
    assert params["conv2d_3/kernel"].shape == (3, 3, 32, 1)
    assert params["conv2d_transpose/kernel"].shape == (3, 3, 128, 128)


def test_train_step_lowers_the_loss_on_a_fixed_batch(rng):
    model = fashion_vae(seed=3)
    model.compile(Adam(learning_rate=5e-4))
    x = rng.random((16, 32, 32, 1)).astype(np.float32) ** 3
    first = model.train_step(x)["total_loss"]
    for _ in range(15):
        last = model.train_step(x)["total_loss"]
    assert last < first
    assert model.named_params()["conv2d/kernel"].dtype == np.float32


def test_float32_model_agrees_with_float64(rng):
    model = fashion_vae(seed=4)
    x = rng.random((4, 32, 32, 1))
    eps = rng.standard_normal((4, 2))
    m32 = model.forward_backward(x.astype(np.float32), eps=eps.astype(np.float32))
    g32 = {k: v.copy() for k, v in model.named_grads().items()}
    model.astype("float64")
    m64 = model.forward_backward(x, eps=eps)
    # float32 rounding (6e-8) accumulated over sums of ~1e4 terms: 1e-4 relative on the
    # loss and 1e-3 on each gradient's scale is what float32 accuracy means here.
    assert m32["total_loss"] == pytest.approx(m64["total_loss"], rel=1e-4)
    for k, g in model.named_grads().items():
        scale = np.abs(g).max()
        assert np.abs(g32[k] - g).max() <= 1e-3 * scale + 1e-7, k


def test_encode_decode_generate_reconstruct_shapes(rng):
    model = fashion_vae(seed=5)
    x = (rng.random((7, 32, 32, 1)) * 255).astype(np.uint8)     # uint8 pixels accepted
    z_mean, z_log_var = model.encode(x, batch_size=3)
    assert z_mean.shape == z_log_var.shape == (7, 2) and z_mean.dtype == np.float32
    assert model.decode(z_mean).shape == (7, 32, 32, 1)
    assert model.reconstruct(x).shape == (7, 32, 32, 1)
    assert model.reconstruct(x, sample=True).shape == (7, 32, 32, 1)
    images = model.generate(5, np.random.default_rng(0))
    assert images.shape == (5, 32, 32, 1) and 0 <= images.min() and images.max() <= 1
    ae = fashion_autoencoder(seed=5)
    assert ae.encode(x).shape == (7, 2) and ae.reconstruct(x).shape == (7, 32, 32, 1)


def test_autoencoder_metrics(rng):
    model = fashion_autoencoder(seed=6)
    metrics = model.forward_backward(rng.random((3, 32, 32, 1)).astype(np.float32))
    assert set(metrics) == {"total_loss", "reconstruction_loss"}
    assert metrics["total_loss"] == metrics["reconstruction_loss"]


@pytest.mark.parametrize("call,exc,match", [
    (lambda m: m.forward_backward(np.zeros((2, 28, 28, 1), np.float32)), ValueError,
     r"shape \(N, 32, 32, 1\) for this model, got \(2, 28, 28, 1\)"),
    (lambda m: m.forward_backward(np.full((2, 32, 32, 1), np.nan, np.float32)), ValueError,
     "NaN"),
    (lambda m: m.forward_backward(np.zeros((2, 32, 32, 1), np.int64)), TypeError,
     "uint8 pixels, got dtype int64"),
    (lambda m: m.decode(np.zeros((2, 3), np.float32)), ValueError, r"shape \(N, 2\)"),
    (lambda m: m.train_step(np.zeros((2, 32, 32, 1), np.float32)), RuntimeError, "compile"),
    (lambda m: m.compile("adam"), TypeError, "apply_gradients"),
    (lambda m: m.generate(0), ValueError, "n must be a positive integer"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call(fashion_vae(seed=0))


def test_bad_constructor_arguments():
    enc = GaussianEncoder([Flatten()], 2)
    dec = Sequential([Dense(4), Reshape((2, 2, 1))])
    with pytest.raises(ValueError, match="beta must be a finite number >= 0"):
        VAE(enc, dec, beta=-1)
    with pytest.raises(ValueError, match="unknown reconstruction_loss 'l1'"):
        VAE(enc, dec, reconstruction_loss="l1")
    with pytest.raises(TypeError, match="GaussianEncoder"):
        VAE(Sequential([Flatten()]), dec)
    with pytest.raises(ValueError, match="decoder outputs"):
        Autoencoder(Sequential([Flatten(), Dense(2)]), Sequential([Dense(4)])).build((2, 2, 1))


def test_bce_is_scored_from_the_logits_as_keras_does(rng):
    """A saturated sigmoid (logit +40: p == 1 in float64) must keep a finite loss and a
    non-zero gradient, as Keras's BCE on a sigmoid's output does; the 1e-7 clip on
    probabilities would cap the loss and zero the gradient there."""
    model = tiny_vae(reconstruction_weight=1.0, beta=0.0)
    head = model.decoder.layers[-1]
    assert head.activation is None and isinstance(model.output_activation, Sigmoid)
    head.params["bias"][:] = 40.0
    x = np.zeros((2, 8, 8, 1))
    eps = rng.standard_normal((2, 2))
    metrics = model.forward_backward(x, eps=eps)
    # Direct formula from the logits: BCE(0, sigmoid(l)) = softplus(l) ~ l for l ~ 40.
    z = model.encoder.encode(x)
    zz = z[0] + np.exp(0.5 * z[1]) * eps
    logits = model.decoder.forward(zz)
    np.testing.assert_array_equal(model.decode(zz, logits=True), logits)
    expected = np.logaddexp(0, logits).mean()
    assert metrics["reconstruction_loss"] == pytest.approx(expected, rel=1e-12)
    assert metrics["reconstruction_loss"] > 30                  # not capped at -log(1e-7) = 16.1
    assert np.abs(model.named_grads()["out/bias"]).max() > 0.5  # d/dl mean softplus(l) ~ 1
    # decode applies the model's sigmoid: probabilities.
    np.testing.assert_allclose(model.decode(zz), expit(logits), rtol=1e-15)


def test_a_decoders_final_sigmoid_becomes_the_models_output_activation():
    """Given a decoder ending in a fused sigmoid (as Keras code writes it), the model
    takes the sigmoid over once, at construction: nothing is switched at run time."""
    head = Conv2D(1, 3, padding="same", activation="sigmoid")
    decoder = Sequential([Dense(8 * 8), Reshape((8, 8, 1)), head])
    model = Autoencoder(Sequential([Flatten(), Dense(2)]), decoder)
    assert head.activation is None and isinstance(model.output_activation, Sigmoid)
    with pytest.raises(ValueError, match="already ends in a sigmoid"):
        Autoencoder(Sequential([Flatten(), Dense(2)]),
                    Sequential([Dense(64, activation="sigmoid")]), output_activation="sigmoid")
    with pytest.raises(ValueError, match="output_activation must be None or 'sigmoid'"):
        Autoencoder(Sequential([Flatten(), Dense(2)]), Sequential([Dense(64)]),
                    output_activation="relu")
    plain = Autoencoder(Sequential([Flatten(), Dense(2)]), Sequential([Dense(4),
                                                                         Reshape((2, 2, 1))]))
    plain.build((2, 2, 1), rng=np.random.default_rng(0))
    assert plain.output_activation is None
    with pytest.raises(ValueError, match="logits=True needs a model whose decoder ends in"):
        plain.decode(np.zeros((1, 2), np.float32), logits=True)


def test_mse_with_a_sigmoid_output_scores_the_probabilities(rng):
    """The faces VAE's loss: MSE of sigmoid(logits), its gradient through the sigmoid."""
    model = tiny_vae(reconstruction_loss="mse", reconstruction_weight=7.0, beta=0.0)
    x, eps = _images(rng, 3), rng.standard_normal((3, 2))
    metrics = model.forward_backward(x, eps=eps)
    z_mean, z_log_var = model.encoder.encode(x)
    p = expit(model.decoder.forward(z_mean + np.exp(0.5 * z_log_var) * eps))
    # float64, the same sums in another order
    assert metrics["reconstruction_loss"] == pytest.approx(7.0 * np.mean((p - x) ** 2),
                                                           rel=1e-12)


def test_models_are_exported_at_the_top():
    import minivae
    from minivae.models import Autoencoder, VAE
    assert minivae.VAE is VAE and minivae.Autoencoder is Autoencoder


@pytest.mark.parametrize("index, make, error, message", [
    (-1, lambda w: np.zeros(3), InputError,
     r"VAE.set_weights: \w+/bias must have shape \(\d+,\), got \(3,\)"),
    (0, lambda w: np.full(w.shape, np.nan), InputError,
     r"conv2d/kernel holds 288 non-finite value\(s\)"),
    (0, lambda w: w.astype(complex), InputTypeError,
     r"conv2d/kernel must be an array of real numbers, got dtype complex128"),
    (0, lambda w: None, InputTypeError,
     r"conv2d/kernel must be an array of real numbers, got None"),
    (0, lambda w: np.ones(w.shape, bool), InputTypeError,
     r"conv2d/kernel must be an array of real numbers, got dtype bool"),
], ids=["last-shape", "nan", "complex", "none", "bool"])
def test_set_weights_is_all_or_nothing(index, make, error, message):
    """Issue 22: with the last array's shape wrong, set_weights raised after overwriting
    the whole encoder; every refusal now leaves every array as it was."""
    model = fashion_vae(seed=0)
    before = model.get_weights()
    weights = [w * 2 for w in before]           # every array would change if applied
    weights[index] = make(weights[index])
    with pytest.raises(error, match=message):
        model.set_weights(weights)
    for got, want in zip(model.get_weights(), before):
        np.testing.assert_array_equal(got, want)


def test_set_weights_counts_the_arrays_and_takes_integers():
    model = fashion_vae(seed=0)
    weights = model.get_weights()
    with pytest.raises(InputError, match=r"expected \d+ arrays \(the encoder's \d+, then the "
                                         r"decoder's\), got \d+"):
        model.set_weights(weights[:-1])
    model.set_weights([np.ones(w.shape, dtype=np.int64) for w in weights])
    assert all(np.all(w == 1) and w.dtype == np.float32 for w in model.get_weights())


def _flat_decoder(spelling):
    """A decoder 2 -> (4, 4, 1) ending in a sigmoid, spelled one of three ways."""
    if spelling == "fused":
        return Sequential([Dense(16, activation="sigmoid", name="out"), Reshape((4, 4, 1))])
    if spelling == "layer before reshape":
        return Sequential([Dense(16, name="out"), Sigmoid(), Reshape((4, 4, 1))])
    return Sequential([Dense(16, name="out"), Reshape((4, 4, 1)), Sigmoid()])


def test_a_sigmoid_written_three_ways_is_the_same_output_activation():
    """Issue 21: a decoder ending in a Sigmoid layer (before or after a Reshape) kept it,
    and BCE was then scored on clipped probabilities: another loss and gradient where
    the sigmoid saturates. All three spellings now give one model: the decoder ends in
    logits and the model's sigmoid is scored from them."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0.05, 0.95, size=(5, 4, 4, 1))
    eps = rng.standard_normal((5, 2))
    results = []
    for spelling in ("fused", "layer before reshape", "layer after reshape"):
        encoder = GaussianEncoder([Flatten(), Dense(8, activation="relu", name="h")], 2)
        model = VAE(encoder, _flat_decoder(spelling))
        model.build((4, 4, 1), rng=np.random.default_rng(1), dtype="float64")
        model.named_params()["out/bias"][:] = 30.0          # saturated: p == 1 in float64
        assert isinstance(model.output_activation, Sigmoid)
        assert not any(isinstance(layer, Sigmoid) for layer in model.decoder.layers)
        assert model.decoder.layers[0].activation is None
        metrics = model.forward_backward(x, eps=eps)
        results.append((metrics, {k: v.copy() for k, v in model.named_grads().items()}))
    (first, grads), *others = results
    # Logits near 30: BCE from them is about (1 - x) * 30 per pixel, where probabilities
    # clipped at 1 - 1e-7 would score at most (1 - x) * -log(1e-7) = (1 - x) * 16.1.
    clipped_cap = 500 * np.mean(1 - x) * -np.log(1e-7)
    assert first["reconstruction_loss"] > 1.5 * clipped_cap
    for metrics, other in others:
        # the same products in the same order: equal to the last bit, allowed 1e-12
        assert metrics == pytest.approx(first, rel=1e-12)
        assert set(other) == set(grads)
        for k in grads:
            np.testing.assert_allclose(other[k], grads[k], rtol=1e-12, atol=0, err_msg=k)


def test_a_sigmoid_given_twice_is_refused_and_none_is_warned_about():
    with pytest.raises(InputError, match=r"already ends in a Sigmoid layer \(Sigmoid"):
        VAE(GaussianEncoder([Flatten()], 2), _flat_decoder("layer after reshape"),
            output_activation="sigmoid")
    with pytest.warns(OutputActivationWarning, match=r"VAE: reconstruction_loss='bce' on the "
                                                     r"decoder's own output, which ends in "
                                                     r"Dense 'out' with no sigmoid"):
        VAE(GaussianEncoder([Flatten()], 2),
            Sequential([Dense(16, name="out"), Reshape((4, 4, 1))]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # MSE on raw outputs is a choice, not a slip
        VAE(GaussianEncoder([Flatten()], 2),
            Sequential([Dense(16, name="out"), Reshape((4, 4, 1))]), reconstruction_loss="mse")


def test_a_model_shows_what_it_is_when_a_notebook_echoes_it():
    """Issue 21: compile() returns the model (calls chain), so a notebook cell ending in
    it echoed <minivae.models.vae.VAE object at 0x...>; it now says what the model is."""
    model = tiny_vae(seed=0)
    assert repr(model) == "<VAE 'vae': 444 parameters, input (8, 8, 1), latent 2>"
    assert repr(model.compile(Adam(learning_rate=1e-3))).endswith(
        "latent 2, Adam(learning_rate=0.001)>")
    assert "not built" in repr(VAE(GaussianEncoder([Flatten()], 2), Sequential([Dense(4)])))
