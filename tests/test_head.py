"""The real-valued head (reference.head) against element loops, exact sums and torch float64."""

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
from boolnet_spec.reference.errors import DTypeError, NonBinaryError, NonFiniteError, ShapeError
from boolnet_spec.reference.head import classifier, last_block_real, prelu


def bn_tuple(bn: BatchNorm) -> tuple:
    """The plain parameters the naive oracle takes."""
    return bn.gamma, bn.beta, bn.mean, bn.var, bn.eps


def torch_batchnorm(x: torch.Tensor, bn: BatchNorm) -> torch.Tensor:
    """``torch.nn.BatchNorm2d`` in eval mode, float64."""
    param = lambda value: torch.from_numpy(value.astype(np.float64))  # noqa: E731
    return F.batch_norm(x, param(bn.mean), param(bn.var), param(bn.gamma), param(bn.beta),
                        training=False, eps=bn.eps)


@st.composite
def last_block_cases(draw, slice_counts=(1, 2, 4, 6)):
    """XNOR bits x[N, S, C, H, W], conv2 accumulators s2 in D_n, alpha2 > 0 and two BNs."""
    slices, channels = draw(st.sampled_from(slice_counts)), draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 2)), channels, draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = 9 * channels * slices
    s2 = (2 * rng.integers(0, n + 1, shape) - n).astype(np.int16)
    x = rng.integers(0, 2, (shape[0], slices, *shape[1:])).astype(np.uint8)
    alpha2 = rng.uniform(2.0**-10, 1.0, channels).astype(np.float32)
    return s2, alpha2, random_batchnorm(rng, channels), x, random_batchnorm(rng, channels)


@pytest.mark.req("HEAD-1", "BN-3")
@given(last_block_cases())
def test_last_block_real_equals_the_element_loop_bit_for_bit(case):
    # alpha2*s2 and the slice sum are exact, so BN-3's fixed order leaves nothing to choose.
    s2, alpha2, bn2, x, bn3 = case
    z = last_block_real(s2, alpha2, bn2, x, bn3)
    assert z.dtype == np.float64
    assert np.array_equal(z, naive.last_block_real(s2, alpha2, bn_tuple(bn2), x, bn_tuple(bn3)))


@needs_torch
@pytest.mark.req("HEAD-1")
@given(last_block_cases(slice_counts=(1, 2, 4)))
def test_last_block_real_equals_the_authors_bn2_plus_bn3_of_the_slice_mean(case):
    s2, alpha2, bn2, x, bn3 = case
    z = last_block_real(s2, alpha2, bn2, x, bn3)
    conv = torch.from_numpy(s2.astype(np.float64) * alpha2.astype(np.float64)[:, None, None])
    mean = torch.from_numpy(x.astype(np.float64) * 2 - 1).mean(1)
    expected = (torch_batchnorm(conv, bn2) + torch_batchnorm(mean, bn3)).numpy()
    # conv and mean are exact in both; each BN and the final sum round.
    terms = gap_of(conv, bn2) + gap_of(mean, bn3)
    bound = terms + 2 * U * (np.abs(expected) + terms)
    assert np.all(np.abs(z - expected) <= bound)


def gap_of(x: torch.Tensor, bn: BatchNorm) -> np.ndarray:
    """``batchnorm_gap`` of an exact input."""
    return batchnorm_gap(np.abs(x.numpy()), np.zeros(x.shape), bn.gamma, bn.beta, bn.mean, bn.var,
                         bn.eps)


