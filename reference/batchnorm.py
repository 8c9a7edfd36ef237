"""BatchNorm: ``torch.nn.BatchNorm2d`` in eval mode, its parameters and their validation.

.. req:: BN-1

   With running statistics ``mean`` and ``var``, affine parameters ``gamma`` (``weight``) and
   ``beta`` (``bias``), all float32 of shape ``[C]``, and ``eps`` a binary64 number (default
   ``1e-5``), BatchNorm maps channel ``c`` of ``x`` to
   ``y = (x - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c]``. ``gamma`` may be negative or
   zero. Where this specification folds BatchNorm into integer thresholds (FOLD), ``y`` is the exact
   real value of this formula on the exact values of the parameters (EXACT-1).

.. req:: BN-2

   ``ERROR_IF`` a parameter is not a float32 array of shape ``[C]``
   (:class:`~boolnet_spec.reference.errors.DTypeError`,
   :class:`~boolnet_spec.reference.errors.ShapeError`), holds NaN or an
   infinity, or ``eps`` is not finite (:class:`~boolnet_spec.reference.errors.NonFiniteError`), or
   ``var[c] + eps <= 0`` for some ``c``, decided exactly
   (:class:`~boolnet_spec.reference.errors.DomainError`).

.. req:: BN-3

   On the real-valued boundary (stem and head) BatchNorm is evaluated in binary64 on the float32
   parameters, in this order: ``d = var + eps``, ``r = sqrt(d)``, ``y = ((x - mean) / r) * gamma +
   beta``, each operation rounded to nearest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from boolnet_spec.reference.errors import (
    DomainError,
    DTypeError,
    NonFiniteError,
    ShapeError,
    describe,
    error_if,
)

__all__ = ["BatchNorm", "check_float32", "DEFAULT_EPS"]

#: ``torch.nn.BatchNorm2d``'s default ``eps``, the authors' value.
DEFAULT_EPS = 1e-5
#: The bytes of the channels one step of an evaluation works on (they stay in the core's cache).
_BLOCK_BYTES = 1 << 18


def check_float32(value: np.ndarray, name: str, shape: tuple[int, ...], label: str) -> np.ndarray:
    """Check that ``value`` is a finite float32 array of ``shape``."""
    value = np.asarray(value)
    error_if(value.dtype != np.float32, DTypeError, name, "dtype float32", value.dtype, label)
    error_if(value.shape != shape, ShapeError, name, f"shape {list(shape)}", list(value.shape),
             label)
    bad = ~np.isfinite(value)
    error_if(bool(bad.any()), NonFiniteError, name, "finite values",
             lambda: describe(value, bad), label)
    return value


@dataclass(frozen=True)
class BatchNorm:
    """Eval-mode BatchNorm parameters of ``C`` channels, validated on construction (BN-2)."""

    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    eps: float = DEFAULT_EPS
    name: str = "bn"

    def __post_init__(self):
        gamma = np.asarray(self.gamma)
        error_if(gamma.ndim != 1, ShapeError, f"{self.name}.weight", "shape [C]",
                 list(gamma.shape), "BN-2")
        shape = gamma.shape
        for field, key in (("gamma", "weight"), ("beta", "bias"), ("mean", "running_mean"),
                           ("var", "running_var")):
            check_float32(getattr(self, field), f"{self.name}.{key}", shape, "BN-2")
        error_if(not isinstance(self.eps, (float, int)) or isinstance(self.eps, bool), DTypeError,
                 f"{self.name}.eps", "a binary64 number (float or int)", type(self.eps).__name__,
                 "BN-2")
        error_if(not math.isfinite(self.eps), NonFiniteError, f"{self.name}.eps",
                 "a finite binary64 number", self.eps, "BN-2")
        eps = Fraction(float(self.eps))
        bad = np.array([Fraction(float(v)) + eps <= 0 for v in self.var], dtype=bool)
        error_if(bool(bad.any()), DomainError, f"{self.name}.running_var",
                 f"running_var + eps > 0 (eps = {float(self.eps)!r})",
                 lambda: describe(self.var, bad), "BN-2")

    @property
    def channels(self) -> int:
        return self.gamma.shape[0]

    def select(self, channels: slice) -> BatchNorm:
        """The BatchNorm of some channels, as it is: unchecked again (each channel's map is its
        own, and the whole was checked when it was made)."""
        subset = object.__new__(BatchNorm)
        for key in ("gamma", "beta", "mean", "var"):
            object.__setattr__(subset, key, getattr(self, key)[channels])
        object.__setattr__(subset, "eps", self.eps)
        object.__setattr__(subset, "name", self.name)
        return subset

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """BN-3: binary64 evaluation over axis 1 of ``x`` (``[N, C, ...]``)."""
        error_if(x.ndim < 2 or x.shape[1] != self.channels, ShapeError, f"{self.name} input",
                 f"shape [N, {self.channels}, ...]", list(x.shape), "BN-3")
        expand = (slice(None),) + (None,) * (x.ndim - 2)
        root = np.sqrt(self.var.astype(np.float64) + np.float64(self.eps))[expand]
        mean, gamma, beta = (v.astype(np.float64)[expand]
                             for v in (self.mean, self.gamma, self.beta))
        y = np.empty(x.shape)
        # Each element's four rounded operations, a block of channels at a time (the block stays
        # in the core's cache between them).
        per_channel = max(1, math.prod(x.shape) // max(1, x.shape[1]))
        step = max(1, _BLOCK_BYTES // (8 * per_channel))
        for low in range(0, x.shape[1], step):
            block, part = slice(low, low + step), y[:, low:low + step]
            np.subtract(x[:, block], mean[block], out=part, dtype=np.float64)
            part /= root[block]
            part *= gamma[block]
            part += beta[block]
        return y
