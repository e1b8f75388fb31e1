"""Numerical gradients by central differences, and the checks built on them.

The error metric (docs/gradcheck.md). For an analytic gradient a and a
numerical one n of the same quantity,

    relative_error(a, n) = max_i |a_i - n_i| / max(max_i |a_i|, max_i |n_i|)

the largest entrywise error measured against the gradient's own scale (0 when
both are zero). When only some entries are checked (max_entries), the scale is
still that of the whole analytic gradient. Unlike the entrywise |a_i - n_i| / (|a_i| + |n_i|) it does not
explode on entries that are zero up to rounding. A quantity passes when
relative_error <= rtol. Each result also records whether it would pass
torch.autograd.gradcheck's entrywise test |a_i - n_i| <= 1e-5 + 1e-3 |n_i|
(`torch_passed`), the usual anchor; that test is far looser (it accepts a
gradient 0.01% off), so it is reported, never used to pass.

Tolerances. In float64 with eps = 1e-6 the central difference has truncation
error O(eps^2 f''') ~ 1e-12 and rounding error ~ 1e-16 |f| / eps ~ 1e-10 |f|;
smooth layers land near 1e-9 relative error, so the default rtol = 1e-6 leaves
three orders of margin while a wrong backward (typically error ~ 1) fails.
Piecewise-linear layers (ReLU, LeakyReLU) are exact away from their kink; an
entry closer to a kink than eps gets one-sided differences as well (_measure).
"""

from dataclasses import dataclass

import numpy as np

from ._validation import check_finite

TORCH_ATOL, TORCH_RTOL = 1e-5, 1e-3


def numerical_gradient(f, x, eps=1e-6, indices=None):
    """Central-difference gradient of the scalar f(x) with respect to the array x.

    x is perturbed in place, one entry at a time, and restored exactly, so f may
    read x through another reference (a layer's parameter, say). x must be a
    float64 array of finite values. `indices` (flat positions) limits the work
    to those entries; the others are returned as NaN.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(f"numerical_gradient: x must be a float64 ndarray, got "
                        f"{type(x).__name__} of dtype {getattr(x, 'dtype', None)}; "
                        f"finite differences in float32 are too coarse to check anything")
    check_finite(x, "x", "numerical_gradient")
    if not eps > 0:
        raise ValueError(f"numerical_gradient: eps must be > 0, got {eps}")
    if not x.flags.c_contiguous:
        raise ValueError("numerical_gradient: x must be C-contiguous so it can be perturbed "
                         "in place")
    flat = x.reshape(-1)
    grad = np.full(x.shape, np.nan) if indices is not None else np.zeros(x.shape)
    gflat = grad.reshape(-1)
    for i in (range(flat.size) if indices is None else indices):
        orig = flat[i]
        flat[i] = orig + eps
        f_plus = float(f(x))
        flat[i] = orig - eps
        f_minus = float(f(x))
        flat[i] = orig
        gflat[i] = (f_plus - f_minus) / (2 * eps)
    if not np.all(np.isfinite(gflat if indices is None else gflat[list(indices)])):
        raise ValueError("numerical_gradient: f returned a non-finite value near x")
    return grad


def relative_error(analytic, numeric):
    """max |a - n| / max(max |a|, max |n|): the metric described in the module docstring."""
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"relative_error: shapes differ, {a.shape} vs {n.shape}")
    if a.size == 0:
        return 0.0
    scale = max(np.max(np.abs(a)), np.max(np.abs(n)))
    return 0.0 if scale == 0 else float(np.max(np.abs(a - n)) / scale)


@dataclass
class CheckResult:
    """One checked quantity: "x" for the input, or a parameter's name."""
    name: str
    shape: tuple
    max_abs_error: float
    relative_error: float
    passed: bool
    torch_passed: bool
    rechecked: int = 0      # entries measured again one-sided (see _measure)


