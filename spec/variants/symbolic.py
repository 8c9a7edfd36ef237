"""The z3 side of a variant: its parameters as z3 constants and its expressions as z3 terms."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction

import z3

from boolnet_spec.spec.variants.declarations import Fold, Param, Values, Variant, VariantError

__all__ = ["Symbols", "call", "as_arith", "as_bool", "symbolic_preactivation",
           "symbolic_fold_bit", "divides_by_zero", "purified"]


class Symbols:
    """z3 constants of a variant's parameters and inputs, with their constraints."""

    def __init__(self, variant: Variant):
        self.variant = variant
        params = list(variant.params)
        if variant.domain == "D_n":
            params.append(Param("n", positive=True, integer=True))
        names = [p.name for p in [*params, *variant.inputs]]
        if len(set(names)) != len(names) or "s" in names:
            raise VariantError(f"variant {variant.name!r} parameters", "distinct names, none "
                               "of them 's'", names, "VARIANT-1")
        self.params = params
        self.consts = {p.name: (z3.Int if p.integer else z3.Real)(p.name) for p in params}
        self.admissible = z3.And([p.constraint(self.consts[p.name]) for p in params])

    def inputs(self, suffix: str = "") -> tuple[dict, z3.BoolRef]:
        consts = {i.name: (z3.Int if i.integer else z3.Real)(i.name + suffix)
                  for i in self.variant.inputs}
        return consts, z3.And([i.constraint(consts[i.name]) for i in self.variant.inputs])

    def values(self, inputs: Mapping) -> Values:
        reals = {name: z3.ToReal(c) if z3.is_int(c) else c
                 for name, c in {**self.consts, **inputs}.items()}
        return Values(self.variant.name, reals)

    def assumptions(self, values: Values) -> z3.BoolRef:
        if self.variant.assumptions is None:
            return z3.BoolVal(True)
        return as_bool(call(self.variant, "assumptions", self.variant.assumptions, values),
                        self.variant, "assumptions")

    def accumulator(self, name: str) -> tuple[z3.ArithRef, z3.BoolRef]:
        """An accumulator constant and its domain constraint."""
        s = z3.Int(name)
        if self.variant.domain == "integers":
            return s, z3.BoolVal(True)
        n, k = self.consts["n"], z3.Int(f"{name}_index")
        return s, z3.And(k >= 0, k <= n, s == 2 * k - n)


def call(variant: Variant, what: str, function: Callable, *args):
    try:
        return function(*args)
    except (ArithmeticError, AttributeError, TypeError, ValueError, z3.Z3Exception) as error:
        raise VariantError(f"variant {variant.name!r} {what}", "an expression of s and the "
                           "declared parameters", f"{type(error).__name__}: {error}",
                           "VARIANT-1") from None


def as_arith(value, variant: Variant, what: str) -> z3.ArithRef:
    if isinstance(value, bool) or not isinstance(value, (z3.ArithRef, int, float, Fraction)):
        raise VariantError(f"variant {variant.name!r} {what}", "a number or an arithmetic "
                           "expression", type(value).__name__, "VARIANT-1")
    return value if isinstance(value, z3.ArithRef) else z3.RealVal(Fraction(value))


def as_bool(value, variant: Variant, what: str) -> z3.BoolRef:
    if isinstance(value, bool):
        return z3.BoolVal(value)
    if isinstance(value, z3.BoolRef):
        return value
    raise VariantError(f"variant {variant.name!r} {what}", "a condition", type(value).__name__,
                       "VARIANT-1")


def symbolic_preactivation(symbols: Symbols, s, inputs: Mapping) -> z3.ArithRef:
    variant = symbols.variant
    value = call(variant, "preactivation", variant.preactivation, z3.ToReal(s),
                  symbols.values(inputs))
    return as_arith(value, variant, "preactivation")


def symbolic_fold_bit(fold: Fold, symbols: Symbols, s, inputs: Mapping) -> tuple[z3.BoolRef,
                                                                          z3.BoolRef]:
    """The fold's bit at ``s`` and the condition under which its threshold is used."""
    values, variant = symbols.values(inputs), symbols.variant
    direction = call(variant, "fold direction", fold.direction, values)
    threshold = as_arith(call(variant, "fold threshold", fold.threshold, values), variant,
                          "fold threshold")
    at = z3.ToReal(s)
    if isinstance(direction, (bool, z3.BoolRef)):
        up = as_bool(direction, variant, "fold direction")
        return z3.If(up, at >= threshold, at <= threshold), z3.BoolVal(True)
    direction = as_arith(direction, variant, "fold direction")
    if fold.constant is None:
        return z3.If(direction < 0, at <= threshold, at >= threshold), z3.BoolVal(True)
    constant = as_bool(call(variant, "fold constant", fold.constant, values), variant,
                        "fold constant")
    return (z3.If(direction > 0, at >= threshold, z3.If(direction < 0, at <= threshold, constant)),
            direction != 0)


