"""The prover: does a variant fold into an integer threshold, and is a claimed fold right?

:func:`prove_variant` decides, for every admissible parameter value at once, whether the variant
folds and whether the fold is right.

.. req:: VARIANT-2

   Foldability. The output bit is ``[y(s) >= 0]`` (ENC-2). A variant folds into one threshold unit
   on ``s`` when, for every admissible value of its parameters and inputs, the bit does not depend
   on the inputs, and the bit is monotone in ``s``: no ``s1 < s2 < s3`` in the domain carry bits
   ``1, 0, 1`` or ``0, 1, 0``. Else the result is ``not-foldable`` with a witness: two input values
   that give different bits at one ``s``, or the three points. A pre-activation that is monotone in
   ``s`` always folds; the prover decides the exact condition, monotone bits.

.. req:: VARIANT-3

   The fold. A fold gives, for each parameter value, a direction ``d``, a threshold ``t`` and
   optionally a constant bit ``c``: the bit is ``[s >= t]`` where ``d > 0`` (or ``True``),
   ``[s <= t]`` where ``d < 0`` (or ``False``) and ``c`` where ``d = 0``; without ``c`` it is
   ``[s >= t]`` where ``d = 0``, so a threshold may itself handle ``d = 0`` (e.g. ``-n`` or
   ``n + 2`` on ``D_n``). Without a claimed fold, when ``y`` is affine in ``s`` (proved:
   ``y(s) = a*s + y(0)`` with ``a = y(1) - y(0)``) the derived fold has ``d = a``,
   ``t = ceil(-y(0)/a)`` for ``a > 0``, ``t = floor(-y(0)/a)`` for ``a < 0`` and
   ``c = [y(0) >= 0]``; a monotone ``y`` that is not affine folds at its first (or last) 1 bit,
   evaluated per channel (VARIANT-9). The fold is correct when its bit equals ``[y(s) >= 0]`` at
   every ``s`` of the domain for every admissible value and its threshold never divides by zero
   where it is used; else the result is ``counterexample``. A variant with integer parameters is
   first proved with them relaxed to reals, which covers the integers; a witness over the reals
   counts only where its integer parameters are integers, else the integers are decided
   directly.

.. req:: VARIANT-5

   The result is ``proved`` (the variant folds and its fold is correct), ``counterexample``,
   ``not-foldable`` or ``unknown``, which names the query z3 did not decide and z3's reason (a
   query that times out is unknown). All queries of one variant share one wall-time budget,
   3 s by default (``prove_variant(timeout_ms=...)``, ``--timeout``); a query that would only
   shorten a witness already found is skipped when the budget is spent. A witness is minimised
   toward small ``|s|``, small integers and parameters on a short dyadic grid. A claimed fold
   without a ``name`` is reported as its formula.

.. req:: VARIANT-7

   Quantizers with several outputs. A pre-activation that returns a tuple ``(y_1, ..., y_k)``
   declares ``k`` output bits ``b_j = [y_j(s) >= 0]``, e.g. the ``k`` slices of one channel
   (SLICE-1) or a ternary or 2-bit activation. It folds into a thermometer of thresholds when
   each output folds (VARIANT-2, VARIANT-3, its own derived or claimed fold) and the bits are
   non-decreasing in ``j`` at every ``s`` and admissible value (SLICE-2's order, PROOF-13): else
   ``not-foldable`` with a witness ``s`` where ``b_j = 1`` and ``b_{j+1} = 0``. A claimed fold
   returns a tuple of ``k`` thresholds (and directions and constants, or one for all); each
   component is checked against its output, a counterexample naming the output.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import z3

from boolnet_spec.spec.variants.abstraction import abstract_check
from boolnet_spec.spec.variants.declarations import (
    ARITHMETIC,
    DOMAINS,
    Fold,
    Input,
    Param,
    Range,
    Values,
    Variant,
    VariantError,
)
from boolnet_spec.spec.variants.expressions import Exact, Term, UndefinedError, ceil, floor, where
from boolnet_spec.spec.variants.formulas import fold_text, rational_text
from boolnet_spec.spec.variants.replay import exact_fold_bit, exact_text, replay
from boolnet_spec.spec.variants.solver import Solver, find_witness
from boolnet_spec.spec.variants.symbolic import (
    Symbols,
    as_arith,
    call,
    divides_by_zero,
    fold_terms,
    symbolic_fold_bit,
    symbolic_preactivation,
)

__all__ = ["VariantResult", "prove_variant", "BUDGET_MS"]

BUDGET_MS = 3000
NON_AFFINE_RULE = ("1 iff s >= s0 where the bits increase in s, s <= s0 where they decrease, s0 "
                   "the first or last s of the domain with y(s) >= 0; y is not affine in s, so s0 "
                   "is found per channel by bisection over the domain on exact rationals "
                   "(VariantResult.units, boolnet-spec prove --units)")


@dataclass
class VariantResult:
    """The verdict of :func:`prove_variant` (VARIANT-5). For a proved variant, :meth:`units`
    evaluates the fold per channel (VARIANT-9)."""

    variant: str
    status: str
    fold: dict | None = None
    counterexample: dict | None = None
    reason: str | None = None
    seconds: float = 0.0
    steps: list = field(default_factory=list)  # (query, z3's answer, seconds, z3's reason)
    description: str = ""
    declaration: Variant | None = field(default=None, repr=False)

    def to_json(self) -> dict:
        return {"variant": self.variant, "status": self.status, "fold": self.fold,
                "counterexample": self.counterexample, "reason": self.reason,
                "seconds": round(self.seconds, 3)}

    def units(self, values: Mapping) -> list[tuple[int, int]]:
        """The threshold unit of each output for one channel's parameter values (VARIANT-9)."""
        from boolnet_spec.spec.variants.units import channel_units

        if self.status != "proved" or self.declaration is None:
            raise VariantError(f"variant {self.variant!r}", "a proved variant", self.status,
                               "VARIANT-9")
        return channel_units(self.declaration, values)


