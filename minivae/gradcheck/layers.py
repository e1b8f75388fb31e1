"""Checking layers and models, and the protocol they must follow.

A layer, minivae's or anyone's (a duck-typed class is enough), needs:

    forward(x, training=True) -> y      y an array; `training` may be left out of
                                        the signature. Any noise must be fixed (below)
    backward(dy) -> dx                  dL/dx for L = sum(y * dy), or None when the
                                        layer does not compute it; and for every
                                        params[name], grads[name] = dL/dparam
    params  dict name -> float64 array  read by forward from these very arrays, which
                                        the check perturbs in place (optional)
    grads   dict name -> array          same keys and shapes, refilled by backward
    rng     numpy Generator (optional)  the layer's noise: check_layer replays it
                                        (determinism.fixed_noise) so that every
                                        forward of the check draws the same numbers

Nothing else (no dtype, no build) is read. A model needs
forward_backward(x, eps=None) -> {"total_loss": ...}, named_params() and
named_grads() (dicts as above), and optionally latent_dim (eps is drawn once from
rng for it) and dtype.
"""

import inspect
from contextlib import nullcontext

import numpy as np

from ..errors import InputError, InputTypeError
from .core import DEFAULT_MAX_ENTRIES, run_check
from .determinism import fixed_noise
from .functions import _check_settings, _settings
from .inputs import as_float64, projection, real_output, real_scalar, rounding_unit


def _float64_arrays(arrays, what, owner, fix):
    for name, value in arrays.items():
        if not isinstance(value, np.ndarray) or value.dtype != np.float64:
            raise InputTypeError(f"{owner}: {what} {name!r} is "
                                 f"{getattr(value, 'dtype', type(value))}"
                                 f"; the check perturbs it in place and needs float64 ({fix})")
        if not value.flags.c_contiguous:
            raise InputError(f"{owner}: {what} {name!r} is not C-contiguous; the check "
                             f"perturbs it in place through a flat view")


def check_gradients(loss, params, grads, eps=1e-6, rtol=1e-6, max_entries=DEFAULT_MAX_ENTRIES,
                    rng=None, directions=0):
    """Compare analytic `grads` with finite differences of `loss()`.

    loss:   a callable with no arguments returning the scalar loss at the current
            values of the arrays in `params`.
    params: dict name -> float64 array, perturbed in place.
    grads:  dict name -> analytic gradient, same keys and shapes.
    max_entries: check at most this many randomly chosen entries per array
            (from `rng`) and screen the rest (default 1000; None: every entry);
            directions: this many random directions per array instead.
    """
    owner = "check_gradients"
    _float64_arrays(params, "parameter", owner, "convert it with astype(np.float64)")
    _check_settings(eps, rtol, max_entries, directions, owner)
    f0 = real_scalar(loss(), owner, "loss()")
    unit, _ = rounding_unit(f0)
    return run_check(lambda: real_scalar(loss(), owner, "loss()"), lambda: grads, dict(params),
                     magnitude=abs(float(f0)), unit=unit,
                     step=eps, rtol=rtol, max_entries=max_entries, directions=directions,
                     rng=rng, owner=owner, check_analytic_twice=False)


def _forward(layer, training):
    try:
        params = inspect.signature(layer.forward).parameters
    except (TypeError, ValueError):
        params = {}
    takes = "training" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())
    return (lambda x: layer.forward(x, training=training)) if takes else layer.forward


