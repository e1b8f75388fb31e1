"""Datasets: the IDX reader, Fashion-MNIST and MNIST, the embedded sample, image folders.

Images come out NHWC, (N, 32, 32, 1): the 28x28 digits and garments padded with
two zero pixels on each side, as the book does with
`np.pad(x, ((0, 0), (2, 2), (2, 2)), constant_values=0)`, then either scaled to
[0, 1] as float32 or kept as padded uint8 so a trainer can hold the 60,000
training images in 61 MB and convert one batch at a time with `to_float`.

Every problem with data (missing, truncated, corrupt, not the dataset asked
for) raises DatasetError, a ValueError whose message names the file and what
was wrong. Bad arguments raise the ValueError/TypeError of minivae._validation.
Where data is looked for and how it is verified: docs/datasets.md.
"""

import dataclasses
import gzip
import hashlib
import http.client
import importlib.resources
import math
import os
import shutil
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ._atomic import atomic_write
from ._validation import as_pair, check_choice, check_positive_int

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
MNIST_CLASSES = tuple(str(digit) for digit in range(10))

# Zalando's own hosting (plain HTTP only; the SHA-256 check below is what makes
# that safe) and the MNIST mirror that still serves the original IDX files.
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"

# SHA-256 of each file's decoded array: the IDX payload after its header, i.e.
# hashlib.sha256(read_idx(path).tobytes()) for these uint8 files. Hashing the
# decoded values, not the .gz bytes, accepts any recompression (Debian's .gz
# files differ byte-wise from Zalando's) while still pinning every pixel.
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte": "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
    "train-labels-idx1-ubyte": "657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7",
    "t10k-images-idx3-ubyte": "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a",
    "t10k-labels-idx1-ubyte": "3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9",
}
# No copy of MNIST was at hand to hash, so MNIST files are checked for shape,
# dtype and label range only (docs/datasets.md).
MNIST_SHA256 = {}

SAMPLE_FILE = "fashion_mnist_sample.npz"        # in minivae/data/, made by tools/make_sample.py
SAMPLE_SIZE = 2000                              # the first 2,000 test images, stored unpadded
SAMPLE_SHA256 = {
    "images": "09bbac78738f0229a68f7ca74e62665d7fb34f45ea7a3509ab5c4a202c1370de",
    "labels": "a86243d2b2400909bc0a82f5fd5c9df83bf827852a1543e3dc70af890035a9d4",
}

ENV_VAR = "MINIVAE_DATA"                        # a root holding one folder per dataset
SYSTEM_DATA_ROOT = Path("/usr/share/datasets")  # where Debian's dataset-* packages install
# Set to 1 to leave SYSTEM_DATA_ROOT out of the search: a run then behaves as on a machine
# without the Debian package (tests and CI use it to be hermetic either way).
NO_SYSTEM_DATA_VAR = "MINIVAE_NO_SYSTEM_DATA"

_SPLIT_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_IMAGE_DTYPES = ("float32", "float64", "uint8")


class DatasetError(ValueError):
    """Data on disk or on the wire is missing, malformed, or not the dataset asked for."""


class DatasetNotFoundError(DatasetError):
    """No copy of the dataset in any place searched; the message lists them all."""


@dataclasses.dataclass(frozen=True)
class _Source:
    name: str                 # folder name under the cache, $MINIVAE_DATA and SYSTEM_DATA_ROOT
    title: str
    base_url: str
    sha256: dict
    classes: tuple
    debian_package: str = None


_SOURCES = {
    "fashion-mnist": _Source("fashion-mnist", "Fashion-MNIST", FASHION_MNIST_URL,
                             FASHION_MNIST_SHA256, FASHION_MNIST_CLASSES, "dataset-fashion-mnist"),
    "mnist": _Source("mnist", "MNIST", MNIST_URL, MNIST_SHA256, MNIST_CLASSES),
}


# --------------------------------------------------------------------- IDX --

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
_MAX_NDIM = 32      # numpy's smallest supported limit; IDX files in the wild use 1 to 4


class _Rejoined:
    """A read-only stream giving `head` and then the rest of `stream`.

    Lets read_idx sniff the gzip magic without asking for a seekable file.
    """

    def __init__(self, head, stream):
        self.head, self.stream = head, stream

    def read(self, n=-1):
        if not self.head:
            return self.stream.read(n)
        if n is None or n < 0:
            out, self.head = self.head + self.stream.read(), b""
            return out
        out, self.head = self.head[:n], self.head[n:]
        return out + self.stream.read(n - len(out)) if len(out) < n else out


