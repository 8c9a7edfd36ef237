"""The declaration of a BatchNorm variant: its parameters, inputs, pre-activation and claimed fold.

A researcher declares a variant as a Python object: its parameters with their constraints, its
pre-activation as an expression of the integer accumulator ``s`` and the parameters
(:mod:`boolnet_spec.spec.variants.expressions`), and optionally the fold they claim.

.. req:: VARIANT-1

   A variant declares its parameters (:class:`Param`: real, or ``integer``; optionally
   ``positive``, ``negative``, ``nonzero`` or ``nonnegative``, and bounds ``low``, ``high`` or a
   ``magnitude`` range ``(lo, hi)`` for ``lo <= |x| <= hi``), the inputs other than the
   accumulator that its pre-activation reads (:class:`Input`, e.g. a per-position shift),
   ``assumptions``, a condition that may relate parameters and inputs, its pre-activation ``y`` as
   an expression of the accumulator ``s`` and the parameters (VARIANT-6), or a tuple of ``k``
   such expressions for a quantizer with ``k`` output bits (VARIANT-7), the domain of ``s`` (every
   integer, ``D_n`` of ACC-2 with an integer parameter ``n >= 1``, or a bounded :class:`Range`
   ``{low, low + step, ..., high}``) and optionally a claimed fold (:class:`Fold`). Expressions
   see ``s`` and the parameters as real values. ``ERROR_IF`` the declaration is malformed (a
   parameter name that is not an identifier, a flag that is not a ``bool``, an empty or
   misaligned range), no parameter value is admissible, or ``y`` divides by zero at an
   admissible point (:class:`VariantError`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import z3

from boolnet_spec.reference.errors import SpecError

__all__ = ["DOMAINS", "ARITHMETIC", "VariantError", "Param", "Input", "Range", "Fold", "Values",
           "Variant", "ReferenceBit"]

DOMAINS = ("integers", "D_n")
ARITHMETIC = ("exact", "float32")


class VariantError(SpecError):
    """A variant declaration that cannot be proved: malformed, empty or ill-defined."""


def _bound(owner: str, field: str, value) -> Fraction | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)) or (
            isinstance(value, float) and (not math.isfinite(value)
                                          or Fraction(value) != Fraction(repr(value)))):
        raise VariantError(f"{owner} {field}", "an int, a Fraction or an exact float",
                           repr(value), "VARIANT-1")
    return Fraction(value)


@dataclass(frozen=True)
class Param:
    """A parameter of a variant: real unless ``integer``, with optional sign constraints and
    bounds (``magnitude=(lo, hi)``: ``lo <= |x| <= hi``)."""

    name: str
    positive: bool = False
    negative: bool = False
    nonzero: bool = False
    nonnegative: bool = False
    integer: bool = False
    low: int | float | Fraction | None = None
    high: int | float | Fraction | None = None
    magnitude: tuple | None = None

    def __post_init__(self):
        kind = type(self).__name__
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise VariantError(f"{kind} name", "an identifier", repr(self.name), "VARIANT-1")
        for flag in ("positive", "negative", "nonzero", "nonnegative", "integer"):
            if not isinstance(getattr(self, flag), bool):
                raise VariantError(f"{kind} {self.name!r} {flag}", "True or False",
                                   repr(getattr(self, flag)), "VARIANT-1")
        _bound(f"{kind} {self.name!r}", "low", self.low)
        _bound(f"{kind} {self.name!r}", "high", self.high)
        if self.magnitude is not None:
            if not isinstance(self.magnitude, tuple) or len(self.magnitude) != 2:
                raise VariantError(f"{kind} {self.name!r} magnitude", "a pair (lo, hi)",
                                   repr(self.magnitude), "VARIANT-1")
            lo, hi = (_bound(f"{kind} {self.name!r}", "magnitude", v) for v in self.magnitude)
            if not 0 < lo <= hi:
                raise VariantError(f"{kind} {self.name!r} magnitude", "0 < lo <= hi",
                                   repr(self.magnitude), "VARIANT-1")

    @property
    def bounded(self) -> bool:
        """Whether the parameter ranges over a finite interval."""
        return self.magnitude is not None or (self.low is not None and self.high is not None)

    def constraint(self, value) -> z3.BoolRef:
        real = lambda bound: z3.RealVal(str(Fraction(bound)))  # noqa: E731
        parts = [value > 0] if self.positive else []
        parts += [value < 0] if self.negative else []
        parts += [value != 0] if self.nonzero else []
        parts += [value >= 0] if self.nonnegative else []
        parts += [value >= real(self.low)] if self.low is not None else []
        parts += [value <= real(self.high)] if self.high is not None else []
        if self.magnitude is not None:
            lo, hi = (real(v) for v in self.magnitude)
            parts.append(z3.Or(z3.And(value >= lo, value <= hi),
                               z3.And(value <= -lo, value >= -hi)))
        return z3.And(parts) if parts else z3.BoolVal(True)

    def admits(self, value: Fraction) -> bool:
        """The same constraint on an exact value."""
        checks = [(self.positive, value > 0), (self.negative, value < 0),
                  (self.nonzero, value != 0), (self.nonnegative, value >= 0),
                  (self.integer, value.denominator == 1),
                  (self.low is not None, self.low is not None and value >= Fraction(self.low)),
                  (self.high is not None, self.high is not None and value <= Fraction(self.high))]
        if self.magnitude is not None:
            lo, hi = (Fraction(v) for v in self.magnitude)
            checks.append((True, lo <= abs(value) <= hi))
        return all(ok for wanted, ok in checks if wanted)


@dataclass(frozen=True)
class Input(Param):
    """A value other than ``s`` that the pre-activation reads at each position (e.g. the output of
    another branch), constrained like a parameter."""


@dataclass(frozen=True)
class Range:
    """A bounded accumulator domain ``{low, low + step, ..., high}``."""

    low: int
    high: int
    step: int = 1

    def __post_init__(self):
        for field in ("low", "high", "step"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int):
                raise VariantError(f"Range {field}", "an int", repr(value), "VARIANT-1")
        if self.step < 1 or self.low > self.high or (self.high - self.low) % self.step:
            raise VariantError("Range", "step >= 1, low <= high and high - low a multiple of "
                               "step", f"Range({self.low}, {self.high}, {self.step})",
                               "VARIANT-1")

    def points(self) -> range:
        return range(self.low, self.high + 1, self.step)


@dataclass(frozen=True)
class Fold:
    """A claimed fold (VARIANT-3): ``direction(p)``, ``threshold(p)`` and optionally
    ``constant(p)``, the bit where the direction is 0. For a quantizer with ``k`` outputs
    (VARIANT-7) each may return a tuple of ``k``. ``arithmetic="float32"`` computes the threshold
    in float32 (VARIANT-8). Without a ``name`` the fold is reported as its formula."""

    direction: Callable
    threshold: Callable
    constant: Callable | None = None
    name: str | None = None
    arithmetic: str = "exact"


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
    domain: str | Range = "integers"
    assumptions: Callable | None = None
    reference: ReferenceBit | None = None
    description: str = ""

    def with_fold(self, fold: Fold | None) -> Variant:
        """The same variant with ``fold`` as its claimed fold."""
        named = fold is not None and fold.name
        return Variant(f"{self.name} [{fold.name}]" if named else self.name, self.params,
                       self.preactivation, fold, self.inputs, self.domain, self.assumptions,
                       self.reference, self.description)