def _divisions(expr: z3.ExprRef, guard: z3.BoolRef, seen: set) -> list[tuple[z3.BoolRef,
                                                                             z3.ExprRef]]:
    """The denominators of ``expr`` with the path conditions under which they are evaluated."""
    if not z3.is_app(expr) or (expr.get_id(), guard.get_id()) in seen:
        return []
    seen.add((expr.get_id(), guard.get_id()))
    kind = expr.decl().kind()
    if kind == z3.Z3_OP_ITE:
        condition, then, other = expr.children()
        return [*_divisions(condition, guard, seen),
                *_divisions(then, z3.And(guard, condition), seen),
                *_divisions(other, z3.And(guard, z3.Not(condition)), seen)]
    found = [(guard, expr.arg(1))] if kind in (z3.Z3_OP_DIV, z3.Z3_OP_IDIV, z3.Z3_OP_MOD) else []
    for child in expr.children():
        found += _divisions(child, guard, seen)
    return found


def divides_by_zero(expr: z3.ExprRef, used: z3.BoolRef = z3.BoolVal(True)) -> z3.BoolRef:  # noqa: B008
    zero = [z3.And(guard, denominator == 0)
            for guard, denominator in _divisions(expr, z3.BoolVal(True), set())]
    return z3.And(used, z3.Or(zero)) if zero else z3.BoolVal(False)


def _integer_form(expr: z3.ExprRef) -> tuple[dict, Fraction] | None:
    """``expr`` as ``sum q_i * x_i + q_0`` with integer terms ``x_i`` and rational ``q``, or
    ``None`` when it reads a real term."""
    if z3.is_int(expr):
        return {expr.get_id(): (expr, Fraction(1))}, Fraction(0)
    if z3.is_rational_value(expr):
        return {}, Fraction(expr.numerator_as_long(), expr.denominator_as_long())
    if not z3.is_app(expr):
        return None
    kind, args = expr.decl().kind(), expr.children()
    if kind == z3.Z3_OP_TO_REAL:
        return _integer_form(args[0])
    forms = [_integer_form(a) for a in args]
    if any(f is None for f in forms):
        return None
    scale = lambda form, q: ({k: (t, c * q) for k, (t, c) in form[0].items()},  # noqa: E731
                             form[1] * q)
    if kind in (z3.Z3_OP_ADD, z3.Z3_OP_SUB):
        terms, constant = dict(forms[0][0]), forms[0][1]
        for index, form in enumerate(forms[1:]):
            sign = -1 if kind == z3.Z3_OP_SUB and index == 0 else 1
            for key, (term, c) in form[0].items():
                terms[key] = (term, terms.get(key, (term, 0))[1] + sign * c)
            constant += sign * form[1]
        return terms, constant
    if kind == z3.Z3_OP_UMINUS:
        return scale(forms[0], -1)
    if kind == z3.Z3_OP_MUL and len(forms) == 2 and (not forms[0][0] or not forms[1][0]):
        constant, other = (forms[0], forms[1]) if not forms[0][0] else (forms[1], forms[0])
        return scale(other, constant[1])
    if kind == z3.Z3_OP_DIV and not forms[1][0] and forms[1][1] != 0:
        return scale(forms[0], 1 / forms[1][1])
    return None


def _floor_bounds(floor: z3.ArithRef, argument: z3.ArithRef) -> list[z3.BoolRef]:
    """``floor <= argument < floor + 1``, over the integers when the argument is a rational
    combination of integer terms."""
    form = _integer_form(argument)
    if form is None:
        return [z3.ToReal(floor) <= argument, argument < z3.ToReal(floor) + 1]
    terms, constant = form
    scale = math.lcm(constant.denominator, *(c.denominator for _, c in terms.values()))
    value = z3.Sum([int(c * scale) * t for t, c in terms.values()] + [int(constant * scale)])
    return [scale * floor <= value, value < scale * floor + scale]


def purified(formulas: Sequence[z3.BoolRef]) -> list[z3.BoolRef]:
    """``formulas`` with every ``ToInt(e)`` replaced by a fresh integer ``c`` and
    ``c <= e < c + 1``, stated over the integers where ``e`` allows: z3 decides nested floors
    far better in this form."""
    memo: dict[int, z3.ExprRef] = {}
    bounds: list[z3.BoolRef] = []

    def purify(expr):
        if expr.get_id() in memo:
            return memo[expr.get_id()]
        out = expr
        if z3.is_app(expr) and expr.num_args():
            children = [purify(child) for child in expr.children()]
            out = expr.decl()(*children)
            if z3.is_app_of(expr, z3.Z3_OP_TO_INT):
                out = z3.FreshInt("floor")
                bounds.extend(_floor_bounds(out, children[0]))
        memo[expr.get_id()] = out
        return out

    return [purify(f) for f in formulas] + bounds