def _read_upto(stream, n):
    """Read up to n bytes in chunks, so that a header claiming terabytes
    allocates no more than the file actually holds."""
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(min(_CHUNK, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


def _count_rest(stream):
    total = 0
    while chunk := stream.read(_CHUNK):
        total += len(chunk)
    return total


def _parse_idx(stream, name):
    header = _read_upto(stream, 4)
    if len(header) < 4:
        raise DatasetError(f"{name}: not an IDX file: it holds {len(header)} byte(s), fewer than "
                           f"the 4-byte magic number")
    zero0, zero1, code, ndim = header
    if zero0 or zero1:
        raise DatasetError(f"{name}: not an IDX file: its magic number {header.hex(' ')} should "
                           f"start with two zero bytes")
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X} ({np.dtype(t).name})" for c, t in _IDX_DTYPES.items())
        raise DatasetError(f"{name}: unknown IDX type code 0x{code:02X}; expected one of {known}")
    if not 1 <= ndim <= _MAX_NDIM:
        raise DatasetError(f"{name}: IDX header declares {ndim} dimensions; expected 1 to "
                           f"{_MAX_NDIM}")
    sizes = _read_upto(stream, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise DatasetError(f"{name}: truncated header: {ndim} dimensions need {4 * ndim} bytes "
                           f"of sizes, the file holds {len(sizes)}")
    shape = tuple(int.from_bytes(sizes[4 * i:4 * i + 4], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = math.prod(shape) * dtype.itemsize
    payload = _read_upto(stream, expected)
    if len(payload) < expected:
        raise DatasetError(f"{name}: truncated: the header declares shape {shape} of {dtype.name}, "
                           f"{expected} bytes of data, but the file holds {len(payload)}")
    extra = _count_rest(stream)
    if extra:
        raise DatasetError(f"{name}: over-long: the header declares shape {shape} of "
                           f"{dtype.name}, {expected} bytes of data, but the file holds "
                           f"{expected + extra}")
    # A bytearray buffer makes the array writable; big-endian values become native.
    array = np.frombuffer(payload, dtype=dtype)
    return array.astype(dtype.newbyteorder("="), copy=False).reshape(shape)


def _read_idx_stream(f, name):
    compressed = False
    try:
        head = f.read(2)
        if not isinstance(head, (bytes, bytearray)):
            raise TypeError(f"read_idx: {name} must be opened in binary mode ('rb'), it gave "
                            f"{type(head).__name__}")
        compressed = head == _GZIP_MAGIC
        stream = _Rejoined(head, f)
        if compressed:
            stream = gzip.GzipFile(fileobj=stream, mode="rb")
        return _parse_idx(stream, name)
    except (OSError, EOFError, zlib.error) as exc:   # gzip.BadGzipFile is an OSError
        what = "corrupt or truncated gzip data" if compressed else "reading failed"
        raise DatasetError(f"{name}: {what} ({type(exc).__name__}: {exc})") from exc


def read_idx(path_or_fileobj):
    """Read an IDX file (the MNIST format), gzip-compressed or raw, into an array.

    Layout: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16,
    0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions d, d
    big-endian uint32 sizes, then the values, big-endian, in C order. Gzip is
    recognised by its magic bytes 1f 8b, never by the file name.

    path_or_fileobj: a path, or a binary file object opened for reading (left open).
    Returns a writable, native-endian array of the declared shape.
    Raises DatasetError, naming the file, for a wrong magic number, an unknown
    type code, a payload shorter or longer than the sizes declare (giving both
    byte counts), bad gzip data or a failed read; the original is its __cause__.
    """
    if hasattr(path_or_fileobj, "read"):
        return _read_idx_stream(path_or_fileobj, getattr(path_or_fileobj, "name", "<file object>"))
    try:
        name = os.fspath(path_or_fileobj)
    except TypeError:
        raise TypeError(f"read_idx: expected a path or a binary file object, got "
                        f"{type(path_or_fileobj).__name__}") from None
    try:
        with open(name, "rb") as f:
            return _read_idx_stream(f, name)
    except OSError as exc:
        raise DatasetError(f"{name}: cannot open IDX file ({exc.strerror or exc})") from exc


# ------------------------------------------------------ checks and padding --

def _sha256(array):
    """SHA-256 of the values as IDX stores them: big-endian, C order."""
    stored = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder(">"))
    return hashlib.sha256(stored.data).hexdigest()


def _verify(array, stem, checksums, where, title):
    expected = checksums.get(stem)
    if expected is None:
        return
    actual = _sha256(array)
    if actual != expected.lower():
        raise DatasetError(f"{where}: SHA-256 of the decoded {stem} array is {actual}, expected "
                           f"{expected}: the file is corrupt or is not {title}; delete it and "
                           f"get it again")


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


def _image_dtype(dtype, owner, options=_IMAGE_DTYPES):
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = dtype
    return check_choice(name, "dtype", options, owner)


def to_float(images, dtype="float32"):
    """uint8 images in [0, 255] -> floats in [0, 1]: x.astype(dtype) / 255, one allocation.

    The trainer keeps the dataset as uint8 and calls this on each batch.
    """
    dtype = _image_dtype(dtype, "to_float", ("float32", "float64"))
    x = np.asarray(images)
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise TypeError(f"to_float: images must be uint8 pixels in [0, 255] (any integer or "
                        f"float dtype is accepted), got dtype {x.dtype}")
    x = x.astype(dtype)
    np.divide(x, 255, out=x)
    return x


def _pad(x, dtype):
    """(N, 28, 28) uint8 -> (N, 32, 32, 1) in dtype, scaled to [0, 1] unless uint8.

    Equal to np.pad(x, ((0, 0), (2, 2), (2, 2)))[..., None] / 255, without the
    padded uint8 copy in between.
    """
    n, h, w = x.shape
    out = np.zeros((n, h + 4, w + 4, 1), dtype=dtype)
    out[:, 2:-2, 2:-2, 0] = x
    if dtype != "uint8":
        np.divide(out, 255, out=out)
    return out


# -------------------------------------------------------- finding the files --

def _check_data_dir(data_dir, owner):
    """None, or the folder as a Path: a path that names a file is a mistake, not a miss."""
    if data_dir is None:
        return None
    try:
        folder = Path(os.fspath(data_dir)).expanduser()
    except TypeError:
        raise TypeError(f"{owner}: data_dir must be a path to a folder (str or os.PathLike) "
                        f"or None, got {type(data_dir).__name__}") from None
    if folder.exists() and not folder.is_dir():
        raise DatasetError(f"{owner}: data_dir {str(folder)!r} is a file; expected the folder "
                           f"holding the four IDX files")
    return folder


def _system_data_skipped():
    return os.environ.get(NO_SYSTEM_DATA_VAR, "") not in ("", "0")


def _search_dirs(source, data_dir):
    dirs = []
    if data_dir is not None:
        dirs += [data_dir, data_dir / source.name]
    if os.environ.get(ENV_VAR):
        dirs.append(Path(os.environ[ENV_VAR]).expanduser() / source.name)
    dirs.append(Path.home() / ".cache" / "minivae" / source.name)
    if not _system_data_skipped():
        dirs.append(SYSTEM_DATA_ROOT / source.name)
    return dirs


def _download_dir(source, data_dir):
    if data_dir is not None:
        return data_dir
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser() / source.name
    return Path.home() / ".cache" / "minivae" / source.name


def _find_file(folder, stem):
    for candidate in (folder / stem, folder / f"{stem}.gz"):   # raw first: no inflating
        if candidate.is_file():
            return candidate
    return None


def _locate(source, split, data_dir):
    """(images_path, labels_path) from the first folder holding both, in search order."""
    tried = []
    for folder in _search_dirs(source, data_dir):
        found = [_find_file(folder, stem) for stem in _SPLIT_FILES[split]]
        if all(found):
            return found
        if not folder.is_dir():
            why = "no such folder"
        else:
            why = "missing " + ", ".join(f"{stem}[.gz]" for stem, path in
                                         zip(_SPLIT_FILES[split], found) if path is None)
        tried.append(f"  {folder}  ({why})")
    if _system_data_skipped():
        tried.append(f"  {SYSTEM_DATA_ROOT / source.name}  (not searched: "
                     f"{NO_SYSTEM_DATA_VAR} is set)")
    ways = []
    if source.debian_package:
        ways.append(f"apt-get install {source.debian_package}  (Debian/Ubuntu; installs into "
                    f"{SYSTEM_DATA_ROOT / source.name})")
    ways.append(f"pass download=True on a machine that is online: fetches the four files "
                f"from {source.base_url} into {_download_dir(source, data_dir)}")
    ways.append("copy the four IDX files (.gz or not) into one of the folders above")
    message = (f"{source.title} ({split} split) was not found. Looked in, in order:\n"
               + "\n".join(tried) + "\nTo get it, any one of:\n"
               + "\n".join(f"  - {way}" for way in ways))
    if source.name == "fashion-mnist":
        message += (f"\n`minivae train` falls back to the embedded sample of {SAMPLE_SIZE:,} "
                    f"test images when no copy is found.")
    raise DatasetNotFoundError(message)


# ----------------------------------------------------------------- download --

def _download(source, target, base_url, checksums, timeout):
    """Fetch each missing <stem>.gz into target, verified before it is kept (_atomic)."""
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"cannot create the download folder {target} ({exc})") from exc
    for stem in _SPLIT_FILES["train"] + _SPLIT_FILES["test"]:
        if _find_file(target, stem):
            continue
        url = base_url.rstrip("/") + f"/{stem}.gz"

        def fetch(out, url=url):
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    shutil.copyfileobj(response, out, _CHUNK)
            except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
                raise DatasetError(f"could not download {url} into {target} "
                                   f"({type(exc).__name__}: {exc})") from exc

        def verify(tmp, url=url, stem=stem):
            try:
                _verify(read_idx(tmp), stem, checksums, url, source.title)
            except DatasetError as exc:
                raise DatasetError(f"the download of {url} was rejected and removed: "
                                   f"{exc}") from exc

        try:
            atomic_write(target / f"{stem}.gz", fetch, verify)
        except OSError as exc:      # fsync or rename failed: disk full, folder gone, ...
            raise DatasetError(f"could not store the download of {url} in {target} "
                               f"({exc})") from exc


# ------------------------------------------------------------------ loaders --

def _load(source, split, data_dir, download, dtype, base_url, checksums, timeout, owner):
    """(images, labels, folder) of one split of an MNIST-format dataset."""
    split = check_choice(split, "split", tuple(_SPLIT_FILES), owner)
    dtype = _image_dtype(dtype, owner)
    data_dir = _check_data_dir(data_dir, owner)
    checksums = source.sha256 if checksums is None else dict(checksums)
    try:
        images_path, labels_path = _locate(source, split, data_dir)
    except DatasetNotFoundError:
        if not download:
            raise
        target = _download_dir(source, data_dir)
        _download(source, target, base_url or source.base_url, checksums, timeout)
        images_path, labels_path = (_find_file(target, stem) for stem in _SPLIT_FILES[split])
    x, y = read_idx(images_path), read_idx(labels_path)
    for array, path in ((x, images_path), (y, labels_path)):
        _verify(array, path.name.removesuffix(".gz"), checksums, path, source.title)
    _check_pair(x, y, images_path, labels_path, len(source.classes))
    return _pad(x, dtype), y, images_path.parent


def load_fashion_mnist(split="train", data_dir=None, download=False, *, dtype="float32",
                       base_url=None, checksums=None, timeout=60):
    """Fashion-MNIST as (images, labels), padded and scaled as the book does.

    split: "train" (60,000) or "test" (10,000).
    data_dir: a folder holding the IDX files (.gz or raw), searched first; then
        $MINIVAE_DATA/fashion-mnist, ~/.cache/minivae/fashion-mnist and
        /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist).
    download: when no copy is found, fetch the four files from base_url
        (default FASHION_MNIST_URL) into data_dir, else $MINIVAE_DATA/fashion-mnist,
        else ~/.cache/minivae/fashion-mnist; each is verified before it is kept.
    dtype: "float32" (default) or "float64" in [0, 1], or "uint8" in [0, 255].
    checksums: {file stem: SHA-256 of its decoded array}; None uses
        FASHION_MNIST_SHA256. Files absent from the mapping are not verified.
    Returns images (N, 32, 32, 1) of dtype, labels (N,) uint8 in 0..9.
    Raises DatasetNotFoundError listing every place searched, DatasetError for bad data.
    """
    x, y, _ = _load(_SOURCES["fashion-mnist"], split, data_dir, download, dtype, base_url,
                    checksums, timeout, "load_fashion_mnist")
    return x, y


def load_mnist(split="train", data_dir=None, download=False, *, dtype="float32",
               base_url=None, checksums=None, timeout=60):
    """MNIST digits as (images, labels); the same as load_fashion_mnist with
    "mnist" folders, MNIST_URL, and no recorded checksums (MNIST_SHA256 is empty)."""
    x, y, _ = _load(_SOURCES["mnist"], split, data_dir, download, dtype, base_url,
                    checksums, timeout, "load_mnist")
    return x, y


def _sample_resource():
    return importlib.resources.files(__package__) / "data" / SAMPLE_FILE


def load_sample(dtype="float32"):
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
    return _pad(x, dtype), y


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
                 download=False, dtype="float32"):
    """The real dataset when a copy is found, else (Fashion-MNIST only) the sample.

    What the command line uses. Only a dataset that is nowhere to be found falls
    back to the sample; a corrupt one still raises DatasetError.
    Returns a Dataset; check its is_sample before reporting results.
    """
    name = check_choice(name, "name", tuple(_SOURCES), "load_dataset")
    source = _SOURCES[name]
    try:
        x, y, folder = _load(source, split, data_dir, download, dtype, None, None, 60,
                             "load_dataset")
    except DatasetNotFoundError:
        if not (allow_sample and name == "fashion-mnist"):
            raise
        x, y = load_sample(dtype)
        return Dataset(x, y, str(_sample_resource()), True, name, split, source.classes)
    return Dataset(x, y, str(folder), False, name, split, source.classes)


# ------------------------------------------------------------ image folders --

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _as_rgb(pixels, where):
    """Any imread result -> float32 (H, W, 3) in [0, 1]: gray repeated, alpha dropped."""
    if np.issubdtype(pixels.dtype, np.integer):
        x = pixels.astype(np.float32) / np.iinfo(pixels.dtype).max
    else:
        x = pixels.astype(np.float32, copy=False)
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3 or x.shape[-1] not in (1, 2, 3, 4) or 0 in x.shape:
        raise DatasetError(f"{where}: decoded to shape {pixels.shape}; expected (H, W) gray or "
                           f"(H, W, 1-4) channels")
    if x.shape[-1] <= 2:
        x = np.repeat(x[..., :1], 3, axis=-1)
    return x[..., :3]


def _center_crop(x, aspect):
    """Crop x (H, W, C) about its center to height/width = aspect."""
    H, W = x.shape[:2]
    if H > W * aspect:
        h = max(1, round(W * aspect))
        top = (H - h) // 2
        return x[top:top + h]
    w = max(1, round(H / aspect))
    left = (W - w) // 2
    return x[:, left:left + w]


def _area_weights(n_in, n_out):
    """(n_out, n_in) matrix: row i averages the input cells that output cell i covers,
    each weighted by the length of the overlap (a box filter in both directions)."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    lo, hi = edges[:-1, None], edges[1:, None]
    cells = np.arange(n_in)
    overlap = np.clip(np.minimum(hi, cells + 1) - np.maximum(lo, cells), 0.0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


def _resize_area(x, h, w):
    """(H, W, C) -> (h, w, C) by area averaging: R_h @ x_c @ R_w.T for each channel."""
    R_h, R_w = _area_weights(x.shape[0], h), _area_weights(x.shape[1], w)
    return (R_h @ x.transpose(2, 0, 1) @ R_w.T).transpose(1, 2, 0)


def load_image_folder(path, size=(64, 64), limit=None):
    """Every PNG/JPEG directly in `path`, sorted by name, as float32 (N, h, w, 3) in [0, 1].

    For the faces VAE (CelebA and the like). Each image is center-cropped to the
    aspect ratio of size = (h, w), then area-resized; gray is repeated to three
    channels and an alpha channel is dropped. limit: read only the first `limit`
    files (CelebA's 200,000 faces at 64x64 take 9.8 GB as float32).
    Raises DatasetError for a path that is not a folder, a folder with no image,
    and any file that cannot be decoded (naming it).
    """
    h, w = as_pair(size, "size", "load_image_folder")
    if limit is not None:
        limit = check_positive_int(limit, "limit", "load_image_folder")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        why = "it is a file" if folder.exists() else "it does not exist"
        raise DatasetError(f"load_image_folder: {folder} is not a folder ({why})")
    try:
        files = sorted(p for p in folder.iterdir()
                       if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file())
    except OSError as exc:
        raise DatasetError(f"load_image_folder: cannot list {folder} ({exc})") from exc
    if not files:
        raise DatasetError(f"load_image_folder: {folder} holds no .png, .jpg or .jpeg file")
    files = files[:limit]
    from matplotlib import image as mpimg   # imported here: ~0.3 s that only this loader needs

    out = np.empty((len(files), h, w, 3), dtype=np.float32)
    for i, file in enumerate(files):
        try:
            pixels = mpimg.imread(file)
        except Exception as exc:    # Pillow raises OSError, ValueError, SyntaxError, ... per format
            raise DatasetError(f"{file}: cannot be read as an image "
                               f"({type(exc).__name__}: {exc})") from exc
        out[i] = _resize_area(_center_crop(_as_rgb(pixels, file), h / w), h, w)
    return out
