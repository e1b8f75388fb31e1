"""Finite differences: the stencils, their noise gains, and numerical_gradient.

Every estimate here is a fixed combination of f at a few points x + s v along one
perturbation v (a unit vector e_i for an entry, a random vector for a direction).
Writing f_k = f(x + k h v) and f_0 = f(x):

    central      c(h) = (f_1 - f_-1) / 2h                      error  h^2 f'''/6
    Richardson   R(h) = (4 c(h) - c(2h)) / 3                   error  O(h^4)
                      = (8 (f_1 - f_-1) - (f_2 - f_-2)) / 12h
    forward      F(h) = (4 f_1 - f_2 - 3 f_0) / 2h             error  h^2 f'''/3
    backward     B(h) = (3 f_0 - 4 f_-1 + f_-2) / 2h           error  h^2 f'''/3
    4th diff.    D4   = f_2 - 4 f_1 + 6 f_0 - 4 f_-1 + f_-2  = 2h (B - F)

For a smooth f, F and B agree to O(h^3), and D4 = h^4 f'''' and c(h) - c(2h) =
-h^2 f'''/2 are rounding alone; a kink within 2h lifts them by the jump in slope.
Each test is blind at one distance: a kink 2h/3 away leaves F = B (D4 = 0) but
moves c(h) by a sixth of the jump; one exactly at x leaves c(h) = c(2h). Together
they see every single kink.

If each f value carries independent rounding noise of standard deviation sigma,
an estimate sum_k w_k f_k / h has noise GAIN * sigma / h with GAIN = |w|_2.
"""

import numpy as np

from .._validation import check_finite
from ..errors import InputError, InputTypeError

GAIN = {"central": np.sqrt(2) / 2, "richardson": np.sqrt(130) / 12,
        "one-sided": np.sqrt(26) / 2, "delta4": np.sqrt(70),
        "central pair": np.sqrt(10) / 4}      # c(h) - c(2h), in sigma / h


def stencil(f, f0, h):
    """Every estimate of the module docstring from f_{+-1}, f_{+-2} and f_0.

    `h` is the half-width (h_1 - h_-1) / 2 actually realized, per perturbation.
    Returns a dict of arrays: central, central2, richardson, forward, backward, delta4.
    """
    d1, d2 = f[1] - f[-1], f[2] - f[-2]
    return {"central": d1 / (2 * h), "central2": d2 / (4 * h),
            "richardson": (8 * d1 - d2) / (12 * h),
            "forward": (4 * f[1] - f[2] - 3 * f0) / (2 * h),
            "backward": (3 * f0 - 4 * f[-1] + f[-2]) / (2 * h),
            "delta4": f[2] - 4 * f[1] + 6 * f0 - 4 * f[-1] + f[-2]}


def one_sided(f, f0, h):
    """(forward, backward) from f at x + k h, k = 1, 2 and -1, -2: NaN where a value
    either uses is not finite (f outside its domain there), so that no NaN or inf can
    leak into a comparison as a number."""
    s = stencil(f, f0, h)
    F = np.where(np.isfinite(f[1]) & np.isfinite(f[2]), s["forward"], np.nan)
    B = np.where(np.isfinite(f[-1]) & np.isfinite(f[-2]), s["backward"], np.nan)
    return F, B


class EntryProbe:
    """f evaluated with one entry of x moved, x restored exactly after every call.

    x must be C-contiguous: it is changed in place through a flat view, so f may
    read it through any other reference (a layer's params["kernel"], say).
    """

    def __init__(self, loss, x):
        self.loss, self.flat = loss, x.reshape(-1)

    def __call__(self, i, s):
        """(f(x + s e_i), the step actually taken: fl(x_i + s) - x_i)."""
        orig = self.flat[i]
        self.flat[i] = orig + s
        realized = self.flat[i] - orig
        try:
            return float(self.loss()), realized
        finally:
            self.flat[i] = orig             # the original bits, not x + s - s


class DirectionProbe:
    """f evaluated at x + s v_j for the rows v_j of `directions` (x restored after)."""

    def __init__(self, loss, x, directions):
        self.loss, self.x, self.x0 = loss, x, x.copy()
        self.directions = directions

    def __call__(self, j, s):
        np.copyto(self.x, self.x0 + s * self.directions[j].reshape(self.x.shape))
        try:
            return float(self.loss()), s
        finally:
            np.copyto(self.x, self.x0)


class GroupProbe:
    """f at x + s v_j, v_j a sign vector on a group of entries: groups[j] (flat indices)
    moved by signs[j] * s, x restored exactly after every call (screen.py)."""

    def __init__(self, loss, x, groups, signs):
        self.loss, self.flat = loss, x.reshape(-1)
        self.groups, self.signs = groups, signs

    def __call__(self, j, s):
        idx = self.groups[j]
        orig = self.flat[idx]
        self.flat[idx] = orig + s * self.signs[j]
        try:
            return float(self.loss()), s
        finally:
            self.flat[idx] = orig


def measure(probe, which, offsets, step):
    """f at x + k * step along each perturbation in `which`, for k in `offsets`.

    Returns ({k: values}, half-width realized) with one value per perturbation.
    """
    which = list(which)
    f = {k: np.empty(len(which)) for k in offsets}
    h = {k: np.empty(len(which)) for k in offsets}
    for n, j in enumerate(which):
        for k in offsets:
            f[k][n], h[k][n] = probe(j, k * step)
    width = (h[1] - h[-1]) / 2 if 1 in offsets else np.full(len(which), step)
    return f, width


def numerical_gradient(f, x, eps=1e-6, indices=None):
    """Central-difference gradient of the scalar f(x) with respect to the array x.

    x is perturbed in place, one entry at a time, and restored exactly, so f may
    read x through another reference (a layer's parameter, say). x must be a
    float64 array of finite values. `indices` (flat positions) limits the work
    to those entries; the others are returned as NaN. This is the bare estimate:
    the checks (check_grad, check_vjp, ...) add the rounding floor, Richardson
    extrapolation and kinks.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise InputTypeError(f"numerical_gradient: x must be a float64 ndarray, got "
                             f"{type(x).__name__} of dtype {getattr(x, 'dtype', None)}; "
                             f"finite differences in float32 are too coarse to check anything")
    check_finite(x, "x", "numerical_gradient")
    if not eps > 0:
        raise InputError(f"numerical_gradient: eps must be > 0, got {eps}")
    if not x.flags.c_contiguous:
        raise InputError("numerical_gradient: x must be C-contiguous so it can be perturbed "
                         "in place")
    which = range(x.size) if indices is None else list(indices)
    values, _ = measure(EntryProbe(lambda: f(x), x), which, (1, -1), eps)
    if not (np.all(np.isfinite(values[1])) and np.all(np.isfinite(values[-1]))):
        raise InputError("numerical_gradient: f returned a non-finite value near x")
    grad = np.full(x.size, np.nan) if indices is not None else np.zeros(x.size)
    grad[list(which)] = (values[1] - values[-1]) / (2 * eps)
    return grad.reshape(x.shape)
