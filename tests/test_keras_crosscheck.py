"""minivae against the real Keras 3 (TensorFlow backend), same weights, same inputs.

Runs only where TensorFlow is importable (the tests skip cleanly elsewhere) and
is never the only proof of anything: every property here is also proved by the
tests that need no Keras (finite differences, slow references). What this file
adds is the reading of Keras itself: layouts, padding, output sizes, update
rules and clipping as the installed Keras does them.

    /opt/tfvenv/bin/python -m pytest -q tests/test_keras_crosscheck.py

Weights are made by minivae and copied into Keras (the layouts are meant to
be identical, so the copy is a plain set_weights after a shape check).
Comparisons run in float64 unless a test says otherwise, with the error
measured as max|a - b| / max(max|a|, max|b|) (the metric of minivae.gradcheck).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import numpy as np  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from minivae import architectures  # noqa: E402
from minivae.layers import (BatchNormalization, Conv2D, Conv2DTranspose, Dense,  # noqa: E402
                            LeakyReLU)
from minivae.layers.initializers import (TRUNCATED_STDDEV, get_initializer,  # noqa: E402
                                         glorot_uniform, serialize)
from minivae.losses import binary_crossentropy, binary_crossentropy_from_logits  # noqa: E402
from minivae.optimizers import Adam  # noqa: E402
from tests import keras_book  # noqa: E402

# float64 on both sides: the same products summed in (possibly) another order.
# Layer values are O(1) sums of at most a few hundred terms, so rounding stays
# near 1e-15; 1e-11 leaves room while any real disagreement (a shifted tap, a
# wrong pad) shows errors of order 1.
F64_RTOL = 1e-11


def rel_err(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape}"
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0))
    return 0.0 if scale == 0 else float(np.max(np.abs(a - b)) / scale)


def keras_call_and_grads(layer, x, dy, **call_kwargs):
    """y = layer(x), and the gradients of <y, dy> for x and each trainable weight."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, **call_kwargs)
        objective = tf.reduce_sum(y * dy) if dy is not None else tf.reduce_sum(y)
    grads = tape.gradient(objective, [x, *layer.trainable_weights])
    return y.numpy(), grads[0].numpy(), [g.numpy() for g in grads[1:]]


def copy_weights(ours, theirs):
    """Our params then state, in order, into a built Keras layer (shapes must match)."""
    values = list(ours.params.values()) + list(ours.state.values())
    assert [v.shape for v in values] == [tuple(w.shape) for w in theirs.weights], \
        f"{ours}: weight layouts differ from Keras's {theirs.name}"
    theirs.set_weights(values)


# ------------------------------------------------------------- convolutions --

def _algorithms(cls):
    """None (the reference: the layer's own forward and backward) and the name of every
    fast kernel for the class (minivae/fast/conv.py)."""
    from minivae.fast import conv as kernels
    names = {Conv2D: ["Conv2DIm2col", "Conv2DTaps"],
             Conv2DTranspose: ["TransposeScatter", "TransposePhase"]}[cls]
    assert all(hasattr(kernels, name) for name in names)
    return [None] + names


SIZES = [(7, 7), (8, 8), (5, 9)]        # odd, even, rectangular
CONV_GRID = [((k, k), (s, s), padding, hw) for padding in ("same", "valid")
             for s in (1, 2, 3) for k in (1, 2, 3, 4) for hw in SIZES]
CONV_GRID += [((2, 3), (1, 2), p, (6, 7)) for p in ("same", "valid")]    # rectangular kernel
CONV_GRID += [((4, 1), (3, 1), p, (9, 5)) for p in ("same", "valid")]    # and strides
CONV_GRID += [((3, 2), (2, 3), p, (8, 10)) for p in ("same", "valid")]
CASES = [pytest.param(cls, alg, *case, id=f"{cls.__name__}-{alg}-k{case[0]}-s{case[1]}-"
                      f"{case[2]}-{case[3][0]}x{case[3][1]}")
         for cls in (Conv2D, Conv2DTranspose) for alg in _algorithms(cls) for case in CONV_GRID]


