"""gradcheck.inputs: what a check is given becomes a C-ordered float64 copy, saying so."""

import numpy as np
import pytest

from minivae.errors import InputError, InputTypeError
from minivae.gradcheck.inputs import (as_float64, default_step, precision_note, real_output,
                                      real_scalar, rounding_unit)


def test_float32_is_upcast_with_a_note():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    copy, note = as_float64(x, "x", "check")
    assert copy.dtype == np.float64 and copy.flags.c_contiguous
    np.testing.assert_array_equal(copy, x)
    assert note.startswith("x: float32 copied to float64")


def test_layout_is_copied_silently_and_the_original_is_untouched():
    x = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    copy, note = as_float64(x, "W", "check")
    assert note is None and copy.flags.c_contiguous and copy is not x
    copy[0, 0] = 99.0
    assert x[0, 0] == 0.0
    strided, _ = as_float64(np.arange(10.0)[::3], "v", "check")
    np.testing.assert_array_equal(strided, [0.0, 3.0, 6.0, 9.0])


def test_integers_and_lists_are_accepted():
    copy, note = as_float64([[1, 2], [3, 4]], "x", "check")
    assert copy.dtype == np.float64 and "int" in note


@pytest.mark.parametrize("bad,exc,match", [
    (np.array([True, False]), TypeError, "real numbers, got dtype bool"),
    (np.array([1 + 2j]), TypeError, "got dtype complex"),
    (np.array([1.0, np.nan]), ValueError, "non-finite"),
    ([[1.0], [2.0, 3.0]], TypeError, "array of real numbers"),
])
def test_refusals_name_the_array(bad, exc, match):
    with pytest.raises(exc, match=match):
        as_float64(bad, "x", "check_vjp")


def test_the_step_and_the_rounding_unit_follow_the_dtype():
    assert default_step(np.float64) == 1e-6 and default_step(np.float32) == 1e-3
    assert rounding_unit(np.float32(1.0)) == (float(np.finfo(np.float32).eps),
                                              np.dtype(np.float32))
    assert rounding_unit(1.0)[1] == np.float64
    assert precision_note(np.float64, 1e-6) is None
    assert "float32" in precision_note(np.float32, 1e-3)


def test_an_empty_array_is_refused():
    with pytest.raises(InputError, match=r"check: x is empty \(shape \(3, 0\)\): there is "
                                         r"nothing to check"):
        as_float64(np.zeros((3, 0)), "x", "check")


@pytest.mark.parametrize("value", [True, 1, 2 + 0j, np.array([1, 2]), np.array([True])])
def test_outputs_must_be_real_floating_point(value):
    with pytest.raises(InputTypeError, match="check: f must return real floating-point values"):
        real_output(value, "check", "f")


def test_a_real_scalar_is_one_float():
    assert real_scalar(np.float32(2.5), "check", "f") == 2.5
    with pytest.raises(InputTypeError, match=r"f must return a scalar, got an array of shape "
                                             r"\(2,\)"):
        real_scalar(np.ones(2), "check", "f")
