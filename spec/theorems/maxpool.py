"""Theorem of the maxpool chapter: max pooling before BatchNorm-sign.

.. req:: PROOF-14

   Max pooling before BatchNorm-sign is a Boolean reduction of the per-position bits (POOL-2).
   For ``alpha > 0``, ``max_i(alpha*s_i + b) = alpha*max_i(s_i) + b``. For every window of 4 real
   ``s_i`` and all BatchNorm parameters, the bit of the pooled value, ``[y(max) >= 0]``, is the OR
   of the bits ``[y(s_i) >= 0]`` for ``gamma > 0``, their AND for ``gamma < 0`` and their common
   value for ``gamma = 0``. For every canonical unit and every window of 2 or 4 accumulators in
   ``D_n``, the unit's bit at ``max_i(s_i)`` is the OR of its bits at the ``s_i`` for polarity 1
   and their AND for polarity 0; the window of 2 is the induction step to any window.
"""

from __future__ import annotations

import z3

from boolnet_spec.spec import twins
from boolnet_spec.spec.theorems.accumulator import accumulator_in_domain
from boolnet_spec.spec.theorems.engine import Lemma, theorem
from boolnet_spec.spec.theorems.fold import BatchNormSymbols

__all__ = ["maxpool_before_bn_sign"]


@theorem("PROOF-14", "POOL-2: max pooling before BatchNorm-sign")
def maxpool_before_bn_sign() -> list[Lemma]:
    """Nonlinear real arithmetic for the real window; linear integer arithmetic for the units."""
    bn = BatchNormSymbols()
    window = z3.Reals("s1 s2 s3 s4")
    ys, pooled = z3.Reals("y1 y2 y3 y4"), z3.Real("y_max")
    pooled_input = twins.window_max([bn.alpha * s + bn.bias for s in window])
    bits = [y >= 0 for y in ys]
    lemmas = [
        Lemma("max commutes with s -> alpha*s + b for alpha > 0",
              pooled_input == bn.alpha * twins.window_max(window) + bn.bias, bn.alpha > 0,
              "QF_NRA"),
        Lemma("the pooled bit is the OR (gamma > 0), AND (gamma < 0) or common value "
              "(gamma = 0) of the bits",
              (pooled >= 0) == z3.If(bn.gamma > 0, z3.Or(bits),
                                     z3.If(bn.gamma < 0, z3.And(bits), bits[0])),
              z3.And(bn.admissible,
                     pooled * bn.sigma == bn.gamma * (pooled_input - bn.mean)
                     + (bn.beta + bn.offset) * bn.sigma,
                     *[bn.preactivation_is(y, s) for y, s in zip(ys, window, strict=True)]),
              "QF_NRA"),
    ]
    n, _, _ = accumulator_in_domain()
    polarity, threshold = z3.Ints("polarity threshold")
    for size in (2, 4):
        accs = z3.Ints(" ".join(f"s{i}_{size}" for i in range(1, size + 1)))
        lemmas.append(Lemma(
            f"window of {size}: the unit's bit at the max is the OR (polarity 1) or AND "
            "(polarity 0) of its bits",
            twins.unit_bit(polarity, threshold, twins.window_max(accs))
            == twins.threshold_maxpool(accs, polarity, threshold),
            z3.And(n >= 1, twins.is_canonical(polarity, threshold, n),
                   *[twins.in_domain(s, n) for s in accs]), "QF_LIA"))
    return lemmas