@dataclass
class _Outcome:
    status: str
    fold: dict | None = None
    counterexample: dict | None = None
    reason: str | None = None
    values: dict | None = None  # the raw parameter values of the witness


def describe_values(values: Mapping) -> dict:
    return {name: exact_text(value) for name, value in values.items()}


def _replay_summary(replayed: dict) -> dict:
    return {k: v for k, v in replayed.items() if k in ("confirmed", "via", "detail")}


def _constant(p: Values, value: int):
    """``value`` as an accumulator on the side ``p`` is on: a z3 term or an exact rational."""
    symbolic = any(isinstance(v, Term) for v in p._values.values())
    return Term(z3.RealVal(value)) if symbolic else Exact(Fraction(value))


def _input_dependence(symbols, solver) -> tuple[str, dict | None, dict | None]:
    first, first_ok = symbols.inputs("_1")
    second, second_ok = symbols.inputs("_2")
    s, s_ok = symbols.accumulator("s")
    bit_1 = symbolic_preactivation(symbols, s, first) >= 0
    bit_2 = symbolic_preactivation(symbols, s, second) >= 0
    formulas = [symbols.admissible(first, first_ok), symbols.admissible(second, second_ok), s_ok,
                bit_1 != bit_2]
    terms = {**symbols.consts, "s": s, **{f"{k}_1": v for k, v in first.items()},
             **{f"{k}_2": v for k, v in second.items()}}
    answer, values = find_witness(solver, "bit depends on an input", formulas, terms)
    if answer != "sat":
        return answer, None, None
    params = {k: values[k] for k in symbols.consts}
    point = values["s"]
    names = [i.name for i in symbols.variant.inputs]
    replays = [replay(symbols.variant, {**params, **{k: values[f"{k}{suffix}"] for k in names}},
                      [point], lambda ys, bits: True) for suffix in ("_1", "_2")]
    confirmed = all(r["confirmed"] for r in replays) and replays[0]["bits"] != replays[1]["bits"]
    witness = {"params": describe_values(params), "s": point,
               "inputs": [describe_values({k: values[f"{k}{suffix}"] for k in names})
                          for suffix in ("_1", "_2")],
               "y": [r.get("y", [None])[0] for r in replays],
               "bits": [r.get("bits", [None])[0] for r in replays],
               "replay": {"confirmed": confirmed, "via": replays[0]["via"]}}
    return "sat", witness, {**params, **{k: values[f"{k}_1"] for k in names}}




