"""The ``boolnet-spec prove`` command: the built-in theorems, or a researcher's BatchNorm variant.

.. req:: PROVE-1

   ``boolnet-spec prove`` proves every theorem of :mod:`boolnet_spec.spec.theorems` (or those
   named with ``--theorem``) with a timeout per z3 query and a budget of 60 seconds for the run,
   prints one line per theorem and exits 0 only when every theorem is proved, else 1. With
   ``--json`` it prints ``{"theorems": [{"id", "name", "statement", "status", "seconds"},
   ...]}``, a theorem that is not proved adding the failing ``lemma`` and z3's ``reason`` or
   ``counterexample``. Progress goes to stderr when stderr is a terminal.

.. req:: PROVE-2

   ``boolnet-spec prove --variant=PATH.py:NAME`` loads the
   :class:`~boolnet_spec.spec.variants.declarations.Variant` named ``NAME`` from the Python file
   ``PATH.py`` and proves it (VARIANT-2 to VARIANT-5), printing the fold, or the counterexample with
   its replay. With ``--json`` it prints ``{"variant", "status", "fold", "counterexample", "reason",
   "seconds"}``. It exits 0 only when the status is ``proved``, 1 for any other status, and 2 with a
   one-line message when the file cannot be loaded, holds no such variant, or the declaration is
   invalid (VARIANT-1). The file is loaded as Python runs a script: a module beside it (``from
   helper import x``) is importable while it loads, and ``sys.path`` and ``sys.modules`` are
   restored afterwards. ``--timeout`` is the wall-time budget of the variant (default 3 s;
   VARIANT-5).

.. req:: PROVE-3

   ``boolnet-spec prove --variant=PATH.py:NAME --units=ROWS.json`` proves the variant and, when
   it is proved, prints ``{"variant", "status", "units": [{"row", "units": [{"polarity",
   "threshold"}, ...]}, ...]}``: for each row of the JSON list (one object of parameter values
   per channel; a number, or a string such as ``"1/3"`` or ``"0.1"`` read as an exact decimal)
   the threshold unit of each output (VARIANT-9). A variant that is not proved exits 1 with its
   result and no units. ``--units`` without ``--variant``, or ``--timeout`` that is not a finite
   number of seconds above 0, is a usage error (exit 2); an unreadable rows file or a row the
   declaration does not admit is bad input (exit 2).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import time
from fractions import Fraction
from pathlib import Path

from boolnet_spec.reference.errors import (
    DomainError,
    NonFiniteError,
    SpecError,
    UsageError,
    error_if,
)
from boolnet_spec.reference.limits import MAX_TEXT_BYTES, MAX_TIMEOUT_SECONDS, check_limit

__all__ = ["register", "prove_command", "load_variant"]

BUDGET_SECONDS = 60.0
THEOREM_TIMEOUT_SECONDS = 10.0
VARIANT_TIMEOUT_SECONDS = 3.0


def register(commands) -> None:
    """Add the ``prove`` subcommand to the ``boolnet-spec`` parser."""
    prove = commands.add_parser(
        "prove", help="prove the built-in theorems, or fold a BatchNorm variant",
        description="Prove the specification's theorems with z3 (exit 0 only if all are "
                    "proved), or decide whether a BatchNorm variant folds into an integer "
                    "threshold and whether its claimed fold is correct.")
    prove.add_argument("--variant", metavar="PATH.py:NAME",
                       help="prove the spec.variants.Variant named NAME in the file PATH.py")
    prove.add_argument("--theorem", action="append", metavar="LABEL",
                       help="prove only this theorem (repeatable), e.g. PROOF-9")
    prove.add_argument("--timeout", type=float, metavar="SECONDS",
                       help=f"timeout of one z3 query for a theorem (default "
                            f"{THEOREM_TIMEOUT_SECONDS:g} s), the wall-time budget of a variant "
                            f"(default {VARIANT_TIMEOUT_SECONDS:g} s)")
    prove.add_argument("--units", metavar="ROWS.json",
                       help="with --variant: print the threshold unit of each output for each "
                            "row of parameter values in this JSON list")
    prove.add_argument("--json", action="store_true", help="machine-readable output")
    prove.set_defaults(handler=prove_command)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def load_variant(target: str):
    """The :class:`~boolnet_spec.spec.variants.declarations.Variant` ``NAME`` of
    ``PATH.py:NAME`` (PROVE-2)."""
    from boolnet_spec.spec.variants import Variant, VariantError

    def fail(why: str):
        return VariantError("--variant", "PATH.py:NAME naming a spec.variants.Variant in a "
                            "Python file", f"{target!r} ({_one_line(why)})", "PROVE-2")

    path_text, _, name = target.rpartition(":")
    path = Path(path_text)
    if not path_text or not name.isidentifier():
        raise fail("expected the form PATH.py:NAME")
    if not path.is_file():
        raise fail("no such file")
    try:
        size = path.stat().st_size
    except OSError as error:
        raise fail(f"{type(error).__name__}: {error}") from None
    if size > MAX_TEXT_BYTES:
        raise fail(f"{size} bytes, more than the {MAX_TEXT_BYTES} of LIMIT-2")
    module_name = f"boolnet_variant_{abs(hash(path.resolve()))}"
    saved_path, saved_modules = list(sys.path), dict(sys.modules)
    try:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise fail("not a Python file")
        module = importlib.util.module_from_spec(spec)
        # As for a script: modules beside the file are importable while it runs.
        sys.path.insert(0, str(path.resolve().parent))
        # Registered while it runs, as an import would: dataclasses and pickling look it up.
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except VariantError:
        raise
    except (Exception, SystemExit) as error:  # the user's file may raise anything
        raise fail(f"{type(error).__name__}: {error}") from None
    finally:
        sys.path[:] = saved_path
        _forget_helpers(path.resolve().parent, saved_modules, module_name)
    variant = getattr(module, name, None)
    if not isinstance(variant, Variant):
        found = "nothing" if variant is None else f"a {type(variant).__name__}"
        raise fail(f"{name} is {found}, not a Variant")
    _check_fields(variant)
    return variant


def _forget_helpers(folder: Path, saved: dict, module_name: str) -> None:
    """Drop the variant module and the helpers loaded from ``folder``; modules from elsewhere
    (numpy, ...) stay, since a second copy of them would break."""
    for name in set(sys.modules) - set(saved):
        origin = getattr(sys.modules[name], "__file__", None)
        helper = origin and not name.startswith("boolnet_spec") and Path(
            origin).resolve().is_relative_to(folder)
        if name == module_name or helper:
            del sys.modules[name]
    for name, module in saved.items():
        if sys.modules.get(name) is not module:
            sys.modules[name] = module


def _check_fields(variant) -> None:
    """The declaration's fields have the types of :class:`~boolnet_spec.spec.variants.Variant`
    before the prover reads them (VARIANT-1, ERR-5)."""
    from boolnet_spec.spec.variants import Fold, Param, VariantError

    def wrong(field: str, expected: str, value: object):
        return VariantError(f"variant {getattr(variant, 'name', '?')!r} {field}", expected,
                            _one_line(repr(value))[:120], "VARIANT-1")

    if not isinstance(variant.name, str):
        raise wrong("name", "a string", variant.name)
    for field in ("params", "inputs"):
        values = getattr(variant, field)
        if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
            raise wrong(field, "a list of Param", values)
        for value in values:
            if not isinstance(value, Param) or not isinstance(value.name, str):
                raise wrong(field, "Param objects with a string name", value)
    for field in ("preactivation", "assumptions", "reference"):
        value = getattr(variant, field)
        if not callable(value) and not (value is None and field != "preactivation"):
            raise wrong(field, "a function", value)
    fold = variant.claimed_fold
    if fold is not None and (not isinstance(fold, Fold) or not callable(fold.direction)
                             or not callable(fold.threshold)
                             or not (fold.constant is None or callable(fold.constant))):
        raise wrong("claimed_fold", "None or a Fold of functions", fold)
    from boolnet_spec.spec.variants.declarations import Range

    if not isinstance(variant.domain, (str, Range)) or not isinstance(variant.description, str):
        raise wrong("domain/description", "a domain name or Range, and a string",
                    (variant.domain, variant.description))


def _raised_in(error: BaseException, path: Path) -> bool:
    """Whether a frame of ``error``'s traceback runs code of the file ``path``."""
    target, tb = path.resolve(), error.__traceback__
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).resolve() == target:
            return True
        tb = tb.tb_next
    return False


