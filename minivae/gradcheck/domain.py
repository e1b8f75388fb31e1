"""The edge of f's domain: entries whose finite differences step outside it.

sqrt and log at 1e-7 with the step h = 1e-6: f(x - h) is NaN (or -inf), the
central difference is NaN, and a NaN compares False to every tolerance, so a
check that only asks "is the error above the floor?" passes whatever the
gradient says. Here such an entry (f finite at x, not finite at some of x +- h,
x +- 2h) is judged one-sided on the side where f is finite, like a kink
(judge.py), at h and at the kinks' smaller steps h/8 and h/64, which also keep
the step inside the domain where the edge is closer than h.

A one-sided value F(s) = (4 f_1 - f_2 - 3 f_0) / 2s (or B(s)) has error C s^2,
which shrinks 64-fold from h/8 to h/64; its truncation bound at h/64 is taken as
twice its change over that step, 2 |F(h/8) - F(h/64)|, which is 126 times that
error where the error has settled into C s^2, and still bounds it whenever the
error shrinks by a third or more over the step without changing sign. Near the
edge the curvature is large (sqrt's f''' grows as x^-5/2), so the bound is too:
a right gradient is seldom certified there, and comes back inconclusive. An entry

    FAILs        when no side with a bound agrees with a within noise + bound +
                 rtol |n|, some side has a bound, and no side without one (f
                 finite only at h/64) sits apart from it (a kink at x as well);
    is ok        when a side agrees and both the disagreement and the bound are
                 within rtol * scale;
    unresolved   otherwise, and where f is not finite on either side even at
                 h/64: no finite difference fits inside the domain there.

Each entry keeps its reason ("f is nan at x - h and x - 2h") for the report.
"""

import numpy as np

from .differences import GAIN, measure, one_sided

POINTS = {1: "x + h", -1: "x - h", 2: "x + 2h", -2: "x - 2h"}


def outside(values, n):
    """Where f was not finite around entry n: 'f is nan at x - h and x - 2h'."""
    by_value = {}
    for k in (1, -1, 2, -2):
        v = values[k][n]
        if not np.isfinite(v):
            by_value.setdefault(str(v), []).append(POINTS[k])
    return "; ".join(f"f is {v} at {' and '.join(at)}" for v, at in by_value.items())


def judge_domain(judge, E, rows, vals, h, scale, ref_floor, rho, divisors):
    """Verdicts for E's `rows`, where f is not finite at some of x +- h, x +- 2h.

    judge: the judge.Judge running the check (probe, f0, step, rtol, floors);
    vals: f at x + k h, k = +-1, +-2, for those rows; divisors: the smaller steps.
    """
    E.domain[rows] = True
    E.reason[rows] = [outside(vals, n) for n in range(len(rows))]
    a = E.analytic[rows]
    F, B = one_sided(vals, judge.f0, h)
    for divisor in divisors:
        f, hs = measure(judge.probe, E.which[rows], (1, -1, 2, -2), judge.step / divisor)
        F_prev, B_prev, (F, B) = F, B, one_sided(f, judge.f0, hs)
    E.stage[rows] = 3
    noise = judge.noise_floor(GAIN["one-sided"], hs) + rho[rows]
    ref = ref_floor[rows]
    # Each side's value at the smallest step and its bound (NaN: none, a value missing).
    n = {1: F, -1: B}
    t = {1: 2 * np.abs(F_prev - F), -1: 2 * np.abs(B_prev - B)}
    bounded = {k: np.isfinite(n[k]) & np.isfinite(t[k]) for k in n}
    allow = {k: noise + t[k] + judge.relative(n[k], ref) for k in n}
    match = {k: bounded[k] & (np.abs(a - n[k]) <= allow[k]) for k in n}
    # A side measured without a bound could be a different slope (a kink at x), unless
    # it lies within the bounded side's allowance: then it only confirms that side.
    apart = np.zeros(len(rows), bool)
    for k in n:
        unbounded = np.isfinite(n[k]) & ~bounded[k]
        apart |= unbounded & bounded[-k] & ~(np.abs(n[k] - n[-k]) <= allow[-k])
    # Along a direction many kinks can cross at once: there, as at kinks, no FAIL.
    fail = ~match[1] & ~match[-1] & (bounded[1] | bounded[-1]) & ~apart & \
        judge.kinks_can_fail
    side = np.where(match[1], 1, np.where(match[-1], -1, np.where(
        bounded[1], 1, np.where(bounded[-1], -1, np.where(np.isfinite(F), 1, -1)))))
    value = np.where(side == 1, F, B)
    bound = np.where(side == 1, t[1], t[-1])
    certified = (match[1] | match[-1]) & (np.abs(a - value) <= judge.rtol * scale[rows]) \
        & (bound <= judge.rtol * scale[rows])
    E.status[rows] = np.where(fail, "FAIL", np.where(certified, "ok", "unresolved"))
    E.value[rows], E.forward[rows], E.backward[rows] = value, F, B
    E.floor[rows] = noise + bound
    word = np.where(side == 1, "forward", "backward")
    E.method[rows] = [f"{w}, one-sided (domain), step {judge.step / divisors[-1]:.1e}"
                      if np.isfinite(v) else "none: f not finite on either side"
                      for w, v in zip(word, value)]