def _check_conv(cls, algorithm, kernel, strides, padding, hw, batch=2, channels=3, filters=4,
                seed=0, output_padding=None):
    rng = np.random.default_rng(seed)
    extra = {} if output_padding is None else {"output_padding": output_padding}
    ours = cls(filters, kernel, strides=strides, padding=padding, **extra)
    out_shape = ours.build((*hw, channels), rng=rng, dtype="float64")
    ours.params["bias"] = rng.standard_normal(filters)
    theirs = getattr(keras.layers, cls.__name__)(filters, kernel, strides=strides,
                                                 padding=padding, dtype="float64", **extra)
    theirs.build((None, *hw, channels))
    assert tuple(theirs.compute_output_shape((None, *hw, channels)))[1:] == out_shape
    copy_weights(ours, theirs)

    x = rng.standard_normal((batch, *hw, channels))
    dy = rng.standard_normal((batch, *out_shape))
    y_k, dx_k, (dW_k, db_k) = keras_call_and_grads(theirs, x, dy)
    if algorithm is None:
        forward, backward = ours.forward, ours.backward
    else:
        from minivae.fast import conv as kernels
        kernel = getattr(kernels, algorithm)
        cache = {}                  # what minivae.fast keeps for the layer between the two
        forward = lambda x: kernel.forward(ours, x, True, cache)  # noqa: E731
        backward = lambda d: kernel.backward(ours, d, cache)  # noqa: E731
    y = forward(x)
    assert y.shape == y_k.shape
    assert rel_err(y, y_k) < F64_RTOL
    dx = backward(dy)
    assert rel_err(dx, dx_k) < F64_RTOL
    assert rel_err(ours.grads["kernel"], dW_k) < F64_RTOL
    assert rel_err(ours.grads["bias"], db_k) < F64_RTOL


@pytest.mark.parametrize("cls, algorithm, kernel, strides, padding, hw", CASES)
def test_convolutions_match_keras(cls, algorithm, kernel, strides, padding, hw):
    """Output shape, output, input gradient and weight gradients equal Keras's."""
    _check_conv(cls, algorithm, kernel, strides, padding, hw)


