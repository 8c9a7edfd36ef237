"""Weight binarization: the bits of a binary convolution's weights and their scale ``alpha``.

In the authors' code a binary convolution (``BConv``, ``MultiBConv``) computes with the weight
``sign(W) * alpha[o]``, ``alpha[o] = mean(|W[o]|)``. At inference the positive scale is folded,
together with BatchNorm, into the threshold units (FOLD); only the bits remain in the datapath.

.. req:: WB-1

   The weight bit of a float32 weight ``W`` is ``sign(W)`` as a bit (ENC-2): 1 for ``W >= 0``.
   Deviation: the authors' ``torch.sign`` gives a zero weight for ``W = 0`` exactly; the
   specification gives +1.

.. req:: WB-2

   The scale of output channel ``o`` is the float32 nearest (ties to even, EXACT-1) to the exact
   mean of ``|W[o, i, y, x]|`` over its ``Cin * kh * kw`` entries. The authors' code evaluates the
   mean in float32 as nested means over the kernel axes, whose result may differ from this value by
   float32 rounding; the specification takes the correctly rounded value.
   "Nearest" is on float32's whole grid, subnormals included: a mean below ``2**-126`` rounds to a
   subnormal scale, and only a mean that rounds to 0 is the error of WB-3.

.. req:: WB-3

   ``ERROR_IF`` ``W`` is not a finite float32 array of rank 4
   (:class:`~boolnet_spec.reference.errors.DTypeError`,
   :class:`~boolnet_spec.reference.errors.ShapeError`,
   :class:`~boolnet_spec.reference.errors.NonFiniteError`), or a scale rounds to 0
   (:class:`~boolnet_spec.reference.errors.DomainError`): a folded threshold needs ``alpha > 0``.
"""

from __future__ import annotations

import numpy as np

from boolnet_spec.reference.batchnorm import check_float32
from boolnet_spec.reference.encoding import sign_bit
from boolnet_spec.reference.errors import DomainError, ShapeError, error_if
from boolnet_spec.reference.exact import exact_row_sums, round_to_float32

__all__ = ["weight_bits", "weight_scale"]


def _check_weight(weight: np.ndarray, name: str) -> np.ndarray:
    weight = np.asarray(weight)
    error_if(weight.ndim != 4, ShapeError, name, "rank 4 [Cout, Cin, kh, kw]", list(weight.shape),
             "WB-3")
    return check_float32(weight, name, weight.shape, "WB-3")


def weight_bits(weight: np.ndarray, name: str = "weight") -> np.ndarray:
    """The weight bits ``[W >= 0]`` (WB-1)."""
    return sign_bit(_check_weight(weight, name), name)


def weight_scale(weight: np.ndarray, name: str = "weight") -> np.ndarray:
    """``alpha[Cout]`` (float32): the correctly rounded mean of ``|W[o]|`` (WB-2)."""
    weight = _check_weight(weight, name)
    flat = np.abs(weight.reshape(weight.shape[0], -1))
    count = flat.shape[1]
    alpha = np.array([round_to_float32(total / count) for total in exact_row_sums(flat)],
                     dtype=np.float32)
    zero = alpha == 0
    error_if(bool(zero.any()), DomainError, f"{name} scale alpha",
             "alpha > 0 (a filter with a nonzero weight)",
             lambda: f"0 for output channel {int(np.argmax(zero))}", "WB-3")
    return alpha
