r"""Folding: BatchNorm, the weight scale, the conv bias and the slice offsets into threshold units.

A binary convolution produces ``s``; the authors' network then computes ``alpha * s + b``,
BatchNorm (BN-1) and one sign per slice offset ``o_j`` (SLICE-1). Folding replaces that chain by one
canonical threshold unit (THR-2) per channel and slice, computed by exact arithmetic: no float
operation ever decides a bit.

.. req:: FOLD-1

   Inputs: BatchNorm parameters (BN-1) of ``C`` channels; the dot-product length ``n`` (ACC-3);
   the weight scale ``alpha[C]`` (float32, WB-2); the conv bias ``b[C]`` (float32, 0 when the conv
   has none); the slice offsets ``o[S]`` (float32, SLICE-1). ``ERROR_IF`` any of them is not a
   finite float32 array of its shape, or some ``alpha[c] <= 0``
   (:class:`~boolnet_spec.reference.errors.DomainError`), plus the checks of BN-2 and ACC-3.

.. req:: FOLD-2

   The folded function. For channel ``c`` and slice ``j`` the bit of accumulator ``s`` is
   ``[y_j(s) >= 0]`` (ENC-2) where, over the reals, on the exact values of the inputs,

   .. math::

      y_j(s) = \gamma \, \frac{\alpha s + b - \mathit{mean}}{\sqrt{\mathit{var} + \varepsilon}}
               + \beta + o_j .

   With ``L = gamma * (alpha * s + b - mean)`` and ``K = -(beta + o_j)`` the bit is
   ``[L >= K * sqrt(var + eps)]``, decided by EXACT-2.

.. req:: FOLD-3

   ``gamma > 0``: ``y_j`` increases with ``s`` and the bit is ``[s >= t*]`` for the real root ``t*``
   of ``y_j``; the unit is the canonical unit of ``s >= t*`` (THR-3), polarity 1.

.. req:: FOLD-4

   ``gamma < 0``: ``y_j`` decreases with ``s`` and the bit is ``[s <= t*]``; the unit is the
   canonical unit of ``s <= t*`` (THR-3), polarity 0, or a constant.

.. req:: FOLD-5

   ``gamma = 0`` (either zero): ``y_j = beta + o_j`` does not depend on ``s``; the unit is
   constant 1 when ``beta + o_j >= 0`` (exactly) and constant 0 otherwise.

.. req:: FOLD-6

   Ties. Where ``y_j(s) = 0`` exactly at some ``s`` in ``D_n`` that ``s`` gives bit 1, for either
   sign of ``gamma`` (ENC-2). The published fold that writes the bias term ``b/k = -t*`` as
   ``C = floor(b/k) + [gamma < 0]`` and compares ``s >= -C`` (``gamma > 0``) or ``s <= -C``
   (``gamma < 0``) turns ``s <= t*`` into ``s < t*`` for a negative ``gamma`` and is wrong exactly
   at an integer root. Other published folds are wrong elsewhere: truncating instead of taking
   the ceiling fails at non-integer positive roots and, halved into the popcount domain, at
   parity mismatches; one formula for both signs of ``gamma`` fails for most ``s`` when
   ``gamma < 0``; the variance in place of its square root is wrong wherever ``var + eps != 1``
   moves the root across an accumulator value.

.. req:: FOLD-7

   Constant channels. When ``[y_j(s) >= 0]`` is the same for every ``s`` in ``D_n`` (the root lies
   below ``-n`` or above ``n``, or exactly at the end where the bit stays 1, or ``y_j`` keeps one
   sign), the unit is the canonical constant (THR-2).

.. req:: FOLD-8

   The folded units, evaluated at every ``s`` in ``D_n``, give exactly the bits of FOLD-2.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from boolnet_spec.reference.accumulator import ACC_DTYPE, check_n
from boolnet_spec.reference.batchnorm import BatchNorm, check_float32
from boolnet_spec.reference.encoding import BIT_DTYPE
from boolnet_spec.reference.errors import DomainError, ShapeError, error_if
from boolnet_spec.reference.exact import exact, ge_times_sqrt
from boolnet_spec.reference.threshold import GE, LE, ThresholdUnits, canonical_unit

__all__ = ["ChannelFold", "fold_bn_sign", "bn_sign_exact"]


class ChannelFold:
    """The exact parameters of one channel, and FOLD-2's bit for any ``s`` and offset."""

    def __init__(self, bn: BatchNorm, c: int, alpha: np.float32, bias: np.float32):
        self.gamma = exact(bn.gamma[c])
        self.beta = exact(bn.beta[c])
        self.alpha = exact(alpha)
        self.shift = exact(bias) - exact(bn.mean[c])
        self.variance = exact(bn.var[c]) + Fraction(float(bn.eps))

    def bit(self, s: int, offset: Fraction) -> bool:
        """FOLD-2: ``[gamma * (alpha * s + b - mean) / sqrt(var + eps) + beta + o >= 0]``."""
        lhs = self.gamma * (self.alpha * s + self.shift)
        return ge_times_sqrt(lhs, -(self.beta + offset), self.variance)

    def root_estimate(self, offset: Fraction) -> float:
        """A binary64 estimate of ``t*``, used only to start the exact search."""
        try:
            sigma = math.sqrt(self.variance)
            root = (-float(self.shift) - float(self.beta + offset) * sigma / float(self.gamma)) \
                / float(self.alpha)
        except (OverflowError, ZeroDivisionError):
            return 0.0
        return root if math.isfinite(root) else 0.0

    def unit(self, offset: Fraction, n: int) -> tuple[int, int]:
        """The canonical unit of FOLD-3 to FOLD-7 for one slice offset."""
        if self.gamma == 0:
            return canonical_unit(GE, -n if self.beta + offset >= 0 else n + 2, n)
        guess = self.root_estimate(offset)
        guess_index = int(min(max(round((guess + n) / 2), 0), n + 1))
        if self.gamma > 0:
            first = _first_true(lambda i: i > n or self.bit(2 * i - n, offset), n + 1, guess_index)
            return canonical_unit(GE, 2 * first - n, n)
        first_false = _first_true(lambda i: i > n or not self.bit(2 * i - n, offset), n + 1,
                                  guess_index)
        return canonical_unit(LE, 2 * first_false - n - 2, n)


