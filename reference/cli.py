"""The ``boolnet-spec`` command line."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from fractions import Fraction

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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except SpecError as error:
        print(f"boolnet-spec {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
