"""Permutation unit, an independent re-implementation of CONV-4 and CHAN-1 to CHAN-3.

Slice selection, split, concatenation and shuffle as moves of packed bits (PACK-2): shifts,
masks and word selections only, no unpacked channel indexing. In hardware these are wiring
(slice selection, word-aligned splits) or a barrel shifter per word (unaligned fields).

.. req:: PERM-1

   Fields. ``extract(words, start, length)`` returns the channels ``start .. start + length - 1``
   of a packed vector (the last axis) as a new vector starting at bit 0: output word ``i`` is
   ``(w[q + i] >> r) | (w[q + i + 1] << (64 - r))`` with ``q, r = divmod(start, 64)`` (the
   second term absent for ``r = 0`` or past the last word), its bits from ``length`` on cleared.
   ``concat`` places vectors one after another: a vector of ``m`` channels placed at bit
   ``a`` contributes ``v[i] << (a mod 64)`` to word ``a div 64 + i`` and ``v[i] >> (64 - a mod 64)``
   to the next word. Only used bits move; every other bit of the result is 0 (PACK-3).

.. req:: PERM-2

   Feature-reuse split (CHAN-2): the two halves of every slice are ``extract(x, 0, C/2)`` and
   ``extract(x, C/2, C/2)``; when ``C/2`` is a multiple of 64 they are word ranges.
   ``ERROR_IF C`` is odd (:class:`~boolnet_spec.reference.errors.ShapeError`).

.. req:: PERM-3

   Channel shuffle (CHAN-3) is a bit interleave: output word ``2m`` is
   ``spread(lo32(z1[m])) | spread(lo32(z2[m])) << 1`` and word ``2m + 1`` is
   ``spread(hi32(z1[m])) | spread(hi32(z2[m])) << 1``, where ``spread`` moves bit ``i`` of a
   32-bit value to bit ``2i`` (five shift-and-mask steps) and ``lo32``, ``hi32`` are the two halves
   of a word. Of the ``2K`` words the first ``ceil(2C / 64)`` are kept; the others hold only unused
   bits. ``ERROR_IF`` the operands differ in shape or channels
   (:class:`~boolnet_spec.reference.errors.ShapeError`).

.. req:: PERM-4

   Convolution input (PACK-5). ``read = slices`` with ``groups = g`` selects whole slices of
   ``S``: ``g = S`` all of them, ``g = 1`` slice ``S // 2``, else slices ``(S - g)//2`` up to
   but excluding ``(S + g)//2`` (CONV-4), group ``j`` reading the ``j``-th selected slice.
   ``read = all`` concatenates the ``S`` slices (CHAN-1) and extracts each group's
   ``Cin_g = S*C/g`` channels; when ``C`` is a multiple of 64 and ``g`` divides ``S`` this is a
   reshape of the words. ``ERROR_IF`` ``g`` is outside ``[1, S]`` for ``read = slices`` or does
   not divide ``S*C`` for ``read = all`` (:class:`~boolnet_spec.reference.errors.DomainError`).
"""

from __future__ import annotations

import numpy as np

from boolnet_spec.equivalence.datapath.layout import WORD, WORD_BITS, PackedBits, words_for
from boolnet_spec.reference.errors import DomainError, ShapeError, error_if

__all__ = ["extract", "concat", "split", "shuffle", "select_groups"]

_ONES = np.iinfo(np.uint64).max
_SPREAD = ((16, np.uint64(0x0000FFFF0000FFFF)), (8, np.uint64(0x00FF00FF00FF00FF)),
           (4, np.uint64(0x0F0F0F0F0F0F0F0F)), (2, np.uint64(0x3333333333333333)),
           (1, np.uint64(0x5555555555555555)))
_LOW32 = np.uint64(0xFFFFFFFF)


