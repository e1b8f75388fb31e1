"""minivae.layers.initializers: Keras's initialisers and PyTorch's default, each against its
definition (fans per layer type, bounds, spread over many draws, truncation), the
default's draws unchanged, configs and checkpoints, and shapes_only() builds that
allocate nothing (checkpoint.build_model checks a model description with one). PyTorch
and Keras themselves: tests/test_torch_crosscheck.py, tests/test_keras_crosscheck.py."""

import json
import threading

import numpy as np
import pytest
from scipy.stats import norm, truncnorm

from minivae import checkpoint
from minivae.architectures import faces_vae
from minivae.errors import InputError, InputTypeError
from minivae.layers import BatchNormalization, Conv2D, Conv2DTranspose, Dense, Flatten, Reshape
from minivae.layers.initializers import (TRUNCATED_STDDEV, Fans, GlorotUniform, Initializer,
                                         TorchDefault, VarianceScaling, fans_of, get_initializer,
                                         glorot_uniform, ones, serialize, shapes_only, zeros)
from minivae.models import VAE, GaussianEncoder, Sequential
from minivae.serialization import deserialize
from minivae.serialization import serialize as serialize_layer


def test_zeros_and_ones_are_numpys():
    for make, value in ((zeros, 0), (ones, 1)):
        x = make((3, 2), np.float32)
        assert x.dtype == np.float32 and x.flags.writeable
        np.testing.assert_array_equal(x, np.full((3, 2), value, np.float32))


def test_shapes_only_gives_every_layer_its_shapes_without_memory():
    layers = [(Dense(10 ** 6), (10 ** 5,)),              # 4e11 bytes, were it allocated
              (Conv2D(10 ** 4, 3), (8, 8, 10 ** 4)),
              (Conv2DTranspose(10 ** 4, 3), (8, 8, 10 ** 4)),
              (BatchNormalization(), (4, 10 ** 9))]
    with shapes_only():
        for layer, shape in layers:
            layer.build(shape, dtype="float64")
    for layer, _ in layers:
        for value in (*layer.params.values(), *layer.state.values()):
            assert value.dtype == np.float64 and not value.flags.writeable
            assert all(stride == 0 for stride in value.strides)
    assert layers[0][0].params["kernel"].shape == (10 ** 5, 10 ** 6)
    assert layers[2][0].params["kernel"].shape == (3, 3, 10 ** 4, 10 ** 4)
    assert layers[3][0].state["moving_variance"].shape == (10 ** 9,)


def test_a_dry_build_has_the_real_ones_names_shapes_and_counts():
    with shapes_only():
        dry = faces_vae(latent_dim=5, seed=0)
    real = faces_vae(latent_dim=5, seed=0)
    assert dry.count_params() == real.count_params() == 343_565
    for ours, theirs in ((dry.named_params(), real.named_params()),
                         (dry.named_state(), real.named_state())):
        assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}


def test_shapes_only_holds_in_its_own_context_only():
    """A context variable: a build in another thread at the same moment is a real one."""
    built = {}

    def elsewhere():
        built["kernel"] = glorot_uniform((3, 4), np.random.default_rng(0), np.float32)

    with shapes_only():
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
        inside = glorot_uniform((3, 4), np.random.default_rng(0), np.float32)
    after = glorot_uniform((3, 4), np.random.default_rng(0), np.float32)
    assert not inside.any() and inside.strides == (0, 0)
    np.testing.assert_array_equal(built["kernel"], after)
    assert after.flags.writeable and after.any()


# -- the zoo: Keras's initialisers and PyTorch's default --------------------------

# Statistics over N = 200,000 draws. The sample standard deviation of N draws errs by
# about sigma * sqrt((kurtosis - 1) / (4N)): 0.16% for a normal (kurtosis 3), 0.10% for
# a uniform (1.8), ~0.12% for a 2-sigma truncated normal (2.36). A 1% tolerance is over
# 6 of those, while a wrong fan (a factor 9 for a 3x3 receptive field, or 2 between
# fan_in and fan_avg) or a missing 0.8796 (14%) misses by far more. The sample mean
# errs by sigma / sqrt(N) = 0.22% of sigma: 2% of sigma is 9 of those.
N = 200_000
STD_RTOL = 0.01
MEAN_ATOL_SIGMAS = 0.02
# The extremes: with N uniform draws on (-L, L), P(max|w| < (1 - 1e-4) L) =
# (1 - 1e-4)^N = 2e-9; likewise for the 2-sigma bound of a truncated normal, whose
# density there is far from zero.
EXTREME_RTOL = 1e-4


