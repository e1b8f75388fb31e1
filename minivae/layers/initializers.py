"""Initialisers: the arrays a layer's parameters start from (docs/initializers.md).

A layer asks each of its initialisers for one array:

    initializer(shape, fans, rng, dtype) -> array of `shape` and `dtype`

where `fans = Fans(fan_in, fan_out)` are the layer's (fans_of its kernel, as Keras
computes them: Dense (D_in, D_out); Conv2D (kh*kw*C, kh*kw*F); Conv2DTranspose,
kernel (kh, kw, F, C), (kh*kw*F, kh*kw*C)) and every random draw comes from the
numpy Generator `rng`, never from global state.

Keras's initialisers, by its names and with its semantics: glorot_uniform (the
default for kernels), glorot_normal, he_uniform, he_normal, lecun_uniform,
lecun_normal, random_normal, random_uniform, truncated_normal, zeros (the default
for biases), ones, constant and VarianceScaling(scale, mode, distribution). And
"torch_default", PyTorch's reset_parameters for Linear, Conv2d and ConvTranspose2d:
U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the weight and for the bias.

get_initializer takes a name, a dict {"class_name", "config"} as Keras serialises
one, or an initialiser object; serialize gives that dict back.

Under `shapes_only()` every initialiser returns a read-only, zero-strided view of
one zero (np.broadcast_to) with the right shape and dtype instead: a model built
that way shows the shapes of its parameters at no cost in memory, which is how
checkpoint.build_model checks a model description before building it for real.
A layer of one's own that allocates its arrays otherwise (np.zeros, rng.normal,
...) allocates them in full even then.
"""

import contextlib
import contextvars
import math
from collections import namedtuple

import numpy as np

from .._validation import check_choice, check_real
from ..errors import InputError, InputTypeError

# A context variable, not a module flag: a dry build in one thread (or asyncio task)
# leaves a real build running in another unaffected.
_shapes_only = contextvars.ContextVar("minivae_shapes_only", default=False)

# The standard deviation of a standard normal truncated to [-2, 2]: VarianceScaling
# divides by it so that its truncated draws have the variance it promises (Keras's).
TRUNCATED_STDDEV = 0.87962566103423978

Fans = namedtuple("Fans", "fan_in fan_out")


@contextlib.contextmanager
def shapes_only():
    """Within this block the initialisers allocate nothing (see the module docstring)."""
    token = _shapes_only.set(True)
    try:
        yield
    finally:
        _shapes_only.reset(token)


def _placeholder(shape, dtype):
    return np.broadcast_to(np.zeros((), dtype=dtype), shape)


def fans_of(shape):
    """Fans(fan_in, fan_out) of a kernel, as Keras computes them from its shape.

    (n,): (n, n); (D_in, D_out): as they are; a conv kernel (kh, kw, a, b): the
    receptive field kh*kw times each of its last two axes, (kh*kw*a, kh*kw*b).
    """
    if len(shape) < 1:
        return Fans(1, 1)
    if len(shape) == 1:
        return Fans(shape[0], shape[0])
    receptive = math.prod(shape[:-2])
    return Fans(shape[-2] * receptive, shape[-1] * receptive)


def truncated_normal(rng, mean, stddev, shape):
    """N(mean, stddev^2) with every draw beyond 2 stddev of the mean drawn again
    (Keras's and TensorFlow's truncated normal; its stddev is 0.88 of `stddev`)."""
    z = rng.standard_normal(shape)
    outside = np.abs(z) > 2.0
    while outside.any():
        z[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(z) > 2.0
    return mean + stddev * z


class Initializer:
    """Base class: the shapes_only() placeholder, then `draw`, cast to `dtype`."""

    def __call__(self, shape, fans, rng, dtype):
        shape = tuple(shape)
        if _shapes_only.get():
            return _placeholder(shape, dtype)
        return np.asarray(self.draw(shape, Fans(*fans), rng)).astype(dtype)

    def draw(self, shape, fans, rng):
        """The values, in float64 (or any dtype: __call__ casts)."""
        raise NotImplementedError

    def get_config(self):
        """Constructor arguments (JSON-friendly)."""
        return {}

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self), tuple(sorted(self.get_config().items()))))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    def draw(self, shape, fans, rng):
        return np.zeros(shape)


