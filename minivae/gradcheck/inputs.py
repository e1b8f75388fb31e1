"""What a gradient check is given: arrays copied to C-ordered float64, saying so.

A check perturbs its inputs by about 1e-6, so it works on float64 copies: a
float32 array cannot even hold x + 1e-6 for |x| near 1 (its spacing there is
1.2e-7, a tenth of the step). Any layout and any real dtype is accepted; an
upcast leaves a note in the report, a layout copy does not (it changes nothing).
"""

import numpy as np

from .._validation import check_finite
from ..errors import InputError, InputTypeError

# The default finite-difference step for a function that computes in each dtype:
# near (3 u)^(1/3), where truncation (h^2 |f'''| / 6) meets rounding (u |f| / h),
# rounded down a little, since kinks favour the smaller step (docs/gradcheck.md).
DEFAULT_STEP = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 1e-3,
                np.dtype(np.float16): 3e-2}


def as_float64(value, name, owner):
    """(a C-ordered float64 copy of `value`, a note or None).

    Integers and lower-precision floats are upcast, with a note saying so; bool,
    complex, object, non-finite and empty values are refused with a sentence naming
    `name`.
    """
    try:
        array = np.asarray(value)
    except Exception as exc:            # ragged lists and other non-arrays
        raise InputTypeError(f"{owner}: {name} must be an array of real numbers, got "
                             f"{type(value).__name__} ({exc})") from None
    kind = array.dtype.kind
    if kind not in "fiu":
        raise InputTypeError(f"{owner}: {name} must be an array of real numbers, got dtype "
                             f"{array.dtype}")
    note = None
    if array.dtype != np.float64:
        note = (f"{name}: {array.dtype} copied to float64 (the check perturbs it by about "
                f"1e-6 and needs float64 to hold that)")
    if array.size == 0:
        raise InputError(f"{owner}: {name} is empty (shape {array.shape}): there is nothing "
                         f"to check")
    copy = np.array(array, dtype=np.float64, order="C", copy=True)
    check_finite(copy, name, owner)
    return copy, note


def real_output(value, owner, what):
    """`value` as an array, if it is real floating point: a bool or integer output has no
    derivative to check and a complex one is not a real loss (InputTypeError otherwise).
    `what` names the output in the message: "f", "forward", "loss()"."""
    array = np.asarray(value)
    if array.dtype.kind != "f":
        raise InputTypeError(f"{owner}: {what} must return real floating-point values, got "
                             f"{type(value).__name__} of dtype {array.dtype}")
    return array


def real_scalar(value, owner, what):
    """`value` if it is a real floating-point scalar (real_output), else InputTypeError."""
    if np.ndim(value) != 0:
        raise InputTypeError(f"{owner}: {what} must return a scalar, got an array of shape "
                             f"{np.shape(value)} (use check_vjp for array outputs)")
    real_output(value, owner, what)
    return value


def projection(dy, shape, rng, owner, what):
    """The dy that projects an output of `shape` to a scalar: drawn from rng when None,
    else dy as float64, which must have that shape (`what` names it in the error)."""
    if dy is None:
        return rng.standard_normal(shape)
    dy, _ = as_float64(dy, "dy", owner)
    if dy.shape != shape:
        raise InputError(f"{owner}: dy must have {what} {shape}, got {dy.shape}")
    return dy


def rounding_unit(value):
    """Unit roundoff u of the dtype `value` is computed in (float64 for Python floats)."""
    dtype = getattr(value, "dtype", np.dtype(np.float64))
    if not np.issubdtype(dtype, np.floating):
        dtype = np.dtype(np.float64)
    return float(np.finfo(dtype).eps), np.dtype(dtype)


def default_step(dtype):
    """The step for a function computing in `dtype` (float64's for unknown dtypes)."""
    return DEFAULT_STEP.get(np.dtype(dtype), DEFAULT_STEP[np.dtype(np.float64)])


def precision_note(dtype, step):
    """A note for the report when f computes in a dtype coarser than float64."""
    if np.dtype(dtype) == np.float64:
        return None
    return (f"f computes in {np.dtype(dtype)}: step {step:g}, and a rounding floor near "
            f"{np.finfo(dtype).eps / step:.0e} of its magnitude; only large errors can FAIL")


def split_inputs(values, names, owner):
    """(checked, passed, notes): the inputs of a check, by name.

    checked: name -> float64 copy (as_float64), perturbed by the check; passed:
    name -> a copy of each integer or boolean input, handed to f as it is and never
    perturbed (an embedding's ids, a mask, a class label: no gradient exists);
    notes: an upcast, and the inputs not checked.
    """
    checked, passed, notes = {}, {}, []
    for name, value in zip(names, values):
        try:
            kind = np.asarray(value).dtype.kind
        except Exception:           # ragged lists: as_float64 says what is wrong
            kind = "O"
        if kind in "biu":
            passed[name] = np.array(value, copy=True)
            continue
        copy, note = as_float64(value, name, owner)
        checked[name] = copy
        notes += [note] if note else []
    if passed:
        listed = ", ".join(f"{n} ({v.dtype})" for n, v in passed.items())
        notes.append(f"not checked: {listed}, passed to f unperturbed (an integer or boolean "
                     f"input has no gradient; pass it as floats to check it)")
    return checked, passed, notes


def float64_arrays(arrays, what, owner, fix):
    """Refuse arrays the check cannot perturb in place: not float64 (`fix` says how to
    make them so), or not C-contiguous."""
    for name, value in arrays.items():
        if not isinstance(value, np.ndarray) or value.dtype != np.float64:
            raise InputTypeError(f"{owner}: {what} {name!r} is "
                                 f"{getattr(value, 'dtype', type(value))}"
                                 f"; the check perturbs it in place and needs float64 ({fix})")
        if not value.flags.c_contiguous:
            raise InputError(f"{owner}: {what} {name!r} is not C-contiguous; the check "
                             f"perturbs it in place through a flat view")