def draw(spec, fans, n=N, seed=0):
    """n draws as a kernel (n, 1) with the layer fans `fans`, or as a bias (n,) if None."""
    shape = (n,) if fans is None else (n, 1)
    return get_initializer(spec)(shape, fans or fans_of(shape), np.random.default_rng(seed),
                                 np.float64).ravel()


def test_fans_per_layer_type():
    """Keras's rule from the kernel as laid out (and PyTorch's fan_in, test_torch_crosscheck)."""
    layers = [(Dense(7), (5,), (5, 7)),
              (Conv2D(4, (3, 2)), (9, 9, 6), (3 * 2 * 6, 3 * 2 * 4)),
              (Conv2DTranspose(4, (3, 2)), (9, 9, 6), (3 * 2 * 4, 3 * 2 * 6))]     # (kh, kw, F, C)
    for layer, shape, fans in layers:
        layer.build(shape, rng=np.random.default_rng(0))
        assert layer.fans() == fans_of(layer.params["kernel"].shape) == fans
    assert fans_of((11,)) == (11, 11)


@pytest.mark.parametrize("make, shape", [(lambda: Dense(7), (5,)),
                                         (lambda: Conv2D(4, (3, 2)), (9, 9, 6)),
                                         (lambda: Conv2DTranspose(4, (3, 2)), (9, 9, 6))])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_default_draws_what_it_drew_before_bit_for_bit(make, shape, dtype):
    """glorot_uniform is rng.uniform(-L, L) with L = np.sqrt(6 / (fan_in + fan_out)), the
    one rng call a layer made before initialisers could be chosen, and zeros for the
    bias: the book's training history depends on these exact draws."""
    layer = make()
    rng = np.random.default_rng(42)
    layer.build(shape, rng=rng, dtype=dtype)
    kernel_shape = layer.params["kernel"].shape
    fan_in, fan_out = fans_of(kernel_shape)
    before = np.random.default_rng(42)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    want = before.uniform(-limit, limit, size=kernel_shape).astype(dtype)
    np.testing.assert_array_equal(layer.params["kernel"], want)
    assert layer.params["kernel"].dtype == want.dtype
    assert not layer.params["bias"].any()
    assert rng.bit_generator.state == before.bit_generator.state     # no other draw


@pytest.mark.parametrize("name, scale, mode, uniform", [
    ("glorot_uniform", 1, "fan_avg", True), ("glorot_normal", 1, "fan_avg", False),
    ("he_uniform", 2, "fan_in", True), ("he_normal", 2, "fan_in", False),
    ("lecun_uniform", 1, "fan_in", True), ("lecun_normal", 1, "fan_in", False),
])
def test_keras_variance_scaling_family(name, scale, mode, uniform):
    fans = Fans(3 * 3 * 16, 3 * 3 * 32)
    n = {"fan_in": fans.fan_in, "fan_avg": (fans.fan_in + fans.fan_out) / 2}[mode]
    std = np.sqrt(scale / n)                     # the variance each promises
    w = draw(name, fans)
    assert abs(w.std() / std - 1) < STD_RTOL
    assert abs(w.mean()) < MEAN_ATOL_SIGMAS * std
    bound = np.sqrt(3) * std if uniform else 2 * std / TRUNCATED_STDDEV
    assert (1 - EXTREME_RTOL) * bound < np.abs(w).max() <= bound
    same = VarianceScaling(scale, mode, "uniform" if uniform else "truncated_normal")
    np.testing.assert_array_equal(w, draw(same, fans))


