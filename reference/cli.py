"""The reference layer's commands: ``fold``, ``build``, ``run`` and ``info``."""

from __future__ import annotations

import argparse
import json
import math
import re
from fractions import Fraction
from pathlib import Path

import numpy as np

from boolnet_spec.reference.accumulator import check_n
from boolnet_spec.reference.batchnorm import DEFAULT_EPS, BatchNorm
from boolnet_spec.reference.commandline import (
    add_forward_arguments,
    check_output,
    check_outputs,
    format_table,
    forward_command,
    print_json,
)
from boolnet_spec.reference.errors import (
    BoundError,
    DomainError,
    FormatError,
    NonFiniteError,
    UsageError,
    error_if,
)
from boolnet_spec.reference.exact import round_to_float32
from boolnet_spec.reference.fold import fold_bn_sign
from boolnet_spec.reference.limits import (
    MAX_NUMBER_CHARS,
    MAX_SLICES,
    MAX_STAGES,
    check_limit,
    check_seed,
)
from boolnet_spec.reference.slices import slice_offsets
from boolnet_spec.reference.threshold import GE

__all__ = ["register", "float32_from_decimal", "binary64_from_decimal"]


DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _check_length(text: str, flag: str) -> str:
    text = text.strip()
    error_if(len(text) > MAX_NUMBER_CHARS, BoundError, flag,
             f"a number of at most {MAX_NUMBER_CHARS} characters", f"{len(text)} characters",
             "LIMIT-3")
    return text


def _decimal_order(match: re.Match) -> int | None:
    """``e`` with ``10**e <= |value| < 10**(e + 1)`` from the digits and the exponent alone, or
    ``None`` for zero (LIMIT-3)."""
    whole, _, fraction = match.group(1).partition(".")
    exponent = int(match.group(2)[1:]) if match.group(2) else 0
    if whole.lstrip("0"):
        return len(whole.lstrip("0")) - 1 + exponent
    if fraction.strip("0"):
        return -(len(fraction) - len(fraction.lstrip("0"))) - 1 + exponent
    return None


def float32_from_decimal(text: str, flag: str) -> np.float32:
    """The float32 nearest to the decimal ``text`` (EXACT-1), its magnitude bounded before it
    is expanded exactly (LIMIT-3)."""
    text = _check_length(text, flag)
    match = DECIMAL.fullmatch(text)
    if not match:
        non_finite = text.lower().lstrip("+-") in ("nan", "inf", "infinity")
        raise (NonFiniteError if non_finite else DomainError)(
            flag, "a finite decimal number such as -1.25e-3", repr(text), "EXACT-1")
    order = _decimal_order(match)
    negative = text.startswith("-")
    if order is None or order < -60:  # below half the smallest subnormal: a signed zero
        return np.float32(-0.0 if negative else 0.0)
    error_if(order >= 39, NonFiniteError, flag,
             "a decimal below 2**128 - 2**103 in magnitude (float32 range)", text, "EXACT-1")
    rounded = round_to_float32(Fraction(text))
    error_if(not np.isfinite(rounded), NonFiniteError, flag,
             "a decimal below 2**128 - 2**103 in magnitude (float32 range)", text, "EXACT-1")
    return rounded


def binary64_from_decimal(text: str, flag: str) -> float:
    """The binary64 nearest to the decimal ``text``; NaN and infinities are errors."""
    text = _check_length(text, flag)
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


FOLD_FIELDS = ("gamma", "beta", "mean", "var", "n")
FOLD_DEFAULTS = {"eps": repr(DEFAULT_EPS), "alpha": "1", "bias": "0", "offsets": "0",
                 "slices": ""}
MAX_FOLD_ROWS = 1 << 20
MAX_FOLD_CSV_BYTES = 256 << 20


