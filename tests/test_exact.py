"""Exact arithmetic: float values as rationals, float32 rounding, square-root comparisons."""

import struct
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from naive.fold import ge_times_sqrt as decimal_ge_times_sqrt
from naive.fold import nearest_float32
from strategies import float32s, wide_float32s

from boolnet_spec.reference.exact import exact, exact_row_sums, ge_times_sqrt, round_to_float32

MAX_FLOAT32 = Fraction(2) ** 128 - Fraction(2) ** 104
OVERFLOW_MIDPOINT = Fraction(2) ** 128 - Fraction(2) ** 103


def pattern(value) -> int:
    """The binary32 bit pattern of a float32 (or a float holding one), sign of zero included."""
    return struct.unpack("<I", struct.pack("<f", float(value)))[0]


def decoded(bits: int) -> Fraction:
    """The value of a finite binary32 pattern, read field by field."""
    sign = -1 if bits >> 31 else 1
    biased, fraction = (bits >> 23) & 0xFF, bits & 0x7FFFFF
    if biased == 0:
        return sign * Fraction(fraction, 2**149)
    return sign * Fraction(0x800000 + fraction) * Fraction(2) ** (biased - 150)


def exact_decimal_string(q: Fraction) -> str:
    """The finite decimal expansion of a dyadic rational."""
    with localcontext() as context:
        context.prec = 2000
        return str(Decimal(q.numerator) / Decimal(q.denominator))


@st.composite
def rationals(draw) -> Fraction:
    """Rationals across the float32 range and beyond: random numerators over powers of 2 and 10."""
    numerator = draw(st.integers(-(2**80), 2**80))
    scale = draw(st.sampled_from([2, 10, 3]))
    exponent = draw(st.integers(-170, 130))
    return Fraction(numerator) * Fraction(scale) ** exponent


@st.composite
def near_midpoints(draw) -> Fraction:
    """A float32 midpoint between x and its successor, plus a perturbation far below both ulps."""
    x = draw(float32s(0.0, 2.0**127))
    successor = np.nextafter(x, np.float32(np.inf))
    midpoint = (exact(x) + exact(successor)) / 2
    nudge = draw(st.sampled_from([0, 1, -1])) * Fraction(2) ** draw(st.integers(-400, -200))
    return draw(st.sampled_from([1, -1])) * (midpoint + nudge * max(midpoint, Fraction(1)))


@pytest.mark.req("EXACT-1")
@given(float32s())
def test_exact_is_the_binary_value_of_the_pattern(x):
    assert exact(x) == decoded(pattern(x))


@pytest.mark.req("EXACT-1")
def test_exact_value_is_not_the_decimal_reading():
    assert exact(np.float32(0.1)) == Fraction(13421773, 2**27) != Fraction("0.1")
    assert exact(0.1) == Fraction(3602879701896397, 2**55)
    assert exact(np.float32(2.0**-149)) == Fraction(1, 2**149)


@pytest.mark.req("EXACT-1")
@given(st.one_of(rationals(), near_midpoints(), float32s().map(exact)))
def test_round_to_float32_matches_pattern_enumeration(q):
    rounded = round_to_float32(q)
    assert isinstance(rounded, np.float32)
    assert pattern(rounded) == pattern(nearest_float32(q))


@pytest.mark.req("EXACT-1")
@given(st.one_of(rationals(), near_midpoints()))
def test_round_to_float32_is_nearest_with_ties_to_even(q):
    rounded = round_to_float32(q)
    assume(np.isfinite(rounded))
    for direction in (np.inf, -np.inf):
        neighbour = np.nextafter(rounded, np.float32(direction))
        if not np.isfinite(neighbour):
            continue
        here, there = abs(q - exact(rounded)), abs(q - exact(neighbour))
        assert here <= there
        if here == there:
            assert pattern(rounded) % 2 == 0


@pytest.mark.req("EXACT-1")
@pytest.mark.parametrize("q, expected", [
    (Fraction(1, 2**150), 0.0),
    (Fraction(1, 2**150) + Fraction(1, 2**300), 2.0**-149),
    (Fraction(3, 2**150), 2.0**-148),
    (Fraction(5, 2**150), 2.0**-148),
    (Fraction(7, 2**150), 2.0**-147),
    (Fraction(-1, 2**151), -0.0),
    (Fraction(2**23 - 1, 2**149) + Fraction(1, 2**150), 2.0**-126),
    (OVERFLOW_MIDPOINT, np.inf),
    (OVERFLOW_MIDPOINT - Fraction(1, 2**1000), float(MAX_FLOAT32)),
    (-OVERFLOW_MIDPOINT, -np.inf),
    (Fraction(2) ** 128, np.inf),
    (Fraction(10) ** 400, np.inf),
    (Fraction(0), 0.0),
])
def test_round_to_float32_subnormals_and_overflow(q, expected):
    assert pattern(round_to_float32(q)) == pattern(expected)