def _monotone(symbols, solver, admissible) -> tuple[str, dict | None, dict | None]:
    inputs, _ = symbols.inputs()
    variant = symbols.variant

    def pattern(points) -> z3.BoolRef:
        bits = [as_arith(call(variant, "preactivation", variant.preactivation, Term(at),
                              symbols.values(inputs)), variant, "preactivation") >= 0
                for at in points]
        return z3.And(points[0] < points[1], points[1] < points[2],
                      z3.Or(z3.And(bits[0], z3.Not(bits[1]), bits[2]),
                            z3.And(z3.Not(bits[0]), bits[1], z3.Not(bits[2]))))

    # Real points first: when no real s1 < s2 < s3 shows the pattern, no integer ones do.
    reals = z3.Reals("r1 r2 r3")
    inside = [symbols.real_bounds(r) for r in reals]
    answer, _ = solver.check("bit monotone over real s", admissible, *inside, pattern(reals))
    if answer == z3.unsat:
        return "unsat", None, None
    points = [symbols.accumulator(f"s{i}") for i in (1, 2, 3)]
    formulas = [admissible, *[ok for _, ok in points],
                pattern([z3.ToReal(s) for s, _ in points])]
    terms = {**symbols.consts, **inputs, **{f"s{i}": s for i, (s, _) in enumerate(points, 1)}}
    answer, values = find_witness(solver, "bit monotone over the domain", formulas, terms)
    if answer != "sat":
        return answer, None, None
    params = {k: values[k] for k in [*symbols.consts, *inputs]}
    at = [values["s1"], values["s2"], values["s3"]]
    replayed = replay(variant, params, at, lambda ys, b: b[0] == b[2] != b[1])
    return "sat", {"params": describe_values(params), "s": at, "y": replayed.get("y"),
                   "bits": replayed.get("bits"), "replay": _replay_summary(replayed)}, params




def _derived_fold(symbols, solver, admissible) -> tuple[Fold | None, dict, tuple | None]:
    """The fold of an affine pre-activation with its slope ``a`` and level ``y(0)``, or ``None``
    with the reason it has none."""
    inputs, _ = symbols.inputs()
    variant = symbols.variant

    def rebuild(p):
        # y(1) - y(0) and y(0) on whatever values p holds: z3 terms or exact rationals.
        level = variant.preactivation(_constant(p, 0), p)
        return variant.preactivation(_constant(p, 1), p) - level, level

    values = symbols.values(inputs)
    at = z3.Real("s_real")
    y = as_arith(call(variant, "preactivation", variant.preactivation, Term(at), values), variant,
                 "preactivation")
    slope, level = (as_arith(v, variant, "preactivation")
                    for v in call(variant, "preactivation", rebuild, values))
    answer, _ = solver.check("pre-activation affine in s", admissible, y != slope * at + level)
    if answer != z3.unsat:
        return None, {"source": "derived", "rule": NON_AFFINE_RULE}, None
    fold = Fold(direction=lambda p: rebuild(p)[0],
                threshold=lambda p: where(rebuild(p)[0] > 0,
                                          ceil(-rebuild(p)[1] / rebuild(p)[0]),
                                          floor(-rebuild(p)[1] / rebuild(p)[0])),
                constant=lambda p: rebuild(p)[1] >= 0, name="derived fold")
    return fold, {"source": "derived",
                  "rule": "1 iff s >= ceil(t) where a > 0, s <= floor(t) where a < 0, "
                          "y(0) >= 0 where a = 0",
                  "a": rational_text(slope), "t": rational_text(-level / slope),
                  "y(0)": rational_text(level)}, (slope, level)