def fold_row(values: dict[str, str], where: str) -> tuple[int, np.ndarray, object]:
    """``(n, offsets, units)`` of one BatchNorm row of decimal strings (EXACT-1, FOLD-1 to 8);
    errors name ``where`` and the field."""
    scalar = {key: float32_from_decimal(values[key], f"{where}{key}")
              for key in ("gamma", "beta", "mean", "var", "alpha", "bias")}
    error_if(not re.fullmatch(r"[+-]?\d+", values["n"].strip()), DomainError, f"{where}n",
             "an integer dot-product length", repr(values["n"]), "ACC-3")
    n = check_n(int(_check_length(values["n"], f"{where}n")), f"{where}n")
    eps = binary64_from_decimal(values["eps"], f"{where}eps")
    if values.get("slices", "").strip():
        error_if(not re.fullmatch(r"\d+", values["slices"].strip()), DomainError,
                 f"{where}slices", "a slice count", repr(values["slices"]), "SLICE-1")
        slices = int(_check_length(values["slices"], f"{where}slices"))
        offsets = slice_offsets(check_limit(slices, MAX_SLICES, f"{where}slices"))
    else:
        texts = values["offsets"].split(",")
        check_limit(len(texts), MAX_SLICES, f"{where}offsets (slices)")
        offsets = np.array([float32_from_decimal(o, f"{where}offsets") for o in texts],
                           dtype=np.float32)
    pair = "--var/--eps" if where == "--" else f"{where}var/eps"
    error_if(Fraction(float(scalar["var"])) + Fraction(eps) <= 0, DomainError, pair,
             "var + eps > 0", f"var = {float(scalar['var'])!r}, eps = {eps!r}", "BN-2")
    error_if(scalar["alpha"] <= 0, DomainError, f"{where}alpha", "alpha > 0",
             float(scalar["alpha"]), "FOLD-1")
    as_array = {flag: np.array([value], np.float32) for flag, value in scalar.items()}
    bn = BatchNorm(as_array["gamma"], as_array["beta"], as_array["mean"], as_array["var"], eps,
                   name="fold")
    return n, offsets, fold_bn_sign(bn, n, as_array["alpha"], as_array["bias"], offsets)