def extract(words: np.ndarray, start: int, length: int) -> np.ndarray:
    """Channels ``[start, start + length)`` of the packed vectors on the last axis (PERM-1)."""
    count = words_for(length)
    q, r = divmod(start, WORD_BITS)
    if r == 0:
        out = words[..., q:q + count].copy()
    else:
        out = words[..., q:q + count] >> np.uint64(r)
        upper = words[..., q + 1:q + count + 1]
        out[..., :upper.shape[-1]] |= upper << np.uint64(WORD_BITS - r)
    tail = length % WORD_BITS
    if tail:
        out[..., -1] &= np.uint64((1 << tail) - 1)
    return out


def concat(parts: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """The vectors ``(words, channels)`` one after another on the last axis (PERM-1)."""
    total = sum(channels for _, channels in parts)
    lead = parts[0][0].shape[:-1]
    out = np.zeros((*lead, words_for(total)), WORD)
    at = 0
    for words, channels in parts:
        q, r = divmod(at, WORD_BITS)
        count = words_for(channels)
        if r == 0:
            out[..., q:q + count] |= words[..., :count]
        else:
            out[..., q:q + count] |= words[..., :count] << np.uint64(r)
            spill = out[..., q + 1:q + count + 1]
            spill |= words[..., :spill.shape[-1]] >> np.uint64(WORD_BITS - r)
        at += channels
    return out


def split(x: PackedBits, name: str = "split") -> tuple[PackedBits, PackedBits]:
    """The two channel halves of every slice (PERM-2)."""
    x.checked(f"{name} input")
    error_if(x.channels % 2, ShapeError, f"{name} input", "an even channel count C",
             x.channels, "PERM-2")
    half = x.channels // 2
    return (PackedBits(extract(x.words, 0, half), half),
            PackedBits(extract(x.words, half, half), half))


def _spread(values: np.ndarray) -> np.ndarray:
    for shift, mask in _SPREAD:
        values = (values | (values << np.uint64(shift))) & mask
    return values


def shuffle(z1: PackedBits, z2: PackedBits, name: str = "shuffle") -> PackedBits:
    """Interleave: channel ``2c`` from ``z1``, ``2c + 1`` from ``z2`` (PERM-3)."""
    z1.checked(f"{name} z1")
    z2.checked(f"{name} z2")
    error_if(z1.words.shape != z2.words.shape or z1.channels != z2.channels, ShapeError,
             f"{name} z2", f"the shape of z1 {list(z1.shape)}", list(z2.shape), "PERM-3")
    a, b = z1.words, z2.words
    out = np.empty((*a.shape[:-1], 2 * a.shape[-1]), WORD)
    out[..., 0::2] = _spread(a & _LOW32) | (_spread(b & _LOW32) << np.uint64(1))
    out[..., 1::2] = _spread(a >> np.uint64(32)) | (_spread(b >> np.uint64(32)) << np.uint64(1))
    channels = 2 * z1.channels
    return PackedBits(np.ascontiguousarray(out[..., :words_for(channels)]), channels)


def select_groups(x: PackedBits, groups: int, read: str, name: str = "conv") -> np.ndarray:
    """The group input vectors ``[N, H, W, g, Kg]`` of a convolution (PERM-4, PACK-5)."""
    slices, channels = x.slices, x.channels
    if read == "slices":
        error_if(not isinstance(groups, (int, np.integer)) or not 1 <= groups <= slices,
                 DomainError, f"{name}.groups", f"1 <= groups <= S = {slices}", repr(groups),
                 "PERM-4")
        if groups == 1:
            return x.words[:, :, :, slices // 2:slices // 2 + 1]
        return x.words[:, :, :, (slices - groups) // 2:(slices + groups) // 2]
    total = slices * channels
    error_if(not isinstance(groups, (int, np.integer)) or groups < 1 or total % groups,
             DomainError, f"{name}.groups", f"a divisor of S*C = {total}", repr(groups), "PERM-4")
    per_group = total // groups
    words = x.words
    if channels % WORD_BITS == 0 and slices % groups == 0:
        n, h, w, s, k = words.shape
        return words.reshape(n, h, w, groups, (s // groups) * k)
    flat = concat([(words[:, :, :, j], channels) for j in range(slices)])
    return np.stack([extract(flat, i * per_group, per_group) for i in range(groups)], axis=3)
