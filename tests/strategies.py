"""Named Hypothesis strategies for the BoolNet reference: bits, float32 parameters, layer shapes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reference.batchnorm import BatchNorm


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
def batchnorms(draw, channels: int | st.SearchStrategy[int] = st.integers(1, 4),
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