def _timeout_ms(args: argparse.Namespace, default: float) -> int:
    """``--timeout`` in milliseconds: finite, positive and at most MAX_TIMEOUT_SECONDS."""
    timeout = default if args.timeout is None else args.timeout
    error_if(not math.isfinite(timeout), NonFiniteError, "--timeout", "a finite number of "
             "seconds", timeout, "PROVE-1")
    error_if(timeout <= 0, DomainError, "--timeout", "a number of seconds > 0", timeout,
             "PROVE-1")
    check_limit(timeout, MAX_TIMEOUT_SECONDS, "--timeout")
    return max(1, int(timeout * 1000))


def prove_command(args: argparse.Namespace) -> int:
    if args.timeout is not None and not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UsageError("--timeout", "a finite number of seconds above 0", repr(args.timeout),
                         "PROVE-3")
    if args.units is not None and args.variant is None:
        raise UsageError("--units", "--variant=PATH.py:NAME as well", "no --variant", "PROVE-3")
    if args.variant is not None:
        if args.theorem:
            raise UsageError("--theorem", "no --variant as well", "--variant", "PROVE-2")
        return _prove_variant(args)
    return _prove_theorems(args)


def _prove_theorems(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from boolnet_spec.spec.theorems import THEOREMS, prove_all

    labels = args.theorem or list(THEOREMS)
    unknown = [label for label in labels if label not in THEOREMS]
    if unknown:
        raise UsageError("--theorem", f"one of {', '.join(THEOREMS)}", ", ".join(unknown),
                           "PROVE-1")
    timeout_ms = _timeout_ms(args, THEOREM_TIMEOUT_SECONDS)
    start = time.perf_counter()
    with tqdm(total=len(labels), desc="prove", unit="theorem", disable=None,
              file=sys.stderr) as bar:
        results = prove_all(labels, timeout_ms, BUDGET_SECONDS,
                            progress=lambda result: bar.update())
    total = time.perf_counter() - start
    proved = sum(result.status == "proved" for result in results)
    if args.json:
        print(json.dumps({"theorems": [result.to_json() for result in results]}))
    else:
        for result in results:
            print(f"{result.id:<9} {result.status:<14} {result.seconds:7.2f} s  {result.name}")
            failed = result.failed_lemma
            if failed is not None:
                print(f"{'':9} lemma: {failed.name}")
                if failed.reason:
                    print(f"{'':9} reason: {failed.reason}")
                for variable, value in (failed.model or {}).items():
                    print(f"{'':9}   {variable} = {value}")
        print(f"{proved} of {len(results)} theorems proved in {total:.1f} s")
    return 0 if proved == len(results) else 1


def _read_rows(path_text: str) -> list:
    from boolnet_spec.spec.variants import VariantError

    try:
        rows = json.loads(Path(path_text).read_text(encoding="utf-8"), parse_float=Fraction)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise VariantError("--units", "a readable JSON file", f"{path_text!r} "
                           f"({_one_line(error)})", "PROVE-3") from None
    if not isinstance(rows, list):
        raise VariantError("--units", "a JSON list of rows", type(rows).__name__, "PROVE-3")
    return rows


def _prove_variant(args: argparse.Namespace) -> int:
    from boolnet_spec.spec.variants import VariantError, prove_variant
    from boolnet_spec.spec.variants.units import check_row

    timeout_ms = _timeout_ms(args, VARIANT_TIMEOUT_SECONDS)
    variant = load_variant(args.variant)
    path = Path(args.variant.rpartition(":")[0])
    rows = _read_rows(args.units) if args.units is not None else None
    try:
        if rows is not None:
            for index, row in enumerate(rows):
                check_row(variant, row, f"--units row {index}")
        result = prove_variant(variant, timeout_ms)
        lines = [json.dumps(result.to_json()) if args.json else format_variant_result(result)]
        if rows is not None and result.status == "proved":
            units = [{"row": index, "units": [{"polarity": polarity, "threshold": threshold}
                                              for polarity, threshold in result.units(row)]}
                     for index, row in enumerate(rows)]
            if args.json:
                lines = [json.dumps({"variant": result.variant, "status": result.status,
                                     "units": units})]
            else:
                lines += [f"  row {row['row']}: " + ", ".join(
                    f"({unit['polarity']}, {unit['threshold']})" for unit in row["units"])
                    for row in units]
    except SpecError:
        raise
    except (Exception, SystemExit) as error:
        if not _raised_in(error, path):
            raise  # our bug, not the file's (ERR-3)
        raise VariantError(f"variant {variant.name!r}", "functions that return an expression "
                           "of s and the declared parameters",
                           _one_line(f"{type(error).__name__} in {path}: {error}")[:200],
                           "VARIANT-1") from None
    print("\n".join(lines))
    return 0 if result.status == "proved" else 1


def _value_lines(values: dict, indent: str) -> list[str]:
    width = max((len(name) for name in values), default=0)
    return [f"{indent}{name:<{width}} = {v['exact']}  ({v['decimal']})"
            for name, v in values.items()]


def format_variant_result(result) -> str:
    """The human-readable report of :func:`boolnet_spec.spec.variants.prove_variant`."""
    lines = [f"variant {result.variant}: {result.status} ({result.seconds:.2f} s)"]
    if result.description:
        lines.append(f"  {result.description}")
    if result.reason:
        lines.append(f"  {result.reason}")
    folds = (result.fold or {}).get("outputs", [result.fold or {}])
    for index, fold in enumerate(folds, 1):
        if len(folds) > 1:
            lines.append(f"  output {index}:")
        derived = fold.get("derived", fold) if fold.get("source") == "claimed" else fold
        if fold.get("source") == "claimed":
            lines.append(f"  claimed fold: {fold['rule']}")
        if derived:
            lines.append(f"  derived fold: {derived['rule']}")
            lines += [f"    {key} = {derived[key]}" for key in ("a", "t", "y(0)")
                      if key in derived]
    witness = result.counterexample
    if witness:
        if "output" in witness:
            lines.append(f"  output: {witness['output']}")
        lines.append("  parameters:")
        lines += _value_lines(witness["params"], "    ")
        if "inputs" in witness:
            for index, inputs in enumerate(witness["inputs"], 1):
                lines.append(f"  inputs ({index}):")
                lines += _value_lines(inputs, "    ")
        lines.append(f"  s = {witness['s']}")
        ys = witness["y"] if isinstance(witness["y"], list) else [witness["y"]]
        lines.append("  y(s) = " + ", ".join(f"{y['exact']} ({y['decimal']})" for y in ys
                                            if y is not None))
        if "fold_bit" in witness:
            lines.append(f"  sign bit {witness['bit']}, fold bit {witness['fold_bit']}")
        else:
            lines.append(f"  bits {witness['bits']}")
        replay = witness["replay"]
        lines.append(f"  replay: {'confirmed' if replay['confirmed'] else 'NOT confirmed'} by "
                     f"{', '.join(replay['via'])}"
                     + (f" ({replay['detail']})" if replay.get("detail") else ""))
    return "\n".join(lines)