@st.composite
def head_inputs(draw):
    """Real z[N, C, H, W] with both signs and spread magnitudes, and a seed for parameters."""
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 4)),
             draw(st.integers(1, 4)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    z = rng.standard_normal(shape) * 2.0 ** rng.integers(-8, 9, shape)
    z[rng.random(shape) < 0.1] = 0.0
    return z, rng


@needs_torch
@pytest.mark.req("HEAD-2")
@given(head_inputs())
def test_prelu_equals_the_loop_and_torch_exactly(case):
    # One multiplication per negative element: correctly rounded in every implementation.
    z, rng = case
    slope = rng.uniform(-0.5, 0.5, z.shape[1]).astype(np.float32)
    out = prelu(z, slope)
    assert out.dtype == np.float64
    assert np.array_equal(out, naive.prelu(z, slope))
    authors = F.prelu(torch.from_numpy(z), torch.from_numpy(slope.astype(np.float64))).numpy()
    assert np.array_equal(out, authors)


def classifier_bound(z: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Bound on one binary64 evaluation's distance from the exact logits ``[N, K]``: the pooled
    sum of H*W terms and its division (gamma_{HW+1}, covering a reciprocal multiply too), then
    C rounded products, C - 1 additions and the bias (gamma_{C+1})."""
    area = z.shape[2] * z.shape[3]
    pooled_abs = np.abs(z).sum(axis=(2, 3)) / area / (1 - gamma_m(area))
    pooled_err = gamma_m(area + 1) * pooled_abs
    w = np.abs(weight.astype(np.float64))
    terms = (pooled_abs + pooled_err) @ w.T + np.abs(bias.astype(np.float64))
    return (gamma_m(weight.shape[1] + 1) * terms + pooled_err @ w.T) / (1 - gamma_m(area))


@pytest.mark.req("HEAD-3")
@given(head_inputs(), st.integers(1, 5))
def test_classifier_is_within_the_summation_bound_of_the_exact_logits(case, classes):
    z, rng = case
    weight = rng.standard_normal((classes, z.shape[1])).astype(np.float32)
    bias = rng.standard_normal(classes).astype(np.float32)
    logits = classifier(z, weight, bias)
    assert logits.dtype == np.float64
    assert logits.shape == (z.shape[0], classes)
    exact = naive.classifier_exact(z, weight, bias)
    bound = classifier_bound(z, weight, bias)
    for b, k in np.ndindex(logits.shape):
        assert abs(Fraction(float(logits[b, k])) - exact[b][k]) <= Fraction(float(bound[b, k]))


@needs_torch
@pytest.mark.req("HEAD-3")
@given(head_inputs(), st.integers(1, 5))
def test_classifier_equals_the_authors_avgpool_then_fc(case, classes):
    z, rng = case
    weight = rng.standard_normal((classes, z.shape[1])).astype(np.float32)
    bias = rng.standard_normal(classes).astype(np.float32)
    x = torch.from_numpy(z)
    pooled = F.adaptive_avg_pool2d(x, (1, 1)).contiguous().view(x.size(0), -1)
    authors = F.linear(pooled, torch.from_numpy(weight.astype(np.float64)),
                       torch.from_numpy(bias.astype(np.float64))).numpy()
    # Both evaluations lie within the one-evaluation bound of the exact logits.
    assert np.all(np.abs(classifier(z, weight, bias) - authors)
                  <= 2 * classifier_bound(z, weight, bias))


def head_case(channels: int = 2, slices: int = 4):
    ones = np.ones(channels, np.float32)
    bn = BatchNorm(ones, ones * 0, ones * 0, ones)
    return (np.zeros((1, channels, 3, 3), np.int16), ones, bn,
            np.zeros((1, slices, channels, 3, 3), np.uint8), bn)


@pytest.mark.req("HEAD-4", "ERR-1")
@pytest.mark.parametrize("dtype", [np.int32, np.int8, np.float32, np.uint16])
def test_s2_of_another_dtype_is_rejected(dtype):
    s2, alpha2, bn2, x, bn3 = head_case()
    with pytest.raises(DTypeError, match=spec_message(
            "s2", "dtype int16", str(np.dtype(dtype)), "HEAD-4")):
        last_block_real(s2.astype(dtype), alpha2, bn2, x, bn3)


@pytest.mark.req("HEAD-4", "ERR-1")
@pytest.mark.parametrize(("s2_shape", "x_shape", "bound"), [
    ((1, 2, 3, 4), (1, 4, 2, 3, 3), "[1, 2, 3, 3]"),
    ((2, 2, 3, 3), (1, 4, 2, 3, 3), "[1, 2, 3, 3]"),
    ((1, 4, 3, 3), (1, 4, 2, 3, 3), "[1, 2, 3, 3]"),
    ((1, 2, 3, 3), (1, 2, 3, 3), "[1, 3, 3]")])
def test_s2_not_shaped_like_one_slice_of_x_is_rejected(s2_shape, x_shape, bound):
    _, alpha2, bn2, _, bn3 = head_case()
    with pytest.raises(ShapeError, match=spec_message(
            "s2", f"the shape of one slice of x {bound}", str(list(s2_shape)), "HEAD-4")):
        last_block_real(np.zeros(s2_shape, np.int16), alpha2, bn2, np.zeros(x_shape, np.uint8),
                        bn3)


@pytest.mark.req("HEAD-4", "ERR-1")
@pytest.mark.parametrize(("alpha2", "error", "bound", "value"), [
    (np.ones(2, np.float64), DTypeError, "dtype float32", "float64"),
    (np.ones(3, np.float32), ShapeError, "shape [2]", "[3]"),
    (np.array([1.0, np.nan], np.float32), NonFiniteError, "finite values",
     "nan at index [1]")])
def test_alpha2_must_be_finite_float32_per_channel(alpha2, error, bound, value):
    s2, _, bn2, x, bn3 = head_case()
    with pytest.raises(error, match=spec_message("conv2 alpha", bound, value, "HEAD-4")):
        last_block_real(s2, alpha2, bn2, x, bn3)


@pytest.mark.req("HEAD-1", "ENC-5", "ERR-1")
def test_x_must_be_bits():
    s2, alpha2, bn2, x, bn3 = head_case()
    x[0, 3, 1, 2, 0] = 2
    with pytest.raises(NonBinaryError, match=spec_message(
            "x", "bits in {0, 1}", "2 at index [0, 3, 1, 2, 0]", "ENC-5")):
        last_block_real(s2, alpha2, bn2, x, bn3)


@pytest.mark.req("HEAD-4", "ERR-1")
@pytest.mark.parametrize(("slope", "error", "bound", "value"), [
    (np.ones(3, np.float64), DTypeError, "dtype float32", "float64"),
    (np.ones(2, np.float32), ShapeError, "shape [3]", "[2]"),
    (np.array([0.1, -np.inf, 0.2], np.float32), NonFiniteError, "finite values",
     "-inf at index [1]")])
def test_prelu_slopes_must_be_finite_float32_per_channel(slope, error, bound, value):
    with pytest.raises(error, match=spec_message("prelu2.weight", bound, value, "HEAD-4")):
        prelu(np.zeros((1, 3, 2, 2)), slope)


@pytest.mark.req("HEAD-4", "ERR-1")
@pytest.mark.parametrize(("z_shape", "weight", "bias", "error", "tensor", "bound", "value"), [
    ((1, 3, 2), np.ones((5, 3), np.float32), np.ones(5, np.float32), ShapeError, "head input",
     "rank 4 [N, C, H, W]", "[1, 3, 2]"),
    ((1, 3, 2, 2), np.ones((5, 3), np.float64), np.ones(5, np.float32), DTypeError, "fc.weight",
     "dtype float32", "float64"),
    ((1, 3, 2, 2), np.ones((5, 4), np.float32), np.ones(5, np.float32), ShapeError, "fc.weight",
     "shape [5, 3]", "[5, 4]"),
    ((1, 3, 2, 2), np.array(1.0, np.float32), np.ones(5, np.float32), ShapeError, "fc.weight",
     "shape [K, 3]", "[]"),
    ((1, 3, 2, 2), np.ones(3, np.float32), np.ones(5, np.float32), ShapeError, "fc.weight",
     "shape [K, 3]", "[3]"),
    ((1, 3, 2, 2), np.ones((5, 3), np.float32), np.ones(4, np.float32), ShapeError, "fc.bias",
     "shape [5]", "[4]"),
    ((1, 3, 2, 2), np.full((5, 3), np.nan, np.float32), np.ones(5, np.float32), NonFiniteError,
     "fc.weight", "finite values", "nan at index [0, 0]"),
    ((1, 3, 2, 2), np.ones((5, 3), np.float32), np.full(5, np.inf, np.float32), NonFiniteError,
     "fc.bias", "finite values", "inf at index [0]")])
def test_classifier_parameters_must_be_finite_float32_of_their_shape(z_shape, weight, bias, error,
                                                                     tensor, bound, value):
    with pytest.raises(error, match=spec_message(tensor, bound, value, "HEAD-4")):
        classifier(np.zeros(z_shape), weight, bias)
