"""The conformance kit's numbers (issue 10): the default suite against the datapath adapter
(median of several runs), the shipped suite's size, and whether regeneration is byte-identical.

    python benchmarks/conformance_kit.py [--repeats 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from boolnet_spec.equivalence.conformance.adapters import PythonAdapter
from boolnet_spec.equivalence.conformance.case import load_suite
from boolnet_spec.equivalence.conformance.cli import shipped_suite
from boolnet_spec.equivalence.conformance.implementations import datapath, reference
from boolnet_spec.equivalence.conformance.runner import run_suite
from boolnet_spec.equivalence.conformance.vectors import build_files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    suite = load_suite(shipped_suite())
    times = {}
    for name, factory in (("datapath", datapath), ("reference", reference)):
        runs = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            results = run_suite(suite, PythonAdapter(factory(), name))
            runs.append(time.perf_counter() - start)
        assert not any(r.outcome == "failed" for r in results)
        times[name] = statistics.median(runs)
    start = time.perf_counter()
    files = build_files("all")
    generate = time.perf_counter() - start
    on_disk = {p.relative_to(shipped_suite()).as_posix(): p.read_bytes()
               for p in shipped_suite().rglob("*") if p.is_file()}
    report = {"cases": len(suite.cases), "suite_bytes": sum(len(b) for b in on_disk.values()),
              "suite_files": len(on_disk), "seconds_datapath_median": round(times["datapath"], 3),
              "seconds_reference_median": round(times["reference"], 3),
              "seconds_generate": round(generate, 3), "regenerates_identically": files == on_disk}
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:>26}: {value}")


if __name__ == "__main__":
    main()
