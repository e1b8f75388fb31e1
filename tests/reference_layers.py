"""Slow, independent references for the layer tests, and shared hypothesis strategies
and test helpers.

Every reference here is written with plain Python loops over entries and
math.fsum, in float64, and shares no code with minivae: it is a second opinion,
not a restatement. BatchNormalization's reference backward follows the staged
computational graph (through var and mu), not the compact formula the layer uses.
"""

import math

import numpy as np
from hypothesis import strategies as st

from minivae.gradcheck import check_layer
from minivae.layers import Dropout

# -- hypothesis strategies --------------------------------------------------
# Arrays are drawn from a seeded Generator rather than by hypothesis element by
# element: the shapes are what we want explored, and this keeps examples fast.
seeds = st.integers(min_value=0, max_value=2**32 - 1)
batch_sizes = st.integers(min_value=1, max_value=4)
small_dims = st.integers(min_value=1, max_value=5)
image_shapes = st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3))


def away_from_zero(rng, shape, margin=0.05):
    """Normal-ish values with |v| >= margin: ReLU's kink stays far from every
    finite-difference probe (which moves x by 1e-6)."""
    v = rng.standard_normal(shape)
    return np.where(v >= 0, v + margin, v - margin)


FD_STEP = 1e-6          # gradcheck's default central-difference step


def rounding_floor(loss_scale, step=FD_STEP):
    """The absolute error central differences cannot get below, with 10x margin.

    Each loss evaluation is rounded to about u * loss_scale (u = 2.2e-16 in
    float64; loss_scale = the sum of the |terms| of the loss), and the difference
    of two is divided by 2 * step: no numerical gradient entry is better than
    ~u * loss_scale / step in absolute terms.
    """
    return 10 * np.finfo(np.float64).eps * loss_scale / step


def assert_grads_close(report, rtol, loss_scale=None):
    """Every quantity's relative error (gradcheck's metric) at most rtol or, when
    loss_scale is given, its absolute error under rounding_floor(loss_scale).

    The floor matters for random shapes: a gradient that is tiny next to the loss
    (a near-zero weight, a saturated unit, a batch-norm channel of two entries)
    cannot be resolved to rtol of its own scale, however right it is, while a
    wrong backward still errs far above the floor. On failure the report is printed.
    """
    floor = 0.0 if loss_scale is None else rounding_floor(loss_scale)
    bad = [r.name for r in report if not (r.relative_error <= rtol or r.max_abs_error <= floor)]
    assert not bad, f"{bad} fail rtol {rtol:g} (rounding floor {floor:.1e})\n{report}"


def check_layer_close(layer, x, rtol, training=True, seed=0):
    """check_layer with dy drawn from `seed`, asserted with the rounding floor of
    its loss L = sum(y * dy). The layer's forward must be deterministic."""
    y = layer.forward(x, training=training)
    dy = np.random.default_rng(seed).standard_normal(y.shape)
    report = check_layer(layer, x, dy=dy, training=training)
    assert_grads_close(report, rtol, loss_scale=float(np.sum(np.abs(y * dy))))
    return report


# -- Dense ------------------------------------------------------------------
def dense_forward(x, W, b):
    """y[n, j] = sum_k x[n, k] W[k, j] + b[j], one entry at a time."""
    n_batch, d_in = x.shape
    d_out = W.shape[1]
    y = np.empty((n_batch, d_out))
    for n in range(n_batch):
        for j in range(d_out):
            y[n, j] = math.fsum(float(x[n, k]) * float(W[k, j]) for k in range(d_in)) + b[j]
    return y


def dense_backward(x, W, dy):
    """(dx, dW, db) by the index form of the chain rule."""
    n_batch, d_in = x.shape
    d_out = W.shape[1]
    dx, dW, db = np.empty_like(x, dtype=float), np.empty(W.shape), np.empty(d_out)
    for n in range(n_batch):
        for k in range(d_in):
            dx[n, k] = math.fsum(float(dy[n, j]) * float(W[k, j]) for j in range(d_out))
    for k in range(d_in):
        for j in range(d_out):
            dW[k, j] = math.fsum(float(x[n, k]) * float(dy[n, j]) for n in range(n_batch))
    for j in range(d_out):
        db[j] = math.fsum(float(dy[n, j]) for n in range(n_batch))
    return dx, dW, db


# -- elementwise activations --------------------------------------------------
def elementwise(f, *arrays):
    """Apply the scalar function f entry by entry (arrays of one shape)."""
    out = np.empty(arrays[0].shape)
    for idx in np.ndindex(arrays[0].shape):
        out[idx] = f(*(float(a[idx]) for a in arrays))
    return out


def relu(v):
    return v if v > 0 else 0.0


def relu_grad(v, g):
    return g if v > 0 else 0.0


def leaky_relu(v, slope):
    return v if v > 0 else slope * v


def leaky_relu_grad(v, g, slope):
    return g if v > 0 else slope * g


def sigmoid(v):
    # Two branches so neither exponent can overflow.
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


def sigmoid_grad(v, g):
    # sigma'(v) = e^{-|v|} / (1 + e^{-|v|})^2, symmetric in v: a different route
    # from the layer's y * (1 - y).
    e = math.exp(-abs(v))
    return g * e / (1.0 + e) ** 2


