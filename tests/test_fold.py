"""Folding: fold_bn_sign against BN-then-sign in 1000-digit decimal, ties and peer traps."""

import math
from dataclasses import dataclass
from fractions import Fraction
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from naive.fold import bn_sign_bits, bn_sign_bits_at
from naive.threshold import canonical_unit_of_bits, domain, unit_bits
from strategies import AUTHORS_OFFSETS, FoldCase, fold_cases, tied_folds

from boolnet_spec.reference import fold as fold_module
from boolnet_spec.reference.accumulator import N_MAX
from boolnet_spec.reference.batchnorm import BatchNorm
from boolnet_spec.reference.errors import (
    BoundError,
    DomainError,
    DTypeError,
    NonFiniteError,
    ShapeError,
)
from boolnet_spec.reference.fold import bn_sign_exact, fold_bn_sign
from boolnet_spec.reference.slices import slice_offsets
from boolnet_spec.reference.threshold import threshold_slices


def fold(case: FoldCase):
    return fold_bn_sign(case.bn, case.n, case.alpha, case.bias, case.offsets)


def oracle_bits(case: FoldCase, j: int, c: int, points=None) -> list[int]:
    """The decimal oracle's bits for slice j of channel c, on plain floats."""
    bn = case.bn
    args = (float(bn.gamma[c]), float(bn.beta[c]), float(bn.mean[c]), float(bn.var[c]),
            float(bn.eps))
    extra = (float(case.alpha[c]), float(case.bias[c]), float(case.offsets[j]))
    if points is None:
        return bn_sign_bits(*args, case.n, *extra)
    return bn_sign_bits_at(points, *args, *extra)


def folded_bits(units, n: int) -> np.ndarray:
    """bits[S, C, n+1] of the folded units at every s of D_n, through threshold_slices."""
    s = np.array(domain(n), np.int16)[None, None, :, None].repeat(units.channels, axis=1)
    return threshold_slices(s, units)[0, :, :, :, 0]


def cells(units):
    return [(j, c) for j in range(units.slices) for c in range(units.channels)]


@pytest.mark.req("FOLD-2", "FOLD-3", "FOLD-4", "FOLD-8", "BN-1", "THR-2", "THR-5")
@given(fold_cases())
def test_fold_equals_exact_bn_then_sign_at_every_s(case):
    units = fold(case)
    assert units.polarity.shape == units.threshold.shape == (len(case.offsets), case.bn.channels)
    bits = folded_bits(units, case.n)
    for j, c in cells(units):
        expected = oracle_bits(case, j, c)
        assert bits[j, c].tolist() == expected, (j, c)
        unit = (int(units.polarity[j, c]), int(units.threshold[j, c]))
        assert unit_bits(*unit, case.n) == expected
        assert unit == canonical_unit_of_bits(expected, case.n)


@pytest.mark.req("FOLD-2", "BN-1")
@given(fold_cases(max_n=24))
def test_bn_sign_exact_equals_the_oracle(case):
    out = bn_sign_exact(case.bn, np.array(domain(case.n)), case.alpha, case.bias, case.offsets)
    assert out.dtype == np.uint8
    assert out.shape == (len(case.offsets), case.bn.channels, case.n + 1)
    for j in range(len(case.offsets)):
        for c in range(case.bn.channels):
            assert out[j, c].tolist() == oracle_bits(case, j, c)


@pytest.mark.req("FOLD-3", "FOLD-4", "FOLD-5")
@given(fold_cases())
def test_polarity_follows_the_sign_of_gamma(case):
    units = fold(case)
    n = case.n
    for j, c in cells(units):
        gamma = Fraction(float(case.bn.gamma[c]))
        unit = (int(units.polarity[j, c]), int(units.threshold[j, c]))
        constant = unit in ((1, -n), (1, n + 2))
        if gamma > 0:
            assert unit[0] == 1
        elif gamma < 0:
            assert unit[0] == 0 or constant
        else:
            lift = Fraction(float(case.bn.beta[c])) + Fraction(float(case.offsets[j]))
            assert unit == ((1, -n) if lift >= 0 else (1, n + 2))