@pytest.mark.req("EXACT-1")
def test_decimal_above_a_midpoint_is_not_double_rounded():
    # 1 + 2**-24 is the midpoint of 1 and its successor; float64 rounds the decimal onto it
    text = exact_decimal_string(1 + Fraction(1, 2**24) + Fraction(1, 2**80))
    assert float(text) == 1 + 2.0**-24
    assert np.float32(float(text)) == np.float32(1.0)
    assert round_to_float32(Fraction(text)) == np.float32(1 + 2.0**-23)
    below = exact_decimal_string(1 + Fraction(1, 2**24) - Fraction(1, 2**80))
    assert round_to_float32(Fraction(below)) == np.float32(1.0)


@pytest.mark.req("EXACT-1")
@given(float32s(2.0**-120, 2.0**120), st.integers(60, 300))
def test_decimals_just_above_any_even_midpoint_round_up(x, depth):
    assume(pattern(x) % 2 == 0)
    successor = np.nextafter(x, np.float32(np.inf))
    above = (exact(x) + exact(successor)) / 2 + exact(x) * Fraction(1, 2**depth)
    assert round_to_float32(Fraction(exact_decimal_string(above))) == successor


def float32_ratio(lhs: np.float32, rhs: np.float32) -> Fraction:
    return exact(lhs) / exact(rhs)


@pytest.mark.req("EXACT-2")
@given(float32s() | wide_float32s(), float32s() | wide_float32s(),
       wide_float32s().map(abs), st.sampled_from([0.0, 1e-5, 2.0**-40]))
def test_ge_times_sqrt_matches_decimal_oracle(lhs, k, var, eps):
    v = exact(var) + Fraction(eps)
    assume(v > 0)
    assert ge_times_sqrt(exact(lhs), exact(k), v) == decimal_ge_times_sqrt(exact(lhs), exact(k), v)


@pytest.mark.req("EXACT-2")
@given(float32s(-1e6, 1e6), float32s(2.0**-60, 1e6), st.sampled_from([-1, 0, 1]),
       st.integers(100, 400))
def test_ge_times_sqrt_at_exact_squares(k, root, side, depth):
    # lhs = k*sqrt(v) exactly, then moved by a hair that no float evaluation could see
    k, root = exact(k), exact(root)
    lhs = k * root + side * Fraction(1, 2**depth)
    expected = side >= 0
    assert ge_times_sqrt(lhs, k, root * root) is expected
    assert decimal_ge_times_sqrt(lhs, k, root * root) is expected


@pytest.mark.req("EXACT-2")
@pytest.mark.parametrize("lhs, k, v, expected", [
    (Fraction(0), Fraction(0), Fraction(1), True),
    (Fraction(0), Fraction(-1), Fraction(2), True),
    (Fraction(-1), Fraction(0), Fraction(2), False),
    (Fraction(1), Fraction(1), Fraction(1), True),
    (Fraction(-1), Fraction(-1), Fraction(1), True),
    (Fraction(-3, 2), Fraction(-1), Fraction(9, 4), True),
    (Fraction(-3, 2), Fraction(-1), Fraction(9, 4) + Fraction(1, 2**200), True),
    (Fraction(-3, 2), Fraction(-1), Fraction(9, 4) - Fraction(1, 2**200), False),
    (Fraction(3, 2), Fraction(1), Fraction(9, 4) + Fraction(1, 2**200), False),
    (Fraction(1), Fraction(1), Fraction(1, 3), True),
])
def test_ge_times_sqrt_signs_and_ties(lhs, k, v, expected):
    assert ge_times_sqrt(lhs, k, v) is expected


@pytest.mark.req("EXACT-1")
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(0, 24)),
                  elements=st.floats(width=32, allow_nan=False, allow_infinity=False)))
def test_exact_row_sums_match_fraction_sums(values):
    expected = [sum((Fraction(float(v)) for v in row), Fraction(0)) for row in values]
    assert exact_row_sums(values) == expected


@pytest.mark.req("EXACT-1")
def test_exact_row_sums_keep_what_float_sums_lose():
    values = np.array([[2.0**100, 1.0, -(2.0**100)], [2.0**-149, 3.0e38, -3.0e38]], np.float32)
    assert np.sum(values, axis=1, dtype=np.float64).tolist()[0] == 0.0
    assert exact_row_sums(values) == [Fraction(1), Fraction(1, 2**149)]
