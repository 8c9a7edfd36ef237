"""Encoding: bits, the +-1 values they stand for, and the sign function.

BoolNet's feature maps and weights are Boolean. The authors' code carries them as float tensors
holding -1.0 and +1.0; the specification carries them as bits.

.. req:: ENC-1

   A bit tensor has dtype ``uint8`` and holds only 0 and 1. Bit 1 stands for +1 and for ``True``;
   bit 0 stands for -1 and for ``False``. The +-1 value of a bit ``b`` is ``2*b - 1``.

.. req:: ENC-2

   ``sign(y) = +1`` for ``y >= 0`` and ``-1`` for ``y < 0``. Both zeros are non-negative:
   ``sign(+0) = sign(-0) = +1``. As a bit, ``sign(y) = [y >= 0]``.

.. req:: ENC-3

   ``ERROR_IF`` the argument of ``sign`` is NaN
   (:class:`~boolnet_spec.reference.errors.NonFiniteError`).
   Infinities are ordered values: ``sign(+inf) = +1``, ``sign(-inf) = -1``.

.. req:: ENC-4

   Deviation from the authors' code, which uses ``torch.sign`` and so maps an exact 0 to 0, a third
   value that then propagates through XNOR and OR. A ternary value is never a valid activation:
   converting a +-1 tensor that holds 0 (or anything but -1 and +1) to bits is ``ERROR_IF``
   (:class:`~boolnet_spec.reference.errors.NonBinaryError`).

.. req:: ENC-5

   ``ERROR_IF`` a bit tensor has a dtype other than ``uint8``
   (:class:`~boolnet_spec.reference.errors.DTypeError`) or holds a value other than 0 and 1
   (:class:`~boolnet_spec.reference.errors.NonBinaryError`).

Evaluation. Inside a network forward pass (NET-7) every bit tensor an op reads was written by
another op of this reference, whose own requirements make it a bit tensor; there,
:func:`check_bits` checks the dtype only (:func:`ops_own_bits`), not every value again.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numpy as np

from boolnet_spec.reference.errors import (
    DTypeError,
    NonBinaryError,
    NonFiniteError,
    describe,
    error_if,
)

__all__ = ["BIT_DTYPE", "check_bits", "ops_own_bits", "to_pm1", "from_pm1", "sign_bit"]

#: The dtype of every bit tensor (ENC-1).
BIT_DTYPE = np.dtype(np.uint8)


_own = threading.local()


@contextlib.contextmanager
def ops_own_bits() -> Iterator[None]:
    """On this thread, bit tensors are the outputs of this reference's ops (see the evaluation
    note): :func:`check_bits` checks their dtype only."""
    before = getattr(_own, "active", False)
    _own.active = True
    try:
        yield
    finally:
        _own.active = before


def check_bits(bits: np.ndarray, name: str) -> np.ndarray:
    """Return ``bits`` after checking that it is a bit tensor (ENC-5)."""
    bits = np.asarray(bits)
    error_if(bits.dtype != BIT_DTYPE, DTypeError, name, "dtype uint8 holding bits",
             bits.dtype, "ENC-5")
    if bits.size and not getattr(_own, "active", False) and bits.max() > 1:
        error_if(True, NonBinaryError, name, "bits in {0, 1}", lambda: describe(bits, bits > 1),
                 "ENC-5")
    return bits


def to_pm1(bits: np.ndarray, name: str = "bits") -> np.ndarray:
    """The +-1 values (``int8``) of a bit tensor (ENC-1)."""
    bits = check_bits(bits, name)
    return bits.astype(np.int8) * np.int8(2) - np.int8(1)


def from_pm1(values: np.ndarray, name: str = "values") -> np.ndarray:
    """The bits of a tensor of -1 and +1 values; 0 and every other value are errors (ENC-4)."""
    values = np.asarray(values)
    bad = (values != 1) & (values != -1)
    if bad.any():
        zero = values[tuple(np.argwhere(bad)[0])] == 0
        bound = "values in {-1, +1} (the ternary 0 of torch.sign is not an activation)" if zero \
            else "values in {-1, +1}"
        error_if(True, NonBinaryError, name, bound, lambda: describe(values, bad), "ENC-4")
    return (values == 1).astype(BIT_DTYPE)


def sign_bit(y: np.ndarray, name: str = "y") -> np.ndarray:
    """``[y >= 0]`` as bits, so sign(+0) = sign(-0) = +1 (ENC-2); NaN is an error (ENC-3)."""
    y = np.asarray(y)
    nan = np.isnan(y)
    error_if(bool(nan.any()), NonFiniteError, name, "no NaN in the argument of sign",
             lambda: describe(y, nan), "ENC-3")
    return (y >= 0).astype(BIT_DTYPE)
