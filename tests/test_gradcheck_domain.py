"""gradcheck.domain: entries whose finite differences step outside f's domain."""

import numpy as np

from minivae.gradcheck.domain import outside
from tests.test_gradcheck_judge import U, judge_entries


def sqrt_sum(v):
    with np.errstate(invalid="ignore"):
        return float(np.sum(np.sqrt(v)))


def test_a_wrong_gradient_where_the_step_leaves_the_domain_fails():
    # sqrt at 1e-7 with h = 1e-6: f(x - h) is NaN. The true slope is 1581; 5 is wrong.
    x = np.full(3, 1e-7)
    E = judge_entries(sqrt_sum, x, np.full(3, 5.0))
    assert list(E.status) == ["FAIL"] * 3 and E.domain.all()
    assert "f is nan at x - h and x - 2h" in E.reason[0]
    assert all("one-sided (domain)" in m for m in E.method)


def test_the_right_gradient_at_the_edge_of_the_domain_does_not_fail():
    # Truncation at 1e-7 is far above rtol at any step that fits: not certified, not FAIL.
    x = np.full(3, 1e-7)
    E = judge_entries(sqrt_sum, x, 0.5 / np.sqrt(x))
    assert "FAIL" not in set(E.status) and E.domain.all()


def test_nan_on_the_plus_side_only_is_judged_backward():
    # sqrt(1e-7 - v) at v = 0: NaN at x + h and x + 2h, finite to the left.
    x = np.zeros(1)
    f = lambda v: sqrt_sum(1e-7 - v)        # noqa: E731
    right = judge_entries(f, x, np.array([-0.5 / np.sqrt(1e-7)]))
    wrong = judge_entries(f, x, np.array([0.5 / np.sqrt(1e-7)]))      # sign flipped
    assert right.status[0] != "FAIL" and right.method[0].startswith("backward")
    assert wrong.status[0] == "FAIL" and "f is nan at x + h and x + 2h" in wrong.reason[0]


def test_an_inf_one_step_away_is_outside_the_domain_too():
    # log at x = h exactly: f(x - h) = log(0) = -inf, f(x - 2h) NaN.
    x = np.array([1e-6])
    with np.errstate(divide="ignore", invalid="ignore"):
        E = judge_entries(lambda v: float(np.sum(np.log(v))), x, np.array([5.0]))
    assert E.status[0] == "FAIL" and "f is -inf at x - h" in E.reason[0]


def test_stage_two_stencil_outside_the_domain_is_not_taken_as_agreement():
    # sqrt at 1.5e-6: x - h is inside, x - 2h is not; the central difference at h is off by
    # its truncation (5%), so stage 2 runs, and its Richardson value would be NaN.
    x = np.array([1.5e-6])
    E = judge_entries(sqrt_sum, x, np.array([1.0]))
    assert E.status[0] == "FAIL" and E.domain[0]
    right = judge_entries(sqrt_sum, x, 0.5 / np.sqrt(x))
    assert right.status[0] != "FAIL"


def test_f_not_finite_on_either_side_is_unresolved_with_its_reason():
    # f finite only at exactly x = 0 (and within 1e-9 of it): no step down to h/64 fits.
    x = np.zeros(1)
    f = lambda v: 0.0 if abs(v[0]) < 1e-9 else float("nan")     # noqa: E731
    E = judge_entries(f, x, np.array([1.0]), sigma=U)
    assert E.status[0] == "unresolved" and not np.isfinite(E.value[0])
    assert "f is nan at x + h and x - h and x + 2h and x - 2h" in E.reason[0]


def test_outside_names_each_point_and_value():
    values = {1: np.array([1.0]), -1: np.array([-np.inf]), 2: np.array([2.0]),
              -2: np.array([np.nan])}
    assert outside(values, 0) == "f is -inf at x - h; f is nan at x - 2h"