@pytest.mark.req("FOLD-5", "ENC-2")
@pytest.mark.parametrize("gamma", [0.0, -0.0])
def test_zero_gamma_is_constant_with_sign_of_zero_plus_one(gamma):
    third = np.float32(1 / 3)
    down = np.nextafter(-third, np.float32(-1))
    bn = BatchNorm(np.full(3, gamma, np.float32), np.array([-third, down, 5.0], np.float32),
                   np.array([7.0, 7.0, -1e30], np.float32), np.ones(3, np.float32))
    units = fold_bn_sign(bn, 5, offsets=np.array([third], np.float32))
    assert units.polarity.tolist() == [[1, 1, 1]]
    assert units.threshold.tolist() == [[-5, 7, -5]]


@pytest.mark.req("FOLD-6", "ENC-2")
@given(tied_folds())
def test_a_tie_gives_bit_one_for_either_sign_of_gamma(tied):
    case, s0 = tied
    n = case.n
    assert oracle_bits(case, 0, 0, [s0]) == [1]
    units = fold(case)
    unit = (int(units.polarity[0, 0]), int(units.threshold[0, 0]))
    assert unit_bits(*unit, n)[(s0 + n) // 2] == 1
    if case.bn.gamma[0] > 0:
        assert unit == (1, s0)
    else:
        assert unit == ((0, s0) if s0 != n else (1, -n))
    for j in range(len(case.offsets)):
        assert folded_bits(units, n)[j, 0].tolist() == oracle_bits(case, j, 0)


@pytest.mark.req("FOLD-6")
@pytest.mark.parametrize("gamma", [1.25, -1.25])
@pytest.mark.parametrize("var, eps", [(0.25, 0.0), (0.25 - 2.0**-20, 2.0**-20), (6.25, 0.0)])
def test_ties_through_sigma(gamma, var, eps):
    # y(2) = gamma*(0.5*2 + 0.25 - 0.25)/sigma + beta = 0 with beta = -gamma/sigma exact
    sigma = math.sqrt(var + eps)
    assert Fraction(float(np.float32(var))) + Fraction(eps) == Fraction(sigma) ** 2
    assert Fraction(float(np.float32(-gamma / sigma))) == -Fraction(gamma) / Fraction(sigma)
    bn = BatchNorm(np.float32([gamma]), np.float32([-gamma / sigma]), np.float32([0.25]),
                   np.float32([var]), eps)
    units = fold_bn_sign(bn, 6, np.float32([0.5]), np.float32([0.25]))
    expected = (1, 2) if gamma > 0 else (0, 2)
    assert (int(units.polarity[0, 0]), int(units.threshold[0, 0])) == expected


@st.composite
def constant_channels(draw) -> tuple[FoldCase, int]:
    """Channels whose root of y lies outside [-n, n]; returns (case, expected constant bit)."""
    n = draw(st.integers(1, 60))
    side = draw(st.sampled_from([-1, 1]))
    distance = draw(st.sampled_from([0.25, 1.0, 1.5, 2.0, 1e6, 1e30]))
    root = np.float32(side * (n + distance))
    gamma = np.float32(draw(st.sampled_from([1.0, -1.0, 3e-30, -7e20])))
    bn = BatchNorm(np.array([gamma]), np.zeros(1, np.float32), np.array([root]),
                   np.ones(1, np.float32), 0.0)
    case = FoldCase(bn, n, np.ones(1, np.float32), np.zeros(1, np.float32),
                    np.zeros(1, np.float32))
    # y = gamma*(s - root): one sign over D_n, positive where gamma and -root agree in sign
    return case, int((gamma > 0) == (side < 0))


@pytest.mark.req("FOLD-7", "THR-2")
@given(constant_channels())
def test_thresholds_outside_d_n_give_the_canonical_constants(channel):
    case, bit = channel
    n = case.n
    units = fold(case)
    assert (int(units.polarity[0, 0]), int(units.threshold[0, 0])) == \
        ((1, -n) if bit else (1, n + 2))
    assert units.constant()[0, 0] == bit
    assert oracle_bits(case, 0, 0, [-n, n]) == [bit, bit]


@pytest.mark.req("FOLD-7")
@pytest.mark.parametrize("gamma, beta, expected", [
    (1.0, 1e30, (1, -4)),
    (-1.0, 1e30, (1, -4)),
    (1.0, -1e30, (1, 6)),
    (-2.0**-149, -1e-30, (1, 6)),
])
def test_y_of_one_sign_over_d_n_is_constant(gamma, beta, expected):
    bn = BatchNorm(np.float32([gamma]), np.float32([beta]), np.float32([3.0]),
                   np.float32([1e-30]))
    units = fold_bn_sign(bn, 4)
    assert (int(units.polarity[0, 0]), int(units.threshold[0, 0])) == expected


@pytest.mark.req("FOLD-8")
@given(fold_cases())
def test_fold_equals_float64_evaluation_far_from_zero(case):
    units = fold(case)
    bits = folded_bits(units, case.n)
    bn = case.bn
    for j, c in cells(units):
        gamma, beta, mean = float(bn.gamma[c]), float(bn.beta[c]), float(bn.mean[c])
        alpha, bias, offset = float(case.alpha[c]), float(case.bias[c]), float(case.offsets[j])
        sigma = math.sqrt(float(bn.var[c]) + bn.eps)
        for index, s in enumerate(domain(case.n)):
            y = gamma * (alpha * s + bias - mean) / sigma + beta + offset
            # float64's error is a few ulps of the largest term; far means a million times more
            scale = max(abs(gamma) * (abs(alpha * s) + abs(bias) + abs(mean)) / sigma,
                        abs(beta) + abs(offset))
            if math.isfinite(y) and abs(y) > 1e-6 * scale:
                assert bits[j, c, index] == int(y >= 0), (j, c, s, y)


@pytest.mark.req("FOLD-8")
@given(fold_cases(max_n=30), st.floats(-1e6, 1e6) | st.sampled_from([0.0, -1e300, 1e300]))
def test_fold_does_not_depend_on_its_float_root_estimate(case, guess):
    # the binary64 estimate only starts the exact search; a wrong one must not change a unit
    with patch.object(fold_module.ChannelFold, "root_estimate", lambda self, offset: guess):
        units = fold(case)
    bits = folded_bits(units, case.n)
    for j, c in cells(units):
        assert bits[j, c].tolist() == oracle_bits(case, j, c)


@pytest.mark.req("FOLD-8", "ACC-3", "THR-2")
@settings(max_examples=100)
@given(fold_cases(max_n=N_MAX))
def test_fold_for_large_n_at_the_boundary_of_each_unit(case):
    # y is affine in s, so the bits at the step and its neighbour fix the whole unit
    units = fold(case)
    n = case.n
    for j, c in cells(units):
        polarity, t = int(units.polarity[j, c]), int(units.threshold[j, c])
        assert -n <= t <= n + 2 and (t + n) % 2 == 0
        gamma = float(case.bn.gamma[c])
        if (polarity, t) == (1, -n):
            ends = [-n, n] if gamma != 0 else [-n]
            assert oracle_bits(case, j, c, ends) == [1] * len(ends)
        elif (polarity, t) == (1, n + 2):
            assert oracle_bits(case, j, c, [-n, n]) == [0, 0]
        elif polarity == 1:
            assert gamma > 0
            assert oracle_bits(case, j, c, [t - 2, t]) == [0, 1]
        else:
            assert gamma < 0
            assert oracle_bits(case, j, c, [t, t + 2]) == [1, 0]


@pytest.mark.req("FOLD-2", "FOLD-3", "FOLD-4", "SLICE-1")
def test_authors_four_slice_offsets():
    expected = np.array([float(np.float32(1 / 3 * i)) for i in (-2, -1, 1, 2)], np.float32)
    assert slice_offsets(4).tobytes() == expected.tobytes() == AUTHORS_OFFSETS[2].tobytes()
    bn = BatchNorm(np.float32([1.0, -1.0]), np.float32([0.0, 0.0]), np.float32([0.0, 0.0]),
                   np.float32([1.0, 1.0]), 0.0)
    units = fold_bn_sign(bn, 8, np.float32([0.125, 0.125]), offsets=slice_offsets(4))
    # y = +-s/8 + o_j: roots -+8*o_j = -+16/3, -+8/3, +-8/3, +-16/3, rounded to even s
    assert units.polarity.tolist() == [[1, 0]] * 4
    assert units.threshold.tolist() == [[6, -6], [4, -4], [-2, 2], [-4, 4]]


@pytest.mark.req("FOLD-2", "FOLD-8")
@given(fold_cases())
def test_larger_offsets_never_clear_a_bit(case):
    order = np.argsort(case.offsets, kind="stable")
    bits = folded_bits(fold(case), case.n)[order]
    assert np.all(bits[:-1] <= bits[1:])


@dataclass(frozen=True)
class Channel:
    """One channel's parameters as plain floats, as a peer's folding code receives them."""

    gamma: float
    beta: float
    mean: float
    var: float
    eps: float = 0.0
    alpha: float = 1.0
    bias: float = 0.0
    offset: float = 0.0


def reference_bits(p: Channel, n: int) -> list[int]:
    bn = BatchNorm(*(np.float32([v]) for v in (p.gamma, p.beta, p.mean, p.var)), p.eps)
    units = fold_bn_sign(bn, n, np.float32([p.alpha]), np.float32([p.bias]),
                         np.float32([p.offset]))
    return unit_bits(int(units.polarity[0, 0]), int(units.threshold[0, 0]), n)


def oracle(p: Channel, n: int) -> list[int]:
    return bn_sign_bits(p.gamma, p.beta, p.mean, p.var, p.eps, n, p.alpha, p.bias, p.offset)


def slope_and_intercept(p: Channel) -> tuple[float, float]:
    """y = k*s + c in float64, the form every peer below starts from."""
    sigma = math.sqrt(p.var + p.eps)
    return p.gamma * p.alpha / sigma, p.gamma * (p.bias - p.mean) / sigma + p.beta + p.offset


def sat_verifier_fold(p: Channel, n: int) -> list[int]:
    """Bound floor(c/k) + [k < 0] on -s: right for k > 0, strict at an integer root for k < 0."""
    k, c = slope_and_intercept(p)
    bound = math.floor(c / k) + (k < 0)
    return [int(-s <= bound) if k > 0 else int(-s >= bound) for s in domain(n)]


def truncating_fold(p: Channel, n: int) -> list[int]:
    """C++ int() of the root instead of ceil, then a popcount bound halved by integer division."""
    k, c = slope_and_intercept(p)
    popcount_bound = int((int(-c / k) + n) / 2)
    return [int((s + n) // 2 >= popcount_bound) for s in domain(n)]


def one_formula_fold(p: Channel, n: int) -> list[int]:
    """s >= ceil(root) whatever the sign of gamma."""
    k, c = slope_and_intercept(p)
    return [int(s >= math.ceil(-c / k)) for s in domain(n)]


def variance_fold(p: Channel, n: int) -> list[int]:
    """The right comparison, with var + eps where sqrt(var + eps) belongs."""
    sigma = p.var + p.eps
    k, c = p.gamma * p.alpha / sigma, p.gamma * (p.bias - p.mean) / sigma + p.beta + p.offset
    root = -c / k
    return [int(s >= math.ceil(root) if k > 0 else s <= math.floor(root)) for s in domain(n)]


def strict_fold(p: Channel, n: int) -> list[int]:
    """sign(0) = -1: the strict comparison y > 0."""
    k, c = slope_and_intercept(p)
    return [int(k * s + c > 0) for s in domain(n)]


THIRD = float(np.float32(1 / 3))
# y(2) = -1.5*(0.5*2 + 0.25 - 1.25)/0.5 + 0 = 0: an exact tie at s = 2 with a negative gamma
TIE_NEGATIVE = Channel(gamma=-1.5, beta=-THIRD, mean=1.25, var=0.25, alpha=0.5, bias=0.25,
                       offset=THIRD)
TIE_POSITIVE = Channel(gamma=1.5, beta=-THIRD, mean=1.25, var=0.25, alpha=0.5, bias=0.25,
                       offset=THIRD)
ROOT_2_5 = Channel(gamma=2.0, beta=-2.0, mean=0.0, var=6.25)  # y = 2s/2.5 - 2
ROOT_3 = Channel(gamma=1.0, beta=0.0, mean=3.0, var=1.0)
ROOT_HALF_NEGATIVE = Channel(gamma=-1.0, beta=0.0, mean=0.5, var=1.0)
ROOT_TWO_SIGMAS = Channel(gamma=1.0, beta=-4.0, mean=0.0, var=0.25)  # root 4*sigma = 2


@pytest.mark.req("FOLD-6", "FOLD-4")
@pytest.mark.parametrize("trap, p, n, s, benign", [
    (sat_verifier_fold, TIE_NEGATIVE, 6, 2, ROOT_HALF_NEGATIVE),
    (truncating_fold, ROOT_2_5, 4, 2, Channel(gamma=1.0, beta=0.0, mean=2.0, var=1.0)),
    (truncating_fold, ROOT_3, 4, 2, Channel(gamma=1.0, beta=0.0, mean=-2.0, var=1.0)),
    (one_formula_fold, ROOT_HALF_NEGATIVE, 3, -1, Channel(gamma=1.0, beta=0.0, mean=0.5,
                                                         var=1.0)),
    (variance_fold, ROOT_TWO_SIGMAS, 3, 1, Channel(gamma=1.0, beta=-4.0, mean=0.0, var=1.0)),
    (strict_fold, TIE_POSITIVE, 6, 2, ROOT_2_5),
], ids=["sat-floor-plus-negative", "truncation-2.5", "truncation-parity", "one-formula",
        "variance-for-sigma", "strict-greater"])
def test_published_fold_is_exposed(trap, p, n, s, benign):
    expected = oracle(p, n)
    assert reference_bits(p, n) == expected
    index = domain(n).index(s)
    assert trap(p, n)[index] != expected[index]
    # the same peer code is right on a channel without its trap, so only the trap exposes it
    assert trap(benign, n) == oracle(benign, n) == reference_bits(benign, n)


class TestInputs:
    pytestmark = pytest.mark.req("FOLD-1", "ERR-1", "ERR-2")

    @pytest.fixture(autouse=True)
    def forbid_folding(self, monkeypatch):
        def folded(*args, **kwargs):
            raise AssertionError("work was done before the inputs were validated")

        monkeypatch.setattr(fold_module.ChannelFold, "unit", folded)
        monkeypatch.setattr(fold_module.ChannelFold, "bit", folded)

    bn = BatchNorm(np.ones(2, np.float32), np.zeros(2, np.float32), np.zeros(2, np.float32),
                   np.ones(2, np.float32))

    @pytest.mark.parametrize("op", ["fold", "exact"])
    @pytest.mark.parametrize("alpha, error, fragment", [
        (np.float32([1.0, 0.0]), DomainError, "(0.0) for channel 1"),
        (np.float32([-0.0, 1.0]), DomainError, "(-0.0) for channel 0"),
        (np.float32([1.0, -3.0]), DomainError, "(-3.0) for channel 1"),
        (np.float32([1.0, np.nan]), NonFiniteError, "at index [1]"),
        (np.float32([np.inf, 1.0]), NonFiniteError, "at index [0]"),
        (np.float64([1.0, 1.0]), DTypeError, "float64"),
        (np.float32([1.0]), ShapeError, "[1]"),
    ])
    def test_alpha(self, op, alpha, error, fragment):
        with pytest.raises(error) as info:
            if op == "fold":
                fold_bn_sign(self.bn, 3, alpha)
            else:
                bn_sign_exact(self.bn, np.array([-3, 3]), alpha)
        assert info.value.tensor == "bn alpha"
        assert fragment in str(info.value)
        assert str(info.value).endswith("[FOLD-1]")

    @pytest.mark.parametrize("bias, error", [
        (np.float32([0.0, np.nan]), NonFiniteError), (np.float64([0.0, 0.0]), DTypeError),
        (np.float32([[0.0, 0.0]]), ShapeError), (np.float32([-np.inf, 0.0]), NonFiniteError),
    ])
    def test_conv_bias(self, bias, error):
        with pytest.raises(error, match=r"^bn conv bias: .*\[FOLD-1\]$"):
            fold_bn_sign(self.bn, 3, bias=bias)

    @pytest.mark.parametrize("offsets, error", [
        (np.float32([[0.0]]), ShapeError), (np.zeros(0, np.float32), ShapeError),
        (np.float32(0.0), ShapeError), (np.float32([0.5, np.inf]), NonFiniteError),
        (np.float64([0.5]), DTypeError), ([0.5], DTypeError),
    ])
    def test_slice_offsets(self, offsets, error):
        with pytest.raises(error, match=r"^slice offsets: .*\[FOLD-1\]$"):
            fold_bn_sign(self.bn, 3, offsets=offsets)

    @pytest.mark.parametrize("n, error", [(0, BoundError), (N_MAX + 1, BoundError),
                                          (40000, BoundError), (2.0, DTypeError)])
    def test_n(self, n, error):
        with pytest.raises(error, match=r"\[ACC-3\]$"):
            fold_bn_sign(self.bn, n)
