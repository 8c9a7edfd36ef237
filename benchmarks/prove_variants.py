"""Benchmark: the BN-variant prover on the hand-derived cases of issue 14 and on the catalogue.

Proves every variant of ``tests/test_variant_cases.py`` with the default budget (3 s of wall time
per variant) and prints the median and maximum seconds, the number of ``unknown`` results and the
verdicts that differ from the hand-derived ones; then proves the built-in catalogue (the built-in
variants and the published folds) and prints its total time. The machine is shared: a loaded
machine stretches every time.

    python benchmarks/prove_variants.py [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _cases() -> dict:
    """The hand-derived cases of tests/test_variant_cases.py, loaded from their file."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("test_variant_cases",
                                                  ROOT / "tests" / "test_variant_cases.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CASES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    CASES = _cases()
    from boolnet_spec.spec.variants import BUILTIN_VARIANTS, PUBLISHED_FOLDS, prove_variant

    seconds, wrong, unknown = [], {}, 0
    for name, case in CASES.items():
        result = prove_variant(case.variant)
        seconds.append(result.seconds)
        unknown += result.status == "unknown"
        if result.status != case.verdict:
            wrong[name] = (result.status, case.verdict)
    start = time.perf_counter()
    catalogue = [prove_variant(v) for v in BUILTIN_VARIANTS.values()]
    catalogue += [prove_variant(v.with_fold(f)) for v, f, _ in PUBLISHED_FOLDS.values()]
    summary = {"variants": len(CASES), "median_seconds": round(statistics.median(seconds), 3),
               "max_seconds": round(max(seconds), 3), "unknown": unknown, "wrong": wrong,
               "catalogue_variants": len(catalogue),
               "catalogue_seconds": round(time.perf_counter() - start, 2),
               "catalogue_unknown": sum(r.status == "unknown" for r in catalogue)}
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:20} {value}")
    return 0 if not wrong and not unknown and not summary["catalogue_unknown"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
