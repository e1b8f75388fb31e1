"""Models that describe themselves: layer and model configs, and the classes behind them.

Every layer's `get_config()` returns the constructor arguments that rebuild it,
as JSON-friendly values. A config names its class:

    serialize(layer)  -> {"class_name": "Conv2D", "config": {"filters": 32, ...}}
    deserialize(spec) -> Conv2D(**config)            (containers rebuild their layers)

and a model's config is its parts' configs plus its own settings, with the input
shape it was built for. `checkpoint.save` writes it, so `checkpoint.load` rebuilds
any model made of minivae's layers without the code that built it.

A class of one's own (a layer, or a model subclass) is found by name once it is
registered, as Keras's `register_keras_serializable`:

    @minivae.serialization.register
    class Swish(minivae.layers.Layer):
        ...

or handed to `load(..., custom_objects={"Swish": Swish})`. It must implement
`get_config()` so that `cls(**config)` rebuilds it (or a `from_config` classmethod).
"""

from .errors import InputError, InputTypeError
from .layers import (BatchNormalization, Conv2D, Conv2DTranspose, Dense, Dropout, Flatten,
                     LeakyReLU, ReLU, Reshape, Sampling, Sigmoid)

# minivae's own classes by name: the layers here, and the containers and models, which
# sit above this module and enter themselves with @built_in where they are defined
# (minivae/models), so this module needs nothing above the layers.
BUILT_IN = {cls.__name__: cls for cls in (
    Dense, Conv2D, Conv2DTranspose, ReLU, LeakyReLU, Sigmoid, Flatten, Reshape, Dropout,
    BatchNormalization, Sampling)}

# Classes registered by users, by name: the documented extension point (see the module
# docstring). Entries are only ever added, and a name maps to one class for good.
_registered = {}


class SerializationError(ValueError):
    """A config that cannot be turned back into layers or a model."""


def built_in(cls):
    """Enter one of minivae's own classes (a container, a model) among the built-ins."""
    BUILT_IN[cls.__name__] = cls
    return cls


def register(cls=None, *, name=None):
    """Register a class (a decorator, or called directly) so configs can name it.

    The name is `name` or the class's own; registering a different class under a
    name already taken (a built-in's included) raises InputError (a ValueError).
    """
    def add(cls):
        if not isinstance(cls, type):
            raise InputTypeError(f"register: expected a class (a layer or a model), got "
                                 f"{cls!r}")
        key = name or cls.__name__
        known = {**BUILT_IN, **_registered}.get(key)
        if known is not None and known is not cls:
            raise InputError(f"register: the name {key!r} already belongs to {known!r}; "
                             f"register {cls.__name__} under another name (name=...)")
        cls._serialization_name = key           # first: a class refusing it stays out
        _registered[key] = cls
        return cls
    return add if cls is None else add(cls)


def class_name(obj):
    """The name a config gives obj's class: its registered name, else the class's own."""
    return type(obj).__dict__.get("_serialization_name", type(obj).__name__)


def serialize(obj):
    """{"class_name", "config"} for a layer, a GaussianEncoder or a model."""
    if not hasattr(obj, "get_config"):
        raise SerializationError(f"serialize: {type(obj).__name__} has no get_config(); "
                                 f"give it one returning its constructor arguments")
    return {"class_name": class_name(obj), "config": obj.get_config()}


def resolve(name, custom_objects=None):
    """The class a config names: custom_objects, then registered classes, then minivae's."""
    for table in (custom_objects or {}, _registered, BUILT_IN):
        if name in table:
            return table[name]
    raise SerializationError(
        f"unknown class {name!r}: it is not one of minivae's ({', '.join(sorted(BUILT_IN))}); "
        f"if it is your own, register it with "
        f"@minivae.serialization.register before loading, or pass "
        f"custom_objects={{{name!r}: {name}}}")


def deserialize(spec, custom_objects=None):
    """Rebuild what serialize() described (not built: the caller builds it)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) \
            or not isinstance(spec.get("config"), dict):
        raise SerializationError(f"deserialize: expected {{'class_name': str, 'config': dict}}, "
                                 f"got {_preview(spec)}")
    cls = resolve(spec["class_name"], custom_objects)
    config = spec["config"]
    try:
        if hasattr(cls, "from_config"):
            return cls.from_config(config, custom_objects)
        return cls(**config)
    except SerializationError:
        raise
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"cannot rebuild a {spec['class_name']} from its config "
                                 f"{_preview(config)}: {exc}") from exc


def _preview(value, limit=120):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + " ..."
