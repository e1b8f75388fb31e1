"""One checked quantity's result: its numbers, its verdict and its worst entries.

relative_error is the metric minivae has always reported,

    max_i |a_i - n_i| / max(max_i |a_i|, max_i |n_i|)

over the checked entries, against the scale of the whole analytic gradient: it
catches a small relative error in a large entry. The verdict adds the entrywise
test of judge.py, which catches errors confined to small entries, and the
rounding floor, which tells a disagreement rounding explains from one it does not:

    "pass"          every entry within rtol of the scale, none beyond its floor
    "FAIL"          some entry beyond its floor + rtol |n| (or f or the gradient
                    changed between two identical calls: determinism.py)
    "inconclusive"  no FAIL, but some disagreement above rtol * scale lies
                    within what rounding allows (see the floor column)
"""

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError

TORCH_ATOL, TORCH_RTOL = 1e-5, 1e-3
WORST_SHOWN = 5


def relative_error(analytic, numeric):
    """max |a - n| / max(max |a|, max |n|): the metric of this module (0 when both are 0)."""
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise InputError(f"relative_error: shapes differ, {a.shape} vs {n.shape}")
    if a.size == 0:
        return 0.0
    scale = max(np.max(np.abs(a)), np.max(np.abs(n)))
    return 0.0 if scale == 0 else float(np.max(np.abs(a - n)) / scale)


@dataclass
class CheckResult:
    """One checked quantity: "x" for a layer's input, an input's or a parameter's name.

    passed is True unless the verdict is "FAIL": an inconclusive check found no
    error beyond rounding. torch_passed: whether the central differences pass
    torch.autograd.gradcheck's test |a - n| <= 1e-5 + 1e-3 |n| (reported, never used).
    """
    name: str
    shape: tuple
    max_abs_error: float
    relative_error: float
    passed: bool
    torch_passed: bool
    rechecked: int = 0          # entries measured beyond the central difference
    verdict: str = "pass"
    checked: int = 0            # entries (or directions) measured
    size: int = 0               # entries in the array
    mode: str = "entries"       # or "directions"
    floor: float = 0.0          # the central difference's rounding floor / scale
    kinks: int = 0              # entries found at a kink (and passed one-sided)
    worst_entries: list = field(default_factory=list)
    hints: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def certified(self):
        """True when the verdict is "pass": agreement to rtol of the scale."""
        return self.verdict == "pass"


def _index(which, shape, mode):
    if mode == "directions":
        return f"direction {int(which) + 1}"
    return tuple(int(i) for i in np.unravel_index(int(which), shape)) if shape else ()


def build_result(name, analytic_full, E, rtol, noise_floor, scale, mode="entries", hints=(),
                 nondeterministic=None):
    """A CheckResult from judge.Entries. noise_floor: the central difference's noise,
    absolute; scale: max |a| (entries) or the largest sum |a v| (directions)."""
    a_full = np.asarray(analytic_full, dtype=np.float64)
    shape = a_full.shape
    err = np.abs(E.analytic - E.value)
    if len(err):
        scale = max(scale, float(np.max(np.abs(E.value))))
    abs_err = float(np.max(err)) if len(err) else 0.0
    rel = 0.0 if scale == 0 else abs_err / scale
    statuses = set(E.status) if len(err) else set()
    verdict = "FAIL" if "FAIL" in statuses or nondeterministic else \
        "inconclusive" if "unresolved" in statuses else "pass"
    torch_ok = bool(np.all(np.abs(E.analytic - E.central)
                           <= TORCH_ATOL + TORCH_RTOL * np.abs(E.central)))
    worst = []
    if verdict != "pass" and len(err):
        # Failing entries first, then unresolved ones, each by size of error.
        rank = np.where(E.status == "FAIL", 0, np.where(E.status == "unresolved", 1, 2))
        for r in np.lexsort((-err, rank))[:WORST_SHOWN]:
            if E.status[r] in ("ok", "kink") and verdict == "FAIL":
                continue
            worst.append({"index": _index(E.which[r], shape, mode),
                          "analytic": float(E.analytic[r]),
                          "central": float(E.central[r]), "forward": float(E.forward[r]),
                          "backward": float(E.backward[r]), "estimate": float(E.value[r]),
                          "method": str(E.method[r]), "error": float(err[r]),
                          "floor": float(E.floor[r]), "status": str(E.status[r])})
    notes = list(E.notes)
    if nondeterministic:
        notes.insert(0, nondeterministic)
    return CheckResult(name=name, shape=tuple(shape), max_abs_error=abs_err, relative_error=rel,
                       passed=verdict != "FAIL", torch_passed=torch_ok,
                       rechecked=int(np.sum(E.stage > 1)), verdict=verdict, checked=len(err),
                       size=int(a_full.size), mode=mode,
                       floor=0.0 if scale == 0 else float(noise_floor) / scale,
                       kinks=int(np.sum(E.status == "kink")), worst_entries=worst,
                       hints=list(hints), notes=notes)
