"""Head: the real-valued path of the last block and the classifier.

The last block of ``layer4`` does not binarize its output. All head arithmetic is binary64 on the
float32 parameters; sums (average pool, linear layer) are in an implementation-defined order.

.. req:: HEAD-1

   Real path of the last block: with ``s2[N, C, H, W]`` the accumulators of its second conv, whose
   weight scale is ``alpha2[C]`` (WB-2), and ``x[N, S, C, H, W]`` the input bits of the head node
   (the XNOR output: all ``S`` slices, also where CONV-4 has the conv read fewer),
   ``z = BN2(alpha2 * s2) + BN3(mean_j a(x[:, j]))`` (BN-3), with ``a`` the +-1 value (ENC-1) and
   the mean over the ``S`` slices. ``alpha2 * s2`` and the sum over slices are exact in binary64;
   the mean is that sum divided by ``S``, correctly rounded (exact for ``S`` a power of two).

.. req:: HEAD-2

   ``PReLU`` with float32 slopes ``a[C]``: ``z`` where ``z >= 0``, ``a[c] * z`` elsewhere.

.. req:: HEAD-3

   Global average pooling over ``H x W``, then the linear layer
   ``logits = pooled @ W.T + b`` with ``W[K, C]``, ``b[K]`` float32. The logits are binary64
   ``[N, K]``. The order of both sums is implementation-defined. ``pooled[n, c]`` is the sum of
   the ``m = H*W`` values ``z[n, c, :, :]`` divided by ``m``; an evaluation may differ from their
   exact mean by up to ``e[n, c] = gamma(m) * mean(|z[n, c, :, :]|) + 2**-1074`` (``gamma`` as in
   STEM-2; the last term for a quotient that underflows). ``logits[n, k]`` is the sum of the
   ``C`` rounded products ``pooled[n, c] * W[k, c]`` and ``b[k]``; an evaluation may differ from
   the exact ``sum_c pooled[n, c] * W[k, c] + b[k]`` on its own ``pooled`` values by up to
   ``gamma(C + 1) * (sum_c |pooled[n, c] * W[k, c]| + |b[k]|) + C * 2**-1074``, and so from the
   exact logits of ``z`` by that plus ``sum_c |W[k, c]| * e[n, c]``; two conforming evaluations
   differ by at most the sum of their two bounds.
   The reference evaluates each image on its own, in one fixed order of correctly rounded
   binary64 operations: ``pooled[n, c]`` is ``0`` plus ``z[n, c, h, w]`` in row-major ``(h, w)``
   order, then divided by ``m``; ``logits[n, k]`` is ``0`` plus ``pooled[n, c] * W[k, c]`` for
   ``c = 0, 1, ..., C - 1``, then plus ``b[k]``. An image's logits therefore do not depend on the
   batch it is in, on the thread count or on a BLAS.

.. req:: HEAD-4

   ``ERROR_IF`` a parameter is not a finite float32 array of its shape
   (:class:`~boolnet_spec.reference.errors.DTypeError`,
   :class:`~boolnet_spec.reference.errors.ShapeError`,
   :class:`~boolnet_spec.reference.errors.NonFiniteError`), or ``s2`` is not int16 of the shape of
   one slice of
   ``x``.
"""

from __future__ import annotations

import numpy as np

from boolnet_spec.reference.accumulator import ACC_DTYPE
from boolnet_spec.reference.batchnorm import BatchNorm, check_float32
from boolnet_spec.reference.encoding import to_pm1
from boolnet_spec.reference.errors import DTypeError, ShapeError, error_if

__all__ = ["last_block_real", "prelu", "classifier"]


def last_block_real(s2: np.ndarray, alpha2: np.ndarray, bn2: BatchNorm, x: np.ndarray,
                    bn3: BatchNorm) -> np.ndarray:
    """``z = BN2(alpha2 * s2) + BN3(mean over slices of x)`` in binary64 (HEAD-1)."""
    error_if(s2.dtype != ACC_DTYPE, DTypeError, "s2", "dtype int16", s2.dtype, "HEAD-4")
    error_if(x.ndim != 5 or s2.shape != x.shape[:1] + x.shape[2:], ShapeError, "s2",
             f"the shape of one slice of x {list(x.shape[:1] + x.shape[2:])}", list(s2.shape),
             "HEAD-4")
    alpha2 = check_float32(alpha2, "conv2 alpha", (s2.shape[1],), "HEAD-4")
    conv = s2.astype(np.float64) * alpha2.astype(np.float64)[None, :, None, None]
    mean = to_pm1(x, "x").astype(np.float64).mean(axis=1)
    return bn2(conv) + bn3(mean)


def prelu(z: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """PReLU over axis 1 (HEAD-2)."""
    slope = check_float32(slope, "prelu2.weight", (z.shape[1],), "HEAD-4")
    a = slope.astype(np.float64).reshape((1, -1) + (1,) * (z.ndim - 2))
    return np.where(z >= 0, z, a * z)


def classifier(z: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Global average pool over ``H x W``, then ``pooled @ W.T + b`` (HEAD-3)."""
    error_if(z.ndim != 4, ShapeError, "head input", "rank 4 [N, C, H, W]", list(z.shape), "HEAD-4")
    weight = np.asarray(weight)
    error_if(weight.ndim != 2, ShapeError, "fc.weight", f"shape [K, {z.shape[1]}]",
             list(weight.shape), "HEAD-4")
    weight = check_float32(weight, "fc.weight", (weight.shape[0], z.shape[1]), "HEAD-4")
    bias = check_float32(bias, "fc.bias", (weight.shape[0],), "HEAD-4")
    return linear(average_pool(z), fc_columns(weight), bias)


def average_pool(z: np.ndarray) -> np.ndarray:
    """HEAD-3's pooling in the reference's order: per ``(n, c)``, ``0`` plus the values in
    row-major ``(h, w)`` order, then divided by ``H*W``; ``[N, C]``."""
    batch, channels, height, width = z.shape
    planes = z.reshape(batch, channels, height * width)
    total = np.zeros((batch, channels))
    for position in range(height * width):
        total += planes[:, :, position]
    return total / (height * width)


def fc_columns(weight: np.ndarray) -> np.ndarray:
    """The linear layer's weight as :func:`linear` reads it: binary64 ``W.T``, ``[C, K]``,
    each row contiguous."""
    return np.ascontiguousarray(np.asarray(weight).T, dtype=np.float64)


def linear(pooled: np.ndarray, columns: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """HEAD-3's linear layer in the reference's order: ``0`` plus ``pooled[n, c] * W[k, c]`` for
    ``c = 0, 1, ...``, then plus ``b[k]``; ``[N, K]``, with ``columns`` from :func:`fc_columns`.

    Only elementwise operations: each image's logits are the same however the batch is split.
    One thread: a loop of small operations on several threads waits on Python's lock."""
    logits = np.zeros((pooled.shape[0], columns.shape[1]))
    product = np.empty_like(logits)
    for channel, column in enumerate(columns):
        logits += np.multiply(pooled[:, channel, None], column, out=product)
    logits += np.asarray(bias).astype(np.float64)
    return logits
