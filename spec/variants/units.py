"""A proved variant's fold evaluated per channel: the threshold unit for given parameter values.

.. req:: VARIANT-9

   Per-channel thresholds. For a proved variant and one channel's parameter values (exact
   rationals that satisfy the declaration and its assumptions; with an ``n``, the length of the
   dot product, when the domain is every integer) the fold of each output is a threshold unit
   found on exact rationals, affine or not: the bits are proved monotone, so a bisection over the
   domain for the first (increasing) or last (decreasing) ``s`` with ``y(s) >= 0`` is exact. On
   ``D_n`` the unit is canonical (THR-2, THR-3); on a :class:`~.declarations.Range` it is
   ``(1, t)`` with ``t`` the first 1 bit (``high + step`` for constant 0) or ``(0, t)`` with ``t``
   the last. ``boolnet-spec prove --variant=... --units=ROWS.json`` prints them for a JSON list of
   rows, one object of values per channel. ``ERROR_IF`` a row misses a parameter, names an unknown
   one, or holds a value the declaration does not admit (:class:`~.declarations.VariantError`).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from boolnet_spec.reference.threshold import GE, LE, canonical_unit
from boolnet_spec.spec.variants.declarations import Range, Variant, VariantError
from boolnet_spec.spec.variants.expressions import Condition, Exact
from boolnet_spec.spec.variants.replay import exact_preactivation, exact_values

__all__ = ["channel_units", "check_row"]


def _value(where: str, name: str, value) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, (int, Fraction, str)):
        raise VariantError(f"{where} {name}", "an int, a Fraction or a decimal or a/b string",
                           repr(value), "VARIANT-9")
    try:
        return Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise VariantError(f"{where} {name}", "an exact number", repr(value),
                           "VARIANT-9") from None


def check_row(variant: Variant, row: Mapping, where: str = "row") -> dict[str, Fraction]:
    """One channel's values, checked against the declaration (VARIANT-9)."""
    if not isinstance(row, Mapping):
        raise VariantError(where, "an object of parameter values", repr(row), "VARIANT-9")
    params = list(variant.params)
    names = [p.name for p in params] + ["n"]
    unknown = sorted(set(row) - set(names))
    if unknown:
        raise VariantError(f"{where} {unknown[0]}", f"one of {', '.join(names)}", "an unknown "
                           "name", "VARIANT-9")
    values = {}
    for p in params:
        if p.name not in row:
            raise VariantError(f"{where} {p.name}", "a value", "nothing", "VARIANT-9")
        values[p.name] = _value(where, p.name, row[p.name])
        if not p.admits(values[p.name]):
            raise VariantError(f"{where} {p.name}", "a value the declaration admits",
                               str(values[p.name]), "VARIANT-9")
    if "n" in row or variant.domain in ("D_n", "integers"):
        n = _value(where, "n", row.get("n", "0"))
        if n.denominator != 1 or n < 1:
            raise VariantError(f"{where} n", "an integer n >= 1 (the dot-product length)",
                               str(row.get("n")), "VARIANT-9")
        values["n"] = n
    if variant.assumptions is not None:
        holds = variant.assumptions(exact_values(variant, values))
        if not (holds.b if isinstance(holds, Condition) else bool(holds)):
            raise VariantError(f"{where}", "values that satisfy the assumptions",
                               ", ".join(f"{k} = {v}" for k, v in values.items()), "VARIANT-9")
    return values


def _unit(variant: Variant, values: Mapping, output: int | None) -> tuple[int, int]:
    domain = variant.domain
    if isinstance(domain, Range):
        points = list(domain.points())
    else:
        n = int(values["n"])
        points = list(range(-n, n + 1, 2))

    def bit(index: int) -> bool:
        return exact_preactivation(variant, points[index], values, output) >= 0

    first, last = bit(0), bit(len(points) - 1)
    if first == last:
        t = points[0] if first else points[-1] + (domain.step if isinstance(domain, Range) else 2)
        return (GE, t) if isinstance(domain, Range) else canonical_unit(GE, t, int(values["n"]))
    # Monotone bits (proved): the index where the bit changes, by bisection.
    low, high = 0, len(points) - 1
    while high - low > 1:
        middle = (low + high) // 2
        if bit(middle) == first:
            low = middle
        else:
            high = middle
    polarity, t = (GE, points[high]) if not first else (LE, points[low])
    return (polarity, t) if isinstance(domain, Range) else canonical_unit(polarity, t,
                                                                         int(values["n"]))


def channel_units(variant: Variant, values: Mapping) -> list[tuple[int, int]]:
    """The unit of each output of a proved ``variant`` for one channel (VARIANT-9)."""
    from boolnet_spec.spec.variants.prover import output_variant

    values = check_row(variant, values)
    outputs = _outputs(variant, values)
    if outputs == 1:
        return [_unit(variant, values, None)]
    return [_unit(output_variant(variant, j, outputs), values, None) for j in range(outputs)]


def _outputs(variant: Variant, values: Mapping) -> int:
    y = variant.preactivation(Exact(Fraction(0)), exact_values(variant, values))
    return len(y) if isinstance(y, (tuple, list)) else 1
