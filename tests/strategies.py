"""Named Hypothesis strategies for the BoolNet reference: bits, float32 parameters, layer shapes."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from boolnet_spec.reference.batchnorm import BatchNorm


def bit_arrays(shape) -> st.SearchStrategy[np.ndarray]:
    """uint8 arrays of ``shape`` holding 0 and 1."""
    return hnp.arrays(np.uint8, shape, elements=st.integers(0, 1))


def float32s(min_value: float | None = None, max_value: float | None = None,
             **kwargs) -> st.SearchStrategy[np.float32]:
    """Finite float32 values (subnormals and both zeros included)."""
    return st.floats(min_value, max_value, width=32, allow_nan=False, allow_infinity=False,
                     **kwargs).map(np.float32)


def wide_float32s() -> st.SearchStrategy[np.float32]:
    """Finite float32 values spread over many binades: tiny, ordinary and huge magnitudes."""
    mantissa = st.floats(0.5, 1.0, width=32, exclude_max=True)
    return st.builds(lambda sign, m, e: np.float32(sign * np.ldexp(m, e)),
                     st.sampled_from([-1.0, 1.0]), mantissa, st.integers(-60, 60))


def gammas() -> st.SearchStrategy[np.float32]:
    """BatchNorm weights: positive, negative, both zeros, tiny and huge."""
    return st.one_of(st.sampled_from([np.float32(0.0), np.float32(-0.0)]), float32s(-4.0, 4.0),
                     wide_float32s())


def variances() -> st.SearchStrategy[np.float32]:
    """Running variances from subnormal to huge (with the default eps they keep var + eps > 0)."""
    return st.one_of(float32s(0.0, 10.0), wide_float32s().map(abs),
                     st.sampled_from([np.float32(0.0), np.float32(1.4e-45)]))


@st.composite
def batchnorms(draw, channels: int | st.SearchStrategy[int] = st.integers(1, 4),  # noqa: B008
               eps: st.SearchStrategy[float] | None = None) -> BatchNorm:
    """Eval-mode BatchNorm parameters, including negative and zero gammas."""
    if not isinstance(channels, int):
        channels = draw(channels)
    column = lambda strategy: np.array([draw(strategy) for _ in range(channels)], np.float32)  # noqa: E731
    eps_value = draw(eps if eps is not None else st.sampled_from([1e-5, 1e-3, 0.0, 2.0**-40]))
    var = column(variances())
    if eps_value == 0.0:
        var = np.where(var > 0, var, np.float32(1.0)).astype(np.float32)
    return BatchNorm(column(gammas()), column(float32s(-8.0, 8.0) | wide_float32s()),
                     column(float32s(-64.0, 64.0) | wide_float32s()), var, eps_value)


def random_batchnorm(rng: np.random.Generator, channels: int) -> BatchNorm:
    """Eval-mode BN parameters with gammas of both signs."""
    gamma = rng.uniform(0.25, 2.0, channels) * rng.choice([-1.0, 1.0], channels)
    column = lambda values: np.asarray(values, np.float32)  # noqa: E731
    return BatchNorm(column(gamma), column(rng.uniform(-1, 1, channels)),
                     column(rng.uniform(-1, 1, channels)), column(rng.uniform(0.1, 2.0, channels)),
                     1e-5)


@dataclass(frozen=True)
class ConvConfig:
    batch: int
    cin: int
    cout: int
    groups: int
    kernel: tuple[int, int]
    stride: int
    dilation: int
    padding: int
    pad_mode: str
    height: int
    width: int

    @property
    def n(self) -> int:
        return self.cin // self.groups * self.kernel[0] * self.kernel[1]


@st.composite
def conv_configs(draw, max_channels: int = 6, max_size: int = 7) -> ConvConfig:
    """Small binary-conv configurations with a valid output size (CONV-2)."""
    groups = draw(st.integers(1, 3))
    cin = groups * draw(st.integers(1, max(1, max_channels // groups)))
    cout = groups * draw(st.integers(1, max(1, max_channels // groups)))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = draw(st.integers(1, 3))
    dilation = draw(st.integers(1, 2))
    pad_mode = draw(st.sampled_from(["replicate", "one", "none"]))
    padding = 0 if pad_mode == "none" else draw(st.integers(0, 2))
    reach = [dilation * (k - 1) + 1 - 2 * padding for k in kernel]
    height = draw(st.integers(max(1, reach[0]), max(1, reach[0]) + max_size))
    width = draw(st.integers(max(1, reach[1]), max(1, reach[1]) + max_size))
    return ConvConfig(draw(st.integers(1, 2)), cin, cout, groups, kernel, stride, dilation,
                      padding, pad_mode, height, width)


# The authors' offsets for 1, 2 and 4 slices (SLICE-1), computed here from their formula.
AUTHORS_OFFSETS = tuple(
    np.array([1.0 / (k + 1) * i for i in [*range(-k, 0), *range(1, k + 1)]] or [0.0], np.float32)
    for k in (0, 1, 2))


def slice_offset_sets() -> st.SearchStrategy[np.ndarray]:
    """Slice offsets [S]: the authors' 1-, 2- and 4-slice offsets, or 1 to 4 arbitrary float32s."""
    arbitrary = st.lists(float32s(-2.0, 2.0), min_size=1, max_size=4)
    return st.one_of(st.sampled_from(AUTHORS_OFFSETS),
                     arbitrary.map(lambda values: np.array(values, np.float32)))


def weight_scales() -> st.SearchStrategy[np.float32]:
    """Positive float32 weight scales alpha: 1, ordinary, tiny and huge."""
    return st.one_of(st.just(np.float32(1.0)), float32s(2.0**-20, 64.0),
                     wide_float32s().map(abs))


