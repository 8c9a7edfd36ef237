"""Packed layout, an independent re-implementation: bit tensors and weights in 64-bit words.

Bits are packed and unpacked here with ``np.packbits`` and ``np.unpackbits``, not through the
reference. The layout is normative for the datapath: every unit
of :mod:`boolnet_spec.equivalence.datapath` reads and writes it, and a hardware implementation that
stores its
memories this way can exchange them word for word with this model.

.. req:: PACK-1

   Word. A packed word is an unsigned 64-bit integer (``uint64``). Bit ``i`` of word ``w``
   (``0 <= i < 64``) is ``(w >> i) & 1``; bit 0 is the least significant. In memory a word is 8
   bytes, least significant byte first: byte ``b`` holds bits ``8b .. 8b + 7``, bit ``8b + i`` of
   the word in bit ``i`` of the byte (``np.packbits(..., bitorder="little")`` viewed as ``<u8``).
   A set bit is +1 and ``True``, a clear bit -1 and ``False`` (ENC-1).

.. req:: PACK-2

   Activations are packed channels-last. A bit tensor ``x[N, S, C, H, W]`` (NET-1) becomes
   ``words[N, H, W, S, K]`` with ``K = ceil(C / 64)``: channel ``c`` of slice ``j`` at pixel
   ``(b, y, x)`` is bit ``c mod 64`` of ``words[b, y, x, j, c div 64]``. Pixels are stored row
   by row; the ``S`` slices of a pixel follow each other and every slice starts at a word
   boundary, so the slices a multi-slice convolution selects (CONV-4) are whole words.

.. req:: PACK-3

   Unused bits. When ``C`` is not a multiple of 64, bits ``C mod 64 .. 63`` of the last word of
   every slice hold no channel. They are 0 in every packed activation and every packed weight row,
   and every unit of the datapath writes them as 0. ``ERROR_IF`` a packed tensor handed to a unit
   or to :func:`unpack_activations` has a set unused bit
   (:class:`~boolnet_spec.reference.errors.DomainError`): such garbage is rejected, never masked.

   Why they cannot change a result. The matrix-vector unit counts mismatches,
   ``d = popcount(a XOR w)`` over whole words (MVU-1); an unused bit is 0 in the activation
   word and 0 in the weight word, so its XOR is 0 and it adds nothing to ``d``, whatever the
   word count. Had the unit counted matches (``popcount(XNOR)``) every unused bit would add 1 -
   the reason the datapath counts mismatches. The other units keep the invariant: the threshold
   unit writes only the bits of real channels (THU-3), OR and AND of two zeros are zero, XNOR is
   masked (LOGU-1), padding replicates whole words or writes 1 only to used bits (LB-1), and the
   permutations move used bits only (PERM-1). By induction over the nodes, every tensor of a run
   satisfies this rule. A set unused bit in an input would count as a mismatch at every tap
   that reads it: hence the error.

.. req:: PACK-4

   Weights are packed per output channel, as the rows of the matrix-vector unit. A weight
   ``w[Cout, Cin_g, kh, kw]`` (``Cin_g = Cin / groups``) becomes ``rows[Cout, kh*kw, Kg]`` with
   ``Kg = ceil(Cin_g / 64)``: for tap ``t = ky*kw + kx`` the bit of input channel ``i`` of the
   group is bit ``i mod 64`` of ``rows[o, t, i div 64]``. Every tap starts at a word boundary; the
   unused bits of its last word are 0 (PACK-3). Row ``o`` belongs to group ``o div (Cout/groups)``
   and is matched bit for bit against that group's input vector (PACK-5) at each tap.

.. req:: PACK-5

   Group input vector. At every pixel a convolution with ``groups = g`` reads one vector of
   ``Cin_g`` bits per group, packed from bit 0 like one slice (PACK-2): with ``read = slices``
   (CONV-4) group ``j`` reads the ``K`` words of its selected slice unchanged; with ``read = all``
   (CHAN-1) group ``i`` reads the flattened channels ``i*Cin_g .. (i+1)*Cin_g - 1`` - channel
   ``j*C + c`` is slice ``j``, channel ``c`` - gathered into ``ceil(Cin_g / 64)`` words by the
   permutation unit (PERM-4). A bit tensor without a slice axis (the ``[N, C, H, W]`` input of
   CONV-1's ``binary_conv2d``) is one slice, ``S = 1``, read with ``read = all``; its groups
   take consecutive channels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from boolnet_spec.reference.errors import (
    DomainError,
    DTypeError,
    NonBinaryError,
    ShapeError,
    error_if,
)

__all__ = ["WORD_BITS", "WORD", "PackedBits", "words_for", "used_mask", "pack_bits_last",
           "unpack_bits_last", "pack_activations", "unpack_activations", "pack_weights",
           "check_unused_zero"]

WORD_BITS = 64
WORD = np.dtype(np.uint64)
_LITTLE = np.dtype("<u8")


def words_for(bits: int) -> int:
    """``ceil(bits / 64)``: the words that hold ``bits`` channels (PACK-2)."""
    return -(-bits // WORD_BITS)


def used_mask(channels: int) -> np.ndarray:
    """``uint64[K]``: the used bits of each word of a ``channels``-bit vector (PACK-3)."""
    mask = np.full(words_for(channels), np.iinfo(np.uint64).max, WORD)
    tail = channels % WORD_BITS
    if tail:
        mask[-1] = np.uint64((1 << tail) - 1)
    return mask


def pack_bits_last(bits: np.ndarray) -> np.ndarray:
    """Pack the last axis of a 0/1 (or bool) array into words, from bit 0 (PACK-1); the unused
    bits of the last word are 0."""
    channels = bits.shape[-1]
    count = words_for(channels)
    packed = np.packbits(bits, axis=-1, bitorder="little")
    if packed.shape[-1] != count * 8:
        full = np.zeros((*bits.shape[:-1], count * 8), np.uint8)
        full[..., :packed.shape[-1]] = packed
        packed = full
    return np.ascontiguousarray(packed).view(_LITTLE).astype(WORD, copy=False)


def unpack_bits_last(words: np.ndarray, channels: int) -> np.ndarray:
    """The first ``channels`` bits of each word vector on the last axis, as uint8 0/1 (PACK-1)."""
    octets = np.ascontiguousarray(words.astype(_LITTLE, copy=False)).view(np.uint8)
    return np.unpackbits(octets, axis=-1, count=channels, bitorder="little")


def _check_bits(bits: np.ndarray, name: str, rank: int, label: str) -> np.ndarray:
    bits = np.asarray(bits)
    error_if(bits.dtype != np.uint8, DTypeError, name, "dtype uint8 holding bits", bits.dtype,
             label)
    error_if(bits.ndim != rank, ShapeError, name, f"rank {rank}", list(bits.shape), label)
    error_if(bits.size == 0 or min(bits.shape) < 1, ShapeError, name, "a non-empty tensor",
             list(bits.shape), label)
    error_if(bool((bits > 1).any()), NonBinaryError, name, "bits in {0, 1}",
             lambda: int(bits.max()), label)
    return bits


def check_unused_zero(words: np.ndarray, channels: int, name: str) -> None:
    """PACK-3: ``ERROR_IF`` a set unused bit in the last word of a vector (the last axis)."""
    tail = channels % WORD_BITS
    if not tail:
        return
    garbage = words[..., -1] & ~np.uint64((1 << tail) - 1)
    if garbage.any():
        index = [int(i) for i in np.argwhere(garbage)[0]]
        error_if(True, DomainError, name, f"unused bits {tail}..63 of its last word 0 (PACK-3)",
                 lambda: f"word {int(words[(*index, -1)]):#018x} at index {index} "
                 f"({int(np.count_nonzero(garbage))} word(s))", "PACK-3")


@dataclass(frozen=True)
class PackedBits:
    """A packed activation tensor ``words[N, H, W, S, K]`` of ``channels`` channels (PACK-2)."""

    words: np.ndarray
    channels: int

    def __post_init__(self):
        words = self.words
        error_if(not isinstance(words, np.ndarray) or words.dtype != WORD, DTypeError,
                 "packed words", "a uint64 array", getattr(words, "dtype", type(words).__name__),
                 "PACK-2")
        error_if(words.ndim != 5 or words.shape[-1] != words_for(self.channels), ShapeError,
                 "packed words", f"[N, H, W, S, K = {words_for(self.channels)}] for "
                 f"C = {self.channels}", list(words.shape), "PACK-2")

    @property
    def slices(self) -> int:
        return self.words.shape[3]

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        """The bit tensor's shape ``[N, S, C, H, W]``."""
        n, h, w, s, _ = self.words.shape
        return n, s, self.channels, h, w

    def checked(self, name: str) -> PackedBits:
        """This tensor after the PACK-3 check."""
        check_unused_zero(self.words, self.channels, name)
        return self


