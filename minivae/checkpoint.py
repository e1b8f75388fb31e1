"""Checkpoints: one .npz holding a model, its optimizer and where training stood.

Layout (all plain arrays; loaded with allow_pickle=False):

    param/<layer>/<name>      every trained parameter, Keras layout and names
    state/<layer>/<name>      non-trained state (BatchNormalization moving stats)
    optimizer/<key>           the optimizer's get_state() (iterations, m/..., v/...)
    meta                      JSON text: format, version, model config, dtype,
                              optimizer config, epochs done, RNG state, history
    checksum                  SHA-256 over every other entry's name, dtype, shape
                              and bytes: a truncated or bit-flipped file is caught

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

import hashlib
import json
import os

import numpy as np

from ._atomic import atomic_write
from ._validation import check_nonnegative_int

FORMAT, VERSION = "minivae-checkpoint", 1


class CheckpointError(Exception):
    """A checkpoint could not be written, read, verified or matched to a model."""


def _digest(arrays):
    h = hashlib.sha256()
    for key in sorted(arrays):
        value = np.ascontiguousarray(arrays[key])
        h.update(f"{key}|{value.dtype.str}|{value.shape}|".encode())
        h.update(value.tobytes())
    return h.hexdigest()


def _collect(model, epoch, history):
    arrays = {f"param/{k}": v for k, v in model.named_params().items()}
    arrays.update({f"state/{k}": v for k, v in model.named_state().items()})
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        arrays.update({f"optimizer/{k}": v for k, v in optimizer.get_state().items()})
    meta = {
        "format": FORMAT, "version": VERSION, "model_class": type(model).__name__,
        "model_config": model.config, "dtype": str(model.dtype),
        "optimizer_config": optimizer.get_config() if optimizer is not None else None,
        "epoch": int(epoch or 0), "rng_state": model.rng.bit_generator.state,
        "history": history.history if history is not None else {},
    }
    arrays["meta"] = np.array(json.dumps(meta))
    arrays["checksum"] = np.array(_digest(arrays))
    return arrays


def _check_path(path, owner):
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"{owner}: path must be a str or os.PathLike naming a .npz file, "
                        f"got {type(path).__name__}") from None


def _check_model(model, owner):
    if not all(hasattr(model, attr) for attr in ("named_params", "named_state", "config")):
        raise TypeError(f"{owner}: model must be a minivae model (VAE or Autoencoder, e.g. "
                        f"from fashion_vae()), got {type(model).__name__}")
    return model


def save(path, model, epoch=None, history=None):
    """Write `model` (parameters, state, optimizer, RNG, `epoch` epochs done and the
    History) to `path` atomically. Raises CheckpointError naming the path and cause."""
    path = _check_path(path, "checkpoint.save")
    _check_model(model, "checkpoint.save")
    if epoch is not None:
        epoch = check_nonnegative_int(epoch, "epoch", "checkpoint.save")
    if history is not None and not isinstance(getattr(history, "history", None), dict):
        raise TypeError(f"checkpoint.save: history must be the History that fit returned "
                        f"(or None), got {type(history).__name__}")
    if os.path.isdir(path):
        raise CheckpointError(f"cannot save a checkpoint to {path!r}: it is a directory; "
                              f"give a file name such as {os.path.join(path, 'model.npz')!r}")
    arrays = _collect(model, epoch, history)
    try:
        return atomic_write(path, lambda f: np.savez(f, **arrays))
    except OSError as exc:
        raise CheckpointError(f"could not write checkpoint {path!r}: {exc.strerror or exc}; "
                              f"the previous checkpoint, if any, is unchanged") from exc


def read(path):
    """The verified arrays and parsed meta of a checkpoint: (arrays, meta).

    Raises CheckpointError for a path that is missing or a folder, and for any file
    that is not an intact minivae checkpoint. Never unpickles (allow_pickle=False).
    """
    path = _check_path(path, "checkpoint.read")
    if os.path.isdir(path):
        raise CheckpointError(f"{path!r} is a directory, not a checkpoint file "
                              f"(training writes <out>/model.npz)")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise CheckpointError(f"{path!r} holds a single .npy array, not a minivae "
                                  f"checkpoint (.npz)")
        with data:
            arrays = {k: data[k] for k in data.files}
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path!r}") from None
    except Exception as exc:
        # Corrupt bytes reach zipfile and numpy's .npy parser, which answer with a dozen
        # exception types: BadZipFile, NotImplementedError (an unknown compression method
        # or zip version), RuntimeError (an "encrypted" flag), zlib errors, ValueError,
        # EOFError, MemoryError (a shape too large to allocate), ... Each one means the
        # file is not an intact checkpoint, and the original stays as __cause__.
        raise CheckpointError(f"{path!r} is not a readable minivae checkpoint (truncated or "
                              f"corrupted?): {type(exc).__name__}: {exc}") from exc
    if "checksum" not in arrays or "meta" not in arrays:
        raise CheckpointError(f"{path!r} is not a minivae checkpoint: no meta/checksum entries")
    stored = str(arrays.pop("checksum"))
    if _digest(arrays) != stored:
        raise CheckpointError(f"{path!r} failed its SHA-256 check: the file is corrupted")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except ValueError as exc:
        raise CheckpointError(f"{path!r} has unreadable metadata: {exc}") from exc
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path!r} has metadata of type {type(meta).__name__}; "
                              f"expected a JSON object")
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise CheckpointError(f"{path!r} has format {meta.get('format')!r} version "
                              f"{meta.get('version')!r}; this minivae reads {FORMAT!r} "
                              f"version {VERSION}")
    return arrays, meta


def _section(arrays, prefix):
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


def restore(model, path, arrays=None, meta=None):
    """Load a checkpoint's parameters, state, optimizer, RNG and history into `model`.

    The model must have the checkpoint's parameter names and shapes; any
    difference is a CheckpointError listing it. Returns (epoch, history dict).
    """
    from .optimizers import from_config as optimizer_from_config

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
    return meta["epoch"], meta["history"]


def load(path):
    """Rebuild the model a checkpoint describes, with everything restored.

    Returns the model; `model.epoch` holds the epochs completed and
    `model.history` the training History so far.
    """
    from .architectures import from_config
    from .training import History

    arrays, meta = read(path)
    try:
        model = from_config(meta["model_config"], dtype=meta["dtype"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{os.fspath(path)!r} describes a model minivae cannot build: "
                              f"{exc}") from exc
    if type(model).__name__ != meta.get("model_class"):
        raise CheckpointError(f"{os.fspath(path)!r}: model class {meta.get('model_class')!r} "
                              f"does not match its architecture")
    epoch, history = restore(model, path, arrays, meta)
    model.epoch = epoch
    model.history = History(history, list(range(len(next(iter(history.values()), [])))))
    return model


class CheckpointCallback:
    """A fit callback writing `path` after every epoch (atomically, as `save`)."""

    def __init__(self, path):
        self.path = path

    def __call__(self, model, epoch, logs, history):
        save(self.path, model, epoch=epoch + 1, history=history)
