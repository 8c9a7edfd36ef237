"""Theorems of the fold chapter: the exact bit, folding for each sign of ``gamma``, ties and the
published folds.

.. req:: PROOF-6

   The reference's exact bit is FOLD-2's bit. For all reals ``gamma``, ``beta``, ``mean``, ``b``,
   ``o``, ``s``, ``alpha`` and ``sigma > 0``, with
   ``y = gamma*(alpha*s + b - mean)/sigma + beta + o``, ``[y >= 0]`` equals EXACT-2's decision of
   ``L >= K*sqrt(v)`` for ``L = gamma*(alpha*s + b - mean)``, ``K = -(beta + o)`` and
   ``v = sigma**2 = var + eps``: any ``eps`` that keeps ``var + eps > 0``.

.. req:: PROOF-9

   Folding with ``gamma > 0``. For all reals ``gamma > 0``, ``alpha > 0``, ``sigma > 0``,
   ``beta``, ``mean``, the conv bias ``b`` and the slice offset ``o``, every ``n >= 1`` and every
   ``s`` in ``D_n``, the canonical unit of ``s >= t*`` (FOLD-3) gives ``[y(s) >= 0]`` (FOLD-2) with
   ``t* = (mean - b)/alpha - (beta + o)*sigma/(gamma*alpha)``: ties ``y(s) = 0`` give 1, a root
   outside ``[-n, n]`` gives a constant unit (FOLD-7). Lemmas: over the reals ``y(s) >= 0`` exactly
   when ``s >= t*``; and PROOF-7 for ``s >= t``.

.. req:: PROOF-10

   Folding with ``gamma < 0``. For all reals ``gamma < 0`` and the other parameters as in
   PROOF-9, every ``n >= 1`` and every ``s`` in ``D_n``, the canonical unit of ``s <= t*``
   (FOLD-4) gives ``[y(s) >= 0]``. Lemmas: over the reals ``y(s) >= 0`` exactly when ``s <= t*``;
   and PROOF-7 for ``s <= t``.

.. req:: PROOF-11

   Folding with ``gamma = 0``. For ``gamma = 0`` and all other parameters as in PROOF-9,
   ``y(s) = beta + o`` at every ``s``, and the canonical constant unit, ``(1, -n)`` when
   ``beta + o >= 0`` and ``(1, n + 2)`` otherwise (FOLD-5), gives ``[y(s) >= 0]`` at every ``s`` in
   ``D_n``.

.. req:: PROOF-12

   Ties and the published folds (FOLD-6). (a) For ``gamma != 0``, every ``n >= 1`` and every ``s``
   in ``D_n`` with ``y(s) = 0`` exactly, the folded unit gives 1. For every integer ``s`` and real
   root ``t``: (b) the published strict fold ``C = floor(-t) + [gamma < 0]``, bit ``[s >= -C]``
   for ``gamma > 0`` and ``[s <= -C]`` for ``gamma < 0``, is right for ``gamma > 0`` and, for
   ``gamma < 0``, differs from ``[s <= t]`` exactly when ``s = t``; (c) ``[s >= trunc(t)]``
   differs from ``[s >= t]`` exactly when ``t > 0`` is not an integer and ``s = floor(t)``;
   (d) for an integer threshold ``t`` and ``s`` in ``D_n``, the popcount comparison
   ``[(s + n)/2 >= trunc((t + n)/2)]`` differs from ``[s >= t]`` exactly when ``t + n`` is odd
   and positive and ``s = t - 1``; (e) ``[s >= ceil(t)]``, one formula for both signs, agrees with
   the ``gamma < 0`` bit ``[s <= t]`` only at ``s = t``: it is wrong at every ``s`` of ``D_n`` but
   at most one.
"""

from __future__ import annotations

import z3

from boolnet_spec.spec import twins
from boolnet_spec.spec.theorems.accumulator import accumulator_in_domain
from boolnet_spec.spec.theorems.engine import Lemma, theorem
from boolnet_spec.spec.theorems.threshold import canonical_lemma
from boolnet_spec.spec.twins import GE, LE

__all__ = ["BatchNormSymbols", "fold_exact_bit", "fold_positive_gamma", "fold_negative_gamma",
           "fold_zero_gamma", "fold_ties_and_published_folds"]


class BatchNormSymbols:
    """Real parameters of one channel and slice under FOLD-1: ``alpha > 0``, ``sigma > 0``."""

    def __init__(self, suffix: str = ""):
        names = ["gamma", "beta", "mean", "b", "o", "alpha", "sigma"]
        (self.gamma, self.beta, self.mean, self.bias, self.offset, self.alpha,
         self.sigma) = z3.Reals([name + suffix for name in names])
        self.admissible = z3.And(self.alpha > 0, self.sigma > 0)

    def args(self, offset=None):
        return (self.gamma, self.beta, self.mean, self.sigma, self.alpha, self.bias,
                self.offset if offset is None else offset)

    def preactivation_is(self, y, s, offset=None) -> z3.BoolRef:
        """``y`` is FOLD-2's pre-activation at ``s``: ``sigma * y = sigma * y(s)``."""
        return y * self.sigma == twins.bn_scaled_preactivation(s, *self.args(offset))

    def root_is(self, t, offset=None) -> z3.BoolRef:
        """``t`` is the root ``t*``: ``gamma * alpha * t = gamma * alpha * t*``."""
        return self.gamma * self.alpha * t == twins.fold_root_scaled(*self.args(offset))


