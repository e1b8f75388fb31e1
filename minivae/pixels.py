"""Images as the models read them: validated once, then turned into floats per batch.

Models read images (N, H, W, C) as floats in [0, 1]. Datasets keep them as
uint8 pixels (60,000 Fashion-MNIST images in 61 MB instead of 246), and each
batch becomes floats only when it is used, through `to_float`: the one place
pixels are scaled (`to_uint8` is the way back, for images written to disk).
"""

import numpy as np

from ._validation import check_finite, check_float_dtype
from .errors import InputError, InputTypeError


def to_float(images, dtype="float32"):
    """Images as floats in [0, 1] of `dtype`.

    Integer pixels (uint8 and the like, 0..255) become p / 255 computed in `dtype`,
    as the book's x.astype("float32") / 255; float images are taken to be in [0, 1]
    already and only cast (no copy when the dtype matches).
    """
    dtype = check_float_dtype(dtype, "dtype", "to_float")
    x = np.asarray(images)
    if np.issubdtype(x.dtype, np.integer):
        return np.divide(x, dtype.type(255), dtype=dtype)
    if np.issubdtype(x.dtype, np.floating):
        return x.astype(dtype, copy=False)
    raise InputTypeError(f"to_float: images must be integer pixels in [0, 255] or floats in "
                         f"[0, 1], got dtype {x.dtype}")


def to_uint8(images):
    """Floats in [0, 1] as uint8 pixels: round(x * 255), clipped to 0..255 (to_float's
    inverse up to that rounding)."""
    return np.clip(np.rint(np.asarray(images) * 255), 0, 255).astype(np.uint8)


def check_images(x, name, input_shape, owner):
    """Validate a whole dataset once, at the public boundary: uint8 pixels, or finite
    floats, of shape (N, *input_shape) with N >= 1. Returns x (as an array)."""
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
        raise InputTypeError(f"{owner}: {name} must be float images in [0, 1] or uint8 pixels, "
                             f"got dtype {x.dtype}")
    if x.ndim != len(input_shape) + 1 or x.shape[1:] != tuple(input_shape):
        raise InputError(f"{owner}: {name} must have shape (N, {', '.join(map(str, input_shape))})"
                         f" for this model, got {x.shape}")
    if x.shape[0] == 0:
        raise InputError(f"{owner}: {name} must hold at least one image, got shape {x.shape}")
    if x.dtype != np.uint8:
        check_finite(x, name, owner)
        lo, hi = float(x.min()), float(x.max())
        if lo < 0.0 or hi > 1.0:
            raise InputError(f"{owner}: {name} must be float images in [0, 1] (or uint8 pixels, "
                             f"which are scaled for you), got values from {lo:.4g} to {hi:.4g}; "
                             + ("divide by 255 first" if hi <= 255 and lo >= 0 else
                                "rescale to [0, 1] first, e.g. (x + 1) / 2 for images in [-1, 1]"
                                if lo >= -1 and hi <= 1 else "rescale them to [0, 1] first"))
    return x
