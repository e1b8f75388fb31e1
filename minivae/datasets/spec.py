"""A dataset as a run names it: the Dataset type, and the data spec the commands and
checkpoints use (docs/datasets.md, "Naming data").

    fashion-mnist | mnist     the IDX sets (28x28 or the book's padded 32x32), found on
                              disk, else (Fashion-MNIST only) the embedded sample
    folder:PATH               every PNG/JPEG in PATH, N x N RGB
    celeba:ROOT               CelebA's aligned faces, resized as the book does

    parse_spec(data, ...)             the spec dict a checkpoint records
    load_spec(spec, split)            the split it names, as a Dataset of uint8 images
    load_for_training(spec)           (train, validation): the folders' 90/10 split, the
                                      sample's last SAMPLE_HOLDOUT images held out
    load_for_model(input_shape, ...)  the data a model reads, checked to fit it

Errors a user can cause raise InputError (a spec that names nothing, a shape the
model cannot read) or DatasetError (data missing or broken). Their messages name
each setting as its command-line flag (--data, --image-size), the spelling a
checkpoint's run records.
"""

import dataclasses
import math
import os
import sys

import numpy as np

from .._validation import check_choice, check_positive_int
from ..errors import InputError, InputTypeError
from .celeba import face_pixels, open_celeba
from .errors import DatasetError, DatasetNotFoundError
from .folders import folder_pixels, image_files
from .mnist import _SOURCES, FASHION_MNIST_CLASSES, _load
from .sample import _sample_resource, load_sample
from .streaming import FolderImages

MNIST_FORMAT = ("fashion-mnist", "mnist")
# The embedded sample by name: what a run that fell back to it records, so that it
# resumes on the sample even where the real data has since been installed.
SAMPLE = "sample"
GREY = MNIST_FORMAT + (SAMPLE,)        # 28x28 or 32x32 grey images, labelled
FOLDER_FORMAT = ("folder", "celeba")
IMAGE_FOLDER_SIZE = 64          # the faces VAE's 64x64 (the book's CelebA size)
TRAIN_SHARE = 0.9               # a folder's first 90% train, the rest test
SAMPLE_HOLDOUT = 200            # the sample's last 200 images validate
ALL_FACES = 10 ** 9             # celeba without a limit: every face, streamed


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """One split of a dataset and where it came from.

    images (N, H, W, C) float in [0, 1] or uint8, or for a folder or CelebA a
    streaming.FolderImages of uint8 (read when indexed: images[:n] is an array);
    labels (N,) uint8, or None for
    unlabelled images (a folder, CelebA without an attribute); classes: the
    label names, or None.
    source: the folder the files were read from, or the embedded sample's path.
    is_sample: True when the real data was not found and the 2,000-image
    embedded sample stands in for it (whatever split was asked for).
    spec: the data spec that names it (parse_spec), or None.
    """

    images: np.ndarray = dataclasses.field(repr=False)
    labels: np.ndarray = dataclasses.field(repr=False)
    source: str
    is_sample: bool
    name: str
    split: str
    classes: tuple = dataclasses.field(repr=False, default=FASHION_MNIST_CLASSES)
    spec: dict = dataclasses.field(repr=False, default=None)

    def __len__(self):
        return len(self.images)

    @property
    def description(self):
        """Where the images came from, for a sentence: its folder or the embedded sample."""
        return "the embedded sample" if self.is_sample else self.source

    def head(self, n):
        """The first n images and labels (all of them when n is None), as a Dataset."""
        if n is None:
            return self
        head = self.images.head(n) if hasattr(self.images, "head") else self.images[:n]
        return dataclasses.replace(self, images=head,
                                   labels=None if self.labels is None else self.labels[:n])


def load_dataset(split="train", data_dir=None, *, name="fashion-mnist", allow_sample=True,
                 download=False, dtype="float32", pad=True, verify=True):
    """The real dataset when a copy is found, else (Fashion-MNIST only) the sample.

    Only a dataset that is nowhere to be found falls back to the sample, and
    never when data_dir names the folder to read: a corrupt or missing copy there
    raises DatasetError. pad and verify are load_fashion_mnist's. Returns a
    Dataset; check its is_sample before reporting results.
    """
    name = check_choice(name, "name", tuple(_SOURCES), "load_dataset")
    source = _SOURCES[name]
    try:
        x, y, folder = _load(source, split, data_dir, download, dtype, None, None, 60,
                             "load_dataset", pad, verify)
    except DatasetNotFoundError:
        if not (allow_sample and name == "fashion-mnist" and data_dir is None):
            raise
        x, y = load_sample(dtype, pad)
        return Dataset(x, y, str(_sample_resource()), True, name, split, source.classes)
    return Dataset(x, y, str(folder), False, name, split, source.classes)


