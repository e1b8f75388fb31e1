"""A whole model's gradient check, as `minivae gradcheck` runs it (docs/gradcheck.md).

    check_whole_model("vae")                  the book's VAE (or "ae") in float64
    check_whole_model(checkpoint=PATH)        any checkpoint's model, at its trained weights

Every parameter's analytic gradient against finite differences
(gradcheck.check_model), on a random subset of entries or directions per array.
Errors a user can cause raise InputError, naming each option as its flag.
"""

import numbers
import os

import numpy as np

from ._validation import check_nonnegative_int, check_positive_int
from .architectures import fashion_autoencoder, fashion_vae
from .checkpoint import load
from .errors import InputError, InputTypeError
from .gradcheck import check_model
from .models import VAE

# Whole-model tolerances to certify (docs/gradcheck.md): the VAE's measured worst is
# ~5e-6; the autoencoder's loss ~0.7 against encoder gradients ~1e-6 puts the
# central-difference rounding floor near 1.5e-4 of the gradient's scale. A FAIL needs
# an error beyond that floor whatever the tolerance: these only separate pass from
# inconclusive.
GRADCHECK_RTOL = {"vae": 1e-5, "ae": 3e-4}


def _check_settings(max_entries, directions, batch_size, rtol, step, seed):
    """Each setting refused in one line, named as its flag, before any work."""
    if max_entries is not None:         # None: every entry, as gradcheck.check_model takes it
        if isinstance(max_entries, bool) or not isinstance(max_entries, numbers.Integral):
            raise InputTypeError(f"--max-entries must be a positive integer (entries checked "
                                 f"per array) or None (every entry), got {max_entries!r} of "
                                 f"type {type(max_entries).__name__}")
        if max_entries < 1:
            raise InputError(f"--max-entries must be a positive integer (entries checked per "
                             f"array), got {max_entries}: that would check nothing")
    check_nonnegative_int(directions, "--directions")
    check_positive_int(batch_size, "--batch-size")
    check_nonnegative_int(seed, "--seed")
    for flag, value, high in (("--rtol", rtol, 1.0), ("--step", step, 1e-2)):
        if value is None and flag == "--rtol":          # the model's own tolerance
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise InputTypeError(f"{flag} must be a number in (0, {high:g}), got {value!r} of "
                                 f"type {type(value).__name__}")
        if not (np.isfinite(value) and 0 < value < high):
            raise InputError(f"{flag} must be a number in (0, {high:g}), got {value!r}")


def _model(model, checkpoint, latent_dim, seed, rng):
    """(the model in float64, "vae" or "ae")."""
    if checkpoint is not None:
        if not isinstance(checkpoint, (str, os.PathLike)):
            raise InputTypeError(f"--checkpoint must be the path of a checkpoint (str or "
                                 f"os.PathLike), got {checkpoint!r} of type "
                                 f"{type(checkpoint).__name__}")
        loaded = load(checkpoint).astype("float64")
        return loaded, "vae" if isinstance(loaded, VAE) else "ae"
    if model not in GRADCHECK_RTOL:
        raise InputError(f"--model must be vae or ae, got {model!r}")
    check_positive_int(latent_dim, "--latent-dim")
    built = (fashion_vae if model == "vae" else fashion_autoencoder)(
        latent_dim=latent_dim, seed=seed, dtype="float64")
    for name, value in built.named_params().items():
        if name.endswith("/bias"):
            # Zero biases sit ReLU pre-activations exactly on the kink (docs/gradcheck.md).
            value[:] = 0.1 * rng.standard_normal(value.shape)
    return built, model


def check_whole_model(model="vae", checkpoint=None, latent_dim=2, batch_size=2, max_entries=8,
                      directions=0, rtol=None, step=1e-6, seed=0):
    """Check the gradients of the book's model (model="vae" or "ae", its biases drawn
    away from zero) or of a checkpoint's, in float64, on batch_size random images.

    max_entries per array are checked (None: every entry, the book's VAE's 347,141
    two losses each), or with directions=N, N random directions per array. rtol: the
    relative error to certify (default GRADCHECK_RTOL of the model's kind); an entry
    fails only beyond what rounding allows. Everything random comes from
    default_rng(seed). Returns (the GradCheckReport, the rtol used).
    """
    _check_settings(max_entries, directions, batch_size, rtol, step, seed)
    rng = np.random.default_rng(seed)
    model, kind = _model(model, checkpoint, latent_dim, seed, rng)
    x = rng.uniform(0.05, 0.95, size=(batch_size, *model.input_shape))
    eps = rng.standard_normal((batch_size, model.latent_dim)) if kind == "vae" else None
    rtol = rtol if rtol is not None else GRADCHECK_RTOL[kind]
    report = check_model(model, x, eps=eps, step=step, rtol=rtol, max_entries=max_entries,
                         directions=directions, rng=rng)
    return report, rtol


__all__ = ["check_whole_model", "GRADCHECK_RTOL"]
