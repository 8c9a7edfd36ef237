"""Float32 error bounds: how far PyTorch's float evaluation can be from the exact pre-activation.

PyTorch evaluates a binary layer as ``sign(BN(conv(x, sign(W) * alpha_t)) + o_j)`` in float32.
The reference decides the same bit exactly (FOLD-2). Where the two disagree, the bounds below
tell whether float32 rounding can explain the disagreement. Notation: ``u = 2**-24`` (float32
unit roundoff), ``gamma_k = k*u / (1 - k*u)``; ``a = gamma / sqrt(var + eps)`` (BatchNorm's exact
slope); ``s`` the exact integer dot product of the layer's +-1 (or ternary 0) inputs and weight
signs. Every bound is evaluated in binary64 and then enlarged by the factor ``1 + 2**-30``, which
covers the rounding of its own evaluation.

.. req:: BOUND-1

   Convolution. Torch's binary convolution sums ``n`` exact products ``+-alpha_t`` (a +-1 input
   times a +-alpha_t weight is exact, fused or not), plus the bias ``b`` in the downsample branch.
   Whatever the summation order (any binary tree of additions: sequential, blocked, pairwise,
   fused multiply-adds), every term passes through at most ``m`` roundings, ``m = n - 1`` without
   bias and ``m = n`` with it: each addition is ``fl(x + y) = (x + y)(1 + d)``, ``|d| <= u`` (a
   float32 sum that underflows is exact, so no underflow term), and a term's factors multiply to
   ``1 + theta_m``, ``|theta_m| <= gamma_m``. The terms' magnitudes sum to at most
   ``n*alpha_t + |b|`` (a ternary 0 adds nothing), so the float32 output ``v`` satisfies
   ``|v - (alpha_t*s + b)| <= E = gamma_m * (n*alpha_t + |b|)``. The bound needs float32
   accumulation (no reduced-precision ``fp32_precision`` mode) and a summation algorithm:
   Winograd and FFT convolutions (NNPACK) are outside it, so the harness runs the model with
   NNPACK disabled. A 2x2 max pooling of such values lies within ``E`` of ``alpha_t*max(s) + b``,
   because the maximum is 1-Lipschitz in the largest deviation.

.. req:: BOUND-2

   Scale. Torch's ``alpha_t`` is the nested float32 mean of ``|W|``; the specification's ``alpha``
   is the correctly rounded mean (WB-2). Both are float32 numbers known per channel, so torch's
   exact convolution value differs from the specification's ``alpha*s + b`` by exactly
   ``|alpha_t - alpha| * |s|``, added to ``E``. The exact difference is used because it is a few
   ulps but no fixed number of them: a float32 mean over ``k`` nonnegative values is a sum (at
   most ``k - 1`` roundings per term) divided by ``k`` (one rounding; two for a product with a
   rounded ``1/k``), so the mean nested over axes of ``k_1``, ``k_2``, ``k_3`` values is
   ``alpha_t = mu(1 + theta_K)`` with ``K = k_1 + k_2 + k_3 + 3`` and ``mu`` the exact mean of
   ``|W|``. With WB-2's ``|alpha - mu| <= u*mu``, ``|alpha_t - alpha| <= (gamma_K + u)*mu + 3*eta``
   (``eta = 2**-149`` covers quotients that round into the subnormal range). A 20x3x3 filter
   (``K = 29``) has shown 3 ulps.

.. req:: BOUND-3

   BatchNorm. Torch's CPU kernel evaluates, per channel, ``A = fl(gamma * fl(1 / fl(sqrt(fl(var +
   fl32(eps))))))``, ``B = fl(beta - mean*A)`` and ``y = fl(x*A + B)``, where each ``mean*A`` and
   ``x*A`` may be fused with its addition or rounded separately (this build fuses both, other
   builds and paths need not). Counting roundings: ``A = a(1 + theta_5)`` (the float32 ``eps``,
   the sum, the square root, the reciprocal, the product; a root halves the relative error of its
   argument, counted here as a whole one); then ``y = x*a(1 + theta_7) - mean*a(1 + theta_8) +
   beta(1 + theta_2)`` unfused, one factor less in the first two terms fused. So
   ``|y - BN(x)| <= gamma_k * (|a*x| + |a*mean| + |beta|) + eta * (|x| + |mean| + 4)`` with
   ``k = 8``. The last term covers gradual underflow: a product or quotient that rounds into the
   subnormal range errs by up to ``2**-150`` absolutely, not relatively (a sum of floats that
   underflows is exact); ``eta = 2**-149``, and ``2**-1074`` in binary64. When ``var < 0`` the
   float32 ``eps`` perturbs ``var + eps`` by up to ``u * eps / (var + eps)`` relatively, and
   ``k = 7 + ceil(eps / (var + eps))``.

.. req:: BOUND-4

   A binary layer. Torch's bit of slice ``j`` is the sign of ``y + o_j`` with ``y`` its float32
   BatchNorm output (SLICE-3: the sum is rounded but its sign is exact). The specification's bit
   is the sign of ``y*_j(s) = a*(alpha*s + b - mean) + beta + o_j`` (FOLD-2). By BOUND-1 to
   BOUND-3, ``|y + o_j - y*_j(s)| <= B(s)`` with
   ``B(s) = |a|*(E + D) + gamma_k*(|a|*(|alpha*s + b| + E + D) + |a*mean| + |beta|)`` and
   ``D = |alpha_t - alpha|*|s|``. So the bits can differ only where ``|y*_j(s)| <= B(s)``.

.. req:: BOUND-5

   Real-valued paths (stem, head, logits) are bounded by running error analysis: each value
   carries a bound ``e`` on ``|torch - reference|``, propagated op by op. A float32 convolution or
   sum of ``m`` products adds ``gamma_m * sum|x*w|`` (``gamma_m`` of binary64 for the reference's
   own evaluation, STEM-2, HEAD-3); a BatchNorm adds BOUND-3 (and the same count in binary64,
   BN-3) plus ``|a| * e``; max pooling takes the window's largest ``e``; an addition adds ``u``
   (and the binary64 ``u``) of the magnitude of its result; a mean over ``m`` values adds
   ``gamma_m`` of the mean of the magnitudes; every product or quotient adds ``eta`` for
   underflow. Magnitudes are the reference's ``|value| + e``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

__all__ = ["U32", "U64", "ETA32", "ETA64", "gamma", "SAFETY", "conv_error", "bn_rounding_count",
           "BNParams", "layer_bound", "Running"]

U32 = 2.0 ** -24
U64 = 2.0 ** -53
ETA32 = 2.0 ** -149
ETA64 = 2.0 ** -1074
SAFETY = 1.0 + 2.0 ** -30


def gamma(k: int | np.ndarray, u: float = U32) -> np.ndarray:
    """``gamma_k = k*u / (1 - k*u)``, rounded up (the ``SAFETY`` factor covers binary64)."""
    k = np.asarray(k, dtype=np.float64)
    return k * u / (1.0 - k * u) * SAFETY


def conv_error(n: int, alpha_t: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """BOUND-1: ``E = gamma_m * (n*alpha_t + |b|)`` per output channel."""
    alpha_t = np.asarray(alpha_t, np.float64)
    if bias is None:
        return gamma(n - 1) * n * alpha_t * SAFETY
    return gamma(n) * (n * alpha_t + np.abs(np.asarray(bias, np.float64))) * SAFETY


def bn_rounding_count(var: np.ndarray, eps: float) -> np.ndarray:
    """BOUND-3's ``k`` per channel: 8, or ``7 + ceil(eps / (var + eps))`` when ``var < 0``."""
    var = np.asarray(var, np.float64)
    count = np.full(var.shape, 8, np.int64)
    for c in np.flatnonzero(var < 0):
        ratio = Fraction(float(eps)) / (Fraction(float(var[c])) + Fraction(float(eps)))
        count[c] = 7 + math.ceil(ratio)
    return count