def parse_spec(data=None, data_dir=None, image_size=None, recorded=None, input_shape=None):
    """The data spec {"name", "data_dir", "folder", "image_size"} a run records.

    data: "fashion-mnist", "mnist", "folder:PATH", "celeba:ROOT" or "sample" (the
    embedded sample of Fashion-MNIST, found or not). Each setting
    comes from the arguments, else from `recorded` (the spec a checkpoint's run
    recorded), else from the model's input_shape (H, W, C), else the defaults:
    fashion-mnist at the book's 32x32, a folder at 64x64. data is text (a
    pathlib.Path is refused: it could name a folder of images or the IDX files'
    folder, which are folder:PATH and data_dir), data_dir a str or os.PathLike,
    image_size a positive int.
    """
    _check_arguments(data, data_dir, image_size)
    recorded = dict(recorded or {})
    name = data or recorded.get("name") or "fashion-mnist"
    if data_dir is not None and name == SAMPLE:
        if data == SAMPLE:
            raise InputError(f"--data-dir {data_dir} names where Fashion-MNIST lies, and --data "
                             f"sample reads the embedded sample: pass one of them")
        name = "fashion-mnist"          # a folder given: the real data, not the recorded sample
    if name.startswith(("folder:", "celeba:")):
        name, folder = name.split(":", 1)
    else:
        folder = recorded.get("folder") if name in FOLDER_FORMAT else None
    if name not in MNIST_FORMAT + FOLDER_FORMAT + (SAMPLE,):
        raise InputError(f"--data must be fashion-mnist, mnist, folder:PATH or celeba:ROOT (or "
                         f"sample), got {data!r}")
    if name in FOLDER_FORMAT and not folder:
        raise InputError(f"--data {name} needs its path: --data {name}:PATH")
    size = image_size or recorded.get("image_size")
    if size is None and input_shape is not None and len(input_shape) == 1:
        size = _size_of_vectors(input_shape[0], name)
    elif size is None and input_shape is not None:
        size = input_shape[0]
        if name in GREY and (tuple(input_shape[1:]) != (size, 1) or size not in (28, 32)):
            raise InputError(f"the model reads images of shape {tuple(input_shape)}, and {name} "
                             f"has 28x28 or 32x32 grey ones; name its data with --data "
                             f"folder:PATH --image-size {size}")
    if size is None:
        size = 32 if name in GREY else IMAGE_FOLDER_SIZE
    if name in GREY and size not in (28, 32):
        raise InputError(f"--image-size must be 28 or 32 for {name}, got {size}")
    # a str, as a run records it (a notebook may pass a Path)
    data_dir = os.fspath(data_dir) if data_dir is not None else recorded.get("data_dir")
    return {"name": name, "data_dir": data_dir, "folder": folder, "image_size": int(size)}


def _check_arguments(data, data_dir, image_size):
    """What parse_spec's caller gave, each refused in one line naming its flag."""
    if data is not None and not isinstance(data, str):
        hint = f"; write folder:{os.fspath(data)} for the images in that folder, or pass it " \
               f"as --data-dir if it holds the IDX files" if isinstance(data, os.PathLike) else ""
        raise InputTypeError(f"--data must be a data spec, the text fashion-mnist, mnist, "
                             f"folder:PATH or celeba:ROOT (or sample), got {data!r} of type "
                             f"{type(data).__name__}{hint}")
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise InputTypeError(f"--data-dir must be the path of a folder (str or os.PathLike), "
                             f"got {data_dir!r} of type {type(data_dir).__name__}")
    if image_size is not None:
        check_positive_int(image_size, "--image-size")


