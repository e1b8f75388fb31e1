"""Each entry's verdict, from as few evaluations of f as it takes.

An entry (or a random direction) with analytic derivative a is measured in up to
three stages. Every estimate n carries a floor, what rounding and truncation
allow it to differ from the true derivative:

    floor = Z * GAIN * sigma / h  +  truncation  +  256 u_a * scale

(sigma: noise of f, noise.py; GAIN: the stencil's, differences.py; u_a: unit
roundoff of the analytic gradient's dtype; scale: the array's max |a|.) With
e = |a - n|, an entry is

    FAIL        if e > floor + rtol * |n|   (beyond what rounding allows, entrywise)
    ok          if not, and e <= rtol * scale (certified against the array's scale)
    unresolved  otherwise: e exceeds rtol * scale but not the floor.

1. Central difference at h (2 evaluations). Most entries end here as ok.
2. An entry beyond the floor gets f(x +- 2h): Richardson extrapolation where f is
   smooth within 2h (the fourth difference and c(h) - c(2h) both at rounding
   level: each alone is blind to a kink at one distance), and one-sided
   differences where it shows a kink. At a kink, a matches one side ("kink", ok), or the one-sided
   differences are re-measured at h/8 and h/64 (two kinks within 2h); a FAIL needs
   one-sided values that stay put across those steps and match neither side.
3. An unresolved entry of a smooth f is measured again at H = 32 h, then at
   H = 1024 h, where the noise is that much lower: Richardson at H and at 0.6 H.
   It becomes ok if it agrees to rtol * scale, FAIL only if both disagree beyond
   their floors and their spread while f is smooth at both steps: fourth
   differences at rounding level, which many kinks within H (ReLU inputs near 0)
   would lift far above it.

Non-finite values. A NaN compares False to everything, so no verdict here rests
on a comparison that a NaN could make False: each stage first sorts its entries
by np.isfinite. An entry whose analytic value is NaN or inf FAILs at once. An
entry where f is not finite at some of x +- h, x +- 2h (f is finite at x: the
step leaves f's domain, sqrt or log near 0) is judged one-sided, like a kink, at
the kinks' smaller steps (domain.py).
"""

from dataclasses import dataclass, field

import numpy as np

from .differences import GAIN, measure, one_sided, stencil
from .domain import judge_domain

Z = 10.0                    # margin, in standard deviations of the rounding noise
ANALYTIC_ROUNDING = 256     # the analytic gradient's own rounding, in u_a * scale
TRUNCATION_SHARE = 0.1      # Richardson's truncation bound, as a share of |c(h) - c(2h)|
SMALLER_STEPS = (8, 64)     # one-sided re-measures at h/8, h/64 (two kinks within 2h)
LARGER_STEPS, SECOND_SCALE = (32.0, 1024.0), 0.6
LARGEST_STEP = 1e-2         # beyond it a step measures the function's shape, not its slope
MAX_ESCALATED = None        # stage-3 entries per array, the worst first (None: all)


@dataclass
class Entries:
    """The measured perturbations of one array, entries or directions."""
    which: np.ndarray                   # flat indices, or direction numbers
    analytic: np.ndarray
    central: np.ndarray                 # c(h), torch's estimate
    value: np.ndarray = None            # the estimate each verdict rests on
    floor: np.ndarray = None
    method: np.ndarray = None
    forward: np.ndarray = None          # one-sided values where measured, else NaN
    backward: np.ndarray = None
    status: np.ndarray = None           # ok, kink, FAIL, unresolved
    kink: np.ndarray = None
    stage: np.ndarray = None            # the last stage that measured the entry
    domain: np.ndarray = None           # judged one-sided: f not finite near x (_domain)
    reason: np.ndarray = None           # why an entry could not be measured as usual
    notes: list = field(default_factory=list)

    def __post_init__(self):
        k = len(self.which)
        if self.domain is None:
            self.domain = np.zeros(k, bool)
        if self.reason is None:
            self.reason = np.full(k, "", dtype=object)


