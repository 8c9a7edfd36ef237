"""Matrix-vector unit, an independent re-implementation of CONV-1 and ACC-1 on packed words.

XNOR-popcount folded onto PE x SIMD lanes, into an accumulator of a configured width, on the
words of PACK-4 and LB-2: it counts
mismatching bits with ``XOR`` and ``np.bitwise_count``; it never forms a +-1 value.

.. req:: MVU-1

   The weight rows of a convolution (PACK-4) form a matrix of ``Cout`` rows of ``K = kh*kw*Kg``
   words. For every output pixel ``p`` the unit matches row ``o`` against the window vector of its
   group ``g = o div (Cout/groups)`` (LB-2) and computes the mismatch count
   ``d[p, o] = sum over k < K of popcount(window[k, p, g] XOR row[o, k])``: the number of the
   ``n = Cin_g*kh*kw`` used bit positions where activation and weight differ (unused bits are 0 in
   both and add nothing, PACK-3). ``0 <= d <= n``.

.. req:: MVU-2

   ``d`` is the accumulator of ACC-1 in the popcount domain: ``popcount(XNOR) = n - d``, so
   ``s = 2*(n - d) - n = n - 2d``. The datapath keeps ``d``; it converts to ``s`` (int16) only
   where the trace reports the accumulator (MACH-2). Conversely ``d = (n - s)/2``, exact because
   ``s`` has the parity of ``n`` (ACC-2): the form in which a unit fed from ``s`` (the kit's
   threshold cases) takes its input.

.. req:: MVU-3

   Folding. ``PE`` rows are processed in parallel, each reading ``SIMD`` bits of its row and of
   the window per cycle: a pixel vector takes ``ceil(Cout/PE)`` neuron folds of
   ``F = ceil(64*K/SIMD)`` synapse folds. In synapse fold ``f`` a PE adds the popcount of bits
   ``f*SIMD .. (f+1)*SIMD - 1`` of its row's XOR word sequence (bit ``i`` of word ``k`` is bit
   ``64k + i``) to its accumulator; rows are stored tap-aligned, so unused bits are streamed too
   and count 0 (PACK-3). ``SIMD`` is a multiple of 64 or a power of two below 64; ``PE >= 1``.
   ``ERROR_IF`` not (:class:`~boolnet_spec.reference.errors.DomainError`). Folding changes when a
   value is computed, never the value.
   Three consequences. When ``SIMD/64`` does not divide ``K``, the last synapse fold reads past the
   row's last word; those words count 0, as if the row were padded with zero words (in a packed
   weight bank they are the next row's: mask them). A neuron fold takes ``PE`` consecutive rows of
   all ``Cout`` and may span groups: each PE matches its row against its own group's window vector
   (MVU-1), as COST-4 counts. The order is informative: a pixel's neuron folds, each of ``F``
   synapse folds, then the next pixel in raster order (LB-2).

.. req:: ACCW-1

   The accumulator is an unsigned register of ``acc_bits`` bits (default 16) that starts at 0 for
   every pixel and row and adds one non-negative popcount per synapse fold. It never decreases, so
   it overflows at some fold exactly when the final ``d`` exceeds ``2**acc_bits - 1``: ``ERROR_IF``
   it does (:class:`~boolnet_spec.reference.errors.BoundError`, naming the layer, the width, the
   value and where it occurs). The accumulator never wraps and the layer produces no output.
   ``ERROR_IF acc_bits`` is not an integer in ``[1, 32]``
   (:class:`~boolnet_spec.reference.errors.DomainError`).
   A streaming circuit has emitted earlier pixels when an accumulator overflows: the error voids
   the whole layer's output, which the circuit signals (a flag the host reads); no wrapped value
   may be visible, so a flagged accumulator reads a saturated value, never ``d mod 2**acc_bits``.

.. req:: ACCW-2

   Minimal width, in the domain this unit accumulates: ``d`` takes every value of ``[0, n]`` as
   the activations range over all bit patterns, so the minimal unsigned width of a layer is
   ``bit_length(n)``. A signed register of the dot product ``s`` in ``[-n, n]`` needs
   ``bit_length(n) + 1`` bits. For ``n = 576`` (a 3x3 convolution over 64 channels): 10 bits
   unsigned (``d <= 1023``); a 10-bit *signed* register holds at most 511, less than both
   ``d = 576`` and ``s = 576``. The default 16 bits hold every ``n <= N_MAX`` (ACC-3).

.. req:: ACCW-3

   Register kinds. The register is unsigned (``acc_signed = False``, the default: it holds
   ``[0, 2**acc_bits - 1]``) or two's-complement signed (``acc_signed = True``, as FINN-style
   XNOR accumulators are: it holds ``[-2**(acc_bits-1), 2**(acc_bits-1) - 1]``). Both accumulate
   ``d`` as in ACCW-1, and the overflow check of ACCW-1 uses the register's largest value. The
   static minimum width of a layer is ``bit_length(n)`` unsigned and ``bit_length(n) + 1`` signed
   (ACCW-2; the signed width also holds every ``s`` in ``[-n, n]``), the ``min_acc_bits`` that
   ``cost`` reports for the unsigned register.

.. req:: ACCW-4

   Static check. A datapath is built only if its register holds every value of every binary
   convolution: ``ERROR_IF acc_bits`` is below the static minimum width (ACCW-3) of any layer
   (:class:`~boolnet_spec.reference.errors.DomainError`, naming every such layer, its ``n`` and
   the width it needs), before any image is read (MACH-3). The data-dependent check of ACCW-1
   stays as a second guard for a unit driven directly (``matrix_vector``) or a machine built
   with ``static_check=False``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from boolnet_spec.equivalence.datapath.layout import WORD, WORD_BITS
from boolnet_spec.reference.errors import BoundError, DomainError, DTypeError, ShapeError, error_if

__all__ = ["MVUConfig", "minimal_width", "signed_width", "synapse_folds", "neuron_folds",
           "matrix_vector", "mismatches_to_accumulator", "ACC_REGISTER",
           "check_widths"]

# The model's register for d: every n <= N_MAX = 32765 fits, whatever acc_bits says (ACCW-1).
ACC_REGISTER = np.dtype(np.uint16)


def _positive(value, name: str, label: str) -> int:
    error_if(not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1,
             DomainError, name, "an integer >= 1", repr(value), label)
    return int(value)


@dataclass(frozen=True)
class MVUConfig:
    """PE rows, SIMD bits per row per cycle, accumulator width (MVU-3, ACCW-1)."""

    pe: int = 64
    simd: int = 64
    acc_bits: int = 16
    acc_signed: bool = False

    def __post_init__(self):
        _positive(self.pe, "pe", "MVU-3")
        simd = _positive(self.simd, "simd", "MVU-3")
        error_if(simd % WORD_BITS != 0 and WORD_BITS % simd != 0, DomainError, "simd",
                 "a multiple of 64 or a power of two below 64", simd, "MVU-3")
        bits = _positive(self.acc_bits, "acc_bits", "ACCW-1")
        error_if(bits > 32, DomainError, "acc_bits", "an integer in [1, 32]", bits, "ACCW-1")
        error_if(not isinstance(self.acc_signed, (bool, np.bool_)), DomainError, "acc_signed",
                 "True or False", repr(self.acc_signed), "ACCW-3")

    @property
    def acc_max(self) -> int:
        """The register's largest value (ACCW-1, ACCW-3)."""
        return (1 << (self.acc_bits - bool(self.acc_signed))) - 1

    @property
    def register(self) -> str:
        return f"{self.acc_bits}-bit {'signed' if self.acc_signed else 'unsigned'}"

    def required_width(self, n: int) -> int:
        """The static minimum width of this register kind for ``n`` (ACCW-3)."""
        return signed_width(n) if self.acc_signed else minimal_width(n)


