"""The kit's pytest plugin (``pytest11`` entry point): options, one parametrised test per case,
strict expected failures and the JSON report (KIT-3 to KIT-7)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

OPTIONS = ("--boolnet-impl", "--boolnet-impl-cmd", "--boolnet-suite", "--boolnet-xfail",
           "--boolnet-report", "--boolnet-timeout", "--boolnet-packed")


def pytest_addoption(parser):
    group = parser.getgroup("boolnet", "BoolNet conformance kit (boolnet-spec)")
    group.addoption("--boolnet-impl", help="implementation pkg.module:factory "
                                           "(or BOOLNET_SPEC_IMPL)")
    group.addoption("--boolnet-impl-cmd", help="command \"./impl {case} {out}\" "
                                               "(or BOOLNET_SPEC_IMPL_CMD)")
    group.addoption("--boolnet-suite", help="suite directory (default: the shipped suite)")
    group.addoption("--boolnet-xfail", help="file of case ids or labels expected to fail")
    group.addoption("--boolnet-report", help="write the JSON report with a summary per label")
    group.addoption("--boolnet-timeout", type=float, default=60.0,
                    help="seconds per case for --boolnet-impl-cmd")
    group.addoption("--boolnet-packed", action="store_true",
                    help="bit outputs may be 64-bit words in the datapath layout")


def _suite(config):
    cached = getattr(config, "_boolnet_suite", None)
    if cached is None:
        from boolnet_spec.equivalence.conformance.case import load_suite
        from boolnet_spec.equivalence.conformance.cli import shipped_suite

        cached = load_suite(config.getoption("--boolnet-suite") or shipped_suite())
        config._boolnet_suite = cached
    return cached


def _wanted(config) -> bool:
    return any(config.getoption(option) for option in ("--boolnet-impl", "--boolnet-impl-cmd")) \
        or "BOOLNET_SPEC_IMPL" in os.environ or "BOOLNET_SPEC_IMPL_CMD" in os.environ


def pytest_configure(config):
    global _IS_WORKER
    _IS_WORKER = hasattr(config, "workerinput")
    if not _wanted(config):
        return
    suite = _suite(config)
    for label in sorted(suite.labels()):
        config.addinivalue_line("markers", f"{label}: requirement {label} (boolnet-spec)")
    for op in sorted({case.op for case in suite.cases}):
        config.addinivalue_line("markers", f"op_{op}: conformance cases of op {op}")


def pytest_generate_tests(metafunc):
    if "boolnet_case" not in metafunc.fixturenames:
        return
    if not _wanted(metafunc.config):
        raise pytest.UsageError("boolnet-spec conformance: choose the implementation under test "
                                "with --boolnet-impl, --boolnet-impl-cmd, BOOLNET_SPEC_IMPL or "
                                "BOOLNET_SPEC_IMPL_CMD")
    suite = _suite(metafunc.config)
    params = [pytest.param(case, id=case.id, marks=[getattr(pytest.mark, label)
                                                    for label in case.labels]
                           + [getattr(pytest.mark, f"op_{case.op}")])
              for case in suite.cases]
    metafunc.parametrize("boolnet_case", params)


def pytest_collection_modifyitems(config, items):
    path = config.getoption("--boolnet-xfail")
    if not path or not _wanted(config):
        return
    from boolnet_spec.equivalence.conformance.runner import expected_to_fail, read_xfails
    from boolnet_spec.reference.errors import SpecError

    try:
        xfails = read_xfails(path, _suite(config))
    except SpecError as error:
        raise pytest.UsageError(f"--boolnet-xfail: {error}") from None
    for item in items:
        case = getattr(item, "callspec", None) and item.callspec.params.get("boolnet_case")
        if case is not None and expected_to_fail(case, xfails):
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"listed in {path}"))


@pytest.fixture(scope="session")
def boolnet_adapter(pytestconfig):
    from boolnet_spec.equivalence.conformance.adapters import adapter_from
    from boolnet_spec.reference.errors import SpecError

    try:
        return adapter_from(pytestconfig.getoption("--boolnet-impl"),
                            pytestconfig.getoption("--boolnet-impl-cmd"),
                            pytestconfig.getoption("--boolnet-timeout"),
                            pytestconfig.getoption("--boolnet-packed"))
    except SpecError as error:
        raise pytest.UsageError(f"boolnet-spec conformance: {error}") from None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and report.skipped):
        _RESULTS.extend(value for name, value in report.user_properties
                        if name == "boolnet_result")
    if not _IS_WORKER:
        # the row goes to the JSON report, not into the JUnit XML as a property (not xunit2)
        report.user_properties[:] = [p for p in report.user_properties if p[0] != "boolnet_result"]


_RESULTS: list[dict] = []
_IS_WORKER = False


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    target = config.getoption("--boolnet-report")
    if not target or hasattr(config, "workerinput") or not _wanted(config):
        return
    from boolnet_spec.equivalence.conformance.runner import CaseResult, report, write_report

    results = []
    for data in sorted(_RESULTS, key=lambda row: row["id"]):
        result = CaseResult(**{k: data[k] for k in ("id", "op", "labels", "outcome", "reason",
                                                    "failures", "not_run", "xfail")})
        results.append(result)
    implementation = config.getoption("--boolnet-impl") or \
        config.getoption("--boolnet-impl-cmd") or os.environ.get("BOOLNET_SPEC_IMPL") or \
        os.environ.get("BOOLNET_SPEC_IMPL_CMD", "")
    write_report(Path(target), report(results, _suite(config), implementation))


__all__ = ["OPTIONS"]