def fold_batch(args: argparse.Namespace) -> int:
    """``fold --batch=IN.csv -o OUT.csv``: one output row per input row and slice."""
    import csv
    import io

    from boolnet_spec.reference.safe_io import write_atomic

    error_if(not args.output, UsageError, "-o", "an output CSV with --batch", "none", "FOLD-1")
    error_if(any(getattr(args, key) is not None for key in FOLD_FIELDS), UsageError,
             "--batch", "no --gamma/--beta/--mean/--var/--n beside it",
             "both", "FOLD-1")
    out = check_output(args.output)
    path = Path(args.batch)
    error_if(not path.is_file(), FormatError, str(path), "an existing CSV file", "missing",
             "FOLD-1")
    error_if(path.stat().st_size > MAX_FOLD_CSV_BYTES, BoundError, str(path),
             f"at most {MAX_FOLD_CSV_BYTES} bytes", path.stat().st_size, "FOLD-1")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise FormatError(str(path), "UTF-8 text", "undecodable bytes", "FOLD-1") from None
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [key for key in FOLD_FIELDS if key not in header]
    error_if(bool(missing), FormatError, f"{path} header", f"columns {list(FOLD_FIELDS)} "
             f"(optional {sorted(FOLD_DEFAULTS)})", f"missing {missing}", "FOLD-1")
    unknown = sorted(set(header) - set(FOLD_FIELDS) - set(FOLD_DEFAULTS))
    error_if(bool(unknown), FormatError, f"{path} header", "only the fold columns",
             f"unknown {unknown}", "FOLD-1")
    rows = []
    for number, record in enumerate(reader, 1):
        error_if(number > MAX_FOLD_ROWS, BoundError, str(path), f"at most {MAX_FOLD_ROWS} rows",
                 number, "FOLD-1")
        error_if(None in record or any(v is None for v in record.values()), FormatError,
                 f"{path} row {number}", f"{len(header)} fields", "another count", "FOLD-1")
        values = {**FOLD_DEFAULTS, **{k: v for k, v in record.items() if v != ""}}
        n, offsets, units = fold_row(values, f"{path} row {number} column ")
        rows += [{"row": number, "slice": j, "offset": repr(float(offset)), "n": n,
                  "polarity": int(units.polarity[j, 0]), "threshold": int(units.threshold[j, 0]),
                  "cmp": ">=" if units.polarity[j, 0] == GE else "<="}
                 for j, offset in enumerate(offsets)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, ["row", "slice", "offset", "n", "polarity", "threshold",
                                     "cmp"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(out, lambda handle: handle.write(buffer.getvalue().encode("utf-8")))
    summary = {"output": str(out), "rows": len({r["row"] for r in rows}), "units": len(rows)}
    print(json.dumps(summary) if args.json else
          f"wrote {out}: {summary['units']} units of {summary['rows']} rows")
    return 0


def fold_command(args: argparse.Namespace) -> int:
    if args.batch is not None:
        return fold_batch(args)
    absent = [f"--{key}" for key in FOLD_FIELDS if getattr(args, key) is None]
    error_if(bool(absent), UsageError, "fold", "--gamma, --beta, --mean, --var and --n (or "
             "--batch)", f"missing {absent}", "FOLD-1")
    error_if(args.output is not None, UsageError, "-o", "only with --batch", args.output,
             "FOLD-1")
    values = {key: getattr(args, key) for key in (*FOLD_FIELDS, "eps", "alpha", "bias",
                                                  "offsets")}
    values["slices"] = "" if args.slices is None else str(args.slices)
    args.n, offsets, units = fold_row(values, "--")
    rows = [{"offset": float(offset), "cmp": ">=" if units.polarity[j, 0] == GE else "<=",
             "t": int(units.threshold[j, 0])} for j, offset in enumerate(offsets)]
    if args.json:
        print_json({"n": args.n, "slices": rows})
        return 0
    print(f"n = {args.n}: s in D_n = {{-{args.n}, -{args.n}+2, ..., {args.n}}}")
    print(f"{'slice':>5}  {'offset':>22}  {'cmp':>3}  {'t':>6}  bit")
    for j, row in enumerate(rows):
        print(f"{j:>5}  {row['offset']!r:>22}  {row['cmp']:>3}  {row['t']:>6}  "
              f"{describe_unit(row['cmp'], row['t'], args.n)}")
    return 0


def integers(text: str, flag: str) -> tuple[int, ...]:
    error_if(not re.fullmatch(r"\d+(,\d+)*", text.strip()), DomainError, flag,
             "comma-separated positive integers", repr(text), "ARCH-1")
    values = text.strip().split(",")
    check_limit(len(values), MAX_STAGES, f"{flag} (stages)")
    return tuple(int(_check_length(v, flag)) for v in values)


def build_command(args: argparse.Namespace) -> int:
    from boolnet_spec.reference.architecture import architecture
    from boolnet_spec.reference.build import build_model, random_state_dict
    from boolnet_spec.reference.modelfile import write_model
    from boolnet_spec.reference.safe_io import write_outputs
    from boolnet_spec.reference.statedict import load_state_dict

    out, export = check_outputs((args.output, "-o"),
                                (args.export_state_dict, "--export-state-dict"))
    seed = check_seed(args.seed)
    arch = architecture(args.config)
    scale = {"widths": integers(args.widths, "--widths") if args.widths else None,
             "blocks": integers(args.blocks, "--blocks") if args.blocks else None,
             "classes": args.classes, "image_size": args.image_size}
    if any(v is not None for v in scale.values()):
        arch = arch.scaled(**scale)
    state = random_state_dict(arch, seed) if args.random else \
        load_state_dict(args.state_dict)
    model = build_model(arch, state)
    outputs = {out: lambda handle: write_model(model, handle)}
    if export is not None:
        outputs[export] = lambda handle: np.savez_compressed(handle, **state)
    write_outputs(outputs)  # both files or neither (ERR-6)
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
    from boolnet_spec.reference.network import forward

    return forward_command(args, "run", lambda model: lambda images, **kw: forward(model, images,
                                                                                      **kw))


INFO_COLUMNS = (
    ("layer", 22, "layer"), ("input", 18, lambda r: "x".join(map(str, r["input"]))),
    ("output", 18, lambda r: "x".join(map(str, r["output"]))),
    ("k", 5, lambda r: "x".join(map(str, r["kernel"]))), ("st", 3, "stride"),
    ("dil", 3, "dilation"), ("g", 3, "groups"), ("pool", 4, "pool"), ("n", 6, "n"),
    ("acc range", 14, lambda r: f"[{-r['n']}, {r['n']}]"), ("S", 2, "slices"),
    ("units", 6, "threshold_units"), ("const", 5, "constant_units"),
    ("weight bits", 11, "weight_bits"), ("act bits", 9, "activation_bits"))


def info_command(args: argparse.Namespace) -> int:
    from boolnet_spec.reference.modelfile import load_model

    model = load_model(args.model)
    layers = model.layers()
    if args.json:
        print_json({"architecture": model.architecture.to_json(), "layers": layers})
        return 0
    arch = model.architecture
    print(f"{arch.name}: {arch.family}, S = {arch.slices}, widths {list(arch.widths)}, blocks "
          f"{list(arch.blocks)}, {arch.image_size}x{arch.image_size}, {arch.classes} classes")
    print(format_table(layers, INFO_COLUMNS))
    print(f"total: {sum(r['weight_bits'] for r in layers)} weight bits, "
          f"{sum(r['threshold_units'] for r in layers)} threshold units "
          f"({sum(r['constant_units'] for r in layers)} constant)")
    return 0


def register(commands) -> None:
    """Add ``fold``, ``build``, ``run`` and ``info`` to the ``boolnet-spec`` parser."""

    fold = commands.add_parser(
        "fold", help="print the threshold units of one BatchNorm channel",
        description="Fold sign(BN(alpha*s + bias) + offset) over s in D_n into canonical "
                    "threshold units, by exact arithmetic. Decimal values are rounded to the "
                    "nearest float32; --eps is binary64.")
    fold.add_argument("--gamma", help="BN weight (decimal, rounded to float32)")
    fold.add_argument("--beta", help="BN bias")
    fold.add_argument("--mean", help="BN running_mean")
    fold.add_argument("--var", help="BN running_var")
    fold.add_argument("--eps", default=repr(DEFAULT_EPS), help="BN eps (binary64, default 1e-5)")
    fold.add_argument("--n", help="dot-product length n")
    fold.add_argument("--alpha", default="1", help="positive weight scale (default 1)")
    fold.add_argument("--bias", default="0", help="conv bias (default 0)")
    offsets = fold.add_mutually_exclusive_group()
    offsets.add_argument("--offsets", default="0",
                         help="comma-separated slice offsets (default: a single 0)")
    offsets.add_argument("--slices", type=int, help="use the authors' offsets for S slices")
    fold.add_argument("--batch", metavar="IN.csv",
                      help="fold every row of a CSV with columns gamma,beta,mean,var,n and "
                           "optional eps,alpha,bias,offsets (quoted, comma-separated),slices")
    fold.add_argument("-o", "--output", metavar="OUT.csv", help="with --batch: the units CSV")
    fold.add_argument("--json", action="store_true", help="machine-readable output")
    fold.set_defaults(handler=fold_command)

    from boolnet_spec.reference.architecture import CONFIGS

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
    add_forward_arguments(run)
    run.set_defaults(handler=run_command)

    info = commands.add_parser("info", help="per-layer table of a model file")
    info.add_argument("model", help="model file")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(handler=info_command)
