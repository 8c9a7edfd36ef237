"""The expression language of a variant: the same Python code evaluated on z3 terms and on exact
rationals.

A variant's pre-activation, fold and assumptions are ordinary Python functions. The prover calls
them twice: once with ``Term`` values, whose operators build z3 terms, to decide; once with
``Exact`` values, exact rationals, to replay what it found (VARIANT-4). Both sides follow the
rules of VARIANT-6.

.. req:: VARIANT-6

   Expressions. A variant's expressions use ``+ - * /``, ``**`` with an integer exponent, ``abs``,
   the comparisons, ``&``, ``|``, ``~`` (or :func:`And`, :func:`Or`, :func:`Not`) on conditions,
   and :func:`ceil`, :func:`floor`, :func:`trunc`, :func:`where`, :func:`minimum` and
   :func:`maximum`. A number in an expression is exact: an ``int``, a ``Fraction``, or a ``float``
   whose shortest decimal is its exact binary value (``0.5``, ``0.25``, ``3.0``); any other float
   (``0.1`` is not 1/10 in binary) is rejected on both sides, with a message that says to write
   ``Fraction("0.1")`` for one tenth or ``Fraction(0.1)`` for the binary double. Python's
   ``and``, ``or``, ``not``, chained comparisons and ``if`` on a symbolic value are rejected with a
   message that names ``&``, ``|``, ``~`` and :func:`where`. :func:`where` is lazy in the replay:
   the branch not taken may divide by zero; a division by zero that reaches a comparison or the
   result is undefined. ``ERROR_IF`` an expression breaks these rules
   (:class:`~boolnet_spec.spec.variants.declarations.VariantError`).
"""

from __future__ import annotations

import math
import operator
from fractions import Fraction

import z3

from boolnet_spec.spec import twins

__all__ = ["ExpressionError", "Term", "Exact", "Condition", "UndefinedError", "exact_literal",
           "ceil", "floor", "trunc", "where", "minimum", "maximum", "And", "Or", "Not"]

TRUTH_HINT = ("a symbolic condition has no Python truth value: write a & b, a | b, ~a (or And, "
              "Or, Not) for and, or, not, split a < b < c into (a < b) & (b < c), and write "
              "where(c, x, y) for x if c else y")


class ExpressionError(Exception):
    """An expression outside the language of VARIANT-6; the prover reports it as a
    :class:`~boolnet_spec.spec.variants.declarations.VariantError` naming the variant and field."""


class UndefinedError(ArithmeticError):
    """A division by zero reached a comparison or a result in the replay."""


def exact_literal(value) -> Fraction:
    """A Python number of an expression as an exact rational (VARIANT-6)."""
    if isinstance(value, bool):
        raise ExpressionError(f"the condition {value} where a number is expected: write "
                              "where(c, 1, 0)")
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExpressionError(f"the float literal {value!r} is not a finite number")
        exact = Fraction(value)
        if exact != Fraction(repr(value)):
            raise ExpressionError(
                f"the float literal {value!r} is the binary double {exact}, not {value!r}: "
                f"write Fraction({repr(value)!r}) for {Fraction(repr(value))} or "
                f"Fraction({value!r}) for the double")
        return exact
    raise ExpressionError(f"a {type(value).__name__} where a number is expected")


def _operand(value) -> z3.ExprRef:
    if isinstance(value, Term):
        return value.z
    if isinstance(value, bool):
        return z3.BoolVal(value)
    return z3.RealVal(str(exact_literal(value)))


def _number(value) -> z3.ArithRef:
    term = _operand(value)
    if z3.is_bool(term):
        raise ExpressionError("a condition where a number is expected: write where(c, 1, 0)")
    return z3.ToReal(term) if z3.is_int(term) else term


def _condition(value) -> z3.BoolRef:
    term = _operand(value)
    if not z3.is_bool(term):
        raise ExpressionError("a number where a condition is expected: compare it, e.g. x > 0")
    return term


def _power(base, exponent):
    if isinstance(exponent, bool) or not isinstance(exponent, int):
        raise ExpressionError(f"the exponent {exponent!r}: only integer exponents are expressible")
    result = 1
    for _ in range(abs(exponent)):
        result = result * base
    return 1 / result if exponent < 0 else result