@settings(max_examples=25)
@given(transpose=st.booleans(), kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       strides=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       padding=st.sampled_from(["same", "valid"]),
       hw=st.tuples(st.integers(4, 11), st.integers(4, 11)), batch=st.integers(1, 3),
       channels=st.integers(1, 5), filters=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_convolutions_match_keras_on_random_shapes(transpose, kernel, strides, padding, hw,
                                                   batch, channels, filters, seed):
    _check_conv(Conv2DTranspose if transpose else Conv2D, None, kernel, strides, padding, hw,
                batch, channels, filters, seed)


# Keras's output_padding on 'same' and 'valid': its output length and TensorFlow's crop
# (the 'same' padding of the Conv2D reading the output). Even kernels with 'same' take
# output_padding >= 1, as TensorFlow refuses 0 there (tests/test_conv.py).
OUTPUT_PADDING_GRID = [(k, s, padding, op, hw) for k in (1, 2, 3, 4) for s in (1, 2, 3)
                       for padding in ("same", "valid") for op in range(s)
                       for hw in ((5, 6),) if not (padding == "same" and k % 2 == 0 and op == 0)]


@pytest.mark.parametrize("algorithm", _algorithms(Conv2DTranspose))
@pytest.mark.parametrize("k, s, padding, op, hw", OUTPUT_PADDING_GRID)
def test_conv2d_transpose_output_padding_matches_keras(algorithm, k, s, padding, op, hw):
    _check_conv(Conv2DTranspose, algorithm, (k, k), (s, s), padding, hw, output_padding=op)


# ------------------------------------------------------- dense, activations --

@pytest.mark.parametrize("activation", [None, "relu", "sigmoid"])
def test_dense_matches_keras(activation):
    rng = np.random.default_rng(3)
    ours = Dense(7, activation=activation)
    ours.build((5,), rng=rng, dtype="float64")
    ours.params["bias"] = rng.standard_normal(7)
    theirs = keras.layers.Dense(7, activation=activation, dtype="float64")
    theirs.build((None, 5))
    copy_weights(ours, theirs)
    x, dy = rng.standard_normal((6, 5)), rng.standard_normal((6, 7))
    y_k, dx_k, (dW_k, db_k) = keras_call_and_grads(theirs, x, dy)
    assert rel_err(ours.forward(x), y_k) < F64_RTOL
    assert rel_err(ours.backward(dy), dx_k) < F64_RTOL
    assert rel_err(ours.grads["kernel"], dW_k) < F64_RTOL
    assert rel_err(ours.grads["bias"], db_k) < F64_RTOL


def test_leaky_relu_matches_keras_default_slope():
    rng = np.random.default_rng(4)
    x, dy = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    ours = LeakyReLU()
    ours.build((6,), dtype="float64")
    y_k, dx_k, _ = keras_call_and_grads(keras.layers.LeakyReLU(dtype="float64"), x, dy)
    # TensorFlow's LeakyRelu op keeps its slope in a 32-bit float attribute even for
    # float64 data: Keras multiplies by float32(0.3) = 0.30000001192..., 4e-8 off 0.3.
    slope_rtol = 1e-7
    assert rel_err(ours.forward(x), y_k) < slope_rtol
    assert rel_err(ours.backward(dy), dx_k) < slope_rtol


# ------------------------------------------------------- batch normalization --

@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 5, 6)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_normalization_matches_keras(shape, training):
    """Output and gradients in both modes; the moving statistics after one training call."""
    rng = np.random.default_rng(5)
    channels = shape[-1]
    ours = BatchNormalization()
    ours.build(shape[1:], dtype="float64")
    ours.params["gamma"] = rng.uniform(0.5, 1.5, channels)
    ours.params["beta"] = rng.standard_normal(channels)
    ours.state["moving_mean"][...] = rng.standard_normal(channels)
    ours.state["moving_variance"][...] = rng.uniform(0.5, 2.0, channels)
    theirs = keras.layers.BatchNormalization(dtype="float64")
    theirs.build((None, *shape[1:]))
    copy_weights(ours, theirs)
    assert (theirs.momentum, theirs.epsilon) == (ours.momentum, ours.epsilon)

    x = 3 + 2 * rng.standard_normal(shape)
    dy = rng.standard_normal(shape)
    y_k, dx_k, (dgamma_k, dbeta_k) = keras_call_and_grads(theirs, x, dy, training=training)
    assert rel_err(ours.forward(x, training=training), y_k) < F64_RTOL
    assert rel_err(ours.backward(dy), dx_k) < F64_RTOL
    assert rel_err(ours.grads["gamma"], dgamma_k) < F64_RTOL
    assert rel_err(ours.grads["beta"], dbeta_k) < F64_RTOL
    # after one call: updated by the batch's statistics in training, untouched in inference
    assert rel_err(ours.state["moving_mean"], theirs.moving_mean.numpy()) < F64_RTOL
    assert rel_err(ours.state["moving_variance"], theirs.moving_variance.numpy()) < F64_RTOL


# ---------------------------------------------------------- the book's models --

BOOK_COUNTS = {"fashion_vae": (100_868, 246_273), "faces_vae": (253_584, 240_131)}


@pytest.mark.parametrize("name", sorted(BOOK_COUNTS))
def test_book_models_have_keras_counts_layouts_and_shapes(name):
    """count_params, each weighted layer's weight shapes, each layer's output shape."""
    ours = getattr(architectures, name)(seed=0)
    enc_k, dec_k = getattr(keras_book, name)()
    assert (enc_k.count_params(), dec_k.count_params()) == BOOK_COUNTS[name]
    assert (ours.encoder.count_params(), ours.decoder.count_params()) == BOOK_COUNTS[name]
    for seq, model in ((ours.encoder, enc_k), (ours.decoder, dec_k)):
        weighted = [layer for layer in seq.layers if layer.params or layer.state]
        assert len(weighted) == len(keras_book.weighted_layers(model))
        for a, b in zip(weighted, keras_book.weighted_layers(model)):
            values = list(a.params.values()) + list(a.state.values())
            assert [v.shape for v in values] == [tuple(w.shape) for w in b.weights], a.name
        # the Keras layers after the Input, in order, against ours (Sampling has no twin)
        shapes_k = [tuple(layer.output.shape[1:]) for layer in model.layers[1:]]
        shapes = [layer.output_shape for layer in seq.layers
                  if type(layer).__name__ != "Sampling"]
        assert shapes == shapes_k


