"""Max pooling: on bits, before a folded BatchNorm-sign, and on real values in the stem.

.. req:: POOL-1

   Binary max pooling with a ``k x k`` window and stride ``t``, no padding, floor mode:
   ``Ho = floor((H - k) / t) + 1``. The maximum of +-1 values is +1 when any of them is, so on bits
   it is the OR over the window. The window runs over the last two axes (``H``, ``W``); every
   leading axis (``[N, S, C]`` in a network) is pooled independently. ``ERROR_IF H < k or W < k``
   or ``k``, ``t`` are below 1
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

from boolnet_spec.reference.accumulator import ACC_DTYPE
from boolnet_spec.reference.encoding import check_bits
from boolnet_spec.reference.errors import DomainError, DTypeError, ShapeError, error_if
from boolnet_spec.reference.threshold import ThresholdUnits, threshold_slices

__all__ = ["binary_maxpool", "threshold_maxpool", "real_maxpool"]


def _reduce_axis(x: np.ndarray, axis: int, kernel: int, stride: int, padding: int,
                 reduce) -> np.ndarray:
    """``reduce`` over the ``kernel`` taps of each window along one axis; output ``i`` reads input
    ``i*stride + tap - padding`` for the taps that lie inside the input (padding never wins)."""
    size = x.shape[axis]
    count = (size + 2 * padding - kernel) // stride + 1

    def along(start: int, stop: int, step: int = 1) -> tuple:
        return (slice(None),) * axis + (slice(start, stop, step),)

    spans = {}  # tap -> the outputs [first, last] whose window holds it inside the input
    for tap in range(kernel):
        first = max(0, -((tap - padding) // stride))               # ceil((padding - tap) / stride)
        last = min(count - 1, (size - 1 - tap + padding) // stride)
        if first <= last:
            spans[tap] = (first, last)

    def taps(tap: int) -> np.ndarray:
        first, last = spans[tap]
        return x[along(first * stride + tap - padding, last * stride + tap - padding + 1, stride)]

    full = [tap for tap, span in spans.items() if span == (0, count - 1)]
    if len(full) >= 2:  # the first two taps that cover every output, in one pass
        out = reduce(taps(full[0]), taps(full[1]))
    elif full:
        out = taps(full[0]).copy()
    else:
        shape = list(x.shape)
        shape[axis] = count
        out = np.full(shape, -np.inf if reduce is np.maximum else np.inf, x.dtype)
    for tap, (first, last) in spans.items():
        if tap not in full[:2]:
            window = out[along(first, last + 1)]
            reduce(window, taps(tap), out=window)
    return out


def _window_reduce(x: np.ndarray, kernel: int, stride: int, reduce, label: str,
                   padding: int = 0, shape: list[int] | None = None) -> np.ndarray:
    """``reduce`` (``np.maximum`` or ``np.minimum``) over each ``k x k`` window of the last two
    axes: first along each row, then down the columns (the reduction is associative). Positions
    beyond the input (``padding``) take no part; ``shape`` is the tensor an error reports."""
    for value, what in ((kernel, "kernel"), (stride, "stride")):
        error_if(not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1,
                 DomainError, f"maxpool {what}", "an integer >= 1", repr(value), label)
    padded = list(x.shape[:-2]) + [size + 2 * padding for size in x.shape[-2:]]
    error_if(x.ndim < 2 or min(padded[-2:]) < kernel, ShapeError, "maxpool input",
             f"[..., H, W] with H, W >= kernel = {kernel}",
             shape if shape is not None else padded, label)
    rows = _reduce_axis(x, x.ndim - 1, kernel, stride, padding, reduce)
    return _reduce_axis(rows, x.ndim - 2, kernel, stride, padding, reduce)


def binary_maxpool(x: np.ndarray, kernel: int, stride: int, name: str = "x") -> np.ndarray:
    """OR over each window of a bit tensor (POOL-1)."""
    x = check_bits(x, name)
    return _window_reduce(x, kernel, stride, np.maximum, "POOL-1")


def threshold_maxpool(s: np.ndarray, units: ThresholdUnits, kernel: int,
                      stride: int, out: np.ndarray | None = None) -> np.ndarray:
    """``bits[N, S, C, Ho, Wo]`` of ``sign(BN(maxpool(alpha * s + b)) + o_j)`` (POOL-2).

    Evaluated as POOL-2 states it: each unit applied to the window's ``max(s)``; over the window
    this is the OR (polarity 1) or the AND (polarity 0) of the per-position bits. ``out`` as in
    :func:`~boolnet_spec.reference.threshold.threshold_slices`."""
    error_if(np.asarray(s).dtype != ACC_DTYPE, DTypeError, "s", "dtype int16", np.asarray(s).dtype,
             "THR-5")
    error_if(s.ndim != 4 or s.shape[1] != units.channels, ShapeError, "s",
             f"shape [N, {units.channels}, H, W]", s.shape, "THR-5")
    high = _window_reduce(s, kernel, stride, np.maximum, "POOL-2",
                          shape=[s.shape[0], units.slices, *s.shape[1:]])
    return threshold_slices(high, units, out)


def real_maxpool(x: np.ndarray, kernel: int, stride: int, padding: int) -> np.ndarray:
    """Max over each window of the real tensor ``x[..., H, W]``, padding acting as -inf (POOL-3)."""
    error_if(not isinstance(padding, (int, np.integer)) or isinstance(padding, bool)
             or not 0 <= padding <= kernel // 2, DomainError, "maxpool padding",
             f"0 <= padding <= kernel // 2 = {kernel // 2}", repr(padding), "POOL-3")
    error_if(not np.issubdtype(np.asarray(x).dtype, np.floating), DTypeError, "maxpool input",
             "a float tensor", np.asarray(x).dtype, "POOL-3")
    return _window_reduce(x, kernel, stride, np.maximum, "POOL-3", padding)
