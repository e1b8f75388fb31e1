"""A training run's folder: `minivae train` as a function (docs/training.md, "Runs").

    train_run(out, model="vae", data=None, epochs=5)    a new run, or resume=True one
    make_model(spec)                                     the model a --model spec names
    saved_state(path)                                    what a run's checkpoint holds

A run's folder holds model.npz (written after every epoch, only from a finite
state), history.json (strict JSON, rewritten after every epoch) and, at the end,
the figures (figures.write_figures). The checkpoint records the run's settings
and its data (the embedded sample by name, when the real data was not found);
a resumed run continues only with the same model, data and data order, and says
on stderr what it changes.

Nothing is lost: one run at a time per folder, by an advisory lock on the folder
taken before anything else looks at it and held while the run lives (the kernel
drops it if the process dies; no file is left behind). A new run is refused
where one lies unless overwrite=True, and then the old run's files are set
aside in OUT/.replaced-run/ until the new run has saved its first good
checkpoint (and put back if it never does: at once when it stops, or by the next
run in the folder when it was killed outright). A run resumed from another
folder's checkpoint is refused where OUT holds a run of its own, and
resume=True with overwrite=True is refused as contradictory.

Settings of the whole process stay the caller's: `minivae train` calls
fast.memory.tune_for_training() first (glibc's malloc, for the rest of the
process), which a library call never does. data_parallel is fit's, on by default
here as there (each batch split between the cores, BLAS held to one thread during
each step and restored after it). Errors a user can cause raise InputError,
CheckpointError or DatasetError, naming each setting as its command-line flag
(the spelling a checkpoint's run records); a diverged run raises
TrainingDiverged, an interrupted one RunInterrupted, each saying what was saved.
"""

import contextlib
import dataclasses
import fcntl
import importlib
import os
import sys
import time

import numpy as np

from . import architectures, training
from ._atomic import write_json
from ._validation import (check_choice, check_float_dtype, check_nonnegative_int,
                          check_positive_int, check_real)
from .checkpoint import CheckpointCallback, CheckpointError, check_readable, load, read
from .datasets import SAMPLE, batches_of, check_fits, load_for_training, parse_spec
from .errors import InputError, InputTypeError
from .fast import memory
from .figures import write_figures
from .optimizers import Adam
from .training import TrainingDiverged

DEFAULTS = {"epochs": 5, "batch_size": 100, "learning_rate": 5e-4, "model": "vae", "seed": 0,
            "dtype": "float32"}
CHECKPOINT, HISTORY = "model.npz", "history.json"
REPLACED = ".replaced-run"     # the old run's files while an overwriting run has none of its own
# What a run writes into its folder: what --overwrite sets aside.
RUN_FILES = (CHECKPOINT, HISTORY, "reconstructions.png", "latent_scatter.png",
             "latent_grid.png", "samples.png", "loss_curves.png")
BOOK_MODELS = {"vae": "fashion_vae", "ae": "fashion_autoencoder", "faces": "faces_vae",
               "keras-io": "keras_io_vae"}
MODEL_ALIASES = {builder: name for name, builder in BOOK_MODELS.items()}   # fashion_vae -> vae
MODEL_FLAGS = ("latent_dim", "beta", "reconstruction_weight")
# Settings a resumed run takes from its checkpoint: a different value given is refused.
RECORDED = ("model", "latent_dim", "beta", "reconstruction_weight", "dtype", "seed",
            "batch_size", "limit")


def _flag(name):
    return f"--{name.replace('_', '-')}"


class RunInterrupted(KeyboardInterrupt):
    """Training was interrupted (Ctrl-C, or SIGTERM turned into KeyboardInterrupt).

    state: what the folder holds now (saved_state); checkpoint: its path, or None
    when nothing was saved; epochs: the epochs the run was asked for.
    """

    def __init__(self, state, checkpoint, epochs):
        super().__init__(state)
        self.state, self.checkpoint, self.epochs = state, checkpoint, epochs


@dataclasses.dataclass(frozen=True, eq=False)
class Run:
    """What train_run did: the trained model and its History, the training data
    (a datasets.Dataset), the files it wrote, and the epochs [initial_epoch, epochs)
    it trained in `seconds`."""

    model: object
    history: object
    data: object
    checkpoint: str
    history_file: str
    figures: list
    initial_epoch: int
    epochs: int
    seconds: float