def _first_true(predicate: Callable[[int], bool], high: int, guess: int) -> int:
    """The least ``i`` in ``[0, high]`` with ``predicate(i)``, for a monotone predicate true at
    ``high``; it searches outward from ``guess``, then bisects."""
    low = 0
    if predicate(guess):
        high, step = guess, 1
        while high - step >= low and predicate(high - step):
            high, step = high - step, step * 2
        low = max(low, high - step + 1)
    else:
        low, step = guess + 1, 1
        while low + step - 1 < high and not predicate(low + step - 1):
            low, step = low + step, step * 2
        high = min(high, low + step - 1)
    while low < high:
        middle = (low + high) // 2
        if predicate(middle):
            high = middle
        else:
            low = middle + 1
    return low


def _check_inputs(bn: BatchNorm, alpha, bias, offsets) -> tuple[np.ndarray, ...]:
    channels = (bn.channels,)
    alpha = check_float32(alpha, f"{bn.name} alpha", channels, "FOLD-1")
    bad = alpha <= 0
    error_if(bool(bad.any()), DomainError, f"{bn.name} alpha", "alpha > 0",
             lambda: f"{alpha[bad][0]!r} for channel {int(np.argmax(bad))}",
             "FOLD-1")
    bias = np.zeros(channels, np.float32) if bias is None else bias
    bias = check_float32(bias, f"{bn.name} conv bias", channels, "FOLD-1")
    offsets = np.asarray(offsets)
    error_if(offsets.ndim != 1 or offsets.shape[0] < 1, ShapeError, "slice offsets",
             "shape [S] with S >= 1", list(offsets.shape), "FOLD-1")
    offsets = check_float32(offsets, "slice offsets", offsets.shape, "FOLD-1")
    return alpha, bias, offsets


def fold_bn_sign(bn: BatchNorm, n: int, alpha: np.ndarray | None = None,
                 bias: np.ndarray | None = None,
                 offsets: np.ndarray | None = None) -> ThresholdUnits:
    """Fold ``sign(BN(alpha * s + b) + o_j)`` into canonical units ``[S, C]`` (FOLD-1 to FOLD-8).

    ``alpha`` defaults to ones, ``bias`` to zeros and ``offsets`` to the single offset 0.
    """
    n = check_n(n)
    alpha = np.ones(bn.channels, np.float32) if alpha is None else alpha
    offsets = np.zeros(1, np.float32) if offsets is None else offsets
    alpha, bias, offsets = _check_inputs(bn, alpha, bias, offsets)
    exact_offsets = [exact(o) for o in offsets]
    polarity = np.empty((len(offsets), bn.channels), BIT_DTYPE)
    threshold = np.empty((len(offsets), bn.channels), ACC_DTYPE)
    for c in range(bn.channels):
        channel = ChannelFold(bn, c, alpha[c], bias[c])
        for j, offset in enumerate(exact_offsets):
            polarity[j, c], threshold[j, c] = channel.unit(offset, n)
    return ThresholdUnits(polarity, threshold, n)


def bn_sign_exact(bn: BatchNorm, s: np.ndarray, alpha: np.ndarray | None = None,
                  bias: np.ndarray | None = None,
                  offsets: np.ndarray | None = None) -> np.ndarray:
    """FOLD-2 evaluated directly: ``bits[S, C, len(s)]`` for a vector of accumulator values.

    The exact, unfolded definition; slow, for checks and small domains.
    """
    alpha = np.ones(bn.channels, np.float32) if alpha is None else alpha
    offsets = np.zeros(1, np.float32) if offsets is None else offsets
    alpha, bias, offsets = _check_inputs(bn, alpha, bias, offsets)
    out = np.empty((len(offsets), bn.channels, len(s)), BIT_DTYPE)
    for c in range(bn.channels):
        channel = ChannelFold(bn, c, alpha[c], bias[c])
        for j, offset in enumerate(offsets):
            out[j, c] = [channel.bit(int(v), exact(offset)) for v in s]
    return out
