"""The z3 side of a variant: its parameters as z3 constants and its expressions as z3 terms."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction

import z3

from boolnet_spec.spec.variants.declarations import (
    Fold,
    Param,
    Range,
    Values,
    Variant,
    VariantError,
)
from boolnet_spec.spec.variants.expressions import ExpressionError, Term, exact_literal

__all__ = ["Symbols", "call", "as_arith", "as_bool", "symbolic_preactivation", "fold_terms",
           "symbolic_fold_bit", "divides_by_zero", "purified"]


class Symbols:
    """z3 constants of a variant's parameters and inputs, with their constraints. With ``relaxed``
    the integer parameters other than ``n`` are reals: a proof over the reals covers the
    integers."""

    def __init__(self, variant: Variant, relaxed: bool = False):
        self.variant = variant
        params = list(variant.params)
        if variant.domain == "D_n":
            params.append(Param("n", positive=True, integer=True))
        names = [p.name for p in [*params, *variant.inputs]]
        if len(set(names)) != len(names) or "s" in names:
            raise VariantError(f"variant {variant.name!r} parameters", "distinct names, none "
                               "of them 's'", names, "VARIANT-1")
        self.params = params
        self.integer = {p.name for p in params if p.integer and (p.name == "n" or not relaxed)}
        self.consts = {p.name: (z3.Int if p.name in self.integer else z3.Real)(p.name)
                       for p in params}
        self.constraints = z3.And([p.constraint(self.consts[p.name]) for p in params])

    def inputs(self, suffix: str = "") -> tuple[dict, z3.BoolRef]:
        consts = {i.name: (z3.Int if i.integer else z3.Real)(i.name + suffix)
                  for i in self.variant.inputs}
        return consts, z3.And([i.constraint(consts[i.name]) for i in self.variant.inputs])

    def values(self, inputs: Mapping) -> Values:
        return Values(self.variant.name, {name: Term(z3.ToReal(c) if z3.is_int(c) else c)
                                          for name, c in {**self.consts, **inputs}.items()})

    def admissible(self, inputs: Mapping, inputs_ok: z3.BoolRef) -> z3.BoolRef:
        """The parameter and input constraints and the assumptions, which may relate both."""
        parts = [self.constraints, inputs_ok]
        if self.variant.assumptions is not None:
            parts.append(as_bool(call(self.variant, "assumptions", self.variant.assumptions,
                                      self.values(inputs)), self.variant, "assumptions"))
        return z3.And(parts)

    def accumulator(self, name: str) -> tuple[z3.ArithRef, z3.BoolRef]:
        """An accumulator constant and its domain constraint."""
        s, domain = z3.Int(name), self.variant.domain
        if domain == "integers":
            return s, z3.BoolVal(True)
        k = z3.Int(f"{name}_index")
        if isinstance(domain, Range):
            count = (domain.high - domain.low) // domain.step
            return s, z3.And(k >= 0, k <= count, s == domain.low + domain.step * k)
        n = self.consts["n"]
        return s, z3.And(k >= 0, k <= n, s == 2 * k - n)

    def real_bounds(self, point: z3.ArithRef) -> z3.BoolRef:
        """The interval that holds the domain, for a real ``point``."""
        domain = self.variant.domain
        if isinstance(domain, Range):
            return z3.And(domain.low <= point, point <= domain.high)
        if domain == "D_n":
            n = self.consts["n"]
            return z3.And(-n <= point, point <= n)
        return z3.BoolVal(True)


def call(variant: Variant, what: str, function: Callable, *args):
    """Run a function of the variant's declaration; whatever it raises is the declaration's
    fault (VARIANT-1, VARIANT-6)."""
    try:
        return function(*args)
    except VariantError:
        raise
    except ExpressionError as error:
        raise VariantError(f"variant {variant.name!r} {what}", "an expression of VARIANT-6",
                           str(error), "VARIANT-6") from None
    except Exception as error:  # the user's code may raise anything
        raise VariantError(f"variant {variant.name!r} {what}", "an expression of s and the "
                           "declared parameters", f"{type(error).__name__}: {error}",
                           "VARIANT-1") from None


def as_arith(value, variant: Variant, what: str) -> z3.ArithRef:
    """A numeric result of the declaration as a z3 real."""
    try:
        term = value.z if isinstance(value, Term) else z3.RealVal(str(exact_literal(value)))
    except ExpressionError:
        term = None
    if term is None or z3.is_bool(term):
        kind = "a condition" if term is not None else type(value).__name__
        raise VariantError(f"variant {variant.name!r} {what}", "a number or an arithmetic "
                           "expression", kind, "VARIANT-1")
    return z3.ToReal(term) if z3.is_int(term) else term


def as_bool(value, variant: Variant, what: str) -> z3.BoolRef:
    """A condition of the declaration as a z3 Boolean."""
    if isinstance(value, bool):
        return z3.BoolVal(value)
    if isinstance(value, Term) and z3.is_bool(value.z):
        return value.z
    raise VariantError(f"variant {variant.name!r} {what}", "a condition", type(value).__name__,
                       "VARIANT-1")


def symbolic_preactivation(symbols: Symbols, s, inputs: Mapping) -> z3.ArithRef:
    variant = symbols.variant
    value = call(variant, "preactivation", variant.preactivation, Term(z3.ToReal(s)),
                 symbols.values(inputs))
    return as_arith(value, variant, "preactivation")


def fold_terms(fold: Fold, symbols: Symbols, inputs: Mapping) -> tuple:
    """The fold's direction (a z3 real or Boolean), threshold and constant (or ``None``)."""
    values, variant = symbols.values(inputs), symbols.variant
    direction = call(variant, "fold direction", fold.direction, values)
    threshold = as_arith(call(variant, "fold threshold", fold.threshold, values), variant,
                         "fold threshold")
    if isinstance(direction, bool) or (isinstance(direction, Term) and z3.is_bool(direction.z)):
        return as_bool(direction, variant, "fold direction"), threshold, None
    direction = as_arith(direction, variant, "fold direction")
    if fold.constant is None:
        return direction, threshold, None
    return direction, threshold, as_bool(call(variant, "fold constant", fold.constant, values),
                                         variant, "fold constant")


def symbolic_fold_bit(fold: Fold, symbols: Symbols, s, inputs: Mapping) -> tuple[z3.BoolRef,
                                                                                 z3.BoolRef]:
    """The fold's bit at ``s`` and the condition under which its threshold is used."""
    direction, threshold, constant = fold_terms(fold, symbols, inputs)
    at = z3.ToReal(s)
    if z3.is_bool(direction):
        return z3.If(direction, at >= threshold, at <= threshold), z3.BoolVal(True)
    if constant is None:
        return z3.If(direction < 0, at <= threshold, at >= threshold), z3.BoolVal(True)
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


