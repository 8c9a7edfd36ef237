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
   ``[N, K]``.

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
    pooled = z.mean(axis=(2, 3))
    return pooled @ weight.astype(np.float64).T + bias.astype(np.float64)