class Term:
    """A symbolic value of a variant's expression: a z3 term behind Python's operators."""

    __slots__ = ("z",)
    __hash__ = None

    def __init__(self, term: z3.ExprRef):
        self.z = term

    def _arith(self, other, op, reflected=False):
        a, b = _number(self), _number(other)
        return Term(op(b, a) if reflected else op(a, b))

    def __add__(self, other): return self._arith(other, operator.add)
    def __radd__(self, other): return self._arith(other, operator.add, True)
    def __sub__(self, other): return self._arith(other, operator.sub)
    def __rsub__(self, other): return self._arith(other, operator.sub, True)
    def __mul__(self, other): return self._arith(other, operator.mul)
    def __rmul__(self, other): return self._arith(other, operator.mul, True)
    def __truediv__(self, other): return self._arith(other, operator.truediv)
    def __rtruediv__(self, other): return self._arith(other, operator.truediv, True)
    def __pow__(self, exponent): return _power(self, exponent)
    def __neg__(self): return Term(-_number(self))
    def __pos__(self): return Term(_number(self))

    def __abs__(self):
        x = _number(self)
        return Term(z3.If(x >= 0, x, -x))

    def __lt__(self, other): return Term(_number(self) < _number(other))
    def __le__(self, other): return Term(_number(self) <= _number(other))
    def __gt__(self, other): return Term(_number(self) > _number(other))
    def __ge__(self, other): return Term(_number(self) >= _number(other))

    def _equal(self, other):
        a, b = _operand(self), _operand(other)
        if z3.is_bool(a) != z3.is_bool(b):
            raise ExpressionError("a condition compared with a number")
        return a == b if z3.is_bool(a) else _number(self) == _number(other)

    def __eq__(self, other): return Term(self._equal(other))
    def __ne__(self, other): return Term(z3.Not(self._equal(other)))
    def __and__(self, other): return Term(z3.And(_condition(self), _condition(other)))
    __rand__ = __and__
    def __or__(self, other): return Term(z3.Or(_condition(self), _condition(other)))
    __ror__ = __or__
    def __xor__(self, other): return Term(z3.Xor(_condition(self), _condition(other)))
    __rxor__ = __xor__
    def __invert__(self): return Term(z3.Not(_condition(self)))

    def __bool__(self):
        raise ExpressionError(TRUTH_HINT)

    def __repr__(self) -> str:
        return f"Term({self.z})"


class Exact:
    """An exact rational of the replay, or ``None``: the undefined value of a division by zero,
    which a :func:`where` may discard and a comparison may not."""

    __slots__ = ("q",)
    __hash__ = None

    def __init__(self, value: Fraction | None):
        self.q = value

    @staticmethod
    def _value(value) -> Fraction | None:
        return value.q if isinstance(value, Exact) else exact_literal(value)

    def _arith(self, other, op, reflected=False):
        a, b = self.q, self._value(other)
        if reflected:
            a, b = b, a
        if a is None or b is None or (op is operator.truediv and b == 0):
            return Exact(None)
        return Exact(op(a, b))

    def defined(self) -> Fraction:
        if self.q is None:
            raise UndefinedError("the expression divides by zero here")
        return self.q

    def _compare(self, other, op) -> Condition:
        other = self._value(other)
        if other is None:
            raise UndefinedError("the expression divides by zero here")
        return Condition(op(self.defined(), other))

    def __add__(self, other): return self._arith(other, operator.add)
    def __radd__(self, other): return self._arith(other, operator.add, True)
    def __sub__(self, other): return self._arith(other, operator.sub)
    def __rsub__(self, other): return self._arith(other, operator.sub, True)
    def __mul__(self, other): return self._arith(other, operator.mul)
    def __rmul__(self, other): return self._arith(other, operator.mul, True)
    def __truediv__(self, other): return self._arith(other, operator.truediv)
    def __rtruediv__(self, other): return self._arith(other, operator.truediv, True)
    def __pow__(self, exponent): return _power(self, exponent)
    def __neg__(self): return Exact(None if self.q is None else -self.q)
    def __pos__(self): return self
    def __abs__(self): return Exact(None if self.q is None else abs(self.q))
    def __lt__(self, other): return self._compare(other, operator.lt)
    def __le__(self, other): return self._compare(other, operator.le)
    def __gt__(self, other): return self._compare(other, operator.gt)
    def __ge__(self, other): return self._compare(other, operator.ge)
    def __eq__(self, other): return self._compare(other, operator.eq)
    def __ne__(self, other): return self._compare(other, operator.ne)

    def __bool__(self):
        raise ExpressionError(TRUTH_HINT)

    def __repr__(self) -> str:
        return f"Exact({self.q})"


