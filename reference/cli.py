"""The ``boolnet-spec`` command line."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

from reference import SPEC_VERSION
from reference.accumulator import check_n
from reference.batchnorm import DEFAULT_EPS, BatchNorm
from reference.errors import DomainError, NonFiniteError, SpecError, error_if
from reference.exact import round_to_float32
from reference.fold import fold_bn_sign
from reference.slices import slice_offsets
from reference.threshold import GE

__all__ = ["main", "build_parser"]


DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def float32_from_decimal(text: str, flag: str) -> np.float32:
    """The float32 nearest to the decimal ``text`` (EXACT-1)."""
    if not DECIMAL.fullmatch(text.strip()):
        non_finite = text.strip().lower().lstrip("+-") in ("nan", "inf", "infinity")
        raise (NonFiniteError if non_finite else DomainError)(
            flag, "a finite decimal number such as -1.25e-3", repr(text), "EXACT-1")
    value = Fraction(text.strip())
    rounded = round_to_float32(value)
    error_if(not np.isfinite(rounded), NonFiniteError, flag,
             "a decimal below 2**128 - 2**103 in magnitude (float32 range)", text, "EXACT-1")
    return rounded


def binary64_from_decimal(text: str, flag: str) -> float:
    """The binary64 nearest to the decimal ``text``; NaN and infinities are errors."""
    try:
        value = float(text)
    except ValueError:
        raise DomainError(flag, "a decimal number", repr(text), "BN-2") from None
    error_if(not math.isfinite(value), NonFiniteError, flag, "a finite binary64 number", text,
             "BN-2")
    return value


def describe_unit(cmp: str, t: int, n: int) -> str:
    if cmp == ">=" and t == -n:
        return "constant 1"
    if cmp == ">=" and t == n + 2:
        return "constant 0"
    return f"1 iff s {cmp} {t}"


def fold_command(args: argparse.Namespace) -> int:
    scalar = {flag: float32_from_decimal(getattr(args, flag), f"--{flag}")
              for flag in ("gamma", "beta", "mean", "var", "alpha", "bias")}
    error_if(not re.fullmatch(r"[+-]?\d+", args.n.strip()), DomainError, "--n",
             "an integer dot-product length", repr(args.n), "ACC-3")
    args.n = check_n(int(args.n), "--n")
    eps = binary64_from_decimal(args.eps, "--eps")
    if args.slices is not None:
        offsets = slice_offsets(args.slices)
    else:
        offsets = np.array([float32_from_decimal(o, "--offsets") for o in args.offsets.split(",")],
                           dtype=np.float32)
    error_if(Fraction(float(scalar["var"])) + Fraction(eps) <= 0, DomainError, "--var/--eps",
             "var + eps > 0", f"var = {float(scalar['var'])!r}, eps = {eps!r}", "BN-2")
    error_if(scalar["alpha"] <= 0, DomainError, "--alpha", "alpha > 0", float(scalar["alpha"]),
             "FOLD-1")
    as_array = {flag: np.array([value], np.float32) for flag, value in scalar.items()}
    bn = BatchNorm(as_array["gamma"], as_array["beta"], as_array["mean"], as_array["var"], eps,
                   name="fold")
    units = fold_bn_sign(bn, args.n, as_array["alpha"], as_array["bias"], offsets)
    rows = [{"offset": float(offset), "cmp": ">=" if units.polarity[j, 0] == GE else "<=",
             "t": int(units.threshold[j, 0])} for j, offset in enumerate(offsets)]
    if args.json:
        print(json.dumps({"n": args.n, "slices": rows}))
        return 0
    print(f"n = {args.n}: s in D_n = {{-{args.n}, -{args.n}+2, ..., {args.n}}}")
    print(f"{'slice':>5}  {'offset':>22}  {'cmp':>3}  {'t':>6}  bit")
    for j, row in enumerate(rows):
        print(f"{j:>5}  {row['offset']!r:>22}  {row['cmp']:>3}  {row['t']:>6}  "
              f"{describe_unit(row['cmp'], row['t'], args.n)}")
    return 0


def check_output(path: str, flag: str = "-o") -> Path:
    """An output path in an existing directory, checked before any work (MODEL-5)."""
    out = Path(path)
    error_if(not out.parent.is_dir(), DomainError, flag, "a path in an existing directory",
             str(out), "MODEL-5")
    error_if(out.is_dir(), DomainError, flag, "a file path, not a directory", str(out), "MODEL-5")
    return out


def integers(text: str, flag: str) -> tuple[int, ...]:
    error_if(not re.fullmatch(r"\d+(,\d+)*", text.strip()), DomainError, flag,
             "comma-separated positive integers", repr(text), "ARCH-1")
    return tuple(int(v) for v in text.split(","))


def build_command(args: argparse.Namespace) -> int:
    from reference.architecture import architecture
    from reference.build import build_model, random_state_dict
    from reference.modelfile import save_model, write_npz_atomic
    from reference.statedict import load_state_dict

    out = check_output(args.output)
    export = check_output(args.export_state_dict, "--export-state-dict") \
        if args.export_state_dict else None
    arch = architecture(args.config)
    scale = {"widths": integers(args.widths, "--widths") if args.widths else None,
             "blocks": integers(args.blocks, "--blocks") if args.blocks else None,
             "classes": args.classes, "image_size": args.image_size}
    if any(v is not None for v in scale.values()):
        arch = arch.scaled(**scale)
    state = random_state_dict(arch, args.seed) if args.random else \
        load_state_dict(args.state_dict)
    model = build_model(arch, state)
    save_model(model, out)
    if export is not None:
        write_npz_atomic(export, state)
    layers = model.layers()
    summary = {"output": str(out), "architecture": arch.to_json(), "nodes": len(model.nodes),
               "binary_layers": len(layers),
               "threshold_units": sum(r["threshold_units"] for r in layers),
               "constant_units": sum(r["constant_units"] for r in layers)}
    print(json.dumps(summary) if args.json else
          f"wrote {out}: {arch.name} ({arch.family}, S = {arch.slices}), {len(model.nodes)} "
          f"nodes, {summary['threshold_units']} threshold units "
          f"({summary['constant_units']} constant)")
    return 0


def run_command(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from reference.modelfile import load_model, read_npy, write_npz_atomic
    from reference.network import forward

    out = check_output(args.output)
    model = load_model(args.model)
    images = read_npy(args.input, "--input")
    with tqdm(total=len(model.nodes), desc="run", unit="node", disable=None,
              file=sys.stderr) as bar:
        logits, trace = forward(model, images, trace=args.trace,
                                progress=lambda name: bar.update())
    write_npz_atomic(out, {"logits": logits, **trace})
    top1 = logits.argmax(axis=1).tolist()
    if args.json:
        print(json.dumps({"output": str(out), "logits_shape": list(logits.shape), "top1": top1,
                          "trace": sorted(trace)}))
    else:
        print(f"wrote {out}: logits {list(logits.shape)}"
              + (f" and {len(trace)} traced tensors" if trace else "") + f"; top-1 {top1}")
    return 0


INFO_COLUMNS = (("layer", 22), ("input", 18), ("output", 18), ("k", 5), ("st", 3), ("dil", 3),
                ("g", 3), ("pool", 4), ("n", 6), ("acc range", 14), ("S", 2), ("units", 6),
                ("const", 5), ("weight bits", 11), ("act bits", 9))


def info_command(args: argparse.Namespace) -> int:
    from reference.modelfile import load_model

    model = load_model(args.model)
    layers = model.layers()
    if args.json:
        print(json.dumps({"architecture": model.architecture.to_json(), "layers": layers}))
        return 0
    arch = model.architecture
    print(f"{arch.name}: {arch.family}, S = {arch.slices}, widths {list(arch.widths)}, blocks "
          f"{list(arch.blocks)}, {arch.image_size}x{arch.image_size}, {arch.classes} classes")
    print("  ".join(f"{title:>{width}}" for title, width in INFO_COLUMNS))
    for row in layers:
        cells = (row["layer"], "x".join(map(str, row["input"])),
                 "x".join(map(str, row["output"])), "x".join(map(str, row["kernel"])),
                 row["stride"], row["dilation"], row["groups"], row["pool"], row["n"],
                 f"[{-row['n']}, {row['n']}]", row["slices"], row["threshold_units"],
                 row["constant_units"], row["weight_bits"], row["activation_bits"])
        print("  ".join(f"{cell!s:>{width}}" for cell, (_, width) in zip(cells, INFO_COLUMNS,
                                                                         strict=True)))
    print(f"total: {sum(r['weight_bits'] for r in layers)} weight bits, "
          f"{sum(r['threshold_units'] for r in layers)} threshold units "
          f"({sum(r['constant_units'] for r in layers)} constant)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="boolnet-spec",
                                     description="The BoolNet bit-level reference specification.")
    parser.add_argument("--version", action="version", version=f"boolnet-spec {SPEC_VERSION}")
    commands = parser.add_subparsers(dest="command", required=True)

    fold = commands.add_parser(
        "fold", help="print the threshold units of one BatchNorm channel",
        description="Fold sign(BN(alpha*s + bias) + offset) over s in D_n into canonical "
                    "threshold units, by exact arithmetic. Decimal values are rounded to the "
                    "nearest float32; --eps is binary64.")
    fold.add_argument("--gamma", required=True, help="BN weight (decimal, rounded to float32)")
    fold.add_argument("--beta", required=True, help="BN bias")
    fold.add_argument("--mean", required=True, help="BN running_mean")
    fold.add_argument("--var", required=True, help="BN running_var")
    fold.add_argument("--eps", default=repr(DEFAULT_EPS), help="BN eps (binary64, default 1e-5)")
    fold.add_argument("--n", required=True, help="dot-product length n")
    fold.add_argument("--alpha", default="1", help="positive weight scale (default 1)")
    fold.add_argument("--bias", default="0", help="conv bias (default 0)")
    offsets = fold.add_mutually_exclusive_group()
    offsets.add_argument("--offsets", default="0",
                         help="comma-separated slice offsets (default: a single 0)")
    offsets.add_argument("--slices", type=int, help="use the authors' offsets for S slices")
    fold.add_argument("--json", action="store_true", help="machine-readable output")
    fold.set_defaults(handler=fold_command)

    from reference.architecture import CONFIGS

    build = commands.add_parser(
        "build", help="fold float parameters into a model file",
        description="Build a folded model of a published configuration from the authors' "
                    "state dict, or from calibrated random parameters.")
    build.add_argument("--config", required=True, choices=sorted(CONFIGS))
    source = build.add_mutually_exclusive_group(required=True)
    source.add_argument("--state-dict", help="a .pth (torch.load weights_only), .safetensors "
                                             "or .npz file in the authors' layout")
    source.add_argument("--random", action="store_true",
                        help="calibrated random parameters (see --seed)")
    build.add_argument("--seed", type=int, default=0, help="seed of --random (default 0)")
    build.add_argument("--widths", help="scaled stage widths, e.g. 8,16,32,64")
    build.add_argument("--blocks", help="scaled blocks per stage, e.g. 1,1,1,1")
    build.add_argument("--image-size", type=int, help="scaled image size")
    build.add_argument("--classes", type=int, help="scaled number of classes")
    build.add_argument("--export-state-dict", help="also write the float parameters (.npz)")
    build.add_argument("-o", "--output", required=True, help="model file to write")
    build.add_argument("--json", action="store_true", help="machine-readable summary")
    build.set_defaults(handler=build_command)

    run = commands.add_parser("run", help="run a model file on images",
                              description="Reference forward pass of a model file.")
    run.add_argument("model", help="model file")
    run.add_argument("--input", required=True, help="float32 images [N, 3, H, W] (.npy)")
    run.add_argument("-o", "--output", required=True, help=".npz file with logits (and trace)")
    run.add_argument("--trace", action="store_true", help="also write every named tensor")
    run.add_argument("--json", action="store_true", help="machine-readable summary")
    run.set_defaults(handler=run_command)

    info = commands.add_parser("info", help="per-layer table of a model file")
    info.add_argument("model", help="model file")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(handler=info_command)
    # The other packages' commands; their heavy imports (z3, torch) wait until a command runs.
    from equivalence.datapath.cli import register_datapath
    from equivalence.pytorch.cli import register as register_pytorch
    from spec.prove_cli import register as register_prove

    register_prove(commands)
    register_pytorch(commands)
    register_datapath(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except SpecError as error:
        print(f"boolnet-spec {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # A reader such as `head` closed the pipe: stop quietly, like other Unix tools.
        sys.stderr.close()
        return 1


if __name__ == "__main__":
    sys.exit(main())
