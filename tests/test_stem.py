"""The real-valued stem (reference.stem) against exact sums, torch float64 and the first bits."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from extras import F, needs_torch, torch
from hypothesis import given
from hypothesis import strategies as st
from naive import ops as naive
from naive.ops import U, batchnorm_gap, gamma_m, spec_message
from strategies import random_batchnorm

from boolnet_spec.reference.batchnorm import BatchNorm
from boolnet_spec.reference.errors import DTypeError, NonFiniteError, ShapeError
from boolnet_spec.reference.maxpool import real_maxpool
from boolnet_spec.reference.slices import slice_offsets
from boolnet_spec.reference.stem import basenet_stem, boolnet_stem, real_conv2d, stem_features


def scaled_normals(rng: np.random.Generator, shape, dtype=np.float32) -> np.ndarray:
    """Normal values times powers of two in [2**-6, 2**6], so sums round at many binades."""
    return (rng.standard_normal(shape) * 2.0 ** rng.integers(-6, 7, shape)).astype(dtype)


def torch_batchnorm(x: torch.Tensor, bn: BatchNorm) -> torch.Tensor:
    """``torch.nn.BatchNorm2d`` in eval mode, float64."""
    param = lambda value: torch.from_numpy(value.astype(np.float64))  # noqa: E731
    return F.batch_norm(x, param(bn.mean), param(bn.var), param(bn.gamma), param(bn.beta),
                        training=False, eps=bn.eps)


def gap(x_abs: np.ndarray, x_err: np.ndarray, bn: BatchNorm) -> np.ndarray:
    """``batchnorm_gap`` for a reference BatchNorm."""
    return batchnorm_gap(x_abs, x_err, bn.gamma, bn.beta, bn.mean, bn.var, bn.eps)


def conv_gap(x_abs: np.ndarray, x_err: np.ndarray, weight: np.ndarray, stride: int,
             padding: int, groups: int, exact_products: bool) -> np.ndarray:
    """Bound on the difference of two binary64 evaluations of a zero-padded convolution whose
    inputs differ by at most ``x_err``: each evaluation errs by at most gamma_{m-1} (exact
    products) or gamma_m times ``sum |x_i * w_i|`` (STEM-2), and ``x_err`` propagates through
    ``|w|``."""
    m = weight[0].size
    g = gamma_m(m - 1 if exact_products else m)
    conv = lambda x: F.conv2d(torch.from_numpy(x), torch.from_numpy(  # noqa: E731
        np.abs(weight.astype(np.float64))), None, stride, padding, 1, groups).numpy()
    # A float sum of non-negative terms underestimates the true sum by at most a factor 1 - g.
    return (2 * g * conv(x_abs + x_err) + conv(x_err)) / (1 - g)


@st.composite
def real_conv_cases(draw):
    """A small real convolution: x float32 or float64, weight float32, groups, stride, padding."""
    groups = draw(st.integers(1, 3))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride, padding = draw(st.integers(1, 2)), draw(st.integers(0, 2))
    size = [draw(st.integers(max(1, k - 2 * padding), max(1, k - 2 * padding) + 3))
            for k in kernel]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    x = scaled_normals(rng, (draw(st.integers(1, 2)), cin, *size), dtype)
    weight = scaled_normals(rng, (cout, cin // groups, *kernel))
    return x, weight, stride, padding, groups


@pytest.mark.req("STEM-2")
@given(real_conv_cases())
def test_real_conv2d_is_within_the_summation_bound_of_the_exact_sum(case):
    x, weight, stride, padding, groups = case
    out = real_conv2d(x, weight, stride, padding, groups)
    exact, magnitude = naive.real_conv2d_exact(x, weight, stride, padding, groups)
    assert out.dtype == np.float64
    assert out.shape == exact.shape
    # float32 x float32 products are exact in binary64; float64 x float32 ones round once more.
    m = weight[0].size
    bound = Fraction(gamma_m(m - 1 if x.dtype == np.float32 else m))
    for index in np.ndindex(out.shape):
        assert abs(Fraction(float(out[index])) - exact[index]) <= bound * magnitude[index]


@needs_torch
@pytest.mark.req("STEM-2")
@given(real_conv_cases())
def test_real_conv2d_agrees_with_torch_within_twice_the_summation_bound(case):
    x, weight, stride, padding, groups = case
    out = real_conv2d(x, weight, stride, padding, groups)
    authors = F.conv2d(torch.from_numpy(x.astype(np.float64)),
                       torch.from_numpy(weight.astype(np.float64)), None, stride, padding, 1,
                       groups).numpy()
    assert out.shape == authors.shape
    # Two evaluations can err in opposite directions: twice the one-evaluation bound.
    bound = conv_gap(np.abs(x.astype(np.float64)), np.zeros(x.shape), weight, stride, padding,
                     groups, x.dtype == np.float32)
    assert np.all(np.abs(out - authors) <= bound)


@st.composite
def stem_cases(draw):
    """A small image batch [N, 3, H, W], a 7x7 conv to C channels, and a generator for BNs."""
    channels = draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 2)), 3, draw(st.integers(1, 12)), draw(st.integers(1, 12)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    image = rng.uniform(-2.5, 2.5, shape).astype(np.float32)
    weight = scaled_normals(rng, (channels, 3, 7, 7)) / np.float32(16)
    return image, weight, rng, channels


def torch_features(image: np.ndarray, weight: np.ndarray, bn0: BatchNorm):
    """The authors' conv1 -> BatchNorm -> MaxPool2d(3, 2, 1) in float64, with the bound on its
    distance from ``stem_features`` and a bound on its magnitude."""
    x = torch.from_numpy(image.astype(np.float64))
    conv = F.conv2d(x, torch.from_numpy(weight.astype(np.float64)), None, 2, 3)
    normalised = torch_batchnorm(conv, bn0)
    conv_err = conv_gap(np.abs(image.astype(np.float64)), np.zeros(image.shape), weight, 2, 3, 1,
                        exact_products=True)
    bn_err = torch.from_numpy(gap(np.abs(conv.numpy()), conv_err, bn0))
    # |max(a) - max(b)| <= max|a - b|: the maxpool of the bound bounds the pooled difference.
    features = F.max_pool2d(normalised, 3, 2, 1).numpy()
    err = F.max_pool2d(bn_err, 3, 2, 1).numpy()
    size = F.max_pool2d(normalised.abs(), 3, 2, 1).numpy()
    return features, err, size


@pytest.mark.req("STEM-3", "BN-3", "POOL-3")
@given(stem_cases(), st.sampled_from([0.0, -0.0, None]))
def test_stem_features_pooled_before_batchnorm_equal_the_literal_composition(case, zero_gamma):
    # stem_features pools first (negated weights where gamma < 0); STEM-3 pools BN0's output.
    image, weight, rng, channels = case
    bn0 = random_batchnorm(rng, channels)
    if zero_gamma is not None:
        bn0 = BatchNorm(np.where(np.arange(channels) == 0, np.float32(zero_gamma), bn0.gamma)
                        .astype(np.float32), bn0.beta, bn0.mean, bn0.var, bn0.eps)
    # Image by image on both sides: the BLAS may order a sum differently for another batch size.
    literal = np.concatenate([real_maxpool(bn0(real_conv2d(one[None], weight, stride=2,
                                                           padding=3)), 3, 2, 1)
                              for one in image])
    assert np.array_equal(stem_features(image, weight, bn0), literal)


@needs_torch
@pytest.mark.req("STEM-1", "STEM-2", "STEM-3", "POOL-3", "BN-3")
@given(stem_cases())
def test_stem_features_equal_torch_conv_bn_maxpool(case):
    image, weight, rng, channels = case
    bn0 = random_batchnorm(rng, channels)
    features = stem_features(image, weight, bn0)
    expected, err, _ = torch_features(image, weight, bn0)
    assert features.dtype == np.float64
    assert features.shape == expected.shape
    assert np.all(np.abs(features - expected) <= err)


def assert_bits_match_where_decided(bits: np.ndarray, pre: np.ndarray, err: np.ndarray,
                                    offsets: np.ndarray) -> None:
    """``bits[N, S, C, H, W]`` equal torch's ``sign(pre + o_j)`` wherever ``pre + o_j`` is
    farther from 0 than ``err`` can move it; and that is nearly everywhere."""
    o = offsets.astype(np.float64).reshape(1, -1, 1, 1, 1)
    shifted = torch.from_numpy(pre).unsqueeze(1) + torch.from_numpy(o)
    signs = torch.sign(shifted).numpy()
    # Twice the bound: pre + o_j is itself rounded before it is compared.
    decided = np.abs(shifted.numpy()) > 2 * err[:, None]
    assert np.array_equal(bits[decided], (signs[decided] == 1).astype(np.uint8))
    assert decided.sum() >= 0.99 * decided.size


@needs_torch
@pytest.mark.req("STEM-3", "STEM-4", "SLICE-2")
@given(stem_cases(), st.sampled_from([1, 4]))
def test_basenet_stem_bits_equal_torch_ghostbnsign(case, slices):
    image, weight, rng, channels = case
    bn0, bn = random_batchnorm(rng, channels), random_batchnorm(rng, channels)
    offsets = slice_offsets(slices)
    bits = basenet_stem(stem_features(image, weight, bn0), bn, offsets)
    features, f_err, f_size = torch_features(image, weight, bn0)
    pre = torch_batchnorm(torch.from_numpy(features), bn).numpy()
    assert bits.dtype == np.uint8
    assert bits.shape == (image.shape[0], slices, channels, *features.shape[2:])
    assert_bits_match_where_decided(bits, pre, gap(f_size, f_err, bn), offsets)


@needs_torch
@pytest.mark.req("STEM-2", "STEM-3", "STEM-5", "SLICE-2")
@given(stem_cases(), st.sampled_from([1, 4]))
def test_boolnet_stem_bits_equal_torch_local_adaptive_shifting(case, slices):
    image, weight, rng, channels = case
    bn0, bn1, bn2, bn_las = (random_batchnorm(rng, channels) for _ in range(4))
    dw_weight = scaled_normals(rng, (channels, 1, 3, 3)) / np.float32(4)
    offsets = slice_offsets(slices)
    bits = boolnet_stem(stem_features(image, weight, bn0), bn1, bn2, dw_weight, bn_las, offsets)

    features, f_err, f_size = torch_features(image, weight, bn0)
    f = torch.from_numpy(features)
    first = torch_batchnorm(f, bn1).numpy()
    second = torch_batchnorm(f, bn2)
    dw = F.conv2d(second, torch.from_numpy(dw_weight.astype(np.float64)), None, 1, 1, 1, channels)
    shift = torch_batchnorm(dw, bn_las).numpy()
    pre = first + shift

    first_err = gap(f_size, f_err, bn1)
    second_err = gap(f_size, f_err, bn2)
    # The depthwise conv reads binary64 BN outputs: its products round (gamma_m, not m - 1).
    dw_err = conv_gap(np.abs(second.numpy()), second_err, dw_weight, 1, 1, channels,
                      exact_products=False)
    shift_err = gap(np.abs(dw.numpy()), dw_err, bn_las)
    sum_err = first_err + shift_err
    pre_err = sum_err + 2 * U * (np.abs(pre) + sum_err)
    assert bits.shape == (image.shape[0], slices, channels, *features.shape[2:])
    assert_bits_match_where_decided(bits, pre, pre_err, offsets)


def stem_parameters():
    weight = np.zeros((2, 3, 7, 7), np.float32)
    ones = np.ones(2, np.float32)
    return weight, BatchNorm(ones, ones * 0, ones * 0, ones)


@pytest.mark.req("STEM-1", "ERR-1")
@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.uint8, np.int32])
def test_image_of_another_dtype_is_rejected(dtype):
    with pytest.raises(DTypeError, match=spec_message(
            "image", "dtype float32", str(np.dtype(dtype)), "STEM-1")):
        stem_features(np.zeros((1, 3, 8, 8), dtype), *stem_parameters())


@pytest.mark.req("STEM-1", "ERR-1")
@pytest.mark.parametrize("shape", [(1, 4, 8, 8), (1, 1, 8, 8), (3, 8, 8), (1, 3, 8, 8, 1)])
def test_image_of_another_shape_is_rejected(shape):
    with pytest.raises(ShapeError, match=spec_message(
            "image", "shape [N, 3, H, W]", str(list(shape)), "STEM-1")):
        stem_features(np.zeros(shape, np.float32), *stem_parameters())


@pytest.mark.req("STEM-1", "ERR-1")
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_image_with_nan_or_infinity_is_rejected(value):
    image = np.zeros((1, 3, 8, 8), np.float32)
    image[0, 2, 5, 1] = value
    with pytest.raises(NonFiniteError, match=spec_message(
            "image", "finite values", f"{value} at index [0, 2, 5, 1]", "STEM-1")):
        stem_features(image, *stem_parameters())


@pytest.mark.req("STEM-2", "ERR-1")
@pytest.mark.parametrize(("weight", "error", "bound", "value"), [
    (np.zeros((2, 3, 3, 3), np.float32), ShapeError, "shape [2, 3, 7, 7]", "[2, 3, 3, 3]"),
    (np.zeros((3, 3, 7, 7), np.float32), ShapeError, "shape [2, 3, 7, 7]", "[3, 3, 7, 7]"),
    (np.zeros((2, 3, 7, 7), np.float64), DTypeError, "dtype float32", "float64")])
def test_conv1_weight_must_match_bn0(weight, error, bound, value):
    image = np.zeros((1, 3, 8, 8), np.float32)
    with pytest.raises(error, match=spec_message("conv1.weight", bound, value, "STEM-2")):
        stem_features(image, weight, stem_parameters()[1])


@pytest.mark.req("STEM-2", "ERR-1")
def test_real_conv2d_weight_must_match_the_groups():
    with pytest.raises(ShapeError, match=spec_message(
            "real conv weight", "[Cout, Cin/groups = 2, kh, kw] with groups = 2", "[4, 1, 3, 3]",
            "STEM-2")):
        real_conv2d(np.zeros((1, 4, 5, 5)), np.zeros((4, 1, 3, 3), np.float32), 1, 1, groups=2)


@pytest.mark.req("STEM-5", "STEM-2", "ERR-1")
@pytest.mark.parametrize(("dw_weight", "error", "bound", "value"), [
    (np.zeros((2, 2, 3, 3), np.float32), ShapeError, "shape [2, 1, 3, 3]", "[2, 2, 3, 3]"),
    (np.zeros((2, 1, 3, 3), np.float64), DTypeError, "dtype float32", "float64"),
    (np.full((2, 1, 3, 3), np.inf, np.float32), NonFiniteError, "finite values",
     "inf at index [0, 0, 0, 0]")])
def test_depthwise_weight_must_be_finite_float32_of_its_shape(dw_weight, error, bound, value):
    bn = stem_parameters()[1]
    with pytest.raises(error, match=spec_message(
            "adaptive_zero_points.0.weight", bound, value, "STEM-2")):
        boolnet_stem(np.zeros((1, 2, 4, 4)), bn, bn, dw_weight, bn, slice_offsets(4))


@pytest.mark.req("STEM-4", "ENC-3", "ERR-1")
def test_nan_features_are_rejected_at_the_sign():
    features = np.zeros((1, 2, 4, 4))
    features[0, 1, 2, 3] = np.nan
    with pytest.raises(NonFiniteError, match=spec_message(
            "stem pre-activation", "no NaN in the argument of sign", "nan at index [0, 1, 2, 3]",
            "ENC-3")):
        basenet_stem(features, stem_parameters()[1], slice_offsets(4))
