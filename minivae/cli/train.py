"""`minivae train`: a model on a dataset, checkpointed every epoch, resumable exactly.

A run's folder holds model.npz (written after every epoch, only from a finite
state), history.json (strict JSON, rewritten after every epoch) and, at the end,
the figures. The checkpoint records the run's settings; `--resume` continues
only with the same model, data and data order, and says what it changes.
"""

import contextlib
import fcntl
import json
import os
import sys
import time

import numpy as np

from .common import (BOOK_MODELS, MODEL_ALIASES, CLIError, add_data_flags, check_fits,
                     data_spec, figure, finish_model, load_checkpoint, load_data, make_model,
                     nonnegative_float, positive_float, positive_int, write_json)

DEFAULTS = {"epochs": 5, "batch_size": 100, "learning_rate": 5e-4, "model": "vae", "seed": 0,
            "dtype": "float32"}
CHECKPOINT, HISTORY = "model.npz", "history.json"
SAMPLE_HOLDOUT = 200            # the sample's last 200 images validate


def add_parser(sub):
    t = sub.add_parser("train", help="train a VAE or autoencoder (the book's, or your own)",
                       description="Train on Fashion-MNIST, MNIST or a folder of images "
                       "(found on disk, else the embedded 2,000-image sample). Writes "
                       "OUT/model.npz and OUT/history.json after every epoch, then the "
                       "figures as PNG.")
    t.add_argument("--model", metavar="NAME", type=lambda name: MODEL_ALIASES.get(name, name),
                   help=f"{', '.join(BOOK_MODELS)} (the book's Fashion VAE, its autoencoder, "
                        f"its faces VAE, Keras's example VAE), or module:function returning "
                        f"a model of your own (default vae)")
    add_data_flags(t, train=True)
    t.add_argument("--epochs", type=positive_int, default=DEFAULTS["epochs"],
                   help=f"total epochs (default {DEFAULTS['epochs']})")
    t.add_argument("--batch-size", type=positive_int, help="default 100")
    t.add_argument("--learning-rate", type=positive_float, help="Adam's (default 5e-4)")
    t.add_argument("--beta", type=nonnegative_float, help="weight of the KL term (default 1)")
    t.add_argument("--reconstruction-weight", type=nonnegative_float,
                   help="weight on the mean pixel loss (default: the model's, 500 for the book)")
    t.add_argument("--latent-dim", type=positive_int, help="default: the model's (2 for vae)")
    t.add_argument("--out", default="runs/fashion", help="output folder (default runs/fashion)")
    t.add_argument("--resume", nargs="?", const="auto", metavar="CHECKPOINT",
                   help="continue from CHECKPOINT (default OUT/model.npz) up to --epochs")
    t.add_argument("--overwrite", action="store_true",
                   help="replace a run already in OUT (its checkpoint and history)")
    t.add_argument("--seed", type=int, help="weights, shuffling and noise (default 0)")
    t.add_argument("--dtype", choices=("float32", "float64"))
    t.add_argument("--limit", type=positive_int, metavar="N",
                   help="use only the first N training and N validation images (a quick run)")
    t.add_argument("--quiet", action="store_true", help="print nothing but errors")
    t.set_defaults(run=cmd_train)


def _data(spec, args, quiet):
    train = load_data(spec, "train", args, quiet=quiet)
    if train.is_sample:
        held = slice(len(train) - SAMPLE_HOLDOUT, None)
        val = type(train)(train.images[held], train.labels[held], train.classes, train.source,
                          True, spec)
        train.images, train.labels = train.images[:held.start], train.labels[:held.start]
        return train, val
    return train, load_data(spec, "test", args, allow_sample=False, quiet=quiet)


def _limit(data, n):
    if n is not None:
        data.images = data.images[:n]
        data.labels = None if data.labels is None else data.labels[:n]
    return data


@contextlib.contextmanager
def _lock(out):
    """One run at a time in a folder: an advisory lock on the folder itself, held while
    the run lives (the kernel drops it if the process dies; no file is left behind)."""
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise CLIError(f"{out} is in use by another minivae train; wait for it to finish or "
                       f"choose another --out") from None
    try:
        yield
    finally:
        os.close(fd)


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


