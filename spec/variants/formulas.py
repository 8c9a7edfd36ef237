"""Readable formulas: a rational function of the parameters printed as one quotient, and a fold
without a name printed as its direction, threshold and constant."""

from __future__ import annotations

from fractions import Fraction

import z3

__all__ = ["rational_text", "formula_text", "fold_text"]


def _poly_mul(a: dict, b: dict) -> dict:
    out: dict = {}
    for ma, ca in a.items():
        for mb, cb in b.items():
            powers = dict(ma)
            for name, power in mb:
                powers[name] = powers.get(name, 0) + power
            key = tuple(sorted(powers.items()))
            out[key] = out.get(key, 0) + ca * cb
    return {m: c for m, c in out.items() if c}


def _poly_add(a: dict, b: dict, sign: int = 1) -> dict:
    out = dict(a)
    for m, c in b.items():
        out[m] = out.get(m, 0) + sign * c
    return {m: c for m, c in out.items() if c}


_ONE = {(): Fraction(1)}


def _rational(expr: z3.ExprRef) -> tuple[dict, dict]:
    """``expr`` as a quotient of polynomials with rational coefficients."""
    if z3.is_rational_value(expr) or z3.is_int_value(expr):
        value = Fraction(str(expr.as_fraction() if z3.is_rational_value(expr)
                             else expr.as_long()))
        return ({(): value} if value else {}), _ONE
    if z3.is_const(expr):
        return {((str(expr), 1),): Fraction(1)}, _ONE
    kind, parts = expr.decl().kind(), [_rational(child) for child in expr.children()]
    if kind == z3.Z3_OP_TO_REAL:
        return parts[0]
    if kind == z3.Z3_OP_UMINUS:
        return _poly_mul(parts[0][0], {(): Fraction(-1)}), parts[0][1]
    if kind in (z3.Z3_OP_ADD, z3.Z3_OP_SUB):
        num, den = parts[0]
        for index, (n2, d2) in enumerate(parts[1:]):
            sign = -1 if kind == z3.Z3_OP_SUB and index == 0 else 1
            if d2 == den:
                num = _poly_add(num, n2, sign)
            else:
                num, den = _poly_add(_poly_mul(num, d2), _poly_mul(n2, den), sign), \
                    _poly_mul(den, d2)
        return num, den
    if kind == z3.Z3_OP_MUL:
        num, den = _ONE, _ONE
        for n2, d2 in parts:
            num, den = _poly_mul(num, n2), _poly_mul(den, d2)
        return num, den
    if kind == z3.Z3_OP_DIV:
        (n1, d1), (n2, d2) = parts
        return _poly_mul(n1, d2), _poly_mul(d1, n2)
    raise ValueError(f"not a rational function: {expr}")


def _poly_text(poly: dict) -> str:
    terms = []
    for monomial, coefficient in sorted(poly.items(), key=lambda item: (
            item[1] < 0, -sum(p for _, p in item[0]), item[0])):
        factors = [name if power == 1 else f"{name}**{power}" for name, power in monomial]
        magnitude = abs(coefficient)
        if magnitude != 1 or not factors:
            factors.insert(0, str(magnitude))
        terms.append(("-" if coefficient < 0 else "+", "*".join(factors)))
    text = " ".join(f"{sign} {body}" for sign, body in terms)
    return text[2:] if text.startswith("+ ") else "-" + text[2:]


