"""Checking plain functions: check_grad for a scalar f, check_vjp for any f.

    check_grad(f, grad, x, *args)       f(x, *args) -> scalar, grad(x, *args) -> array
                                        like x (args as scipy's check_grad passes them)
    check_vjp(f, vjp, *inputs)          f(*inputs) -> array y,
                                        vjp(dy, *inputs) -> (dL/d input for each input)

check_vjp checks the scalar L = <f(inputs), dy> for one fixed random dy (drawn
from rng unless given): dL/dy = dy, so vjp(dy, ...) is the exact gradient of L,
and a wrong backward differs from the right one in L's gradient unless the error
is orthogonal to dy, which has probability zero. A dy of ones would hide every
error that keeps the sum (outputs swapped, a transposed map).

Float inputs of any layout and dtype are copied to C-ordered float64 (the report
notes an upcast), so f and vjp always see float64; integer and boolean inputs of
check_vjp (an embedding's ids, a mask) are passed through unperturbed and named in
the report as not checked (check_grad's x is always checked, and upcast). f may compute in another
dtype: the rounding floor and the default step follow the dtype f returns.
"""

import inspect

import numpy as np

from ..errors import InputError, InputTypeError
from .core import DEFAULT_MAX_ENTRIES, run_check
from .determinism import seeded_global
from .inputs import (as_float64, default_step, precision_note, projection, real_output,
                     real_scalar, rounding_unit, split_inputs)


