"""Losses for the VAE, each returning its value and its gradient (docs/losses.md).

Reductions follow the book and Keras. A reconstruction loss averages its
elementwise term ell over the P values of each sample (every non-batch axis,
the pixels), then over the N samples of the batch:

    value = (1/N) sum_n (1/P) sum_p ell(y_true[n, p], y_pred[n, p])

so its gradient is ell'(y_true, y_pred) / (N P). The KL term is summed over the
latent dimensions and averaged over the batch.

reduction="mean" (the default) returns the value as a Python float.
reduction="none" returns the per-sample values, shape (N,), in the input's
dtype, for evaluation code that needs per-sample ELBO terms. Samples do not
interact, so the gradient then returned is each sample's own, row n being
d value[n] / d y_pred[n]: N times the "mean" gradient.

Everything is computed in the dtype of the prediction (y_true is cast to it):
float32 stays float32, float64 stays float64.
"""

import numpy as np
from scipy.special import expit

from ._validation import check_choice, check_float_array
from .distributions import _diagonal_gaussian_kl
from .errors import InputError

EPSILON = 1e-7          # keras.backend.epsilon(): BCE clips probabilities to [EPSILON, 1 - EPSILON]
REDUCTIONS = ("mean", "none")


def _check_pair(y_true, y_pred, names, owner):
    """Validate two same-shape floating batches; return them in y_pred's dtype."""
    a = check_float_array(y_true, names[0], owner)
    b = check_float_array(y_pred, names[1], owner)
    if a.shape != b.shape:
        raise InputError(f"{owner}: {names[0]} and {names[1]} must have the same shape, "
                         f"got {names[0]} {a.shape} and {names[1]} {b.shape}")
    if b.ndim < 1 or b.size == 0:
        raise InputError(f"{owner}: expected a non-empty batch of shape (batch, ...), "
                         f"got {names[1]} of shape {b.shape}")
    return a.astype(b.dtype, copy=False), b


def _reduce(ell, reduction):
    """Per-sample mean over the non-batch axes, then the batch mean (or none).

    Returns (value, scale) where scale is d value / d ell for one entry.
    """
    n = ell.shape[0]
    per_sample = ell.reshape(n, -1).mean(axis=1)
    pixels = ell.size // n
    if reduction == "none":
        return per_sample, 1.0 / pixels
    return float(per_sample.mean()), 1.0 / (pixels * n)


def binary_crossentropy(y_true, y_pred, reduction="mean"):
    """Binary cross-entropy on probabilities, as Keras computes it.

        p   = clip(y_pred, 1e-7, 1 - 1e-7)
        ell = -(y log p + (1 - y) log(1 - p))
        d ell / d y_pred = (p - y) / (p (1 - p))  where 1e-7 <= y_pred <= 1 - 1e-7, else 0

    (outside the clip range the value does not depend on y_pred, so the gradient
    of the value computed is zero there, as in Keras/TensorFlow).

    Shapes: y_true, y_pred (N, ...), e.g. (N, 32, 32, 1). y_true is not checked
    to lie in [0, 1] (Keras does not check it either).
    Returns (value, d_y_pred): value a float, or (N,) with reduction="none";
    d_y_pred like y_pred.
    """
    owner = "binary_crossentropy"
    reduction = check_choice(reduction, "reduction", REDUCTIONS, owner)
    y, y_pred = _check_pair(y_true, y_pred, ("y_true", "y_pred"), owner)
    # the clip bounds in the prediction's dtype, so the mask below compares like with like
    lo, hi = y_pred.dtype.type(EPSILON), y_pred.dtype.type(1.0 - EPSILON)
    p = np.clip(y_pred, lo, hi)
    q = 1 - p                                   # log(1 - p) as Keras writes it
    ell = -(y * np.log(p) + (1 - y) * np.log(q))
    value, scale = _reduce(ell, reduction)
    d_y_pred = (p - y) / (p * q)
    d_y_pred[(y_pred < lo) | (y_pred > hi)] = 0     # the clip's derivative
    d_y_pred *= scale
    return value, d_y_pred