def make_model(spec="vae", latent_dim=None, beta=None, reconstruction_weight=None, seed=0,
               dtype="float32"):
    """The model a --model spec names: one of the book's (vae, ae, faces, keras-io, or
    their builders' names, with latent_dim etc.), or what a user's `module:function`
    returns (maybe not built yet: train_run builds it for the data), reseeded; None
    names the default, vae."""
    if spec is None:
        spec = DEFAULTS["model"]
    if not isinstance(spec, str):
        raise InputTypeError(f"--model must be one of {', '.join(BOOK_MODELS)} or "
                             f"module:function, got {spec!r} of type {type(spec).__name__}")
    name = MODEL_ALIASES.get(spec, spec)
    if name in BOOK_MODELS:
        kwargs = {"latent_dim": latent_dim, "beta": beta,
                  "reconstruction_weight": reconstruction_weight}
        if name == "ae":
            kwargs.pop("beta"), kwargs.pop("reconstruction_weight")
        if name == "keras-io":
            kwargs.pop("reconstruction_weight")
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        return getattr(architectures, BOOK_MODELS[name])(seed=seed, dtype=dtype, **kwargs)
    if ":" not in name:
        raise InputError(f"--model must be one of {', '.join(BOOK_MODELS)} (or "
                         f"{', '.join(MODEL_ALIASES)}) or module:function, got {name!r}")
    _refuse_model_flags({"latent_dim": latent_dim, "beta": beta,
                         "reconstruction_weight": reconstruction_weight}, name, "function")
    return _own_model(name, seed)


def _refuse_model_flags(given, name, where):
    flags = [_flag(k) for k in MODEL_FLAGS if given[k] is not None]
    if flags:
        raise InputError(f"{', '.join(flags)} {'sets' if len(flags) == 1 else 'set'} the "
                         f"book's models only; {name} builds its own, so set it in that "
                         f"{where}")


def _own_model(name, seed):
    """What a user's module:function returns, checked to be a minivae model, reseeded."""
    module_name, _, attr = name.partition(":")
    sys.path.insert(0, os.getcwd())         # a module beside the user, as `python -m` finds it
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"--model {name}: cannot import {module_name!r} ({exc})") from exc
    finally:
        sys.path.remove(os.getcwd())
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise InputError(f"--model {name}: {module_name} has no function {attr!r}")
    model = fn()
    if not _is_model(model):
        raise InputError(f"--model {name}: the function returned {type(model).__name__}, not a "
                         f"minivae model (VAE or Autoencoder)")
    model.reseed(seed)
    return model


@contextlib.contextmanager
def _lock(out):
    """One run at a time in a folder: an advisory lock on the folder itself."""
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise InputError(f"{out} is in use by another minivae train; wait for it to finish or "
                         f"choose another --out") from None
    try:
        yield
    finally:
        os.close(fd)


