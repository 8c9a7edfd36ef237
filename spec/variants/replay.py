"""The exact side: what z3 found, evaluated again on exact rationals and through the reference.

.. req:: VARIANT-4

   Replay. Every witness and counterexample is evaluated again before it is reported: the
   variant's own Python expressions on exact rationals, independently of z3, and, for a variant
   that names one, the numpy reference (BatchNorm-like variants: ``reference.exact.ge_times_sqrt``
   on the exact values, and ``reference.fold.fold_bn_sign`` with ``threshold_slices`` where every
   parameter is a float32). A witness the replay does not confirm makes the result ``unknown``.
   Parameters are printed as exact rationals and as decimals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction

from boolnet_spec.spec.variants.declarations import Fold, Values, Variant
from boolnet_spec.spec.variants.expressions import (
    Condition,
    Exact,
    UndefinedError,
    exact_literal,
)

__all__ = ["exact_values", "exact_number", "exact_preactivation", "exact_fold_bit", "replay",
           "exact_text"]


def exact_values(variant: Variant, values: Mapping) -> Values:
    return Values(variant.name, {name: Exact(Fraction(v)) for name, v in values.items()})


def exact_number(value) -> Fraction:
    """A numeric result of the replay; :class:`UndefinedError` where it divides by zero."""
    return value.defined() if isinstance(value, Exact) else exact_literal(value)


def exact_preactivation(variant: Variant, s: int, values: Mapping, output: int | None = None) \
        -> Fraction:
    y = variant.preactivation(Exact(Fraction(s)), exact_values(variant, values))
    return exact_number(y if output is None else y[output])


def exact_fold_bit(fold: Fold, variant: Variant, s: int, values: Mapping) -> bool:
    """The fold's bit at ``s``; :class:`UndefinedError` where the threshold it uses divides by
    zero."""
    p = exact_values(variant, values)
    direction = fold.direction(p)
    if not isinstance(direction, (bool, Condition)):
        direction = exact_number(direction)
        if direction == 0 and fold.constant is not None:
            return bool(fold.constant(p))
    threshold = exact_number(fold.threshold(p))
    up = bool(direction) if isinstance(direction, (bool, Condition)) else direction >= 0
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


def replay(variant: Variant, values: Mapping, points: Sequence[int], check: Callable) -> dict:
    """Evaluate the pre-activation exactly at ``points``; ``check(bits)`` says whether they show
    what the witness claims."""
    try:
        ys = [exact_preactivation(variant, s, values) for s in points]
    except (UndefinedError, ZeroDivisionError):
        return {"confirmed": False, "via": ["exact rationals"],
                "detail": "the pre-activation divides by zero at this point"}
    bits = [y >= 0 for y in ys]
    reference_agrees, via = _reference_bits(variant, points, values, bits)
    confirmed = check(ys, bits) and reference_agrees
    detail = None if reference_agrees else "the numpy reference disagrees with the exact bits"
    return {"confirmed": confirmed, "via": ["exact rationals", *via], "detail": detail,
            "y": [exact_text(y) for y in ys], "bits": [int(b) for b in bits]}


def exact_text(value) -> dict:
    if isinstance(value, bool):
        return {"exact": str(value).lower(), "decimal": str(value).lower()}
    value = Fraction(value)
    return {"exact": str(value), "decimal": repr(float(value))}