def _resume_settings(args, model, path):
    """The run's settings: flags that contradict the checkpoint are refused, naming the
    flag and both values; the learning rate and the epochs may change, and say so."""
    recorded = _recorded(model)
    for flag in ("model", "latent_dim", "beta", "reconstruction_weight", "dtype", "seed",
                 "batch_size", "limit"):
        given, kept = getattr(args, flag), recorded.get(flag)
        if given is not None and flag in recorded and given != kept:
            raise CLIError(f"--{flag.replace('_', '-')} {given} contradicts {path}, which was "
                           f"trained with {kept}; a resumed run continues the same run (start "
                           f"a new one in another --out to change it)")
    settings = {flag: recorded.get(flag) for flag in ("model", "seed", "batch_size", "limit")}
    for flag in ("batch_size", "seed"):
        if settings[flag] is None:
            settings[flag] = getattr(args, flag) if getattr(args, flag) is not None \
                else DEFAULTS[flag]
            print(f"minivae: {path} does not record its --{flag.replace('_', '-')}; using "
                  f"{settings[flag]}, so the resumed run may not match an uninterrupted one",
                  file=sys.stderr)
    if settings["limit"] is None:
        settings["limit"] = args.limit
    lr = args.learning_rate
    if lr is not None and lr != model.optimizer.learning_rate:
        print(f"minivae: the learning rate changes from {model.optimizer.learning_rate:g} to "
              f"{lr:g} as --learning-rate asks", file=sys.stderr)
        model.optimizer.learning_rate = lr
    recorded_data = recorded.get("data") or {}
    spec = data_spec(args, recorded_data, model.input_shape)
    for key, flag in (("name", "--data"), ("image_size", "--image-size")):
        if key in recorded_data and spec[key] != recorded_data[key]:
            raise CLIError(f"{flag} {spec[key]} contradicts {path}, which was trained on "
                           f"{recorded_data[key]}")
    return settings, spec


def _prepare(args):
    """(model, data spec, settings, initial epoch, history) for a new or resumed run."""
    ckpt = os.path.join(args.out, CHECKPOINT)
    if args.resume:
        path = args.resume if args.resume != "auto" else ckpt
        model = load_checkpoint(path, "--resume")
        if model.optimizer is None:
            raise CLIError(f"{path} was saved without its optimizer state, so it cannot be "
                           f"resumed exactly; start a new run instead")
        settings, spec = _resume_settings(args, model, path)
        if model.epoch >= args.epochs:
            raise CLIError(f"{path} has {model.epoch} epoch(s) done; pass --epochs larger "
                           f"than that to train further")
        return model, spec, settings, model.epoch, model.history
    if os.path.exists(ckpt) and not args.overwrite:
        raise CLIError(f"{args.out} already holds a run ({ckpt}); pass --resume to continue "
                       f"it, --overwrite to replace it, or choose another --out")
    from ..optimizers import Adam
    for k in ("model", "seed", "dtype"):
        if getattr(args, k) is None:
            setattr(args, k, DEFAULTS[k])
    settings = {"model": args.model, "seed": args.seed, "limit": args.limit,
                "batch_size": args.batch_size or DEFAULTS["batch_size"]}
    model = make_model(args).compile(Adam(learning_rate=args.learning_rate
                                          or DEFAULTS["learning_rate"]))
    spec = data_spec(args, None, model.input_shape if model.built else None)
    return model, spec, settings, 0, None


# ---------------------------------------------------------------------- the run --