@pytest.mark.parametrize("distribution", ["uniform", "untruncated_normal", "truncated_normal"])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
def test_variance_scaling(mode, distribution):
    fans = Fans(40, 250)
    n = {"fan_in": 40, "fan_out": 250, "fan_avg": 145}[mode]
    init = VarianceScaling(scale=0.5, mode=mode, distribution=distribution)
    w = draw(init, fans)
    std = np.sqrt(0.5 / n)
    assert abs(w.std() / std - 1) < STD_RTOL
    if distribution == "uniform":
        assert np.abs(w).max() <= np.sqrt(3) * std
    elif distribution == "truncated_normal":
        assert np.abs(w).max() <= 2 * std / TRUNCATED_STDDEV
    else:                                        # N draws reach past 4 sigma (P ~ 1 - 1e-5)
        assert np.abs(w).max() > 4 * std


def test_a_bias_takes_its_own_length_as_fans_as_keras_does():
    """Keras reads fans off the shape it is given: (F,) -> (F, F), not the layer's."""
    w = GlorotUniform()((N,), Fans(10, 10), np.random.default_rng(0), np.float64)
    assert (1 - EXTREME_RTOL) * np.sqrt(6 / (2 * N)) < np.abs(w).max() <= np.sqrt(6 / (2 * N))
    layer = Dense(5, bias_initializer="glorot_uniform")
    layer.build((1000,), rng=np.random.default_rng(0), dtype="float64")
    assert np.abs(layer.params["bias"]).max() <= np.sqrt(6 / 10)
    assert np.abs(layer.params["bias"]).max() > np.sqrt(6 / 1005)    # not the kernel's L


def test_random_normal_uniform_and_truncated_normal():
    w = draw({"class_name": "RandomNormal", "config": {"mean": 1.0, "stddev": 0.2}}, None)
    assert abs(w.mean() - 1.0) < MEAN_ATOL_SIGMAS * 0.2 and abs(w.std() / 0.2 - 1) < STD_RTOL
    w = draw("random_normal", None)                       # Keras's defaults: 0 and 0.05
    assert abs(w.std() / 0.05 - 1) < STD_RTOL
    w = draw({"class_name": "RandomUniform", "config": {"minval": -1.0, "maxval": 3.0}}, None)
    assert -1.0 <= w.min() < -1.0 + 4 * EXTREME_RTOL and 3.0 - 4 * EXTREME_RTOL < w.max() <= 3.0
    w = draw("random_uniform", None)
    assert (1 - EXTREME_RTOL) * 0.05 < np.abs(w).max() <= 0.05
    w = draw({"class_name": "TruncatedNormal", "config": {"mean": -2.0, "stddev": 0.5}}, None)
    assert -3.0 <= w.min() < -3.0 + EXTREME_RTOL and -1.0 - EXTREME_RTOL < w.max() <= -1.0
    # Keras's TruncatedNormal keeps its stddev argument as the untruncated one: 0.8796 of it
    assert abs(w.std() / (0.5 * TRUNCATED_STDDEV) - 1) < STD_RTOL
    assert abs(w.mean() + 2.0) < MEAN_ATOL_SIGMAS * 0.5


def test_truncated_normal_constant():
    """0.87962566103423978 is the stddev of N(0, 1) cut to [-2, 2]:
    sqrt(1 - 4 phi(2) / (2 Phi(2) - 1))."""
    assert truncnorm(-2, 2).std() == pytest.approx(TRUNCATED_STDDEV, rel=1e-15)
    mass = norm.cdf(2) - norm.cdf(-2)
    assert np.sqrt(1 - 4 * norm.pdf(2) / mass) == pytest.approx(TRUNCATED_STDDEV, rel=1e-15)


def test_zeros_ones_constant():
    fans = Fans(3, 4)
    for spec, value in (("zeros", 0.0), ("ones", 1.0), ("Ones", 1.0),
                        ({"class_name": "Constant", "config": {"value": -0.5}}, -0.5)):
        w = get_initializer(spec)((3, 4), fans, None, np.float32)   # no randomness: no rng
        assert w.dtype == np.float32 and w.flags.writeable
        np.testing.assert_array_equal(w, np.full((3, 4), value, np.float32))


