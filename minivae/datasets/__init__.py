"""Datasets: Fashion-MNIST and MNIST, the embedded sample, folders of images.

    idx.py      the IDX format, read with bounded memory
    mnist.py    Fashion-MNIST and MNIST: searched for, downloaded, verified, padded
    sample.py   the 2,000-image sample shipped inside the package
    folders.py  folders of PNG/JPEG images (the faces VAE)
    celeba.py   CelebA's aligned faces and attribute table, at 64x64, in batches
    standin.py  a small CelebA-shaped stand-in: LFW faces or drawn ones

Every problem with data (missing, truncated, corrupt, not the dataset asked
for) raises DatasetError, a ValueError whose message names the file and what
was wrong. Bad arguments raise the ValueError/TypeError of minivae._validation.
Where data is looked for and how it is verified: docs/datasets.md.
"""

import dataclasses

import numpy as np

from .._validation import check_choice
from ..pixels import to_float
from . import mnist, sample
from .errors import DatasetError, DatasetNotFoundError, DatasetWarning
from .celeba import CelebA, load_celeba, open_celeba
from .folders import load_image_folder
from .idx import read_idx
from .mnist import (ENV_VAR, FASHION_MNIST_CLASSES, FASHION_MNIST_SHA256, FASHION_MNIST_URL,
                    MNIST_CLASSES, MNIST_SHA256, MNIST_URL, NO_SYSTEM_DATA_VAR, load_fashion_mnist,
                    load_mnist)
from .sample import SAMPLE_FILE, SAMPLE_SHA256, SAMPLE_SIZE, load_sample

__all__ = ["Dataset", "DatasetError", "DatasetNotFoundError", "DatasetWarning", "load_dataset",
           "load_fashion_mnist", "load_mnist", "load_sample", "load_image_folder", "read_idx",
           "CelebA", "open_celeba", "load_celeba",
           "to_float", "ENV_VAR", "NO_SYSTEM_DATA_VAR", "FASHION_MNIST_CLASSES", "MNIST_CLASSES",
           "FASHION_MNIST_SHA256", "MNIST_SHA256", "FASHION_MNIST_URL", "MNIST_URL",
           "SAMPLE_FILE", "SAMPLE_SHA256", "SAMPLE_SIZE"]


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """One split of a dataset and where it came from.

    images (N, 32, 32, 1) float in [0, 1] or uint8; labels (N,) uint8.
    source: the folder the files were read from, or the embedded sample's path.
    is_sample: True when the real data was not found and the 2,000-image
    embedded sample stands in for it (whatever split was asked for).
    """

    images: np.ndarray = dataclasses.field(repr=False)
    labels: np.ndarray = dataclasses.field(repr=False)
    source: str
    is_sample: bool
    name: str
    split: str
    classes: tuple = dataclasses.field(repr=False, default=FASHION_MNIST_CLASSES)

    def __len__(self):
        return len(self.labels)


def load_dataset(split="train", data_dir=None, *, name="fashion-mnist", allow_sample=True,
                 download=False, dtype="float32", pad=True, verify=True):
    """The real dataset when a copy is found, else (Fashion-MNIST only) the sample.

    What the command line uses. Only a dataset that is nowhere to be found falls
    back to the sample, and never when data_dir names the folder to read: a corrupt
    or missing copy there raises DatasetError. pad and verify are
    load_fashion_mnist's. Returns a Dataset; check its is_sample before reporting
    results.
    """
    name = check_choice(name, "name", tuple(mnist._SOURCES), "load_dataset")
    source = mnist._SOURCES[name]
    try:
        x, y, folder = mnist._load(source, split, data_dir, download, dtype, None, None, 60,
                                   "load_dataset", pad, verify)
    except DatasetNotFoundError:
        if not (allow_sample and name == "fashion-mnist" and data_dir is None):
            raise
        x, y = load_sample(dtype, pad)
        return Dataset(x, y, str(sample._sample_resource()), True, name, split, source.classes)
    return Dataset(x, y, str(folder), False, name, split, source.classes)