# -- Flatten / Reshape ----------------------------------------------------------
def flatten(x):
    """Each sample's entries listed in row-major order."""
    return np.array([[float(x[n][idx]) for idx in np.ndindex(x.shape[1:])]
                     for n in range(x.shape[0])])


def reshape(x, target_shape):
    """Fill (N, *target_shape) in row-major order from each sample's row-major entries."""
    flat = flatten(x)
    y = np.empty((x.shape[0],) + tuple(target_shape))
    for n in range(x.shape[0]):
        for i, idx in enumerate(np.ndindex(tuple(target_shape))):
            y[n][idx] = flat[n, i]
    return y


# -- Dropout ----------------------------------------------------------------
class FixedMaskDropout(Dropout):
    """Dropout whose Generator is reset to `mask_seed` before every forward, so all
    the finite-difference probes see one mask: a deterministic function of x."""

    def __init__(self, rate, mask_seed=7, name=None):
        super().__init__(rate, name=name)
        self.mask_seed = mask_seed

    def forward(self, x, training=True):
        self.rng = np.random.default_rng(self.mask_seed)
        return super().forward(x, training=training)


def dropout(x, kept, rate):
    """y = x / (1 - rate) where kept, else 0."""
    return elementwise(lambda v, k: v / (1.0 - rate) if k else 0.0, x, kept)


# -- BatchNormalization -------------------------------------------------------
def _channel_entries(x, c):
    return [idx + (c,) for idx in np.ndindex(x.shape[:-1])]


def batchnorm_forward(x, gamma, beta, epsilon, mean=None, var=None):
    """y and the per-channel statistics used. With mean/var None, the batch's own
    (biased variance, two passes with fsum); otherwise the given moving ones."""
    y = np.empty(x.shape)
    channels = x.shape[-1]
    mu_used, var_used = np.empty(channels), np.empty(channels)
    for c in range(channels):
        entries = _channel_entries(x, c)
        m = len(entries)
        if mean is None:
            mu = math.fsum(float(x[i]) for i in entries) / m
            v = math.fsum((float(x[i]) - mu) ** 2 for i in entries) / m
        else:
            mu, v = float(mean[c]), float(var[c])
        s = math.sqrt(v + epsilon)
        for i in entries:
            y[i] = gamma[c] * (float(x[i]) - mu) / s + beta[c]
        mu_used[c], var_used[c] = mu, v
    return y, mu_used, var_used


def batchnorm_backward_training(x, gamma, epsilon, dy):
    """(dx, dgamma, dbeta) by back-propagating through the graph
    x -> mu -> xc = x - mu -> var -> s = sqrt(var + eps) -> xhat = xc / s -> y."""
    dx = np.empty(x.shape)
    channels = x.shape[-1]
    dgamma, dbeta = np.empty(channels), np.empty(channels)
    for c in range(channels):
        entries = _channel_entries(x, c)
        m = len(entries)
        mu = math.fsum(float(x[i]) for i in entries) / m
        xc = {i: float(x[i]) - mu for i in entries}
        var = math.fsum(v * v for v in xc.values()) / m
        s = math.sqrt(var + epsilon)
        dxhat = {i: float(dy[i]) * gamma[c] for i in entries}
        dvar = math.fsum(dxhat[i] * xc[i] for i in entries) * -0.5 * s ** -3
        dmu = -math.fsum(dxhat.values()) / s + dvar * math.fsum(-2.0 * v for v in xc.values()) / m
        for i in entries:
            dx[i] = dxhat[i] / s + dvar * 2.0 * xc[i] / m + dmu / m
        dgamma[c] = math.fsum(float(dy[i]) * xc[i] / s for i in entries)
        dbeta[c] = math.fsum(float(dy[i]) for i in entries)
    return dx, dgamma, dbeta


def batchnorm_backward_inference(x, gamma, epsilon, mean, var, dy):
    """(dx, dgamma, dbeta) when mu, var are constants: y is affine in x."""
    dx = np.empty(x.shape)
    channels = x.shape[-1]
    dgamma, dbeta = np.empty(channels), np.empty(channels)
    for c in range(channels):
        entries = _channel_entries(x, c)
        s = math.sqrt(float(var[c]) + epsilon)
        for i in entries:
            dx[i] = float(dy[i]) * gamma[c] / s
        dgamma[c] = math.fsum(float(dy[i]) * (float(x[i]) - mean[c]) / s for i in entries)
        dbeta[c] = math.fsum(float(dy[i]) for i in entries)
    return dx, dgamma, dbeta


# -- Sampling -----------------------------------------------------------------
def sampling_forward(z_mean, z_log_var, eps):
    return elementwise(lambda mu, lv, e: mu + math.exp(lv / 2.0) * e, z_mean, z_log_var, eps)


def sampling_backward(z_log_var, eps, dz):
    """(d_z_mean, d_z_log_var): dz/dmu = 1, dz/dlog_var = exp(log_var / 2) * eps / 2."""
    d_z_mean = elementwise(lambda g: g, dz)
    d_z_log_var = elementwise(lambda lv, e, g: g * math.exp(lv / 2.0) * e / 2.0,
                              z_log_var, eps, dz)
    return d_z_mean, d_z_log_var