def binary_crossentropy_from_logits(y_true, logits, reduction="mean"):
    """Binary cross-entropy of sigmoid(logits), stable for any logit l.

        ell = max(l, 0) - l y + log(1 + exp(-|l|))
            = -(y log s + (1 - y) log(1 - s)),   s = sigmoid(l)
        d ell / d l = sigmoid(l) - y

    exp only ever sees -|l| <= 0, so nothing overflows at |l| = 1e4 or beyond;
    no clipping, so the gradient never vanishes on a confident wrong answer.

    Shapes: y_true, logits (N, ...). Returns (value, d_logits) as
    binary_crossentropy does.
    """
    owner = "binary_crossentropy_from_logits"
    reduction = check_choice(reduction, "reduction", REDUCTIONS, owner)
    y, logits = _check_pair(y_true, logits, ("y_true", "logits"), owner)
    # exp(-|l|) underflows to 0 for |l| > ~100 (float32) or ~745 (float64), which is
    # exactly right here: log1p(0) = 0. Only that harmless underflow is silenced.
    with np.errstate(under="ignore"):
        ell = np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits)))
    value, scale = _reduce(ell, reduction)
    # expit has no float16 loop (it returns float64); the cast keeps the input's dtype
    d_logits = expit(logits).astype(logits.dtype, copy=False) - y
    d_logits *= scale
    return value, d_logits


def mean_squared_error(y_true, y_pred, reduction="mean"):
    """Mean squared error: ell = (y_pred - y)^2, d ell / d y_pred = 2 (y_pred - y).

    Shapes: y_true, y_pred (N, ...). Returns (value, d_y_pred) as
    binary_crossentropy does.
    """
    owner = "mean_squared_error"
    reduction = check_choice(reduction, "reduction", REDUCTIONS, owner)
    y, y_pred = _check_pair(y_true, y_pred, ("y_true", "y_pred"), owner)
    diff = y_pred - y
    value, scale = _reduce(np.square(diff), reduction)
    diff *= 2 * scale
    return value, diff


def gaussian_kl(mu, log_var, reduction="mean"):
    """KL(N(mu, exp(log_var)) || N(0, I)), summed over latent dims, mean over the batch.

        kl_n = -0.5 sum_j (1 + log_var - mu^2 - exp(log_var))
             =  0.5 sum_j (mu^2 + expm1(log_var) - log_var)     (what is computed)
        d kl / d mu = mu,   d kl / d log_var = 0.5 (exp(log_var) - 1)

    (the "mean" gradients carry a further 1/N). Finite for log_var in
    [-50, 50] in float32 and float64 (exp overflows float32 only past 88).

    Shapes: mu, log_var (N, latent_dim). Returns (value, d_mu, d_log_var):
    value a float, or (N,) with reduction="none"; d_mu, d_log_var like mu.
    Computed in the common dtype of mu and log_var.
    """
    owner = "gaussian_kl"
    reduction = check_choice(reduction, "reduction", REDUCTIONS, owner)
    mu = check_float_array(mu, "mu", owner)
    log_var = check_float_array(log_var, "log_var", owner)
    if mu.shape != log_var.shape:
        raise InputError(f"{owner}: mu and log_var must have the same shape, "
                         f"got mu {mu.shape} and log_var {log_var.shape}")
    if mu.ndim != 2 or mu.size == 0:
        raise InputError(f"{owner}: expected mu and log_var of shape (batch, latent_dim), "
                         f"got {mu.shape}")
    dtype = np.result_type(mu, log_var)
    mu, log_var = mu.astype(dtype, copy=False), log_var.astype(dtype, copy=False)
    kl = _diagonal_gaussian_kl(mu, log_var)
    scale = 1.0 if reduction == "none" else 1.0 / mu.shape[0]
    value = kl if reduction == "none" else float(kl.mean())
    d_mu = mu * scale
    d_log_var = np.expm1(log_var)
    d_log_var *= 0.5 * scale
    return value, d_mu, d_log_var