class Judge:
    """Runs the stages for one array. probe(j, s) -> (f(x + s v_j), realized s).

    scale, ref_floor, rho: per perturbation (arrays of the same length as which):
    the certification scale, a lower bound of the rtol reference |n| (the sum
    |a_i v_i| for a direction), and the analytic rounding allowance.
    """

    def __init__(self, probe, f0, sigma, step, rtol, max_escalated=MAX_ESCALATED):
        self.probe, self.f0, self.sigma = probe, f0, sigma
        self.step, self.rtol, self.max_escalated = step, rtol, max_escalated
        # Along a direction many kinks can cross at once (every exact zero of a ReLU
        # input), from both sides: then the gradient need match neither one-sided
        # derivative, and a kink never makes a direction FAIL.
        self.kinks_can_fail = True

    def noise_floor(self, gain, h):
        return Z * gain * self.sigma / np.abs(h)

    def relative(self, n, ref_floor):
        """rtol times |n|, or times the reference floor where |n| is below it."""
        return self.rtol * np.maximum(np.abs(n), ref_floor)

    def _verdicts(self, e, floor, n, scale, ref_floor):
        bad = e > floor + self.relative(n, ref_floor)
        loose = e > self.rtol * scale
        return bad, loose

    def run(self, which, analytic, scale, ref_floor, rho):
        which = np.asarray(which)
        k = len(which)
        f, h = measure(self.probe, which, (1, -1), self.step)
        c1 = (f[1] - f[-1]) / (2 * h)
        E = Entries(which, analytic, c1, value=c1.copy(), floor=self.noise_floor(GAIN["central"], h)
                    + rho, method=np.full(k, "central", dtype=object),
                    forward=np.full(k, np.nan), backward=np.full(k, np.nan),
                    status=np.full(k, "ok", dtype=object), kink=np.zeros(k, bool),
                    stage=np.ones(k, int))
        # Only finite values are compared (module docstring); the rest are routed.
        a_finite = np.isfinite(analytic)
        inside = np.isfinite(f[1]) & np.isfinite(f[-1])
        bad, loose = self._verdicts(np.abs(analytic - c1), E.floor, c1, scale, ref_floor)
        bad, loose = bad & a_finite & inside, loose & a_finite & inside
        E.status[loose & ~bad] = "unresolved"
        E.status[~a_finite], E.method[~a_finite] = "FAIL", "analytic gradient not finite"
        E.reason[~a_finite] = [f"the analytic gradient is {v}" for v in analytic[~a_finite]]
        again = bad | (a_finite & ~inside)
        if again.any():
            self._stage2(E, np.flatnonzero(again), f, h, scale, ref_floor, rho)
        smooth_loose = np.flatnonzero((E.status == "unresolved") & ~E.kink & ~E.domain)
        if len(smooth_loose):
            self._stage3(E, smooth_loose, scale, ref_floor, rho)
        return E

    # -- stage 2: Richardson, or one-sided at a kink ---------------------------
    def _stage2(self, E, rows, f, h, scale, ref_floor, rho):
        f2, _ = measure(self.probe, E.which[rows], (2, -2), self.step)
        vals = {1: f[1][rows], -1: f[-1][rows], 2: f2[2], -2: f2[-2]}
        E.stage[rows] = 2
        inside = np.all([np.isfinite(v) for v in vals.values()], axis=0)
        if not inside.all():
            judge_domain(self, E, rows[~inside], {k: v[~inside] for k, v in vals.items()},
                         h[rows[~inside]], scale, ref_floor, rho, SMALLER_STEPS)
            rows, vals = rows[inside], {k: v[inside] for k, v in vals.items()}
            if not len(rows):
                return
        s = stencil(vals, self.f0, h[rows])
        a = E.analytic[rows]
        E.forward[rows], E.backward[rows] = s["forward"], s["backward"]
        # Two kink tests, since each is blind at one distance: D4 misses a kink 2h/3
        # away (there F = B), c(h) - c(2h) one exactly at x (where D4 does not).
        kink = (np.abs(s["delta4"]) > Z * GAIN["delta4"] * self.sigma) | \
            (np.abs(s["central"] - s["central2"]) > self.noise_floor(GAIN["central pair"], h[rows]))
        E.kink[rows] = kink
        # Smooth within 2h: Richardson, with a truncation bound from c(h) - c(2h).
        smooth = rows[~kink]
        n = s["richardson"][~kink]
        floor = (self.noise_floor(GAIN["richardson"], h[smooth]) + rho[smooth]
                 + TRUNCATION_SHARE * np.abs(s["central"] - s["central2"])[~kink])
        E.value[smooth], E.floor[smooth], E.method[smooth] = n, floor, "richardson"
        bad, loose = self._verdicts(np.abs(a[~kink] - n), floor, n, scale[smooth],
                                    ref_floor[smooth])
        # A Richardson value that overflowed (f near the largest float) settles nothing.
        E.status[smooth] = np.where(bad, "FAIL", np.where(loose | ~np.isfinite(n), "unresolved",
                                                          "ok"))
        kinked = rows[kink]
        if len(kinked):
            self._kinks(E, kinked, s["forward"][kink], s["backward"][kink], h[kinked],
                        scale, ref_floor, rho)

    def _match(self, a, F, B, floor, ref_floor):
        """Which one-sided value a agrees with (+1 forward, -1 backward, 0 neither).
        A NaN side (f not finite there) matches nothing."""
        okF = np.isfinite(F) & (np.abs(a - F) <= floor + self.relative(F, ref_floor))
        okB = np.isfinite(B) & (np.abs(a - B) <= floor + self.relative(B, ref_floor))
        closerF = np.abs(a - F) <= np.abs(a - B)
        return np.where(okF & (closerF | ~okB), 1, np.where(okB, -1, 0))

    def _kinks(self, E, rows, F, B, h, scale, ref_floor, rho):
        a = E.analytic[rows]
        floor = self.noise_floor(GAIN["one-sided"], h) + rho[rows]
        side = self._match(a, F, B, floor, ref_floor[rows])
        F_first, B_first, stable = F.copy(), B.copy(), np.ones(len(rows), bool)
        for divisor in SMALLER_STEPS:
            todo = side == 0
            if not todo.any():
                break
            f, hs = measure(self.probe, E.which[rows[todo]], (1, -1, 2, -2),
                            self.step / divisor)
            Fd, Bd = one_sided(f, self.f0, hs)
            E.stage[rows[todo]] = 3
            fl = self.noise_floor(GAIN["one-sided"], hs) + rho[rows[todo]]
            # A value that is not finite at the smaller step counts as moved.
            moved = ~(np.abs(Fd - F_first[todo]) <= fl) | ~(np.abs(Bd - B_first[todo]) <= fl)
            stable[todo] &= ~moved
            F[todo], B[todo], floor[todo] = Fd, Bd, fl
            side[todo] = self._match(a[todo], Fd, Bd, fl, ref_floor[rows[todo]])
        E.forward[rows], E.backward[rows], E.floor[rows] = F, B, floor
        n = np.where(side == -1, B, F)
        E.value[rows] = n
        E.method[rows] = np.where(side == -1, "backward", "forward")
        found = side != 0
        loose = np.abs(a - n) > self.rtol * scale[rows]
        E.status[rows] = np.where(found, np.where(loose, "unresolved", "kink"),
                                  np.where(stable & self.kinks_can_fail, "FAIL", "unresolved"))
        if (~found & ~stable).any():
            E.notes.append(f"{int(np.sum(~found & ~stable))} entries sit among several kinks "
                           f"within the step: no one-sided difference settled")

    # -- stage 3: larger steps where rounding hides the answer ---------------
    def _stage3(self, E, rows, scale, ref_floor, rho):
        e = np.abs(E.analytic[rows] - E.value[rows])
        order = np.argsort(-(e / np.maximum(E.floor[rows], 1e-300)))
        rows = rows[order[:self.max_escalated]] if self.max_escalated else rows[order]
        for factor in LARGER_STEPS:
            rows = rows[E.status[rows] == "unresolved"]
            if len(rows) and factor * self.step <= LARGEST_STEP:
                self._larger_step(E, rows, factor * self.step, scale, ref_floor, rho)

    def _larger_step(self, E, rows, H, scale, ref_floor, rho):
        # Central first: to certify agreement no truncation bound is needed (truncation
        # cannot make a wrong gradient agree), and a smooth f usually agrees here.
        f1, h1 = measure(self.probe, E.which[rows], (1, -1), H)
        c = (f1[1] - f1[-1]) / (2 * h1)
        E.stage[rows] = 4
        agree = np.isfinite(c) & (np.abs(E.analytic[rows] - c) <= self.rtol * scale[rows])
        done = rows[agree]
        E.value[done], E.status[done] = c[agree], "ok"
        E.method[done] = f"central, step {H:.0e}"
        E.floor[done] = self.noise_floor(GAIN["central"], h1[agree]) + rho[done]
        rows, f1, h1 = rows[~agree], {k: v[~agree] for k, v in f1.items()}, h1[~agree]
        if not len(rows):
            return
        f2, _ = measure(self.probe, E.which[rows], (2, -2), H)
        sH = stencil({**f1, **f2}, self.f0, h1)
        hH = h1
        a, n = E.analytic[rows], sH["richardson"]
        allow = self.noise_floor(GAIN["richardson"], hH) + rho[rows] \
            + self.relative(n, ref_floor[rows])
        ok = np.isfinite(n) & (np.abs(a - n) <= np.minimum(self.rtol * scale[rows], allow))
        done = rows[ok]
        E.value[done], E.method[done], E.status[done] = n[ok], f"richardson, step {H:.0e}", "ok"
        E.floor[done] = self.noise_floor(GAIN["richardson"], hH[ok]) + rho[done]
        rest, keep = rows[~ok], ~ok
        if not len(rest):
            return
        E.method[rest] = np.where(E.status[rest] == "unresolved",
                                  [f"{m}; step {H:.0e} disagrees" for m in E.method[rest]],
                                  E.method[rest])
        f2, hH2 = measure(self.probe, E.which[rest], (1, -1, 2, -2), SECOND_SCALE * H)
        s2 = stencil(f2, self.f0, hH2)
        n1, n2, a = sH["richardson"][keep], s2["richardson"], E.analytic[rest]
        e1 = np.abs(a - n1)
        floor = (self.noise_floor(GAIN["richardson"], hH2) + rho[rest] + 2 * np.abs(n1 - n2)
                 + self.relative(n1, ref_floor[rest]))
        # A FAIL needs f smooth at both steps: a fourth difference at rounding level.
        # Many kinks within H (a ReLU network's pre-activations crossing 0) bend f like
        # curvature, which Richardson at two scales would not notice.
        flat = Z * GAIN["delta4"] * self.sigma
        smooth = (np.abs(sH["delta4"][keep]) <= flat) & (np.abs(s2["delta4"]) <= flat)
        fail = (e1 > floor) & (np.abs(a - n2) > floor) & smooth & np.isfinite(n1 + n2)
        left = ~np.isfinite(n1 + n2)
        if left.any():
            E.reason[rest[left]] = f"f is not finite within {H:.0e}: left unresolved"
        bad = rest[fail]
        E.value[bad], E.floor[bad] = n1[fail], (floor - self.rtol * np.abs(n1))[fail]
        E.method[bad], E.status[bad] = f"richardson, step {H:.0e}", "FAIL"
