"""What a checkpoint holds, and the model it rebuilds (docs/checkpoint.md).

The file (minivae/checkpoint/files.py) holds params, state, optimizer state and

    meta                      JSON text: format, version, the model's own description
                              (every layer's config, the input shape, the loss
                              settings), dtype, optimizer config, epochs done, RNG
                              state, history, and what the caller records (run)

Writes are atomic: the file is written to a temporary name in the same folder,
flushed and fsync'ed, then renamed over the old one, so a crash at any moment
leaves either the previous checkpoint or the new one, never a mixture.

A process killed mid-write leaves its temporary file, `.<name>.tmp-<random>`,
beside the checkpoint. Reading never looks at it (only `path` is opened), and the
next successful save of the same `path` removes such leftovers after its own
rename. One process at a time should write a given path: a second writer's
temporary file may be removed under it, and that writer then reports a
CheckpointError while `path` still holds a complete checkpoint.
"""

import json
import math
import os

import numpy as np

from .._atomic import atomic_write
from .._validation import check_nonnegative_int
from ..architectures import from_config as architecture_from_config
from ..errors import InputError, InputTypeError
from ..layers.initializers import shapes_only
from ..optimizers import from_config as optimizer_from_config
from ..serialization import deserialize, serialize
from ..training import History
from .files import (FORMAT, VERSION, CheckpointError, _check_path, _digest,
                    check_checkpoint_size, check_parameter_count, read)


def model_spec(model):
    """The model's self-description: {"class_name", "config", "input_shape", "dtype"}."""
    spec = serialize(model)
    spec.update(input_shape=list(model.input_shape), dtype=str(model.dtype))
    return spec


def _collect(model, epoch, history, run):
    arrays = {f"param/{k}": v for k, v in model.named_params().items()}
    arrays.update({f"state/{k}": v for k, v in model.named_state().items()})
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        arrays.update({f"optimizer/{k}": v for k, v in optimizer.get_state().items()})
    meta = {
        "format": FORMAT, "version": VERSION, "model_class": type(model).__name__,
        "model": model_spec(model), "model_config": getattr(model, "config", {}),
        "dtype": str(model.dtype), "run": run or {},
        "optimizer_config": optimizer.get_config() if optimizer is not None else None,
        "epoch": int(epoch or 0), "rng_state": model.rng.bit_generator.state,
        "history": history.history if history is not None else {},
    }
    arrays["meta"] = np.array(json.dumps(meta))
    arrays["checksum"] = np.array(_digest(arrays))
    return arrays


def _refuse_non_finite(path, arrays, history):
    """Only a good state is saved: finite parameters, state, optimizer and metrics."""
    bad = [k for k, v in arrays.items()
           if v.dtype.kind == "f" and not np.all(np.isfinite(v))]
    if history is not None:
        bad += [f"history/{k}" for k, v in history.history.items()
                if not all(np.isfinite(x) for x in v)]
    if bad:
        raise CheckpointError(f"refusing to write {path!r}: non-finite "
                              f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}; a "
                              f"checkpoint holds only a state that can be trained on")


def _check_model(model, owner):
    if not all(hasattr(model, attr) for attr in ("named_params", "named_state", "get_config")):
        raise InputTypeError(f"{owner}: model must be a minivae model (VAE or Autoencoder, e.g. "
                             f"from fashion_vae()), got {type(model).__name__}")
    return model


def save(path, model, epoch=None, history=None, run=None):
    """Write `model` (its description, parameters, state, optimizer, RNG, `epoch` epochs
    done and the History) to `path` atomically. `run`: a JSON-friendly dict the caller
    wants kept with it (`minivae train` records its data and settings there). Raises
    CheckpointError naming the path and cause."""
    path = _check_path(path, "checkpoint.save")
    _check_model(model, "checkpoint.save")
    if epoch is not None:
        epoch = check_nonnegative_int(epoch, "epoch", "checkpoint.save")
    if history is not None and not isinstance(getattr(history, "history", None), dict):
        raise InputTypeError(f"checkpoint.save: history must be the History that fit returned "
                             f"(or None), got {type(history).__name__}")
    if run is not None and not isinstance(run, dict):
        raise InputTypeError(f"checkpoint.save: run must be a dict of JSON values (or None), "
                             f"got {type(run).__name__}")
    if not getattr(model, "built", True):
        raise InputError("checkpoint.save: the model was never built, so it has no weights "
                         "to save; build it (model.build(input_shape)) or train it first")
    if os.path.isdir(path):
        raise CheckpointError(f"cannot save a checkpoint to {path!r}: it is a directory; "
                              f"give a file name such as {os.path.join(path, 'model.npz')!r}")
    arrays = _collect(model, epoch, history, run)
    _refuse_non_finite(path, arrays, history)
    try:
        return atomic_write(path, lambda f: np.savez(f, **arrays))
    except OSError as exc:
        raise CheckpointError(f"could not write checkpoint {path!r}: {exc.strerror or exc}; "
                              f"the previous checkpoint, if any, is unchanged") from exc


def check_readable(model, where):
    """Refuse, before a run trains it, a model whose checkpoint `load` would refuse: more
    parameters than MAX_PARAMETERS, more entries than MAX_ENTRIES (each parameter with
    two optimizer moments, as Adam keeps: an upper bound for SGD; each state array, the
    meta and the checksum) or more array bytes than MAX_ARRAY_BYTES. The limits are
    read when called."""
    params, state = model.named_params(), model.named_state()
    check_parameter_count(model.count_params(), where)
    entries = 3 * len(params) + len(state) + 3       # Adam's m and v per parameter, its step
    nbytes = sum(3 * v.nbytes for v in params.values()) + sum(v.nbytes for v in state.values())
    check_checkpoint_size(entries, nbytes, where)