class BNParams:
    """Float32 BatchNorm parameters with the binary64 magnitudes the bounds need."""

    def __init__(self, gamma_: np.ndarray, beta: np.ndarray, mean: np.ndarray, var: np.ndarray,
                 eps: float):
        self.gamma = np.asarray(gamma_, np.float32)
        self.beta = np.asarray(beta, np.float32)
        self.mean = np.asarray(mean, np.float32)
        self.var = np.asarray(var, np.float32)
        self.eps = float(eps)
        sigma = np.sqrt(self.var.astype(np.float64) + self.eps)
        # |a| rounded up: three binary64 roundings (sum, root, quotient) at most 4 ulps.
        self.slope = self.gamma.astype(np.float64) / sigma
        self.abs_slope = np.abs(self.slope) * (1 + 8 * U64)
        self.k = bn_rounding_count(self.var, self.eps)

    @classmethod
    def of(cls, module) -> BNParams:
        """The parameters of a ``torch.nn.BatchNorm2d``."""
        def numpy(tensor):
            return tensor.detach().cpu().numpy().astype(np.float32)
        return cls(numpy(module.weight), numpy(module.bias), numpy(module.running_mean),
                   numpy(module.running_var), module.eps)

    def rounding(self, magnitude: np.ndarray, axis: int = 1, u: float = U32) -> np.ndarray:
        """BOUND-3: ``gamma_k * (|a|*|x| + |a*mean| + |beta|)`` for ``|x| <= magnitude``, with
        channels on ``axis``."""
        shape = [1] * np.ndim(magnitude)
        shape[axis] = -1
        abs_slope = self.abs_slope.reshape(shape)
        abs_mean = np.abs(self.mean.astype(np.float64))
        constant = (self.abs_slope * abs_mean + np.abs(self.beta.astype(np.float64))) \
            .reshape(shape)
        eta = ETA32 if u == U32 else ETA64
        underflow = eta * (magnitude + (abs_mean + 4).reshape(shape))
        return (gamma(self.k, u).reshape(shape) * (abs_slope * magnitude + constant)
                + underflow) * SAFETY

    def exact_value(self, x: np.ndarray, axis: int = 1) -> np.ndarray:
        """A binary64 estimate of ``a*(x - mean) + beta`` (for margins; decisions are exact)."""
        shape = [1] * np.ndim(x)
        shape[axis] = -1
        return self.slope.reshape(shape) * (x - self.mean.astype(np.float64).reshape(shape)) \
            + self.beta.astype(np.float64).reshape(shape)