class Ones(Initializer):
    def draw(self, shape, fans, rng):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = check_real(value, "value", "Constant")

    def draw(self, shape, fans, rng):
        return np.full(shape, self.value)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    """N(mean, stddev^2)."""

    def __init__(self, mean=0.0, stddev=0.05):
        self.mean = check_real(mean, "mean", "RandomNormal")
        self.stddev = check_real(stddev, "stddev", "RandomNormal", minimum=0.0)

    def draw(self, shape, fans, rng):
        return rng.normal(self.mean, self.stddev, size=shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomNormal):
    """N(mean, stddev^2) truncated to mean +- 2 stddev (draws outside are drawn again)."""

    def draw(self, shape, fans, rng):
        return truncated_normal(rng, self.mean, self.stddev, shape)


class RandomUniform(Initializer):
    """U(minval, maxval)."""

    def __init__(self, minval=-0.05, maxval=0.05):
        self.minval = check_real(minval, "minval", "RandomUniform")
        self.maxval = check_real(maxval, "maxval", "RandomUniform")
        if self.minval > self.maxval:
            raise InputError(f"RandomUniform: minval must not exceed maxval, got minval "
                             f"{self.minval} and maxval {self.maxval}")

    def draw(self, shape, fans, rng):
        return rng.uniform(self.minval, self.maxval, size=shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval}


class VarianceScaling(Initializer):
    """Draws of variance scale / n, n = fan_in, fan_out or their mean (mode), at least 1.

    distribution: 'uniform' U(-L, L) with L = sqrt(3 * scale / n); 'untruncated_normal'
    N(0, scale / n); 'truncated_normal' N(0, sigma^2) truncated at 2 sigma, with
    sigma = sqrt(scale / n) / 0.87962566103423978 so that the truncated draws keep
    the variance scale / n. The fans are the layer's; a 1-D array (a bias) takes its
    own length for both, as Keras reads fans off the shape it is given.
    """
    modes = ("fan_in", "fan_out", "fan_avg")
    distributions = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal"):
        owner = type(self).__name__
        self.scale = check_real(scale, "scale", owner)
        if self.scale <= 0:
            raise InputError(f"{owner}: scale must be a positive number, got {scale!r}")
        self.mode = check_choice(mode, "mode", self.modes, owner)
        self.distribution = check_choice(distribution, "distribution", self.distributions,
                                         owner)

    def draw(self, shape, fans, rng):
        fan_in, fan_out = fans if len(shape) > 1 else fans_of(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            # 3 * scale / n rounded once: for glorot_uniform the very double that
            # sqrt(6 / (fan_in + fan_out)) gave, so the default's draws stay bit for bit.
            limit = np.sqrt(3.0 * self.scale / max(1.0, n))
            return rng.uniform(-limit, limit, size=shape)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, np.sqrt(variance), size=shape)
        return truncated_normal(rng, 0.0, np.sqrt(variance) / TRUNCATED_STDDEV, shape)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution}


class _Named(VarianceScaling):
    """A VarianceScaling with Keras's fixed arguments, serialised under its own name."""
    settings = None

    def __init__(self):
        super().__init__(*self.settings)

    def get_config(self):
        return {}


class GlorotUniform(_Named):
    """U(-L, L), L = sqrt(6 / (fan_in + fan_out)): Keras's default kernel initialiser."""
    settings = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Named):
    """Truncated normal of variance 2 / (fan_in + fan_out)."""
    settings = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_Named):
    """U(-L, L), L = sqrt(6 / fan_in)."""
    settings = (2.0, "fan_in", "uniform")


class HeNormal(_Named):
    """Truncated normal of variance 2 / fan_in."""
    settings = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_Named):
    """U(-L, L), L = sqrt(3 / fan_in)."""
    settings = (1.0, "fan_in", "uniform")


class LecunNormal(_Named):
    """Truncated normal of variance 1 / fan_in."""
    settings = (1.0, "fan_in", "truncated_normal")