def _fashion_pair(seed=0):
    """minivae's fashion_vae in float64 and the book's Keras model with the same weights."""
    rng = np.random.default_rng(seed)
    ours = architectures.fashion_vae(seed=seed, dtype="float64")
    for layer in ours.encoder.layers + ours.decoder.layers:
        if "bias" in layer.params:      # non-zero biases, so a misplaced bias shows
            layer.params["bias"][...] = 0.05 * rng.standard_normal(layer.params["bias"].shape)
    enc_k, dec_k = keras_book.fashion_vae(dtype="float64")
    pairs = []
    for seq, model in ((ours.encoder, enc_k), (ours.decoder, dec_k)):
        weighted = [layer for layer in seq.layers if layer.params]
        assert len(weighted) == len(keras_book.weighted_layers(model))
        for a, b in zip(weighted, keras_book.weighted_layers(model)):
            copy_weights(a, b)
            pairs.append((a, b))
    return ours, enc_k, dec_k, pairs


def _book_loss_and_grads(enc_k, dec_k, x, eps, weights):
    """The book's train_step loss (eps held fixed) and its gradients, in Keras."""
    with tf.GradientTape() as tape:
        z_mean, z_log_var = enc_k(x)
        z = z_mean + tf.exp(0.5 * z_log_var) * eps
        reconstruction = dec_k(z)
        reconstruction_loss = tf.reduce_mean(
            500 * keras.losses.binary_crossentropy(x, reconstruction, axis=(1, 2, 3)))
        kl_loss = tf.reduce_mean(tf.reduce_sum(
            -0.5 * (1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var)), axis=1))
        total_loss = reconstruction_loss + kl_loss
    grads = tape.gradient(total_loss, weights)
    return ({"total_loss": float(total_loss), "reconstruction_loss": float(reconstruction_loss),
             "kl_loss": float(kl_loss)}, [g.numpy() for g in grads])


def _compare_vae(ours, enc_k, dec_k, pairs, x, eps):
    metrics = ours.forward_backward(x, eps=eps)
    weights = [w for _, b in pairs for w in b.trainable_weights]
    metrics_k, grads_k = _book_loss_and_grads(enc_k, dec_k, tf.constant(x), tf.constant(eps),
                                              weights)
    for key in metrics_k:
        assert rel_err(metrics[key], metrics_k[key]) < F64_RTOL, key
    grads = [(f"{a.name}/{k}", a.grads[k]) for a, _ in pairs for k in a.params]
    assert len(grads) == len(grads_k) == 20
    for (name, g), g_k in zip(grads, grads_k):
        assert rel_err(g, g_k) < 1e-9, name     # through ~10 layers: a little more rounding


def test_fashion_vae_loss_and_every_gradient_match_the_books_keras_train_step():
    """The whole model: the three losses and all 20 parameter gradients, eps fixed."""
    ours, enc_k, dec_k, pairs = _fashion_pair()
    rng = np.random.default_rng(6)
    x = rng.random((6, 32, 32, 1))
    eps = rng.standard_normal((6, 2))
    _compare_vae(ours, enc_k, dec_k, pairs, x, eps)


def test_fashion_vae_matches_keras_when_the_decoder_saturates():
    ours, enc_k, dec_k, pairs = _fashion_pair()
    last, last_k = pairs[-1]
    last.params["bias"][...] = 40.0        # sigmoid(40 + ...) rounds to 1.0 in float64
    last_k.set_weights([last.params["kernel"], last.params["bias"]])
    rng = np.random.default_rng(7)
    _compare_vae(ours, enc_k, dec_k, pairs, rng.random((4, 32, 32, 1)),
                 rng.standard_normal((4, 2)))