class GradCheckReport(list):
    """A list of CheckResult with `passed` and a printable table."""

    @property
    def passed(self):
        return all(r.passed for r in self)

    def __getitem__(self, key):
        if isinstance(key, str):
            for r in self:
                if r.name == key:
                    return r
            raise KeyError(key)
        return super().__getitem__(key)

    def worst(self):
        return max((r.relative_error for r in self), default=0.0)

    def __str__(self):
        lines = [f"{'quantity':<32} {'shape':<20} {'max abs err':>12} {'rel err':>10}  result"]
        for r in self:
            note = f" ({r.rechecked} rechecked one-sided)" if r.rechecked else ""
            lines.append(f"{r.name:<32} {str(r.shape):<20} {r.max_abs_error:>12.2e} "
                         f"{r.relative_error:>10.2e}  {'ok' if r.passed else 'FAIL'}{note}")
        return "\n".join(lines)


def _compare(name, analytic, numeric, rtol, mask=None):
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    # On sampled entries the scale is still the whole analytic gradient's: a handful
    # of near-zero entries must not turn rounding noise into a large relative error.
    full_scale = np.max(np.abs(a)) if a.size else 0.0
    if mask is not None:
        a, n = a.reshape(-1)[mask], n.reshape(-1)[mask]
    abs_err = float(np.max(np.abs(a - n))) if a.size else 0.0
    scale = max(full_scale, np.max(np.abs(n)) if n.size else 0.0)
    rel = 0.0 if scale == 0 else abs_err / scale
    torch_ok = bool(np.all(np.abs(a - n) <= TORCH_ATOL + TORCH_RTOL * np.abs(n)))
    return CheckResult(name, tuple(np.shape(analytic)), abs_err, rel, rel <= rtol, torch_ok)


def _one_sided(f, x, eps, indices):
    """Forward and backward differences (f(x+h) - f(x)) / h and (f(x) - f(x-h)) / h."""
    flat = x.reshape(-1)
    f0 = float(f(x))
    forward, backward = np.empty(len(indices)), np.empty(len(indices))
    for k, i in enumerate(indices):
        orig = flat[i]
        flat[i] = orig + eps
        forward[k] = (float(f(x)) - f0) / eps
        flat[i] = orig - eps
        backward[k] = (f0 - float(f(x))) / eps
        flat[i] = orig
    return forward, backward


