"""The engine under every check: one scalar loss, the arrays it reads, their gradients.

    run_check(loss, analytic, arrays, magnitude, unit, step, rtol, ...)

loss() reads the float64 arrays in `arrays`, which the check perturbs in place
and restores exactly; analytic() returns the hand-written gradient of loss with
respect to each of them. The order of work:

1. analytic() and loss() twice each at the unperturbed point (determinism.py);
2. the rounding noise sigma of loss (noise.py);
3. per array, through judge.py's stages: every entry, or above `max_entries`
   (default DEFAULT_MAX_ENTRIES; None: every entry) that many drawn from rng, plus
   the entries that group tests of the rest single out (screen.py), plus every
   entry whose analytic value is not finite; or `directions` random directions v
   with analytic derivative <a, v>;
4. verdicts, worst entries and hints (result.py, diagnostics.py).
"""

import numpy as np

from ..errors import InputError, InputTypeError
from .determinism import GlobalWatch, differences
from .diagnostics import cross_hints, hints, numerical_full, whole_tolerance
from .differences import GAIN, DirectionProbe, EntryProbe
from .judge import ANALYTIC_ROUNDING, Z, Judge
from .noise import noise_level
from .report import GradCheckReport
from .result import CheckResult, build_result
from .screen import budget, screen

# Entries checked per array unless the caller says otherwise (None: all). An entry costs
# 2 evaluations of f, up to about 16 where judge.py's later stages run, so the sample
# bounds a check at 2,000 to 16,000 evaluations per array and the screen of the rest at
# 1,000 more, whatever the size: a million entries of sqrt take under a minute, not the
# half hour of checking them all. Every array of the planted-bug corpus
# (benchmarks/_planted_bugs.py) but the MSE rows, and the book's first kernel
# (3 x 3 x 1 x 32), are smaller, so they are still checked whole; in larger arrays the
# screen finds a single wrong entry the sample missed (screen.py).
DEFAULT_MAX_ENTRIES = 1000


def sample(size, max_entries, rng):
    """Flat indices to check: all, or max_entries drawn without replacement (sorted)."""
    if max_entries is None or size <= max_entries:
        return np.arange(size)
    return np.sort(rng.choice(size, size=max_entries, replace=False))


def _sampling_note(name, size, max_entries, sampled, rest, found, tests, finished):
    note = (f"{name}: checked {sampled + len(found):,} of {size:,} entries, sampled: "
            f"{sampled:,} drawn at random (max_entries={max_entries}; max_entries=None "
            f"checks every entry) and {len(found)} singled out by {tests} group "
            f"test{'' if tests == 1 else 's'} of the other {rest:,} (screen.py)")
    if not finished:
        note += ("; the screen's budget ran out before it had narrowed every disagreeing "
                 "group down (disagreement in many places, which the sample sees, or kinks)")
    return note


def _copies(grads):
    return {k: None if v is None else np.array(v, copy=True) for k, v in grads.items()}


def validate_grads(grads, arrays, owner):
    missing = set(arrays) - set(grads)
    if missing:
        raise InputError(f"{owner}: no analytic gradient for {sorted(missing)}; got gradients "
                         f"for {sorted(grads)}")
    for name, value in arrays.items():
        g = grads[name]
        if g is None:
            raise InputError(f"{owner}: no gradient for {name!r} after backward: it must fill "
                             f"grads[{name!r}] (the Layer protocol, minivae.gradcheck.layers)")
        if not isinstance(g, np.ndarray) or g.shape != value.shape:
            raise InputError(f"{owner}: gradient of {name!r} has shape {np.shape(g)}, the "
                             f"array {value.shape}" + _shape_cause(np.shape(g), value.shape))
        if g.dtype.kind != "f":
            raise InputTypeError(f"{owner}: the gradient of {name!r} has dtype {g.dtype}; it "
                                 f"must be real floating point (a bool, integer or complex "
                                 f"array is not the derivative of a real loss)")
        # Non-finite entries are not refused here: they FAIL, entry by entry (result.py).


def _shape_cause(got, want):
    """Why a gradient could come back with an extra leading axis: a cache of inputs."""
    if len(got) == len(want) + 1 and tuple(got[1:]) == tuple(want):
        return (f": one gradient per input cached since the last backward ({got[0]} of "
                f"them)? A layer that appends each forward's input to a list and "
                f"differentiates them all sees every call of the check; check_layer puts "
                f"the layer's own attributes back before each forward, state kept elsewhere "
                f"(a global, a closure, another object) it cannot")
    return ""


def _criterion(sigma, how, step, rtol):
    return (f"criterion: an entry FAILs when |a - n| > floor + rtol |n|, floor = {Z:g} x the "
            f"rounding noise of the estimate n + its truncation + the analytic gradient's "
            f"rounding; it passes when every |a - n| <= rtol * max|a|; otherwise the check "
            f"is inconclusive. rtol {rtol:g}, step {step:g}, rounding noise of f: "
            f"{sigma:.2e} ({how})")


