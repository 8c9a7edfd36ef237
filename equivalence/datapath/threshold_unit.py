"""Threshold unit, an independent re-implementation of THR-1 and THR-5 in the popcount domain.

Int16 thresholds and polarity bits compared with the mismatch count ``d`` of MVU-2, written as
packed slice words. It
reads the canonical units of a model (THR-2) and converts them once, exactly, to the domain of
``d``; it never forms ``s``.

.. req:: THU-1

   Popcount domain. With ``s = n - 2d`` (MVU-2) a canonical unit ``(polarity, t)`` for ``n``
   (THR-2) becomes ``(polarity, T)`` with ``T = (n - t) / 2``, an integer because ``t`` has the
   parity of ``n`` (or ``t = n + 2``): polarity 1 outputs ``[s >= t] = [d <= T]``, polarity 0
   outputs ``[s <= t] = [d >= T]``. ``T`` lies in ``[-1, n]``: constant 1 is ``(1, n)`` and
   constant 0 is ``(1, -1)``. The conversion and the comparison are exact integer operations;
   ``T`` is stored as int16. The conversion happens once, when the units are loaded into the
   unit's memory (by the host or the loader), never per pixel; the comparison of the unsigned
   ``acc_bits``-bit ``d`` with the signed ``T`` is exact, in a signed width that holds both.
   ``ERROR_IF`` a unit is not canonical, or the unit arrays are not
   uint8 and int16 of one shape ``[S, Cout]``
   (:class:`~boolnet_spec.reference.errors.DomainError`,
   :class:`~boolnet_spec.reference.errors.DTypeError`,
   :class:`~boolnet_spec.reference.errors.ShapeError`).

.. req:: THU-2

   Multi-threshold form. A layer with ``S`` slices stores ``T[S, Cout]`` and ``polarity[S, Cout]``;
   each accumulator ``d[p, c]`` is compared with its ``S`` thresholds at once and slice ``j`` takes
   the bit of unit ``[j, c]`` (THR-5). One comparison per unit: ``[d <= L]`` with ``L = T`` for
   polarity 1 and ``L = T - 1`` for polarity 0, then inverted where the polarity is 0
   (``[d >= T] = not [d <= T - 1]``).

.. req:: THU-3

   Output. The ``S*Cout`` bits of a pixel are written as ``S`` slice vectors of ``Cout`` channels
   (PACK-2): the bit of unit ``[j, c]`` is bit ``c mod 64`` of word ``c div 64`` of slice ``j``;
   the unused bits of the last word are 0 (PACK-3). With neuron folds (MVU-3) a pixel's words
   are complete only after its last fold: ``PE`` channels are written per fold into a held
   pixel vector, cleared at the first fold, and bits of channels ``>= Cout`` (idle lanes) are
   never written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from boolnet_spec.equivalence.datapath.layout import PackedBits, pack_bits_last
from boolnet_spec.reference.errors import DomainError, DTypeError, ShapeError, error_if

__all__ = ["ThresholdUnit"]


@dataclass(frozen=True)
class ThresholdUnit:
    """The popcount-domain thresholds ``T[S, Cout]`` (int16) and polarities (THU-1, THU-2)."""

    polarity: np.ndarray
    threshold: np.ndarray
    n: int

    @classmethod
    def from_canonical(cls, polarity: np.ndarray, threshold: np.ndarray, n: int,
                       name: str = "threshold") -> ThresholdUnit:
        """Convert canonical units ``(polarity, t)`` of THR-2 to ``(polarity, (n - t)/2)``."""
        polarity, threshold = np.asarray(polarity), np.asarray(threshold)
        error_if(polarity.dtype != np.uint8 or threshold.dtype != np.int16, DTypeError, name,
                 "uint8 polarity and int16 thresholds", f"{polarity.dtype} and {threshold.dtype}",
                 "THU-1")
        error_if(polarity.ndim != 2 or polarity.shape != threshold.shape, ShapeError, name,
                 "two arrays of one shape [S, Cout]", f"{polarity.shape} and {threshold.shape}",
                 "THU-1")
        t = threshold.astype(np.int32)
        in_domain = (t >= -n) & (t <= n) & ((t + n) % 2 == 0)
        canonical = np.where(polarity == 1, in_domain | (t == n + 2),
                             (polarity == 0) & in_domain & (t != n))
        if not canonical.all():
            j, c = (int(i) for i in np.argwhere(~canonical)[0])
            error_if(True, DomainError, name, f"canonical units for n = {n} (THR-2)",
                     f"(polarity {polarity[j, c]}, t {threshold[j, c]}) at [{j}, {c}]", "THU-1")
        return cls(polarity.copy(), ((n - t) // 2).astype(np.int16), n)

    @property
    def slices(self) -> int:
        return self.polarity.shape[0]

    @property
    def channels(self) -> int:
        return self.polarity.shape[1]

    def bits(self, d: np.ndarray) -> np.ndarray:
        """Bool ``[..., S, Cout]`` of accumulators ``d[..., Cout]`` (THU-2)."""
        lower = np.where(self.polarity == 1, self.threshold.astype(np.int32),
                         self.threshold.astype(np.int32) - 1)
        out = d[..., None, :] <= lower
        out ^= self.polarity == 0
        return out

    def apply(self, d: np.ndarray, pixels: tuple[int, int, int]) -> PackedBits:
        """Packed output ``words[N, Ho, Wo, S, K]`` of ``d[N*Ho*Wo, Cout]`` (THU-2, THU-3)."""
        error_if(d.ndim != 2 or d.shape[1] != self.channels, ShapeError, "threshold input",
                 f"[P, Cout = {self.channels}]", list(d.shape), "THU-2")
        words = pack_bits_last(self.bits(d))
        return PackedBits(words.reshape(*pixels, self.slices, words.shape[-1]), self.channels)

    def polarity_words(self) -> np.ndarray:
        """``uint64[S, K]``: bit ``c`` of slice ``j`` set where the polarity of ``[j, c]`` is 1
        (the pooling mask of POOLU-2)."""
        return pack_bits_last(self.polarity == 1)
