"""Folds computed in float32: the threshold's arithmetic rounded to nearest-even at every step.

.. req:: VARIANT-8

   Float32 folds. ``Fold(..., arithmetic="float32")`` computes the fold's direction, threshold
   and constant in float32: every parameter and literal is a float32 value, every ``+ - * /`` is
   rounded to nearest, ties to even (IEEE 754 binary32), ``ceil``, ``floor``, ``trunc`` and the
   comparisons are exact, and ``s`` is compared with the rounded threshold exactly. Every real
   parameter must range over a finite box (``low`` and ``high``, or ``magnitude``), and takes
   only the float32 values in it. The fold is first proved in exact arithmetic (VARIANT-3); then
   the float32 fold is ``proved`` when no rounding step of its direction, threshold and constant
   rounds anywhere on the box: every step adds, subtracts or multiplies integers (integer
   parameters and literals, results of ``ceil``, ``floor``, ``trunc``) and z3 shows each result
   within ``2**24`` in magnitude; and
   ``counterexample`` when a parameter value whose exact root is next to an integer (found by
   z3 in exact arithmetic and rounded to float32, with its neighbours) gives a bit that the
   exact fold does not; the witness is replayed with the float32 operations on exact
   rationals. Neither found within the budget is ``unknown``. ``ERROR_IF`` a real parameter has no
   finite box (:class:`~.declarations.VariantError`).
"""

from __future__ import annotations

import math
import operator
import random
import time
from fractions import Fraction

import z3

from boolnet_spec.spec.variants.declarations import Fold, Values, Variant, VariantError
from boolnet_spec.spec.variants.expressions import (
    Condition,
    Exact,
    ExpressionError,
    Term,
    exact_literal,
)
from boolnet_spec.spec.variants.replay import exact_number, exact_preactivation, exact_text

__all__ = ["round32", "Rounded", "prove_float32_fold"]

MANTISSA_BITS = 24
MIN_EXPONENT = -126  # of the smallest normal float32
MAX_FLOAT32 = Fraction((2 ** MANTISSA_BITS - 1) * 2 ** (127 - 23))


def round32(value: Fraction) -> Fraction:
    """The float32 nearest to ``value``, ties to even, as an exact rational."""
    if value == 0:
        return Fraction(0)
    magnitude = abs(value)
    exponent = max(math.floor(math.log2(magnitude)), MIN_EXPONENT)
    # log2 of a Fraction can be off by one near powers of two: fix the exponent exactly.
    while Fraction(2) ** exponent > magnitude and exponent > MIN_EXPONENT:
        exponent -= 1
    while Fraction(2) ** (exponent + 1) <= magnitude:
        exponent += 1
    ulp = Fraction(2) ** (exponent - (MANTISSA_BITS - 1))
    scaled = magnitude / ulp
    whole = math.floor(scaled)
    rest = scaled - whole
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and whole % 2 == 1):
        whole += 1
    rounded = whole * ulp
    if rounded > MAX_FLOAT32:
        raise ExpressionError(f"{value} overflows float32")
    return rounded if value > 0 else -rounded


def neighbours(value: Fraction, count: int) -> list[Fraction]:
    """``value`` (a float32) and the ``count`` float32 values on each side of it."""
    out = [value]
    for direction in (1, -1):
        current = value
        for _ in range(count):
            magnitude = abs(current) if current else Fraction(2) ** (MIN_EXPONENT - 23)
            exponent = max(math.floor(math.log2(magnitude)), MIN_EXPONENT)
            step = Fraction(2) ** (exponent - (MANTISSA_BITS - 1))
            current = round32(current + direction * step)
            out.append(current)
    return out


class Rounded(Exact):
    """A float32 value of the replay: each arithmetic result is rounded to nearest even."""

    __slots__ = ()

    @staticmethod
    def _value(value) -> Fraction | None:
        if isinstance(value, Exact):
            return value.q
        return round32(exact_literal(value))

    def _arith(self, other, op, reflected=False):
        a, b = self.q, self._value(other)
        if reflected:
            a, b = b, a
        if a is None or b is None or (op is operator.truediv and b == 0):
            return Rounded(None)
        return Rounded(round32(op(a, b)))

    def __neg__(self):
        return Rounded(None if self.q is None else -self.q)

    def __abs__(self):
        return Rounded(None if self.q is None else abs(self.q))


def _float32_bit(fold: Fold, variant: Variant, s: int, values: dict) -> bool:
    p = Values(variant.name, {name: Rounded(Fraction(v)) for name, v in values.items()})
    direction = fold.direction(p)
    if not isinstance(direction, (bool, Condition)):
        direction = exact_number(direction)
        if direction == 0 and fold.constant is not None:
            return bool(fold.constant(p))
    threshold = exact_number(fold.threshold(p))
    up = bool(direction) if isinstance(direction, (bool, Condition)) else direction >= 0
    return s >= threshold if up else s <= threshold


