"""Checks every MNIST-format array passes, and the book's 32x32 padding."""

import hashlib
import warnings

import numpy as np

from .._validation import check_choice
from ..pixels import to_float
from .errors import DatasetError, DatasetWarning

IMAGE_DTYPES = ("float32", "float64", "uint8")


def _sha256(array):
    """SHA-256 of the values as IDX stores them: big-endian, C order."""
    stored = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder(">"))
    return hashlib.sha256(stored.data).hexdigest()


def _verify(array, stem, checksums, where, title, published=None, verify=True):
    """Check the decoded array against its recorded SHA-256.

    published: the release's number of entries for this file. An array of another
    length is not the release (a subset, say): it is loaded with a DatasetWarning
    saying it is unverified. One of the published length must match its SHA-256,
    else it is corrupt (DatasetError), unless verify=False (then a warning).
    """
    expected = checksums.get(stem)
    if expected is None:
        return
    if published is not None and len(array) != published:
        warnings.warn(f"{where}: holds {len(array):,} entries, not the {published:,} of "
                      f"{title}'s published release; loaded unverified", DatasetWarning,
                      stacklevel=4)
        return
    actual = _sha256(array)
    if actual == expected.lower():
        return
    if not verify:
        warnings.warn(f"{where}: SHA-256 differs from {title}'s release; loaded anyway "
                      f"(verify=False)", DatasetWarning, stacklevel=4)
        return
    raise DatasetError(f"{where}: SHA-256 of the decoded {stem} array is {actual}, expected "
                       f"{expected}: the file is corrupt or is not {title}; delete it and "
                       f"get it again, or pass verify=False (--no-verify) to use it anyway")


def _check_pair(x, y, images_where, labels_where, n_classes=10):
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
        raise DatasetError(f"{images_where}: holds a {x.dtype} array of shape {x.shape}; expected "
                           f"uint8 images of shape (N, 28, 28)")
    if y.dtype != np.uint8 or y.ndim != 1:
        raise DatasetError(f"{labels_where}: holds a {y.dtype} array of shape {y.shape}; expected "
                           f"uint8 labels of shape (N,)")
    if len(x) != len(y):
        raise DatasetError(f"{images_where} holds {len(x)} images but {labels_where} holds "
                           f"{len(y)} labels; they must pair one to one")
    if y.size and y.max() >= n_classes:
        raise DatasetError(f"{labels_where}: holds label {y.max()}; expected 0 to {n_classes - 1}")


def _image_dtype(dtype, owner, options=IMAGE_DTYPES):
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = dtype
    return check_choice(name, "dtype", options, owner)


def _pad(x, dtype, pad=True):
    """(N, 28, 28) uint8 -> (N, 32, 32, 1) in dtype, scaled to [0, 1] unless uint8:
    np.pad(x, ((0, 0), (2, 2), (2, 2)))[..., None], then pixels.to_float.
    pad=False keeps the 28x28 images: (N, 28, 28, 1)."""
    n, h, w = x.shape
    border = 2 if pad else 0
    out = np.zeros((n, h + 2 * border, w + 2 * border, 1), dtype=np.uint8)
    out[:, border:border + h, border:border + w, 0] = x
    return out if dtype == "uint8" else to_float(out, dtype)
