"""Training of the bundled model: a scaled BoolNet k=4 on scikit-learn's bundled 8x8 digits.

The bundled checkpoint (``data/boolnet-digits.safetensors``) is the default model of
``boolnet-spec compare`` and ``boolnet-spec certify``. It is reproduced by::

    python -m boolnet_spec.equivalence.pytorch.train --seed 0 -o equivalence/pytorch/data

which writes the checkpoint, its provenance (command, seed, accuracies, torch version, wall time)
and the sample test inputs beside it. Nothing is downloaded: the digits ship with scikit-learn.

.. req:: TRAIN-1

   Data: the 1797 digits of ``sklearn.datasets.load_digits`` split once into 1437 training and 360
   test images (``train_test_split(test_size=0.2, stratify=labels, random_state=0)``), scaled to
   ``[0, 1]``, upsampled bilinearly from 8x8 to 32x32, replicated to 3 channels and standardised
   with the training set's mean and standard deviation.

.. req:: TRAIN-2

   Training uses the authors' semantics (TORCH-1, TORCH-2): progressive binarization of the
   weights with the temperature buffers multiplied by 0.965 at every scheduled update, the
   straight-through gradients, Adam, cross entropy. It is reproducible from its seed: the
   generator of ``torch.manual_seed(seed)``, deterministic algorithms, 2 threads, and the recorded
   hyperparameters. The trained model reaches at least 90% top-1 on the 360 test images, both in
   PyTorch (eval mode) and in the folded reference (NET-7).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from boolnet_spec.reference.architecture import Architecture, architecture
from boolnet_spec.reference.errors import DomainError, error_if
from boolnet_spec.reference.safe_io import write_outputs

__all__ = ["DIGITS_ARCH", "TrainConfig", "digits_dataset", "train", "evaluate", "main"]

DIGITS_ARCH = architecture("boolnet-k4").scaled(name="boolnet-k4-digits", widths=(16, 32),
                                                blocks=(2, 2), classes=10, image_size=32)
DATA = Path(__file__).resolve().parent / "data"
CHECKPOINT = "boolnet-digits.safetensors"
PROVENANCE = "boolnet-digits.json"
SAMPLES = "digits-samples.npy"
SAMPLE_LABELS = "digits-sample-labels.npy"


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of TRAIN-2; the defaults made the bundled checkpoint."""

    seed: int = 0
    epochs: int = 15
    batch_size: int = 64
    lr: float = 5e-3
    temperature_every: int = 2     # iterations between update_temperature() calls
    temperature_until: float = 0.7  # fraction of the iterations after which T is frozen
    threads: int = 1
    samples: int = 16


def digits_dataset(size: int = 32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                             torch.Tensor]:
    """``(x_train, y_train, x_test, y_test)`` of TRAIN-1; images float32 ``[N, 3, size, size]``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images.astype(np.float32) / 16.0
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=0.2, stratify=digits.target, random_state=0)

    def upsample(x: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(x)[:, None]
        return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)

    train, test = upsample(x_train), upsample(x_test)
    mean, std = train.mean(), train.std()
    train, test = ((t - mean) / std for t in (train, test))
    return (train.expand(-1, 3, -1, -1).contiguous(), torch.from_numpy(y_train).long(),
            test.expand(-1, 3, -1, -1).contiguous(), torch.from_numpy(y_test).long())


def _init(model: torch.nn.Module) -> None:
    """The authors' initialisation: Kaiming (fan-out) weights, binary weights scaled by 1e-2."""
    from boolnet_spec.equivalence.pytorch.model import BConv, MultiBConv

    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, (BConv, MultiBConv)):
            torch.nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            module.weight.data.mul_(1e-2)


