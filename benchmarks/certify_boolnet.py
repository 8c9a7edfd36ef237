"""Benchmark: exhaustive certification (CERT-1 to CERT-3) of a whole network against PyTorch.

Builds ``boolnet-k4`` (224x224) with calibrated random parameters (BUILD-4), loads them into the
PyTorch model and certifies every binary channel, slice and accumulator value. Prints the median
time over the repeats (the machine is shared: single timings are noisy) and the summary.

    python benchmarks/certify_boolnet.py [--config boolnet-k4] [--seed 0] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="boolnet-k4")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import torch

    from boolnet_spec.equivalence.pytorch.certify import certify
    from boolnet_spec.equivalence.pytorch.export import export_model, torch_model
    from boolnet_spec.reference.architecture import architecture
    from boolnet_spec.reference.build import random_state_dict

    torch.set_num_threads(args.threads)
    arch = architecture(args.config)
    net = torch_model(arch, random_state_dict(arch, args.seed))
    start = time.perf_counter()
    model = export_model(net, arch)
    export_seconds = time.perf_counter() - start
    times, summary = [], None
    for _ in range(args.repeats):
        start = time.perf_counter()
        summary = certify(net, arch, model=model, progress=False).summary
        times.append(time.perf_counter() - start)
    result = {"config": args.config, "seed": args.seed, "threads": args.threads,
              "export_seconds": round(export_seconds, 2),
              "certify_seconds": [round(t, 2) for t in times],
              "certify_median_seconds": round(statistics.median(times), 2), "summary": summary}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.config}: export {export_seconds:.1f} s, certification median "
              f"{statistics.median(times):.1f} s over {args.repeats} "
              f"({', '.join(f'{t:.1f}' for t in times)}); {summary['certified_channels']} of "
              f"{summary['channels']} channels certified, {summary['at_risk_values']} values at "
              f"risk ({summary['float_ambiguous']} float_ambiguous, {summary['ternary']} ternary, "
              f"{summary['mismatch']} mismatch)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
