"""Exact arithmetic: the real values of binary floating-point numbers, and decisions on them.

Every finite binary32 or binary64 number is a dyadic rational, so sums, products and quotients of
them are exact :class:`fractions.Fraction` values. Square roots are never taken: a comparison with
``K * sqrt(v)`` is decided on squares.

.. req:: EXACT-1

   The value of a float32 or float64 parameter is its exact binary value, never a decimal
   reading of it. A decimal string (an optional sign, digits with an optional point, an optional
   exponent, as in ``-1.25e-3``) given where a float32 is expected denotes the float32 nearest
   to the decimal's exact value, ties to even, as IEEE 754 ``roundTiesToEven`` defines it
   (magnitudes at or beyond ``2**128 - 2**103`` round to infinity).

.. req:: EXACT-2

   ``L >= K * sqrt(v)`` for rationals ``L``, ``K`` and ``v > 0`` is decided without rounding: by
   the signs of ``L`` and ``K`` where they differ, else by comparing ``L**2`` with ``K**2 * v``.
   The operands are dyadic rationals of unbounded width: with ``eps`` a binary64 number (BN-1),
   ``var + eps`` alone may need about 2,100 bits (binary64 exponents run from ``2**-1074`` to
   ``2**1023``) and ``K**2 * v`` about 3,000, so an implementation with fixed-width integers sizes
   them for these products or refuses an input it cannot hold (an ERROR, never a rounded decision).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

__all__ = ["exact", "round_to_float32", "ge_times_sqrt", "exact_row_sums"]

_F32_MANTISSA = 24
_F32_MIN_EXP = -149
_F32_OVERFLOW = Fraction(2) ** 128


def exact(x: float | np.floating) -> Fraction:
    """The exact rational value of a finite float (EXACT-1)."""
    return Fraction(float(x))


def round_to_float32(q: Fraction) -> np.float32:
    """The float32 nearest to the rational ``q``, ties to even (EXACT-1)."""
    if q == 0:
        return np.float32(0.0)
    magnitude = abs(q)
    exponent = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    if Fraction(2) ** exponent > magnitude:
        exponent -= 1
    ulp = Fraction(2) ** max(exponent - (_F32_MANTISSA - 1), _F32_MIN_EXP)
    rounded = round(magnitude / ulp) * ulp  # Fraction.__round__ rounds half to even
    # A float32 value, so binary64 holds it exactly.
    value = np.float32(np.inf) if rounded >= _F32_OVERFLOW else np.float32(float(rounded))
    return value if q > 0 else -value


def ge_times_sqrt(lhs: Fraction, k: Fraction, v: Fraction) -> bool:
    """Decide ``lhs >= k * sqrt(v)`` exactly for ``v > 0`` (EXACT-2)."""
    if lhs >= 0 and k <= 0:
        return True
    if lhs < 0 and k >= 0:
        return False
    if lhs >= 0:
        return lhs * lhs >= k * k * v
    return lhs * lhs <= k * k * v


def exact_row_sums(values: np.ndarray) -> list[Fraction]:
    """The exact sum of each row of a finite float32 matrix ``[R, K]``.

    Each value is ``mantissa * 2**exponent`` with an integer mantissa below ``2**24``; mantissas are
    summed per exponent (exact in binary64 while ``K < 2**29``) and the exponents combined as
    Python integers.
    """
    mantissa, exponent = np.frexp(values.astype(np.float64))
    mantissa = mantissa * float(2 ** _F32_MANTISSA)
    exponent = exponent.astype(np.int64) - _F32_MANTISSA
    low = int(exponent.min()) if exponent.size else 0
    span = int(exponent.max()) - low + 1 if exponent.size else 1
    rows = values.shape[0]
    bins = np.arange(rows, dtype=np.int64)[:, None] * span + (exponent - low)
    per_exponent = np.bincount(bins.ravel(), weights=mantissa.ravel(), minlength=rows * span)
    per_exponent = per_exponent.reshape(rows, span)
    sums = []
    for row in per_exponent:
        total = sum(int(m) << e for e, m in enumerate(row.tolist()) if m)
        sums.append(Fraction(total) * Fraction(2) ** low)
    return sums
