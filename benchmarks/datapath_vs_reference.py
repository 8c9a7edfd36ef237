"""Benchmark: one image through the packed datapath model against the reference forward pass.

Builds ``boolnet-k4`` (224x224) with calibrated random parameters, then times, in one process and
alternating, ``reference.network.forward`` and ``equivalence.datapath.machine.Datapath.run`` on
the same image (no trace), and checks that the logits are identical. Prints the medians and the
ratio datapath / reference; the target is a ratio of at most 5.

    python benchmarks/datapath_vs_reference.py [--config boolnet-k4] [--repeats 7]
        [--blas-threads N] [--json]

The reference's binary convolutions are binary32 or binary64 matrix products (BLAS); the
datapath is single-threaded numpy. ``--blas-threads`` pins the BLAS thread count of both (set
before numpy is imported); by default the environment decides.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

TARGET_RATIO = 5.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="boolnet-k4")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pe", type=int, default=64)
    parser.add_argument("--simd", type=int, default=64)
    parser.add_argument("--blas-threads", type=int,
                        help="BLAS threads (OPENBLAS/OMP/MKL_NUM_THREADS); default: environment")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    if args.blas_threads is not None:
        if "numpy" in sys.modules:
            raise SystemExit("--blas-threads must be set before numpy is imported")
        for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[variable] = str(args.blas_threads)

    import numpy as np

    from boolnet_spec.equivalence.datapath.machine import Datapath
    from boolnet_spec.reference.architecture import architecture
    from boolnet_spec.reference.build import build_model, random_state_dict
    from boolnet_spec.reference.network import forward

    arch = architecture(args.config)
    model = build_model(arch, random_state_dict(arch, args.seed, batch=1))
    machine = Datapath(model, pe=args.pe, simd=args.simd)
    rng = np.random.default_rng(args.seed + 1)
    image = rng.standard_normal((1, 3, arch.image_size, arch.image_size)).astype(np.float32)

    reference_logits, _ = forward(model, image)   # warm-up of both engines
    datapath_logits, _ = machine.run(image)
    if not np.array_equal(reference_logits, datapath_logits):
        raise SystemExit("datapath and reference logits differ")
    times = {"reference": [], "datapath": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        forward(model, image)
        times["reference"].append(time.perf_counter() - start)
        start = time.perf_counter()
        machine.run(image)
        times["datapath"].append(time.perf_counter() - start)
    medians = {engine: statistics.median(values) for engine, values in times.items()}
    ratio = medians["datapath"] / medians["reference"]
    result = {"config": args.config, "image_size": arch.image_size, "batch": 1,
              "repeats": args.repeats, "pe": args.pe, "simd": args.simd,
              "blas_threads": args.blas_threads,
              "reference_median_s": medians["reference"],
              "datapath_median_s": medians["datapath"], "ratio": ratio,
              "target_ratio": TARGET_RATIO, "within_target": ratio <= TARGET_RATIO,
              "times_s": times}
    if args.json:
        print(json.dumps(result))
    else:
        threads = args.blas_threads if args.blas_threads is not None else "environment's"
        print(f"{args.config}, 1 image {arch.image_size}x{arch.image_size}, {args.repeats} "
              f"repeats, PE {args.pe}, SIMD {args.simd}, BLAS threads: {threads}")
        print(f"  reference forward: median {medians['reference'] * 1e3:8.1f} ms")
        print(f"  datapath model:    median {medians['datapath'] * 1e3:8.1f} ms")
        print(f"  ratio datapath / reference: {ratio:.2f} (target <= {TARGET_RATIO:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