def saved_state(path):
    """What a run's checkpoint holds now, as a phrase (read back: a signal may land
    just after a save)."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputTypeError(f"path must be the path of a checkpoint (str or os.PathLike), got "
                             f"{path!r} of type {type(path).__name__}")
    if not os.path.exists(path):
        return "nothing was saved"
    try:
        epoch = read(path)[1].get("epoch")
    except CheckpointError as exc:
        return f"{path} cannot be read ({exc})"
    return f"the last good checkpoint is {path} ({epoch} epoch(s) done)"


def _check_given(out, model, epochs, resume, given, verbose):
    """What train_run was given, each refused in one line naming its flag, before the
    folder is touched: a 0 is never taken for "the default"."""
    if not isinstance(out, (str, os.PathLike)):
        raise InputTypeError(f"--out must be the path of a folder (str or os.PathLike), got "
                             f"{out!r} of type {type(out).__name__}")
    if os.path.exists(out) and not os.path.isdir(out):
        raise InputError(f"--out {os.fspath(out)} is a file; a run writes into a folder")
    if model is not None and not isinstance(model, str) and not _is_model(model):
        raise InputTypeError(f"--model must be one of {', '.join(BOOK_MODELS)}, "
                             f"module:function or a minivae model (VAE or Autoencoder), got "
                             f"{model!r} of type {type(model).__name__}")
    if resume is not None and not isinstance(resume, (bool, str, os.PathLike)):
        raise InputTypeError(f"--resume must be True (OUT/model.npz) or the path of a "
                             f"checkpoint, got {resume!r} of type {type(resume).__name__}")
    check_positive_int(epochs, "--epochs")
    for name in ("batch_size", "limit", "latent_dim"):
        if given[name] is not None:
            check_positive_int(given[name], _flag(name))
    if given["seed"] is not None:
        check_nonnegative_int(given["seed"], "--seed")
    if given["learning_rate"] is not None:
        check_real(given["learning_rate"], "--learning-rate")
        if not given["learning_rate"] > 0:
            raise InputError(f"--learning-rate must be a finite number > 0, got "
                             f"{given['learning_rate']!r}")
    for name in ("beta", "reconstruction_weight"):
        if given[name] is not None:
            check_real(given[name], _flag(name), minimum=0)
    if given["dtype"] is not None:
        given["dtype"] = str(check_float_dtype(given["dtype"], "--dtype"))
    check_choice(verbose, "verbose", (0, 1, 2))


def _is_model(model):
    return all(hasattr(model, a) for a in ("fit", "get_config", "named_params"))


# ------------------------------------------------------------------- resuming --

def _recorded(model):
    """The settings a checkpoint's run recorded, with what the model itself tells."""
    run = dict(getattr(model, "run", {}) or {})
    arch = (model.config or {}).get("architecture")
    run.setdefault("model", MODEL_ALIASES.get(arch))
    run["latent_dim"] = model.latent_dim
    run["reconstruction_weight"] = model.reconstruction_weight
    if hasattr(model, "beta"):
        run["beta"] = model.beta
    run["dtype"] = str(model.dtype)
    if model.optimizer is not None:
        run["learning_rate"] = model.optimizer.learning_rate
    return run


def _resume_settings(given, data, model, path, verbose):
    """The run's settings and data spec: settings that contradict the checkpoint are
    refused, naming the flag and both values; the learning rate and the epochs may
    change, and say so when verbose (a setting the checkpoint lacks is a warning:
    said always)."""
    recorded = _recorded(model)
    for name in RECORDED:
        value, kept = given[name], recorded.get(name)
        if value is not None and name in recorded and value != kept:
            raise InputError(f"{_flag(name)} {value} contradicts {path}, which was trained "
                             f"with {kept}; a resumed run continues the same run (start a new "
                             f"one in another --out to change it)")
    settings = {name: recorded.get(name) for name in ("model", "seed", "batch_size", "limit")}
    for name in ("batch_size", "seed"):
        if settings[name] is None:
            settings[name] = given[name] if given[name] is not None else DEFAULTS[name]
            print(f"minivae: {path} does not record its {_flag(name)}; using {settings[name]}, "
                  f"so the resumed run may not match an uninterrupted one", file=sys.stderr)
    if settings["limit"] is None:
        settings["limit"] = given["limit"]
    lr = given["learning_rate"]
    if lr is not None and lr != model.optimizer.learning_rate:
        if verbose:
            print(f"minivae: the learning rate changes from {model.optimizer.learning_rate:g} "
                  f"to {lr:g} as --learning-rate asks", file=sys.stderr)
        model.optimizer.learning_rate = lr
    recorded_data = recorded.get("data") or {}
    spec = parse_spec(*data, recorded_data, _data_shape(model))
    for key, flag in (("name", "--data"), ("folder", "--data"), ("data_dir", "--data-dir"),
                      ("image_size", "--image-size")):
        if key in recorded_data and spec[key] != recorded_data[key]:
            given_value = f"{spec['name']}:{spec[key]}" if key == "folder" else spec[key]
            kept = f"{recorded_data['name']}:{recorded_data[key]}" if key == "folder" \
                else recorded_data[key]
            if kept == SAMPLE:
                kept = f"{SAMPLE} (the embedded sample of fashion-mnist)"
            raise InputError(f"{flag} {given_value} contradicts {path}, which was trained on "
                             f"{flag} {kept}; a resumed run reads the data it was trained on")
    return settings, spec


