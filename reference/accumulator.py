"""Accumulator: the integer that a binary dot product produces, its domain and its width.

.. req:: ACC-1

   The accumulator of a binary dot product of length ``n`` over activations ``a`` and weights
   ``w`` (both +-1) is ``s = sum(a[i] * w[i]) = 2 * popcount(XNOR(a_bits, w_bits)) - n``.
   Equivalently ``s = n - 2 * popcount(XOR(a_bits, w_bits))``: counted as mismatches, a bit
   position that is 0 in both operands adds nothing, so packed words may carry zero bits beyond the
   ``n`` operands (PACK-3, MVU-2); counted as matches, every such bit would add 1.

.. req:: ACC-2

   ``s`` lies in the domain ``D_n = {-n, -n+2, ..., n-2, n}``: ``|s| <= n`` and ``s`` has the
   parity of ``n``. ``D_n`` has ``n + 1`` elements.

.. req:: ACC-3

   The accumulator is Int16. ``ERROR_IF n < 1`` or ``n > N_MAX`` with
   ``N_MAX = 32765 = INT16_MAX - 2`` (:class:`~boolnet_spec.reference.errors.BoundError`). The
   bound makes every
   accumulator (``|s| <= n``) and every canonical threshold (``-n <= t <= n + 2``, THR-2) an
   int16, and the popcount ``(s + n) / 2`` (at most ``n``) too.
"""

from __future__ import annotations

import numpy as np

from boolnet_spec.reference.errors import BoundError, DTypeError, error_if

__all__ = ["ACC_DTYPE", "N_MAX", "check_n", "domain", "popcount_to_accumulator"]

#: The accumulator dtype (ACC-3).
ACC_DTYPE = np.dtype(np.int16)
#: The largest dot-product length n (ACC-3): ``INT16_MAX - 2``, so that ``n + 2`` is an int16.
N_MAX = int(np.iinfo(np.int16).max) - 2


def check_n(n: int, name: str = "n") -> int:
    """Return the dot-product length ``n`` after checking ``1 <= n <= N_MAX`` (ACC-3)."""
    error_if(not isinstance(n, (int, np.integer)) or isinstance(n, bool), DTypeError, name,
             "an integer dot-product length", type(n).__name__, "ACC-3")
    error_if(not 1 <= n <= N_MAX, BoundError, name, f"1 <= n <= N_MAX = {N_MAX}", n, "ACC-3")
    return int(n)


def domain(n: int) -> np.ndarray:
    """``D_n`` in increasing order, as int16 (ACC-2)."""
    n = check_n(n)
    return np.arange(-n, n + 1, 2, dtype=ACC_DTYPE)


def popcount_to_accumulator(popcount: np.ndarray, n: int) -> np.ndarray:
    """``s = 2 * popcount - n`` (ACC-1), computed in int32 and returned as int16."""
    n = check_n(n)
    return (np.int32(2) * popcount.astype(np.int32) - np.int32(n)).astype(ACC_DTYPE)
