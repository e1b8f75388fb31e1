"""Checking whole models, and any loss over arrays it reads.

    check_model(model, x)               model.forward_backward(x, eps)["total_loss"]
                                        against model.named_grads()
    check_gradients(loss, params, grads)   a zero-argument loss() over the arrays of
                                        params, against the dict grads

A model needs forward_backward(x, eps=None) -> {"total_loss": ...}, named_params()
and named_grads() (dicts name -> float64 array, the arrays forward_backward reads,
perturbed in place), and optionally latent_dim (eps is drawn once from rng for it)
and dtype.
"""

from contextlib import ExitStack, nullcontext

import numpy as np

from ..errors import InputTypeError
from .core import DEFAULT_MAX_ENTRIES, run_check
from .determinism import fixed_noise, seeded_global
from .functions import _check_settings
from .inputs import as_float64, float64_arrays, real_scalar, rounding_unit


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
    float64_arrays(params, "parameter", owner, "convert it with astype(np.float64)")
    _check_settings(eps, rtol, max_entries, directions, owner)
    f0 = real_scalar(loss(), owner, "loss()")
    unit, _ = rounding_unit(f0)
    return run_check(lambda: real_scalar(loss(), owner, "loss()"), lambda: grads, dict(params),
                     magnitude=abs(float(f0)), unit=unit,
                     step=eps, rtol=rtol, max_entries=max_entries, directions=directions,
                     rng=rng, owner=owner, check_analytic_twice=False)


MODEL_REMEDY = ("pass eps, or give the model's noise a numpy Generator in .rng, which "
                "check_model replays")


def check_model(model, x, eps=None, step=1e-6, rtol=1e-6, max_entries=DEFAULT_MAX_ENTRIES,
                rng=None, directions=0, fix_noise=True, global_seed=None):
    """Whole-model check of `model.forward_backward(x, eps)["total_loss"]`.

    Works with any object following the model protocol of the module docstring
    (minivae's VAE and Autoencoder). eps fixes the VAE's sampling noise; when it
    is None and the model has a latent_dim, eps is drawn once from rng, so the
    loss is a deterministic function of the parameters. `step` is the
    finite-difference step. max_entries: entries per array (default 1000, the rest
    screened; None: every entry), or directions (random directions per array).
    global_seed: re-seed numpy's global random state before every forward_backward
    (determinism.py). Returns a GradCheckReport.
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
    float64_arrays(params, "parameter", owner, "build the model with dtype='float64'")

    with ExitStack() as stack:
        stack.enter_context(fixed_noise(model) if fix_noise else nullcontext())
        forward_backward = stack.enter_context(seeded_global(global_seed, owner))(
            lambda: model.forward_backward(x, eps=eps))

        def loss():
            return real_scalar(forward_backward()["total_loss"], owner,
                               "forward_backward(x)['total_loss']")

        def analytic():
            forward_backward()
            return model.named_grads()

        f0 = float(loss())
        return run_check(loss, analytic, dict(params), magnitude=abs(f0), unit=float(
            np.finfo(np.float64).eps), step=step, rtol=rtol, max_entries=max_entries,
            directions=directions, rng=rng, notes=notes, owner=owner, remedy=MODEL_REMEDY,
            seeded=global_seed is not None)