def _correctness(symbols, solver, admissible, inputs_ok, fold: Fold, affine) \
        -> tuple[str, dict | None, dict | None]:
    inputs, _ = symbols.inputs()
    s, s_ok = symbols.accumulator("s")
    y = symbolic_preactivation(symbols, s, inputs)
    bit, used = symbolic_fold_bit(fold, symbols, s, inputs)
    threshold = fold_terms(fold, symbols, inputs)[1]
    terms = {**symbols.consts, **inputs, "s": s}
    answer, values = find_witness(solver, "fold threshold defined where used",
                                  [admissible, s_ok, divides_by_zero(threshold, used)], terms)
    if answer == "unsat":
        # The abstraction decides folds built from floors of the root; a concrete counterexample
        # comes from the direct query.
        if affine is not None and abstract_check(symbols, solver, admissible, inputs_ok, s,
                                                 s_ok, bit, affine) == "unsat":
            return "unsat", None, None
        answer, values = find_witness(solver, "fold equals [y(s) >= 0]",
                                      [admissible, s_ok, bit != (y >= 0)], terms, purify=True)
    if answer != "sat":
        return answer, None, None
    point = values.pop("s")
    variant = symbols.variant
    try:
        fold_bit = exact_fold_bit(fold, variant, point, values)
        fold_text = int(fold_bit)
    except UndefinedError:
        fold_bit, fold_text = None, "undefined (the threshold divides by zero)"
    replayed = replay(variant, values, [point], lambda ys, bits: bits[0] != fold_bit)
    return "sat", {"params": describe_values(values), "s": point,
                   "y": replayed.get("y", [None])[0], "bit": replayed.get("bits", [None])[0],
                   "fold_bit": fold_text, "replay": _replay_summary(replayed)}, values


def _check_declaration(variant: Variant) -> None:
    if not isinstance(variant, Variant):
        raise VariantError("variant", "a spec.variants.Variant", type(variant).__name__,
                           "VARIANT-1")
    name = variant.name
    if not isinstance(variant.domain, Range) and variant.domain not in DOMAINS:
        raise VariantError(f"variant {name!r} domain", f"one of {DOMAINS} or a Range",
                           repr(variant.domain), "VARIANT-1")
    for what, items, kind in (("params", variant.params, Param), ("inputs", variant.inputs, Input)):
        if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
            raise VariantError(f"variant {name!r} {what}", "a list", repr(items), "VARIANT-1")
        for item in items:
            if not isinstance(item, kind):
                raise VariantError(f"variant {name!r} {what}", f"a list of {kind.__name__}",
                                   repr(item), "VARIANT-1")
    for what in ("preactivation", "assumptions"):
        function = getattr(variant, what)
        if not callable(function) and not (what == "assumptions" and function is None):
            raise VariantError(f"variant {name!r} {what}", "a function", repr(function),
                               "VARIANT-1")
    fold = variant.claimed_fold
    if fold is not None:
        if not isinstance(fold, Fold) or not callable(fold.direction) or not callable(
                fold.threshold) or not (fold.constant is None or callable(fold.constant)):
            raise VariantError(f"variant {name!r} claimed_fold", "a Fold of functions",
                               repr(fold), "VARIANT-1")
        if fold.arithmetic not in ARITHMETIC:
            raise VariantError(f"variant {name!r} fold arithmetic", f"one of {ARITHMETIC}",
                               repr(fold.arithmetic), "VARIANT-1")


def prove_variant(variant: Variant, timeout_ms: int = BUDGET_MS) -> VariantResult:
    """Decide whether ``variant`` folds and whether its (claimed or derived) fold is correct
    (VARIANT-2 to VARIANT-8), within ``timeout_ms`` of wall time for the whole variant."""
    start = time.perf_counter()
    _check_declaration(variant)
    if not isinstance(timeout_ms, int) or isinstance(timeout_ms, bool) or timeout_ms <= 0:
        raise VariantError("timeout_ms", "a positive int", repr(timeout_ms), "VARIANT-5")
    solver = Solver(timeout_ms)
    outputs = _output_count(variant)
    if variant.claimed_fold is not None and variant.claimed_fold.arithmetic == "float32":
        from boolnet_spec.spec.variants.float32 import prove_float32_fold

        if outputs > 1:
            raise VariantError(f"variant {variant.name!r} fold arithmetic", "a float32 fold of "
                               "one output", f"{outputs} outputs", "VARIANT-8")
        outcome = _prove_outputs(variant, outputs, solver)
        if outcome.status == "proved":
            outcome = prove_float32_fold(variant, solver, outcome)
    else:
        outcome = _prove_outputs(variant, outputs, solver)
    return VariantResult(variant.name, outcome.status, outcome.fold, outcome.counterexample,
                         outcome.reason, time.perf_counter() - start, solver.steps,
                         variant.description, variant)