def conv_biases() -> st.SearchStrategy[np.float32]:
    """Conv biases b: the usual 0 (no bias), ordinary and wide float32 values."""
    return st.one_of(st.just(np.float32(0.0)), float32s(-8.0, 8.0), wide_float32s())


def fold_variances() -> st.SearchStrategy[np.float32]:
    """Running variances including the extremes a fold must survive: subnormal, 1e30, near max."""
    return st.one_of(variances(), st.sampled_from(
        [np.float32(1e30), np.float32(3.0e38), np.float32(2.0**-149), np.float32(2.0**-130)]))


@dataclass(frozen=True)
class FoldCase:
    bn: BatchNorm
    n: int
    alpha: np.ndarray
    bias: np.ndarray
    offsets: np.ndarray


def _float32_or_none(value: float) -> np.float32 | None:
    return np.float32(value) if abs(value) < 3.0e38 else None


@st.composite
def fold_cases(draw, max_n: int = 40) -> FoldCase:
    """Folding inputs; most channels place the root of y near a point of [-n-3, n+3]."""
    n = draw(st.integers(1, max_n))
    eps = draw(st.sampled_from([1e-5, 1e-3, 0.0, 2.0**-40]))
    offsets = draw(slice_offset_sets())
    rows = []
    for _ in range(draw(st.integers(1, 3))):
        gamma, var = draw(gammas()), draw(fold_variances())
        alpha, bias = draw(weight_scales()), draw(conv_biases())
        if eps == 0.0 and var == 0:
            var = np.float32(1.0)
        beta, mean = draw(float32s(-8.0, 8.0) | wide_float32s()), None
        placement = draw(st.sampled_from(["free", "root", "root and slope", "root and slope"]))
        if placement != "free":
            # mean = alpha*t + b + beta*sigma/gamma puts the root of y_0 (offset 0) at about t
            t = draw(st.floats(-n - 3.0, n + 3.0))
            beta = draw(float32s(-2.0, 2.0))
            sigma = float(np.sqrt(np.float64(var) + eps))
            if placement == "root and slope":
                # a slope gamma*alpha/sigma of order one keeps every slice's root near t
                slope = draw(st.sampled_from([1.0, -1.0])) * draw(st.floats(0.05, 20.0))
                gamma = _float32_or_none(slope * sigma / float(alpha)) or gamma
            lean = float(beta) * sigma / float(gamma) if gamma != 0 else 0.0
            mean = _float32_or_none(float(alpha) * t + float(bias) + lean)
        if mean is None:
            mean = draw(float32s(-64.0, 64.0) | wide_float32s())
        rows.append((gamma, beta, mean, var, alpha, bias))
    gamma, beta, mean, var, alpha, bias = (np.array(column, np.float32)
                                           for column in zip(*rows, strict=True))
    return FoldCase(BatchNorm(gamma, beta, mean, var, eps), n, alpha, bias, offsets)


# (var, eps, sigma) with var a float32, eps a binary64 and var + eps = sigma**2 exactly.
SQUARE_VARIANCES = ((0.25, 0.0, 0.5), (0.25 - 2.0**-20, 2.0**-20, 0.5), (6.25, 0.0, 2.5),
                    (16.0, 0.0, 4.0), (1.5625, 0.0, 1.25), (2.0**-6, 0.0, 0.125),
                    (1.0 - 2.0**-10, 2.0**-10, 1.0))


@st.composite
def tied_folds(draw) -> tuple[FoldCase, int]:
    """One-channel folds whose y_0(s0) is exactly 0 at a chosen s0 in D_n; returns (case, s0).

    The tie comes either from ``mean = alpha*s0 + b`` with ``beta = -o_0``, or through sigma:
    ``var + eps`` is the square of a dyadic and ``beta + o_0 = -gamma*d/sigma`` exactly.
    """
    n = draw(st.integers(1, 40))
    s0 = draw(st.sampled_from(range(-n, n + 1, 2)))
    through_sigma = draw(st.booleans())
    offset = draw(st.sampled_from([0.0, 0.5, -0.25] if through_sigma else
                                  [0.0, 0.5, -0.25, float(np.float32(1 / 3)),
                                   float(np.float32(-2 / 3))]))
    alpha = draw(st.sampled_from([1.0, 0.5, 0.75, 3.0, 2.0**-10, 1.25]))
    bias = draw(st.sampled_from([0.0, 0.5, -1.25, 3.0]))
    gamma = draw(st.sampled_from([1.0, 0.5, 3.0, 1.5, 2.0**-20, 96.0])) * draw(
        st.sampled_from([1.0, -1.0]))
    var, eps, sigma = draw(st.sampled_from(SQUARE_VARIANCES))
    d = draw(st.sampled_from([1.0, -2.0, 0.5, 3.0, -0.75])) if through_sigma else 0.0
    mean = Fraction(alpha) * s0 + Fraction(bias) - Fraction(d)
    beta = -Fraction(gamma) * Fraction(d) / Fraction(sigma) - Fraction(offset)
    exact32 = lambda q: Fraction(float(np.float32(float(q)))) == q  # noqa: E731
    assume(exact32(mean) and exact32(beta))
    extra = draw(st.lists(float32s(-1.0, 1.0), max_size=2))
    column = lambda value: np.array([float(value)], np.float32)  # noqa: E731
    bn = BatchNorm(column(gamma), column(beta), column(mean), column(var), eps)
    return FoldCase(bn, n, column(alpha), column(bias),
                    np.array([offset, *extra], np.float32)), s0
