"""BatchNorm variants: does a normalization fold into an integer threshold, is a claimed fold right?

A researcher declares a variant (:mod:`~boolnet_spec.spec.variants.declarations`) in the
expression language of :mod:`~boolnet_spec.spec.variants.expressions`;
:func:`~boolnet_spec.spec.variants.prover.prove_variant` decides it with z3
(:mod:`~boolnet_spec.spec.variants.symbolic`, :mod:`~boolnet_spec.spec.variants.solver`) and
replays what it found on exact rationals (:mod:`~boolnet_spec.spec.variants.replay`).
:mod:`~boolnet_spec.spec.variants.catalogue` holds the built-in variants and the published folds.
Every public name is importable from this package.
"""

from boolnet_spec.spec.variants.catalogue import (
    BUILTIN_VARIANTS,
    PLAIN_BN,
    PUBLISHED_FOLDS,
    REFERENCE_FOLD,
    bn_reference,
)
from boolnet_spec.spec.variants.declarations import (
    DOMAINS,
    Fold,
    Input,
    Param,
    Range,
    Values,
    Variant,
    VariantError,
)
from boolnet_spec.spec.variants.expressions import (
    And,
    Not,
    Or,
    ceil,
    floor,
    maximum,
    minimum,
    trunc,
    where,
)
from boolnet_spec.spec.variants.formulas import rational_text
from boolnet_spec.spec.variants.prover import VariantResult, prove_variant

__all__ = ["Param", "Input", "Range", "Fold", "Variant", "Values", "VariantError",
           "VariantResult", "prove_variant", "ceil", "floor", "trunc", "where", "minimum",
           "maximum", "And", "Or", "Not",
           "bn_reference", "rational_text", "BUILTIN_VARIANTS", "PUBLISHED_FOLDS", "PLAIN_BN",
           "REFERENCE_FOLD", "DOMAINS"]