def _resume(path, given, data, epochs, verbose):
    """(model, data spec, settings) of a run continued from the checkpoint at path."""
    model = load(path)
    if model.optimizer is None:
        raise InputError(f"{path} was saved without its optimizer state, so it cannot be "
                         f"resumed exactly; start a new run instead")
    settings, spec = _resume_settings(given, data, model, path, verbose)
    if model.epoch >= epochs:
        raise InputError(f"{path} has {model.epoch} epoch(s) done; pass --epochs larger "
                         f"than that to train further")
    return model, spec, settings


def _start(out, model, given, data, overwrite):
    """(model, data spec, settings) of a new run in out, its model compiled."""
    ckpt = os.path.join(out, CHECKPOINT)
    if os.path.exists(ckpt) and not overwrite:
        raise InputError(f"{out} already holds a run ({ckpt}); pass --resume to continue "
                         f"it, --overwrite to replace it, or choose another --out")
    seed = given["seed"] if given["seed"] is not None else DEFAULTS["seed"]
    if model is None or isinstance(model, str):
        spec_name = MODEL_ALIASES.get(model, model) if model else DEFAULTS["model"]
        model = make_model(spec_name, given["latent_dim"], given["beta"],
                           given["reconstruction_weight"], seed,
                           given["dtype"] or DEFAULTS["dtype"])
    else:                               # a model object: as a module:function's
        spec_name = MODEL_ALIASES.get((model.config or {}).get("architecture"))
        _refuse_model_flags(given, type(model).__name__, "model")
        model.reseed(seed)
    settings = {"model": spec_name, "seed": seed, "limit": given["limit"],
                "batch_size": given["batch_size"] or DEFAULTS["batch_size"]}
    # A model that comes compiled (a module:function's, say) keeps its own optimizer;
    # one that comes without gets the book's Adam.
    if model.optimizer is None:
        model.compile(Adam(learning_rate=given["learning_rate"] or DEFAULTS["learning_rate"]))
    elif given["learning_rate"] is not None:
        raise InputError(f"--learning-rate {given['learning_rate']:g} sets the optimizer of a "
                         f"model that comes without one; this {type(model).__name__} comes "
                         f"compiled with {type(model.optimizer).__name__}: set its rate where "
                         f"it is compiled")
    spec = parse_spec(*data, None, _data_shape(model) if model.built else None)
    return model, spec, settings


def _data_shape(model):
    """What names the model's data: the images it reads, or the image shape its flat
    vectors record (else their length, which parse_spec matches to an image size)."""
    return model.image_shape or model.input_shape


def _other_run(out, source):
    """Refuse to resume the checkpoint `source` into out when out holds another run."""
    here = os.path.join(out, CHECKPOINT)
    if os.path.exists(here) and not os.path.samefile(here, source):
        raise InputError(f"{out} already holds a run ({here}); resuming {source} there would "
                         f"replace it: resume into an empty --out, or resume {here} itself")


def _set_aside(out):
    """Move the run files in out into out/REPLACED, the checkpoint first (_recover relies
    on it); returns that folder, or None when there was nothing to move."""
    present = [name for name in RUN_FILES if os.path.exists(os.path.join(out, name))]
    if not present:
        return None
    aside = os.path.join(out, REPLACED)
    os.makedirs(aside)
    for name in present:
        os.replace(os.path.join(out, name), os.path.join(aside, name))
    return aside


def _put_back(out, aside):
    """The set-aside run back in place of whatever the new run wrote, its checkpoint last:
    while the folder lacks one, the run is still aside (_recover relies on it)."""
    names = sorted(os.listdir(aside), key=lambda name: name == CHECKPOINT)
    for name in names:
        os.replace(os.path.join(aside, name), os.path.join(out, name))
    os.rmdir(aside)


