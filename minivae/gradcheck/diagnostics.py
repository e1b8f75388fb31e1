"""Hints: patterns in a failing gradient that point at the usual bugs.

Each hint compares the analytic values a with the numerical estimates n:

- a constant ratio a / n on the failing entries (0.5: a lost factor 2; 2: a term
  counted twice; -1: a flipped sign; 1/k or k: a mean where a sum belongs, or
  the reverse, over k items);
- a = 0 where n is not (a term or a path left out);
- a equal to n with its axes permuted or its first two axes reversed (a
  transposed or reshaped layout; a kernel not rotated by 180 degrees);
- errors confined to the first or last row or column of an axis (padding,
  cropping), naming odd sizes, where stride 2 'same' padding is asymmetric;
- errors confined to axis-0 indices >= 1 (the batch: a sum over it left out).
"""

from fractions import Fraction
from itertools import permutations

import numpy as np

RATIO_SPREAD = 1e-3         # relative spread under which a ratio counts as constant


def _ratio_hint(a, n):
    keep = np.abs(n) > 0
    if keep.sum() < 1:
        return None
    r = a[keep] / n[keep]
    c = float(np.median(r))
    if not np.all(np.abs(r - c) <= RATIO_SPREAD * max(abs(c), 1e-12)) or abs(c - 1) < 1e-3:
        return None
    where = "every failing entry" if keep.sum() > 1 else "the failing entry"
    text = f"analytic = {c:.6g} x numerical on {where}"
    frac = Fraction(c).limit_denominator(1024)
    if abs(float(frac) - c) <= 1e-4 * abs(c) and frac != 0:
        if frac == -1:
            return text + ": a flipped sign"
        if frac == Fraction(1, 2):
            return text + ": a factor 2 lost (the 2 of a square, the 0.5 of 0.5 * log_var)"
        if frac == 2:
            return text + ": a term counted twice, or a 0.5 left out"
        if frac.numerator == 1 and frac.denominator > 2:
            return text + (f" (1/{frac.denominator}): a mean over {frac.denominator} items "
                           f"where a sum belongs?")
        if frac.denominator == 1 and frac.numerator > 2:
            return text + f": a sum over {frac.numerator} items where a mean belongs?"
        if frac < 0:
            return text + ": a flipped sign, and a wrong factor"
    return text


def _layout_hint(a_full, n_full, tol):
    shape = a_full.shape
    if a_full.ndim < 2 or a_full.size > 200_000:
        return None
    for perm in permutations(range(a_full.ndim)):
        if perm == tuple(range(a_full.ndim)):
            continue
        moved = np.transpose(n_full, perm)
        if moved.shape == shape and np.max(np.abs(a_full - moved)) <= tol:
            return (f"analytic = numerical with its axes in the order {perm}: a transposed "
                    f"layout")
        if np.max(np.abs(a_full.reshape(-1) - moved.reshape(-1))) <= tol:
            return (f"analytic holds the numerical gradient laid out with axes {perm} "
                    f"{moved.shape}, then reshaped to {shape}: a reshape where a transpose "
                    f"belongs")
    if np.max(np.abs(a_full - n_full[::-1, ::-1])) <= tol:
        return ("analytic = numerical with its first two axes reversed: a kernel not "
                "rotated by 180 degrees (correlation for convolution)")
    return None


def _position_hints(index, failing, shape, values, floors):
    hints = []
    idx = np.array([np.unravel_index(i, shape) for i in index])        # (k, ndim)
    if not failing.any() or failing.all():
        return hints
    for axis, size in enumerate(shape):
        if size < 3:
            continue
        edge = (idx[:, axis] == 0) | (idx[:, axis] == size - 1)
        if edge[failing].all() and not edge[~failing].all():
            sides = {("first" if v == 0 else "last") for v in idx[failing, axis]}
            parity = "odd" if size % 2 else "even"
            hints.append(f"errors only at the {' and '.join(sorted(sides))} index of axis "
                         f"{axis} (size {size}, {parity}): padding or cropping at the border")
    if len(shape) >= 2 and shape[0] > 1:
        first_right = (~failing) & (idx[:, 0] == 0) & (np.abs(values) > 10 * floors)
        if (idx[failing, 0] >= 1).all() and len(set(idx[failing, 0])) >= 2 and \
                first_right.sum() >= 2:
            hints.append("errors only at axis-0 indices >= 1, index 0 right: a sum over the "
                         "batch left out (or only its first item used)?")
    return hints


def hints(a_full, E, shape, full):
    """Hints for one array's Entries E (entries mode); `full`: every entry measured."""
    failing = E.status == "FAIL"
    if not failing.any():
        return []
    if not (np.all(np.isfinite(E.analytic[failing])) and np.all(np.isfinite(E.value[failing]))
            and np.all(np.isfinite(a_full))):
        return []           # a NaN fits no pattern; the report's notes say where it is
    a, n = E.analytic[failing], E.value[failing]
    out = []
    ratio = _ratio_hint(a, n)
    if ratio:
        out.append(ratio)
    zero = (a == 0) & (np.abs(n) > E.floor[failing])
    if zero.any() and ratio is None:
        out.append(f"analytic is 0 on {int(zero.sum())} failing entries where the numerical "
                   f"gradient is not: a term or a path left out")
    if full:
        n_full = np.empty(int(np.prod(shape)))
        n_full[E.which] = E.value
        tol = 10 * float(np.max(E.floor)) + 1e-6 * float(np.max(np.abs(a_full)))
        layout = _layout_hint(np.asarray(a_full, dtype=np.float64), n_full.reshape(shape), tol)
        if layout:
            out.append(layout)
    out += _position_hints(E.which, failing, shape, E.value, E.floor)
    return out
