"""CelebA as the faces notebook reads it: img_align_celeba/ and its attribute table,
each face resized to 64x64, streamed in batches (docs/datasets.md).

minivae never downloads CelebA; point `open_celeba` at a copy you have:

    ROOT/img_align_celeba/000001.jpg ...          (or Kaggle's nested
    ROOT/img_align_celeba/img_align_celeba/...)
    ROOT/list_attr_celeba.csv                     image_id,5_o_Clock_Shadow,... with -1/1
    (or the original ROOT/list_attr_celeba.txt: a count line, the names, then rows)
"""

import csv
import dataclasses
from pathlib import Path

import numpy as np

from .._validation import as_pair, check_choice, check_positive_int, generator_or_default
from ..pixels import to_uint8
from .checks import _image_dtype
from .errors import DatasetError
from .folders import _IMAGE_SUFFIXES, _as_rgb, _image_files, _read_image, _resize_area

IMAGE_FOLDER = "img_align_celeba"
ATTRIBUTE_FILES = ("list_attr_celeba.csv", "list_attr_celeba.txt")
BOOK_SIZE = (64, 64)
BOOK_BATCH = 128
INTERPOLATIONS = ("bilinear", "area")


def _bilinear_weights(n_in, n_out):
    """(lower, upper, lerp) per output cell, as TensorFlow's resize with half-pixel
    centres (tf.image.resize, antialias=False): the output cell i samples the input
    at s = (i + 0.5) n_in / n_out - 0.5, between cells floor(s) and ceil(s), both
    clamped to the image."""
    s = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    floor = np.floor(s)
    lower = np.maximum(floor, 0).astype(np.intp)
    upper = np.minimum(np.ceil(s), n_in - 1).astype(np.intp)
    return lower, upper, (s - floor).astype(np.float32)


def resize_bilinear(x, h, w):
    """(H, W, C) -> (h, w, C) by bilinear interpolation without antialiasing, what Keras's
    image_dataset_from_directory(..., interpolation="bilinear") does to every image:
    rows first, then columns, each a blend of the two nearest input cells."""
    top, bottom, a = _bilinear_weights(x.shape[0], h)
    rows = x[top] + (x[bottom] - x[top]) * a[:, None, None]
    left, right, b = _bilinear_weights(x.shape[1], w)
    return rows[:, left] + (rows[:, right] - rows[:, left]) * b[None, :, None]


def _read_attributes(path):
    """-> (names, {image_id: row of -1/1 int8}) from the CSV or the original text file."""
    try:
        with open(path, newline="") as f:
            if path.suffix == ".csv":
                reader = csv.reader(f)
                header = next(reader)
                names, rows = header[1:], list(reader)
            else:
                f.readline()                    # the image count
                names = f.readline().split()
                rows = [line.split() for line in f if line.strip()]
    except (OSError, UnicodeDecodeError, StopIteration) as exc:
        raise DatasetError(f"{path}: cannot be read as CelebA's attribute table "
                           f"({type(exc).__name__}: {exc})") from exc
    if not names:
        raise DatasetError(f"{path}: has no attribute names in its header")
    table = {}
    for number, row in enumerate(rows, start=2):
        if len(row) != len(names) + 1:
            raise DatasetError(f"{path}: line {number} has {len(row)} fields; expected "
                               f"{len(names) + 1} (an image id and {len(names)} attributes)")
        try:
            values = np.array(row[1:], dtype=np.int8)
        except ValueError:
            values = None
        if values is None or not np.isin(values, (-1, 1)).all():
            raise DatasetError(f"{path}: line {number} ({row[0]}) holds attributes other than "
                               f"-1 and 1: {row[1:6]}...")
        table[row[0]] = values
    return [n.strip() for n in names], table


def _image_folder(root):
    folder = root / IMAGE_FOLDER
    nested = folder / IMAGE_FOLDER              # Kaggle's archive unpacks one level deeper
    if nested.is_dir() and not any(p.suffix.lower() in _IMAGE_SUFFIXES for p in folder.iterdir()):
        return nested
    return folder