def _measure(name, value, analytic, f, eps, rtol, idx):
    """Numerical gradient of one array and its CheckResult, with a second look at kinks.

    A ReLU pre-activation closer to its kink than eps makes the central difference
    straddle two slopes, so a correct gradient fails at that entry (a bias moves every
    pre-activation of its channel, so this is common). Entries that fail are measured
    again by one-sided differences: with one kink in (x - eps, x + eps), one side stays
    on the slope the analytic gradient uses. Each entry keeps whichever of the three
    estimates is closest to the analytic value. For a smooth function all three agree
    to O(eps), so a wrong formula still fails. Only isolated failures (at most a tenth
    of the entries checked) are re-measured: many failing entries are a wrong
    gradient, not kinks.
    """
    numeric = numerical_gradient(f, value, eps, indices=idx)
    result = _compare(name, analytic, numeric, rtol, idx)
    if result.passed:
        return result
    checked = np.arange(value.size) if idx is None else np.asarray(idx)
    a, n = np.asarray(analytic, dtype=np.float64).reshape(-1), numeric.reshape(-1)
    scale = max(np.max(np.abs(a)), np.max(np.abs(n[checked])))
    bad = checked[np.abs(a[checked] - n[checked]) > rtol * scale]
    if len(bad) > max(1, len(checked) // 10):
        return result
    for side in _one_sided(f, value, eps, bad):
        closer = np.abs(a[bad] - side) < np.abs(a[bad] - n[bad])
        n[bad[closer]] = side[closer]
    result = _compare(name, analytic, numeric, rtol, idx)
    result.rechecked = len(bad)
    return result


def _sample(size, max_entries, rng):
    if max_entries is None or size <= max_entries:
        return None
    return np.sort(rng.choice(size, size=max_entries, replace=False))


def check_gradients(loss, params, grads, eps=1e-6, rtol=1e-6, max_entries=None, rng=None):
    """Compare analytic `grads` with central differences of `loss()`.

    loss:   a callable with no arguments returning the scalar loss at the current
            values of the arrays in `params`.
    params: dict name -> float64 array, perturbed in place.
    grads:  dict name -> analytic gradient, same keys and shapes.
    max_entries: check at most this many randomly chosen entries per array
            (from `rng`), for models too large to check every entry.
    """
    missing = set(params) - set(grads)
    if missing:
        raise ValueError(f"check_gradients: no analytic gradient for {sorted(missing)}")
    rng = rng if rng is not None else np.random.default_rng(0)
    report = GradCheckReport()
    for name, value in params.items():
        if np.shape(grads[name]) != value.shape:
            raise ValueError(f"check_gradients: gradient of {name!r} has shape "
                             f"{np.shape(grads[name])}, the parameter {value.shape}")
        idx = _sample(value.size, max_entries, rng)
        report.append(_measure(name, value, grads[name], lambda _: loss(), eps, rtol, idx))
    return report


def check_layer(layer, x, dy=None, eps=1e-6, rtol=1e-6, training=True, max_entries=None,
                rng=None):
    """Gradient check of one layer (or a Sequential) at input x, in float64.

    The scalar checked is L = sum(forward(x) * dy) with dy fixed (random normal
    from `rng` unless given), so dL/dy = dy exercises every output. Returns a
    GradCheckReport with "x" and every parameter. The layer must be built and
    float64 (call `layer.astype("float64")`); x must be float64 and finite.
    """
    if layer.dtype != np.float64:
        raise TypeError(f"check_layer: {layer} computes in {layer.dtype}; gradient checks need "
                        f"float64 (call layer.astype('float64'))")
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(f"check_layer: x must be a float64 ndarray, got "
                        f"{getattr(x, 'dtype', type(x).__name__)}")
    check_finite(x, "x", "check_layer")
    rng = rng if rng is not None else np.random.default_rng(0)
    x = x.copy()
    y = layer.forward(x, training=training)
    if dy is None:
        dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    analytic = {"x": dx, **{k: v.copy() for k, v in layer.grads.items()}}

    def loss():
        return float(np.sum(layer.forward(x, training=training) * dy))

    report = GradCheckReport()
    idx = _sample(x.size, max_entries, rng)
    report.append(_measure("x", x, analytic["x"], lambda _: loss(), eps, rtol, idx))
    report.extend(check_gradients(loss, layer.params, analytic, eps, rtol, max_entries, rng))
    return report


def check_model(model, x, eps=None, step=1e-6, rtol=1e-6, max_entries=None, rng=None):
    """Whole-model gradient check of `model.forward_backward(x, eps)["total_loss"]`.

    Works with any object offering forward_backward(x, eps=...) -> dict with
    "total_loss", named_params() and named_grads() (minivae's VAE and
    Autoencoder). eps fixes the VAE's sampling noise so the loss is a
    deterministic function of the parameters; `step` is the finite-difference
    step. The model must compute in float64. Returns a GradCheckReport.
    """
    if model.dtype != np.float64:
        raise TypeError(f"check_model: the model computes in {model.dtype}; gradient checks "
                        f"need float64 (build it with dtype='float64' or call astype)")
    model.forward_backward(x, eps=eps)
    analytic = {k: v.copy() for k, v in model.named_grads().items()}

    def loss():
        return model.forward_backward(x, eps=eps)["total_loss"]

    return check_gradients(loss, model.named_params(), analytic, step, rtol, max_entries, rng)