def run_check(loss, analytic, arrays, *, magnitude, unit, step, rtol,
              max_entries=DEFAULT_MAX_ENTRIES, directions=0, rng=None, notes=(), owner="check",
              check_analytic_twice=True, remedy="", seeded=False):
    """A GradCheckReport for `arrays` (name -> C-contiguous float64, perturbed in place).
    remedy: how to fix noise in f, for this kind of check (determinism.differences);
    seeded: numpy's global state is re-seeded before every call (global_seed), so its
    moving says nothing."""
    rng = rng if rng is not None else np.random.default_rng(0)
    for name, value in arrays.items():
        if value.size == 0:
            raise InputError(f"{owner}: {name} is empty (shape {value.shape}): there is "
                             f"nothing to check")
    g1 = _copies(analytic())
    validate_grads(g1, arrays, owner)
    watch = GlobalWatch(loss)
    f1 = float(watch())
    if not np.isfinite(f1):
        raise InputError(f"{owner}: the loss is not finite at the given point ({f1}): there "
                         f"is no derivative to check there (is x inside f's domain?)")
    g2 = _copies(analytic()) if check_analytic_twice else g1
    f2 = float(watch())
    F = float(magnitude() if callable(magnitude) else magnitude)
    moved = watch.moved and not seeded
    f_note, g_notes = differences(f1, f2, g1, g2, F, unit, remedy, moved)
    report = GradCheckReport(notes=notes, settings={"step": step, "rtol": rtol})
    if f_note:
        report.notes.append(f_note)
        for name, value in arrays.items():
            kind = "global-rng" if moved else "nondeterministic"
            report.append(CheckResult(name, value.shape, np.nan, np.nan, False, False,
                                      verdict="FAIL", size=value.size, hints=[f_note],
                                      hint_kinds=[kind]))
        report.criterion = "criterion: f must give one value at one input"
        return report
    sigma, how = noise_level(loss, arrays, f1, F, unit, rng)
    judge = Judge(None, f1, sigma, step, rtol)
    if not np.isfinite(sigma):
        report.notes.append("the rounding noise of f could not be measured (f is not finite "
                            "within 1e-12 of x along random directions): every floor is "
                            "infinite, so nothing can FAIL, only agree to rtol")
    whole = {}              # name -> (a, n or None, tol, failing), for cross_hints
    for name, x in arrays.items():
        a = g1[name].astype(np.float64)
        u_a = np.finfo(g1[name].dtype).eps
        finite = np.isfinite(a.reshape(-1))
        a_finite = np.where(finite, a.reshape(-1), 0.0)      # for scales and the screen
        if directions:
            V = rng.standard_normal((directions, x.size))
            judge.probe, judge.kinks_can_fail = DirectionProbe(loss, x, V), False
            A = V @ a.reshape(-1)
            scale = np.abs(V) @ np.abs(a_finite)
            which = np.arange(directions)
            E = judge.run(which, A, scale, scale, ANALYTIC_ROUNDING * u_a * scale)
            noise = Z * GAIN["central"] * sigma / step
            result = build_result(name, a, E, rtol, noise, float(np.max(scale, initial=0)),
                                  mode="directions", nondeterministic=g_notes.get(name))
        else:
            which = sample(x.size, max_entries, rng)
            scale = float(np.max(np.abs(a_finite)))
            if len(which) < x.size:
                rest = np.setdiff1d(np.arange(x.size), which)
                found, tests, finished = screen(loss, x, f1, a_finite, rest, sigma, step, u_a,
                                                rng, budget(len(which)), rtol * scale)
                report.notes.append(_sampling_note(name, x.size, max_entries, len(which),
                                                   len(rest), found, tests, finished))
                which = np.union1d(which, found)
            # A non-finite analytic entry is checked (and FAILs) even when not sampled.
            which = np.union1d(which, np.flatnonzero(~finite))
            judge.probe, judge.kinks_can_fail = EntryProbe(loss, x), True
            k = len(which)
            rho = np.full(k, ANALYTIC_ROUNDING * u_a * scale)
            E = judge.run(which, a.reshape(-1)[which], np.full(k, scale), np.zeros(k), rho)
            noise = Z * GAIN["central"] * sigma / step
            full = k == x.size
            result = build_result(name, a, E, rtol, noise, scale,
                                  hints=hints(a, E, a.shape, full=full, x=x),
                                  nondeterministic=g_notes.get(name))
            if np.all(np.isfinite(a)) and np.all(np.isfinite(E.value)):
                whole[name] = (a, numerical_full(E, a.shape) if full else None,
                               whole_tolerance(E, a), result.verdict == "FAIL")
        report.append(result)
    for name, found in cross_hints(whole).items():
        # Swapped outputs explain every entry: the array's own patterns are consequences.
        report[name].hints, report[name].hint_kinds = [t for _, t in found], \
            [k for k, _ in found]
    report.criterion = _criterion(sigma, how, step, rtol)
    report.settings.update(sigma=sigma, noise=how)
    return report
