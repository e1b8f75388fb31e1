"""GradCheckReport: the results of one check, its verdict and its printout."""

import textwrap

import numpy as np

VERDICT_WORD = {"pass": "ok", "FAIL": "FAIL", "inconclusive": "inconclusive"}


class GradCheckReport(list):
    """A list of CheckResult, with the verdict of the whole check and a table.

    report.passed    "pass" or "inconclusive" (an inconclusive check found nothing
                     beyond rounding); never for "FAIL"
    report.verdict   "FAIL" if any result fails, else "inconclusive" if any is or if
                     the report holds no result (nothing checked), else "pass"
    report["kernel"] a result by name; report.worst() the largest relative error
    report.notes     what the check did to its inputs (upcasts, noise fixed, ...)
    str(report)      the table, then the worst entries and hints of each failure
    """

    def __init__(self, results=(), notes=(), criterion="", settings=None):
        super().__init__(results)
        self.notes = list(notes)
        self.criterion = criterion
        self.settings = dict(settings or {})

    @property
    def passed(self):
        return self.verdict in ("pass", "inconclusive")

    @property
    def verdict(self):
        verdicts = {r.verdict for r in self}
        return "FAIL" if "FAIL" in verdicts else \
            "pass" if verdicts == {"pass"} else "inconclusive"

    @property
    def certified(self):
        return self.verdict == "pass"

    def __getitem__(self, key):
        if isinstance(key, str):
            for r in self:
                if r.name == key:
                    return r
            raise KeyError(f"no result named {key!r}; the report holds "
                           f"{[r.name for r in self]}")
        return super().__getitem__(key)

    def worst(self):
        """The largest relative error; NaN if any is NaN (never a smaller number)."""
        errors = [r.relative_error for r in self]
        return float("nan") if any(np.isnan(errors)) else max(errors, default=0.0)

    def _row(self, r):
        checked = f"{r.checked}/{r.size}" if r.mode == "entries" else f"{r.checked} dir"
        extra = []
        if r.kinks:
            extra.append(f"{r.kinks} kink{'s' if r.kinks > 1 else ''}")
        if r.domain:
            extra.append(f"{r.domain} one-sided (domain)")
        if r.rechecked:
            extra.append(f"{r.rechecked} re-measured")
        if r.mode == "entries" and r.checked < r.size:
            extra.append("sampled")
        note = f" ({', '.join(extra)})" if extra else ""
        return (f"{r.name:<28} {str(r.shape):<18} {checked:>11} {r.max_abs_error:>11.2e} "
                f"{r.relative_error:>9.2e} {r.floor:>9.1e}  {VERDICT_WORD[r.verdict]}{note}")

    def __str__(self):
        lines = [f"{'quantity':<28} {'shape':<18} {'checked':>11} {'max abs err':>11} "
                 f"{'rel err':>9} {'floor':>9}  result"]
        lines += [self._row(r) for r in self]
        for r in self:
            if r.verdict == "pass":
                continue
            lines.append("")
            lines.append(f"{r.name}: {r.verdict}")
            lines += [f"  {n}" for n in r.notes]
            if r.worst_entries:
                lines.append(f"  {'index':<22} {'analytic':>12} {'central':>12} "
                             f"{'forward':>12} {'backward':>12} {'error':>9} {'floor':>9}  "
                             f"status (estimate)")
                for w in r.worst_entries:
                    one_sided = "".join(f" {w[k]:>12.5g}" if np.isfinite(w[k]) else
                                        f" {'-':>12}" for k in ("forward", "backward"))
                    lines.append(f"  {str(w['index']):<22} {w['analytic']:>12.5g} "
                                 f"{w['central']:>12.5g}{one_sided} {w['error']:>9.2e} "
                                 f"{w['floor']:>9.1e}  {w['status']} ({w['method']})")
            lines += [f"  hint: {h}" for h in r.hints]
        if self.notes:
            lines.append("")
            lines += [f"note: {n}" for n in self.notes]
        if self.criterion:
            lines.append("")
            lines += textwrap.wrap(self.criterion, 92, subsequent_indent="  ")
        lines.append(f"verdict: {self.verdict}")
        return "\n".join(lines)
