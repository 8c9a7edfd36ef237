"""Theorems of the threshold chapter: canonicalisation of a real threshold, and the canonical form.

.. req:: PROOF-7

   Canonicalisation of a real threshold (THR-3) is exact. For every ``n >= 1`` and every real
   ``t``, the canonical unit of ``s >= t`` gives ``[s >= t]`` at every ``s`` in ``D_n`` and is
   canonical (THR-2), and the canonical unit of ``s <= t`` gives ``[s <= t]`` and is canonical: for
   thresholds below ``-n``, above ``n``, on an element of ``D_n`` or between two.

.. req:: PROOF-8

   The canonical form is unique and complete. For every ``n >= 1``, two different canonical units
   differ at some ``s`` in ``D_n`` (one of ``t_1``, ``t_2``, ``-n``, ``n``). Every monotone Boolean
   function of ``s`` over ``D_n`` has a canonical unit: with ``i = (s + n)/2``, ``[i >= m]`` for
   ``m = 0, ..., n + 1`` is the unit ``(1, 2*m - n)`` and ``[i <= m]`` for ``m = 0, ..., n - 1`` is
   ``(0, 2*m - n)``, ``2*n + 2`` functions; the other decreasing ones are the two constants.
"""

from __future__ import annotations

import z3

from boolnet_spec.spec import twins
from boolnet_spec.spec.theorems.accumulator import accumulator_in_domain
from boolnet_spec.spec.theorems.engine import Lemma, theorem
from boolnet_spec.spec.twins import GE, LE

__all__ = ["canonical_lemma", "canonical_real_threshold", "canonical_form_unique"]


def canonical_lemma(polarity: int) -> Lemma:
    n, s, domain = accumulator_in_domain()
    t = z3.Real("t")
    unit = twins.canonical_unit(polarity, t, n)
    wanted = z3.ToReal(s) >= t if polarity == GE else z3.ToReal(s) <= t
    cmp = ">=" if polarity == GE else "<="
    return Lemma(f"THR-3: the canonical unit of s {cmp} t gives [s {cmp} t] on D_n and is "
                 "canonical", z3.And(twins.unit_bit(*unit, s) == wanted,
                                     twins.is_canonical(*unit, n)), domain, "QF_LIRA")


@theorem("PROOF-7", "THR-3: canonicalisation of a real threshold")
def canonical_real_threshold() -> list[Lemma]:
    """Linear integer/real arithmetic with floor."""
    return [canonical_lemma(GE), canonical_lemma(LE)]


@theorem("PROOF-8", "THR-2: the canonical form is unique and complete")
def canonical_form_unique() -> list[Lemma]:
    """Linear integer arithmetic; the witness of a difference is one of four candidates."""
    n, s, domain = accumulator_in_domain()
    p1, t1, p2, t2, m = z3.Ints("p1 t1 p2 t2 m")
    differ = [z3.And(twins.in_domain(c, n), twins.unit_bit(p1, t1, c) != twins.unit_bit(p2, t2, c))
              for c in (t1, t2, -n, n)]
    index = (s + n) / 2
    return [
        Lemma("two different canonical units differ at one of t1, t2, -n, n", z3.Or(differ),
              z3.And(n >= 1, twins.is_canonical(p1, t1, n), twins.is_canonical(p2, t2, n),
                     z3.Or(p1 != p2, t1 != t2)), "QF_LIA"),
        Lemma("[i >= m], m = 0..n+1, is the canonical unit (1, 2m - n)",
              z3.And(twins.is_canonical(GE, 2 * m - n, n),
                     twins.unit_bit(GE, 2 * m - n, s) == (index >= m)),
              z3.And(domain, m >= 0, m <= n + 1), "QF_LIA"),
        Lemma("[i <= m], m = 0..n-1, is the canonical unit (0, 2m - n)",
              z3.And(twins.is_canonical(LE, 2 * m - n, n),
                     twins.unit_bit(LE, 2 * m - n, s) == (index <= m)),
              z3.And(domain, m >= 0, m <= n - 1), "QF_LIA"),
    ]


