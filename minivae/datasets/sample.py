"""The embedded sample: the first 2,000 Fashion-MNIST test images, shipped in the package."""

import importlib.resources
import zipfile

import numpy as np

from .checks import _check_pair, _image_dtype, _pad, _verify
from .errors import DatasetError

SAMPLE_FILE = "fashion_mnist_sample.npz"        # in minivae/data/, made by tools/make_sample.py
SAMPLE_SIZE = 2000                              # the first 2,000 test images, stored unpadded
SAMPLE_SHA256 = {
    "images": "09bbac78738f0229a68f7ca74e62665d7fb34f45ea7a3509ab5c4a202c1370de",
    "labels": "a86243d2b2400909bc0a82f5fd5c9df83bf827852a1543e3dc70af890035a9d4",
}


def _sample_resource():
    return importlib.resources.files("minivae") / "data" / SAMPLE_FILE


def load_sample(dtype="float32", pad=True):
    """The embedded sample: the first 2,000 Fashion-MNIST test images and labels.

    Ships inside the package (minivae/data/, MIT licence beside it) so that
    training runs with no download. Padded and scaled as load_fashion_mnist.
    Returns images (2000, 32, 32, 1) of dtype, labels (2000,) uint8.
    """
    dtype = _image_dtype(dtype, "load_sample")
    resource = _sample_resource()
    try:
        with resource.open("rb") as f, np.load(f) as npz:
            x, y = npz["images"], npz["labels"]
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"{resource}: the embedded sample cannot be read "
                           f"({type(exc).__name__}: {exc}); reinstall minivae") from exc
    for array, key in ((x, "images"), (y, "labels")):
        _verify(array, key, SAMPLE_SHA256, resource, "the Fashion-MNIST sample")
    _check_pair(x, y, f"{resource}[images]", f"{resource}[labels]")
    return _pad(x, dtype, pad), y
