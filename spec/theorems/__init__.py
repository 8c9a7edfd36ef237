"""Theorems: the central claims of the specification, proved by z3 for every parameter value.

The proving engine is :mod:`~boolnet_spec.spec.theorems.engine`; the theorems live in one module per
chapter they prove (:mod:`~boolnet_spec.spec.theorems.accumulator`,
:mod:`~boolnet_spec.spec.theorems.exact`, :mod:`~boolnet_spec.spec.theorems.threshold`,
:mod:`~boolnet_spec.spec.theorems.fold`, :mod:`~boolnet_spec.spec.theorems.slices`,
:mod:`~boolnet_spec.spec.theorems.maxpool`, :mod:`~boolnet_spec.spec.theorems.logic` and
:mod:`~boolnet_spec.spec.theorems.surrogates`), each stating its theorems as labelled requirements.
Importing this package registers all of them in ``THEOREMS``, in label order.
"""

from boolnet_spec.spec.theorems import (
    accumulator,
    exact,
    fold,
    logic,
    maxpool,
    slices,
    surrogates,
    threshold,
)
from boolnet_spec.spec.theorems.engine import (
    STATUSES,
    THEOREMS,
    Lemma,
    LemmaResult,
    Theorem,
    TheoremResult,
    check_lemma,
    model_values,
    prove,
    prove_all,
    theorem,
)

__all__ = ["Lemma", "LemmaResult", "Theorem", "TheoremResult", "THEOREMS", "STATUSES",
           "check_lemma", "prove", "prove_all", "model_values", "theorem", "accumulator", "exact",
           "threshold", "fold", "slices", "maxpool", "logic", "surrogates"]

# Chapters register in import order; the report and the command list PROOF-1, PROOF-2, ...
for _label in sorted(THEOREMS, key=lambda label: int(label.partition("-")[2])):
    THEOREMS[_label] = THEOREMS.pop(_label)
del _label