class Condition:
    """A condition of the replay: a truth value with ``&``, ``|``, ``^`` and ``~`` as on
    :class:`Term` (Python's ``~True`` is ``-2``)."""

    __slots__ = ("b",)

    def __init__(self, value: bool):
        self.b = bool(value)

    def __and__(self, other): return Condition(self.b and _truth(other))
    __rand__ = __and__
    def __or__(self, other): return Condition(self.b or _truth(other))
    __ror__ = __or__
    def __xor__(self, other): return Condition(self.b != _truth(other))
    __rxor__ = __xor__
    def __invert__(self): return Condition(not self.b)
    def __eq__(self, other): return Condition(self.b == _truth(other))
    def __ne__(self, other): return Condition(self.b != _truth(other))
    __hash__ = None

    def __bool__(self) -> bool:
        return self.b

    def __repr__(self) -> str:
        return f"Condition({self.b})"


def _exact(value) -> Exact:
    return value if isinstance(value, Exact) else Exact(exact_literal(value))


def _symbolic(*values) -> bool:
    return any(isinstance(v, Term) for v in values)


def _rounded(x, symbolic, exact):
    if hasattr(x, "round_to_integer"):  # another evaluation, e.g. float32 terms
        return x.round_to_integer(exact.__name__)
    if _symbolic(x):
        return Term(z3.ToReal(symbolic(_number(x))))
    x = _exact(x)
    return Exact(None if x.q is None else Fraction(exact(x.q)))


def ceil(x):
    """The least integer ``>= x``, as a real (so that ``ceil(x) / 2`` is not an integer
    division)."""
    return _rounded(x, twins.ceil, math.ceil)


def floor(x):
    """The greatest integer ``<= x``, as a real."""
    return _rounded(x, twins.floor, math.floor)


def trunc(x):
    """``x`` rounded toward zero (C's ``(int)x``; ``trunc(a / b)`` is C's integer division),
    as a real."""
    return _rounded(x, twins.trunc, math.trunc)


def where(condition, if_true, if_false):
    """``if_true`` where ``condition`` holds, else ``if_false``; in the replay the other branch
    is discarded, even where it divides by zero."""
    other = next((v for v in (if_true, if_false, condition) if hasattr(v, "select")), None)
    if other is not None:  # another evaluation, e.g. float32 terms
        return other.select(condition, if_true, if_false)
    if _symbolic(condition, if_true, if_false):
        cond = _condition(condition)
        a, b = _operand(if_true), _operand(if_false)
        if z3.is_bool(a) and z3.is_bool(b):
            return Term(z3.If(cond, a, b))
        return Term(z3.If(cond, _number(if_true), _number(if_false)))
    chosen = if_true if _truth(condition) else if_false
    if isinstance(chosen, (bool, Condition, Exact)):
        return chosen
    return _exact(chosen)


def minimum(a, b):
    """The smaller of ``a`` and ``b``."""
    return where(a <= b, a, b)


def maximum(a, b):
    """The larger of ``a`` and ``b``."""
    return where(a >= b, a, b)


def And(*conditions):
    """All of ``conditions`` hold (Python's ``and`` for symbolic conditions)."""
    if _symbolic(*conditions):
        return Term(z3.And([_condition(c) for c in conditions]))
    return Condition(all(_truth(c) for c in conditions))


def Or(*conditions):
    """One of ``conditions`` holds (Python's ``or`` for symbolic conditions)."""
    if _symbolic(*conditions):
        return Term(z3.Or([_condition(c) for c in conditions]))
    return Condition(any(_truth(c) for c in conditions))


def Not(condition):
    """``condition`` does not hold (Python's ``not`` for a symbolic condition)."""
    if _symbolic(condition):
        return Term(z3.Not(_condition(condition)))
    return Condition(not _truth(condition))


def _truth(condition) -> bool:
    if isinstance(condition, Condition):
        return condition.b
    if not isinstance(condition, bool):
        raise ExpressionError("a number where a condition is expected: compare it, e.g. x > 0")
    return condition
