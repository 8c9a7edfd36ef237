"""Naive oracle for BatchNorm followed by sign: y evaluated in 1000-digit decimal, never folded.

Independent of ``reference.fold`` and ``reference.exact``: it takes the sign of the real value
``y_j(s) = gamma*(alpha*s + b - mean)/sqrt(var + eps) + beta + o_j`` computed with ``decimal``
(``Decimal(float)`` is exact), instead of comparing squares, and it refuses to guess when the
computed value is too close to zero for the precision. Float32 rounding of decimals is done by
enumerating float32 bit patterns with ``struct``.
"""

from __future__ import annotations

import struct
from decimal import Decimal, Inexact, localcontext
from fractions import Fraction

DIGITS = 1000
# A rounded result within this fraction of its largest term could have either sign.
UNDECIDABLE = Decimal(10) ** -900
_INF_PATTERN = 0x7F800000


class Undecidable(ArithmeticError):
    """The decimal value is too close to zero for DIGITS digits to give its sign."""


def to_decimal(x: int | float | Fraction) -> Decimal:
    """The decimal value of ``x``: exact for ints, floats and 2**a * 5**b denominators."""
    if isinstance(x, Fraction):
        return Decimal(x.numerator) / Decimal(x.denominator)
    return Decimal(x)


def _decided_sign_bit(y: Decimal, scale: Decimal, inexact: bool) -> int:
    if not inexact:
        return int(y >= 0)
    if abs(y) <= scale * UNDECIDABLE:
        raise Undecidable(f"|y| = {abs(y):.3e} is below the {DIGITS}-digit resolution")
    return int(y >= 0)


def ge_times_sqrt(lhs: Fraction, k: Fraction, v: Fraction) -> bool:
    """``lhs >= k * sqrt(v)`` from the sign of ``lhs - k*sqrt(v)`` in decimal."""
    if v <= 0:
        raise ValueError(f"v = {v} is not positive")
    with localcontext() as context:
        context.prec = DIGITS
        context.Emin, context.Emax = -10**7, 10**7
        context.clear_flags()
        # k = 0 makes the right side an exact 0 whatever the rounding of sqrt(v)
        right = to_decimal(k) * to_decimal(v).sqrt() if k != 0 else Decimal(0)
        left = to_decimal(lhs)
        y = left - right
        inexact = bool(context.flags[Inexact])
    return bool(_decided_sign_bit(y, max(abs(left), abs(right)), inexact))


def bn_sign_bits(gamma: float, beta: float, mean: float, var: float, eps: float, n: int,
                 alpha: float = 1.0, bias: float = 0.0, offset: float = 0.0) -> list[int]:
    """``[y(s) >= 0]`` for every s in D_n, increasing s, with sign(+0) = sign(-0) = +1."""
    return bn_sign_bits_at(range(-n, n + 1, 2), gamma, beta, mean, var, eps, alpha, bias, offset)


def bn_sign_bits_at(points, gamma: float, beta: float, mean: float, var: float, eps: float,
                    alpha: float = 1.0, bias: float = 0.0, offset: float = 0.0) -> list[int]:
    """``[y(s) >= 0]`` for each integer s of ``points``."""
    with localcontext() as context:
        context.prec = DIGITS
        context.Emin, context.Emax = -10**7, 10**7
        context.clear_flags()
        variance = to_decimal(var) + to_decimal(eps)
        if variance <= 0:
            raise ValueError(f"var + eps = {variance:.3e} is not positive")
        sigma = variance.sqrt()
        sigma_inexact = bool(context.flags[Inexact])
        context.clear_flags()
        shift = to_decimal(beta) + to_decimal(offset)
        shift_inexact = bool(context.flags[Inexact])
        bits = []
        for s in points:
            context.clear_flags()
            numerator = to_decimal(gamma) * (to_decimal(alpha) * s + to_decimal(bias)
                                             - to_decimal(mean))
            inexact = bool(context.flags[Inexact])
            # an exactly zero numerator stays exact whatever the rounding of sigma
            if numerator != 0 or inexact:
                numerator /= sigma
                inexact = inexact or sigma_inexact
            y = numerator + shift
            inexact = inexact or shift_inexact or bool(context.flags[Inexact])
            bits.append(_decided_sign_bit(y, max(abs(numerator), abs(shift)), inexact))
    return bits


def _pattern_value(pattern: int) -> Fraction:
    """The value of a non-negative float32 bit pattern; the infinity pattern counts as 2**128."""
    if pattern == _INF_PATTERN:
        return Fraction(2) ** 128
    return Fraction(struct.unpack("<f", struct.pack("<I", pattern))[0])


def nearest_float32(q: Fraction) -> float:
    """The float32 nearest to ``q``, ties to the even pattern, as a float (+-inf on overflow).

    IEEE rounds as if the exponent were unbounded, so 2**128 competes as the pattern after the
    largest finite float32 and stands for infinity.
    """
    magnitude = abs(Fraction(q))
    try:
        start = struct.unpack("<I", struct.pack("<f", float(magnitude)))[0]
    except OverflowError:
        start = _INF_PATTERN
    candidates = range(max(0, start - 2), min(_INF_PATTERN, start + 2) + 1)
    best = min(candidates, key=lambda p: (abs(_pattern_value(p) - magnitude), p & 1))
    value = float("inf") if best == _INF_PATTERN else struct.unpack(
        "<f", struct.pack("<I", best))[0]
    return -value if q < 0 else value
