"""Max pooling (reference.maxpool): OR on bits, pooling before a folded BN-sign, real pooling."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from extras import F, needs_torch, torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from naive import ops as naive
from naive.ops import spec_message
from strategies import batchnorms, bit_arrays, float32s

from boolnet_spec.reference.batchnorm import BatchNorm
from boolnet_spec.reference.errors import DomainError, DTypeError, NonBinaryError, ShapeError
from boolnet_spec.reference.fold import fold_bn_sign
from boolnet_spec.reference.maxpool import binary_maxpool, real_maxpool, threshold_maxpool
from boolnet_spec.reference.slices import slice_offsets
from boolnet_spec.reference.threshold import GE, ThresholdUnits, canonical_unit


@st.composite
def pool_windows(draw):
    """A kernel k in 1..3, a stride in 1..3 and a spatial size (H, W) with k <= H, W <= k + 4."""
    kernel, stride = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return kernel, stride, tuple(draw(st.integers(kernel, kernel + 4)) for _ in range(2))


@st.composite
def bit_pool_cases(draw):
    """Bits [N, C, H, W] with a pooling window that fits."""
    kernel, stride, size = draw(pool_windows())
    return draw(bit_arrays((draw(st.integers(1, 2)), draw(st.integers(1, 3)), *size))), \
        kernel, stride


@pytest.mark.req("POOL-1")
@given(bit_pool_cases())
def test_binary_maxpool_is_the_or_over_each_window(case):
    x, kernel, stride = case
    out = binary_maxpool(x, kernel, stride)
    assert out.dtype == np.uint8
    assert out.shape[-2:] == tuple((size - kernel) // stride + 1 for size in x.shape[-2:])
    assert np.array_equal(out, naive.binary_maxpool(x, kernel, stride))


@needs_torch
@pytest.mark.req("POOL-1")
@given(bit_pool_cases())
def test_binary_maxpool_equals_torch_max_pool_on_pm1(case):
    x, kernel, stride = case
    pm1 = torch.from_numpy(x.astype(np.float32) * 2 - 1)
    authors = F.max_pool2d(pm1, kernel, stride).numpy()
    assert np.array_equal(binary_maxpool(x, kernel, stride), (authors == 1).astype(np.uint8))


@st.composite
def canonical_units(draw, n: int, slices: int, channels: int) -> ThresholdUnits:
    """Random canonical units [S, C] for n: either polarity, thresholds in and around D_n."""
    polarity = np.zeros((slices, channels), np.uint8)
    threshold = np.zeros((slices, channels), np.int16)
    for j in range(slices):
        for c in range(channels):
            polarity[j, c], threshold[j, c] = canonical_unit(
                draw(st.sampled_from([0, 1])), draw(st.integers(-n - 2, n + 3)), n)
    return ThresholdUnits(polarity, threshold, n)


@st.composite
def accumulators(draw, n: int, shape) -> np.ndarray:
    """int16 accumulators of ``shape`` in D_n."""
    return draw(hnp.arrays(np.int16, shape, elements=st.integers(0, n).map(lambda i: 2 * i - n)))


@st.composite
def threshold_pool_cases(draw):
    """Accumulators [N, C, H, W] in D_n, canonical units [S, C] and a pooling window."""
    n, slices, channels = draw(st.integers(1, 12)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    kernel, stride, size = draw(pool_windows())
    s = draw(accumulators(n, (draw(st.integers(1, 2)), channels, *size)))
    return s, draw(canonical_units(n, slices, channels)), kernel, stride


def unit_bit(polarity: int, threshold: int, s: int) -> int:
    """THR-1 read literally."""
    return int(s >= threshold) if polarity == GE else int(s <= threshold)


@pytest.mark.req("POOL-2", "THR-5")
@given(threshold_pool_cases())
def test_threshold_maxpool_applies_the_unit_to_the_window_max(case):
    s, units, kernel, stride = case
    out = threshold_maxpool(s, units, kernel, stride)
    batch, channels = s.shape[:2]
    out_h, out_w = ((size - kernel) // stride + 1 for size in s.shape[2:])
    assert out.dtype == np.uint8
    assert out.shape == (batch, units.slices, channels, out_h, out_w)
    for b, j, c, y, x in np.ndindex(out.shape):
        window = [int(v) for v in naive.window_values(s, (b, c), y, x, kernel, stride)]
        polarity, threshold = int(units.polarity[j, c]), int(units.threshold[j, c])
        bits = [unit_bit(polarity, threshold, v) for v in window]
        assert out[b, j, c, y, x] == unit_bit(polarity, threshold, max(window))
        # Polarity 1: OR of the per-position bits; polarity 0 (negative slope): their AND.
        assert out[b, j, c, y, x] == (max(bits) if polarity == GE else min(bits))


@st.composite
def centred_batchnorms(draw, n: int, alpha: np.ndarray, bias: np.ndarray) -> BatchNorm:
    """BN parameters whose real root of ``y`` (offset 0) lies at a random point of [-n-1, n+1]."""
    gamma = np.array([draw(float32s(0.25, 4.0)) * draw(st.sampled_from([-1, 1]))
                      for _ in alpha], np.float32)
    beta = np.array([draw(float32s(-1.0, 1.0)) for _ in alpha], np.float32)
    var = np.array([draw(float32s(2.0**-7, 4.0)) for _ in alpha], np.float32)
    sigma = np.sqrt(var.astype(np.float64) + 1e-5)
    roots = np.array([draw(st.floats(-n - 1.0, n + 1.0)) for _ in alpha])
    # y(t) = 0 at t = root when mean = alpha*root + bias + beta*sigma/gamma.
    mean = (alpha * roots + bias + beta * sigma / gamma).astype(np.float32)
    return BatchNorm(gamma, beta, mean, var, 1e-5)


@st.composite
def folded_pool_cases(draw):
    """Real BN parameters, alpha > 0, a conv bias, the authors' offsets, accumulators in D_n."""
    n, channels = draw(st.integers(1, 16)), draw(st.integers(1, 2))
    alpha = np.array([draw(float32s(2.0**-12, 8.0)) for _ in range(channels)], np.float32)
    bias = np.array([draw(float32s(-4.0, 4.0)) for _ in range(channels)], np.float32)
    bn = draw(batchnorms(channels=channels) | centred_batchnorms(n, alpha, bias))
    offsets = slice_offsets(draw(st.sampled_from([1, 2, 4])))
    kernel, stride, size = draw(pool_windows())
    s = draw(accumulators(n, (1, channels, *size)))
    return bn, n, alpha, bias, offsets, s, kernel, stride