def _recover(out):
    """Finish what an overwriting run killed outright (SIGKILL, a crash) left in out.

    Its checkpoint is the point of no return, as for a run that stops otherwise: the
    old run goes aside checkpoint first and comes back checkpoint last, so while out
    holds no model.npz, the new run saved nothing and the old run, all or part of it
    in out/REPLACED, is put back; once out holds one, the new run had saved its first
    epoch and the old run is removed, as --overwrite asked. Both say so on stderr."""
    aside = os.path.join(out, REPLACED)
    if not os.path.isdir(aside):
        return
    ckpt = os.path.join(out, CHECKPOINT)
    if not os.listdir(aside):                   # stopped between a move and the rmdir
        os.rmdir(aside)
    elif not os.path.exists(ckpt):
        _put_back(out, aside)
        print(f"minivae: {aside} held the run that an --overwrite run had set aside, and that "
              f"run was stopped before it saved an epoch of its own; the old run is back in "
              f"{out} (pass --overwrite again to replace it)", file=sys.stderr)
    else:
        _discard(aside)
        print(f"minivae: removed {aside}, the old run an --overwrite run had set aside: the new "
              f"run saved its first epoch in {ckpt} before it was stopped, so it replaces the "
              f"old one, as --overwrite asked", file=sys.stderr)


def _kept(out, aside, ckpt):
    """What the folder holds after a run that stopped: the old run, put back when the new
    one saved nothing, or the new run's last good checkpoint."""
    if aside is not None:
        return f"no epoch of the new run was saved; the run it was to replace is back in {out}"
    return saved_state(ckpt)


def _discard(aside):
    for name in os.listdir(aside):
        os.remove(os.path.join(aside, name))
    os.rmdir(aside)


# ---------------------------------------------------------------------- the run --

