"""Naive oracle for threshold units: bit lists over D_n, built by enumeration, no parity arithmetic.

Independent of ``reference.threshold``: units are plain ``(polarity, t)`` pairs of Python ints.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise

GE, LE = 1, 0


def domain(n: int) -> list[int]:
    """D_n = [-n, -n+2, ..., n] as Python ints."""
    return list(range(-n, n + 1, 2))


def unit_bit(polarity: int, t: int | Fraction, s: int) -> int:
    """THR-1 read literally: ``[s >= t]`` for polarity 1, ``[s <= t]`` for polarity 0."""
    if polarity == GE:
        return int(s >= t)
    if polarity == LE:
        return int(s <= t)
    raise ValueError(f"polarity {polarity} is not a bit")


def unit_bits(polarity: int, t: int | Fraction, n: int) -> list[int]:
    """The bits of one unit at every s of D_n, in increasing s."""
    return [unit_bit(polarity, t, s) for s in domain(n)]


def is_monotone(bits: list[int]) -> bool:
    """True when ``bits`` never decreases or never increases along s."""
    pairs = list(pairwise(bits))
    return all(a <= b for a, b in pairs) or all(a >= b for a, b in pairs)


def canonical_units(n: int) -> set[tuple[int, int]]:
    """THR-2's list of canonical units for ``n``, written out one case at a time."""
    units = {(GE, t) for t in domain(n)}
    units.add((GE, n + 2))
    units |= {(LE, t) for t in domain(n) if t != n}
    return units


def canonical_unit_of_bits(bits: list[int], n: int) -> tuple[int, int]:
    """The canonical unit computing a monotone bit list over D_n (THR-2's choice for constants)."""
    if len(bits) != n + 1:
        raise ValueError(f"{len(bits)} bits for the {n + 1} points of D_n")
    points = domain(n)
    if all(bits):
        return GE, -n
    if not any(bits):
        return GE, n + 2
    ones = [s for s, bit in zip(points, bits, strict=True) if bit]
    if bits == sorted(bits):
        return GE, ones[0]
    if bits == sorted(bits, reverse=True):
        return LE, ones[-1]
    raise ValueError(f"bits {bits} are not a monotone function of s")


def canonical_unit_of_real(polarity: int, t: Fraction, n: int) -> tuple[int, int]:
    """THR-3 by enumeration: the canonical unit of the bits ``[s >= t]`` or ``[s <= t]``."""
    return canonical_unit_of_bits(unit_bits(polarity, Fraction(t), n), n)
