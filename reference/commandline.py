"""What every ``boolnet-spec`` command shares: output paths checked before work, tables, JSON,
and running a model file on an engine. Informative: the commands are assembled in
:mod:`boolnet_spec.cli`, above every layer; this module sits at the bottom so that each layer's
``register(commands)`` can use it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from boolnet_spec.reference.errors import UsageError, error_if

__all__ = ["check_output", "check_outputs", "format_table", "print_json", "add_forward_arguments",
           "forward_command"]

Column = tuple[str, int, str | Callable[[dict], object]]
"""A table column: title, width, and the row key or a function of the row."""


def check_output(path: str, flag: str = "-o") -> Path:
    """An output path in an existing directory that accepts a new file, checked before any work
    (MODEL-5, ERR-6)."""
    from boolnet_spec.reference.safe_io import check_writable

    return check_writable(path, flag)


def check_outputs(*outputs: tuple[str | None, str]) -> list[Path | None]:
    """Every ``(path, flag)`` output of one command, checked before any work; ``None`` paths are
    absent options. No two outputs may share a path (ERR-6)."""
    paths = [None if path is None else check_output(path, flag) for path, flag in outputs]
    given = [(path.resolve(), flag) for path, (_, flag) in zip(paths, outputs, strict=True)
             if path is not None]
    for index, (path, flag) in enumerate(given):
        for other, other_flag in given[:index]:
            error_if(path == other, UsageError, f"{other_flag} and {flag}",
                     "different output paths", str(path), "ERR-6")
    return paths


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def format_table(rows: Sequence[dict], columns: Sequence[Column]) -> str:
    """Right-aligned columns; ``None`` prints as ``-`` and floats with three digits."""
    lines = ["  ".join(f"{title:>{width}}" for title, width, _ in columns)]
    for row in rows:
        lines.append("  ".join(
            f"{_cell(key(row) if callable(key) else row.get(key)):>{width}}"
            for _, width, key in columns))
    return "\n".join(lines)


def print_json(report: object) -> None:
    """One JSON document on stdout: what a CI consumes (``--json``)."""
    print(json.dumps(report))


def add_forward_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of a command that runs a model file on images (``run``, ``datapath``)."""
    parser.add_argument("model", help="model file")
    parser.add_argument("--input", required=True, help="float32 images [N, 3, H, W] (.npy)")
    parser.add_argument("-o", "--output", required=True,
                        help=".npz file with logits (and trace)")
    parser.add_argument("--trace", action="store_true", help="also write every named tensor")
    parser.add_argument("--json", action="store_true", help="machine-readable summary")


def forward_command(args: argparse.Namespace, engine: str,
                    make_runner: Callable[[object], Callable], details: dict | None = None
                    ) -> int:
    """Load ``args.model``, run ``make_runner(model)(images, trace=, progress=)`` on
    ``args.input`` and write ``logits`` and the trace to ``args.output`` (MODEL-5)."""
    from tqdm import tqdm

    from boolnet_spec.reference.modelfile import load_model
    from boolnet_spec.reference.safe_io import read_npy, write_npz_atomic

    out = check_output(args.output)
    model = load_model(args.model)
    run = make_runner(model)
    images = read_npy(args.input, "--input")
    with tqdm(total=len(model.nodes), desc=engine, unit="node", disable=None,
              file=sys.stderr) as bar:
        logits, trace = run(images, trace=args.trace, progress=lambda name: bar.update())
    write_npz_atomic(out, {"logits": logits, **trace})
    top1 = np.asarray(logits).argmax(axis=1).tolist()
    if args.json:
        print_json({"output": str(out), "logits_shape": list(logits.shape), "top1": top1,
                    "trace": sorted(trace), **(details or {})})
    else:
        print(f"wrote {out}: logits {list(logits.shape)}"
              + (f" and {len(trace)} traced tensors" if trace else "") + f"; top-1 {top1}")
    return 0