def rational_text(expr: z3.ExprRef) -> str:
    """A readable form of a rational function of the parameters: one quotient, common monomial
    factors cancelled (e.g. ``alpha*gamma/sigma``); other expressions as z3 prints them."""
    try:
        num, den = _rational(expr)
    except ValueError:
        return str(z3.simplify(expr))
    if not num:
        return "0"
    names = {name for m in [*num, *den] for name, _ in m}
    common = {name: min(dict(m).get(name, 0) for m in [*num, *den]) for name in names}
    reduce = lambda poly: {tuple((n, p - common[n]) for n, p in m if p > common[n]): c  # noqa: E731
                           for m, c in poly.items()}
    num, den = reduce(num), reduce(den)
    lead = den[max(den, key=lambda m: (sum(p for _, p in m), m))]
    num, den = ({m: c / lead for m, c in poly.items()} for poly in (num, den))
    if den == _ONE:
        return _poly_text(num)
    numerator = _poly_text(num) if len(num) == 1 else f"({_poly_text(num)})"
    factors = len(next(iter(den))) + (next(iter(den.values())) != 1)
    denominator = _poly_text(den) if len(den) == 1 and factors == 1 else f"({_poly_text(den)})"
    return f"{numerator}/{denominator}"




_COMPARISONS = {z3.Z3_OP_GE: ">=", z3.Z3_OP_LE: "<=", z3.Z3_OP_GT: ">", z3.Z3_OP_LT: "<",
                z3.Z3_OP_EQ: "=="}
_INFIX = {z3.Z3_OP_ADD: " + ", z3.Z3_OP_SUB: " - ", z3.Z3_OP_MUL: "*", z3.Z3_OP_DIV: "/"}


def _mentions_rounding(expr: z3.ExprRef) -> bool:
    return z3.is_app_of(expr, z3.Z3_OP_TO_INT) or z3.is_app_of(expr, z3.Z3_OP_ITE) or any(
        _mentions_rounding(child) for child in expr.children())


def formula_text(expr: z3.ExprRef) -> str:
    """A readable form of a term of the expression language (VARIANT-6): ``floor``, ``ceil``
    and ``where`` as written, rational parts as :func:`rational_text` prints them."""
    kind = expr.decl().kind() if z3.is_app(expr) else None
    args = expr.children()
    if kind == z3.Z3_OP_TO_REAL:
        return formula_text(args[0])
    if z3.is_arith(expr) and not _mentions_rounding(expr):
        return rational_text(expr)
    if kind == z3.Z3_OP_UMINUS and z3.is_app_of(args[0], z3.Z3_OP_TO_INT) and z3.is_app_of(
            args[0].arg(0), z3.Z3_OP_UMINUS):
        return f"ceil({formula_text(args[0].arg(0).arg(0))})"
    if kind == z3.Z3_OP_TO_INT:
        return f"floor({formula_text(args[0])})"
    if kind == z3.Z3_OP_ITE:
        return f"where({', '.join(formula_text(a) for a in args)})"
    if kind in _COMPARISONS:
        return f"{formula_text(args[0])} {_COMPARISONS[kind]} {formula_text(args[1])}"
    if kind in (z3.Z3_OP_AND, z3.Z3_OP_OR):
        joiner = " & " if kind == z3.Z3_OP_AND else " | "
        return joiner.join(f"({formula_text(a)})" for a in args)
    if kind == z3.Z3_OP_NOT:
        return f"~({formula_text(args[0])})"
    if kind == z3.Z3_OP_UMINUS:
        return f"-({formula_text(args[0])})"
    if kind in _INFIX:
        parts = [formula_text(a) for a in args]
        wrap = [p if " " not in p or (p.startswith(("floor(", "ceil(", "where(")) and ", " not in p)
                else f"({p})" for p in parts]
        return _INFIX[kind].join(wrap)
    return str(z3.simplify(expr))


def fold_text(direction: z3.ExprRef, threshold: z3.ExprRef, constant: z3.ExprRef | None) -> str:
    """A fold without a name, as the rule it states (VARIANT-3)."""
    t = formula_text(threshold)
    if z3.is_bool(direction):
        return f"s >= {t} where {formula_text(direction)}, else s <= {t}"
    d = formula_text(direction)
    if constant is None:
        return f"s >= {t} where {d} >= 0, s <= {t} where {d} < 0"
    return (f"s >= {t} where {d} > 0, s <= {t} where {d} < 0, "
            f"{formula_text(constant)} where {d} = 0")
