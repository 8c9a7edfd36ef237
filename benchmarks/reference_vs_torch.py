"""Benchmark: the reference forward of a whole network against the same network in PyTorch.

Runs ``boolnet-k4`` (224x224) with calibrated random parameters through three engines, each in its
own process (so that peak RSS is per engine) and each on 2 threads: the numpy reference, the
float32 PyTorch model, and the BLAS floor, one float32 matrix product (numpy's sgemm) with as many
multiply-adds as the network's binary convolutions. The engines take turns, one run each in an
order that rotates, with a pause before each run, so that the load of a shared machine (and the
idle threads of the engine that ran last) falls on all of them alike; the report gives medians,
the ratios, peak RSS and the reference's time per operation, for batch 8 and batch 1 by default.

    python benchmarks/reference_vs_torch.py [--config boolnet-k4] [--batch 8 1] [--repeats 5]
        [--threads 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

#: The side of the square matrices of the BLAS floor's product.
FLOOR_SIDE = 1024
#: Seconds between two timed runs, so that the threads of the engine that ran last are asleep.
SETTLE_SECONDS = 0.5


def _peak_rss_mb() -> float:
    """This process's peak resident set: Linux's VmHWM, which (unlike ``ru_maxrss``) does not
    inherit the high-water mark of the parent that forked it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _limit_threads(threads: int) -> None:
    """Before numpy is imported: BLAS and OpenMP pools of ``threads`` threads."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)


def _blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS pools unknown (no threadpoolctl)"
    return ", ".join(f"{pool['internal_api']} {pool.get('architecture', '')} "
                     f"{pool['num_threads']} threads" for pool in threadpool_info()
                     if pool["user_api"] == "blas")


def _serve(engine: str, config: str, state_path: str, images_path: str, threads: int,
           connection) -> None:
    """One engine in its own process: a warm-up run, then one timed run per request."""
    _limit_threads(threads)
    import numpy as np

    images = np.load(images_path)
    batch = images.shape[0]
    if engine == "reference":
        from boolnet_spec.reference.architecture import architecture
        from boolnet_spec.reference.build import build_model
        from boolnet_spec.reference.network import forward

        model = build_model(architecture(config), dict(np.load(state_path)))
        ops = {node.name: node.op for node in model.nodes}
        # Multiply-adds of one image's binary convolutions: n per accumulator.
        macs = sum(int(np.prod(model.states[node.name]["weight"].shape[1:]))
                   * int(np.prod(model.shapes[node.outputs[0]][1:]))
                   for node in model.nodes if node.op in ("bconv", "head"))

        def run():
            per_node, mark = {}, [time.perf_counter()]

            def progress(name: str) -> None:
                now = time.perf_counter()
                per_node[name] = now - mark[0]
                mark[0] = now

            logits, _ = forward(model, images, progress=progress)
            return logits, per_node
    elif engine == "torch":
        import torch

        from boolnet_spec.equivalence.pytorch.model import BoolNet
        from boolnet_spec.reference.architecture import architecture

        torch.set_num_threads(threads)
        net = BoolNet(architecture(config))
        net.load_state_dict({k: torch.from_numpy(v) for k, v in np.load(state_path).items()},
                            strict=True)
        net.eval()
        batch_tensor = torch.from_numpy(images)

        def run():
            with torch.no_grad():
                return net(batch_tensor).numpy(), {}
    else:
        rows = int(engine.split(":")[1])
        rng = np.random.default_rng(0)
        a = rng.standard_normal((rows, FLOOR_SIDE)).astype(np.float32)
        b = rng.standard_normal((FLOOR_SIDE, FLOOR_SIDE)).astype(np.float32)

        def run():
            np.matmul(a, b)
            return None, {}

    run()  # warm-up: weights laid out, kernels chosen
    info = {"blas": _blas_info(), "batch": batch}
    if engine == "reference":
        info |= {"ops": ops, "macs": macs}
    if engine == "torch":
        import torch

        info["torch_threads"] = torch.get_num_threads()
    connection.send(info)
    while connection.recv():
        start = time.perf_counter()
        logits, per_node = run()
        connection.send((time.perf_counter() - start, per_node))
    connection.send({"peak_rss_mb": _peak_rss_mb(), "logits": logits})
    connection.close()


def measure(config: str, batch: int, repeats: int, threads: int, state_path: str,
            images_path: str) -> dict:
    """Interleaved runs of the three engines; their times, peak RSS and reference logits."""
    context = multiprocessing.get_context("spawn")
    pipes, processes, info = {}, {}, {}
    for name in ("reference", "torch", "floor"):
        engine = name
        if name == "floor":  # as many multiply-adds as the reference's binary convolutions
            rows = -(-batch * info["reference"]["macs"] // (FLOOR_SIDE * FLOOR_SIDE))
            engine = f"floor:{rows}"
        parent, child = context.Pipe()
        process = context.Process(target=_serve, args=(engine, config, state_path, images_path,
                                                       threads, child))
        process.start()
        pipes[name], processes[name] = parent, process
        info[name] = parent.recv()
    times: dict[str, list[float]] = defaultdict(list)
    per_node: dict[str, list[float]] = defaultdict(list)
    names = list(pipes)
    for repeat in range(repeats):
        # A rotating order, and a pause before each run: the BLAS and OpenMP threads of the engine
        # that ran last spin for a while after its work, on the cores the next engine needs.
        for name in names[repeat % 3:] + names[:repeat % 3]:
            pipe = pipes[name]
            time.sleep(SETTLE_SECONDS)
            pipe.send(True)
            seconds, nodes = pipe.recv()
            times[name].append(seconds)
            for node, value in nodes.items():
                per_node[node].append(value)
    results = {}
    for name, pipe in pipes.items():
        pipe.send(False)
        results[name] = pipe.recv()
        processes[name].join()
        if processes[name].exitcode:
            raise SystemExit(f"engine {name} failed with exit code {processes[name].exitcode}")
    return {"times": dict(times), "per_node": dict(per_node), "info": info, "results": results}


def report(config: str, batch: int, measured: dict) -> dict:
    import numpy as np

    times, info, results = measured["times"], measured["info"], measured["results"]
    macs = info["reference"]["macs"]
    floor_rows = -(-batch * macs // (FLOOR_SIDE * FLOOR_SIDE))
    median = {name: statistics.median(values) for name, values in times.items()}
    ops = info["reference"]["ops"]
    node_median = {node: statistics.median(values)
                   for node, values in measured["per_node"].items()}
    by_op: dict[str, float] = defaultdict(float)
    for node, seconds in node_median.items():
        by_op[ops[node]] += seconds
    ref_logits, pt_logits = results["reference"]["logits"], results["torch"]["logits"]
    floor_flops = 2 * floor_rows * FLOOR_SIDE * FLOOR_SIDE
    return {
        "config": config, "batch": batch, "runs": len(times["reference"]),
        "binary_macs_per_image": macs,
        "seconds": times,
        "ms_per_image": {name: 1000 * value / batch for name, value in median.items()},
        "floor_gflops": floor_flops / median["floor"] / 1e9,
        "floor_shape": [floor_rows, FLOOR_SIDE, FLOOR_SIDE],
        "speedup_over_torch": median["torch"] / median["reference"],
        "ratio_to_floor": median["reference"] / median["floor"],
        "peak_rss_mb": {name: result["peak_rss_mb"] for name, result in results.items()},
        "blas": info["reference"]["blas"], "torch_threads": info["torch"]["torch_threads"],
        "ms_per_image_by_op": {op: 1000 * s / batch for op, s in
                               sorted(by_op.items(), key=lambda item: -item[1])},
        "ms_per_image_by_node": {node: 1000 * s / batch for node, s in
                                 sorted(node_median.items(), key=lambda item: -item[1])},
        "top1_agreement": float((ref_logits.argmax(1) == pt_logits.argmax(1)).mean()),
        "max_relative_logit_difference": float(np.abs(ref_logits - pt_logits).max()
                                               / np.abs(ref_logits).max()),
    }


def show(row: dict, nodes: int) -> None:
    ms, rss = row["ms_per_image"], row["peak_rss_mb"]
    batch = row["batch"]
    print(f"{row['config']}, batch {batch}, medians of {row['runs']} interleaved runs "
          f"({row['blas']}; torch {row['torch_threads']} threads)")
    print(f"  reference   {ms['reference']:8.1f} ms/image  peak RSS {rss['reference']:5.0f} MB")
    print(f"  torch fp32  {ms['torch']:8.1f} ms/image  peak RSS {rss['torch']:5.0f} MB")
    shape = " x ".join(str(d) for d in row["floor_shape"])
    print(f"  BLAS floor  {ms['floor']:8.1f} ms/image  peak RSS {rss['floor']:5.0f} MB  (sgemm "
          f"{shape}, {row['floor_gflops']:.0f} GFLOP/s, "
          f"{row['binary_macs_per_image'] / 1e9:.2f}e9 multiply-adds per image)")
    print(f"  speed-up over torch:   {row['speedup_over_torch']:.2f}x  (target >= 1.5x)")
    print(f"  reference / BLAS floor: {row['ratio_to_floor']:.2f}x  (target <= 3x)")
    total = sum(row["ms_per_image_by_op"].values())
    print("  reference per op (ms/image, share): " + ", ".join(
        f"{op} {value:.1f} ({100 * value / total:.0f}%)"
        for op, value in row["ms_per_image_by_op"].items()))
    print(f"  slowest {nodes} nodes (ms/image): " + ", ".join(
        f"{node} {value:.1f}" for node, value in list(row["ms_per_image_by_node"].items())[:nodes]))
    print(f"  top-1 agreement {row['top1_agreement']:.3f}, max relative logit difference "
          f"{row['max_relative_logit_difference']:.2e}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="boolnet-k4")
    parser.add_argument("--batch", type=int, nargs="+", default=[8, 1])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nodes", type=int, default=6, help="slowest nodes to list")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    _limit_threads(args.threads)
    import numpy as np

    from boolnet_spec.reference.architecture import architecture
    from boolnet_spec.reference.build import random_state_dict

    arch = architecture(args.config)
    state = random_state_dict(arch, args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        state_path = str(Path(folder) / "state.npz")
        np.savez(state_path, **state)
        for batch in args.batch:
            images_path = str(Path(folder) / f"images-{batch}.npy")
            np.save(images_path, np.random.default_rng(args.seed + 1).standard_normal(
                (batch, 3, arch.image_size, arch.image_size)).astype(np.float32))
            measured = measure(args.config, batch, args.repeats, args.threads, state_path,
                               images_path)
            rows.append(report(args.config, batch, measured))
            if not args.json:
                show(rows[-1], args.nodes)
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