def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy of ``model`` in eval mode."""
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean())


def train(config: TrainConfig, arch: Architecture = DIGITS_ARCH,
          progress: bool = True) -> tuple[torch.nn.Module, dict]:
    """Train a model of ``arch`` on the digits (TRAIN-2); returns it in eval mode and metrics."""
    from tqdm import tqdm

    from boolnet_spec.equivalence.pytorch.model import BoolNet

    torch.set_num_threads(config.threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(config.seed)
    x_train, y_train, x_test, y_test = digits_dataset(arch.image_size)
    model = BoolNet(arch, sign_mode="official")
    _init(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    steps_per_epoch = -(-len(x_train) // config.batch_size)
    total = config.epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, total)
    generator = torch.Generator().manual_seed(config.seed)
    step = 0
    start = time.perf_counter()
    with tqdm(total=total, desc="train", unit="step", disable=None if progress else True,
              file=sys.stderr) as bar:
        for _ in range(config.epochs):
            model.train()
            order = torch.randperm(len(x_train), generator=generator)
            for first in range(0, len(x_train), config.batch_size):
                index = order[first:first + config.batch_size]
                loss = F.cross_entropy(model(x_train[index]), y_train[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.step()
                step += 1
                if step % config.temperature_every == 0 and \
                        step <= config.temperature_until * total:
                    model.update_temperature()
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.3f}")
    seconds = time.perf_counter() - start
    metrics = {"train_accuracy": evaluate(model, x_train, y_train),
               "test_accuracy": evaluate(model, x_test, y_test),
               "train_seconds": round(seconds, 1), "steps": step,
               "final_temperature": float(model.layer1[0].conv1.temperature)}
    model.eval()
    return model, metrics


def reference_accuracy(model: torch.nn.Module, arch: Architecture, x: torch.Tensor,
                       y: torch.Tensor) -> float:
    """Top-1 accuracy of the folded reference model (NET-7) exported from ``model``."""
    from boolnet_spec.equivalence.pytorch.export import export_model
    from boolnet_spec.reference.network import forward

    logits, _ = forward(export_model(model, arch), x.numpy())
    return float((logits.argmax(1) == y.numpy()).mean())


def checkpoint_bytes(model: torch.nn.Module, metadata: dict | None = None) -> bytes:
    """The state dict as ``.safetensors`` bytes (every tensor contiguous, on the CPU)."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return save(state, metadata={k: str(v) for k, v in (metadata or {}).items()})


def check_output_directory(path: str) -> Path:
    """An output directory that exists and accepts new files, or a new one in such a directory,
    checked before training (ERR-6)."""
    from boolnet_spec.reference.safe_io import check_writable

    out = Path(path)
    error_if(out.exists() and not out.is_dir(), DomainError, "-o", "a directory",
             f"{out} (a file)", "ERR-6")
    check_writable(out / CHECKPOINT if out.is_dir() else out, "-o")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the bundled BoolNet digits model.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("-o", "--output", default=str(DATA),
                        help="directory for the checkpoint, provenance and samples")
    args = parser.parse_args(argv)
    out = check_output_directory(args.output)
    config = TrainConfig(seed=args.seed, epochs=args.epochs)
    wall = time.perf_counter()
    model, metrics = train(config)
    _, _, x_test, y_test = digits_dataset(DIGITS_ARCH.image_size)
    metrics["reference_test_accuracy"] = reference_accuracy(model, DIGITS_ARCH, x_test, y_test)
    metrics["wall_seconds"] = round(time.perf_counter() - wall, 1)
    checkpoint = checkpoint_bytes(model, {"architecture": json.dumps(DIGITS_ARCH.to_json())})
    samples = x_test[:config.samples].numpy()
    labels = y_test[:config.samples].numpy().astype(np.int64)
    provenance = {
        "command": "python -m boolnet_spec.equivalence.pytorch.train " + " ".join(
            argv if argv is not None else sys.argv[1:]),
        "architecture": DIGITS_ARCH.to_json(), "config": asdict(config), **metrics,
        "samples": {"file": SAMPLES, "labels": SAMPLE_LABELS,
                    "source": f"the first {config.samples} test images of TRAIN-1"},
        "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} thread(s)",
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }
    text = (json.dumps(provenance, indent=1) + "\n").encode("utf-8")
    out.mkdir(exist_ok=True)
    # The four files or none, each with the umask-derived mode (ERR-6).
    write_outputs({out / CHECKPOINT: lambda handle: handle.write(checkpoint),
                   out / SAMPLES: lambda handle: np.save(handle, samples),
                   out / SAMPLE_LABELS: lambda handle: np.save(handle, labels),
                   out / PROVENANCE: lambda handle: handle.write(text)})
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