def _size_of_vectors(D, name):
    """The --image-size whose images, flattened, are vectors of D values: 28 or 32 for
    the grey sets, N for a folder's N x N RGB; refused when none is."""
    sizes = (28, 32) if name in GREY else range(1, math.isqrt(D // 3) + 1)
    channels = 1 if name in GREY else 3
    for size in sizes:
        if size * size * channels == D:
            return size
    images = "28x28 or 32x32 grey" if name in GREY else "N x N RGB"
    raise InputError(f"the model reads flat vectors of {D} values, and no --image-size of "
                     f"{name} ({images} images) flattens to that many; choose the data with "
                     f"--data and --image-size")


def _sample_notice(data):
    title = {"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST"}[data.name]
    print(f"minivae: {title} not found; using the embedded sample of {len(data)} images "
          f"({data.source}). Install the full dataset with `apt-get install "
          f"dataset-fashion-mnist` or pass --data-dir.", file=sys.stderr)


def load_spec(spec, split="train", limit=None, allow_sample=True, verify=True, verbose=1):
    """The split a spec names (parse_spec), as a Dataset of uint8 images.

    A folder or CelebA is split TRAIN_SHARE train, the rest test (one image: the
    same image for both), sorted by file name, and streamed: its files are listed
    and each image is read when indexed (streaming.FolderImages); limit takes at
    most that many CelebA faces before the split (all by default). The MNIST-format
    sets fall back to the embedded sample as load_dataset does, saying so on stderr
    whatever verbose says (the sample named as data is announced when verbose);
    verify=False accepts IDX files of the published size whose SHA-256 differs.
    """
    if spec["name"] in FOLDER_FORMAT:
        size = (spec["image_size"],) * 2
        flag = f"--data {spec['name']}:{spec['folder']}"      # what the messages start with
        if spec["name"] == "celeba":
            faces = open_celeba(spec["folder"], flag)
            files = [faces.image_folder / name for name in faces.files[:limit or ALL_FACES]]
            images = FolderImages(files, size, face_pixels)
        else:
            images = FolderImages(image_files(spec["folder"], flag), size, folder_pixels)
        cut = max(1, int(TRAIN_SHARE * len(images))) if len(images) > 1 else len(images)
        part = images.subset(slice(None, cut)) if split == "train" else \
            images.subset(slice(cut, None)) if cut < len(images) else images
        return Dataset(part, None, spec["folder"], False, spec["name"], split, None, spec)
    if spec["name"] == SAMPLE:
        images, labels = load_sample("uint8", spec["image_size"] == 32)
        data = Dataset(images, labels, str(_sample_resource()), True, "fashion-mnist", split,
                       spec=spec)
        if verbose:             # results on the sample are not results on Fashion-MNIST
            print(f"minivae: using the embedded sample of {len(data)} Fashion-MNIST images "
                  f"({data.source}), as the data named 'sample' (a run that fell back to it "
                  f"records it so)", file=sys.stderr)
        return data
    if spec["data_dir"] is not None and os.path.isfile(spec["data_dir"]):
        raise DatasetError(f"--data-dir {spec['data_dir']} is a file; expected the folder "
                           f"holding the four IDX files")
    data = load_dataset(split, spec["data_dir"], name=spec["name"], dtype="uint8",
                        allow_sample=allow_sample, pad=spec["image_size"] == 32, verify=verify)
    if data.is_sample:          # a warning, so said even when not verbose: the data asked
        _sample_notice(data)    # for was not found, and results on the sample are not its
    return dataclasses.replace(data, spec=spec)


def load_for_training(spec, limit=None, allow_sample=True, verify=True, verbose=1):
    """(train, validation) Datasets for a run, each cut to its first `limit` images.

    The training split and the test split; the embedded sample, which stands in
    for both, keeps its last SAMPLE_HOLDOUT images for validation.
    """
    train = load_spec(spec, "train", limit, allow_sample, verify, verbose)
    if train.is_sample:
        cut = len(train) - SAMPLE_HOLDOUT
        val = dataclasses.replace(train, images=train.images[cut:], labels=train.labels[cut:],
                                  split="validation")
        train = dataclasses.replace(train, images=train.images[:cut], labels=train.labels[:cut])
    else:
        val = load_spec(spec, "test", limit, False, verify, verbose)
    return train.head(limit), val.head(limit)


def flatten_images(images):
    """Images (N, H, W, C) as vectors (N, H*W*C), row-major as numpy's reshape (a view
    of an array; a streamed FolderImages flattens each batch as it is read)."""
    if hasattr(images, "flattened"):
        return images.flattened()
    return np.reshape(images, (len(images), -1))


def check_fits(data, input_shape, reader):
    """The data as the model (named by `reader`) reads it, or an InputError saying both
    shapes: its images as they are, or flattened to vectors (N, D) for a model of flat
    vectors (D,) when H*W*C = D (a view: the pixels and their order unchanged)."""
    shape = tuple(data.images.shape[1:])
    if input_shape is not None and len(input_shape) == 1 and len(shape) > 1 \
            and math.prod(shape) == input_shape[0]:
        return dataclasses.replace(data, images=flatten_images(data.images))
    if input_shape is not None and tuple(input_shape) != shape:
        raise InputError(f"{reader} reads images of shape {tuple(input_shape)}, but "
                         f"{data.description} gives {shape}; choose the data with --data and "
                         f"--image-size")
    return data


def load_for_model(input_shape, split="test", data=None, data_dir=None, image_size=None,
                   recorded=None, limit=None, verify=True, verbose=1, reader="the model",
                   image_shape=None):
    """The data a model reads: the spec the arguments, then what its run `recorded`
    (a checkpoint's run["data"]), then its input_shape name (parse_spec; a model of
    flat vectors by the image_shape it records), loaded (load_spec) and checked to fit
    (check_fits: flattened for flat vectors)."""
    spec = parse_spec(data, data_dir, image_size, recorded, image_shape or input_shape)
    return check_fits(load_spec(spec, split, limit, verify=verify, verbose=verbose), input_shape,
                      reader)
