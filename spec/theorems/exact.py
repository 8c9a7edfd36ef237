"""Theorem of the exact chapter: EXACT-2's square comparison decides ``L >= K*sqrt(v)``.

.. req:: PROOF-5

   EXACT-2 is exact. For all reals ``L``, ``K`` and ``v > 0``, with ``r > 0`` and ``r*r = v``,
   the decision of EXACT-2 (by the signs of ``L`` and ``K`` where they differ, else by comparing
   ``L**2`` with ``K**2 * v``) equals ``[L >= K*r]``.
"""

from __future__ import annotations

import z3

from boolnet_spec.spec import twins
from boolnet_spec.spec.theorems.engine import Lemma, theorem

__all__ = ["exact_square_comparison"]


@theorem("PROOF-5", "EXACT-2: the square comparison decides L >= K*sqrt(v)")
def exact_square_comparison() -> list[Lemma]:
    """Nonlinear real arithmetic, with ``r`` the square root of ``v``."""
    lhs, k, v, r = z3.Reals("L K v r")
    return [Lemma("EXACT-2's decision equals [L >= K*r] for r > 0, r*r = v",
                  twins.ge_times_sqrt(lhs, k, v) == (lhs >= k * r),
                  z3.And(v > 0, r > 0, r * r == v), "QF_NRA")]