@dataclasses.dataclass(frozen=True, eq=False)
class CelebA:
    """An index of a CelebA copy: file names and attributes; no image is read until asked.

    files: image ids (file names) sorted, as Keras lists them. attributes
    (N, 40) int8 of -1/1 in the files' order, or None without an attribute file.
    """

    root: Path
    image_folder: Path
    files: tuple = dataclasses.field(repr=False)
    attribute_names: tuple = dataclasses.field(repr=False)
    attributes: np.ndarray = dataclasses.field(repr=False)

    def __len__(self):
        return len(self.files)

    def attribute(self, name):
        """One attribute's column (N,) of -1/1, e.g. "Blond_Hair"."""
        if self.attributes is None:
            raise DatasetError(f"{self.root}: has no {' or '.join(ATTRIBUTE_FILES)}, so no "
                               f"attribute {name!r}")
        if name not in self.attribute_names:
            raise DatasetError(f"{self.root}: has no attribute {name!r}; it has "
                               f"{', '.join(self.attribute_names)}")
        return self.attributes[:, self.attribute_names.index(name)]

    def batches(self, batch_size=BOOK_BATCH, attribute=None, limit=None, shuffle=False,
                rng=None, size=BOOK_SIZE, interpolation="bilinear", dtype="float32"):
        """Yield images (b, h, w, 3) as `dtype` (floats in [0, 1], or uint8 pixels), or
        (images, labels (b,) of -1/1) with an attribute; one batch in memory at a time.

        limit: the first `limit` files (after shuffling, when shuffle=True; the
        order then comes from rng). The resizing: see load_celeba.
        """
        owner = "CelebA.batches"
        batch_size = check_positive_int(batch_size, "batch_size", owner)
        h, w = as_pair(size, "size", owner)
        interpolation = check_choice(interpolation, "interpolation", INTERPOLATIONS, owner)
        dtype = _image_dtype(dtype, owner)
        labels = None if attribute is None else self.attribute(attribute)
        order = np.arange(len(self.files))
        if shuffle:
            order = generator_or_default(rng, "rng", owner).permutation(order)
        if limit is not None:
            order = order[:check_positive_int(limit, "limit", owner)]
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            out = np.empty((len(index), h, w, 3), dtype=np.float32)
            for row, i in enumerate(index):
                out[row] = read_face(self.image_folder / self.files[i], (h, w), interpolation)
            images = to_uint8(out) if dtype == "uint8" else out.astype(dtype, copy=False)
            yield images if labels is None else (images, labels[index])


def read_face(file, size=BOOK_SIZE, interpolation="bilinear"):
    """One face as CelebA.batches reads it: float32 (h, w, 3) in [0, 1], the whole image
    resized (see load_celeba); dimensions checked before decoding (folders.py)."""
    h, w = size
    x = _as_rgb(_read_image(file), file)
    return resize_bilinear(x, h, w) if interpolation == "bilinear" else _resize_area(x, h, w)


def face_pixels(file, size):
    """One face as `minivae train --data celeba:ROOT` reads it: uint8 (h, w, 3), as
    CelebA.batches(dtype="uint8") gives it."""
    return to_uint8(read_face(file, size))


def open_celeba(root, owner="open_celeba"):
    """Index a CelebA copy at `root` (see the module docstring for the layout).

    Lists the images (.jpg, .jpeg, .png) and reads the attribute table when one
    is there; each image must have a row (rows for absent images are ignored, so
    a subset of the images works). Raises DatasetError for a missing folder, a
    folder with no image, a malformed table or an image without a row; `owner`
    starts the messages of the first two (a command names its --data there).
    """
    root = Path(root).expanduser()
    folder = _image_folder(root)
    if not folder.is_dir():
        raise DatasetError(f"{owner}: {root} holds no {IMAGE_FOLDER}/ folder; expected "
                           f"{root / IMAGE_FOLDER}/ with the aligned faces (minivae does not "
                           f"download CelebA)")
    files = sorted(p.name for p in _image_files(folder, owner))
    if not files:
        raise DatasetError(f"{owner}: {folder} holds no .jpg, .jpeg or .png file")
    names, attributes = (), None
    table_path = next((root / n for n in ATTRIBUTE_FILES if (root / n).is_file()), None)
    if table_path is not None:
        names, table = _read_attributes(table_path)
        missing = [f for f in files if f not in table]
        if missing:
            raise DatasetError(f"{table_path}: has no row for {len(missing)} of the "
                               f"{len(files)} images in {folder}, e.g. {missing[0]}")
        attributes = np.stack([table[f] for f in files])
    return CelebA(root, folder, tuple(files), tuple(names), attributes)


def load_celeba(root, limit, attribute=None, size=BOOK_SIZE, interpolation="bilinear",
                dtype="float32", shuffle=False, rng=None):
    """The first `limit` faces of CelebA as one array (N, 64, 64, 3), and with an
    attribute its labels (N,) of -1/1: (images, labels) or images.

    Resizing, as the book: Keras's image_dataset_from_directory(image_size=(64, 64),
    interpolation="bilinear") resizes the whole 178 x 218 image to 64 x 64, no
    crop (crop_to_aspect_ratio is off), so faces come out 1.22 times wider than
    they are; and tf.image.resize without antialiasing samples 2 x 2 input
    pixels per output pixel, ignoring the rest of the 2.8 x 3.4-pixel cell
    (width x height) it stands for. interpolation="bilinear" does the same, so that
    a model trained here sees the book's pixels; "area" averages every input pixel
    the output pixel covers (smoother, no aliasing), still without a crop
    (load_image_folder crops to the aspect ratio first).
    limit is required: all 202,599 faces take 2.5 GB as uint8 and 10 GB as
    float32; stream them with open_celeba(root).batches(...) instead.
    """
    limit = check_positive_int(limit, "limit", "load_celeba")
    data = open_celeba(root)
    n = min(limit, len(data))
    h, w = as_pair(size, "size", "load_celeba")
    images = np.empty((n, h, w, 3), dtype=_image_dtype(dtype, "load_celeba"))
    labels = None if attribute is None else np.empty(n, dtype=np.int8)
    start = 0
    for batch in data.batches(BOOK_BATCH, attribute, n, shuffle, rng, size, interpolation, dtype):
        x = batch if attribute is None else batch[0]
        images[start:start + len(x)] = x
        if attribute is not None:
            labels[start:start + len(x)] = batch[1]
        start += len(x)
    return images if attribute is None else (images, labels)