@pytest.mark.req("POOL-2", "FOLD-8")
@given(folded_pool_cases())
def test_threshold_maxpool_equals_pooling_the_real_conv_output_before_bn(case):
    bn, n, alpha, bias, offsets, s, kernel, stride = case
    out = threshold_maxpool(s, fold_bn_sign(bn, n, alpha, bias, offsets), kernel, stride)
    params = (bn.gamma, bn.beta, bn.mean, bn.var)
    for b, j, c, y, x in np.ndindex(out.shape):
        # The authors pool alpha*s + b (alpha > 0) before BN; here on exact values.
        pooled = max(Fraction(float(alpha[c])) * int(v) + Fraction(float(bias[c]))
                     for v in naive.window_values(s, (b, c), y, x, kernel, stride))
        expected = naive.bn_sign_bit(pooled, *(p[c] for p in params), bn.eps, offsets[j])
        assert out[b, j, c, y, x] == expected


@st.composite
def real_pool_cases(draw):
    """Float64 maps [N, C, H, W], all negative on request, pooled with padding <= k // 2."""
    kernel, stride, size = draw(pool_windows())
    padding = draw(st.integers(0, kernel // 2))
    negative = draw(st.booleans())
    values = st.floats(-1e6, -1e-300) if negative else st.floats(-1e6, 1e6)
    x = draw(hnp.arrays(np.float64, (draw(st.integers(1, 2)), draw(st.integers(1, 2)), *size),
                        elements=values))
    return x, kernel, stride, padding


@needs_torch
@pytest.mark.req("POOL-3")
@given(real_pool_cases())
def test_real_maxpool_equals_loops_and_torch(case):
    x, kernel, stride, padding = case
    out = real_maxpool(x, kernel, stride, padding)
    authors = F.max_pool2d(torch.from_numpy(x), kernel, stride, padding).numpy()
    assert out.dtype == np.float64
    assert out.shape == authors.shape
    assert np.array_equal(out, naive.real_maxpool(x, kernel, stride, padding))
    assert np.array_equal(out, authors)


@needs_torch
@pytest.mark.req("POOL-3", "STEM-3")
def test_padding_never_wins_over_negative_values():
    x = -np.arange(1.0, 26.0).reshape(1, 1, 5, 5)
    out = real_maxpool(x, 3, 2, 1)
    assert np.array_equal(out, [[[[-1.0, -2.0, -4.0], [-6.0, -7.0, -9.0],
                                  [-16.0, -17.0, -19.0]]]])
    assert np.array_equal(out, F.max_pool2d(torch.from_numpy(x), 3, 2, 1).numpy())


@pytest.mark.req("POOL-1", "ERR-1")
@pytest.mark.parametrize(("kernel", "stride", "what", "value"), [
    (0, 1, "kernel", "0"), (-1, 1, "kernel", "-1"), (2, 0, "stride", "0"),
    (2.0, 1, "kernel", "2.0"), (2, None, "stride", "None")])
def test_pool_sizes_below_one_are_rejected(kernel, stride, what, value):
    with pytest.raises(DomainError, match=spec_message(
            f"maxpool {what}", "an integer >= 1", value, "POOL-1")):
        binary_maxpool(np.zeros((1, 1, 4, 4), np.uint8), kernel, stride)


@pytest.mark.req("POOL-1", "ERR-1")
@pytest.mark.parametrize("shape", [(1, 1, 1, 4), (1, 1, 4, 1), (2,)])
def test_maps_smaller_than_the_window_are_rejected(shape):
    with pytest.raises(ShapeError, match=spec_message(
            "maxpool input", "[..., H, W] with H, W >= kernel = 2", str(list(shape)), "POOL-1")):
        binary_maxpool(np.zeros(shape, np.uint8), 2, 2)


@pytest.mark.req("POOL-1", "ENC-5", "ERR-1")
def test_binary_maxpool_needs_bits():
    with pytest.raises(DTypeError, match=spec_message("x", "dtype uint8", "float32", "ENC-5")):
        binary_maxpool(np.ones((1, 1, 2, 2), np.float32), 2, 2)
    with pytest.raises(NonBinaryError, match=spec_message(
            "x", "bits in {0, 1}", "2 at index [0, 0, 1, 1]", "ENC-5")):
        binary_maxpool(np.array([[[[0, 1], [1, 2]]]], np.uint8), 2, 2)


UNITS = ThresholdUnits(np.ones((1, 2), np.uint8), np.zeros((1, 2), np.int16), 4)


@pytest.mark.req("POOL-2", "THR-5", "ERR-1")
def test_threshold_maxpool_needs_int16_accumulators():
    with pytest.raises(DTypeError, match=spec_message("s", "dtype int16", "int32", "THR-5")):
        threshold_maxpool(np.zeros((1, 2, 2, 2), np.int32), UNITS, 2, 2)


@pytest.mark.req("POOL-2", "ERR-1")
def test_threshold_maxpool_window_must_fit():
    with pytest.raises(ShapeError, match=spec_message(
            "maxpool input", "H, W >= kernel = 3", "[1, 1, 2, 2, 5]", "POOL-2")):
        threshold_maxpool(np.zeros((1, 2, 2, 5), np.int16), UNITS, 3, 1)


@pytest.mark.req("POOL-3", "ERR-1")
@pytest.mark.parametrize(("kernel", "padding"), [(3, 2), (2, 2), (1, 1), (3, -1), (3, 1.0)])
def test_real_padding_beyond_half_the_window_is_rejected(kernel, padding):
    with pytest.raises(DomainError, match=spec_message(
            "maxpool padding", f"0 <= padding <= kernel // 2 = {kernel // 2}", repr(padding),
            "POOL-3")):
        real_maxpool(np.zeros((1, 1, 5, 5)), kernel, 1, padding)
