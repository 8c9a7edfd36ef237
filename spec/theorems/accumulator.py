"""Theorems of the accumulator chapter: the popcount identity, its word-wise extension, the range of
``s`` and the Int16 bound.

.. req:: PROOF-1

   Popcount identity. For every width ``w`` from 1 to 64 and all words ``a``, ``v`` of ``w``
   bits, ``sum_i (2*a_i - 1)*(2*v_i - 1) = 2*popcount(XNOR(a, v)) - w`` (ACC-1). Per width, two
   lemmas: at every position the product, in 8-bit two's complement, is ``-1`` or ``+1`` and equals
   ``2*xnor_i - 1`` (bit-blasted); and for all integers with ``p_i = 2*x_i - 1``,
   ``sum p_i = 2*sum x_i - w`` (linear integer arithmetic), which holds in particular for the
   products' values and the XNOR bits.

.. req:: PROOF-2

   Word-wise extension to every ``n``. A dot product of length ``n`` computed over words of
   widths ``w_k`` (``1 <= w_k <= 64``, ``sum w_k = n``) has
   ``s = sum_k (2*pc_k - w_k) = 2*sum_k pc_k - n``, ``pc_k`` the popcount of word ``k``'s XNOR.
   Lemmas: the XNOR of two concatenated 64-bit words is the concatenation of their XNORs and the
   popcount of a concatenation is the sum of the popcounts; and the induction step over integers
   with symbolic counts, ``S = 2*P - N`` and ``0 <= pc <= w`` imply
   ``S + (2*pc - w) = 2*(P + pc) - (N + w)``, from the base ``0 = 2*0 - 0`` of no words.

.. req:: PROOF-3

   Accumulator range and parity. For every ``n >= 1`` and every popcount ``0 <= p <= n``,
   ``s = 2*p - n`` lies in ``D_n`` (ACC-2); every ``s`` in ``D_n`` is ``2*p - n`` for
   ``p = (s + n)/2`` in ``[0, n]``, so the accumulator takes exactly the ``n + 1`` values of
   ``D_n``. For every width from 1 to 64 the 16-bit accumulator of two words lies in ``[-w, w]``
   and has the parity of ``w``.

.. req:: PROOF-4

   The Int16 bound of ACC-3 is sound and tight. For every ``1 <= n <= N_MAX = 32765``, every
   ``s`` in ``D_n``, every popcount ``0 <= p <= n`` and every canonical threshold
   ``-n <= t <= n + 2`` (THR-2) lie in ``[-32768, 32767]``; and ``N_MAX`` is the largest such
   ``n``: for every ``n >= 1``, ``n + 2 <= 32767`` exactly when ``n <= N_MAX``.
"""

from __future__ import annotations

import z3

from boolnet_spec.reference.accumulator import N_MAX
from boolnet_spec.spec import twins
from boolnet_spec.spec.theorems.engine import Lemma, theorem

__all__ = ["accumulator_in_domain", "popcount_identity", "wordwise_extension", "accumulator_range",
           "int16_bound",           "INT16_MIN", "INT16_MAX"]

INT16_MIN, INT16_MAX = -(2 ** 15), 2 ** 15 - 1


def accumulator_in_domain():
    """``n >= 1`` and ``s = 2*k - n`` with ``0 <= k <= n``: every ``s`` of ``D_n``."""
    n, k, s = z3.Ints("n k s")
    return n, s, z3.And(n >= 1, k >= 0, k <= n, s == 2 * k - n)


