"""Speed of the C implementation (equivalence/c) against the numpy reference and PyTorch.

Builds ``boolnet_c`` with -O2, builds a full-size model with calibrated random parameters
(``boolnet-spec build --config=boolnet-k4 --random``, 224 x 224 images, 1000 classes), unpacks
it into the kit's network-case layout (model/graph.json + model/arrays/*.npy, no ZIP reader in
C), and prints the median over several runs of

* C: wall time of one ``boolnet_c CASE OUT`` process (start-up, reading the model, forward
  pass, writing the logits), per image;
* the numpy reference: ``boolnet_spec.reference.network.forward`` on the loaded model;
* PyTorch: ``boolnet_spec.equivalence.pytorch.export.torch_model`` on the same state dict, in
  eval mode under ``torch.no_grad()``;

and the ratios, by wall time and by CPU time (all threads; for C, the child process's user +
system time), since a shared machine's load distorts wall time. It also checks that the C
logits agree with the reference's.

Run with the project's interpreter: ``.venv/bin/python benchmarks/c_vs_reference.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from boolnet_spec.reference.modelfile import load_model
from boolnet_spec.reference.network import forward

ROOT = Path(__file__).resolve().parent.parent
C_DIR = ROOT / "equivalence" / "c"


def build_c(work: Path) -> Path:
    build = work / "build"
    subprocess.run(["make", "-C", str(C_DIR), f"BUILD={build}", "CFLAGS=-O2", "all"],
                   check=True, capture_output=True)
    return build / "boolnet_c"


def build_model(work: Path, config: str, seed: int) -> tuple[Path, Path]:
    model, state_dict = work / "model.bsm", work / "state_dict.npz"
    if not (model.exists() and state_dict.exists()):
        subprocess.run([sys.executable, "-m", "boolnet_spec", "build", f"--config={config}",
                        "--random", f"--seed={seed}", f"--export-state-dict={state_dict}",
                        "-o", str(model)], check=True)
    return model, state_dict


def write_case(work: Path, model: Path, images: np.ndarray) -> Path:
    """The kit's network-case layout: desc.json, inputs/images.npy, model/ unpacked."""
    case = work / "case"
    arrays = case / "model" / "arrays"
    arrays.mkdir(parents=True, exist_ok=True)
    (case / "inputs").mkdir(exist_ok=True)
    with np.load(model, allow_pickle=False) as members:
        for name in members.files:
            if name == "__graph__":
                (case / "model" / "graph.json").write_bytes(members[name].tobytes())
            else:
                np.save(arrays / f"{name}.npy", members[name])
    np.save(case / "inputs" / "images.npy", images)
    graph = json.loads((case / "model" / "graph.json").read_text())
    classes = graph["architecture"]["classes"]
    desc = {
        "format": "boolnet-spec-case", "id": "bench/network", "op": "network", "kind": "network",
        "function": "run", "args": ["images"], "attrs": {}, "objects": {}, "labels": [],
        "inputs": {"images": {"file": "inputs/images.npy", "dtype": "float32",
                              "shape": list(images.shape)}},
        "outputs": {"logits": {"dtype": "float64", "shape": [images.shape[0], classes],
                               "compare": {"mode": "bounded"}}},
    }
    (case / "desc.json").write_text(json.dumps(desc))
    return case


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(fn, runs: int, cpu_clock=time.process_time) -> tuple[float, float, object]:
    """Medians of wall time and CPU time (all threads; for C the child process's) of fn()."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        cpu, start = cpu_clock(), time.perf_counter()
        result = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(cpu_clock() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def check_trace(binary: Path, work: Path, case: Path, model, images: np.ndarray) -> list[str]:
    """Run C once with every traced tensor declared; compare bits and integers exactly."""
    _, trace = forward(model, images, trace=True)
    traced = work / "case-trace"
    shutil.rmtree(traced, ignore_errors=True)
    shutil.copytree(case, traced)
    desc = json.loads((traced / "desc.json").read_text())
    desc["outputs"] = {name: {"dtype": str(value.dtype), "shape": list(value.shape)}
                       for name, value in trace.items()}
    (traced / "desc.json").write_text(json.dumps(desc))
    out = work / "out-trace"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    subprocess.run([str(binary), str(traced), str(out)], check=True)
    mismatched, worst = [], 0.0
    for name, expected in trace.items():
        actual = np.load(out / f"{name}.npy")
        if actual.dtype != expected.dtype or actual.shape != expected.shape:
            mismatched.append(name)
        elif expected.dtype.kind == "f":
            worst = max(worst, float(np.max(np.abs(actual - expected))))
        elif not np.array_equal(actual, expected):
            mismatched.append(name)
    print(f"  C vs reference trace: {len(trace) - len(mismatched)} of {len(trace)} tensors agree "
          f"(bits and accumulators exactly, reals within {worst:.3g})"
          + (f"; differ: {', '.join(mismatched)}" if mismatched else ""))
    return mismatched


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="boolnet-k4")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=2, help="images per forward pass")
    parser.add_argument("--runs", type=int, default=5, help="runs of C and PyTorch")
    parser.add_argument("--reference-runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the model and case here (reused when present)")
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="boolnet-c-bench-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        binary = build_c(work)
        model_path, sd_path = build_model(work, args.config, args.seed)
        model = load_model(model_path)
        size = model.architecture.image_size
        images = np.random.default_rng(args.seed).standard_normal(
            (args.batch, 3, size, size)).astype(np.float32)
        case = write_case(work, model_path, images)
        out = work / "out"
        out.mkdir(exist_ok=True)
        per = 1000.0 / args.batch
        print(f"{args.config}: {size}x{size} images, {model.architecture.classes} classes, "
              f"batch {args.batch}; medians of {args.runs} (C, PyTorch) and "
              f"{args.reference_runs} (reference) runs")

        def run_c():
            subprocess.run([str(binary), str(case), str(out)], check=True)
            return np.load(out / "logits.npy")

        c_wall, c_cpu, c_logits = timed(run_c, args.runs, cpu_clock=child_cpu)
        ref_wall, ref_cpu, (ref_logits, _) = timed(lambda: forward(model, images),
                                                   args.reference_runs)
        diff = float(np.max(np.abs(c_logits - ref_logits)))
        same_class = bool(np.array_equal(c_logits.argmax(1), ref_logits.argmax(1)))
        rows = [("C (boolnet_c -O2, one process)", c_wall * per, c_cpu * per),
                ("numpy reference (forward)", ref_wall * per, ref_cpu * per)]
        if not args.no_torch:
            import torch

            from boolnet_spec.equivalence.pytorch.export import torch_model

            with np.load(sd_path, allow_pickle=False) as sd:
                state_dict = {key: sd[key] for key in sd.files}
            module = torch_model(model.architecture, state_dict)
            batch = torch.from_numpy(images)

            def run_torch():
                with torch.no_grad():
                    return module(batch)

            torch_wall, torch_cpu, _ = timed(run_torch, args.runs)
            rows.append((f"PyTorch model ({torch.get_num_threads()} threads)", torch_wall * per,
                         torch_cpu * per))
        print(f"  machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        print(f"  {'':38s} {'wall ms/image':>14s} {'CPU ms/image':>14s}")
        for name, wall, cpu in rows:
            print(f"  {name:38s} {wall:14.1f} {cpu:14.1f}")
        _, c_wall_ms, c_cpu_ms = rows[0]
        for name, wall, cpu in rows[1:]:
            print(f"  {name.split(' (')[0]:26s} / C: wall {wall / c_wall_ms:6.1f}x, "
                  f"CPU {cpu / c_cpu_ms:6.1f}x")
        print(f"  C vs reference logits: max |diff| = {diff:.3g}, same argmax: {same_class}")
        mismatched = check_trace(binary, work, case, model, images)
        return 0 if same_class and not mismatched else 1


if __name__ == "__main__":
    sys.exit(main())
