"""Line buffer, an independent re-implementation of padding and windows on packed pixels.

It implements PAD-1 to PAD-3 and the window arithmetic of CONV-1 and CONV-2 for the
matrix-vector unit: it moves whole packed pixels (PACK-2, PACK-5) and never looks inside a word,
except to write the constant pixel of ``one`` padding.

.. req:: LB-1

   Padding of packed pixels ``v[N, H, W, G, Kg]`` by ``p``: ``replicate`` copies the words of the
   nearest edge pixel, ``v[b, clamp(y - p, 0, H-1), clamp(x - p, 0, W-1)]`` (PAD-1), so a padded
   pixel is bit for bit an input pixel; ``one`` writes a pixel whose used bits are 1 and whose
   unused bits are 0 (PAD-2, PACK-3); ``none`` requires ``p = 0`` (PAD-3). ``ERROR_IF`` another
   mode or ``p < 0`` (:class:`~boolnet_spec.reference.errors.DomainError`).

.. req:: LB-2

   Window. Output pixel ``(y, x)`` of a ``kh x kw`` kernel with stride ``t`` and dilation ``d``
   reads the padded pixels ``(y*t + ky*d, x*t + kx*d)``; its vector for group ``g`` is the
   concatenation over taps ``ky*kw + kx`` (row-major, the order of PACK-4) of that pixel's ``Kg``
   words of group ``g``: ``kh*kw*Kg`` words, matched word for word with a weight row.
   ``Ho = floor((H + 2p - d*(kh - 1) - 1)/t) + 1`` (CONV-2); ``ERROR_IF Ho < 1`` or ``Wo < 1``
   (:class:`~boolnet_spec.reference.errors.ShapeError`).

.. req:: LB-3

   Capacity. To emit one output row the buffer holds ``d*(kh - 1) + 1`` padded input rows of
   ``W + 2p`` pixels of ``G*Kg`` words: ``line_buffer_bits = 64 * (d*(kh-1) + 1) * (W + 2p) * G *
   Kg``. Every input word enters the buffer once; each window word read from it is a buffer read.
"""

from __future__ import annotations

import numpy as np

from boolnet_spec.equivalence.datapath.layout import WORD, WORD_BITS, used_mask
from boolnet_spec.reference.errors import DomainError, ShapeError, error_if

__all__ = ["MODES", "pad_pixels", "output_size", "windows", "line_buffer_bits"]

MODES = ("replicate", "one", "none")


def _check(padding: int, mode: str, name: str) -> None:
    error_if(mode not in MODES, DomainError, f"{name}.pad_mode",
             "one of replicate, one, none", repr(mode), "LB-1")
    error_if(not isinstance(padding, (int, np.integer)) or isinstance(padding, bool)
             or padding < 0, DomainError, f"{name}.padding", "an integer p >= 0",
             repr(padding), "LB-1")
    error_if(mode == "none" and padding != 0, DomainError, f"{name}.padding",
             "p = 0 for pad_mode none", padding, "LB-1")


def pad_pixels(vectors: np.ndarray, padding: int, mode: str, channels: int,
               name: str = "conv") -> np.ndarray:
    """Pad packed pixels ``[N, H, W, G, Kg]`` of ``channels`` bits per group (LB-1)."""
    _check(padding, mode, name)
    if padding == 0:
        return vectors
    widths = [(0, 0), (padding, padding), (padding, padding), (0, 0), (0, 0)]
    if mode == "replicate":
        return np.pad(vectors, widths, mode="edge")
    n, h, w, g, k = vectors.shape
    out = np.empty((n, h + 2 * padding, w + 2 * padding, g, k), WORD)
    out[...] = used_mask(channels)
    out[:, padding:padding + h, padding:padding + w] = vectors
    return out


def output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """CONV-2 for one axis (LB-2)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def windows(padded: np.ndarray, kernel: tuple[int, int], stride: int, dilation: int,
            out_size: tuple[int, int]) -> np.ndarray:
    """The window vectors ``[kh*kw*Kg, N*Ho*Wo, G]`` of padded pixels ``[N, Hp, Wp, G, Kg]``
    (LB-2): word ``t*Kg + k`` of an output pixel's vector is word ``k`` of tap ``t``."""
    n, _, _, groups, k = padded.shape
    kh, kw = kernel
    out_h, out_w = out_size
    error_if(out_h < 1 or out_w < 1, ShapeError, "conv output", "Ho >= 1 and Wo >= 1",
             f"Ho = {out_h}, Wo = {out_w}", "LB-2")
    out = np.empty((kh * kw * k, n * out_h * out_w, groups), WORD)
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dilation, kx * dilation
            tap = padded[:, y0:y0 + stride * (out_h - 1) + 1:stride,
                         x0:x0 + stride * (out_w - 1) + 1:stride]
            t = ky * kw + kx
            out[t * k:(t + 1) * k] = tap.transpose(4, 0, 1, 2, 3).reshape(k, -1, groups)
    return out


def line_buffer_bits(width: int, kernel: int, padding: int, dilation: int, groups: int,
                     words: int) -> int:
    """LB-3: the bits a line buffer holds to emit one output row."""
    return WORD_BITS * (dilation * (kernel - 1) + 1) * (width + 2 * padding) * groups * words
