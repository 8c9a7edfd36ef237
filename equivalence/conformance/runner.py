"""Running a suite against an implementation: outcomes (KIT-3), strict expected failures (KIT-6)
and the report (KIT-7)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from boolnet_spec.equivalence.conformance import SUITE_VERSION
from boolnet_spec.equivalence.conformance.adapters import ImplementationFailed, NotRun
from boolnet_spec.equivalence.conformance.case import Case, Suite
from boolnet_spec.equivalence.conformance.compare import compare_output
from boolnet_spec.reference.errors import FormatError

__all__ = ["CaseResult", "run_case", "run_suite", "read_xfails", "report", "OUTCOMES",
           "MAX_XFAIL_BYTES"]

OUTCOMES = ("passed", "failed", "not_run")
MAX_XFAIL_BYTES = 1 << 20


@dataclass
class CaseResult:
    """The outcome of one case, with what localises a failure (KIT-2, KIT-3)."""

    id: str
    op: str
    labels: list[str]
    outcome: str
    reason: str = ""
    failures: dict[str, dict] = field(default_factory=dict)
    not_run: list[str] = field(default_factory=list)
    xfail: bool = False

    def message(self) -> str:
        if self.outcome != "failed":
            return f"{self.id}: {self.outcome} {self.reason}".rstrip()
        first = next(iter(self.failures.items()), None)
        where = "" if first is None else f" output {first[0]}: {first[1]['text']}"
        return (f"{self.id} (op {self.op}, labels {', '.join(self.labels)}):"
                f"{where or ' ' + self.reason}")

    def to_json(self) -> dict:
        return {"id": self.id, "op": self.op, "labels": self.labels, "outcome": self.outcome,
                "reason": self.reason, "failures": self.failures, "not_run": self.not_run,
                "xfail": self.xfail}


def run_case(case: Case, adapter) -> CaseResult:
    """Run one case and compare every output (KIT-2, KIT-3)."""
    result = CaseResult(case.id, case.op, case.labels, "failed")
    try:
        produced = adapter.outputs(case)
    except NotRun as why:
        result.outcome, result.reason = "not_run", str(why)
        return result
    except ImplementationFailed as why:
        result.reason = str(why)
        return result
    compared = 0
    for output in case.outputs:
        actual = produced.get(output.name)
        if actual is None:
            if output.required:
                result.failures[output.name] = {"text": "missing (not written)"}
            else:
                result.not_run.append(output.name)
            continue
        if isinstance(actual, Exception):
            result.failures[output.name] = {"text": f"unreadable: {actual}"}
            continue
        expected = case.expected(output)
        bound = case.bound(output) if output.mode == "bounded" else None
        difference = compare_output(actual, expected, output.mode, bound, output.dtype)
        compared += 1
        if difference is not None:
            result.failures[output.name] = {"text": str(difference), **difference.to_json()}
    extra = sorted(set(produced) - {output.name for output in case.outputs})
    if extra and case.kind == "op":
        result.failures.setdefault("(extra)", {"text": f"unexpected outputs {extra}"})
    if result.failures:
        names = sorted(result.failures)
        result.reason = f"{len(names)} output(s) wrong: {', '.join(names[:5])}"
    elif compared:
        result.outcome = "passed"
    else:
        result.reason = "no output compared"
    return result


def read_xfails(path: str | Path, suite: Suite) -> set[str]:
    """Case ids and requirement labels expected to fail (KIT-6)."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(str(path), "an existing xfail file", "missing", "KIT-6")
    if path.stat().st_size > MAX_XFAIL_BYTES:
        raise FormatError(str(path), f"at most {MAX_XFAIL_BYTES} bytes", path.stat().st_size,
                          "KIT-6")
    known = {case.id for case in suite.cases} | suite.labels()
    entries = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise FormatError(str(path), "UTF-8 text", "undecodable bytes", "KIT-6") from None
    for number, line in enumerate(lines, 1):
        entry = re.sub(r"#.*", "", line).strip()
        if not entry:
            continue
        if entry not in known:
            raise FormatError(f"{path} line {number}", "a case id or requirement label of the "
                              f"suite (version {suite.suite_version})", repr(entry), "KIT-6")
        entries.add(entry)
    return entries


def expected_to_fail(case: Case, xfails: set[str]) -> bool:
    return case.id in xfails or any(label in xfails for label in case.labels)


def run_suite(suite: Suite, adapter, select: Callable[[Case], bool] = lambda case: True,
              xfails: Iterable[str] = (), progress: Callable[[str], None] | None = None
              ) -> list[CaseResult]:
    xfails = set(xfails)
    results = []
    for case in suite.cases:
        if not select(case):
            continue
        result = run_case(case, adapter)
        result.xfail = expected_to_fail(case, xfails)
        results.append(result)
        if progress is not None:
            progress(case.id)
    return results


def verdict(results: list[CaseResult]) -> bool:
    """True when no case failed unexpectedly and no expected failure passed (KIT-6)."""
    def ok(result: CaseResult) -> bool:
        if result.xfail:
            return result.outcome != "passed"
        return result.outcome != "failed"

    return all(ok(result) for result in results)


def report(results: list[CaseResult], suite: Suite, implementation: str) -> dict:
    """The JSON report with a summary per requirement label (KIT-7)."""
    labels: dict[str, dict[str, int]] = {}
    for result in results:
        for label in result.labels:
            row = labels.setdefault(label, dict.fromkeys(OUTCOMES, 0))
            row[result.outcome] += 1
    totals = {outcome: sum(r.outcome == outcome for r in results) for outcome in OUTCOMES}
    return {"format": "boolnet-spec-report", "suite_version": suite.suite_version,
            "spec_version": suite.spec_version, "kit_suite_version": SUITE_VERSION,
            "implementation": implementation, "summary": {**totals, "cases": len(results),
                                                          "ok": verdict(results)},
            "labels": dict(sorted(labels.items())),
            "cases": [result.to_json() for result in results]}


def write_report(path: str | Path, data: dict) -> None:
    from boolnet_spec.reference.safe_io import write_atomic

    write_atomic(path, lambda handle: handle.write(json.dumps(data, indent=1).encode()))