def layer_bound(bn: BNParams, s: np.ndarray, n: int, alpha: np.ndarray, alpha_t: np.ndarray,
                bias: np.ndarray | None, axis: int = 1,
                error: np.ndarray | None = None) -> np.ndarray:
    """BOUND-4: ``B(s)`` for accumulators ``s`` with channels on ``axis``; ``error`` replaces
    BOUND-1's ``E`` per channel when given."""
    shape = [1] * np.ndim(s)
    shape[axis] = -1
    s = np.asarray(s, np.float64)
    error = (conv_error(n, alpha_t, bias) if error is None else np.asarray(error)).reshape(shape)
    drift = np.abs(np.asarray(alpha_t, np.float64) - np.asarray(alpha, np.float64)).reshape(shape)
    shift = 0.0 if bias is None else np.asarray(bias, np.float64).reshape(shape)
    deviation = error + drift * np.abs(s)
    magnitude = np.abs(np.asarray(alpha, np.float64).reshape(shape) * s + shift) + deviation
    return (bn.abs_slope.reshape(shape) * deviation + bn.rounding(magnitude, axis)) * SAFETY


class Running:
    """A binary64 reference value ``r`` with a bound ``e`` on ``|torch - r|`` (BOUND-5)."""

    def __init__(self, value: np.ndarray, error: np.ndarray | float = 0.0):
        self.value = np.asarray(value, np.float64)
        self.error = np.broadcast_to(np.asarray(error, np.float64), self.value.shape).copy()

    @property
    def magnitude(self) -> np.ndarray:
        return np.abs(self.value) + self.error

    def batchnorm(self, bn: BNParams, reference_bn) -> Running:
        """Torch's float32 BN (BOUND-3) against the reference's binary64 BN-3 over axis 1."""
        value = reference_bn(self.value)
        shape = (1, -1) + (1,) * (self.value.ndim - 2)
        error = bn.abs_slope.reshape(shape) * self.error + bn.rounding(self.magnitude) \
            + bn.rounding(self.magnitude, u=U64)
        return Running(value, error * SAFETY)

    def add(self, other: Running) -> Running:
        value = self.value + other.value
        error = self.error + other.error
        return Running(value, (error + (U32 + U64) * (np.abs(value) + error)) * SAFETY)
