"""What the commands share: flag types, the data, the model, checkpoints, JSON output."""

import argparse
import importlib
import json
import os
import sys

import numpy as np


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


# ------------------------------------------------------------------ flag types --

def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _float(text, test, expected):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (np.isfinite(value) and test(value)):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_float(text):
    return _float(text, lambda v: v > 0, "a finite number > 0")


def nonnegative_float(text):
    return _float(text, lambda v: v >= 0, "a finite number >= 0")


# ------------------------------------------------------------------------ data --

MNIST_FORMAT = ("fashion-mnist", "mnist")
IMAGE_FOLDER_SIZE = 64          # the faces VAE's 64x64 (the book's CelebA size)


def add_data_flags(parser, train=False):
    """--data, --data-dir, --image-size, --no-verify (and --no-sample for training)."""
    parser.add_argument("--data", metavar="NAME",
                        help="fashion-mnist, mnist, folder:PATH (PNG/JPEG images) or "
                             "celeba:ROOT (img_align_celeba/ and its attribute table, resized "
                             "as the book does); default: what the checkpoint was trained on, "
                             "else fashion-mnist")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="the folder holding the IDX files; it must exist and hold them "
                             "(no other place is searched)")
    parser.add_argument("--image-size", type=positive_int, metavar="N",
                        help="28 (unpadded) or 32 (the book's padding) for the MNIST-format "
                             "sets, any N for a folder (N x N); default: the model's input")
    parser.add_argument("--no-verify", action="store_true",
                        help="use IDX files of the published size even if their SHA-256 "
                             "differs (a DatasetWarning says so)")
    if train:
        parser.add_argument("--no-sample", action="store_true",
                            help="fail instead of falling back to the embedded sample")


class Data:
    """A dataset as the commands use it: uint8 images, labels (or None), class names,
    where it came from, and the spec that names it in a checkpoint."""

    def __init__(self, images, labels, classes, source, is_sample, spec):
        self.images, self.labels, self.classes = images, labels, classes
        self.source, self.is_sample, self.spec = source, is_sample, spec

    def __len__(self):
        return len(self.images)

    @property
    def description(self):
        return "the embedded sample" if self.is_sample else self.source


def data_spec(args, recorded=None, input_shape=None):
    """{"name", "data_dir", "image_size"} from the flags, then what a checkpoint recorded,
    then the model's input shape; defaults last."""
    recorded = dict(recorded or {})
    name = args.data or recorded.get("name") or "fashion-mnist"
    if name.startswith(("folder:", "celeba:")):
        name, folder = name.split(":", 1)
    else:
        folder = recorded.get("folder") if name in ("folder", "celeba") else None
    if name not in MNIST_FORMAT + ("folder", "celeba"):
        raise CLIError(f"--data must be fashion-mnist, mnist, folder:PATH or celeba:ROOT, got "
                       f"{args.data!r}")
    if name in ("folder", "celeba") and not folder:
        raise CLIError(f"--data {name} needs its path: --data {name}:PATH")
    size = args.image_size or recorded.get("image_size")
    if size is None and input_shape is not None:
        size = input_shape[0]
        if name in MNIST_FORMAT and (tuple(input_shape[1:]) != (size, 1) or size not in (28, 32)):
            raise CLIError(f"the model reads images of shape {tuple(input_shape)}, and {name} "
                           f"has 28x28 or 32x32 grey ones; name its data with --data "
                           f"folder:PATH --image-size {size}")
    if size is None:
        size = 32 if name in MNIST_FORMAT else IMAGE_FOLDER_SIZE
    if name in MNIST_FORMAT and size not in (28, 32):
        raise CLIError(f"--image-size must be 28 or 32 for {name}, got {size}")
    data_dir = args.data_dir if args.data_dir is not None else recorded.get("data_dir")
    return {"name": name, "data_dir": data_dir, "folder": folder, "image_size": int(size)}


def load_data(spec, split, args, allow_sample=True, quiet=False):
    """The split a spec names, as uint8 images (folders: 90% train, the rest test)."""
    from ..datasets import load_celeba, load_dataset, load_image_folder
    if spec["name"] in ("folder", "celeba"):
        size = (spec["image_size"],) * 2
        if spec["name"] == "celeba":    # every face unless --limit: 2.5 GB of uint8 for all
            limit = getattr(args, "limit", None) or 10 ** 9
            images = load_celeba(spec["folder"], limit, size=size, dtype="uint8")
        else:
            images = load_image_folder(spec["folder"], size=size)
            images = np.round(images * 255).astype(np.uint8)
        cut = max(1, int(0.9 * len(images))) if len(images) > 1 else len(images)
        part = images[:cut] if split == "train" else images[cut:] if cut < len(images) \
            else images
        return Data(part, None, None, spec["folder"], False, spec)
    data = load_dataset(split, spec["data_dir"], name=spec["name"], dtype="uint8",
                        allow_sample=allow_sample and not getattr(args, "no_sample", False),
                        pad=spec["image_size"] == 32, verify=not getattr(args, "no_verify", False))
    if data.is_sample and not quiet:
        title = {"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST"}[spec["name"]]
        print(f"minivae: {title} not found; using the embedded sample of {len(data)} "
              f"images ({data.source}). Install the full dataset with `apt-get install "
              f"dataset-fashion-mnist` or pass --data-dir.", file=sys.stderr)
    return Data(data.images, data.labels, data.classes, data.source, data.is_sample, spec)