def _check_box(variant: Variant) -> None:
    for p in variant.params:
        if not p.integer and not p.bounded:
            raise VariantError(f"variant {variant.name!r} parameter {p.name!r}", "a finite box "
                               "(low and high, or magnitude) for a float32 fold", "no bounds",
                               "VARIANT-8")


def _exact_on_box(variant: Variant, fold: Fold, solver) -> str:
    """``unsat`` when no rounding step of the fold's threshold rounds anywhere on the box: every
    step adds, subtracts or multiplies integers (integer parameters, integer literals, results of
    ``ceil``, ``floor`` and ``trunc``) with a result of magnitude at most ``2**24``. A step
    outside this shape may round (``sat``)."""
    consts = {p.name: (z3.Int if p.integer else z3.Real)(p.name) for p in variant.params}
    constraints = [p.constraint(consts[p.name]) for p in variant.params]
    if variant.domain == "D_n":
        consts["n"] = z3.Int("n")
        constraints.append(consts["n"] >= 1)
    steps: list = []
    values = Values(variant.name, {name: StepTerm(z3.ToReal(c) if z3.is_int(c) else c,
                                                  z3.is_int(c), steps)
                                   for name, c in consts.items()})
    try:
        fold.threshold(values)
        fold.direction(values)
        if fold.constant is not None:
            fold.constant(values)
    except (ExpressionError, TypeError, AttributeError, ValueError):
        return "unknown"
    if any(step is None for step in steps):
        return "sat"
    if not steps:
        return "unsat"
    answer, _ = solver.check("every float32 step of the threshold exact on the box", *constraints,
                             z3.Or([z3.Or(r > 2 ** MANTISSA_BITS, r < -(2 ** MANTISSA_BITS))
                                    for r in steps]))
    return str(answer)


class StepTerm:
    """A real term of the threshold with whether it is an integer; each arithmetic step appends
    its exact result (an obligation ``|r| <= 2**24``) or ``None`` (a step that may round)."""

    __slots__ = ("integral", "steps", "z")

    def __init__(self, z, integral: bool, steps: list):
        self.z, self.integral, self.steps = z, integral, steps

    def _other(self, other):
        if isinstance(other, StepTerm):
            return other.z, other.integral, None
        value = exact_literal(other)
        return z3.RealVal(str(value)), value.denominator == 1, value

    def _op(self, other, op, reflected=False):
        z, integral, _ = self._other(other)
        a, b = (z, self.z) if reflected else (self.z, z)
        result = op(a, b)
        if self.integral and integral and op is not operator.truediv:
            self.steps.append(result)
            return StepTerm(result, True, self.steps)
        self.steps.append(None)
        return StepTerm(result, False, self.steps)

    def __add__(self, other): return self._op(other, operator.add)
    def __radd__(self, other): return self._op(other, operator.add, True)
    def __sub__(self, other): return self._op(other, operator.sub)
    def __rsub__(self, other): return self._op(other, operator.sub, True)
    def __mul__(self, other): return self._op(other, operator.mul)
    def __rmul__(self, other): return self._op(other, operator.mul, True)
    def __truediv__(self, other): return self._op(other, operator.truediv)
    def __rtruediv__(self, other): return self._op(other, operator.truediv, True)
    def __neg__(self): return StepTerm(-self.z, self.integral, self.steps)

    def round_to_integer(self, kind: str) -> StepTerm:
        from boolnet_spec.spec import twins

        rounding = {"ceil": twins.ceil, "floor": twins.floor, "trunc": twins.trunc}[kind]
        return StepTerm(z3.ToReal(rounding(self.z)), True, self.steps)

    def select(self, condition, if_true, if_false):
        """``where``: the steps of both branches count."""
        branches = [v if isinstance(v, StepTerm) else StepTerm(*self._other(v)[:2], self.steps)
                    for v in (if_true, if_false)]
        return StepTerm(branches[0].z, branches[0].integral and branches[1].integral,
                        self.steps)

    def _compare(self, other):
        return StepCondition(self.steps)

    __lt__ = __le__ = __gt__ = __ge__ = _compare
    __hash__ = None


class StepCondition:
    """A condition in a float32 threshold: exact, and both branches of its ``where`` count."""

    __slots__ = ("steps",)

    def __init__(self, steps: list):
        self.steps = steps

    def _same(self, other):
        return self

    __and__ = __rand__ = __or__ = __ror__ = _same

    def __invert__(self):
        return self

    def select(self, condition, if_true, if_false):
        return StepTerm(z3.RealVal(0), False, self.steps).select(condition, if_true, if_false)