@pytest.mark.parametrize("training", [False, True])
def test_faces_vae_encoder_and_decoder_match_keras(training):
    """BatchNormalization, LeakyReLU and the stride-1 transpose, end to end."""
    rng = np.random.default_rng(8)
    ours = architectures.faces_vae(seed=0, dtype="float64")
    enc_k, dec_k = keras_book.faces_vae(dtype="float64")
    for seq, model in ((ours.encoder, enc_k), (ours.decoder, dec_k)):
        weighted = [layer for layer in seq.layers if layer.params or layer.state]
        for a, b in zip(weighted, keras_book.weighted_layers(model)):
            # fresh statistics and affine terms, so that both BN modes have work to do
            for key, value in {**a.params, **a.state}.items():
                if key in ("gamma", "moving_variance"):
                    value[...] = rng.uniform(0.5, 1.5, value.shape)
                elif key != "kernel":
                    value += 0.1 * rng.standard_normal(value.shape)
            copy_weights(a, b)
    # Keras's LeakyReLU multiplies by float32(0.3) (see the LeakyReLU test): 4e-8 relative
    # per layer, through 5 or 6 of them
    rtol = 1e-6
    x = rng.random((4, 64, 64, 3))
    z_mean, z_log_var = ours.encoder.encode(x, training=training)
    z_mean_k, z_log_var_k = enc_k(x, training=training)
    assert rel_err(z_mean, z_mean_k) < rtol
    assert rel_err(z_log_var, z_log_var_k) < rtol
    z = rng.standard_normal((4, 200))
    # the decoder returns logits; the model applies the sigmoid Keras's last layer has
    images = ours.output_activation._forward(ours.decoder.forward(z, training=training))
    assert rel_err(images, dec_k(z, training=training)) < rtol
    norms = [layer for layer in ours.encoder.layers + ours.decoder.layers if layer.state]
    norms_k = [layer for model in (enc_k, dec_k) for layer in model.layers
               if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == len(norms_k) == 11
    for a, b in zip(norms, norms_k):
        assert rel_err(a.state["moving_mean"], b.moving_mean.numpy()) < rtol
        assert rel_err(a.state["moving_variance"], b.moving_variance.numpy()) < rtol


# ------------------------------------------------------------------- losses --

def _bce_inputs(rng, shape=(3, 4, 4, 2)):
    y_true = rng.random(shape)
    y_true.flat[:4] = [0.0, 1.0, 0.0, 1.0]
    y_pred = rng.random(shape)
    # on, inside and outside the clip bounds [1e-7, 1 - 1e-7], and the extremes
    y_pred.flat[:8] = [0.0, 1.0, 1e-9, 1 - 1e-9, 1e-7, 1 - 1e-7, 2e-7, 1 - 2e-7]
    return y_true, y_pred


def test_bce_matches_keras_on_probabilities():
    """Value per sample (Keras's axis=(1, 2, 3)) and gradient, with Keras's 1e-7 clip."""
    y_true, y_pred = _bce_inputs(np.random.default_rng(9))
    per_sample, _ = binary_crossentropy(y_true, y_pred, reduction="none")
    value, grad = binary_crossentropy(y_true, y_pred)
    p = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        ell = keras.losses.binary_crossentropy(y_true, p, axis=(1, 2, 3))
        mean = tf.reduce_mean(ell)
    assert rel_err(per_sample, ell.numpy()) < F64_RTOL
    assert rel_err(value, mean.numpy()) < F64_RTOL
    assert rel_err(grad, tape.gradient(mean, p).numpy()) < F64_RTOL


def test_bce_from_logits_matches_keras():
    rng = np.random.default_rng(10)
    y_true = rng.random((3, 4, 4, 2))
    logits = 8 * rng.standard_normal((3, 4, 4, 2))
    logits.flat[:2] = [60.0, -60.0]
    value, grad = binary_crossentropy_from_logits(y_true, logits)
    l_var = tf.Variable(logits)
    with tf.GradientTape() as tape:
        mean = tf.reduce_mean(keras.losses.binary_crossentropy(y_true, l_var, from_logits=True,
                                                               axis=(1, 2, 3)))
    assert rel_err(value, mean.numpy()) < F64_RTOL
    assert rel_err(grad, tape.gradient(mean, l_var).numpy()) < F64_RTOL


def test_keras_bce_reads_the_logits_behind_a_sigmoid_layer():
    """What Keras does with the book's decoder output: BCE from the logits, no clip.

    This is the fact about Keras that minivae's models follow (models.VAE's output
    activation: the decoder returns logits and the loss reads them)
    and that the saturated-decoder test above checks end to end:
    a sigmoid layer's output carries its logits, and binary_crossentropy uses them.
    """
    layer = keras.layers.Dense(1, activation="sigmoid", dtype="float64")
    layer.build((None, 1))
    layer.set_weights([np.ones((1, 1)), np.zeros(1)])
    x, y = np.array([[20.0]]), np.zeros((1, 1))
    out = layer(x)
    from_layer = float(keras.losses.binary_crossentropy(y, out)[0])
    from_array = float(keras.losses.binary_crossentropy(y, out.numpy())[0])
    assert from_layer == pytest.approx(np.logaddexp(0, 20.0), rel=1e-12)   # log(1 + e^20)
    assert from_array == pytest.approx(-np.log(1e-7), rel=1e-6)  # clipped at 1 - 1e-7
    assert binary_crossentropy(y, out.numpy())[0] == pytest.approx(from_array, rel=1e-12)


# ---------------------------------------------------------------- optimizer --

@pytest.mark.parametrize("dtype, learning_rate, beta_1, beta_2, rtol", [
    # Learning rate and betas exact in float32: Keras keeps the learning rate in a
    # float32 variable and rounds the betas to float32 before its bias correction
    # (ops.cast of a Python float goes through a float32 tensor), so with these
    # values float64 agrees to rounding (the step is formed in another order).
    ("float64", 2.0 ** -11, 0.875, 1 - 2.0 ** -9, 1e-12),
    # The book's values: with beta_2 = 0.999 rounded to float32, Keras's 1 - beta_2**t
    # is off by ~1.3e-5 relative, and its steps differ from the exact rule's by
    # 7e-6 at t = 1 growing to 3.2e-5 at t = 5 (measured; Keras's formula with the
    # float32-rounded lr and betas reproduces its steps exactly). A wrong rule
    # would be off by O(1).
    ("float64", 5e-4, 0.9, 0.999, 1e-4),
    ("float32", 5e-4, 0.9, 0.999, 1e-4),
])
def test_adam_steps_match_keras(dtype, learning_rate, beta_1, beta_2, rtol):
    """Five steps on the same gradients: every step (p_after - p_before) agrees."""
    rng = np.random.default_rng(11)
    shapes = {"kernel": (3, 4), "bias": (4,)}
    params = {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}
    variables = {k: keras.Variable(v.copy(), dtype=dtype) for k, v in params.items()}
    ours = Adam(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2)
    theirs = keras.optimizers.Adam(learning_rate, beta_1=beta_1, beta_2=beta_2)
    assert theirs.epsilon == ours.epsilon == 1e-7
    for step in range(5):
        # varying scales, signs and a zero, so m and v both move away from g
        grads = {k: (rng.standard_normal(s) * 10.0 ** (step - 2)).astype(dtype)
                 for k, s in shapes.items()}
        grads["bias"][0] = 0.0
        before = {k: v.copy() for k, v in params.items()}
        ours.apply_gradients(params, grads)
        theirs.apply_gradients([(tf.constant(grads[k]), variables[k]) for k in shapes])
        for k in shapes:
            assert params[k].dtype == np.dtype(dtype)
            step_k = variables[k].numpy().astype(np.float64) - before[k]
            step_ours = params[k].astype(np.float64) - before[k]
            if dtype == "float32":   # a float32 step is only known to the parameter's ulp
                np.testing.assert_allclose(params[k], variables[k].numpy(), rtol=1e-6)
            else:
                assert rel_err(step_ours, step_k) < rtol, (step, k)


# -------------------------------------------------------------- initializers --

@pytest.mark.parametrize("cls, units, in_shape, shape", [
    (Dense, 2, (2048,), (2048, 2)),
    (Conv2D, 128, (8, 8, 64), (3, 3, 64, 128)),
    (Conv2DTranspose, 32, (8, 8, 64), (3, 3, 32, 64)),
])
def test_glorot_uniform_limit_and_kernel_layout_match_keras(cls, units, in_shape, shape):
    """Both draw U(-L, L) with the same L (the extremes of a large sample pin it
    down), into kernels of the same shape."""
    receptive = int(np.prod(shape[:-2]))
    limit = np.sqrt(6.0 / (receptive * (shape[-2] + shape[-1])))
    ours = glorot_uniform(shape, np.random.default_rng(12), "float64")
    theirs = keras.initializers.GlorotUniform(seed=0)(shape, dtype="float64").numpy()
    # With n >= 4096 draws, P(max|w| < L (1 - 0.005)) = (1 - 0.005)^n < 1e-8.
    for sample in (ours, theirs):
        assert limit * (1 - 0.005) < np.abs(sample).max() <= limit
    layer = cls(units) if cls is Dense else cls(units, 3)
    layer.build(in_shape, rng=np.random.default_rng(0))
    layer_k = getattr(keras.layers, cls.__name__)(*((units,) if cls is Dense else (units, 3)))
    layer_k.build((None, *in_shape))
    assert layer.params["kernel"].shape == tuple(layer_k.kernel.shape) == shape


# Keras's draws, pooled over seeds, against the definitions minivae follows
# (tests/test_initializers.py proves minivae's draws against the same): the variance
# from the fans of the kernel as laid out (a bias: its own length for both), the
# uniform bound sqrt(3) sigma, the truncation at 2 sigma. With >= 150,000 pooled draws
# the sample std errs by < 0.2% (1 sigma); 1% is 5 of those, while a wrong fan is a
# factor 2 to 9 and a missing 0.8796 is 14%.
VARIANCE = {"glorot_uniform": (1, "fan_avg", "u"), "glorot_normal": (1, "fan_avg", "t"),
            "he_uniform": (2, "fan_in", "u"), "he_normal": (2, "fan_in", "t"),
            "lecun_uniform": (1, "fan_in", "u"), "lecun_normal": (1, "fan_in", "t")}


@pytest.mark.parametrize("name", sorted(VARIANCE))
@pytest.mark.parametrize("cls, in_shape, args", [(Dense, (300,), (64,)),
                                                 (Conv2D, (8, 8, 16), (32, (3, 2))),
                                                 (Conv2DTranspose, (8, 8, 16), (32, (3, 2)))])
def test_variance_scaling_initializers_follow_keras(name, cls, in_shape, args):
    ours = cls(*args, kernel_initializer=name)
    ours.build(in_shape, rng=np.random.default_rng(0), dtype="float64")
    theirs = getattr(keras.layers, cls.__name__)(*args, kernel_initializer=name,
                                                 bias_initializer=name)
    theirs.build((None, *in_shape))
    shape = tuple(theirs.kernel.shape)
    assert shape == ours.params["kernel"].shape
    scale, mode, kind = VARIANCE[name]
    fan_in, fan_out = ours.fans()
    for weight, fans in ((shape, (fan_in, fan_out)), ((args[0],), (args[0], args[0]))):
        n = {"fan_in": fans[0], "fan_avg": (fans[0] + fans[1]) / 2}[mode]
        sigma = np.sqrt(scale / n)
        bound = np.sqrt(3) * sigma if kind == "u" else 2 * sigma / TRUNCATED_STDDEV
        calls = -(-150_000 // int(np.prod(weight)))
        init = keras.initializers.get(name)
        pooled = np.concatenate([np.asarray(type(init)(seed=i)(weight, dtype="float64")).ravel()
                                 for i in range(calls)])
        assert abs(pooled.std() / sigma - 1) < 0.01, (weight, pooled.std(), sigma)
        assert (1 - 1e-3) * bound < np.abs(pooled).max() <= bound * (1 + 1e-12)


def test_keras_serialized_initializers_are_read_and_ours_are_keras_readable():
    for name in ("he_normal", "random_uniform", "zeros"):
        keras_spec = keras.initializers.serialize(keras.initializers.get(name))
        assert get_initializer(keras_spec) == get_initializer(name)
        back = keras.initializers.deserialize(serialize(get_initializer(name)))
        assert type(back) is type(keras.initializers.get(name))
    spec = serialize(get_initializer({"class_name": "VarianceScaling", "config": {
        "scale": 0.5, "mode": "fan_out", "distribution": "untruncated_normal"}}))
    back = keras.initializers.deserialize(spec)
    assert (back.scale, back.mode, back.distribution) == (0.5, "fan_out", "untruncated_normal")
