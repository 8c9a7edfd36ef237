"""Pooling unit, an independent re-implementation of binary max pooling on packed words.

POOL-1 and POOL-2 as OR or AND per bit, by the polarity, on packed words (PACK-2): a window reduces
whole words with ``|`` and ``&``; no bit is unpacked.

.. req:: POOLU-1

   Binary max pooling of packed bits with a ``k x k`` window and stride ``k'``, no padding, floor
   mode (``Ho = floor((H - k)/k') + 1``): output word ``[b, y, x, j, w]`` is the OR of the words
   ``[b, y*k' + ky, x*k' + kx, j, w]`` over the window (POOL-1: the maximum of +-1 values).
   ``ERROR_IF H < k or W < k`` (:class:`~boolnet_spec.reference.errors.ShapeError`) or ``k``,
   ``k'`` are not integers ``>= 1`` (:class:`~boolnet_spec.reference.errors.DomainError`).
   A streaming pooling unit receives the pixels in raster order, image by image (the order of
   LB-2's output pixels, MVU-3), and keeps a partial window per output column; with ``k' < k``
   windows overlap and it keeps ``k`` rows.

.. req:: POOLU-2

   Pooling before BatchNorm-sign (POOL-2, the downsample branch): the threshold unit's bits at
   every position are pooled with the OR of the window where the unit's polarity is 1 and the AND
   where it is 0. With the polarity words ``M[S, K]`` of THU-1 (bit set where polarity is 1):
   ``out = (OR_window & M) | (AND_window & ~M)``. Unused bits stay 0: OR and AND of zeros are 0.
"""

from __future__ import annotations

import numpy as np

from boolnet_spec.equivalence.datapath.layout import PackedBits
from boolnet_spec.reference.errors import DomainError, ShapeError, error_if

__all__ = ["pool_words", "max_pool", "threshold_pool"]


def pool_words(words: np.ndarray, kernel: int, stride: int, reduce, name: str = "pool"
               ) -> np.ndarray:
    """``reduce`` (``np.bitwise_or`` or ``np.bitwise_and``) over windows of ``[N, H, W, ...]``."""
    for value, what in ((kernel, "kernel"), (stride, "stride")):
        error_if(not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1,
                 DomainError, f"{name} {what}", "an integer >= 1", repr(value), "POOLU-1")
    error_if(words.ndim < 3 or min(words.shape[1:3]) < kernel, ShapeError, f"{name} input",
             f"[N, H, W, ...] with H, W >= kernel = {kernel}", list(words.shape), "POOLU-1")
    out_h = (words.shape[1] - kernel) // stride + 1
    out_w = (words.shape[2] - kernel) // stride + 1
    out = None
    for ky in range(kernel):
        for kx in range(kernel):
            tap = words[:, ky:ky + stride * (out_h - 1) + 1:stride,
                        kx:kx + stride * (out_w - 1) + 1:stride]
            out = tap.copy() if out is None else reduce(out, tap, out=out)
    return out


def max_pool(x: PackedBits, kernel: int, stride: int, name: str = "pool") -> PackedBits:
    """OR over each window of packed bits (POOLU-1)."""
    x.checked(f"{name} input")
    return PackedBits(pool_words(x.words, kernel, stride, np.bitwise_or, name), x.channels)


def threshold_pool(x: PackedBits, polarity_words: np.ndarray, kernel: int, stride: int,
                   name: str = "pool") -> PackedBits:
    """OR where the polarity is 1, AND where it is 0, over each window (POOLU-2)."""
    any_bit = pool_words(x.words, kernel, stride, np.bitwise_or, name)
    all_bit = pool_words(x.words, kernel, stride, np.bitwise_and, name)
    out = (any_bit & polarity_words) | (all_bit & ~polarity_words)
    return PackedBits(out, x.channels)
