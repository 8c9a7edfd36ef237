"""Benchmark: the reference forward of a whole network against the same network in PyTorch.

Runs ``boolnet-k4`` (224x224, batch 8 by default) with calibrated random parameters, once through
the numpy reference and once through the float32 PyTorch model (2 CPU threads), each in its own
process so that peak RSS is per engine. Prints medians, the per-image ratio and peak memory.

    python benchmarks/reference_vs_torch.py [--config boolnet-k4] [--batch 8] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reference(config: str, state_path: str, images: np.ndarray, repeats: int, queue) -> None:
    from boolnet_spec.reference.architecture import architecture
    from boolnet_spec.reference.build import build_model
    from boolnet_spec.reference.network import forward

    model = build_model(architecture(config), dict(np.load(state_path)))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        logits, _ = forward(model, images)
        times.append(time.perf_counter() - start)
    queue.put({"times": times, "peak_rss_mb": _peak_rss_mb(), "logits": logits})


def _torch(config: str, state_path: str, images: np.ndarray, repeats: int, queue) -> None:
    import torch

    from boolnet_spec.equivalence.pytorch.model import BoolNet
    from boolnet_spec.reference.architecture import architecture

    torch.set_num_threads(2)
    model = BoolNet(architecture(config))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in np.load(state_path).items()},
                          strict=True)
    model.eval()
    batch = torch.from_numpy(images)
    times = []
    with torch.no_grad():
        model(batch)  # warm-up: oneDNN picks its kernels on the first call
        for _ in range(repeats):
            start = time.perf_counter()
            logits = model(batch)
            times.append(time.perf_counter() - start)
    queue.put({"times": times, "peak_rss_mb": _peak_rss_mb(), "logits": logits.numpy()})


def _in_child(target, *args) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    if process.exitcode:
        raise SystemExit(f"{target.__name__} failed with exit code {process.exitcode}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="boolnet-k4")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from tqdm import tqdm

    from boolnet_spec.reference.architecture import architecture
    from boolnet_spec.reference.build import random_state_dict

    arch = architecture(args.config)
    steps = tqdm(total=3, desc="benchmark", disable=args.json, file=sys.stderr)
    steps.set_postfix_str("calibrating random parameters")
    state = random_state_dict(arch, args.seed)
    images = np.random.default_rng(args.seed + 1).standard_normal(
        (args.batch, 3, arch.image_size, arch.image_size)).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        state_path = str(Path(folder) / "state.npz")
        np.savez(state_path, **state)
        steps.update()
        steps.set_postfix_str("reference")
        ref = _in_child(_reference, args.config, state_path, images, args.repeats)
        steps.update()
        steps.set_postfix_str("torch")
        pt = _in_child(_torch, args.config, state_path, images, args.repeats + 2)
        steps.update()
    steps.close()
    ref_median, pt_median = statistics.median(ref["times"]), statistics.median(pt["times"])
    relative = np.abs(ref["logits"] - pt["logits"]).max() / np.abs(ref["logits"]).max()
    report = {
        "config": args.config, "batch": args.batch, "image_size": arch.image_size,
        "reference_seconds": ref["times"], "torch_seconds": pt["times"],
        "reference_median_per_image": ref_median / args.batch,
        "torch_median_per_image": pt_median / args.batch,
        "ratio_reference_over_torch": ref_median / pt_median,
        "reference_peak_rss_mb": ref["peak_rss_mb"], "torch_peak_rss_mb": pt["peak_rss_mb"],
        "top1_agreement": float((ref["logits"].argmax(1) == pt["logits"].argmax(1)).mean()),
        "max_relative_logit_difference": float(relative),
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"{args.config}, {arch.image_size}x{arch.image_size}, batch {args.batch}")
    print(f"  reference: median {ref_median:.3f} s ({report['reference_median_per_image']:.3f} "
          f"s/image), peak RSS {ref['peak_rss_mb']:.0f} MB")
    print(f"  torch fp32 (2 threads): median {pt_median:.3f} s "
          f"({report['torch_median_per_image']:.3f} s/image), peak RSS {pt['peak_rss_mb']:.0f} MB")
    print(f"  ratio reference / torch: {report['ratio_reference_over_torch']:.2f}")
    print(f"  top-1 agreement {report['top1_agreement']:.3f}, max relative logit difference "
          f"{relative:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
