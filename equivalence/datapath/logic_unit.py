"""Logic unit, an independent re-implementation of the XNOR and OR shortcuts on packed words.

LOGIC-1 and LOGIC-2 as one bitwise operation per 64-bit word
(PACK-2), one word of each operand per lane.

.. req:: LOGU-1

   ``xnor(a, r) = ~(a ^ r) & U`` word by word, with ``U`` the used-bit mask of the channel count
   (PACK-3): XNOR sets every unused bit (``0 XNOR 0 = 1``), and the mask clears them again. On the
   used bits it is LOGIC-1.

.. req:: LOGU-2

   ``or(a, r) = a | r`` word by word (LOGIC-2); unused bits stay 0. ``ERROR_IF`` the operands
   differ in shape or channel count (:class:`~boolnet_spec.reference.errors.ShapeError`) or have a
   set unused
   bit (PACK-3); there is no broadcasting.
"""

from __future__ import annotations

import numpy as np

from boolnet_spec.equivalence.datapath.layout import PackedBits, used_mask
from boolnet_spec.reference.errors import ShapeError, error_if

__all__ = ["xnor", "logic_or"]


def _operands(a: PackedBits, r: PackedBits, gate: str) -> None:
    a.checked(f"{gate} x")
    r.checked(f"{gate} r")
    error_if(a.words.shape != r.words.shape or a.channels != r.channels, ShapeError,
             f"{gate} r", f"the shape of x {list(a.shape)}", list(r.shape), "LOGU-2")


def xnor(a: PackedBits, r: PackedBits) -> PackedBits:
    """XNOR of packed bits, unused bits cleared (LOGU-1)."""
    _operands(a, r, "xnor")
    words = np.bitwise_xor(a.words, r.words)
    np.invert(words, out=words)
    if a.channels % 64:
        words &= used_mask(a.channels)
    return PackedBits(words, a.channels)


def logic_or(a: PackedBits, r: PackedBits) -> PackedBits:
    """OR of packed bits (LOGU-2)."""
    _operands(a, r, "or")
    return PackedBits(a.words | r.words, a.channels)