def check_layer(layer, x, dy=None, eps=None, rtol=1e-6, training=True,
                max_entries=DEFAULT_MAX_ENTRIES, rng=None, directions=0, fix_noise=True):
    """Gradient check of one layer (or a Sequential) at input x, following the
    protocol of this module's docstring.

    The scalar checked is L = sum(forward(x) * dy) with dy fixed (N(0, 1) from
    `rng` unless given). Returns a GradCheckReport with "x" and every parameter.
    x may have any real dtype and layout (a float64 copy is checked); the
    parameters must be float64 (minivae layers: layer.astype("float64")). eps is
    the finite-difference step (default 1e-6, or 1e-3 for a layer computing in
    float32). fix_noise=False checks the layer's noise as it is.
    """
    owner = "check_layer"
    params = getattr(layer, "params", None) or {}
    _float64_arrays(params, "parameter", owner, f"call {layer!r}.astype('float64')"
                    if hasattr(layer, "astype") else "make it a float64 array")
    x, note = as_float64(x, "x", owner)
    if "x" in params:
        raise InputError(f"{owner}: a parameter named 'x' would clash with the input's row")
    rng = rng if rng is not None else np.random.default_rng(0)
    forward = _forward(layer, training)
    notes = [note] if note else []
    with fixed_noise(layer) if fix_noise else nullcontext([]) as fixed:
        y0 = real_output(forward(x), owner, "forward")
        dy = projection(dy, y0.shape, rng, owner, "the output's shape")
        unit, step, precision = _settings(y0, eps, rtol, max_entries, directions, owner)
        notes += [precision] if precision else []
        arrays = {"x": x, **params}
        skip_x = []

        def analytic():
            forward(x)
            dx = layer.backward(dy.copy())
            filled = getattr(layer, "grads", None) or {}
            grads = {k: filled.get(k) for k in params}
            if dx is None:
                skip_x.append(True)
                return {"x": np.zeros_like(x), **grads}
            return {"x": np.asarray(dx), **grads}

        def loss():
            return float(np.sum(real_output(forward(x), owner, "forward").astype(np.float64)
                                * dy))

        if fixed:
            notes.append(f"noise fixed for the check: {', '.join(map(repr, fixed))} replay "
                         f"their Generator on every forward")
        report = run_check(loss, analytic, arrays,
                           magnitude=lambda: float(np.sum(np.abs(y0 * dy))), unit=unit,
                           step=step, rtol=rtol, max_entries=max_entries,
                           directions=directions, rng=rng, notes=notes, owner=owner)
    if skip_x:
        report[:] = [r for r in report if r.name != "x"]
        report.notes.append("backward returned None for dx: the input is not checked")
    return report


def check_model(model, x, eps=None, step=1e-6, rtol=1e-6, max_entries=DEFAULT_MAX_ENTRIES,
                rng=None, directions=0, fix_noise=True):
    """Whole-model check of `model.forward_backward(x, eps)["total_loss"]`.

    Works with any object following the model protocol of the module docstring
    (minivae's VAE and Autoencoder). eps fixes the VAE's sampling noise; when it
    is None and the model has a latent_dim, eps is drawn once from rng, so the
    loss is a deterministic function of the parameters. `step` is the
    finite-difference step. max_entries: entries per array (default 1000, the rest
    screened; None: every entry), or directions (random directions per array).
    Returns a GradCheckReport.
    """
    owner = "check_model"
    dtype = getattr(model, "dtype", np.float64)
    if dtype != np.float64:
        raise InputTypeError(f"{owner}: the model computes in {dtype}; gradient checks need "
                             f"float64 (build it with dtype='float64' or call astype)")
    _check_settings(step, rtol, max_entries, directions, owner)
    rng = rng if rng is not None else np.random.default_rng(0)
    x, note = as_float64(x, "x", owner)
    notes = [note] if note else []
    if eps is None and getattr(model, "latent_dim", None):
        eps = rng.standard_normal((len(x), model.latent_dim))
        notes.append("eps drawn once from rng and passed to every forward_backward (the "
                     "sampling noise, if the model has any, is fixed)")
    params = model.named_params()
    _float64_arrays(params, "parameter", owner, "build the model with dtype='float64'")

    def loss():
        return real_scalar(model.forward_backward(x, eps=eps)["total_loss"], owner,
                           "forward_backward(x)['total_loss']")

    def analytic():
        model.forward_backward(x, eps=eps)
        return model.named_grads()

    with fixed_noise(model) if fix_noise else nullcontext():
        f0 = float(loss())
        return run_check(loss, analytic, dict(params), magnitude=abs(f0), unit=float(
            np.finfo(np.float64).eps), step=step, rtol=rtol, max_entries=max_entries,
            directions=directions, rng=rng, notes=notes, owner=owner)