def _output_count(variant: Variant) -> int:
    """1 for a pre-activation, ``k`` for a tuple of ``k`` (VARIANT-7)."""
    symbols = Symbols(variant, relaxed=True)
    value = call(variant, "preactivation", variant.preactivation, Term(z3.Real("s_probe")),
                 symbols.values(symbols.inputs()[0]))
    if isinstance(value, (tuple, list)):
        if len(value) < 2:
            raise VariantError(f"variant {variant.name!r} preactivation", "one expression or a "
                               "tuple of at least 2", f"a tuple of {len(value)}", "VARIANT-7")
        return len(value)
    return 1


def _component(value, index: int, outputs: int, variant: Variant, what: str):
    if isinstance(value, (tuple, list)):
        if len(value) != outputs:
            raise VariantError(f"variant {variant.name!r} {what}", f"{outputs} values, one per "
                               "output", f"{len(value)}", "VARIANT-7")
        return value[index]
    return value


def output_variant(variant: Variant, index: int, outputs: int) -> Variant:
    """The single-output variant of output ``index`` of a quantizer (VARIANT-7)."""
    def pick(function, what):
        if function is None:
            return None
        return lambda *args: _component(function(*args), index, outputs, variant, what)

    fold = variant.claimed_fold
    if fold is not None:
        fold = Fold(pick(fold.direction, "fold direction"), pick(fold.threshold, "fold threshold"),
                    pick(fold.constant, "fold constant"), fold.name, fold.arithmetic)
    return Variant(f"{variant.name} output {index + 1}", variant.params,
                   pick(variant.preactivation, "preactivation"), fold, variant.inputs,
                   variant.domain, variant.assumptions, None, variant.description)


def _prove_outputs(variant: Variant, outputs: int, solver: Solver) -> _Outcome:
    if outputs == 1:
        return _prove_integers(variant, solver)
    folds = []
    for index in range(outputs):
        outcome = _prove_integers(output_variant(variant, index, outputs), solver)
        if outcome.status != "proved":
            if outcome.counterexample is not None:
                outcome.counterexample["output"] = index + 1
            outcome.reason = f"output {index + 1}: {outcome.reason}"
            return outcome
        folds.append(outcome.fold)
    answer, witness, values = _thermometer(variant, outputs, solver)
    fold = {"source": folds[0].get("source"), "rule": "a thermometer of one threshold per "
            "output: the bits are non-decreasing in the output index", "outputs": folds}
    if answer == "unsat":
        return _Outcome("proved", fold=fold)
    if answer == "sat" and witness["replay"]["confirmed"]:
        j = witness["output"]
        return _Outcome("not-foldable", fold=fold, counterexample=witness, values=values,
                        reason=f"the bits are not a thermometer code: at s = {witness['s']} "
                               f"output {j} gives 1 and output {j + 1} gives 0")
    return _Outcome("unknown", fold=fold, reason=_unknown_reason(answer, witness, solver))


def _thermometer(variant: Variant, outputs: int, solver: Solver):
    """A point where output ``j`` is 1 and output ``j + 1`` is 0 (VARIANT-7)."""
    symbols = Symbols(variant)
    inputs, inputs_ok = symbols.inputs()
    admissible = symbols.admissible(inputs, inputs_ok)
    s, s_ok = symbols.accumulator("s")
    ys = [symbolic_preactivation(Symbols(output_variant(variant, j, outputs)), s, inputs)
          for j in range(outputs)]
    pair = z3.Int("output")
    broken = z3.Or([z3.And(pair == j, ys[j - 1] >= 0, ys[j] < 0) for j in range(1, outputs)])
    terms = {**symbols.consts, **inputs, "s": s, "output": pair}
    answer, values = find_witness(solver, "bits form a thermometer code",
                                  [admissible, s_ok, broken], terms)
    if answer != "sat":
        return answer, None, None
    j, point = values.pop("output"), values.pop("s")
    replays = [replay(output_variant(variant, index, outputs), values, [point],
                      lambda ys, bits: True) for index in (j - 1, j)]
    bits = [r.get("bits", [None])[0] for r in replays]
    confirmed = all(r["confirmed"] for r in replays) and bits == [1, 0]
    return "sat", {"params": describe_values(values), "s": point, "output": j,
                   "y": [r.get("y", [None])[0] for r in replays], "bits": bits,
                   "replay": {"confirmed": confirmed, "via": replays[0]["via"]}}, values