def train_run(out, model=None, data=None, epochs=DEFAULTS["epochs"], resume=False,
              overwrite=False, batch_size=None, learning_rate=None, beta=None,
              reconstruction_weight=None, latent_dim=None, seed=None, dtype=None, limit=None,
              data_dir=None, image_size=None, verify=True, allow_sample=True, verbose=1,
              data_parallel=True):
    """Train a model into the folder `out`: what `minivae train` does. Returns a Run.

    model: a --model spec (vae, ae, faces, keras-io, or module:function; default
    vae) or a model object; data: fashion-mnist, mnist, folder:PATH or celeba:ROOT
    (datasets.parse_spec, with data_dir and image_size; default: what the
    checkpoint recorded, else fashion-mnist at the model's input size). A new run
    is refused where out holds one unless overwrite=True. resume=True continues
    out/model.npz (a path: that checkpoint) up to `epochs` in total, with the
    model, data and settings it recorded: a setting given that contradicts it is
    refused, learning_rate may change. The other settings default to the book's
    (batch 100, Adam 5e-4, seed 0, float32); limit keeps the first N training and
    N validation images (a folder's or CelebA's are streamed: only those N are read,
    one batch at a time, fit visiting the batches in a fresh order each epoch).
    verify, allow_sample: datasets.load_spec's. verbose=1
    prints fit's progress, where a resumed run starts and what it changes, and says
    when the embedded sample stands in for the data; verbose=0 prints only warnings
    (what a resumed run cannot repeat exactly, a set-aside run put back) and
    errors. data_parallel is fit's.
    """
    if resume and overwrite:
        raise InputError("--resume continues the run a checkpoint holds and --overwrite "
                         "replaces the run in --out: pass one of them")
    given = {"model": MODEL_ALIASES.get(model, model) if isinstance(model, str) else None,
             "latent_dim": latent_dim, "beta": beta,
             "reconstruction_weight": reconstruction_weight, "dtype": dtype, "seed": seed,
             "batch_size": batch_size, "limit": limit, "learning_rate": learning_rate}
    _check_given(out, model, epochs, resume, given, verbose)
    dtype = given["dtype"]
    data = (data, data_dir, image_size)
    out = os.fspath(out)
    ckpt, hist = os.path.join(out, CHECKPOINT), os.path.join(out, HISTORY)
    os.makedirs(out, exist_ok=True)
    # Everything that looks at the folder does so under its lock: two runs started at
    # once cannot both find it empty.
    with _lock(out):
        _recover(out)           # what an --overwrite run killed outright left behind
        if resume:
            source = ckpt if resume is True else os.fspath(resume)
            if resume is True and not os.path.exists(ckpt):
                raise InputError(f"--resume continues the run in --out, and {out} holds none "
                                 f"({ckpt} does not exist); start a run there without "
                                 f"--resume, or name a checkpoint: --resume PATH")
            if os.path.exists(source):
                _other_run(out, source)
            model, spec, settings = _resume(source, given, data, epochs, verbose)
            initial_epoch, history = model.epoch, model.history
            # A run that recorded where its data came from resumes on the same: the real
            # data never falls back to the sample (and a run on the sample recorded it
            # by name, so it reads the sample even where the real data now lies).
            allow_sample = allow_sample and "sample" not in (model.run or {})
        else:
            model, spec, settings = _start(out, model, given, data, overwrite)
            initial_epoch, history = 0, None
        train, val = load_for_training(spec, settings["limit"], allow_sample, verify, verbose)
        if train.is_sample and spec["name"] != SAMPLE:
            spec = {**spec, "name": SAMPLE}         # recorded: it resumes on the sample
        if not resume:              # a user's model built for the data, or cast to dtype
            # a model built already keeps its dtype unless one is asked for
            dtype = dtype or (str(model.dtype) if model.built else DEFAULTS["dtype"])
            if not model.built:
                model.build(train.images.shape[1:],
                            rng=np.random.default_rng(settings["seed"]), dtype=dtype)
            elif str(model.dtype) != dtype:
                model.astype(dtype)
        if model.image_shape is None and len(model.input_shape) == 1:
            # a model of flat vectors records the images they are, for every command
            model.image_shape = train.images.shape[1:]
        train = check_fits(train, model.input_shape, f"the model ({settings['model']})")
        val = check_fits(val, model.input_shape, f"the model ({settings['model']})")
        # a run whose checkpoints nothing could read back is refused before it trains
        check_readable(model, f"the model ({settings['model']})")
        run = {"model": settings["model"], "seed": settings["seed"],
               "batch_size": settings["batch_size"], "limit": settings["limit"],
               "dtype": str(model.dtype), "latent_dim": model.latent_dim, "data": spec,
               "sample": train.is_sample}
        aside = None
        save = CheckpointCallback(ckpt, run)

        def record(model, epoch, logs, history):
            nonlocal aside
            save(model, epoch, logs, history)
            write_json(hist, history.history)       # after every epoch, the last included
            if aside is not None:                   # the new run has a run of its own now
                done, aside = aside, None           # first: an interrupt now keeps the new
                _discard(done)

        if initial_epoch and verbose:
            print(f"minivae: resuming at epoch {initial_epoch + 1} of {epochs}", file=sys.stderr)
        started = time.perf_counter()
        try:
            if overwrite:               # inside the try: an interrupt from here puts it back
                aside = _set_aside(out)
            # a folder's or CelebA's images are streamed, one batch read at a time
            history = training.fit(model, batches_of(train.images, settings["batch_size"]),
                                   epochs=epochs, batch_size=settings["batch_size"],
                                   validation_data=batches_of(val.images,
                                                              settings["batch_size"]),
                                   initial_epoch=initial_epoch, history=history,
                                   verbose=verbose, callbacks=[record],
                                   data_parallel=data_parallel)
        except TrainingDiverged as exc:
            raise TrainingDiverged(f"{exc}; {_kept(out, aside, ckpt)}") from exc
        except KeyboardInterrupt as exc:
            state = _kept(out, aside, ckpt)
            raise RunInterrupted(state, ckpt if os.path.exists(ckpt) else None, epochs) from exc
        finally:
            memory.release_freed_memory()       # training's buffers go back to the kernel
            if aside is not None:               # no epoch of the new run was saved
                _put_back(out, aside)
        seconds = time.perf_counter() - started
        figures = write_figures(model, out, val, history, settings["seed"])
    return Run(model, history, train, ckpt, hist, figures, initial_epoch, epochs, seconds)


__all__ = ["train_run", "make_model", "saved_state", "Run", "RunInterrupted", "DEFAULTS",
           "BOOK_MODELS", "MODEL_ALIASES", "CHECKPOINT", "HISTORY"]