@theorem("PROOF-6", "FOLD-2: the exact bit is [y >= 0]")
def fold_exact_bit() -> list[Lemma]:
    """Nonlinear real arithmetic."""
    bn, (s, y) = BatchNormSymbols(), z3.Reals("s y")
    lhs = bn.gamma * (bn.alpha * s + bn.bias - bn.mean)
    return [Lemma("[y >= 0] equals EXACT-2's decision of L >= K*sqrt(sigma**2)",
                  (y >= 0) == twins.ge_times_sqrt(lhs, -(bn.beta + bn.offset),
                                                  bn.sigma * bn.sigma),
                  z3.And(bn.sigma > 0, bn.preactivation_is(y, s)), "QF_NRA")]


def _fold_real_lemma(sign: str) -> Lemma:
    bn, (s, y, t) = BatchNormSymbols(), z3.Reals("s y t")
    slope = bn.gamma > 0 if sign == ">" else bn.gamma < 0
    wanted = s >= t if sign == ">" else s <= t
    return Lemma(f"over the reals, for gamma {sign} 0, y(s) >= 0 exactly when s "
                 f"{'>=' if sign == '>' else '<='} t*", (y >= 0) == wanted,
                 z3.And(bn.admissible, slope, bn.preactivation_is(y, s), bn.root_is(t)),
                 "QF_NRA")


@theorem("PROOF-9", "FOLD-3: folding with gamma > 0")
def fold_positive_gamma() -> list[Lemma]:
    """Nonlinear real arithmetic at real ``s``; PROOF-7's lemma on ``D_n``."""
    return [_fold_real_lemma(">"), canonical_lemma(GE)]


@theorem("PROOF-10", "FOLD-4: folding with gamma < 0")
def fold_negative_gamma() -> list[Lemma]:
    """Nonlinear real arithmetic at real ``s``; PROOF-7's lemma on ``D_n``."""
    return [_fold_real_lemma("<"), canonical_lemma(LE)]


@theorem("PROOF-11", "FOLD-5: folding with gamma = 0")
def fold_zero_gamma() -> list[Lemma]:
    """Nonlinear real arithmetic; linear integer arithmetic for the constant unit."""
    bn, (s, y) = BatchNormSymbols(), z3.Reals("s y")
    n, acc, domain = accumulator_in_domain()
    level = z3.Real("c")
    constant = z3.If(level >= 0, -n, n + 2)
    return [
        Lemma("for gamma = 0, y(s) = beta + o at every s", y == bn.beta + bn.offset,
              z3.And(bn.admissible, bn.gamma == 0, bn.preactivation_is(y, s)), "QF_NRA"),
        Lemma("the constant unit of beta + o = c gives [c >= 0] on D_n",
              z3.And(twins.unit_bit(GE, constant, acc) == (level >= 0),
                     twins.is_canonical(GE, constant, n)), domain, "QF_LIRA"),
    ]


@theorem("PROOF-12", "FOLD-6: ties, and where the published folds fail")
def fold_ties_and_published_folds() -> list[Lemma]:
    """Nonlinear real arithmetic for the tie; linear integer/real arithmetic with floor for the
    published folds."""
    bn, (real_s, y, root) = BatchNormSymbols(), z3.Reals("s y t")
    n, s, domain = accumulator_in_domain()
    t, ti = z3.Real("t"), z3.Int("ti")
    at = z3.ToReal(s)
    strict_c = twins.floor(-t) + 1
    vendor = (s + n) / 2 >= twins.trunc(z3.ToReal(ti + n) / 2)
    return [
        Lemma("a tie y(s) = 0 is at the root: s = t*", real_s == root,
              z3.And(bn.admissible, bn.gamma != 0, bn.preactivation_is(y, real_s),
                     bn.root_is(root), y == 0), "QF_NRA"),
        Lemma("the canonical units of s >= t and s <= t give 1 at s = t in D_n",
              z3.And(twins.unit_bit(*twins.canonical_unit(GE, at, n), s),
                     twins.unit_bit(*twins.canonical_unit(LE, at, n), s)), domain, "QF_LIRA"),
        Lemma("strict fold, gamma > 0: [s >= -floor(-t)] is [s >= t]",
              (s >= -twins.floor(-t)) == (at >= t), logic="QF_LIRA"),
        Lemma("strict fold, gamma < 0: [s <= -(floor(-t) + 1)] is wrong exactly at s = t",
              ((s <= -strict_c) != (at <= t)) == (at == t), logic="QF_LIRA"),
        Lemma("truncation: [s >= trunc(t)] is wrong exactly at s = floor(t) for a positive "
              "non-integer t",
              ((s >= twins.trunc(t)) != (at >= t))
              == z3.And(t > 0, twins.floor(t) != t, s == twins.floor(t)), logic="QF_LIRA"),
        Lemma("halving: the popcount threshold trunc((t + n)/2) is wrong exactly at s = t - 1 "
              "for odd positive t + n",
              (vendor != (s >= ti)) == z3.And(ti + n > 0, (ti + n) % 2 == 1, s == ti - 1),
              domain, "QF_LIRA"),
        Lemma("one formula for both signs: [s >= ceil(t)] agrees with [s <= t] only at s = t",
              at == t, (s >= twins.ceil(t)) == (at <= t), "QF_LIRA"),
    ]