def _names(f, count, names, owner):
    if names is not None:
        names = list(names)
        if len(names) != count or len(set(names)) != count:
            raise InputError(f"{owner}: names must give {count} distinct names, one per "
                             f"input, got {names}")
        return names
    try:
        params = [p for p in inspect.signature(f).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    if len(params) >= count:
        return [p.name for p in params[:count]]
    return ["x"] if count == 1 else [f"inputs[{k}]" for k in range(count)]


def _guard(arrays, owner):
    """Raise if f or its gradient changed an input in place (checked after each check)."""
    saved = {k: v.copy() for k, v in arrays.items()}

    def verify():
        for k, v in arrays.items():
            if not np.array_equal(v, saved[k]):
                raise InputError(f"{owner}: {k} was changed in place by f or by its gradient; "
                                 f"they must leave their inputs as they found them")
    return verify


VJP_REMEDY = ("fix it inside f: draw the noise once, outside f, and close over it, or "
              "re-create f's Generator from a fixed seed on every call")


def check_grad(f, grad, x, *args, step=None, rtol=1e-6, max_entries=DEFAULT_MAX_ENTRIES,
               directions=0, rng=None, global_seed=None):
    """Check grad(x, *args) against finite differences of the scalar f(x, *args).

    args are passed to f and grad as they are, never perturbed, as scipy's
    check_grad(func, grad, x0, *args) passes them. Returns a GradCheckReport with one
    result, "x" (see check_vjp for the other arguments).
    """
    owner = "check_grad"
    x, note = as_float64(x, "x", owner)
    with seeded_global(global_seed, owner) as seeded:
        f_x, grad_x = seeded(lambda v: f(v, *args)), lambda v: grad(v, *args)
        f0 = real_scalar(f_x(x), owner, "f")
        unit, step, precision = _settings(f0, step, rtol, max_entries, directions, owner)
        notes = [n for n in (note, precision) if n]
        verify = _guard({"x": x}, owner)

        def analytic():
            g = np.asarray(grad_x(x))
            if g.shape != x.shape:
                raise InputError(f"{owner}: grad(x) has shape {g.shape}, x has {x.shape}")
            return {"x": g}

        report = run_check(lambda: real_scalar(f_x(x), owner, "f"), analytic, {"x": x},
                           magnitude=lambda: abs(float(f0)), unit=unit, step=step, rtol=rtol,
                           max_entries=max_entries, directions=directions, rng=rng,
                           notes=notes, owner=owner, remedy=VJP_REMEDY,
                           seeded=global_seed is not None)
    verify()
    return report


def input_gradients(grads, names, checked, owner, what):
    """name -> gradient for the checked inputs, from what vjp or backward returned: one
    per input (those of unchecked inputs ignored), or one per checked input."""
    if isinstance(grads, np.ndarray) and len(checked) == 1:
        return {next(iter(checked)): grads}
    if not isinstance(grads, (tuple, list)) or len(grads) not in (len(names), len(checked)):
        counts = f"{len(names)}" if len(names) == len(checked) else \
            f"{len(names)} (one per input) or {len(checked)} (one per checked input)"
        raise InputTypeError(f"{owner}: {what} must return {counts} gradient(s), as a "
                             f"tuple; got {type(grads).__name__}"
                             + (f" of length {len(grads)}" if isinstance(grads, (tuple, list))
                                else ""))
    order = names if len(grads) == len(names) else list(checked)
    return {n: np.asarray(g) for n, g in zip(order, grads) if n in checked}


def check_vjp(f, vjp, *inputs, dy=None, names=None, step=None, rtol=1e-6,
              max_entries=DEFAULT_MAX_ENTRIES, directions=0, rng=None, global_seed=None):
    """Check vjp(dy, *inputs) against finite differences of L = <f(*inputs), dy>.

    f:      f(*inputs) -> array (any shape)
    vjp:    vjp(dy, *inputs) -> one gradient per input (a tuple, or an array for one
            input), each the shape of its input; for an integer or boolean input
            anything (None), or leave it out of the tuple
    inputs: arrays; float ones are checked, integer and boolean ones (ids, masks,
            labels) are passed through unperturbed and named in the notes
    dy:     the projection, f's output shape; default N(0, 1) from rng
    names:  one per input for the report; default f's parameter names
    step:   finite-difference step; default 1e-6 for a float64 f (1e-3 for float32)
    rtol:   relative precision to certify (module docstring of minivae.gradcheck)
    max_entries: check at most this many random entries per input, and screen the
            rest (default DEFAULT_MAX_ENTRIES, 1000); None checks every entry
    directions:  instead of entries, this many random directions per input
    rng:    numpy Generator for dy, the sample and the directions (default seed 0)
    global_seed: re-seed numpy's global random state with it before every call of f
            (opt-in; restored afterwards), for an f that draws from np.random

    Returns a GradCheckReport: one result per checked input.
    """
    owner = "check_vjp"
    if not inputs:
        raise InputTypeError(f"{owner}: give at least one input after f and vjp")
    rng = rng if rng is not None else np.random.default_rng(0)
    names = _names(f, len(inputs), names, owner)
    arrays, passed, notes = split_inputs(inputs, names, owner)
    if not arrays:
        raise InputTypeError(f"{owner}: every input is an integer or boolean array "
                             f"({', '.join(names)}): there is nothing to differentiate")
    values = [arrays[n] if n in arrays else passed[n] for n in names]
    with seeded_global(global_seed, owner) as seeded:
        f_seeded = seeded(f)
        y0 = real_output(f_seeded(*values), owner, "f")
        if not np.all(np.isfinite(y0)):
            raise InputError(f"{owner}: f returned non-finite values at the given inputs")
        unit, step, precision = _settings(y0, step, rtol, max_entries, directions, owner)
        notes += [precision] if precision else []
        dy = projection(dy, y0.shape, rng, owner, "f's output shape")
        verify = _guard({**arrays, **passed}, owner)

        def loss():
            return float(np.sum(real_output(f_seeded(*values), owner, "f").astype(np.float64)
                                * dy))

        def analytic():
            return input_gradients(vjp(dy.copy(), *values), names, arrays, owner, "vjp")

        report = run_check(loss, analytic, arrays,
                           magnitude=lambda: float(np.sum(np.abs(y0.astype(np.float64) * dy))),
                           unit=unit, step=step, rtol=rtol, max_entries=max_entries,
                           directions=directions, rng=rng, notes=notes, owner=owner,
                           remedy=VJP_REMEDY, seeded=global_seed is not None)
    verify()
    return report


def _settings(value, step, rtol, max_entries, directions, owner):
    """(rounding unit, step, precision note or None) for a check of outputs like `value`,
    its settings validated; step None is the default for value's dtype."""
    unit, dtype = rounding_unit(value)
    step = default_step(dtype) if step is None else step
    _check_settings(step, rtol, max_entries, directions, owner)
    return unit, step, precision_note(dtype, step)


def _check_settings(step, rtol, max_entries, directions, owner):
    """One validation for the settings every check shares."""
    for name, value in (("step", step), ("rtol", rtol)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
                or not np.isfinite(value) or value <= 0:
            raise InputError(f"{owner}: {name} must be a finite number > 0, got {value!r}")
    if max_entries is not None and (isinstance(max_entries, bool) or
                                    not isinstance(max_entries, (int, np.integer))
                                    or max_entries < 1):
        raise InputError(f"{owner}: max_entries must be a positive integer or None (every "
                         f"entry), got {max_entries!r}")
    if isinstance(directions, bool) or not isinstance(directions, (int, np.integer)) \
            or directions < 0:
        raise InputError(f"{owner}: directions must be an integer >= 0 (0: check entries), "
                         f"got {directions!r}")