def _search(variant: Variant, fold: Fold, solver, attempts: int = 24) -> dict | None:
    """Parameter values next to a tie where the float32 fold's bit differs from ``[y >= 0]``."""
    rng = random.Random(0)
    reals = [p for p in variant.params if not p.integer]
    stop = time.perf_counter() + min(solver.remaining_ms(), 1500) / 1000
    for attempt in range(attempts):
        if time.perf_counter() > stop or not reals:
            return None
        values: dict[str, Fraction] = {}
        for p in variant.params:
            values[p.name] = _draw(p, rng)
        if variant.domain == "D_n":
            values["n"] = Fraction(rng.randint(1, 32))
        free = reals[attempt % len(reals)]
        points = _points(variant, values)
        k = rng.choice(points)
        tie = _solve_tie(variant, values, free.name, k, solver)
        if tie is None:
            continue
        for candidate in neighbours(round32(tie), 2):
            if not free.admits(candidate):
                continue
            trial = {**values, free.name: candidate}
            for s in (k - 2, k - 1, k, k + 1, k + 2):
                if s not in points:
                    continue
                try:
                    truth = exact_preactivation(variant, s, trial) >= 0
                    folded = _float32_bit(fold, variant, s, trial)
                except (ArithmeticError, ExpressionError):
                    continue
                if truth != folded:
                    return {"params": {k2: exact_text(v) for k2, v in trial.items()}, "s": s,
                            "y": exact_text(exact_preactivation(variant, s, trial)),
                            "bit": int(truth), "fold_bit": int(folded),
                            "replay": {"confirmed": True, "via": [
                                "exact rationals", "float32 operations replayed exactly"]}}
    return None


def _draw(p, rng) -> Fraction:
    lo = Fraction(p.magnitude[0]) if p.magnitude else None
    hi = Fraction(p.magnitude[1]) if p.magnitude else None
    if p.magnitude is None:
        low, high = Fraction(p.low), Fraction(p.high)
        return round32(low + (high - low) * Fraction(rng.randint(0, 1 << 20), 1 << 20))
    # Log-uniform in the box: 2**(k/64) steps of the ratio hi/lo, as exact float32 values.
    steps = max(1, round(math.log2(hi / lo) * 8))
    magnitude = round32(lo * Fraction(2) ** Fraction(rng.randint(0, steps), 8))
    magnitude = min(max(magnitude, lo), hi)
    if p.positive or p.nonnegative:
        sign = 1
    elif p.negative:
        sign = -1
    else:
        sign = rng.choice((1, -1))
    return sign * magnitude


def _points(variant: Variant, values: dict) -> list[int]:
    domain = variant.domain
    if hasattr(domain, "points"):
        return list(domain.points())
    if domain == "D_n":
        n = int(values["n"])
        return list(range(-n, n + 1, 2))
    return list(range(-16, 17))


def _solve_tie(variant: Variant, values: dict, free: str, k: int, solver) -> Fraction | None:
    """A value of ``free`` that puts ``y(k) = 0``, the others fixed, in exact arithmetic."""
    x = z3.Real(free)
    p = Values(variant.name, {name: Term(x) if name == free else Term(z3.RealVal(str(v)))
                              for name, v in values.items()})
    try:
        y = variant.preactivation(Term(z3.RealVal(k)), p)
    except (ExpressionError, TypeError):
        return None
    query = z3.Solver()
    query.set(timeout=max(1, min(200, solver.remaining_ms())))
    param = next(q for q in variant.params if q.name == free)
    query.add(y.z == 0, param.constraint(x))
    if query.check() != z3.sat:
        return None
    value = query.model().eval(x, model_completion=True)
    if z3.is_rational_value(value):
        return Fraction(value.numerator_as_long(), value.denominator_as_long())
    return Fraction(value.approx(20).as_fraction())


def prove_float32_fold(variant: Variant, solver, outcome):
    """The verdict on a float32 fold whose exact fold is proved (VARIANT-8)."""
    fold = variant.claimed_fold
    _check_box(variant)
    witness = _search(variant, fold, solver)
    if witness is not None:
        outcome.status, outcome.counterexample = "counterexample", witness
        outcome.reason = (f"float32: at s = {witness['s']} the float32 fold gives "
                          f"{witness['fold_bit']} and sign(y) gives {witness['bit']}")
        return outcome
    exact = _exact_on_box(variant, fold, solver)
    if exact == "unsat":
        outcome.reason = "float32 is exact on the box: no rounding step of the threshold rounds"
        return outcome
    outcome.status = "unknown"
    outcome.reason = ("float32: a rounding step of the threshold may round on the box, and no "
                      "parameter value next to a tie showed a wrong bit within the budget")
    return outcome
