"""The ``boolnet-spec`` command line, assembled above every layer.

Each layer adds its own commands through ``register(commands)``; this module only builds the
parser and turns outcomes into the exit codes of ERR-3.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from boolnet_spec.equivalence.conformance.cli import register as register_conformance
from boolnet_spec.equivalence.datapath.cli import register as register_datapath
from boolnet_spec.equivalence.pytorch.cli import register as register_pytorch
from boolnet_spec.reference import SPEC_VERSION
from boolnet_spec.reference.cli import register as register_reference
from boolnet_spec.reference.errors import (
    EXIT_FINDING,
    EXIT_INPUT,
    EXIT_INTERNAL,
    InternalError,
    SpecError,
)
from boolnet_spec.spec.prove_cli import register as register_prove

__all__ = ["main", "build_parser", "REGISTRARS"]

# Layer order, bottom up; heavy imports (z3, torch) wait until a command runs.
REGISTRARS = (register_reference, register_prove, register_pytorch, register_datapath,
              register_conformance)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="boolnet-spec", description="The BoolNet bit-level reference specification.",
        epilog="Exit codes: 0 everything holds; 1 a finding (mismatch, counterexample, "
               "not-foldable, unknown, unproved, failed case); 2 bad input or usage; "
               "3 internal error.")
    parser.add_argument("--version", action="version", version=f"boolnet-spec {SPEC_VERSION}")
    commands = parser.add_subparsers(dest="command", required=True)
    for register in REGISTRARS:
        register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    prefix = f"boolnet-spec {args.command}"
    try:
        return args.handler(args)
    except SpecError as error:
        print(f"{prefix}: error: {error}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:
        # A reader such as `head` closed the pipe: stop quietly, like other Unix tools.
        sys.stderr.close()
        return EXIT_FINDING
    except KeyboardInterrupt:
        raise
    except InternalError as error:
        print(f"{prefix}: {error}", file=sys.stderr)
        return EXIT_INTERNAL
    except MemoryError:
        # Within every limit of LIMIT-1, the request still exceeds this machine: refuse cleanly.
        print(f"{prefix}: error: memory: expected an input within this machine's memory, got "
              "one that needs more [LIMIT-1]", file=sys.stderr)
        return EXIT_INPUT
    except Exception as error:  # a bug of ours, never the input's: say so (ERR-3)
        traceback.print_exc(file=sys.stderr)
        print(f"{prefix}: {InternalError(f'{type(error).__name__}: {error}')}", file=sys.stderr)
        return EXIT_INTERNAL