def pack_activations(bits: np.ndarray, name: str = "activations") -> PackedBits:
    """``x[N, S, C, H, W]`` bits -> packed ``words[N, H, W, S, K]`` (PACK-2)."""
    bits = _check_bits(bits, name, 5, "PACK-2")
    return PackedBits(pack_bits_last(bits.transpose(0, 3, 4, 1, 2)), bits.shape[2])


def unpack_activations(packed: PackedBits, name: str = "activations") -> np.ndarray:
    """Packed ``words[N, H, W, S, K]`` -> bits ``x[N, S, C, H, W]`` (PACK-2, PACK-3)."""
    packed.checked(name)
    bits = unpack_bits_last(packed.words, packed.channels)
    return np.ascontiguousarray(bits.transpose(0, 3, 4, 1, 2))


def pack_weights(weight: np.ndarray, name: str = "weight") -> np.ndarray:
    """``w[Cout, Cin_g, kh, kw]`` bits -> rows ``[Cout, kh*kw, Kg]`` (PACK-4)."""
    weight = _check_bits(weight, name, 4, "PACK-4")
    cout, cin_group, kh, kw = weight.shape
    taps = weight.transpose(0, 2, 3, 1).reshape(cout, kh * kw, cin_group)
    return pack_bits_last(taps)
