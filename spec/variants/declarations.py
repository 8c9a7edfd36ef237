"""The declaration of a BatchNorm variant: its parameters, inputs, pre-activation and claimed fold.

A researcher declares a variant as a Python object: its parameters with their constraints, its
pre-activation as an expression of the integer accumulator ``s`` and the parameters
(:mod:`boolnet_spec.spec.variants.expressions`), and optionally the fold they claim.

.. req:: VARIANT-1

   A variant declares its parameters (:class:`Param`: real, or ``integer``; optionally
   ``positive``, ``negative``, ``nonzero`` or ``nonnegative``; ``assumptions`` relate several), the
   inputs other than the accumulator that its pre-activation reads (:class:`Input`, e.g. a
   per-position shift), its pre-activation ``y`` as an expression of the accumulator ``s`` and the
   parameters, the domain of ``s`` (every integer, or ``D_n`` of ACC-2 with an integer parameter
   ``n >= 1``) and optionally a claimed fold (:class:`Fold`). Expressions see ``s`` and the
   parameters as real values. ``ERROR_IF`` the declaration is malformed, no parameter value is
   admissible, or ``y`` divides by zero at an admissible point (:class:`VariantError`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import z3

from boolnet_spec.reference.errors import SpecError

__all__ = ["DOMAINS", "VariantError", "Param", "Input", "Fold", "Values", "Variant",
           "ReferenceBit"]

DOMAINS = ("integers", "D_n")


class VariantError(SpecError):
    """A variant declaration that cannot be proved: malformed, empty or ill-defined."""


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


