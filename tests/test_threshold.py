"""Threshold units: exhaustive canonical forms on small D_n, and multi-slice evaluation."""

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from naive.threshold import (
    canonical_unit_of_bits,
    canonical_unit_of_real,
    canonical_units,
    domain,
    is_monotone,
    unit_bit,
    unit_bits,
)

from boolnet_spec.reference.errors import BoundError, DomainError, DTypeError, ShapeError
from boolnet_spec.reference.threshold import (
    ThresholdUnits,
    canonical_unit,
    is_canonical,
    threshold_slices,
)

SMALL_N = range(1, 11)


def candidate_units(n: int) -> list[tuple[int, int]]:
    """Every (polarity, integer t) over a window wider than D_n on both sides."""
    return [(p, t) for p in (0, 1) for t in range(-n - 6, n + 7)]


def one_unit(polarity: int, t: int, n: int) -> ThresholdUnits:
    return ThresholdUnits(np.array([[polarity]], np.uint8), np.array([[t]], np.int16), n)


@pytest.mark.req("THR-2")
@pytest.mark.parametrize("n", SMALL_N)
def test_one_canonical_unit_per_monotone_function(n):
    functions = [list(bits) for bits in itertools.product((0, 1), repeat=n + 1)]
    monotone = [bits for bits in functions if is_monotone(bits)]
    assert len(monotone) == 2 * n + 2
    canonical = canonical_units(n)
    assert len(canonical) == 2 * n + 2
    for bits in monotone:
        computing = [unit for unit in canonical if unit_bits(*unit, n) == bits]
        assert computing == [canonical_unit_of_bits(bits, n)]
    assert sorted(canonical_unit_of_bits(bits, n) for bits in monotone) == sorted(canonical)


@pytest.mark.req("THR-2", "THR-4")
@pytest.mark.parametrize("n", SMALL_N)
def test_is_canonical_and_threshold_units_accept_exactly_the_canonical_units(n):
    candidates = candidate_units(n)
    polarity = np.array([[p for p, _ in candidates]], np.uint8)
    threshold = np.array([[t for _, t in candidates]], np.int16)
    expected = [unit in canonical_units(n) for unit in candidates]
    assert is_canonical(polarity, threshold, n)[0].tolist() == expected
    assert sum(expected) == 2 * n + 2
    for (p, t), accepted in zip(candidates, expected, strict=True):
        if accepted:
            assert one_unit(p, t, n).n == n
        else:
            with pytest.raises(DomainError):
                one_unit(p, t, n)


@pytest.mark.req("THR-3", "THR-2")
@pytest.mark.parametrize("n", SMALL_N)
def test_canonicalisation_of_integer_and_rational_thresholds(n):
    integers = [Fraction(t) for t in range(-n - 6, n + 7)]
    rationals = [Fraction(k, 6) for k in range(-6 * (n + 4), 6 * (n + 4) + 1)]
    hairs = [Fraction(s) + Fraction(side, 10**30) for s in range(-n - 2, n + 3) for side in (-1, 1)]
    images = set()
    for polarity, t in itertools.product((0, 1), integers + rationals + hairs):
        unit = canonical_unit(polarity, t, n)
        assert unit == canonical_unit_of_real(polarity, t, n), (polarity, t)
        assert unit_bits(*unit, n) == unit_bits(polarity, t, n)
        assert unit in canonical_units(n)
        images.add(unit)
    assert images == canonical_units(n)


@pytest.mark.req("THR-3")
@pytest.mark.parametrize("n", [1, 2, 5])
def test_canonicalisation_of_float_thresholds_is_exact(n):
    for s in domain(n):
        below = np.nextafter(float(s), -np.inf)
        above = np.nextafter(float(s), np.inf)
        assert canonical_unit(1, above, n) == canonical_unit_of_real(1, Fraction(above), n)
        assert canonical_unit(1, below, n) == canonical_unit(1, s, n)
        assert canonical_unit(0, below, n) == canonical_unit_of_real(0, Fraction(below), n)
        assert canonical_unit(0, above, n) == canonical_unit(0, s, n)


@st.composite
def real_thresholds(draw) -> tuple[int, int, Fraction]:
    """(polarity, n, t): a rational t near or inside D_n for n up to 600."""
    n = draw(st.integers(1, 600))
    numerator = draw(st.integers(-(n + 5) * 1000, (n + 5) * 1000))
    return draw(st.sampled_from([0, 1])), n, Fraction(numerator, draw(st.integers(1, 1000)))


@pytest.mark.req("THR-3")
@given(real_thresholds())
def test_canonicalisation_matches_enumeration(case):
    polarity, n, t = case
    assert canonical_unit(polarity, t, n) == canonical_unit_of_real(polarity, t, n)


@pytest.mark.req("THR-2", "THR-3")
def test_constants_have_polarity_one():
    for n in SMALL_N:
        assert canonical_unit(0, n, n) == (1, -n)
        assert canonical_unit(0, -n - 1, n) == (1, n + 2)
        assert canonical_unit(1, n + Fraction(1, 3), n) == (1, n + 2)
        assert canonical_unit(1, -10**9, n) == (1, -n)


