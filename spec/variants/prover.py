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
   ``[s <= t]`` where ``d < 0`` (or ``False``) and ``c`` where ``d = 0`` (``[s >= t]`` when there
   is no ``c``). Without a claimed fold, when ``y`` is affine in ``s`` (proved:
   ``y(s) = a*s + y(0)`` with ``a = y(1) - y(0)``) the derived fold has ``d = a``,
   ``t = ceil(-y(0)/a)`` for ``a > 0``, ``t = floor(-y(0)/a)`` for ``a < 0`` and
   ``c = [y(0) >= 0]``; a monotone ``y`` that is not affine folds at its first 1 bit, without a
   closed form. The fold is correct when its bit equals ``[y(s) >= 0]`` at every ``s`` of the
   domain for every admissible value and its threshold never divides by zero where it is used;
   else the result is ``counterexample``.

.. req:: VARIANT-5

   The result is ``proved`` (the variant folds and its fold is correct), ``counterexample``,
   ``not-foldable`` or ``unknown`` (with z3's reason; a query that times out is unknown). Every
   solver query has a timeout.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import z3

from boolnet_spec.spec.variants.declarations import DOMAINS, Fold, Param, Variant, VariantError
from boolnet_spec.spec.variants.expressions import ceil, floor, where
from boolnet_spec.spec.variants.formulas import rational_text
from boolnet_spec.spec.variants.replay import (
    exact_fold_bit,
    exact_text,
    replay,
)
from boolnet_spec.spec.variants.solver import Solver, find_witness
from boolnet_spec.spec.variants.symbolic import (
    Symbols,
    as_arith,
    call,
    divides_by_zero,
    symbolic_fold_bit,
    symbolic_preactivation,
)

__all__ = ["VariantResult", "prove_variant"]


@dataclass
class VariantResult:
    """The verdict of :func:`prove_variant` (VARIANT-5)."""

    variant: str
    status: str
    fold: dict | None = None
    counterexample: dict | None = None
    reason: str | None = None
    seconds: float = 0.0
    steps: list = field(default_factory=list)  # (query, z3's answer, seconds)
    description: str = ""

    def to_json(self) -> dict:
        return {"variant": self.variant, "status": self.status, "fold": self.fold,
                "counterexample": self.counterexample, "reason": self.reason,
                "seconds": round(self.seconds, 3)}


def describe_values(values: Mapping) -> dict:
    return {name: exact_text(value) for name, value in values.items()}


def _input_dependence(symbols, solver, admissible) -> tuple[str, dict | None]:
    first, first_ok = symbols.inputs("_1")
    second, second_ok = symbols.inputs("_2")
    s, s_ok = symbols.accumulator("s")
    bit_1 = symbolic_preactivation(symbols, s, first) >= 0
    bit_2 = symbolic_preactivation(symbols, s, second) >= 0
    formulas = [admissible, first_ok, second_ok, s_ok, bit_1 != bit_2]
    terms = {**symbols.consts, "s": s, **{f"{k}_1": v for k, v in first.items()},
             **{f"{k}_2": v for k, v in second.items()}}
    answer, values = find_witness(solver, "bit depends on an input", formulas, terms)
    if answer != "sat":
        return answer, None
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
    return "sat", witness


def _monotone(symbols, solver, admissible) -> tuple[str, dict | None]:
    inputs, inputs_ok = symbols.inputs()
    variant = symbols.variant

    def pattern(points) -> z3.BoolRef:
        bits = [as_arith(call(variant, "preactivation", variant.preactivation, at,
                                symbols.values(inputs)), variant, "preactivation") >= 0
                for at in points]
        return z3.And(points[0] < points[1], points[1] < points[2],
                      z3.Or(z3.And(bits[0], z3.Not(bits[1]), bits[2]),
                            z3.And(z3.Not(bits[0]), bits[1], z3.Not(bits[2]))))

    # Real points first: when no real s1 < s2 < s3 shows the pattern, no integer ones do.
    reals = z3.Reals("r1 r2 r3")
    inside = [z3.And(-symbols.consts["n"] <= r, r <= symbols.consts["n"])
              for r in reals] if variant.domain == "D_n" else []
    answer, _ = solver.check("bit monotone over real s", admissible, inputs_ok, *inside,
                             pattern(reals))
    if answer == z3.unsat:
        return "unsat", None
    points = [symbols.accumulator(f"s{i}") for i in (1, 2, 3)]
    formulas = [admissible, inputs_ok, *[ok for _, ok in points],
                pattern([z3.ToReal(s) for s, _ in points])]
    terms = {**symbols.consts, **inputs, **{f"s{i}": s for i, (s, _) in enumerate(points, 1)}}
    answer, values = find_witness(solver, "bit monotone over the domain", formulas, terms)
    if answer != "sat":
        return answer, None
    params = {k: values[k] for k in [*symbols.consts, *inputs]}
    at = [values["s1"], values["s2"], values["s3"]]
    replayed = replay(variant, params, at, lambda ys, b: b[0] == b[2] != b[1])
    return "sat", {"params": describe_values(params), "s": at, "y": replayed.get("y"),
                   "bits": replayed.get("bits"),
                   "replay": {k: v for k, v in replayed.items() if k in ("confirmed", "via",
                                                                       "detail")}}


def _derived_fold(symbols, solver, admissible) -> tuple[Fold | None, dict, tuple | None]:
    """The fold of an affine pre-activation with its slope ``a`` and level ``y(0)``, or ``None``
    with the reason it has none."""
    inputs, inputs_ok = symbols.inputs()
    variant = symbols.variant

    def rebuild(p):
        # y(1) - y(0) and y(0) on whatever values p holds: z3 terms or exact rationals.
        level = variant.preactivation(0, p)
        return variant.preactivation(1, p) - level, level

    values = symbols.values(inputs)
    at = z3.Real("s_real")
    y = as_arith(call(variant, "preactivation", variant.preactivation, at, values), variant,
                  "preactivation")
    slope, level = (as_arith(v, variant, "preactivation")
                    for v in call(variant, "preactivation", rebuild, values))
    answer, _ = solver.check("pre-activation affine in s", admissible, inputs_ok,
                             y != slope * at + level)
    if answer != z3.unsat:
        return None, {"source": "derived", "rule": "1 iff s >= s0 where the bits increase in s, "
                      "s <= s0 where they decrease, s0 the first or last s with y(s) >= 0; y is "
                      "not affine in s, so s0 has no closed form here"}, None
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


def _correctness(symbols, solver, admissible, fold: Fold, affine) -> tuple[str, dict | None]:
    inputs, inputs_ok = symbols.inputs()
    s, s_ok = symbols.accumulator("s")
    y = symbolic_preactivation(symbols, s, inputs)
    bit, used = symbolic_fold_bit(fold, symbols, s, inputs)
    threshold = as_arith(call(symbols.variant, "fold threshold", fold.threshold,
                                symbols.values(inputs)), symbols.variant, "fold threshold")
    terms = {**symbols.consts, **inputs, "s": s}
    answer, values = find_witness(solver, "fold threshold defined where used",
                              [admissible, inputs_ok, s_ok, divides_by_zero(threshold, used)],
                              terms)
    if answer == "unsat":
        # The abstraction decides folds built from floors of the root; a concrete counterexample
        # comes from the direct query.
        if affine is not None and _abstract_check(symbols, solver, admissible, inputs_ok, s,
                                                  s_ok, bit, used, affine) == "unsat":
            return "unsat", None
        answer, values = find_witness(solver, "fold equals [y(s) >= 0]",
                                  [admissible, inputs_ok, s_ok, bit != (y >= 0)], terms)
    if answer != "sat":
        return answer, None
    point = values.pop("s")
    variant = symbols.variant
    try:
        fold_bit = exact_fold_bit(fold, variant, point, values)
        fold_text = int(fold_bit)
    except ZeroDivisionError:
        fold_bit, fold_text = None, "undefined (the threshold divides by zero)"
    replayed = replay(variant, values, [point], lambda ys, bits: bits[0] != fold_bit)
    return "sat", {"params": describe_values(values), "s": point,
                   "y": replayed.get("y", [None])[0], "bit": replayed.get("bits", [None])[0],
                   "fold_bit": fold_text,
                   "replay": {k: v for k, v in replayed.items() if k in ("confirmed", "via",
                                                                       "detail")}}


class _NotApplicable(Exception):
    """The fold is not a function of the root, ``n`` and sign conditions."""


def _abstract_check(symbols, solver, admissible, inputs_ok, s, s_ok, bit, used, affine) -> str:
    """Decide the fold's correctness in linear integer/real arithmetic (VARIANT-3), for a fold
    whose threshold is built from ``floor``/``ceil`` of the real root ``t = -y(0)/a`` and ``n``,
    with ``where`` conditions on the parameters.

    Every ``floor``/``ceil`` argument that depends on real parameters is proved equal to ``t`` or
    ``-t`` (nonlinear real arithmetic) and replaced by it; every condition on the real parameters
    becomes a Boolean variable, restricted to the combinations some admissible parameter value
    realizes; the truth ``[y(s) >= 0]`` becomes ``[s >= t]``, ``[s <= t]`` or ``[y(0) >= 0]`` by
    the sign of ``a``. The result over-approximates the fold, so ``unsat`` proves it correct."""
    slope, level = affine
    root = z3.Real("t_root")
    reals = {c.get_id() for c in [*symbols.consts.values(), *symbols.inputs()[0].values()]
             if z3.is_real(c)}
    root_ok = z3.And(admissible, inputs_ok, slope != 0, slope * root + level == 0)
    atoms: dict[int, tuple[z3.BoolRef, z3.BoolRef]] = {}
    memo: dict[int, z3.ExprRef] = {}

    def mentions(expr, test) -> bool:
        return test(expr) or any(mentions(child, test) for child in expr.children())

    def is_real_param(expr) -> bool:
        return z3.is_const(expr) and expr.get_id() in reals

    def atom(condition) -> z3.BoolRef:
        if condition.get_id() not in atoms:
            atoms[condition.get_id()] = (z3.Bool(f"atom{len(atoms)}"), condition)
        return atoms[condition.get_id()][0]

    def abstract(expr):
        if expr.get_id() in memo:
            return memo[expr.get_id()]
        if not mentions(expr, is_real_param):
            out = expr
        elif z3.is_bool(expr) and not mentions(expr, lambda e: e.eq(s)) and not mentions(
                expr, lambda e: z3.is_app_of(e, z3.Z3_OP_TO_INT)):
            out = atom(expr)
        elif z3.is_app_of(expr, z3.Z3_OP_TO_INT):
            out = _floor_or_abstract(expr.arg(0))
        elif is_real_param(expr) or not z3.is_app(expr):
            raise _NotApplicable
        else:
            out = expr.decl()(*[abstract(child) for child in expr.children()])
        memo[expr.get_id()] = out
        return out

    # The root t = t_floor + a fraction in [0, 1), nonzero exactly when t_fractional holds: with
    # t in comparisons with integers and in floors only, the query is integer arithmetic.
    root_floor, fractional = z3.Int("t_floor"), z3.Bool("t_fractional")
    floors = {1: root_floor, -1: z3.If(fractional, -root_floor - 1, -root_floor)}

    def _floor_or_abstract(argument):
        # floor(f(n, floor(...))) stays; floor(g(parameters)) needs g = t or g = -t.
        try:
            inner = abstract(argument)
            if not mentions(inner, is_real_param):
                return z3.ToInt(inner)
        except _NotApplicable:
            pass
        for sign in (1, -1):
            answer, _ = solver.check("floor argument is the root", root_ok,
                                     argument != sign * root)
            if answer == z3.unsat:
                return floors[sign]
        raise _NotApplicable

    try:
        increasing, decreasing, level_bit = atom(slope > 0), atom(slope < 0), atom(level >= 0)
        abstract_bit, abstract_used = abstract(bit), abstract(used)
    except _NotApplicable:
        return "unknown"
    above_root = z3.If(fractional, s >= root_floor + 1, s >= root_floor)
    truth = z3.If(increasing, above_root, z3.If(decreasing, s <= root_floor, level_bit))
    patterns = _feasible_patterns(solver, z3.And(admissible, inputs_ok), list(atoms.values()))
    integers = z3.And([p.constraint(symbols.consts[p.name]) for p in symbols.params
                       if p.integer])
    flat = z3.And(z3.Not(increasing), z3.Not(decreasing))
    query = [integers, s_ok, z3.Or(patterns),
             z3.Or(abstract_bit != truth, z3.And(flat, abstract_used))]
    answer, _ = solver.check("fold equals [y(s) >= 0], abstracted", *query, purify=True)
    return str(answer)


def _feasible_patterns(solver, constraints, atoms) -> list[z3.BoolRef]:
    """The combinations of truth values of ``atoms`` (pairs ``(variable, condition)``) that some
    value satisfying ``constraints`` realizes; a combination z3 cannot decide counts as
    feasible."""
    patterns = []

    def extend(prefix: list[z3.BoolRef], conditions: list[z3.BoolRef], rest) -> None:
        if conditions:
            answer, _ = solver.check("sign pattern feasible", constraints, *conditions)
            if answer == z3.unsat:
                return
        if not rest:
            patterns.append(z3.And(prefix) if prefix else z3.BoolVal(True))
            return
        (variable, condition), *tail = rest
        extend([*prefix, variable], [*conditions, condition], tail)
        extend([*prefix, z3.Not(variable)], [*conditions, z3.Not(condition)], tail)

    extend([], [], atoms)
    return patterns


def _check_declaration(variant: Variant) -> None:
    if not isinstance(variant, Variant):
        raise VariantError("variant", "a spec.variants.Variant", type(variant).__name__,
                           "VARIANT-1")
    if variant.domain not in DOMAINS:
        raise VariantError(f"variant {variant.name!r} domain", f"one of {DOMAINS}",
                           repr(variant.domain), "VARIANT-1")
    for p in [*variant.params, *variant.inputs]:
        if not isinstance(p, Param) or not p.name.isidentifier():
            raise VariantError(f"variant {variant.name!r} parameter", "a Param with an "
                               "identifier as its name", repr(p), "VARIANT-1")


def prove_variant(variant: Variant, timeout_ms: int = 4000) -> VariantResult:
    """Decide whether ``variant`` folds and whether its (claimed or derived) fold is correct
    (VARIANT-2 to VARIANT-5)."""
    start = time.perf_counter()
    _check_declaration(variant)
    symbols = Symbols(variant)
    solver = Solver(timeout_ms)
    inputs, inputs_ok = symbols.inputs()
    admissible = z3.And(symbols.admissible, symbols.assumptions(symbols.values({})))

    def result(status, fold=None, counterexample=None, reason=None):
        return VariantResult(variant.name, status, fold, counterexample, reason,
                             time.perf_counter() - start, solver.steps, variant.description)

    answer, _ = solver.check("admissible parameters exist", admissible, inputs_ok)
    if answer == z3.unsat:
        raise VariantError(f"variant {variant.name!r} parameters", "at least one admissible "
                           "value", "constraints that no value satisfies", "VARIANT-1")
    s, s_ok = symbols.accumulator("s")
    y = symbolic_preactivation(symbols, s, inputs)
    answer, found = solver.check("pre-activation defined", admissible, inputs_ok, s_ok,
                                 divides_by_zero(y))
    if answer == z3.sat:
        at = ", ".join(f"{decl.name()} = {found.model()[decl]}" for decl in found.model().decls()
                       if decl.arity() == 0)
        raise VariantError(f"variant {variant.name!r} preactivation", "no division by zero at "
                           "admissible parameters (declare the divisor positive or nonzero)",
                           at, "VARIANT-1")

    if variant.inputs:
        answer, witness = _input_dependence(symbols, solver, admissible)
        if answer == "sat" and witness["replay"]["confirmed"]:
            names = ", ".join(i.name for i in variant.inputs)
            return result("not-foldable", counterexample=witness,
                          reason=f"the bit depends on the input {names}, not on s alone: at "
                                 f"s = {witness['s']} two values give the bits "
                                 f"{witness['bits'][0]} and {witness['bits'][1]}")
        if answer != "unsat":
            return result("unknown", reason=_unknown_reason(answer, witness, solver))

    answer, witness = _monotone(symbols, solver, admissible)
    if answer == "sat" and witness["replay"]["confirmed"]:
        return result("not-foldable", counterexample=witness,
                      reason=f"the bit is not monotone in s: bits {witness['bits']} at "
                             f"s = {witness['s']}")
    if answer != "unsat":
        return result("unknown", reason=_unknown_reason(answer, witness, solver))

    derived, derived_text, affine = _derived_fold(symbols, solver, admissible)
    fold = variant.claimed_fold or derived
    if fold is None:
        return result("proved", fold=derived_text)
    fold_text = derived_text if variant.claimed_fold is None else \
        {"source": "claimed", "rule": variant.claimed_fold.name, "derived": derived_text}
    answer, counterexample = _correctness(symbols, solver, admissible, fold, affine)
    if answer == "unsat":
        return result("proved", fold=fold_text)
    if answer == "sat" and counterexample["replay"]["confirmed"]:
        return result("counterexample", fold=fold_text, counterexample=counterexample,
                      reason=f"at s = {counterexample['s']} the fold gives "
                             f"{counterexample['fold_bit']} and sign(y) gives "
                             f"{counterexample['bit']}")
    return result("unknown", fold=fold_text,
                  reason=_unknown_reason(answer, counterexample, solver))


def _unknown_reason(answer: str, witness: dict | None, solver: Solver) -> str:
    if answer == "sat" and witness is not None:
        return f"z3's witness was not confirmed by the replay: {witness['replay']}"
    step, status, _ = solver.steps[-1]
    return f"{step}: z3 answered {status}"


