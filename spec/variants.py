"""BatchNorm variants: does a normalization fold into an integer threshold, is a claimed fold right?

A researcher declares a variant as a Python object: its parameters with their constraints, its
pre-activation as an expression of the integer accumulator ``s`` and the parameters, and optionally
the fold they claim. :func:`prove_variant` decides, for every admissible parameter value at once,
whether the variant folds and whether the fold is right. The expressions are ordinary Python
arithmetic (``+ - * /``, comparisons, ``abs``) plus :func:`ceil`, :func:`floor`, :func:`trunc`,
:func:`where`, :func:`minimum` and :func:`maximum`; the prover evaluates them once on z3 terms to
decide and once on exact rationals to replay what it found.

.. req:: VARIANT-1

   A variant declares its parameters (:class:`Param`: real, or ``integer``; optionally
   ``positive``, ``negative``, ``nonzero`` or ``nonnegative``; ``assumptions`` relate several), the
   inputs other than the accumulator that its pre-activation reads (:class:`Input`, e.g. a
   per-position shift), its pre-activation ``y`` as an expression of the accumulator ``s`` and the
   parameters, the domain of ``s`` (every integer, or ``D_n`` of ACC-2 with an integer parameter
   ``n >= 1``) and optionally a claimed fold (:class:`Fold`). Expressions see ``s`` and the
   parameters as real values. ``ERROR_IF`` the declaration is malformed, no parameter value is
   admissible, or ``y`` divides by zero at an admissible point (:class:`VariantError`).

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

.. req:: VARIANT-4

   Replay. Every witness and counterexample is evaluated again before it is reported: the
   variant's own Python expressions on exact rationals, independently of z3, and, for a variant
   that names one, the numpy reference (BatchNorm-like variants: ``reference.exact.ge_times_sqrt``
   on the exact values, and ``reference.fold.fold_bn_sign`` with ``threshold_slices`` where every
   parameter is a float32). A witness the replay does not confirm makes the result ``unknown``.
   Parameters are printed as exact rationals and as decimals.

.. req:: VARIANT-5

   The result is ``proved`` (the variant folds and its fold is correct), ``counterexample``,
   ``not-foldable`` or ``unknown`` (with z3's reason; a query that times out is unknown). Every
   solver query has a timeout.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import z3

from boolnet_spec.reference.errors import SpecError
from boolnet_spec.spec import twins

__all__ = ["Param", "Input", "Fold", "Variant", "VariantError", "VariantResult", "prove_variant",
           "ceil", "floor", "trunc", "where", "minimum", "maximum", "bn_reference", "rational_text",
           "BUILTIN_VARIANTS", "PUBLISHED_FOLDS"]

DOMAINS = ("integers", "D_n")


class VariantError(SpecError):
    """A variant declaration that cannot be proved: malformed, empty or ill-defined."""


# --- Expressions that work on z3 terms and on exact rationals -----------------------------------

def _symbolic(*values) -> bool:
    return any(isinstance(v, z3.ExprRef) for v in values)


def _real(value):
    """A number as a z3 real or an exact rational, so that ``/`` never divides integers."""
    if isinstance(value, bool) or (isinstance(value, z3.ExprRef) and not z3.is_arith(value)):
        return value
    if isinstance(value, z3.ExprRef):
        return z3.ToReal(value) if z3.is_int(value) else value
    return Fraction(value)


def ceil(x):
    """The least integer ``>= x``, as a real (so that ``ceil(x) / 2`` is not an integer
    division)."""
    return z3.ToReal(twins.ceil(_real(x))) if _symbolic(x) else Fraction(math.ceil(x))


def floor(x):
    """The greatest integer ``<= x``, as a real."""
    return z3.ToReal(twins.floor(_real(x))) if _symbolic(x) else Fraction(math.floor(x))


def trunc(x):
    """``x`` rounded toward zero (C's ``(int)x``; ``trunc(a / b)`` is C's integer division),
    as a real."""
    return z3.ToReal(twins.trunc(_real(x))) if _symbolic(x) else Fraction(math.trunc(x))


def where(condition, if_true, if_false):
    """``if_true`` where ``condition`` holds, else ``if_false``."""
    if _symbolic(condition, if_true, if_false):
        def term(value):
            value = _real(value)
            return z3.RealVal(str(value)) if isinstance(value, Fraction) else value
        return z3.If(condition, term(if_true), term(if_false))
    return _real(if_true) if condition else _real(if_false)


def minimum(a, b):
    """The smaller of ``a`` and ``b``."""
    return where(a <= b, a, b)


def maximum(a, b):
    """The larger of ``a`` and ``b``."""
    return where(a >= b, a, b)


# --- Declarations -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Param:
    """A parameter of a variant: real unless ``integer``, with optional sign constraints."""

    name: str
    positive: bool = False
    negative: bool = False
    nonzero: bool = False
    nonnegative: bool = False
    integer: bool = False

    def constraint(self, value) -> z3.BoolRef:
        parts = [value > 0] if self.positive else []
        parts += [value < 0] if self.negative else []
        parts += [value != 0] if self.nonzero else []
        parts += [value >= 0] if self.nonnegative else []
        return z3.And(parts) if parts else z3.BoolVal(True)


@dataclass(frozen=True)
class Input(Param):
    """A value other than ``s`` that the pre-activation reads at each position (e.g. the output of
    another branch), constrained like a parameter."""


@dataclass(frozen=True)
class Fold:
    """A claimed fold (VARIANT-3): ``direction(p)``, ``threshold(p)`` and optionally
    ``constant(p)``, the bit where the direction is 0."""

    direction: Callable
    threshold: Callable
    constant: Callable | None = None
    name: str = "claimed fold"


class Values:
    """The parameters of a variant by attribute (``p.gamma``), as z3 terms or exact values."""

    def __init__(self, variant: str, values: Mapping):
        self._variant, self._values = variant, dict(values)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"variant {self._variant!r} declares no parameter or input "
                                 f"{name!r} (it has {', '.join(self._values)})") from None


ReferenceBit = Callable[[int, Mapping[str, Fraction]], tuple[bool, str]]


@dataclass(frozen=True)
class Variant:
    """A normalization variant (VARIANT-1): ``preactivation(s, p)`` with ``p`` the parameters and
    inputs by name; ``assumptions(p)``, a condition on the parameters; ``reference(s, values)``
    optionally replays a point through the numpy reference and returns ``(bit, how)``."""

    name: str
    params: Sequence[Param]
    preactivation: Callable
    claimed_fold: Fold | None = None
    inputs: Sequence[Input] = ()
    domain: str = "integers"
    assumptions: Callable | None = None
    reference: ReferenceBit | None = None
    description: str = ""

    def with_fold(self, fold: Fold | None) -> Variant:
        """The same variant with ``fold`` as its claimed fold."""
        return Variant(self.name if fold is None else f"{self.name} [{fold.name}]", self.params,
                       self.preactivation, fold, self.inputs, self.domain, self.assumptions,
                       self.reference, self.description)


# --- Results ------------------------------------------------------------------------------------

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


def _exact_text(value) -> dict:
    if isinstance(value, bool):
        return {"exact": str(value).lower(), "decimal": str(value).lower()}
    value = Fraction(value)
    return {"exact": str(value), "decimal": repr(float(value))}


# --- Readable formulas --------------------------------------------------------------------------

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


# --- The symbolic side ---------------------------------------------------------------------------

class _Symbols:
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
        return _as_bool(_call(self.variant, "assumptions", self.variant.assumptions, values),
                        self.variant, "assumptions")

    def accumulator(self, name: str) -> tuple[z3.ArithRef, z3.BoolRef]:
        """An accumulator constant and its domain constraint."""
        s = z3.Int(name)
        if self.variant.domain == "integers":
            return s, z3.BoolVal(True)
        n, k = self.consts["n"], z3.Int(f"{name}_index")
        return s, z3.And(k >= 0, k <= n, s == 2 * k - n)


def _call(variant: Variant, what: str, function: Callable, *args):
    try:
        return function(*args)
    except (ArithmeticError, AttributeError, TypeError, ValueError, z3.Z3Exception) as error:
        raise VariantError(f"variant {variant.name!r} {what}", "an expression of s and the "
                           "declared parameters", f"{type(error).__name__}: {error}",
                           "VARIANT-1") from None


def _as_arith(value, variant: Variant, what: str) -> z3.ArithRef:
    if isinstance(value, bool) or not isinstance(value, (z3.ArithRef, int, float, Fraction)):
        raise VariantError(f"variant {variant.name!r} {what}", "a number or an arithmetic "
                           "expression", type(value).__name__, "VARIANT-1")
    return value if isinstance(value, z3.ArithRef) else z3.RealVal(Fraction(value))


def _as_bool(value, variant: Variant, what: str) -> z3.BoolRef:
    if isinstance(value, bool):
        return z3.BoolVal(value)
    if isinstance(value, z3.BoolRef):
        return value
    raise VariantError(f"variant {variant.name!r} {what}", "a condition", type(value).__name__,
                       "VARIANT-1")


def _preactivation(symbols: _Symbols, s, inputs: Mapping) -> z3.ArithRef:
    variant = symbols.variant
    value = _call(variant, "preactivation", variant.preactivation, z3.ToReal(s),
                  symbols.values(inputs))
    return _as_arith(value, variant, "preactivation")


def _fold_bit(fold: Fold, symbols: _Symbols, s, inputs: Mapping) -> tuple[z3.BoolRef,
                                                                          z3.BoolRef]:
    """The fold's bit at ``s`` and the condition under which its threshold is used."""
    values, variant = symbols.values(inputs), symbols.variant
    direction = _call(variant, "fold direction", fold.direction, values)
    threshold = _as_arith(_call(variant, "fold threshold", fold.threshold, values), variant,
                          "fold threshold")
    at = z3.ToReal(s)
    if isinstance(direction, (bool, z3.BoolRef)):
        up = _as_bool(direction, variant, "fold direction")
        return z3.If(up, at >= threshold, at <= threshold), z3.BoolVal(True)
    direction = _as_arith(direction, variant, "fold direction")
    if fold.constant is None:
        return z3.If(direction < 0, at <= threshold, at >= threshold), z3.BoolVal(True)
    constant = _as_bool(_call(variant, "fold constant", fold.constant, values), variant,
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


def _divides_by_zero(expr: z3.ExprRef, used: z3.BoolRef = z3.BoolVal(True)) -> z3.BoolRef:  # noqa: B008
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


def _purify(formulas: Sequence[z3.BoolRef]) -> list[z3.BoolRef]:
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


class _Solver:
    """Checks with a per-query timeout, recording each step."""

    def __init__(self, timeout_ms: int):
        self.timeout_ms = timeout_ms
        self.steps: list[tuple[str, str, float]] = []

    def check(self, step: str, *formulas, purify: bool = False, timeout_ms: int | None = None,
              seed: int = 0) -> tuple[z3.CheckSatResult, z3.Solver]:
        solver = z3.Solver()
        solver.set(timeout=min(self.timeout_ms, timeout_ms or self.timeout_ms), random_seed=seed)
        solver.add(*(_purify(formulas) if purify else formulas))
        start = time.perf_counter()
        answer = solver.check()
        self.steps.append((step, str(answer), time.perf_counter() - start))
        return answer, solver


def _model_value(model: z3.ModelRef, term) -> Fraction | int | None:
    value = model.eval(term, model_completion=True)
    if z3.is_int_value(value):
        return value.as_long()
    if z3.is_rational_value(value):
        return Fraction(value.numerator_as_long(), value.denominator_as_long())
    return None  # algebraic (irrational) or not a constant


# Grids for a readable, float32-representable witness: value = k / scale.
_NICE_GRIDS = ((4, 64), (64, 4096))


def _grid_model(solver: _Solver, formulas: list, terms: Mapping[str, z3.ExprRef]) \
        -> dict[str, Fraction | int] | None:
    """Values of ``terms`` satisfying ``formulas`` with every real on a small dyadic grid (short
    to read, float32 values), if z3 finds them quickly."""
    reals = {name: t for name, t in terms.items() if z3.is_real(t) and z3.is_const(t)}
    for scale, bound in _NICE_GRIDS:
        grid = []
        for name, term in reals.items():
            k = z3.Int(f"{name}_grid")
            grid += [term * scale == z3.ToReal(k), k >= -bound, k <= bound]
        answer, found = solver.check("witness on a grid", *formulas, *grid, timeout_ms=1000)
        if answer == z3.sat:
            return {name: _model_value(found.model(), term) for name, term in terms.items()}
    return None


def _rational_model(solver: _Solver, found: z3.Solver, formulas: list,
                    terms: Mapping[str, z3.ExprRef]) -> dict[str, Fraction | int] | None:
    """The values of a model, each algebraic one replaced by a nearby rational that keeps
    ``formulas`` satisfied."""
    model, pinned = found.model(), []
    for term in terms.values():
        if z3.is_real(term) and _model_value(model, term) is None:
            pinned.append(term == model.eval(term, model_completion=True).approx(12))
            answer, found = solver.check("rational witness", *formulas, *pinned)
            if answer != z3.sat:
                return None
            model = found.model()
    values = {name: _model_value(model, term) for name, term in terms.items()}
    return None if any(v is None for v in values.values()) else values


def _witness(solver: _Solver, step: str, formulas: list, terms: Mapping[str, z3.ExprRef]) \
        -> tuple[str, dict[str, Fraction | int] | None]:
    """Decide ``formulas`` and return ``("sat", values of terms)``, ``("unsat", None)`` or
    ``("unknown", None)``. z3's answer on unbounded nonlinear queries depends on its search, so a
    quick attempt is followed by a search on small grids and by attempts with other seeds."""
    attempts = [("quick", min(solver.timeout_ms, 1500), 0), ("grid", None, None),
                *[("seed", solver.timeout_ms // 2, seed) for seed in (1, 2)]]
    for kind, timeout_ms, seed in attempts:
        if kind == "grid":
            values = _grid_model(solver, formulas, terms)
            if values is not None:
                return "sat", values
            continue
        answer, found = solver.check(step, *formulas, timeout_ms=timeout_ms, seed=seed)
        if answer == z3.unsat:
            return "unsat", None
        if answer == z3.sat:
            values = _grid_model(solver, formulas, terms) or _rational_model(solver, found,
                                                                              formulas, terms)
            return ("sat", values) if values is not None else ("unknown", None)
    return "unknown", None


# --- The exact side (replay) --------------------------------------------------------------------

def _exact_preactivation(variant: Variant, s: int, values: Mapping) -> Fraction:
    exact = {name: Fraction(v) for name, v in values.items()}
    return Fraction(variant.preactivation(Fraction(s), Values(variant.name, exact)))


def _exact_fold_bit(fold: Fold, variant: Variant, s: int, values: Mapping) -> bool:
    p = Values(variant.name, {name: Fraction(v) for name, v in values.items()})
    direction = fold.direction(p)
    if not isinstance(direction, bool) and direction == 0 and fold.constant is not None:
        return bool(fold.constant(p))
    threshold = Fraction(fold.threshold(p))
    up = direction if isinstance(direction, bool) else direction >= 0
    return s >= threshold if up else s <= threshold


def _reference_bits(variant: Variant, points: Sequence[int], values: Mapping,
                    bits: Sequence[bool]) -> tuple[bool, list[str]]:
    """Whether the variant's reference replay agrees with the exact bits at ``points``."""
    if variant.reference is None:
        return True, []
    agree, how = True, set()
    for s, bit in zip(points, bits, strict=True):
        reference_bit, via = variant.reference(s, {k: Fraction(v) for k, v in values.items()})
        agree &= reference_bit == bit
        how.add(via)
    return agree, sorted(how)


def _replay(variant: Variant, values: Mapping, points: Sequence[int], check: Callable) -> dict:
    """Evaluate the pre-activation exactly at ``points``; ``check(bits)`` says whether they show
    what the witness claims."""
    try:
        ys = [_exact_preactivation(variant, s, values) for s in points]
    except ZeroDivisionError:
        return {"confirmed": False, "via": ["exact rationals"],
                "detail": "the pre-activation divides by zero at this point"}
    bits = [y >= 0 for y in ys]
    reference_agrees, via = _reference_bits(variant, points, values, bits)
    confirmed = check(ys, bits) and reference_agrees
    detail = None if reference_agrees else "the numpy reference disagrees with the exact bits"
    return {"confirmed": confirmed, "via": ["exact rationals", *via], "detail": detail,
            "y": [_exact_text(y) for y in ys], "bits": [int(b) for b in bits]}


# --- The prover ---------------------------------------------------------------------------------

def _describe_values(values: Mapping) -> dict:
    return {name: _exact_text(value) for name, value in values.items()}


def _input_dependence(symbols, solver, admissible) -> tuple[str, dict | None]:
    first, first_ok = symbols.inputs("_1")
    second, second_ok = symbols.inputs("_2")
    s, s_ok = symbols.accumulator("s")
    bit_1 = _preactivation(symbols, s, first) >= 0
    bit_2 = _preactivation(symbols, s, second) >= 0
    formulas = [admissible, first_ok, second_ok, s_ok, bit_1 != bit_2]
    terms = {**symbols.consts, "s": s, **{f"{k}_1": v for k, v in first.items()},
             **{f"{k}_2": v for k, v in second.items()}}
    answer, values = _witness(solver, "bit depends on an input", formulas, terms)
    if answer != "sat":
        return answer, None
    params = {k: values[k] for k in symbols.consts}
    point = values["s"]
    names = [i.name for i in symbols.variant.inputs]
    replays = [_replay(symbols.variant, {**params, **{k: values[f"{k}{suffix}"] for k in names}},
                       [point], lambda ys, bits: True) for suffix in ("_1", "_2")]
    confirmed = all(r["confirmed"] for r in replays) and replays[0]["bits"] != replays[1]["bits"]
    witness = {"params": _describe_values(params), "s": point,
               "inputs": [_describe_values({k: values[f"{k}{suffix}"] for k in names})
                          for suffix in ("_1", "_2")],
               "y": [r.get("y", [None])[0] for r in replays],
               "bits": [r.get("bits", [None])[0] for r in replays],
               "replay": {"confirmed": confirmed, "via": replays[0]["via"]}}
    return "sat", witness


def _monotone(symbols, solver, admissible) -> tuple[str, dict | None]:
    inputs, inputs_ok = symbols.inputs()
    variant = symbols.variant

    def pattern(points) -> z3.BoolRef:
        bits = [_as_arith(_call(variant, "preactivation", variant.preactivation, at,
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
    answer, values = _witness(solver, "bit monotone over the domain", formulas, terms)
    if answer != "sat":
        return answer, None
    params = {k: values[k] for k in [*symbols.consts, *inputs]}
    at = [values["s1"], values["s2"], values["s3"]]
    replay = _replay(variant, params, at, lambda ys, b: b[0] == b[2] != b[1])
    return "sat", {"params": _describe_values(params), "s": at, "y": replay.get("y"),
                   "bits": replay.get("bits"),
                   "replay": {k: v for k, v in replay.items() if k in ("confirmed", "via",
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
    y = _as_arith(_call(variant, "preactivation", variant.preactivation, at, values), variant,
                  "preactivation")
    slope, level = (_as_arith(v, variant, "preactivation")
                    for v in _call(variant, "preactivation", rebuild, values))
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
    y = _preactivation(symbols, s, inputs)
    bit, used = _fold_bit(fold, symbols, s, inputs)
    threshold = _as_arith(_call(symbols.variant, "fold threshold", fold.threshold,
                                symbols.values(inputs)), symbols.variant, "fold threshold")
    terms = {**symbols.consts, **inputs, "s": s}
    answer, values = _witness(solver, "fold threshold defined where used",
                              [admissible, inputs_ok, s_ok, _divides_by_zero(threshold, used)],
                              terms)
    if answer == "unsat":
        # The abstraction decides folds built from floors of the root; a concrete counterexample
        # comes from the direct query.
        if affine is not None and _abstract_check(symbols, solver, admissible, inputs_ok, s,
                                                  s_ok, bit, used, affine) == "unsat":
            return "unsat", None
        answer, values = _witness(solver, "fold equals [y(s) >= 0]",
                                  [admissible, inputs_ok, s_ok, bit != (y >= 0)], terms)
    if answer != "sat":
        return answer, None
    point = values.pop("s")
    variant = symbols.variant
    try:
        fold_bit = _exact_fold_bit(fold, variant, point, values)
        fold_text = int(fold_bit)
    except ZeroDivisionError:
        fold_bit, fold_text = None, "undefined (the threshold divides by zero)"
    replay = _replay(variant, values, [point], lambda ys, bits: bits[0] != fold_bit)
    return "sat", {"params": _describe_values(values), "s": point,
                   "y": replay.get("y", [None])[0], "bit": replay.get("bits", [None])[0],
                   "fold_bit": fold_text,
                   "replay": {k: v for k, v in replay.items() if k in ("confirmed", "via",
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
    symbols = _Symbols(variant)
    solver = _Solver(timeout_ms)
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
    y = _preactivation(symbols, s, inputs)
    answer, found = solver.check("pre-activation defined", admissible, inputs_ok, s_ok,
                                 _divides_by_zero(y))
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


def _unknown_reason(answer: str, witness: dict | None, solver: _Solver) -> str:
    if answer == "sat" and witness is not None:
        return f"z3's witness was not confirmed by the replay: {witness['replay']}"
    step, status, _ = solver.steps[-1]
    return f"{step}: z3 answered {status}"


# --- Built-in variants and the published folds --------------------------------------------------

def _float32(value: Fraction) -> np.float32 | None:
    as_float = np.float32(float(value))
    return as_float if np.isfinite(as_float) and Fraction(float(as_float)) == value else None


def bn_reference(gamma: str | None = "gamma", beta: str | None = "beta", mean: str = "mean",
                 sigma: str = "sigma", alpha: str | None = None, bias: str | None = None,
                 offset: str | None = None, shift: str | None = None) -> ReferenceBit:
    """The numpy reference's bit for a BatchNorm-like variant
    ``y = gamma*(alpha*s + b - mean)/sigma + beta + o - shift``, the names saying which
    parameter plays which part (``None``: absent). It decides EXACT-2 on the exact values with
    ``reference.exact.ge_times_sqrt``, and, where every value is a float32 (``var = sigma**2``,
    ``eps = 0``), also folds with ``reference.fold.fold_bn_sign``; the two must agree."""
    from boolnet_spec.reference.accumulator import N_MAX
    from boolnet_spec.reference.batchnorm import BatchNorm
    from boolnet_spec.reference.exact import ge_times_sqrt
    from boolnet_spec.reference.fold import fold_bn_sign
    from boolnet_spec.reference.threshold import threshold_slices

    def bit(s: int, values: Mapping[str, Fraction]) -> tuple[bool, str]:
        get = lambda name, default: values[name] if name else Fraction(default)  # noqa: E731
        g, a, b, o = get(gamma, 1), get(alpha, 1), get(bias, 0), get(offset, 0)
        level = get(beta, 0) - get(shift, 0)
        m, sd = values[mean], values[sigma]
        exact_bit = ge_times_sqrt(g * (a * s + b - m), -(level + o), sd * sd)
        n = int(values["n"]) if "n" in values else max(abs(s), 1) + (abs(s) == 0)
        floats = [_float32(v) for v in (g, level, m, sd * sd, a, b, o)]
        if any(v is None for v in floats) or floats[3] <= 0 or floats[4] <= 0 or n > N_MAX:
            return exact_bit, "reference.exact.ge_times_sqrt"
        g32, level32, m32, var32, a32, b32, o32 = ([v] for v in floats)
        bn = BatchNorm(np.array(g32, np.float32), np.array(level32, np.float32),
                       np.array(m32, np.float32), np.array(var32, np.float32), 0.0)
        units = fold_bn_sign(bn, n, np.array(a32, np.float32), np.array(b32, np.float32),
                             np.array(o32, np.float32))
        folded = bool(threshold_slices(np.full((1, 1, 1, 1), s, np.int16), units)[0, 0, 0, 0, 0])
        if folded != exact_bit:
            return folded, "reference.fold.fold_bn_sign disagrees with reference.exact"
        return exact_bit, "reference.exact.ge_times_sqrt and reference.fold.fold_bn_sign"
    return bit


_BN_PARAMS = (Param("gamma"), Param("beta"), Param("mean"), Param("sigma", positive=True))
_CONV_PARAMS = (*_BN_PARAMS, Param("alpha", positive=True), Param("b"))


def _bn(s, p):
    return p.gamma * (s - p.mean) / p.sigma + p.beta


def _conv_bn(s, p):
    return p.gamma * (p.alpha * s + p.b - p.mean) / p.sigma + p.beta


PLAIN_BN = Variant(
    "plain-bn", _BN_PARAMS, _bn, reference=bn_reference(),
    description="BatchNorm on the accumulator: gamma*(s - mean)/sigma + beta, gamma of any sign, "
                "sigma = sqrt(var + eps) > 0.")
AFFINE_FREE_BN = Variant(
    "affine-free-bn", (Param("mean"), Param("sigma", positive=True)),
    lambda s, p: (s - p.mean) / p.sigma, reference=bn_reference(gamma=None, beta=None),
    description="BatchNorm without affine parameters (affine=False): (s - mean)/sigma.")
SCALED_CONV_BN = Variant(
    "scaled-conv-bn", _CONV_PARAMS, _conv_bn,
    reference=bn_reference(alpha="alpha", bias="b"),
    description="A binary conv with weight scale alpha > 0 and bias b, then BatchNorm: "
                "gamma*(alpha*s + b - mean)/sigma + beta.")
RSIGN_SHIFT = Variant(
    "rsign-shift", (*_BN_PARAMS, Param("shift")), lambda s, p: _bn(s, p) - p.shift,
    reference=bn_reference(shift="shift"),
    description="BatchNorm then ReActNet's RSign, sign(x - shift) with a learnable shift "
                "(decided with the spec's sign(0) = +1; ReActNet's own x > shift gives -1 at the "
                "tie).")
BN_SLICE_OFFSET = Variant(
    "bn-slice-offset", (*_CONV_PARAMS, Param("o")), lambda s, p: _conv_bn(s, p) + p.o,
    reference=bn_reference(alpha="alpha", bias="b", offset="o"),
    description="One slice of the multi-slice quantizer after a scaled conv and BatchNorm: "
                "gamma*(alpha*s + b - mean)/sigma + beta + o.")
BN_MAGNITUDE = Variant(
    "bn-magnitude", (*_BN_PARAMS, Param("delta", positive=True)),
    lambda s, p: abs(_bn(s, p)) - p.delta,
    description="Not foldable: a magnitude quantizer |BN(s)| - delta; its bit is 1 far from the "
                "mean on both sides, 0 near it.")
LOCAL_ADAPTIVE_SHIFT = Variant(
    "local-adaptive-shift", _BN_PARAMS, lambda s, p: _bn(s, p) + p.q, inputs=(Input("q"),),
    description="Not foldable: BoolNet's stem with local adaptive shifting adds a per-position "
                "term q (a depthwise conv of a second BatchNorm of the input), so the bit depends "
                "on q, not on s alone.")

BUILTIN_VARIANTS: dict[str, Variant] = {v.name: v for v in (
    PLAIN_BN, AFFINE_FREE_BN, SCALED_CONV_BN, RSIGN_SHIFT, BN_SLICE_OFFSET, BN_MAGNITUDE,
    LOCAL_ADAPTIVE_SHIFT)}


def _root(p, sigma=None):
    """``t* = (mean - b)/alpha - beta*sigma/(gamma*alpha)`` of :data:`SCALED_CONV_BN`."""
    sigma = p.sigma if sigma is None else sigma
    return (p.mean - p.b) / p.alpha - p.beta * sigma / (p.gamma * p.alpha)


def _sign(x):
    return where(x > 0, 1, where(x < 0, -1, 0))


# The folds below that divide by gamma without a gamma = 0 branch are checked where their tools
# use them: gamma != 0, and for the popcount folds gamma > 0 on D_n.
_NONZERO_GAMMA = Variant(
    "scaled-conv-bn, gamma != 0", (Param("gamma", nonzero=True), *_CONV_PARAMS[1:]), _conv_bn,
    reference=bn_reference(alpha="alpha", bias="b"))
_POSITIVE_ON_DN = Variant(
    "scaled-conv-bn on D_n, gamma > 0", (Param("gamma", positive=True), *_CONV_PARAMS[1:]),
    _conv_bn, domain="D_n", reference=bn_reference(alpha="alpha", bias="b"))

REFERENCE_FOLD = Fold(
    direction=lambda p: p.gamma,
    threshold=lambda p: where(p.gamma > 0, ceil(_root(p)), floor(_root(p))),
    constant=lambda p: p.beta >= 0, name="FOLD-3 to FOLD-5")

PUBLISHED_FOLDS: dict[str, tuple[Variant, Fold, str]] = {
    "reference": (SCALED_CONV_BN, REFERENCE_FOLD, "proved"),
    "strict-floor": (SCALED_CONV_BN, Fold(
        direction=lambda p: p.gamma,
        threshold=lambda p: -(floor(-_root(p)) + where(p.gamma < 0, 1, 0)),
        constant=lambda p: p.beta >= 0,
        name="floor(b/k) + [k < 0], a published SAT-based BNN verifier"), "counterexample"),
    "truncate-halve": (_POSITIVE_ON_DN, Fold(
        direction=lambda p: 1,
        threshold=lambda p: 2 * trunc((trunc(_root(p)) + p.n) / 2) - p.n,
        name="int truncation, then halved into the popcount, a vendor's tiny-CNN layer"),
        "counterexample"),
    "popcount-ceil": (_POSITIVE_ON_DN, Fold(
        direction=lambda p: 1,
        threshold=lambda p: 2 * ceil((ceil(_root(p)) + p.n) / 2) - p.n,
        name="ceil, then the popcount threshold ceil((t + n)/2)"), "proved"),
    "one-formula": (_NONZERO_GAMMA, Fold(
        direction=lambda p: 1, threshold=lambda p: ceil(_root(p)),
        constant=None, name="one formula for both signs of gamma, an HLS code generator"),
        "counterexample"),
    "variance": (_NONZERO_GAMMA, Fold(
        direction=lambda p: p.gamma,
        threshold=lambda p: where(p.gamma > 0, ceil(_root(p, p.sigma * p.sigma)),
                                  floor(_root(p, p.sigma * p.sigma))),
        constant=lambda p: p.beta >= 0,
        name="the variance instead of its square root, an older HLS code generator"),
        "counterexample"),
    "strict-compare": (SCALED_CONV_BN, Fold(
        direction=lambda p: p.gamma,
        threshold=lambda p: where(p.gamma > 0, floor(_root(p)) + 1, ceil(_root(p)) - 1),
        constant=lambda p: p.beta > 0,
        name="a strict > comparison, a mobile BNN engine"), "counterexample"),
    "flip-columns": (SCALED_CONV_BN, Fold(
        direction=lambda p: _sign(p.gamma),
        threshold=lambda p: where(p.gamma >= 0, ceil(_root(p)), -ceil(-_root(p))),
        constant=lambda p: p.beta >= 0,
        name="ceil and >= on -s for a negative scale, a dataflow FPGA compiler"), "proved"),
}
