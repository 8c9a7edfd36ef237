"""Max pooling: on bits, before a folded BatchNorm-sign, and on real values in the stem.

.. req:: POOL-1

   Binary max pooling with a ``k x k`` window and stride ``t``, no padding, floor mode:
   ``Ho = floor((H - k) / t) + 1``. The maximum of +-1 values is +1 when any of them is, so on bits
   it is the OR over the window. ``ERROR_IF H < k or W < k`` or ``k``, ``t`` are below 1
   (:class:`~boolnet_spec.reference.errors.ShapeError`,
   :class:`~boolnet_spec.reference.errors.DomainError`).

.. req:: POOL-2

   Max pooling before BatchNorm-sign (the authors' downsample branch pools the real conv output
   ``alpha * s + b`` before BatchNorm). Because ``alpha > 0`` the pooled value is
   ``alpha * max(s) + b``, so with the folded unit ``(polarity, t)`` of the branch the output bit is
   ``[max(s) >= t]`` = the OR over the window of the per-position bits when ``polarity = 1``, and
   ``[max(s) <= t]`` = the AND over the window of the per-position bits when ``polarity = 0``
   (a negative slope turns the max into a min). Constant units give their constant.

.. req:: POOL-3

   Real max pooling (the stem's ``MaxPool2d(3, 2, padding=1)``): the window's maximum over the
   positions that lie inside the input; padded positions never win (they act as ``-inf``);
   ``Ho = floor((H + 2p - k) / t) + 1``. ``ERROR_IF`` the input is not a float tensor
   (:class:`~boolnet_spec.reference.errors.DTypeError`) or ``p`` is not an integer with
   ``0 <= p <= k // 2``
   (:class:`~boolnet_spec.reference.errors.DomainError`), as in ``torch.nn.MaxPool2d``.
"""

from __future__ import annotations

import numpy as np

from boolnet_spec.reference.encoding import check_bits
from boolnet_spec.reference.errors import DomainError, DTypeError, ShapeError, error_if
from boolnet_spec.reference.threshold import GE, ThresholdUnits, threshold_slices

__all__ = ["binary_maxpool", "threshold_maxpool", "real_maxpool"]


def _window_reduce(x: np.ndarray, kernel: int, stride: int, reduce, label: str) -> np.ndarray:
    """``reduce`` (``np.maximum`` or ``np.minimum``) over each ``k x k`` window of the last two
    axes: first along each row, then down the columns (the reduction is associative)."""
    for value, what in ((kernel, "kernel"), (stride, "stride")):
        error_if(not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1,
                 DomainError, f"maxpool {what}", "an integer >= 1", repr(value), label)
    error_if(x.ndim < 2 or x.shape[-2] < kernel or x.shape[-1] < kernel, ShapeError,
             "maxpool input", f"[..., H, W] with H, W >= kernel = {kernel}", list(x.shape), label)
    out_h = (x.shape[-2] - kernel) // stride + 1
    out_w = (x.shape[-1] - kernel) // stride + 1
    rows = x[..., 0:stride * (out_w - 1) + 1:stride].copy()
    for kx in range(1, kernel):
        reduce(rows, x[..., kx:kx + stride * (out_w - 1) + 1:stride], out=rows)
    out = rows[..., 0:stride * (out_h - 1) + 1:stride, :].copy()
    for ky in range(1, kernel):
        reduce(out, rows[..., ky:ky + stride * (out_h - 1) + 1:stride, :], out=out)
    return out


def binary_maxpool(x: np.ndarray, kernel: int, stride: int, name: str = "x") -> np.ndarray:
    """OR over each window of a bit tensor (POOL-1)."""
    x = check_bits(x, name)
    return _window_reduce(x, kernel, stride, np.maximum, "POOL-1")


def threshold_maxpool(s: np.ndarray, units: ThresholdUnits, kernel: int,
                      stride: int) -> np.ndarray:
    """``bits[N, S, C, Ho, Wo]`` of ``sign(BN(maxpool(alpha * s + b)) + o_j)`` (POOL-2)."""
    bits = threshold_slices(s, units)
    any_bit = _window_reduce(bits, kernel, stride, np.maximum, "POOL-2")
    all_bit = _window_reduce(bits, kernel, stride, np.minimum, "POOL-2")
    increasing = (units.polarity == GE)[None, :, :, None, None]
    return np.where(increasing, any_bit, all_bit)


def real_maxpool(x: np.ndarray, kernel: int, stride: int, padding: int) -> np.ndarray:
    """Max over each window of the real tensor ``x[..., H, W]``, padding acting as -inf (POOL-3)."""
    error_if(not isinstance(padding, (int, np.integer)) or isinstance(padding, bool)
             or not 0 <= padding <= kernel // 2, DomainError, "maxpool padding",
             f"0 <= padding <= kernel // 2 = {kernel // 2}", repr(padding), "POOL-3")
    error_if(not np.issubdtype(np.asarray(x).dtype, np.floating), DTypeError, "maxpool input",
             "a float tensor", np.asarray(x).dtype, "POOL-3")
    widths = [(0, 0)] * (x.ndim - 2) + [(padding, padding)] * 2
    padded = np.pad(x, widths, mode="constant", constant_values=-np.inf)
    return _window_reduce(padded, kernel, stride, np.maximum, "POOL-3")