@theorem("PROOF-1", "popcount identity, widths 1 to 64")
def popcount_identity() -> list[Lemma]:
    """Bit-blasting per position; linear integer arithmetic for the sum."""
    lemmas = []
    for width in range(1, 65):
        a, v = z3.BitVecs(f"a{width} v{width}", width)
        products = twins.pm1_products(a, v)
        agree = twins.bits(twins.xnor(a, v))
        one = z3.BitVecVal(1, twins.PRODUCT_BITS)
        per_position = [z3.And(z3.Or(p == one, p == -one),
                               p == 2 * z3.ZeroExt(twins.PRODUCT_BITS - 1, x) - 1)
                        for p, x in zip(products, agree, strict=True)]
        lemmas.append(Lemma(f"width {width}: each product is +-1 and equals 2*xnor - 1",
                            z3.And(per_position), logic="QF_BV"))
        p, x = z3.IntVector(f"p{width}", width), z3.IntVector(f"x{width}", width)
        terms = z3.And([z3.And(p[i] == 2 * x[i] - 1, x[i] >= 0, x[i] <= 1) for i in range(width)])
        lemmas.append(Lemma(f"width {width}: sum of 2*x_i - 1 is 2*sum x_i - {width}",
                            z3.Sum(p) == 2 * z3.Sum(x) - width, terms, "QF_LIA"))
    return lemmas


@theorem("PROOF-2", "word-wise extension to every n")
def wordwise_extension() -> list[Lemma]:
    """Bit-vector lemmas on two words; the induction step in linear integer arithmetic."""
    a1, a2, v1, v2 = z3.BitVecs("a1 a2 v1 v2", 64)
    x, y = z3.BitVecs("x y", 64)
    total, popcounts, length, pc, width = z3.Ints("S P N pc w")
    return [
        Lemma("XNOR of concatenated words is the concatenation of their XNORs",
              twins.xnor(z3.Concat(a1, a2), z3.Concat(v1, v2))
              == z3.Concat(twins.xnor(a1, v1), twins.xnor(a2, v2)), logic="QF_BV"),
        Lemma("popcount of a concatenation is the sum of the popcounts",
              twins.popcount_word(z3.Concat(x, y))
              == twins.popcount_word(x) + twins.popcount_word(y),
              logic="QF_BV"),
        Lemma("induction step: one more word keeps s = 2*popcount - n",
              total + (2 * pc - width) == 2 * (popcounts + pc) - (length + width),
              z3.And(total == 2 * popcounts - length, pc >= 0, pc <= width, width >= 1,
                     width <= 64), "QF_LIA"),
    ]


@theorem("PROOF-3", "accumulator range and parity")
def accumulator_range() -> list[Lemma]:
    """Linear integer arithmetic for every n; bit-vectors for every width 1..64."""
    n, p, s = z3.Ints("n p s")
    lemmas = [
        Lemma("2*p - n is in D_n for every popcount 0 <= p <= n",
              twins.in_domain(2 * p - n, n), z3.And(n >= 1, p >= 0, p <= n), "QF_LIA"),
        Lemma("every s in D_n is 2*p - n with p = (s + n)/2 in [0, n]",
              z3.And((s + n) / 2 >= 0, (s + n) / 2 <= n, 2 * ((s + n) / 2) - n == s),
              z3.And(n >= 1, twins.in_domain(s, n)), "QF_LIA"),
    ]
    for width in range(1, 65):
        a, v = z3.BitVecs(f"a{width} v{width}", width)
        acc = twins.accumulator_word(a, v)
        lemmas.append(Lemma(f"width {width}: the accumulator is in D_{width}",
                            z3.And(acc >= -width, acc <= width,
                                   z3.Extract(0, 0, acc + width) == 0), logic="QF_BV"))
    return lemmas


@theorem("PROOF-4", "the Int16 bound N_MAX")
def int16_bound() -> list[Lemma]:
    """Linear integer arithmetic."""
    n, s, p, t = z3.Ints("n s p t")
    int16 = lambda value: z3.And(value >= INT16_MIN, value <= INT16_MAX)  # noqa: E731
    return [
        Lemma("accumulator, popcount and canonical threshold are int16 for n <= N_MAX",
              z3.And(int16(s), int16(p), int16(t), int16(n)),
              z3.And(n >= 1, n <= N_MAX, twins.in_domain(s, n), p >= 0, p <= n, t >= -n,
                     t <= n + 2), "QF_LIA"),
        Lemma("N_MAX is the largest n whose constant-0 threshold n + 2 is an int16",
              (n + 2 <= INT16_MAX) == (n <= N_MAX), n >= 1, "QF_LIA"),
    ]


