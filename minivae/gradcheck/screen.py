"""Screening the entries a sample leaves out: group tests along random sign vectors.

When an array has more entries than max_entries, the sampled entries are judged
one by one, and a bug confined to one entry of the rest would be found only by
luck (with probability max_entries / size). So the rest are screened. For a
group S of entries and random signs v_i = +-1 on S, the analytic directional
derivative <a, v> is compared with Richardson's estimate along v, four
evaluations of f whatever |S| is. One entry off by delta moves that difference
by |delta|, so an error an entry check would see beyond its floor shows in the
group too, unless others cancel it, which random signs make improbable. A group
that disagrees beyond its floor

    Z * GAIN * sigma / h  +  0.1 |c(h) - c(2h)|  +  256 u_a sum|a_i|  +  2 u sum|a_i| |x_i| / h

(noise, Richardson's truncation, the analytic rounding, and the rounding of
x_i + h, which moves each entry by h(1 + u |x_i| / h)) is split in halves and
each half tested, down to single entries, which join the sample and are judged
as usual: the screen only chooses entries, it never gives a verdict. A non-finite
f (the edge of its domain) or a kink along v flags a group as well, which costs
tests but changes no verdict.

The step is the check's h, or 32 h, or 1024 h (never beyond judge.LARGEST_STEP),
the first at which the noise floor resolves rtol * max|a|, as stage 3 of the
judge does for single entries: a loss summed over a million terms is too noisy
at h to show a 1e-4 error in one entry, and not at 1024 h.

One wrong entry among N costs 2 log2 N tests. A budget bounds the work where many
groups disagree (an error everywhere, which the sample already sees; many kinks).
"""

import numpy as np

from .differences import GAIN, GroupProbe, measure, stencil
from .judge import ANALYTIC_ROUNDING, LARGER_STEPS, LARGEST_STEP, TRUNCATION_SHARE, Z

TESTS_PER_SAMPLED = 0.25    # tests per sampled entry: at most half the sample's work


def budget(sampled):
    """Group tests allowed for a sample of `sampled` entries (4 evaluations each)."""
    return max(1, int(sampled * TESTS_PER_SAMPLED))


def screen_step(sigma, step, resolve):
    """h, 32 h or 1024 h: the first whose noise floor is within `resolve`."""
    for factor in (1.0, *LARGER_STEPS):
        if factor * step > LARGEST_STEP:
            break
        chosen = factor * step
        if Z * GAIN["richardson"] * sigma / chosen <= resolve:
            break
    return chosen


def screen(loss, x, f0, a, rest, sigma, step, u_a, rng, tests, resolve):
    """(flat indices among `rest` that group tests single out, tests run, finished).

    f0: f at x; a: the analytic gradient, flat float64; rest: flat indices not sampled;
    resolve: the error to resolve (rtol * max|a|); finished is False when the budget
    `tests` ran out before every flagged group was split down to single entries.
    """
    u = float(np.finfo(np.float64).eps)
    step = screen_step(sigma, step, resolve)
    flat = x.reshape(-1)
    level, found, run = [np.asarray(rest)], [], 0
    while level:
        if run + len(level) > tests:
            return np.array(found, dtype=np.int64), run, False
        signs = [rng.choice((-1.0, 1.0), size=len(g)) for g in level]
        f, _ = measure(GroupProbe(loss, x, level, signs), range(len(level)), (1, -1, 2, -2),
                       step)
        s = stencil(f, f0, step)
        run += len(level)
        A = np.array([a[g] @ v for g, v in zip(level, signs)])
        size = np.array([np.sum(np.abs(a[g])) for g in level])
        moved = np.array([np.sum(np.abs(a[g]) * np.abs(flat[g])) for g in level])
        floor = (Z * GAIN["richardson"] * sigma / step
                 + TRUNCATION_SHARE * np.abs(s["central"] - s["central2"])
                 + ANALYTIC_ROUNDING * u_a * size + 2 * u * moved / step)
        # NaN (f outside its domain along v) flags the group: it is then looked at closely.
        flagged = ~(np.abs(A - s["richardson"]) <= floor)
        nxt = []
        for g, flag in zip(level, flagged):
            if not flag:
                continue
            if len(g) == 1:
                found.append(int(g[0]))
            else:
                nxt += [g[:len(g) // 2], g[len(g) // 2:]]
        level = nxt
    return np.array(sorted(found), dtype=np.int64), run, True