def _section(arrays, prefix):
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


def restore(model, path, arrays=None, meta=None):
    """Load a checkpoint's parameters, state, optimizer, RNG and history into `model`.

    The model must have the checkpoint's parameter names and shapes; any
    difference is a CheckpointError listing it. Returns (epoch, History): pass them
    to fit as initial_epoch and history to train on where the run stopped.
    """
    _check_model(model, "checkpoint.restore")
    if arrays is None:
        arrays, meta = read(path)
    # Everything is checked and built first, and only then copied into the model, so a
    # checkpoint refused for any reason leaves the model exactly as it was.
    copies = []
    for prefix, current in (("param/", model.named_params()), ("state/", model.named_state())):
        saved = _section(arrays, prefix)
        missing, extra = sorted(set(current) - set(saved)), sorted(set(saved) - set(current))
        shapes = sorted(k for k in set(saved) & set(current) if saved[k].shape != current[k].shape)
        if missing or extra or shapes:
            detail = "; ".join(part for part in (
                f"missing {missing[:4]}" if missing else "",
                f"unexpected {extra[:4]}" if extra else "",
                "shapes differ for " + ", ".join(f"{k} {saved[k].shape} vs {current[k].shape}"
                                                 for k in shapes[:4]) if shapes else "")
                if part)
            raise CheckpointError(f"{path!r} holds another architecture than this "
                                  f"{type(model).__name__}: {detail}")
        copies += [(current[k], v) for k, v in saved.items()]
    optimizer = None
    try:
        if meta.get("optimizer_config"):
            optimizer = optimizer_from_config(meta["optimizer_config"])
            optimizer.set_state(_section(arrays, "optimizer/"))
        rng = np.random.default_rng()
        rng.bit_generator.state = meta["rng_state"]
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path!r}: its optimizer or random-generator state cannot be "
                              f"restored: {exc}") from exc
    for target, value in copies:
        target[...] = value
    if optimizer is not None:
        model.compile(optimizer)
    model.rng.bit_generator.state = meta["rng_state"]
    history = meta["history"]
    return meta["epoch"], History(history, list(range(len(next(iter(history.values()), [])))))


def build_model(meta, custom_objects=None, where="the checkpoint", arrays=None):
    """The model a checkpoint's meta describes, built, with fresh weights.

    A description costs nothing until it is checked: the model is first built under
    layers.initializers.shapes_only(), which allocates no parameter, and its
    parameter count (state included) is held against files.MAX_PARAMETERS; given
    the checkpoint's `arrays` (as `read` returns them), every parameter and state
    name and shape must match them exactly. Only then is it built for real. Layers
    of one's own that allocate otherwise than through minivae's initialisers
    allocate in full even in the first build (docs/checkpoint.md, "Limits").
    Raises CheckpointError naming `where` and the first mismatch.
    """
    def describe():
        spec = meta.get("model")
        try:
            if spec is None:            # version 1: only the book's architectures
                model = architecture_from_config(meta["model_config"], dtype=meta["dtype"])
            else:
                model = deserialize(spec, custom_objects)
                model.config = meta.get("model_config") or {}
                model.build(tuple(spec["input_shape"]), dtype=spec.get("dtype", meta["dtype"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{where} describes a model minivae cannot build: "
                                  f"{exc}") from exc
        except MemoryError as exc:
            raise CheckpointError(f"{where}: out of memory while building the model it "
                                  f"describes") from exc
        if type(model).__name__ != meta.get("model_class"):
            raise CheckpointError(f"{where}: model class {meta.get('model_class')!r} does not "
                                  f"match the model it describes ({type(model).__name__})")
        return model

    with shapes_only():
        dry = describe()
    shapes = {f"param/{k}": v.shape for k, v in dry.named_params().items()}
    shapes.update({f"state/{k}": v.shape for k, v in dry.named_state().items()})
    count = sum(math.prod(shape) for shape in shapes.values())
    check_parameter_count(count, where)
    if arrays is not None:
        held = {k: v.shape for k, v in arrays.items() if k.startswith(("param/", "state/"))}
        for key in [*shapes, *(k for k in held if k not in shapes)]:
            if key not in held:
                raise CheckpointError(f"{where}: the model it describes has {key} "
                                      f"{shapes[key]}, which the checkpoint does not hold")
            if key not in shapes:
                raise CheckpointError(f"{where} holds {key} {held[key]}, which the model it "
                                      f"describes does not have")
            if held[key] != shapes[key]:
                raise CheckpointError(f"{where} holds {key} of shape {held[key]}, but the "
                                      f"model it describes has shape {shapes[key]}")
    return describe()


def load(path, custom_objects=None):
    """Rebuild the model a checkpoint describes, with everything restored.

    Any model made of minivae's layers comes back without the code that built it;
    classes of one's own must be registered (minivae.serialization.register) or
    named in custom_objects. Returns the model; `model.epoch` holds the epochs
    completed, `model.history` the training History so far, and `model.run` what
    the saver recorded (`minivae train`'s data and settings).
    """
    arrays, meta = read(_check_path(path, "checkpoint.load"))
    model = build_model(meta, custom_objects, repr(os.fspath(path)), arrays)
    model.epoch, model.history = restore(model, path, arrays, meta)
    model.run = meta.get("run") or {}
    return model


class CheckpointCallback:
    """A fit callback writing `path` after every epoch (atomically, as `save`)."""

    def __init__(self, path, run=None):
        self.path, self.run = path, run

    def __call__(self, model, epoch, logs, history):
        save(self.path, model, epoch=epoch + 1, history=history, run=self.run)
