"""Fashion-MNIST and MNIST: where the IDX files are looked for, fetched and verified.

Images come out NHWC, (N, 32, 32, 1): the 28x28 digits and garments padded with
two zero pixels on each side, as the book does with
`np.pad(x, ((0, 0), (2, 2), (2, 2)), constant_values=0)`, then either scaled to
[0, 1] as floats or kept as padded uint8, so a trainer can hold the 60,000
training images in 61 MB and convert one batch at a time (minivae.pixels).
Where data is looked for and how it is verified: docs/datasets.md.
"""

import dataclasses
import http.client
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from .._atomic import atomic_write
from .._validation import check_choice
from ..errors import InputTypeError
from .checks import _check_pair, _image_dtype, _pad, _verify
from .errors import DatasetError, DatasetNotFoundError
from .idx import _CHUNK, read_idx
from .sample import SAMPLE_SIZE

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

ENV_VAR = "MINIVAE_DATA"                        # a root holding one folder per dataset
SYSTEM_DATA_ROOT = Path("/usr/share/datasets")  # where Debian's dataset-* packages install
# Set to 1 to leave SYSTEM_DATA_ROOT out of the search: a run then behaves as on a machine
# without the Debian package (tests and CI use it to be hermetic either way).
NO_SYSTEM_DATA_VAR = "MINIVAE_NO_SYSTEM_DATA"

_SPLIT_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
PUBLISHED_SIZE = {"train": 60_000, "test": 10_000}      # both datasets' releases


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


# -------------------------------------------------------- finding the files --

def _check_data_dir(data_dir, owner):
    """None, or the folder as a Path: a path that names a file is a mistake, not a miss."""
    if data_dir is None:
        return None
    try:
        folder = Path(os.fspath(data_dir)).expanduser()
    except TypeError:
        raise InputTypeError(f"{owner}: data_dir must be a path to a folder (str or os.PathLike) "
                             f"or None, got {type(data_dir).__name__}") from None
    if folder.exists() and not folder.is_dir():
        raise DatasetError(f"{owner}: data_dir {str(folder)!r} is a file; expected the folder "
                           f"holding the four IDX files")
    return folder


def _system_data_skipped():
    return os.environ.get(NO_SYSTEM_DATA_VAR, "") not in ("", "0")


def _search_dirs(source, data_dir):
    """The folders searched, in order. A data_dir given is the only place looked in:
    a mistyped folder must fail, not be replaced by another copy found elsewhere."""
    if data_dir is not None:
        return [data_dir, data_dir / source.name]
    dirs = []
    if os.environ.get(ENV_VAR):
        dirs.append(Path(os.environ[ENV_VAR]).expanduser() / source.name)
    dirs.append(Path.home() / ".cache" / "minivae" / source.name)
    if not _system_data_skipped():
        dirs.append(SYSTEM_DATA_ROOT / source.name)
    return dirs


def _download_dir(source, data_dir):
    """Where a download goes: the first folder searched (never the system's, last)."""
    return _search_dirs(source, data_dir)[0]


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
    if data_dir is not None:
        tried.append("  (no other folder: a data_dir given is the only place searched)")
    elif _system_data_skipped():
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
    if source.name == "fashion-mnist" and data_dir is None:
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

def _load(source, split, data_dir, download, dtype, base_url, checksums, timeout, owner,
          pad=True, verify=True):
    """(images, labels, folder) of one split of an MNIST-format dataset."""
    split = check_choice(split, "split", tuple(_SPLIT_FILES), owner)
    dtype = _image_dtype(dtype, owner)
    data_dir = _check_data_dir(data_dir, owner)
    # The release's own checksums pin files of the release's length; checksums a caller
    # gives pin whatever files they name.
    published = PUBLISHED_SIZE[split] if checksums is None else None
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
        _verify(array, path.name.removesuffix(".gz"), checksums, path, source.title,
                published, verify)
    _check_pair(x, y, images_path, labels_path, len(source.classes))
    return _pad(x, dtype, pad), y, images_path.parent


def load_fashion_mnist(split="train", data_dir=None, download=False, *, dtype="float32",
                       pad=True, verify=True, base_url=None, checksums=None, timeout=60):
    """Fashion-MNIST as (images, labels), padded and scaled as the book does.

    split: "train" (60,000) or "test" (10,000).
    data_dir: the folder holding the IDX files (.gz or raw), and then the only place
        looked in. Without it: $MINIVAE_DATA/fashion-mnist, ~/.cache/minivae/fashion-mnist
        and /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist).
    download: when no copy is found, fetch the four files from base_url
        (default FASHION_MNIST_URL) into data_dir, else $MINIVAE_DATA/fashion-mnist,
        else ~/.cache/minivae/fashion-mnist; each is verified before it is kept.
    dtype: "float32" (default) or "float64" in [0, 1], or "uint8" in [0, 255].
    pad: True pads to the book's 32x32; False keeps the 28x28 images.
    verify: files of the published length whose SHA-256 differs are refused as
        corrupt unless verify=False; files of another length (a subset of the
        release, say) load with a DatasetWarning that they are unverified.
    checksums: {file stem: SHA-256 of its decoded array}; None uses
        FASHION_MNIST_SHA256. Files absent from the mapping are not verified.
    Returns images (N, 32, 32, 1) of dtype (28, 28 unpadded), labels (N,) uint8 in 0..9.
    Raises DatasetNotFoundError listing every place searched, DatasetError for bad data.
    """
    x, y, _ = _load(_SOURCES["fashion-mnist"], split, data_dir, download, dtype, base_url,
                    checksums, timeout, "load_fashion_mnist", pad, verify)
    return x, y


def load_mnist(split="train", data_dir=None, download=False, *, dtype="float32", pad=True,
               verify=True, base_url=None, checksums=None, timeout=60):
    """MNIST digits as (images, labels); the same as load_fashion_mnist with
    "mnist" folders, MNIST_URL, and no recorded checksums (MNIST_SHA256 is empty)."""
    x, y, _ = _load(_SOURCES["mnist"], split, data_dir, download, dtype, base_url,
                    checksums, timeout, "load_mnist", pad, verify)
    return x, y
