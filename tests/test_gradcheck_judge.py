"""gradcheck.judge: each entry's verdict, stage by stage, on functions whose right
answers are known exactly."""

import numpy as np

from minivae.gradcheck.differences import EntryProbe
from minivae.gradcheck.judge import Judge

U = np.finfo(np.float64).eps


def judge_entries(f, x, analytic, rtol=1e-6, sigma=None, step=1e-6):
    """Run the stages on every entry of x; sigma defaults to u * |f(x)|."""
    f0 = float(f(x))
    sigma = U * max(abs(f0), 1.0) if sigma is None else sigma
    judge = Judge(EntryProbe(lambda: f(x), x), f0, sigma, step, rtol)
    k = x.size
    scale = float(np.max(np.abs(analytic)))
    return judge.run(np.arange(k), analytic.reshape(-1), np.full(k, scale), np.zeros(k),
                     np.full(k, 256 * U * scale))


def test_a_smooth_right_gradient_ends_at_stage_one(rng):
    x = rng.standard_normal(8)
    E = judge_entries(lambda v: np.sum(np.sin(v)), x, np.cos(x))
    assert list(E.status) == ["ok"] * 8 and (E.stage == 1).all()


def test_relu_with_several_exact_zeros_is_a_kink_not_a_failure():
    x = np.array([0.0, 0.0, 1.5, -0.3, 0.0])
    E = judge_entries(lambda v: np.sum(np.maximum(v, 0) * np.arange(1, 6)), x,
                      (x > 0) * np.arange(1.0, 6.0))
    # Every zero is a kink whose left slope (0) the analytic value takes.
    assert list(E.status) == ["kink", "kink", "ok", "ok", "kink"]
    assert E.kink.sum() == 3 and list(E.method[E.kink]) == ["backward"] * 3


def test_a_wrong_gradient_at_a_kink_fails_and_says_so():
    # relu'(0) taken as 2: neither one-sided slope (1 or 0), stable at every step.
    x = np.array([0.0, 1.0])
    E = judge_entries(lambda v: np.sum(np.maximum(v, 0)), x, np.array([2.0, 1.0]))
    assert E.status[0] == "FAIL" and E.kink[0]


def test_two_kinks_inside_the_step_are_resolved_at_a_smaller_step():
    # |v - 3e-7| + |v + 4e-7| at v = 0 has kinks 3e-7 and 4e-7 away on both sides,
    # inside 2h = 2e-6: only the re-measure at h/8 (2.5e-7 one-sided reach) sees one
    # smooth piece; there the slope is 0.
    x = np.array([0.0])
    f = lambda v: float(np.abs(v[0] - 3e-7) + np.abs(v[0] + 4e-7))   # noqa: E731
    E = judge_entries(f, x, np.array([0.0]))
    assert E.status[0] == "kink" and E.stage[0] == 3


def test_an_error_in_a_small_entry_beside_large_ones_fails(rng):
    # Gradient entries 1e3 and 1e-4: an error of 1e-5 is 1e-8 of the scale (below rtol
    # 1e-6: the scale-relative metric sees nothing) but 10% of its own entry, 40 times
    # the floor (f ~ 150, so 10 * 0.71 * u * 150 / 1e-6 ~ 2.4e-7).
    w = np.array([0.3, 0.7])
    f = lambda v: 1e3 / 0.6 * v[0] ** 2 + 1e-4 * v[1]     # noqa: E731
    right = np.array([1e3, 1e-4])
    assert list(judge_entries(f, w.copy(), right).status) == ["ok", "ok"]
    E = judge_entries(f, w.copy(), right * np.array([1, 1.1]))
    assert list(E.status) == ["ok", "FAIL"]


