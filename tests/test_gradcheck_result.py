"""gradcheck.result: numbers and verdict of one checked quantity."""

import numpy as np

from minivae.gradcheck.judge import Entries
from minivae.gradcheck.result import build_result


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
    assert r.verdict == "FAIL" and r.notes[0] == "the gradient changed"
