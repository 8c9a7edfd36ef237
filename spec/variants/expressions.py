"""The expression language of a variant: rounding and branches that work on z3 terms and on exact
rationals alike.

A variant's pre-activation and fold are ordinary Python arithmetic (``+ - * /``, comparisons,
``abs``) plus the functions below; the prover evaluates them once on z3 terms to decide and once on
exact rationals to replay what it found.
"""

from __future__ import annotations

import math
from fractions import Fraction

import z3

from boolnet_spec.spec import twins

__all__ = ["ceil", "floor", "trunc", "where", "minimum", "maximum"]


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


