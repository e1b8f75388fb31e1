"""gradcheck.result: numbers and verdict of one checked quantity."""

import numpy as np

from minivae.gradcheck.judge import Entries
from minivae.gradcheck.result import build_result, relative_error


def entries(analytic, value, status, floor=1e-9):
    k = len(analytic)
    return Entries(np.arange(k), np.array(analytic, float), np.array(value, float),
                   value=np.array(value, float), floor=np.full(k, floor),
                   method=np.full(k, "central", dtype=object), forward=np.full(k, np.nan),
                   backward=np.full(k, np.nan), status=np.array(status, dtype=object),
                   kink=np.array([s == "kink" for s in status]), stage=np.ones(k, int))


def test_the_verdict_is_the_worst_status():
    a = np.array([2.0, 1.0])
    for status, verdict, passed in [(["ok", "kink"], "pass", True),
                                    (["ok", "unresolved"], "inconclusive", True),
                                    (["unresolved", "FAIL"], "FAIL", False)]:
        r = build_result("w", a, entries(a, a, status), 1e-6, 1e-9, 2.0)
        assert (r.verdict, r.passed, r.certified) == (verdict, passed, verdict == "pass")


def test_relative_error_is_measured_against_the_whole_arrays_scale():
    a_full = np.array([10.0, 0.0, 1.0])
    E = entries([0.0, 1.0], [1e-9, 1.1], ["ok", "FAIL"])
    E.which = np.array([1, 2])
    r = build_result("w", a_full, E, 1e-6, 1e-9, 10.0)
    assert np.isclose(r.max_abs_error, 0.1) and np.isclose(r.relative_error, 0.01)
    assert (r.checked, r.size, r.shape) == (2, 3, (3,))


def test_torch_anchor_is_reported_not_used():
    # 1e-4 relative off: torch's |a - n| <= 1e-5 + 1e-3 |n| accepts it.
    r = build_result("x", np.array([1.0]), entries([1.0001], [1.0], ["FAIL"]), 1e-6, 1e-9, 1.0)
    assert r.torch_passed and r.verdict == "FAIL"


def test_worst_entries_name_their_index_and_values():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    E = entries(a.reshape(-1), [1.0, 2.0, 3.5, 4.0], ["ok", "ok", "FAIL", "ok"])
    r = build_result("W", a, E, 1e-6, 1e-9, 4.0, hints=["a hint"])
    assert len(r.worst_entries) == 1 and r.hints == ["a hint"]
    w = r.worst_entries[0]
    assert w["index"] == (1, 0) and w["analytic"] == 3.0 and w["central"] == 3.5
    assert w["status"] == "FAIL" and np.isnan(w["forward"])


def test_a_nondeterministic_gradient_fails_whatever_the_entries_say():
    a = np.array([1.0])
    r = build_result("W", a, entries(a, a, ["ok"]), 1e-6, 1e-9, 1.0,
                     nondeterministic="the gradient changed")
    assert r.verdict == "FAIL" and r.hints[0] == "the gradient changed"


def test_an_ok_status_with_a_nan_error_is_never_a_pass():
    # Whatever the judge said, a NaN compares False to every tolerance: not agreement.
    a = np.array([1.0, 2.0])
    r = build_result("w", a, entries(a, [1.0, np.nan], ["ok", "ok"]), 1e-6, 1e-9, 2.0)
    assert r.verdict == "inconclusive" and np.isnan(r.max_abs_error)
    assert np.isnan(r.relative_error)


def test_a_non_finite_analytic_entry_anywhere_fails_the_array():
    a_full = np.array([1.0, np.inf, 3.0])
    E = entries([1.0], [1.0], ["ok"])            # entry 1 not among those measured
    r = build_result("w", a_full, E, 1e-6, 1e-9, 3.0)
    assert r.verdict == "FAIL" and not r.passed
    assert r.notes[0].startswith("analytic gradient not finite at 1 of 3 entries, first (1,): inf")


def test_nothing_measured_is_not_a_pass():
    r = build_result("w", np.ones(2), entries([], [], []), 1e-6, 1e-9, 1.0)
    assert r.verdict == "inconclusive"


def test_domain_entries_are_counted_and_explained():
    a = np.array([5.0])
    E = entries(a, [1574.0], ["FAIL"])
    E.domain[:], E.reason[:] = True, "f is nan at x - h and x - 2h"
    r = build_result("x", a, E, 1e-6, 1e-9, 5.0)
    assert r.domain == 1 and r.verdict == "FAIL"
    assert r.notes[0].startswith("numerical gradient not finite at (0,): f is nan at x - h "
                                 "and x - 2h; the step leaves f's domain, so 1 entry was judged "
                                 "one-sided (domain)")


def test_relative_error_is_nan_when_either_side_is():
    assert relative_error([1.0, 2.0], [1.0, 2.5]) == 0.2
    assert np.isnan(relative_error([1.0, np.nan], [1.0, 2.0]))
    assert np.isnan(relative_error([1.0, 2.0], [np.inf, 2.0]))