class TorchDefault(Initializer):
    """PyTorch's default for Linear, Conv2d and ConvTranspose2d: U(-B, B), B = 1/sqrt(fan_in),
    for the weight (kaiming_uniform with a = sqrt(5): gain sqrt(1/3) times sqrt(3/fan_in))
    and for the bias alike. fan_in is the layer's for both, as torch computes it from the
    weight: for ConvTranspose2d, weight (in, out, kh, kw), out*kh*kw, which is also
    fans_of's fan_in for the Keras-layout kernel (kh, kw, out, in).
    """

    def draw(self, shape, fans, rng):
        bound = 1.0 / np.sqrt(fans.fan_in) if fans.fan_in > 0 else 0.0
        return rng.uniform(-bound, bound, size=shape)


BY_NAME = {"glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
           "he_uniform": HeUniform, "he_normal": HeNormal, "lecun_uniform": LecunUniform,
           "lecun_normal": LecunNormal, "random_normal": RandomNormal,
           "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal,
           "zeros": Zeros, "ones": Ones, "constant": Constant,
           "variance_scaling": VarianceScaling, "torch_default": TorchDefault}
BY_CLASS_NAME = {cls.__name__: cls for cls in BY_NAME.values()}
# Keys of Keras's configs that minivae has no use for, taken at their default None: the
# seed (the draws come from the Generator given to build) and the axes Keras 3 may read
# the fans from (minivae's are the layer's).
KERAS_ONLY = ("seed", "input_axes", "output_axes")


def _known():
    return ", ".join(repr(name) for name in BY_NAME)


def get_initializer(spec, name="kernel_initializer", owner=None):
    """An Initializer from a name ('he_normal', or Keras's class name 'HeNormal'), a dict
    {"class_name": ..., "config": {...}} as Keras serialises one (its "module" and
    "registered_name" keys are ignored, and KERAS_ONLY's must be None), or an
    Initializer, returned as it is."""
    where = f"{owner}: " if owner else ""
    if isinstance(spec, Initializer):
        return spec
    if isinstance(spec, str):
        cls = BY_NAME.get(spec.lower()) or BY_CLASS_NAME.get(spec)
        if cls is None:
            raise InputError(f"{where}unknown {name} {spec!r}; expected one of {_known()}")
        return cls()
    if not isinstance(spec, dict):
        raise InputTypeError(f"{where}{name} must be a name such as 'glorot_uniform', a dict "
                             f"{{'class_name': ..., 'config': {{...}}}} or an initializer, got "
                             f"{spec!r} of type {type(spec).__name__}")
    class_name, config = spec.get("class_name"), spec.get("config", {})
    cls = BY_CLASS_NAME.get(class_name) or (BY_NAME.get(class_name.lower())
                                             if isinstance(class_name, str) else None)
    if cls is None and isinstance(class_name, str):
        raise InputError(f"{where}unknown {name} class {class_name!r}; expected one of "
                         f"{', '.join(BY_CLASS_NAME)}")
    if cls is None or not isinstance(config, dict):
        raise InputError(f"{where}{name} {spec!r} is not {{'class_name': one of "
                         f"{', '.join(BY_CLASS_NAME)}, 'config': dict}}")
    config = dict(config)
    for key in KERAS_ONLY:
        value = config.pop(key, None)
        if value is not None:
            raise InputError(f"{where}{name} {class_name} has {key}={value!r}; minivae takes "
                             f"only {key}=None (it draws from the Generator given to build, "
                             f"with the layer's fans)")
    try:
        return cls(**config)
    except InputTypeError:              # a value of the wrong type: already a sentence
        raise
    except TypeError as exc:            # an argument the class does not take
        raise InputError(f"{where}{name} {class_name} cannot take the config {config!r}: "
                         f"{exc}") from None


def serialize(initializer):
    """{"class_name", "config"}, as Keras serialises an initialiser; get_initializer reads it."""
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}


def glorot_uniform(shape, rng, dtype):
    """Keras's default kernel: GlorotUniform with the fans fans_of(shape) gives."""
    return GlorotUniform()(shape, fans_of(shape), rng, dtype)


def zeros(shape, dtype):
    """np.zeros(shape, dtype): biases, BatchNormalization's beta and moving mean."""
    return Zeros()(shape, fans_of(shape), None, dtype)


def ones(shape, dtype):
    """np.ones(shape, dtype): BatchNormalization's gamma and moving variance."""
    return Ones()(shape, fans_of(shape), None, dtype)