@st.composite
def unit_layers(draw) -> tuple[ThresholdUnits, np.ndarray]:
    """Canonical units [S, C] and accumulators s[N, C, H, W] drawn from D_n."""
    n = draw(st.integers(1, 12))
    slices, channels = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    units = draw(st.lists(st.sampled_from(sorted(canonical_units(n))),
                          min_size=slices * channels, max_size=slices * channels))
    polarity = np.array([p for p, _ in units], np.uint8).reshape(slices, channels)
    threshold = np.array([t for _, t in units], np.int16).reshape(slices, channels)
    shape = (draw(st.integers(1, 2)), channels, draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = np.array(draw(st.lists(st.sampled_from(domain(n)), min_size=int(np.prod(shape)),
                               max_size=int(np.prod(shape)))), np.int16).reshape(shape)
    return ThresholdUnits(polarity, threshold, n), s


@pytest.mark.req("THR-1", "THR-5")
@given(unit_layers())
def test_threshold_slices_matches_unit_by_unit_evaluation(layer):
    units, s = layer
    out = threshold_slices(s, units)
    batch, channels, height, width = s.shape
    assert out.dtype == np.uint8
    assert out.shape == (batch, units.slices, channels, height, width)
    for b, j, c, y, x in itertools.product(range(batch), range(units.slices), range(channels),
                                           range(height), range(width)):
        expected = unit_bit(int(units.polarity[j, c]), int(units.threshold[j, c]),
                            int(s[b, c, y, x]))
        assert out[b, j, c, y, x] == expected


@pytest.mark.req("THR-1")
def test_polarity_one_is_ge_and_zero_is_le():
    units = ThresholdUnits(np.array([[1, 0]], np.uint8), np.array([[1, 1]], np.int16), 3)
    s = np.array([-3, -1, 1, 3], np.int16).reshape(1, 1, 4, 1).repeat(2, axis=1)
    out = threshold_slices(s, units)[0, 0, :, :, 0]
    assert out.tolist() == [[0, 0, 1, 1], [1, 1, 1, 0]]


@pytest.mark.req("THR-2")
@given(unit_layers())
def test_constant_reports_the_constant_units(layer):
    units, _ = layer
    constant = units.constant()
    assert constant.dtype == np.int8
    for j, c in itertools.product(range(units.slices), range(units.channels)):
        bits = unit_bits(int(units.polarity[j, c]), int(units.threshold[j, c]), units.n)
        expected = 1 if all(bits) else 0 if not any(bits) else -1
        assert constant[j, c] == expected


@pytest.mark.req("THR-4", "ERR-2")
@pytest.mark.parametrize("polarity, threshold", [
    (np.ones((1, 1), np.int64), np.zeros((1, 1), np.int16)),
    (np.ones((1, 1), np.bool_), np.zeros((1, 1), np.int16)),
    (np.ones((1, 1), np.uint8), np.zeros((1, 1), np.int32)),
    (np.ones((1, 1), np.uint8), np.zeros((1, 1), np.uint16)),
    ([[1]], np.zeros((1, 1), np.int16)),
    (np.ones((1, 1), np.uint8), [[0]]),
])
def test_units_of_another_dtype_are_rejected(polarity, threshold):
    with pytest.raises(DTypeError) as info:
        ThresholdUnits(polarity, threshold, 2)
    assert info.value.tensor in ("threshold.polarity", "threshold.threshold")
    assert info.value.label == "THR-4"


@pytest.mark.req("THR-4", "ERR-2")
@pytest.mark.parametrize("shapes", [((2, 3), (3, 2)), ((3,), (3,)), ((1, 2, 1), (1, 2, 1))])
def test_units_of_mismatched_or_wrong_rank_shapes_are_rejected(shapes):
    polarity = np.ones(shapes[0], np.uint8)
    threshold = np.zeros(shapes[1], np.int16)
    with pytest.raises(ShapeError) as info:
        ThresholdUnits(polarity, threshold, 2)
    assert info.value.label == "THR-4"


@pytest.mark.req("THR-4", "ERR-1")
def test_non_canonical_unit_names_its_position_and_count():
    polarity = np.array([[1, 1, 0], [0, 2, 1]], np.uint8)
    threshold = np.array([[-4, 1, 4], [2, 0, 8]], np.int16)
    with pytest.raises(DomainError) as info:
        ThresholdUnits(polarity, threshold, 4)
    message = str(info.value)
    assert "canonical units for n = 4" in message
    assert "(polarity 1, t 1) at [0, 1] (4 unit(s))" in message
    assert message.endswith("[THR-4]")


@pytest.mark.req("THR-4", "ACC-3")
def test_units_need_a_valid_n():
    with pytest.raises(BoundError):
        ThresholdUnits(np.ones((1, 1), np.uint8), np.zeros((1, 1), np.int16), 0)


@pytest.mark.req("THR-5", "ERR-2")
def test_accumulators_must_be_int16_of_the_layer_channels():
    units = ThresholdUnits(np.ones((2, 3), np.uint8), np.zeros((2, 3), np.int16), 2)
    with pytest.raises(DTypeError, match=r"\[THR-5\]$"):
        threshold_slices(np.zeros((1, 3, 2, 2), np.int32), units)
    with pytest.raises(DTypeError, match=r"\[THR-5\]$"):
        threshold_slices([[[[0]]]], units)
    with pytest.raises(ShapeError, match=r"shape \[N, 3, H, W\]"):
        threshold_slices(np.zeros((1, 2, 2, 2), np.int16), units)
    with pytest.raises(ShapeError, match=r"\[THR-5\]$"):
        threshold_slices(np.zeros((3, 2, 2), np.int16), units)