def minimal_width(n: int) -> int:
    """ACCW-2: the unsigned width that holds every ``d`` in ``[0, n]``."""
    return int(n).bit_length()


def signed_width(n: int) -> int:
    """ACCW-2: the signed width that holds every ``s`` in ``[-n, n]``."""
    return int(n).bit_length() + 1


def synapse_folds(words: int, simd: int) -> int:
    """``F = ceil(64*K/SIMD)`` cycles per row and pixel vector (MVU-3)."""
    return -(-(WORD_BITS * words) // simd)


def neuron_folds(rows: int, pe: int) -> int:
    """``ceil(Cout/PE)`` (MVU-3)."""
    return -(-rows // pe)


def _fold_lanes(words: int, simd: int):
    """Per synapse fold: ``(first word, end word, mask or None)`` (MVU-3)."""
    if simd >= WORD_BITS:
        step = simd // WORD_BITS
        for first in range(0, words, step):
            yield first, min(first + step, words), None
        return
    lanes = WORD_BITS // simd
    for k in range(words):
        for lane in range(lanes):
            yield k, k + 1, np.uint64(((1 << simd) - 1) << (lane * simd))


def matrix_vector(windows: np.ndarray, rows: np.ndarray, n: int, config: MVUConfig,
                  name: str = "conv") -> np.ndarray:
    """Mismatch counts ``d[P, Cout]`` of window vectors ``[K, P, G]`` against weight rows
    ``[K, G, Cout/G]`` (MVU-1, MVU-3), checked against the accumulator width (ACCW-1)."""
    error_if(windows.dtype != WORD or rows.dtype != WORD, DTypeError, f"{name} words",
             "uint64 windows and rows", f"{windows.dtype} and {rows.dtype}", "MVU-1")
    error_if(windows.ndim != 3 or rows.ndim != 3 or windows.shape[0] != rows.shape[0]
             or windows.shape[2] != rows.shape[1], ShapeError, f"{name} weight rows",
             f"[K = {windows.shape[0]}, G = {windows.shape[-1]}, Cout/G] words",
             list(rows.shape), "MVU-1")
    words, pixels, groups = windows.shape
    per_group = rows.shape[2]
    acc = np.zeros((pixels, groups, per_group), ACC_REGISTER)
    for first, end, mask in _fold_lanes(words, config.simd):
        for k in range(first, end):
            xor = windows[k][:, :, None] ^ rows[k][None, :, :]
            if mask is not None:
                xor &= mask
            acc += np.bitwise_count(xor)
    d = acc.reshape(pixels, groups * per_group)
    # ACCW-1: d only grows, so its final value decides; for n <= acc_max it cannot overflow.
    if n > config.acc_max:
        over = d > config.acc_max
        if over.any():
            pixel, channel = (int(i) for i in np.argwhere(over)[0])
            error_if(True, BoundError, f"{name} accumulator",
                     f"mismatch counts d <= {config.acc_max} ({config.register}, "
                     f"n = {n} needs {config.required_width(n)} bits)",
                     f"d = {int(d[pixel, channel])} at pixel {pixel}, output channel {channel} "
                     f"({int(np.count_nonzero(over))} accumulator(s))", "ACCW-1")
    return d


def check_widths(widths: dict[str, int], config: MVUConfig) -> None:
    """ACCW-4: every layer's ``n`` (``widths`` maps layer names to ``n``) fits the register
    statically; ``ERROR_IF`` not, naming every layer that does not."""
    short = {name: config.required_width(n) for name, n in widths.items()
             if config.required_width(n) > config.acc_bits}
    error_if(bool(short), DomainError, "acc_bits",
             f"at least {max(short.values(), default=0)} bits for a {config.register.split()[1]} "
             f"register (the static minimum width of every layer)",
             f"{config.acc_bits}; too narrow for "
             + ", ".join(f"{name} (n = {widths[name]}, needs {bits})"
                         for name, bits in short.items()), "ACCW-4")


def mismatches_to_accumulator(d: np.ndarray, n: int) -> np.ndarray:
    """``s = n - 2d`` as int16 (MVU-2)."""
    return (np.int32(n) - np.int32(2) * d.astype(np.int32)).astype(np.int16)
