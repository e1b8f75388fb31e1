"""minivae.pixels: the one place pixels become floats, and the dataset check at the boundary."""

import numpy as np
import pytest

from minivae.pixels import check_images, to_float


def test_to_float_scales_integer_pixels_and_casts_floats():
    x = np.array([0, 51, 255], np.uint8)
    got = to_float(x)
    assert got.dtype == np.float32
    # the book's x.astype("float32") / 255, bit for bit
    np.testing.assert_array_equal(got, x.astype(np.float32) / 255)
    assert to_float(x, "float64").dtype == np.float64
    f = np.array([0.5], np.float32)
    assert to_float(f, "float32") is f                  # already floats in [0, 1]: no copy
    assert to_float(f, np.float64).dtype == np.float64
    np.testing.assert_array_equal(to_float(np.array([255], np.int64)), [1.0])


def test_to_float_refuses_what_is_not_pixels():
    with pytest.raises(TypeError, match=r"to_float: images must be integer pixels .*got dtype <U1"):
        to_float(np.array(["a"]))
    with pytest.raises(TypeError, match="dtype must be a floating type"):
        to_float(np.zeros(2, np.uint8), "int8")


def test_check_images_names_shape_dtype_and_emptiness():
    assert check_images([[[0.5]]], "x", (1, 1), "owner").shape == (1, 1, 1)
    with pytest.raises(ValueError, match=r"owner: x must have shape \(N, 2, 2\) for this model, "
                                         r"got \(3, 2\)"):
        check_images(np.zeros((3, 2)), "x", (2, 2), "owner")
    with pytest.raises(TypeError, match="float images in \\[0, 1\\] or uint8 pixels, got dtype "
                                        "int32"):
        check_images(np.zeros((1, 2, 2), np.int32), "x", (2, 2), "owner")
    with pytest.raises(ValueError, match="at least one image"):
        check_images(np.zeros((0, 2, 2)), "x", (2, 2), "owner")
    with pytest.raises(ValueError, match="NaN"):
        check_images(np.full((1, 2, 2), np.nan), "x", (2, 2), "owner")
