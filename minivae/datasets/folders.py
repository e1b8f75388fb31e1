"""Folders of PNG or JPEG images, cropped and resized as the faces VAE reads them."""

from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin     # matplotlib's decoder (and dependency): ~20 ms

from .._matplotlib import start_matplotlib
from .._validation import as_pair, check_positive_int
from .errors import DatasetError

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

# The most pixels one image may have (docs/datasets.md, "Limits"): 4096 x 4096, a
# 12-megapixel photo fits. Decoding one at the limit takes up to ~450 MB (about 26 bytes
# a pixel: Pillow's copy, the decoded array, its float32 copy and the resize's), so
# the size is read from the file's header and checked before anything is decoded.
MAX_IMAGE_PIXELS = 2 ** 24


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


def _read_image(file):
    """The pixels of one image file as matplotlib's imread gives them, once its header
    says it has at most MAX_IMAGE_PIXELS. Raises DatasetError naming the file."""
    start_matplotlib()                      # imported here: ~0.3 s that only loaders need
    from matplotlib import image as mpimg

    file = Path(file)
    # The class matplotlib's imread opens the file with: PNG's skips Pillow's own check.
    opener = PngImagePlugin.PngImageFile if file.suffix.lower() == ".png" else Image.open
    try:
        with opener(file) as image:
            width, height = image.size
    except Image.DecompressionBombError as exc:    # Image.open's own, far higher limit
        raise DatasetError(f"{file}: more than {MAX_IMAGE_PIXELS:,} pixels, the limit for one "
                           f"image ({exc}); refused before decoding it") from exc
    except Exception as exc:    # Pillow raises OSError, ValueError, SyntaxError, ... per format
        raise DatasetError(f"{file}: cannot be read as an image "
                           f"({type(exc).__name__}: {exc})") from exc
    if width * height > MAX_IMAGE_PIXELS:
        raise DatasetError(f"{file}: {width}x{height} is {width * height:,} pixels, more than "
                           f"the limit of {MAX_IMAGE_PIXELS:,} for one image; refused before "
                           f"decoding it (scale it down first)")
    try:
        return mpimg.imread(file)
    except MemoryError as exc:
        raise DatasetError(f"{file}: out of memory while decoding it") from exc
    except Exception as exc:    # Pillow raises OSError, ValueError, SyntaxError, ... per format
        raise DatasetError(f"{file}: cannot be read as an image "
                           f"({type(exc).__name__}: {exc})") from exc


def _image_files(folder, owner):
    """The .png, .jpg and .jpeg files in `folder` (any case), unsorted."""
    try:
        return [p for p in folder.iterdir()
                if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file()]
    except OSError as exc:
        raise DatasetError(f"{owner}: cannot list {folder} ({exc})") from exc


def image_files(path, owner="load_image_folder"):
    """The PNG/JPEG files directly in `path`, sorted by name: what load_image_folder
    reads, listed without reading any. Raises DatasetError for a path that is not a
    folder and a folder with no image."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        why = "it is a file" if folder.exists() else "it does not exist"
        raise DatasetError(f"{owner}: {folder} is not a folder ({why})")
    files = sorted(_image_files(folder, owner))
    if not files:
        raise DatasetError(f"{owner}: {folder} holds no .png, .jpg or .jpeg file")
    return files


def read_folder_image(file, h, w):
    """One image file as load_image_folder reads it: float32 (h, w, 3) in [0, 1],
    center-cropped to the aspect h/w and area-resized."""
    pixels = _read_image(file)
    try:
        return _resize_area(_center_crop(_as_rgb(pixels, file), h / w), h, w)
    except MemoryError as exc:
        raise DatasetError(f"{file}: out of memory while resizing it") from exc


def folder_pixels(file, size):
    """One image file as `minivae train --data folder:PATH` reads it: uint8 (h, w, 3),
    round(255 x) of read_folder_image."""
    return np.round(read_folder_image(file, *size) * 255).astype(np.uint8)


def load_image_folder(path, size=(64, 64), limit=None):
    """Every PNG/JPEG directly in `path`, sorted by name, as float32 (N, h, w, 3) in [0, 1].

    For the faces VAE (CelebA and the like). Each image is center-cropped to the
    aspect ratio of size = (h, w), then area-resized; gray is repeated to three
    channels and an alpha channel is dropped. limit: read only the first `limit`
    files (CelebA's 200,000 faces at 64x64 take 9.8 GB as float32).
    Raises DatasetError for a path that is not a folder, a folder with no image,
    an image of more than MAX_IMAGE_PIXELS pixels (checked before it is decoded),
    any file that cannot be decoded, and memory running out (naming the file).
    datasets.streaming.FolderImages reads the same images one batch at a time.
    """
    h, w = as_pair(size, "size", "load_image_folder")
    if limit is not None:
        limit = check_positive_int(limit, "limit", "load_image_folder")
    files = image_files(path)[:limit]
    folder = Path(path).expanduser()
    try:
        out = np.empty((len(files), h, w, 3), dtype=np.float32)
    except MemoryError as exc:
        raise DatasetError(f"load_image_folder: out of memory for {len(files)} images of "
                           f"{h}x{w} from {folder} ({len(files) * h * w * 12:,} bytes); "
                           f"pass a smaller limit or size") from exc
    for i, file in enumerate(files):
        out[i] = read_folder_image(file, h, w)     # each decoded image freed before the next
    return out
