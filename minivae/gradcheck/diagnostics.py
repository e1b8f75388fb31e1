"""Hints: patterns in a failing gradient that point at the usual bugs.

Each hint is a (kind, sentence) pair, and is given only where its pattern holds
on the measured values; a hint that does not fit is worse than none. For one
array, comparing the analytic values a with the numerical estimates n:

    layout     a equals n with its axes permuted, or reshaped from such a
               permutation (a transposed layout)
    rotated    a equals n with its first two axes reversed (a kernel not rotated)
    shifted    a equals n moved by a fixed offset on most failing entries: mass
               sent to a neighbouring entry (a padding or stride offset in a scatter)
    ratio      a / n constant over at least two failing entries (0.5: a lost factor
               2; -1: a flipped sign; 1/k: a mean where a sum belongs ...)
    proportional  a - n = c x on every failing entry, x the array's own values
               (a weight decay or L2 term counted twice or left out)
    zero       a = 0 where n is not, on half the failing entries or more (a term
               left out, or mass scattered elsewhere)
    flat       a != 0 where f is flat (n = 0 within its floor), on half the failing
               entries or more (a mask backward forgot: ReLU, max pooling, dropout)
    mask       both at once, on most failing entries: backward's mask differs from
               forward's
    index      every failing entry at one index of an axis, spread along another,
               most entries at that index failing, and entries at other indices
               right (one row: one class of a sampled loss, one item, one channel;
               at the first or last index, a border)
    border     errors only at the first and last index of an axis, most entries
               there failing (padding)
    batch      errors at every axis-0 index but 0, index 0 right (a sum over the
               batch left out: only the first item used)

and across the arrays of one check (cross_hints):

    swapped    the analytic gradient of one input equals the numerical gradient
               of another of the same shape (backward returns them in another
               order than the inputs)

The array-wide patterns (layout, rotated, shifted, swapped) explain every entry,
so where one holds the entry patterns, its consequences, are not given.
"""

from fractions import Fraction
from itertools import permutations, product

import numpy as np

RATIO_SPREAD = 1e-3         # relative spread under which a ratio counts as constant
MIN_RATIO_ENTRIES = 2       # a ratio from one entry says nothing about a pattern
MOST = 0.75                 # "most failing entries", for mask and shifted
HALF = 0.5                  # zero and flat: at least half the failing entries
MAX_SHIFT = 2               # offsets tried per axis by the shifted hint
LARGEST = 200_000           # arrays above this size skip the whole-array patterns


def _ratio_hint(a, n, floor):
    keep = np.abs(n) > floor
    if keep.sum() < MIN_RATIO_ENTRIES:
        return None
    r = a[keep] / n[keep]
    c = float(np.median(r))
    if c == 0:
        return None         # a = 0: the zero and mask hints' case, not a factor
    if not np.all(np.abs(r - c) <= RATIO_SPREAD * max(abs(c), 1e-12)) or abs(c - 1) < 1e-3:
        return None
    where = "every failing entry" if keep.all() else \
        f"{int(keep.sum())} of {len(keep)} failing entries"
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
    if a_full.ndim < 2:
        return None
    for perm in permutations(range(a_full.ndim)):
        if perm == tuple(range(a_full.ndim)):
            continue
        moved = np.transpose(n_full, perm)
        if moved.shape == shape and np.max(np.abs(a_full - moved)) <= tol:
            return "layout", (f"analytic = numerical with its axes in the order {perm}: a "
                              f"transposed layout")
        if np.max(np.abs(a_full.reshape(-1) - moved.reshape(-1))) <= tol:
            return "layout", (f"analytic holds the numerical gradient laid out with axes "
                              f"{perm} {moved.shape}, then reshaped to {shape}: a reshape "
                              f"where a transpose belongs")
    if np.max(np.abs(a_full - n_full[::-1, ::-1])) <= tol:
        return "rotated", ("analytic = numerical with its first two axes reversed: a kernel "
                           "not rotated by 180 degrees (correlation for convolution)")
    return None


def shift(values, offset):
    """values moved by `offset` (out[i + offset] = values[i]), zeros shifted in."""
    out = np.zeros_like(values)
    src, dst = [], []
    for d, size in zip(offset, values.shape):
        src.append(slice(max(0, -d), size - max(0, d)))
        dst.append(slice(max(0, d), size - max(0, -d)))
    out[tuple(dst)] = values[tuple(src)]
    return out


