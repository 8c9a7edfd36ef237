"""Channels: slice flattening, the feature-reuse split and the channel shuffle.

Binary activations travel as ``[N, S, C, H, W]``: ``S`` slices of ``C`` channels.

.. req:: CHAN-1

   Flattening: ``flatten_slices(x)[N, S*C, H, W]`` holds slice ``j``, channel ``c`` at channel
   index ``j*C + c`` (the authors' ``x.view(N, -1, H, W)``).

.. req:: CHAN-2

   Feature-reuse split: ``split_channels(x) = (x[:, :, :C/2], x[:, :, C/2:])`` along the channel
   axis of every slice. ``ERROR_IF C`` is odd (:class:`~boolnet_spec.reference.errors.ShapeError`).

.. req:: CHAN-3

   Channel shuffle: ``shuffle_channels(z1, z2)`` with ``z1``, ``z2`` of one shape
   ``[N, S, C, H, W]`` returns ``out[N, S, 2C, H, W]`` with ``out[:, :, 2c] = z1[:, :, c]`` and
   ``out[:, :, 2c + 1] = z2[:, :, c]`` (concatenation on a new axis, transpose, flatten).
   ``ERROR_IF`` the shapes differ or are not rank 5
   (:class:`~boolnet_spec.reference.errors.ShapeError`).
"""

from __future__ import annotations

import numpy as np

from boolnet_spec.reference.encoding import check_bits
from boolnet_spec.reference.errors import ShapeError, error_if

__all__ = ["flatten_slices", "split_channels", "shuffle_channels"]


def _check_rank5(x: np.ndarray, name: str, label: str) -> np.ndarray:
    x = check_bits(x, name)
    error_if(x.ndim != 5, ShapeError, name, "rank 5 [N, S, C, H, W]", list(x.shape), label)
    return x


def flatten_slices(x: np.ndarray, name: str = "x") -> np.ndarray:
    """``[N, S, C, H, W] -> [N, S*C, H, W]``, slice-major (CHAN-1)."""
    x = _check_rank5(x, name, "CHAN-1")
    batch, slices, channels, height, width = x.shape
    return x.reshape(batch, slices * channels, height, width)


def split_channels(x: np.ndarray, name: str = "x") -> tuple[np.ndarray, np.ndarray]:
    """The two channel halves of every slice (CHAN-2)."""
    x = _check_rank5(x, name, "CHAN-2")
    channels = x.shape[2]
    error_if(channels % 2 != 0, ShapeError, name, "an even channel count C", channels, "CHAN-2")
    return x[:, :, :channels // 2], x[:, :, channels // 2:]


def shuffle_channels(z1: np.ndarray, z2: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Interleave ``z1`` and ``z2``: channel ``2c`` from ``z1``, ``2c + 1`` from ``z2`` (CHAN-3);
    ``out`` (optional) a contiguous uint8 array ``[N, S, 2C, H, W]``."""
    z1 = _check_rank5(z1, "z1", "CHAN-3")
    z2 = _check_rank5(z2, "z2", "CHAN-3")
    error_if(z1.shape != z2.shape, ShapeError, "z2", f"the shape of z1 {list(z1.shape)}",
             list(z2.shape), "CHAN-3")
    batch, slices, channels, height, width = z1.shape
    if out is None:
        return np.stack([z1, z2], axis=3).reshape(batch, slices, 2 * channels, height, width)
    shape = (batch, slices, 2 * channels, height, width)
    error_if(out.shape != shape or not out.flags.c_contiguous, ShapeError, "shuffle out",
             f"a contiguous array {list(shape)}", list(out.shape), "CHAN-3")
    pairs = out.reshape(batch, slices, channels, 2, height, width)
    pairs[:, :, :, 0] = z1
    pairs[:, :, :, 1] = z2
    return out
