"""Slices: the multi-slice quantizer (the authors' ``GhostSign``) and its offsets.

A real feature ``x`` becomes ``S`` bits, one per offset: slice ``j`` is ``sign(x + o_j)``. With
ordered offsets the bits form a thermometer code of ``x``.

.. req:: SLICE-1

   Offsets for ``S`` slices, as the authors' code computes them: ``S = 1`` gives the single offset
   ``0``; for even ``S`` with ``k = S/2`` the offsets are ``fl32(fl64(1/(k + 1)) * i)`` for
   ``i = -k, ..., -1, 1, ..., k`` in this order, where ``fl64(1/(k + 1))`` is the binary64 quotient
   and the product is rounded to binary64, then to float32. For ``S = 4``:
   ``fl32(-2/3), fl32(-1/3), fl32(1/3), fl32(2/3)``. (The paper writes ``+-2n/k``; the code's values
   are normative.) ``ERROR_IF S < 1`` or ``S`` is odd and above 1
   (:class:`~boolnet_spec.reference.errors.DomainError`).

.. req:: SLICE-2

   The quantizer on a real tensor ``z[N, C, H, W]`` (float32 or float64) with float32 offsets
   ``o[S]`` returns bits ``out[N, S, C, H, W]`` with ``out[:, j] = [z + o_j >= 0]`` decided on the
   exact values (the sum is never rounded): ``[z >= -o_j]``. Any ``z[N, ...]`` of rank at least 1
   gives ``out[N, S, ...]``. ``ERROR_IF z`` holds NaN (ENC-3), is not a float tensor
   (:class:`~boolnet_spec.reference.errors.DTypeError`) or has rank 0, or ``o`` is not a non-empty
   float32
   vector (:class:`~boolnet_spec.reference.errors.ShapeError`).

.. req:: SLICE-3

   The authors' float32 quantizer computes ``sign(fl32(y + o_j))``. Rounding to nearest never
   changes the sign of a nonzero sum and gives 0 only for an exact 0, so for a float32 input ``y``
   it decides ``[y + o_j >= 0]`` exactly like SLICE-2, apart from ``torch.sign(0) = 0`` (ENC-4).
"""

from __future__ import annotations

import numpy as np

from boolnet_spec.reference.batchnorm import check_float32
from boolnet_spec.reference.encoding import BIT_DTYPE
from boolnet_spec.reference.errors import (
    DomainError,
    DTypeError,
    NonFiniteError,
    ShapeError,
    describe,
    error_if,
)

__all__ = ["slice_offsets", "slice_quantize"]


def slice_offsets(slices: int) -> np.ndarray:
    """The float32 offsets of ``slices`` slices (SLICE-1)."""
    error_if(not isinstance(slices, (int, np.integer)) or slices < 1
             or (slices > 1 and slices % 2 == 1), DomainError, "slices",
             "S = 1 or an even S >= 2", repr(slices), "SLICE-1")
    if slices == 1:
        return np.zeros(1, np.float32)
    k = slices // 2
    step = 1.0 / float(k + 1)
    return np.array([step * i for i in [*range(-k, 0), *range(1, k + 1)]], dtype=np.float32)


def slice_quantize(z: np.ndarray, offsets: np.ndarray, name: str = "z") -> np.ndarray:
    """``bits[N, S, C, H, W]`` with slice ``j`` equal to ``[z + o_j >= 0]`` (SLICE-2)."""
    z = np.asarray(z)
    error_if(z.dtype not in (np.float32, np.float64), DTypeError, name, "dtype float32 or float64",
             z.dtype, "SLICE-2")
    nan = np.isnan(z)
    error_if(bool(nan.any()), NonFiniteError, name, "no NaN in the argument of sign",
             lambda: describe(z, nan), "ENC-3")
    error_if(z.ndim < 1, ShapeError, name, "rank >= 1 [N, ...]", list(z.shape), "SLICE-2")
    offsets = np.asarray(offsets)
    error_if(offsets.ndim != 1 or offsets.shape[0] < 1, ShapeError, "slice offsets",
             "shape [S] with S >= 1", list(offsets.shape), "SLICE-2")
    offsets = check_float32(offsets, "slice offsets", offsets.shape, "SLICE-2")
    bounds = -offsets.astype(np.float64)  # exact negation of a float32
    shape = (1, len(offsets)) + (1,) * (z.ndim - 1)
    bits = np.asarray(z, np.float64)[:, None] >= bounds.reshape(shape)
    return bits.view(BIT_DTYPE)  # True and False are stored as the bytes 1 and 0