def test_torch_default_is_uniform_on_one_over_sqrt_fan_in():
    """The weight's kaiming_uniform(a=sqrt(5)) and the bias's bound are both 1/sqrt(fan_in)."""
    for shape in ((N,), (N, 1)):
        w = TorchDefault()(shape, Fans(25, 7), np.random.default_rng(0), np.float64)
        assert (1 - EXTREME_RTOL) * 0.2 < np.abs(w).max() <= 0.2
        assert abs(w.std() / (0.2 / np.sqrt(3)) - 1) < STD_RTOL
    layer = Conv2DTranspose(4, 3, kernel_initializer="torch_default",
                            bias_initializer="torch_default")
    layer.build((5, 5, 100), rng=np.random.default_rng(0), dtype="float64")
    bound = 1 / np.sqrt(3 * 3 * 4)                  # fan_in = out * kh * kw, as torch
    for value in layer.params.values():
        assert np.abs(value).max() <= bound
    assert np.abs(layer.params["kernel"]).max() > 0.99 * bound      # 3600 draws


@pytest.mark.parametrize("cls, shape", [(Dense, (6,)), (Conv2D, (5, 5, 3)),
                                        (Conv2DTranspose, (5, 5, 3))])
def test_layers_draw_from_the_rng_given_and_nothing_else(cls, shape):
    args = (4,) if cls is Dense else (4, 3)
    spec = dict(kernel_initializer="he_normal", bias_initializer="random_uniform")
    np.random.seed(0)
    global_state = np.random.get_state()[1].copy()
    first, second = cls(*args, **spec), cls(*args, **spec)
    first.build(shape, rng=np.random.default_rng(7))
    second.build(shape, rng=np.random.default_rng(7))
    for k in ("kernel", "bias"):
        np.testing.assert_array_equal(first.params[k], second.params[k])
        assert first.params[k].any()
    np.testing.assert_array_equal(np.random.get_state()[1], global_state)


KERAS_SPECS = [
    "he_uniform", "HeNormal", {"class_name": "Constant", "config": {"value": 0.1}},
    {"module": "keras.initializers", "class_name": "VarianceScaling",
     "config": {"scale": 2.0, "mode": "fan_out", "distribution": "uniform", "seed": None},
     "registered_name": None},
    VarianceScaling(0.3, "fan_avg", "untruncated_normal"), "torch_default",
]


@pytest.mark.parametrize("spec", KERAS_SPECS, ids=str)
@pytest.mark.parametrize("cls, shape", [(Dense, (6,)), (Conv2D, (5, 5, 3)),
                                        (Conv2DTranspose, (5, 5, 3))])
def test_initializers_round_trip_through_config_and_checkpoint_json(cls, shape, spec):
    args = (4,) if cls is Dense else (4, 3)
    layer = cls(*args, kernel_initializer=spec, bias_initializer=spec)
    layer.build(shape, rng=np.random.default_rng(3))
    config = json.loads(json.dumps(serialize_layer(layer)))          # as a checkpoint keeps it
    assert config["config"]["kernel_initializer"] == serialize(get_initializer(spec))
    twin = deserialize(config)
    assert twin.kernel_initializer == layer.kernel_initializer == get_initializer(spec)
    twin.build(shape, rng=np.random.default_rng(3))
    for k in ("kernel", "bias"):
        np.testing.assert_array_equal(twin.params[k], layer.params[k])


def test_a_checkpoint_keeps_the_initializers(tmp_path):
    encoder = GaussianEncoder([Conv2D(2, 3, strides=2, padding="same",
                                      kernel_initializer="he_normal"), Flatten()], 2)
    decoder = Sequential([Dense(16, kernel_initializer="torch_default",
                                bias_initializer="torch_default"), Reshape((4, 4, 1)),
                          Conv2DTranspose(1, 3, strides=2, padding=1, output_padding=1,
                                          kernel_initializer={"class_name": "VarianceScaling",
                                                              "config": {"scale": 0.1}})])
    model = VAE(encoder, decoder).build((8, 8, 1), rng=np.random.default_rng(0))
    again = checkpoint.load(checkpoint.save(tmp_path / "m.npz", model))
    assert again.encoder.body[0].kernel_initializer == get_initializer("he_normal")
    assert again.decoder.layers[0].bias_initializer == TorchDefault()
    assert again.decoder.layers[2].kernel_initializer == VarianceScaling(0.1)


