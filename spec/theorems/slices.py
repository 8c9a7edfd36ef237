"""Theorem of the slices chapter: multi-slice bits are a thermometer code.

.. req:: PROOF-13

   Multi-slice bits form a thermometer code. For offsets ``o_1 < o_2 < ... < o_k`` and every real
   ``z``, the slice bits ``b_j = [z + o_j >= 0]`` (SLICE-2) are non-decreasing in ``j``, so they are
   the thermometer code of their count ``m``: ``b_j = [j > k - m]`` (proved for ``k = 1, ..., 8``).
   ``k`` slices thus take at most ``k + 1`` values: ``log2(k + 1)`` bits per element. The folded
   roots are ordered by the slope: for ``gamma*alpha > 0``, ``o < o'`` gives ``t*(o') < t*(o)``
   (the thresholds of ``>=`` units fall with the slice index); for ``gamma*alpha < 0`` the order is
   reversed (the thresholds of ``<=`` units rise).
"""

from __future__ import annotations

import z3

from boolnet_spec.spec import twins
from boolnet_spec.spec.theorems.engine import Lemma, theorem
from boolnet_spec.spec.theorems.fold import BatchNormSymbols

__all__ = ["thermometer_code"]


@theorem("PROOF-13", "multi-slice bits are a thermometer code")
def thermometer_code() -> list[Lemma]:
    """Linear real arithmetic for the slice bits; nonlinear real arithmetic for the roots."""
    z, o1, o2 = z3.Reals("z o1 o2")
    lemmas = [Lemma("o1 < o2: [z + o1 >= 0] implies [z + o2 >= 0]",
                    z3.Implies(*twins.slice_bits(z, [o1, o2])), o1 < o2, "QF_LRA")]
    for k in range(1, 9):
        offsets = z3.Reals(" ".join(f"o{j}_{k}" for j in range(1, k + 1)))
        slice_bits = twins.slice_bits(z, offsets)
        count = z3.Sum([z3.If(b, 1, 0) for b in slice_bits])
        lemmas.append(Lemma(f"k = {k}: the bits are the thermometer code of their count",
                            z3.And([b == (j > k - count) for j, b in enumerate(slice_bits, 1)]),
                            z3.And([offsets[j] < offsets[j + 1] for j in range(k - 1)]),
                            "QF_LIRA"))
    bn = BatchNormSymbols()
    t1, t2 = z3.Reals("t1 t2")
    roots = z3.And(bn.admissible, o1 < o2, bn.root_is(t1, o1), bn.root_is(t2, o2))
    lemmas += [
        Lemma("gamma > 0: the root falls as the offset rises", t2 < t1,
              z3.And(roots, bn.gamma > 0), "QF_NRA"),
        Lemma("gamma < 0: the root rises with the offset", t2 > t1,
              z3.And(roots, bn.gamma < 0), "QF_NRA"),
    ]
    return lemmas


