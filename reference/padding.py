"""Padding: how a binary convolution extends a bit feature map beyond its edges.

The authors pad with ``torch.nn.ReplicationPad2d`` before a convolution with padding 0, so padded
taps are copies of edge pixels and stay +-1. Zero padding, the default of most frameworks, has no
bit: 0 is neither +1 nor -1.

.. req:: PAD-1

   ``replicate`` (the authors' mode): ``out[..., i, j] = x[..., clamp(i - p, 0, H - 1),
   clamp(j - p, 0, W - 1)]`` for ``0 <= i < H + 2p``, ``0 <= j < W + 2p``.

.. req:: PAD-2

   ``one``: the ``p`` rows and columns added on each side are bit 1 (+1), as in engines that pad
   binary convolutions with +1.

.. req:: PAD-3

   ``none``: no padding; ``ERROR_IF p != 0``. ``ERROR_IF`` the mode is none of ``replicate``,
   ``one``, ``none`` (zero padding is not expressible on bits) or ``p < 0``
   (:class:`~boolnet_spec.reference.errors.DomainError`).
"""

from __future__ import annotations

import numpy as np

from boolnet_spec.reference.encoding import check_bits
from boolnet_spec.reference.errors import DomainError, ShapeError, error_if

__all__ = ["PAD_MODES", "pad_bits", "fill_padded", "check_padding"]

#: The padding modes of PAD-1 to PAD-3.
PAD_MODES = ("replicate", "one", "none")


def check_padding(padding: int, mode: str) -> None:
    """PAD-3."""
    error_if(mode not in PAD_MODES, DomainError, "pad_mode",
             "one of replicate, one, none (zero padding has no bit)", repr(mode), "PAD-3")
    error_if(not isinstance(padding, (int, np.integer)) or padding < 0, DomainError, "padding",
             "an integer p >= 0", repr(padding), "PAD-3")
    error_if(mode == "none" and padding != 0, DomainError, "padding", "p = 0 for pad_mode none",
             padding, "PAD-3")


def pad_bits(x: np.ndarray, padding: int, mode: str, name: str = "x",
             out: np.ndarray | None = None) -> np.ndarray:
    """Pad the last two axes of a bit tensor by ``padding`` on every side (PAD-1 to PAD-3).

    ``out`` (optional) receives the result, in its own dtype (a consumer's float buffer)."""
    check_padding(padding, mode)
    x = check_bits(x, name)
    error_if(x.ndim < 2 or min(x.shape[-2:]) < 1, ShapeError, name,
             "rank >= 2 [..., H, W] with H, W >= 1", list(x.shape), "PAD-1")
    if out is None:
        if padding == 0:
            return x
        out = np.empty((*x.shape[:-2], x.shape[-2] + 2 * padding, x.shape[-1] + 2 * padding),
                       x.dtype)
    fill_padded(x, padding, mode, out)
    return out


def fill_padded(x: np.ndarray, padding: int, mode: str, out: np.ndarray) -> None:
    """``out[..., H + 2p, W + 2p]`` = PAD-1 or PAD-2 of the bits ``x``, whose checks (those of
    :func:`pad_bits`) the caller has made; ``out`` may be a consumer's float buffer."""
    p, (height, width) = padding, x.shape[-2:]
    out[..., p:p + height, p:p + width] = x
    if mode == "replicate":
        out[..., p:p + height, :p] = x[..., :, :1]
        out[..., p:p + height, p + width:] = x[..., :, width - 1:]
        out[..., :p, :] = out[..., p:p + 1, :]
        out[..., p + height:, :] = out[..., p + height - 1:p + height, :]
    else:
        out[..., :p, :] = 1
        out[..., p + height:, :] = 1
        out[..., :, :p] = 1
        out[..., :, p + width:] = 1