def _prove_integers(variant: Variant, solver: Solver) -> _Outcome:
    """A variant with integer parameters is proved over the reals first: that covers the
    integers. A witness over the reals counts only when its integer parameters are integers."""
    integer = [p.name for p in variant.params if p.integer]
    if not integer:
        return _prove_once(variant, Symbols(variant), solver)
    solver.proof_only = True
    try:
        relaxed = _prove_once(variant, Symbols(variant, relaxed=True), solver)
    finally:
        solver.proof_only = False
    if relaxed.status == "proved":
        relaxed.reason = ("proved over the reals, which covers the integer parameters "
                          f"{', '.join(integer)}")
        return relaxed
    return _prove_once(variant, Symbols(variant), solver)


def _prove_once(variant: Variant, symbols: Symbols, solver: Solver) -> _Outcome:
    inputs, inputs_ok = symbols.inputs()
    admissible = symbols.admissible(inputs, inputs_ok)
    answer, _ = solver.check("admissible parameters exist", admissible)
    if answer == z3.unsat:
        raise VariantError(f"variant {variant.name!r} parameters", "at least one admissible "
                           "value", "constraints that no value satisfies", "VARIANT-1")
    s, s_ok = symbols.accumulator("s")
    y = symbolic_preactivation(symbols, s, inputs)
    answer, found = solver.check("pre-activation defined", admissible, s_ok, divides_by_zero(y))
    if answer == z3.sat:
        at = ", ".join(f"{decl.name()} = {found.model()[decl]}" for decl in found.model().decls()
                       if decl.arity() == 0)
        raise VariantError(f"variant {variant.name!r} preactivation", "no division by zero at "
                           "admissible parameters (declare the divisor positive or nonzero)",
                           at, "VARIANT-1")

    if variant.inputs:
        answer, witness, values = _input_dependence(symbols, solver)
        if answer == "sat" and witness["replay"]["confirmed"]:
            names = ", ".join(i.name for i in variant.inputs)
            return _Outcome("not-foldable", counterexample=witness, values=values,
                            reason=f"the bit depends on the input {names}, not on s alone: at "
                                   f"s = {witness['s']} two values give the bits "
                                   f"{witness['bits'][0]} and {witness['bits'][1]}")
        if answer != "unsat":
            return _Outcome("unknown", reason=_unknown_reason(answer, witness, solver))

    answer, witness, values = _monotone(symbols, solver, admissible)
    if answer == "sat" and witness["replay"]["confirmed"]:
        return _Outcome("not-foldable", counterexample=witness, values=values,
                        reason=f"the bit is not monotone in s: bits {witness['bits']} at "
                               f"s = {witness['s']}")
    if answer != "unsat":
        return _Outcome("unknown", reason=_unknown_reason(answer, witness, solver))

    derived, derived_text, affine = _derived_fold(symbols, solver, admissible)
    claimed = variant.claimed_fold
    fold = claimed or derived
    if fold is None:
        return _Outcome("proved", fold=derived_text)
    text = derived_text if claimed is None else {
        "source": "claimed", "rule": claimed.name or fold_text(*fold_terms(claimed, symbols,
                                                                             inputs)),
        "derived": derived_text}
    answer, counterexample, values = _correctness(symbols, solver, admissible, inputs_ok, fold,
                                                  affine)
    if answer == "unsat":
        return _Outcome("proved", fold=text)
    if answer == "sat" and counterexample["replay"]["confirmed"]:
        return _Outcome("counterexample", fold=text, counterexample=counterexample,
                        values=values,
                        reason=f"at s = {counterexample['s']} the fold gives "
                               f"{counterexample['fold_bit']} and sign(y) gives "
                               f"{counterexample['bit']}")
    return _Outcome("unknown", fold=text, reason=_unknown_reason(answer, counterexample, solver))


def _unknown_reason(answer: str, witness: dict | None, solver: Solver) -> str:
    if answer == "sat" and witness is not None:
        return f"z3's witness was not confirmed by the replay: {witness['replay']}"
    return solver.unknown_reason()
