"""The kit's commands: ``vectors`` (write a suite), ``conform`` (run it without pytest) and
``check-trace`` (compare a whole trace)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from boolnet_spec.reference.commandline import check_output, format_table, print_json
from boolnet_spec.reference.errors import EXIT_FINDING, DomainError, UsageError

__all__ = ["register", "shipped_suite"]


def shipped_suite() -> Path:
    """The default suite inside the installed package (KIT-1)."""
    from importlib.resources import files

    return Path(str(files("boolnet_spec.conformance") / "vectors"))


def vectors_command(args: argparse.Namespace) -> int:
    from boolnet_spec.equivalence.conformance.vectors import build_files, write_suite

    out = Path(args.output)
    if args.state_dict or args.config or args.input:
        network = _their_network(args)
        files = build_files("networks", network)
    else:
        files = build_files(args.suite)
    write_suite(out, files)
    cases = sorted({Path(name).parent.as_posix() for name in files if name.endswith("desc.json")})
    summary = {"output": str(out), "suite": args.suite, "cases": len(cases), "files": len(files),
               "bytes": sum(len(data) for data in files.values())}
    if args.json:
        print_json(summary)
    else:
        print(f"wrote {out}: {summary['cases']} cases, {summary['files']} files, "
              f"{summary['bytes'] / 1e6:.1f} MB")
    return 0


def _their_network(args: argparse.Namespace) -> list:
    from boolnet_spec.reference.architecture import architecture
    from boolnet_spec.reference.build import build_model
    from boolnet_spec.reference.safe_io import read_npy
    from boolnet_spec.reference.statedict import load_state_dict

    if not (args.state_dict and args.config and args.input):
        raise UsageError("--config/--state-dict/--input", "all three, for vectors of your model",
                         "only some", "KIT-1")
    state = load_state_dict(args.state_dict)
    images = read_npy(args.input, "--input")
    if images.ndim != 4:
        raise DomainError("--input", "float32 images [N, 3, H, W]", list(images.shape), "KIT-1")
    base = architecture(args.config)
    from boolnet_spec.equivalence.conformance.bounds import ambiguous_images
    from boolnet_spec.equivalence.pytorch.export import infer_architecture
    from boolnet_spec.reference.stem import check_image

    arch = infer_architecture(base.name, state, images.shape[-1])
    model = build_model(arch, state)
    images = check_image(images)
    ambiguous = ambiguous_images(model, images)
    if ambiguous.all():
        raise DomainError("--input", "an image whose stem bits no float rounding can flip",
                          f"all {len(images)} image(s) have a stem value within its bound",
                          "KIT-2")
    if ambiguous.any():
        print(f"vectors: left out image(s) {np.flatnonzero(ambiguous).tolist()}: a stem value "
              "lies within its float bound of a decision (KIT-2)", file=sys.stderr)
    return [(f"{arch.name}-yours", model, state, images[~ambiguous])]


def _adapter(args: argparse.Namespace):
    from boolnet_spec.equivalence.conformance.adapters import adapter_from

    return adapter_from(args.impl, args.impl_cmd, args.timeout, args.packed)


def conform_command(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from boolnet_spec.equivalence.conformance.case import load_suite
    from boolnet_spec.equivalence.conformance.runner import (
        read_xfails,
        report,
        run_suite,
        verdict,
        write_report,
    )

    adapter = _adapter(args)
    suite = load_suite(args.suite_dir or shipped_suite())
    xfails = read_xfails(args.xfail, suite) if args.xfail else set()
    wanted = set(args.case or ())
    unknown = wanted - {case.id for case in suite.cases}
    if unknown:
        raise UsageError("--case", "case ids of the suite", sorted(unknown), "KIT-1")
    if args.dump and len(wanted) != 1:
        raise UsageError("--dump", "exactly one --case", len(wanted), "KIT-1")
    dump = check_output(args.dump, "--dump") if args.dump else None
    out = check_output(args.report, "--report") if args.report else None
    selected = [case for case in suite.cases if not wanted or case.id in wanted]
    with tqdm(total=len(selected), desc="conform", unit="case", disable=None,
              file=sys.stderr) as bar:
        results = run_suite(suite, adapter, lambda case: not wanted or case.id in wanted,
                            xfails, lambda case_id: bar.update())
    data = report(results, suite, adapter.name)
    if dump is not None:
        _dump(selected[0], adapter, dump)
    if out is not None:
        write_report(out, data)
    if args.json:
        print_json(data)
    else:
        rows = [{"case": r.id, "outcome": r.outcome + (" (xfail)" if r.xfail else ""),
                 "reason": r.message() if r.outcome == "failed" else r.reason}
                for r in results if r.outcome != "passed" or r.xfail]
        if rows:
            print(format_table(rows, [("case", 40, "case"), ("outcome", 16, "outcome"),
                                      ("reason", 0, "reason")]))
        summary = data["summary"]
        print(f"{summary['passed']} passed, {summary['failed']} failed, {summary['not_run']} "
              f"not run of {summary['cases']} cases")
    return 0 if verdict(results) else EXIT_FINDING


def _dump(case, adapter, directory: Path) -> None:
    """The case's inputs, expected outputs and the implementation's outputs (KIT-2)."""
    import shutil

    from boolnet_spec.equivalence.conformance.adapters import ImplementationFailed, NotRun
    from boolnet_spec.reference.safe_io import write_npz_atomic

    if directory.exists():
        raise DomainError("--dump", "a directory that does not exist yet", str(directory),
                          "KIT-1")
    shutil.copytree(case.directory, directory)
    try:
        produced = adapter.outputs(case)
    except (NotRun, ImplementationFailed):
        produced = {}
    import numpy as np

    actual = {name: value for name, value in produced.items() if isinstance(value, np.ndarray)}
    if actual:
        write_npz_atomic(directory / "actual.npz", actual)


def check_trace_command(args: argparse.Namespace) -> int:
    from boolnet_spec.equivalence.conformance.trace import check_trace

    result = check_trace(args.model, args.input, args.trace)
    if args.json:
        print_json(result)
    else:
        print(format_table(result["tensors"], [("tensor", 28, "tensor"), ("mode", 8, "mode"),
                                               ("elements", 10, "elements"),
                                               ("differing", 10, "differing"),
                                               ("status", 10, "status")]))
        first = result["first_divergence"]
        if first is None:
            print("no divergence")
        else:
            print(f"first divergence: {first['tensor']} (node {first['node']}) at "
                  f"{first['index']}: expected {first['expected']!r}, got {first['actual']!r}; "
                  f"{first['verdict']}")
    return 0 if result["ok"] else EXIT_FINDING


def _impl_arguments(parser: argparse.ArgumentParser) -> None:
    from boolnet_spec.equivalence.conformance.adapters import DEFAULT_TIMEOUT

    parser.add_argument("--impl", help="Python implementation pkg.module:factory "
                                       "(or BOOLNET_SPEC_IMPL)")
    parser.add_argument("--impl-cmd", help="command for any language, e.g. "
                                           "\"./impl {case} {out}\" (or BOOLNET_SPEC_IMPL_CMD)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds per case for --impl-cmd (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--packed", action="store_true",
                        help="bit outputs may be 64-bit words in the datapath layout")


def register(commands) -> None:
    """Add ``vectors``, ``conform`` and ``check-trace`` to the ``boolnet-spec`` parser."""
    from boolnet_spec.equivalence.conformance.vectors import SUITES

    vectors = commands.add_parser(
        "vectors", help="write a versioned conformance suite",
        description="Write golden vectors: per-op cases, network cases of the four "
                    "configurations, or network cases of your checkpoint and images.")
    vectors.add_argument("-o", "--output", required=True, help="directory to create")
    vectors.add_argument("--suite", choices=SUITES, default="all")
    vectors.add_argument("--config", help="with --state-dict and --input: your model's cases")
    vectors.add_argument("--state-dict", help="your checkpoint in the authors' layout")
    vectors.add_argument("--input", help="your float32 images [N, 3, H, W] (.npy)")
    vectors.add_argument("--json", action="store_true", help="machine-readable summary")
    vectors.set_defaults(handler=vectors_command)

    conform = commands.add_parser(
        "conform", help="run the conformance kit against an implementation",
        description="Run every case of a suite (default: the shipped one) against an "
                    "implementation. Exit 0 only when no case failed unexpectedly.")
    _impl_arguments(conform)
    conform.add_argument("--suite-dir", help="a suite directory (default: the shipped suite)")
    conform.add_argument("--case", action="append", help="run only this case id (repeatable)")
    conform.add_argument("--dump", help="with one --case: write its inputs, expected and "
                                        "actual outputs to this new directory")
    conform.add_argument("--xfail", help="file of case ids or labels expected to fail")
    conform.add_argument("--report", help="write the JSON report here")
    conform.add_argument("--json", action="store_true", help="print the JSON report")
    conform.set_defaults(handler=conform_command)

    trace = commands.add_parser(
        "check-trace", help="compare a whole trace with the reference's",
        description="Compare every named tensor of your trace with the reference's, in node "
                    "order, and tell a wrong node from a propagated divergence.")
    trace.add_argument("model", help="model file")
    trace.add_argument("--input", required=True, help="float32 images [N, 3, H, W] (.npy)")
    trace.add_argument("--trace", required=True, help="your trace (.npz, tensor name -> array)")
    trace.add_argument("--json", action="store_true", help="machine-readable report")
    trace.set_defaults(handler=check_trace_command)
