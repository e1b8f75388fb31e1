"""gradcheck.report: the list of results, its verdict and what it prints."""

import numpy as np
import pytest

from minivae.gradcheck import GradCheckReport, check_grad
from minivae.gradcheck.result import CheckResult


def result(name, verdict):
    return CheckResult(name, (2,), 0.0, 0.0, verdict != "FAIL", True, verdict=verdict,
                       checked=2, size=2)


def test_verdict_passed_and_lookup():
    report = GradCheckReport([result("a", "pass"), result("b", "inconclusive")],
                             notes=["x: float32 copied to float64"], criterion="rule")
    assert report.verdict == "inconclusive" and report.passed and not report.certified
    assert report["b"].verdict == "inconclusive"
    with pytest.raises(KeyError, match="no result named 'c'; the report holds"):
        report["c"]
    report.append(result("c", "FAIL"))
    assert report.verdict == "FAIL" and not report.passed
    text = str(report)
    assert "note: x: float32 copied to float64" in text and "rule" in text
    assert text.endswith("verdict: FAIL")


def test_a_failure_prints_its_worst_entries_and_hints():
    x = np.array([0.5, -1.0, 2.0])
    report = check_grad(lambda v: np.sum(v ** 2), lambda v: v, x)
    text = str(report)
    assert "x: FAIL" in text and "analytic" in text and "central" in text
    assert "hint: analytic = 0.5 x numerical" in text
    # The criterion is stated with its numbers.
    assert "criterion: an entry FAILs when |a - n| > floor + rtol |n|" in text
    assert "rtol 1e-06, step 1e-06" in report.criterion
    assert max(len(line) for line in text.split("criterion")[1].splitlines()) <= 92


def test_a_passing_report_prints_no_details():
    report = check_grad(lambda v: np.sum(np.sin(v)), np.cos, np.array([0.1, 0.2]))
    assert "worst" not in str(report) and "hint" not in str(report)
    assert report.worst() == report["x"].relative_error


def test_an_empty_report_is_not_a_pass():
    report = GradCheckReport()
    assert report.verdict == "inconclusive" and not report.certified


def test_worst_is_nan_when_any_error_is():
    bad = CheckResult("b", (2,), np.nan, np.nan, False, False, verdict="FAIL", checked=2, size=2)
    report = GradCheckReport([result("a", "pass"), bad])
    assert np.isnan(report.worst())


def test_rows_say_one_sided_domain_and_sampled():
    r = CheckResult("x", (5000,), 0.0, 0.0, True, True, verdict="inconclusive", checked=1000,
                    size=5000, domain=3)
    row = str(GradCheckReport([r])).splitlines()[1]
    assert row.endswith("inconclusive (3 one-sided (domain), sampled)")
