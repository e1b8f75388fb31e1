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
                    within what rounding allows (see the floor column), or some
                    entry could not be measured (f not finite on either side)

An entry counts towards "pass" only when the judge settled it (ok, or a kink)
and its error is a finite number: a NaN compares False to every tolerance, so
"no error above the tolerance" is never taken as agreement. A NaN or inf in the
analytic gradient, anywhere in the array, sampled or not, is a FAIL.
"""

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError

TORCH_ATOL, TORCH_RTOL = 1e-5, 1e-3
WORST_SHOWN = 5
SETTLED = ("ok", "kink")


def relative_error(analytic, numeric):
    """max |a - n| / max(max |a|, max |n|): the metric of this module (0 when both are 0;
    NaN when either holds a NaN or inf, which no tolerance accepts)."""
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise InputError(f"relative_error: shapes differ, {a.shape} vs {n.shape}")
    if a.size == 0:
        return 0.0
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(n))):
        return float("nan")
    scale = max(np.max(np.abs(a)), np.max(np.abs(n)))
    return 0.0 if scale == 0 else float(np.max(np.abs(a - n)) / scale)


@dataclass
class CheckResult:
    """One checked quantity: "x" for a layer's input, an input's or a parameter's name.

    passed is True when the verdict is "pass" or "inconclusive": an inconclusive
    check found no error beyond rounding. torch_passed: whether the central differences pass
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
    domain: int = 0             # entries judged one-sided at the edge of f's domain
    worst_entries: list = field(default_factory=list)
    hints: list = field(default_factory=list)
    hint_kinds: list = field(default_factory=list)  # one per hint (diagnostics.py)
    notes: list = field(default_factory=list)

    @property
    def certified(self):
        """True when the verdict is "pass": agreement to rtol of the scale."""
        return self.verdict == "pass"


def _index(which, shape, mode):
    if mode == "directions":
        return f"direction {int(which) + 1}"
    return tuple(int(i) for i in np.unravel_index(int(which), shape)) if shape else ()


def _reasons(E, a_full, shape, mode):
    """The notes that say why entries could not be compared as usual."""
    notes = []
    bad_a = np.flatnonzero(~np.isfinite(a_full.reshape(-1)))
    if len(bad_a):
        i = int(bad_a[0])
        notes.append(f"analytic gradient not finite at {len(bad_a)} of {a_full.size} entries, "
                     f"first {_index(i, shape, 'entries')}: {a_full.reshape(-1)[i]}; "
                     f"a NaN or inf gradient is wrong wherever f is finite: FAIL")
    domain = np.flatnonzero(E.domain)
    if len(domain):
        r = int(domain[0])
        lost = int(np.sum(E.domain & ~np.isfinite(E.value)))
        notes.append(f"numerical gradient not finite at {_index(E.which[r], shape, mode)}: "
                     f"{E.reason[r]}; the step leaves f's domain, so {len(domain)} "
                     f"{'entry was' if len(domain) == 1 else 'entries were'} judged "
                     f"one-sided (domain) at steps h, h/8 and h/64"
                     + (f"; at {lost} f is not finite on either side even at h/64: "
                        f"unresolved" if lost else ""))
    other = [r for r in range(len(E.which)) if E.reason[r] and not E.domain[r]
             and np.isfinite(E.analytic[r])]
    if other:
        r = other[0]
        notes.append(f"{len(other)} entries, first {_index(E.which[r], shape, mode)}: "
                     f"{E.reason[r]}")
    return notes


def build_result(name, analytic_full, E, rtol, noise_floor, scale, mode="entries", hints=(),
                 nondeterministic=None):
    """A CheckResult from judge.Entries. noise_floor: the central difference's noise,
    absolute; scale: max |a| (entries) or the largest sum |a v| (directions)."""
    a_full = np.asarray(analytic_full, dtype=np.float64)
    shape = a_full.shape
    err = np.abs(E.analytic - E.value)
    finite = np.isfinite(err)
    if finite.any():
        scale = max(scale, float(np.max(np.abs(E.value[finite]))))
    # One NaN error makes the largest error unknown: NaN, never a smaller number.
    abs_err = float(np.max(err)) if finite.all() and len(err) else \
        float("nan") if len(err) else 0.0
    rel = abs_err if not np.isfinite(abs_err) else 0.0 if scale == 0 else abs_err / scale
    a_bad = not np.all(np.isfinite(a_full))
    settled = np.isin(E.status, SETTLED) & finite
    verdict = "FAIL" if np.any(E.status == "FAIL") or nondeterministic or a_bad else \
        "pass" if len(err) and settled.all() else "inconclusive"
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
    notes = _reasons(E, a_full, shape, mode) + list(E.notes)
    pairs = [h if isinstance(h, tuple) else ("", h) for h in hints]
    if nondeterministic:
        # The gradient's two runs differ: a statement about state, not a pattern.
        kind = "accumulates" if "twice the first" in nondeterministic else "state"
        pairs = [(kind, nondeterministic)]
    return CheckResult(name=name, shape=tuple(shape), max_abs_error=abs_err, relative_error=rel,
                       passed=verdict in ("pass", "inconclusive"), torch_passed=torch_ok,
                       rechecked=int(np.sum(E.stage > 1)), verdict=verdict, checked=len(err),
                       size=int(a_full.size), mode=mode,
                       floor=0.0 if scale == 0 else float(noise_floor) / scale,
                       kinks=int(np.sum(E.status == "kink")), domain=int(np.sum(E.domain)),
                       worst_entries=worst,
                       hints=[t for _, t in pairs], hint_kinds=[k for k, _ in pairs],
                       notes=notes)