def test_a_disagreement_within_the_floor_is_resolved_at_a_larger_step(rng):
    # A loud f (sigma 1e-9, planted): at h = 1e-6 the central difference errs by ~1e-3,
    # above rtol * scale but within the floor; at 32 h the noise is 32 times lower.
    x = rng.standard_normal(5)
    phase = np.arange(1, 6)

    def f(v):
        noise = 1e-9 * np.sqrt(12) * ((np.sin(1e9 * np.sum(v * phase)) * 1e4) % 1.0 - 0.5)
        return float(np.sum(v ** 2) + noise)
    E = judge_entries(f, x, 2 * x, rtol=1e-4, sigma=1e-9)
    assert (E.status == "ok").all() and (E.stage == 4).sum() >= 3
    # The same noise and a gradient 1% off: the larger steps prove it wrong.
    E = judge_entries(f, x, 2 * x * 1.01, rtol=1e-4, sigma=1e-9)
    assert (E.status == "FAIL").all()


def test_loud_noise_that_no_step_beats_stays_unresolved(rng):
    # sigma 1e-4 with rtol 1e-6: even at 1024 h the floor is far above rtol * scale.
    x = rng.standard_normal(3)
    E = judge_entries(lambda v: float(np.sum(v ** 2)), x, 2 * x, sigma=1e-4)
    assert (E.status != "FAIL").all()


def test_many_kinks_within_the_larger_steps_never_make_a_failure():
    # A ReLU layer's worth of kinks 1e-5 to 1e-3 from the point, none within 2h: the
    # larger steps cross dozens of them, which bends f like curvature. Loud noise
    # (sigma 1e-11) keeps stage 1 above rtol * scale, so stage 3 runs. Without the
    # smoothness test of stage 3, 8 of 20 such functions FAIL; ten are checked here.
    for seed in range(10):
        r = np.random.default_rng(seed)
        d = r.uniform(1e-5, 1e-3, 200) * r.choice([-1, 1], 200)
        c = r.uniform(0.5, 1.5, 200)
        x = np.array([0.0])

        def f(v):
            noise = 1e-11 * np.sqrt(12) * ((np.sin(1e12 * v[0] + 1) * 1e4) % 1.0 - 0.5)
            return float(np.sum(c * np.maximum(v[0] + d, 0)) + noise)
        E = judge_entries(f, x, np.array([np.sum(c * (d > 0))]), rtol=1e-9, sigma=1e-11)
        assert E.status[0] != "FAIL" and E.stage[0] == 4, seed


def test_a_kink_two_thirds_of_a_step_away_is_found():
    # At 2h/3 the fourth difference of a kink vanishes (F = B), yet c(h) is off by a
    # sixth of the jump and Richardson by a ninth: c(h) - c(2h) is what sees it.
    x = np.array([0.0])
    f = lambda v: float(3 * v[0] + 2 * max(v[0] - 2e-6 / 3, 0.0))   # noqa: E731
    E = judge_entries(f, x, np.array([3.0]))
    assert E.status[0] == "kink" and abs(E.value[0] - 3.0) < 1e-6


def test_a_non_finite_analytic_value_fails_at_once(rng):
    x = rng.standard_normal(3)
    E = judge_entries(lambda v: float(np.sum(np.sin(v))), x,
                      np.array([np.cos(x[0]), np.nan, np.inf]))
    assert list(E.status) == ["ok", "FAIL", "FAIL"]
    assert list(E.method[1:]) == ["analytic gradient not finite"] * 2
    assert E.reason[1] == "the analytic gradient is nan"


def test_a_richardson_value_that_overflows_settles_nothing():
    # f near the largest float: f(x +- h) are finite but 8 (f_1 - f_-1) overflows, so
    # stage 2's Richardson value is inf - inf = NaN; a wrong slope must not read "ok".
    x = np.array([0.0])
    f = lambda v: float(1.7e308 * np.tanh(1e6 * v[0]))       # noqa: E731
    with np.errstate(over="ignore", invalid="ignore"):
        E = judge_entries(f, x, np.array([1.0]), sigma=U)
    assert E.status[0] in ("FAIL", "unresolved")