def test_the_encoders_heads_take_initializers_and_keep_them(tmp_path):
    """GaussianEncoder's two Dense heads are drawn as kernel_initializer and
    bias_initializer say (a port of PyTorch's MLP VAE wants torch_default there too);
    a checkpoint keeps them, and one of the default heads describes them as before."""
    def model(**init):
        encoder = GaussianEncoder([Dense(6, activation="relu")], 3, **init)
        return VAE(encoder, Sequential([Dense(16, activation="sigmoid")])).build(
            (16,), rng=np.random.default_rng(0))
    plain = model()
    assert "kernel_initializer" not in plain.encoder.get_config()
    assert np.all(plain.named_params()["z_mean/bias"] == 0)
    torch_like = model(kernel_initializer="torch_default", bias_initializer="torch_default")
    for head in ("z_mean", "z_log_var"):
        bias = torch_like.named_params()[f"{head}/bias"]
        assert np.all(bias != 0) and np.all(np.abs(bias) <= 1 / np.sqrt(6))    # U(+-1/sqrt(6))
    again = checkpoint.load(checkpoint.save(tmp_path / "m.npz", torch_like))
    assert again.encoder.z_log_var.kernel_initializer == TorchDefault()
    assert again.encoder.z_mean.bias_initializer == TorchDefault()
    assert again.encoder.get_config() == torch_like.encoder.get_config()


@pytest.mark.parametrize("spec, exc, match", [
    ("glorot", InputError, r"Dense: unknown kernel_initializer 'glorot'; expected one of "
                           r"'glorot_uniform', .*'torch_default'"),
    (3, InputTypeError, r"Dense: kernel_initializer must be a name such as 'glorot_uniform', "
                        r"a dict .* got 3 of type int"),
    ({"class_name": "Orthogonal", "config": {}}, InputError,
     r"Dense: unknown kernel_initializer class 'Orthogonal'; expected one of GlorotUniform, "),
    ({"class_name": "HeNormal", "config": [2]}, InputError,
     r"Dense: kernel_initializer \{'class_name': 'HeNormal', 'config': \[2\]\} is not "
     r"\{'class_name': one of GlorotUniform"),
    ({"class_name": "HeNormal", "config": {"seed": 3}}, InputError,
     r"Dense: kernel_initializer HeNormal has seed=3; minivae takes only seed=None \(it "
     r"draws from the Generator given to build"),
    ({"class_name": "HeNormal", "config": {"input_axes": [0]}}, InputError,
     r"has input_axes=\[0\]; minivae takes only input_axes=None"),
    ({"class_name": "RandomNormal", "config": {"sigma": 1}}, InputError,
     r"Dense: kernel_initializer RandomNormal cannot take the config \{'sigma': 1\}"),
    ({"class_name": "VarianceScaling", "config": {"mode": "fan_sum"}}, InputError,
     r"VarianceScaling: unknown mode 'fan_sum'; expected one of 'fan_in', 'fan_out', "
     r"'fan_avg'"),
    (VarianceScaling, InputTypeError, r"kernel_initializer must be a name"),
    ({"class_name": "VarianceScaling", "config": {"scale": 0}}, InputError,
     r"VarianceScaling: scale must be a positive number, got 0"),
    ({"class_name": "RandomUniform", "config": {"minval": 1, "maxval": 0}}, InputError,
     r"RandomUniform: minval must not exceed maxval, got minval 1.0 and maxval 0.0"),
    ({"class_name": "RandomNormal", "config": {"stddev": "big"}}, InputTypeError,
     r"RandomNormal: stddev must be a number, got 'big'"),
])
def test_bad_initializers_are_named(spec, exc, match):
    with pytest.raises(exc, match=match):
        Dense(3, kernel_initializer=spec)


def test_an_initializer_of_ones_own_is_called_as_the_layers_call_it():
    class Fixed(Initializer):
        def draw(self, shape, fans, rng):
            return np.full(shape, fans.fan_in + fans.fan_out / 1000)

    layer = Conv2D(2, 3, kernel_initializer=Fixed())
    layer.build((4, 4, 5), rng=np.random.default_rng(0))
    assert np.all(layer.params["kernel"] == np.float32(45.018))
    with shapes_only():
        dry = Conv2D(2, 3, kernel_initializer=Fixed())
        dry.build((4, 4, 5))
    assert dry.params["kernel"].strides == (0, 0, 0, 0)
    assert GlorotUniform() == get_initializer({"class_name": "GlorotUniform", "config": {}})