def cmd_train(args):
    from .. import checkpoint
    from ..fast import memory
    from ..training import TrainingDiverged
    model, spec, settings, initial_epoch, history = _prepare(args)
    quiet = args.quiet
    train, val = _data(spec, args, quiet)
    train, val = _limit(train, settings["limit"]), _limit(val, settings["limit"])
    if not args.resume:
        finish_model(model, args, train.images.shape[1:])
    check_fits(model, train, f"the model ({settings['model']})")
    run = {"model": settings["model"], "seed": settings["seed"],
           "batch_size": settings["batch_size"], "limit": settings["limit"],
           "dtype": str(model.dtype), "latent_dim": model.latent_dim, "data": spec}
    ckpt, hist = os.path.join(args.out, CHECKPOINT), os.path.join(args.out, HISTORY)
    epochs = args.epochs
    os.makedirs(args.out, exist_ok=True)
    with _lock(args.out):
        if args.overwrite and not args.resume:
            for stale in (ckpt, hist):
                if os.path.exists(stale):
                    os.remove(stale)
        save = checkpoint.CheckpointCallback(ckpt, run)

        def record(model, epoch, logs, history):
            save(model, epoch, logs, history)
            write_json(hist, history.history)       # after every epoch, the last included

        if initial_epoch:
            print(f"minivae: resuming at epoch {initial_epoch + 1} of {epochs}", file=sys.stderr)
        # This process is the command's own: keep freed buffers for the next step, and split
        # each batch between two threads (settings of the whole process, so the library
        # makes them only when asked; minivae/fast).
        memory.tune_for_training()
        started = time.perf_counter()
        try:
            history = model.fit(train.images, epochs=epochs, batch_size=settings["batch_size"],
                                validation_data=val.images, initial_epoch=initial_epoch,
                                history=history, verbose=0 if quiet else 1, callbacks=[record],
                                data_parallel=True)
        except TrainingDiverged as exc:
            raise CLIError(f"{exc}; {_saved_state(ckpt)}") from exc
        except KeyboardInterrupt:
            state = _saved_state(ckpt)
            print(f"minivae train: interrupted; {state}"
                  + (f"; continue with: {_resume_command(args, epochs)}"
                     if os.path.exists(ckpt) else ""), file=sys.stderr)
            return 130
        finally:
            memory.release_freed_memory()       # training's buffers go back to the kernel
        seconds = time.perf_counter() - started
        figures = write_figures(model, args.out, val, history, settings["seed"])
    if not quiet:
        last = {k: round(v[-1], 4) for k, v in history.history.items()}
        print(f"trained {epochs - initial_epoch} epoch(s) in {seconds:.1f}s on "
              f"{train.description}")
        print("final metrics: " + json.dumps(last))
        print(f"wrote {ckpt}, {hist} and {', '.join(os.path.basename(p) for p in figures)}")
    return 0


def _saved_state(ckpt):
    """What the folder holds now (read back: a signal may land just after a save)."""
    from ..checkpoint import CheckpointError, read
    if not os.path.exists(ckpt):
        return "nothing was saved"
    try:
        epoch = read(ckpt)[1].get("epoch")
    except CheckpointError as exc:
        return f"{ckpt} cannot be read ({exc})"
    return f"the last good checkpoint is {ckpt} ({epoch} epoch(s) done)"


def _resume_command(args, epochs):
    return f"python3 -m minivae train --out {args.out} --resume --epochs {epochs}"


def write_figures(model, out, data, history, seed=0):
    """The book's figures for a trained model, into `out`; returns their paths."""
    from .. import latent, plotting
    from ..models import VAE
    from ..pixels import to_float
    rng = np.random.default_rng(seed)
    n = min(len(data), 5000)
    x = data.images[:n]
    y = None if data.labels is None else data.labels[:n]
    path = os.path.join
    paths = [figure(path(out, "reconstructions.png"), plotting.plot_reconstructions,
                    to_float(x[:10]), model.reconstruct(x[:10]))]
    z = model.encode(x)[0] if isinstance(model, VAE) else model.encode(x)
    paths.append(figure(path(out, "latent_scatter.png"), plotting.plot_latent_scatter, z, y,
                        class_names=data.classes))
    components = None
    if z.shape[1] > 2:
        components = latent.principal_components(z)[1]
    if isinstance(model, VAE):
        # The prior's quantiles: N(0, I) projected on orthonormal components is N(0, I_2).
        paths.append(figure(path(out, "latent_grid.png"), plotting.plot_latent_grid,
                            model.decode, components=components, latent_dim=z.shape[1]))
        paths.append(figure(path(out, "samples.png"), plotting.plot_image_grid,
                            model.generate(30, rng), ncols=10,
                            title="samples from the prior N(0, I)"))
    else:
        # An autoencoder has no prior: span the region its codes occupy instead.
        scale = z.std(axis=0) if components is None else (z @ components.T).std(axis=0)
        paths.append(figure(path(out, "latent_grid.png"), plotting.plot_latent_grid,
                            model.decode, components=components, latent_dim=z.shape[1],
                            mean=z.mean(axis=0), scale=scale))
    paths.append(figure(path(out, "loss_curves.png"), plotting.plot_history, history.history))
    return paths