def _shift_hint(a_full, n_full, failing_idx, tol):
    """The offset d with a = shift(n, d) on most failing entries whose source lies
    inside the array (and more than the entries where both are 0), or None."""
    ndim = a_full.ndim
    if ndim > 5 or len(failing_idx) < 2:
        return None
    a_fail = a_full.reshape(-1)[failing_idx]
    ranges = [range(-MAX_SHIFT, MAX_SHIFT + 1) if size > 1 else [0] for size in a_full.shape]
    best = None
    for offset in product(*ranges):
        if not any(offset):
            continue
        moved = shift(n_full, offset).reshape(-1)[failing_idx]
        # Entries whose source lies outside the array took their mass from beyond the
        # border (padding): they cannot be compared, and are not held against the offset.
        inside = shift(np.ones(a_full.shape, bool), offset).reshape(-1)[failing_idx]
        if inside.sum() < max(2, len(failing_idx) // 2):
            continue
        match = (np.abs(a_fail - moved) <= tol) & inside
        useful = match & ((np.abs(a_fail) > tol) | (np.abs(moved) > tol))
        # Where a and the moved n are both 0 the match says nothing: a quarter of the
        # failing entries at least must carry the moved mass.
        if match.sum() >= MOST * inside.sum() and useful.sum() >= max(2, len(failing_idx) // 4):
            score = (match.sum(), -sum(map(abs, offset)))
            if best is None or score > best[0]:
                best = (score, offset, int(match.sum()))
    if best is None:
        return None
    _, offset, matched = best
    moves = ", ".join(f"{d:+d} along axis {axis}" for axis, d in enumerate(offset) if d)
    return "shifted", (f"analytic = numerical moved by {moves} (offset {offset}) on {matched} "
                       f"of {len(failing_idx)} failing entries: the gradient sent to a "
                       f"neighbouring entry (a padding or stride offset where backward "
                       f"scatters)")


def _position_hints(idx, failing, shape, values, floors):
    hints = []
    if not failing.any() or failing.all():
        return hints
    right = (~failing) & (np.abs(values) > 10 * floors)
    def most_fail(axis, indices):
        # The pattern, not a coincidence of a few failures: most entries there fail.
        there = np.isin(idx[:, axis], list(indices))
        return failing[there].sum() >= MOST * there.sum()

    confined = []
    for axis, size in enumerate(shape):
        at = set(idx[failing, axis])
        if size >= 2 and len(at) == 1 and failing.sum() >= 2 and most_fail(axis, at):
            i = at.pop()
            if np.any(right & (idx[:, axis] != i)):
                confined.append((axis, int(i), size))
    spread = [axis for axis in range(len(shape)) if len(set(idx[failing, axis])) >= 2]
    if confined and spread:
        def at(axis, i, size):
            parity = "odd" if size % 2 else "even"
            return (f"the first index of axis {axis} (size {size}, {parity})" if i == 0 else
                    f"the last index of axis {axis} (size {size}, {parity})"
                    if i == size - 1 else f"index {i} of axis {axis} (size {size})")
        edge = any(i in (0, size - 1) for _, i, size in confined)
        hints.append(("index", f"errors only at {' and '.join(at(*c) for c in confined)}, "
                               f"entries elsewhere right: a bug confined to that row (one "
                               f"class of a sampled loss, one item, one channel)"
                               + (", or padding or cropping at the border" if edge else "")))
    confined_axes = {axis for axis, _, _ in confined}
    for axis, size in enumerate(shape):
        if size < 3 or axis in confined_axes or failing.sum() < 2:
            continue
        edge = (idx[:, axis] == 0) | (idx[:, axis] == size - 1)
        if edge[failing].all() and not edge[~failing].all() and \
                most_fail(axis, set(idx[failing, axis])):
            sides = {("first" if v == 0 else "last") for v in idx[failing, axis]}
            parity = "odd" if size % 2 else "even"
            hints.append(("border", f"errors only at the {' and '.join(sorted(sides))} index "
                                    f"of axis {axis} (size {size}, {parity}): padding or "
                                    f"cropping at the border"))
    if len(shape) >= 2 and shape[0] > 1 and 0 not in confined_axes:
        first_right = right & (idx[:, 0] == 0)
        # Every item but the first wrong: one item's failure proves nothing about the sum.
        if (idx[failing, 0] >= 1).all() and set(idx[failing, 0]) == set(range(1, shape[0])) \
                and shape[0] >= 3 and first_right.sum() >= 2:
            hints.append(("batch", "errors only at axis-0 indices >= 1, index 0 right: a sum "
                                   "over the batch left out (or only its first item used)?"))
    return hints


def _proportional_hint(a, n, floor, x):
    """a - n = c x on every failing entry (x: the checked array's own values)."""
    d, keep = a - n, np.abs(x) > 0
    if keep.sum() < MIN_RATIO_ENTRIES or keep.sum() < len(a):
        return None
    c = float(np.median(d[keep] / x[keep]))
    if c == 0 or not np.all(np.abs(d - c * x) <= floor + RATIO_SPREAD * np.abs(d)):
        return None
    return (f"analytic - numerical = {c:.4g} x the array's own values on every failing "
            f"entry: a term proportional to it (a weight decay lam * W, an L2 penalty) "
            f"counted twice, left out, or with the wrong factor")


def _entry_hints(a, n, floor, x=None):
    """ratio, proportional, or zero / flat / mask, on the failing entries."""
    ratio = _ratio_hint(a, n, floor)
    if ratio:
        return [("ratio", ratio)]
    proportional = _proportional_hint(a, n, floor, x) if x is not None else None
    if proportional:
        return [("proportional", proportional)]
    zero = (a == 0) & (np.abs(n) > floor)
    flat = (np.abs(n) <= floor) & (np.abs(a) > floor)
    k = len(a)
    if zero.sum() >= 1 and flat.sum() >= 1 and zero.sum() + flat.sum() >= MOST * k:
        return [("mask", f"analytic is 0 on {int(zero.sum())} failing entries where f "
                         f"changes, and not 0 on {int(flat.sum())} where f is flat: backward "
                         f"masks other entries than forward does (a mask redrawn, or "
                         f"taken of the wrong array)")]
    if zero.sum() >= HALF * k:
        return [("zero", f"analytic is 0 on {int(zero.sum())} of {k} failing entries where "
                         f"the numerical gradient is not: a term or a path left out, or "
                         f"its mass sent to other entries (a stride or an offset where "
                         f"backward scatters)")]
    if flat.sum() >= HALF * k:
        return [("flat", f"analytic is not 0 on {int(flat.sum())} of {k} failing entries "
                         f"where f is flat (numerical 0 within its floor): a mask backward "
                         f"forgot (ReLU's x <= 0, max pooling's other entries, dropout's "
                         f"dropped ones, padding)?")]
    return []


def numerical_full(E, shape):
    """The numerical estimates laid out in `shape` (NaN where not measured)."""
    n_full = np.full(int(np.prod(shape)), np.nan)
    n_full[E.which] = E.value
    return n_full.reshape(shape)


def whole_tolerance(E, a_full):
    return 10 * float(np.max(E.floor)) + 1e-6 * float(np.max(np.abs(a_full)))


def hints(a_full, E, shape, full, x=None):
    """(kind, sentence) hints for one array's Entries E (entries mode); `full`: every
    entry measured; x: the array's values (for the proportional hint)."""
    failing = E.status == "FAIL"
    if not failing.any():
        return []
    if not (np.all(np.isfinite(E.analytic[failing])) and np.all(np.isfinite(E.value[failing]))
            and np.all(np.isfinite(a_full))):
        return []           # a NaN fits no pattern; the report's notes say where it is
    a_full = np.asarray(a_full, dtype=np.float64)
    if full and a_full.size <= LARGEST:
        n_full, tol = numerical_full(E, shape), whole_tolerance(E, a_full)
        whole = _layout_hint(a_full, n_full, tol) or \
            _shift_hint(a_full, n_full, E.which[failing], tol)
        if whole:
            return [whole]
    floor = E.floor[failing]
    idx = np.array([np.unravel_index(i, shape) for i in E.which]).reshape(len(E.which), -1)
    x_fail = None if x is None else np.asarray(x, dtype=np.float64).reshape(-1)[
        E.which[failing]]
    return _entry_hints(E.analytic[failing], E.value[failing], floor, x_fail) + \
        _position_hints(idx, failing, shape, E.value, E.floor)


def cross_hints(arrays):
    """{name: [(kind, sentence)]}: the swapped pattern across one check's arrays.

    arrays: name -> (a_full, n_full or None, tol, failing), n_full None where not
    every entry was measured.
    """
    out = {}
    for name, (a, n, tol, failing) in arrays.items():
        if not failing or n is None:
            continue
        for other, (a2, n2, tol2, _) in arrays.items():
            if other == name or n2 is None or n2.shape != a.shape:
                continue
            if np.max(np.abs(a - n2)) <= max(tol, tol2) and np.max(np.abs(n2)) > 0:
                mutual = np.max(np.abs(a2 - n)) <= max(tol, tol2)
                text = (f"analytic gradient of {name} = numerical gradient of {other}"
                        + (f", and the other way round: backward returns {name}'s and "
                           f"{other}'s gradients swapped" if mutual else
                           f": backward returns its gradients in another order than the "
                           f"inputs"))
                out.setdefault(name, []).append(("swapped", text))
                break
    return out
