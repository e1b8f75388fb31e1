"""One small set of checks used by every public entry point.

Each check raises InputError or InputTypeError (minivae.errors: a ValueError
and a TypeError) with a sentence that names the argument, what was expected
and what was received. Hot paths never call these more than once per public
call.
"""

import numbers

import numpy as np

from .errors import InputError, InputTypeError


def _where(owner):
    """The message's prefix naming its owner: a name, or an object (a layer) whose str()
    is made only when a message is."""
    return "" if owner is None or isinstance(owner, str) and not owner else f"{owner}: "


def _check_int(value, name, owner, minimum, expected):
    """Return `value` as int, or raise naming `expected` if it is not an integer >= minimum."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(f"{_where(owner)}{name} must be {expected}, got {value!r} "
                             f"of type {type(value).__name__}")
    if value < minimum:
        raise InputError(f"{_where(owner)}{name} must be {expected}, got {value}")
    return int(value)


def check_positive_int(value, name, owner=None):
    """Return `value` as int, or raise if it is not an integer >= 1."""
    return _check_int(value, name, owner, 1, "a positive integer")


def check_nonnegative_int(value, name, owner=None):
    """Return `value` as int, or raise if it is not an integer >= 0 (an epoch count)."""
    return _check_int(value, name, owner, 0, "an integer >= 0")


def check_seed(seed, name="seed", owner=None):
    """Return `seed` if numpy.random.default_rng accepts it: None or an integer >= 0."""
    if seed is None:
        return None
    return check_nonnegative_int(seed, name, owner)


def check_generator(rng, name="rng", owner=None):
    """Return `rng` if it is a numpy.random.Generator (or None)."""
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise InputTypeError(f"{_where(owner)}{name} must be a numpy.random.Generator, e.g. "
                             f"numpy.random.default_rng(0), got {type(rng).__name__}")
    return rng


def generator_or_default(rng, name="rng", owner=None):
    """check_generator(rng), with None meaning a fresh default_rng(0): a call repeats itself."""
    rng = check_generator(rng, name, owner)
    return np.random.default_rng(0) if rng is None else rng


def check_real(value, name, owner=None, minimum=None):
    """Return float(value) if it is a finite real number (>= minimum when given)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(f"{_where(owner)}{name} must be a number, got {value!r} "
                             f"of type {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or (minimum is not None and value < minimum):
        bound = f" >= {minimum:g}" if minimum is not None else ""
        raise InputError(f"{_where(owner)}{name} must be a finite number{bound}, got {value!r}")
    return value


def check_float_dtype(dtype, name="dtype", owner=None):
    """Return numpy.dtype(dtype) if it names a floating type ("float32", np.float64, ...)."""
    try:
        resolved = np.dtype(dtype)
    except (TypeError, ValueError):     # "float33", a malformed structured spec, ...
        raise InputTypeError(f"{_where(owner)}{name} must name a floating type such as "
                             f"'float32' or 'float64', got {dtype!r}") from None
    if not np.issubdtype(resolved, np.floating):
        raise InputTypeError(f"{_where(owner)}{name} must be a floating type such as "
                             f"'float32' or 'float64', got {resolved}")
    return resolved


def as_pair(value, name, owner=None, minimum=1):
    """Accept an int or a pair of ints, each >= minimum (Keras kernel_size/strides: 1;
    PyTorch's padding and output_padding: 0)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    try:
        if isinstance(value, str):          # iterable, but never a pair of ints
            raise TypeError
        pair = tuple(value)
    except TypeError:
        raise InputTypeError(f"{_where(owner)}{name} must be an int or a pair of ints, "
                             f"got {value!r}") from None
    if len(pair) != 2:
        raise InputError(f"{_where(owner)}{name} must be an int or a pair of ints, "
                         f"got {len(pair)} values: {value!r}")
    expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    return tuple(_check_int(v, name, owner, minimum, expected) for v in pair)


def check_image_shape(value, name, owner=None):
    """An image shape (H, W, C) of positive ints, from a sequence or text "HxWxC"
    (the command line's spelling): a tuple of three ints."""
    if isinstance(value, str):
        parts = value.lower().split("x")
        if not all(p.strip().isdigit() for p in parts):
            raise InputError(f"{_where(owner)}{name} must be HxWxC, e.g. 28x28x1, got {value!r}")
        value = [int(p) for p in parts]
    try:
        shape = tuple(value)
    except TypeError:
        raise InputTypeError(f"{_where(owner)}{name} must be (height, width, channels), "
                             f"got {value!r}") from None
    if len(shape) != 3:
        raise InputError(f"{_where(owner)}{name} must be (height, width, channels), three "
                         f"values, got {value!r}")
    return tuple(_check_int(v, name, owner, 1, "a positive integer") for v in shape)


def check_choice(value, name, options, owner=None):
    """Return `value` if it is one of `options` (strings compared lower-cased)."""
    key = value.lower() if isinstance(value, str) else value
    if key not in options:
        shown = ", ".join(repr(o) for o in options)
        raise InputError(f"{_where(owner)}unknown {name} {value!r}; expected one of {shown}")
    return key


def check_probability(value, name, owner=None, include_one=False):
    """Return float(value) if it lies in [0, 1) (or [0, 1] with include_one)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(f"{_where(owner)}{name} must be a number, got {value!r}")
    value = float(value)
    upper_ok = value <= 1.0 if include_one else value < 1.0
    if not (value >= 0.0 and upper_ok):
        bracket = "]" if include_one else ")"
        raise InputError(f"{_where(owner)}{name} must lie in [0, 1{bracket}, got {value}")
    return value


def check_float_array(x, name, owner=None, ndim=None):
    """Return `x` as a floating ndarray (no copy when it already is one)."""
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except Exception as exc:  # ragged lists and the like
            raise InputTypeError(f"{_where(owner)}{name} must be an array of numbers: "
                                 f"{exc}") from None
    if x.dtype.kind != "f":             # np.issubdtype(x.dtype, np.floating), faster
        raise InputTypeError(f"{_where(owner)}{name} must be a floating-point array, "
                             f"got dtype {x.dtype}; convert it first, e.g. "
                             f"x.astype('float32') / 255")
    if ndim is not None and x.ndim != ndim:
        raise InputError(f"{_where(owner)}{name} must have {ndim} dimensions, "
                         f"got shape {x.shape}")
    return x


def check_finite(x, name, owner=None):
    """Raise InputError if `x` holds NaN or infinity."""
    if not np.all(np.isfinite(x)):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise InputError(f"{_where(owner)}{name} holds {bad} non-finite value(s) (NaN or "
                         f"inf); expected finite values")
    return x


def check_weight(value, name, shape, owner=None):
    """A weight array to copy into a parameter of `shape`: real numbers (integers or
    floats, not bools, complex numbers or objects), finite, of exactly that shape."""
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise InputTypeError(f"{_where(owner)}{name} must be an array of real numbers: "
                             f"{exc}") from None
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.integer)
                                   or np.issubdtype(array.dtype, np.floating)):
        raise InputTypeError(f"{_where(owner)}{name} must be an array of real numbers, got "
                             f"{'None' if value is None else f'dtype {array.dtype}'}")
    if array.shape != tuple(shape):
        raise InputError(f"{_where(owner)}{name} must have shape {tuple(shape)}, got "
                         f"{array.shape}")
    return check_finite(array, name, owner)


def check_codes(z, owner, min_rows=1, name="z"):
    """Latent codes z as (N, d) float64, N >= min_rows, d >= 1, every value finite
    (integer codes, such as a list of whole numbers, are taken as floats)."""
    if not isinstance(z, np.ndarray):
        try:
            z = np.asarray(z)
        except Exception:           # ragged lists and the like: check_float_array says so
            pass
    if isinstance(z, np.ndarray) and np.issubdtype(z.dtype, np.integer):
        z = z.astype(np.float64)
    z = check_finite(check_float_array(z, name, owner, ndim=2), name, owner)
    if z.shape[0] < min_rows or z.shape[1] < 1:
        raise InputError(f"{_where(owner)}{name} must be codes (N, d) with N >= {min_rows} and "
                         f"d >= 1, got shape {z.shape}")
    return z.astype(np.float64, copy=False)


def format_shape(shape):
    """(32, 32, 1) -> '(batch, 32, 32, 1)': shapes with the batch axis named."""
    return "(" + ", ".join(["batch"] + [str(s) for s in shape]) + ")"


def with_article(name):
    """'VAE' -> 'a VAE', 'Autoencoder' -> 'an Autoencoder': a class named in a sentence."""
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"
