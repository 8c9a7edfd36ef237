"""Logic shortcuts: XNOR and OR gates that replace the residual additions of a BNN.

.. req:: LOGIC-1

   ``logic_xnor(x, r) = [x == r]`` on bits. On +-1 values it is the product ``x * r``, the
   authors' ``XNOR``.

.. req:: LOGIC-2

   ``logic_or(x, r) = x | r`` on bits (+1 is ``True``). On +-1 values it is the authors'
   ``clamp((x + 1)/2 + (r + 1)/2, 0, 1) * 2 - 1``, and the paper's ``2*min(1, (x + r)/2 + 1) - 1``.

.. req:: LOGIC-3

   ``ERROR_IF`` the operands are not bit tensors (ENC-5) of one shape; there is no broadcasting
   (:class:`~boolnet_spec.reference.errors.ShapeError`). The authors' formulas on the ternary 0 of
   ``torch.sign`` (``XNOR(0, r) = 0``, ``OR(0, -1) = 0``, ``OR(0, +1) = +1``, ``OR(0, 0) = +1``)
   have no counterpart: a ternary value is never an activation (ENC-4).
"""

from __future__ import annotations

import numpy as np

from boolnet_spec.reference.encoding import BIT_DTYPE, check_bits
from boolnet_spec.reference.errors import ShapeError, error_if

__all__ = ["logic_xnor", "logic_or"]


def _operands(x: np.ndarray, r: np.ndarray, gate: str) -> tuple[np.ndarray, np.ndarray]:
    x = check_bits(x, f"{gate} x")
    r = check_bits(r, f"{gate} r")
    error_if(x.shape != r.shape, ShapeError, f"{gate} r", f"the shape of x {list(x.shape)}",
             list(r.shape), "LOGIC-3")
    return x, r


def logic_xnor(x: np.ndarray, r: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """XNOR of two bit tensors (LOGIC-1); ``out`` (optional) a uint8 array of their shape."""
    x, r = _operands(x, r, "xnor")
    out = np.empty(x.shape, BIT_DTYPE) if out is None else out
    np.equal(x, r, out=out.view(np.bool_))  # True and False are stored as the bytes 1 and 0
    return out


def logic_or(x: np.ndarray, r: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """OR of two bit tensors (LOGIC-2); ``out`` (optional) a uint8 array of their shape."""
    x, r = _operands(x, r, "or")
    return np.bitwise_or(x, r, out=out)