def check_fits(model, data, where):
    """The model reads images of the data's shape, or a one-line error saying both."""
    shape = tuple(data.images.shape[1:])
    if model.built and tuple(model.input_shape) != shape:
        raise CLIError(f"{where} reads images of shape {tuple(model.input_shape)}, but "
                       f"{data.description} gives {shape}; choose the data with --data and "
                       f"--image-size")


# ---------------------------------------------------------------------- models --

BOOK_MODELS = {"vae": "fashion_vae", "ae": "fashion_autoencoder", "faces": "faces_vae",
               "keras-io": "keras_io_vae"}
MODEL_ALIASES = {builder: name for name, builder in BOOK_MODELS.items()}   # fashion_vae -> vae
MODEL_FLAGS = ("latent_dim", "beta", "reconstruction_weight")


def make_model(args):
    """The model --model names: one of the book's (with --latent-dim etc.), or what a
    user's `module:function` returns (maybe not built yet: see finish_model)."""
    from .. import architectures
    name = args.model               # aliases are resolved as the flag is parsed
    if name in BOOK_MODELS:
        builder = getattr(architectures, BOOK_MODELS[name])
        kwargs = {"latent_dim": args.latent_dim, "beta": args.beta,
                  "reconstruction_weight": args.reconstruction_weight}
        if name == "ae":
            kwargs.pop("beta"), kwargs.pop("reconstruction_weight")
        if name == "keras-io":
            kwargs.pop("reconstruction_weight")
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        return builder(seed=args.seed, dtype=args.dtype, **kwargs)
    if ":" not in name:
        raise CLIError(f"--model must be one of {', '.join(BOOK_MODELS)} (or "
                       f"{', '.join(MODEL_ALIASES)}) or module:function, got {name!r}")
    given = [f"--{flag.replace('_', '-')}" for flag in MODEL_FLAGS
             if getattr(args, flag) is not None]
    if given:
        raise CLIError(f"{', '.join(given)} {'sets' if len(given) == 1 else 'set'} the book's "
                       f"models only; {name} builds its own, so set it in that function")
    module_name, _, attr = name.partition(":")
    sys.path.insert(0, os.getcwd())         # a module beside the user, as `python -m` finds it
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CLIError(f"--model {name}: cannot import {module_name!r} ({exc})") from exc
    finally:
        sys.path.remove(os.getcwd())
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise CLIError(f"--model {name}: {module_name} has no function {attr!r}")
    model = fn()
    if not all(hasattr(model, a) for a in ("fit", "get_config", "named_params")):
        raise CLIError(f"--model {name}: the function returned {type(model).__name__}, not a "
                       f"minivae model (VAE or Autoencoder)")
    model.reseed(args.seed)
    return model


def finish_model(model, args, data_shape):
    """A user's model built for the data (weights from --seed) or cast to --dtype."""
    if not model.built:
        model.build(data_shape, rng=np.random.default_rng(args.seed), dtype=args.dtype)
    elif str(model.dtype) != args.dtype:
        model.astype(args.dtype)
    return model


def load_checkpoint(path, flag="checkpoint"):
    from ..checkpoint import load
    if not os.path.exists(path):
        raise CLIError(f"{flag} {path!r}: no such file")
    return load(path)


# ------------------------------------------------------------------------ output --

def write_json(path, obj):
    """Strict JSON (a NaN is an error, not a token other readers refuse), atomically."""
    from .._atomic import atomic_write
    try:
        data = (json.dumps(obj, indent=2, allow_nan=False) + "\n").encode()
    except ValueError as exc:
        raise CLIError(f"refusing to write {path}: it would hold a non-finite number "
                       f"({exc})") from exc
    try:
        atomic_write(path, lambda f: f.write(data))
    except OSError as exc:
        raise CLIError(f"could not write {path}: {exc.strerror or exc}") from exc


def figure(path, draw, *args, **kwargs):
    """draw(*args, path, **kwargs), with a failure to write naming the file."""
    try:
        return draw(*args, path, **kwargs)
    except OSError as exc:
        raise CLIError(f"could not write {path}: {exc.strerror or exc}") from exc
