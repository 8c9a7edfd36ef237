"""Threshold unit: the canonical integer form of a monotone Boolean function of the accumulator.

BatchNorm followed by sign, applied to an accumulator ``s`` in ``D_n`` (ACC-2), is a monotone
Boolean function of ``s``. The hardware evaluates it with one int16 comparison; this chapter fixes
the one integer form that every implementation stores and compares.

.. req:: THR-1

   A threshold unit is a pair ``(polarity, t)`` of a ``uint8`` polarity bit and an ``int16``
   threshold. Its output bit for accumulator ``s`` is ``[s >= t]`` when ``polarity = 1`` and
   ``[s <= t]`` when ``polarity = 0``.

.. req:: THR-2

   Canonical form. For dot-product length ``n``, a unit is canonical exactly when

   - ``polarity = 1`` and ``t`` is in ``D_n`` or ``t = n + 2``; or
   - ``polarity = 0`` and ``t`` is in ``D_n`` and ``t != n``.

   A constant unit has ``polarity = 1``: constant 1 is ``(1, -n)``, constant 0 is ``(1, n + 2)``.
   Every monotone Boolean function of ``s`` over ``D_n`` has exactly one canonical unit; there are
   ``2n + 2`` of them (``n`` increasing steps, ``n`` decreasing steps, two constants).

.. req:: THR-3

   Canonicalisation of a real threshold. The canonical unit of "``s >= t``" for a real ``t`` is
   ``(1, min{s in D_n : s >= t})``, or constant 0 when no element qualifies. The canonical unit of
   "``s <= t``" is ``(0, max{s in D_n : s <= t})``, or constant 1 when that maximum is ``n``, or
   constant 0 when no element qualifies. The comparison with ``t`` is exact (rational ``t``).

.. req:: THR-4

   ``ERROR_IF`` a stored unit is not canonical for its ``n``, or its arrays are not ``uint8``
   (polarity) and ``int16`` (threshold) of one shape
   (:class:`~boolnet_spec.reference.errors.DomainError`,
   :class:`~boolnet_spec.reference.errors.DTypeError`,
   :class:`~boolnet_spec.reference.errors.ShapeError`).

.. req:: THR-5

   Multi-slice evaluation. A layer with ``S`` slices holds units of shape ``[S, C]``. An
   accumulator tensor ``s[N, C, H, W]`` yields the bit tensor ``out[N, S, C, H, W]`` with
   ``out[:, j, c] = unit[j, c](s[:, c])``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from boolnet_spec.reference.accumulator import ACC_DTYPE, check_n
from boolnet_spec.reference.encoding import BIT_DTYPE
from boolnet_spec.reference.errors import DomainError, DTypeError, ShapeError, error_if

__all__ = ["ThresholdUnits", "canonical_unit", "is_canonical", "threshold_slices"]

GE, LE = 1, 0


def canonical_unit(polarity: int, t: Fraction | int, n: int) -> tuple[int, int]:
    """The canonical unit of ``s >= t`` (polarity 1) or ``s <= t`` (polarity 0) over ``D_n``."""
    n = check_n(n)
    t = Fraction(t)
    if polarity == GE:
        if t > n:
            return GE, n + 2
        low = max(math.ceil(t), -n)
        return GE, low + ((low + n) & 1)  # round up to the parity of n
    if t >= n:
        return GE, -n
    if t < -n:
        return GE, n + 2
    high = math.floor(t)
    return LE, high - ((high + n) & 1)  # round down to the parity of n


def is_canonical(polarity: np.ndarray, threshold: np.ndarray, n: int) -> np.ndarray:
    """Elementwise THR-2 test of integer arrays."""
    t = threshold.astype(np.int32)
    in_domain = (t >= -n) & (t <= n) & ((t + n) % 2 == 0)
    ge = (polarity == GE) & (in_domain | (t == n + 2))
    le = (polarity == LE) & in_domain & (t != n)
    return ge | le


@dataclass(frozen=True)
class ThresholdUnits:
    """Canonical threshold units of a layer: ``polarity`` and ``threshold`` of shape ``[S, C]``."""

    polarity: np.ndarray
    threshold: np.ndarray
    n: int

    def __post_init__(self):
        check_n(self.n)
        error_if(np.asarray(self.polarity).dtype != BIT_DTYPE, DTypeError, "threshold.polarity",
                 "dtype uint8", np.asarray(self.polarity).dtype, "THR-4")
        error_if(np.asarray(self.threshold).dtype != ACC_DTYPE, DTypeError, "threshold.threshold",
                 "dtype int16", np.asarray(self.threshold).dtype, "THR-4")
        error_if(self.polarity.ndim != 2 or self.polarity.shape != self.threshold.shape,
                 ShapeError, "threshold.polarity/threshold", "two arrays of one shape [S, C]",
                 f"{self.polarity.shape} and {self.threshold.shape}", "THR-4")
        bad = ~is_canonical(self.polarity, self.threshold, self.n)
        if bad.any():
            j, c = (int(i) for i in np.argwhere(bad)[0])
            error_if(True, DomainError, "threshold", f"canonical units for n = {self.n} (THR-2)",
                     f"(polarity {self.polarity[j, c]}, t {self.threshold[j, c]}) at [{j}, {c}] "
                     f"({int(bad.sum())} unit(s))", "THR-4")

    @property
    def slices(self) -> int:
        return self.polarity.shape[0]

    @property
    def channels(self) -> int:
        return self.polarity.shape[1]

    def select(self, channels: slice) -> ThresholdUnits:
        """The units of some channels, as they are: unchecked again (a deployed model's units
        may be non-canonical on purpose, and each unit acts on its own channel)."""
        subset = object.__new__(ThresholdUnits)
        for key, value in (("polarity", self.polarity[:, channels]),
                           ("threshold", self.threshold[:, channels]), ("n", self.n)):
            object.__setattr__(subset, key, value)
        return subset

    def constant(self) -> np.ndarray:
        """``[S, C]`` int8: 1 or 0 where the unit is constant over ``D_n``, -1 elsewhere."""
        out = np.full(self.polarity.shape, -1, dtype=np.int8)
        ge = self.polarity == GE
        out[ge & (self.threshold == -self.n)] = 1
        out[ge & (self.threshold.astype(np.int32) == self.n + 2)] = 0
        return out


def threshold_slices(s: np.ndarray, units: ThresholdUnits,
                     out: np.ndarray | None = None) -> np.ndarray:
    """``out[N, S, C, H, W]`` from accumulators ``s[N, C, H, W]`` (THR-1, THR-5); ``out``
    (optional) is a uint8 array of that shape, possibly a view into a larger one, to write to."""
    error_if(np.asarray(s).dtype != ACC_DTYPE, DTypeError, "s", "dtype int16", np.asarray(s).dtype,
             "THR-5")
    error_if(s.ndim != 4 or s.shape[1] != units.channels, ShapeError, "s",
             f"shape [N, {units.channels}, H, W]", s.shape, "THR-5")
    # For integers, s <= t is not (s >= t + 1): one comparison, then a flip where polarity is 0.
    # Both bounds are int16 (THR-2: t <= n + 2 for polarity 1, t + 1 <= n - 1 for polarity 0).
    lower = np.where(units.polarity == GE, units.threshold.astype(np.int32),
                     units.threshold.astype(np.int32) + 1).astype(ACC_DTYPE)
    if out is None:
        out = np.empty((s.shape[0], units.slices, *s.shape[1:]), BIT_DTYPE)
    bits = out.view(np.bool_)  # True and False are stored as the bytes 1 and 0
    np.greater_equal(s[:, None], lower[None, :, :, None, None], out=bits)
    bits ^= (units.polarity == LE)[None, :, :, None, None]
    return out
