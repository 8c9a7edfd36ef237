"""Weight binarization: weight bits [W >= 0] and the correctly rounded scale mean(|W[o]|)."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from naive.fold import nearest_float32

from boolnet_spec.reference.errors import DomainError, DTypeError, NonFiniteError, ShapeError
from boolnet_spec.reference.weights import weight_bits, weight_scale

weight_shapes = st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3),
                          st.integers(1, 3))
any_float32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


def weights(elements=any_float32):
    """Rank-4 float32 weights [Cout, Cin, kh, kw]."""
    return hnp.arrays(np.float32, weight_shapes, elements=elements)


@pytest.mark.req("WB-1")
@given(weights())
def test_weight_bits_are_w_nonnegative(w):
    bits = weight_bits(w)
    assert bits.dtype == np.uint8
    assert bits.shape == w.shape
    assert bits.ravel().tolist() == [int(v >= 0) for v in w.ravel().tolist()]


@pytest.mark.req("WB-1")
def test_both_zero_weights_give_bit_one():
    w = np.array([0.0, -0.0, 2.0**-149, -(2.0**-149)], np.float32).reshape(1, 1, 2, 2)
    assert weight_bits(w).ravel().tolist() == [1, 1, 1, 0]


@pytest.mark.req("WB-2")
@given(weights(any_float32 | st.sampled_from([0.0, -0.0, 2.0**-149, 3.0e38])))
def test_weight_scale_is_the_correctly_rounded_mean(w):
    expected = []
    for o in range(w.shape[0]):
        entries = [abs(Fraction(float(v))) for v in w[o].ravel()]
        expected.append(nearest_float32(sum(entries, Fraction(0)) / len(entries)))
    if 0.0 in expected:
        with pytest.raises(DomainError):
            weight_scale(w)
        return
    alpha = weight_scale(w)
    assert alpha.dtype == np.float32
    assert alpha.tobytes() == np.array(expected, np.float32).tobytes()


@pytest.mark.req("WB-2")
def test_weight_scale_is_not_the_float32_nested_mean():
    # float32 sums drop the two 2**-24 terms; the exact mean keeps them
    w = np.array([1.0, 2.0**-24, 2.0**-24], np.float32).reshape(1, 1, 1, 3)
    nested = np.abs(w).mean(axis=3, dtype=np.float32).mean(axis=2).mean(axis=1)
    exact = nearest_float32((1 + Fraction(2, 2**24)) / 3)
    assert weight_scale(w)[0] == np.float32(exact)
    assert nested[0] != np.float32(exact)


@pytest.mark.req("WB-2", "EXACT-1")
def test_weight_scale_rounds_a_tie_to_even():
    # mean = 1 + 2**-24, halfway between 1 and 1 + 2**-23: ties go to 1
    w = np.array([1.0, 1.0 + 2.0**-23], np.float32).reshape(1, 2, 1, 1)
    assert weight_scale(w)[0] == np.float32(1.0)
    w = np.array([1.0 + 2.0**-23, 1.0 + 2.0**-22], np.float32).reshape(1, 2, 1, 1)
    assert weight_scale(w)[0] == np.float32(1.0 + 2.0**-22)


@pytest.mark.req("WB-3", "ERR-1")
@pytest.mark.parametrize("w, channel", [
    (np.zeros((2, 3, 3, 3), np.float32), 0),
    (np.array([1.0, 0.0, -0.0, 0.0], np.float32).reshape(2, 2, 1, 1), 1),
    (np.array([2.0**-149, 0.0], np.float32).reshape(1, 1, 1, 2), 0),
    (np.array([2.0**-149, 0.0, 0.0], np.float32).reshape(1, 3, 1, 1), 0),
])
def test_a_scale_that_rounds_to_zero_is_a_domain_error(w, channel):
    with pytest.raises(DomainError) as info:
        weight_scale(w, "conv1.weight")
    assert info.value.tensor == "conv1.weight scale alpha"
    assert f"0 for output channel {channel}" in str(info.value)
    assert str(info.value).endswith("[WB-3]")


@pytest.mark.req("WB-3")
def test_smallest_positive_mean_survives():
    w = np.array([2.0**-149, 2.0**-149, 0.0], np.float32).reshape(1, 1, 1, 3)
    assert weight_scale(w)[0] == np.float32(2.0**-149)


@pytest.mark.req("WB-3", "ERR-2")
@pytest.mark.parametrize("op", [weight_bits, weight_scale])
def test_weights_must_be_finite_float32_of_rank_4(op):
    with pytest.raises(DTypeError, match=r"float32.*\[WB-3\]$"):
        op(np.ones((1, 1, 1, 1), np.float64))
    with pytest.raises(ShapeError, match=r"rank 4.*\[WB-3\]$"):
        op(np.ones((1, 1, 1), np.float32))
    w = np.ones((1, 2, 1, 1), np.float32)
    w[0, 1] = np.nan
    with pytest.raises(NonFiniteError, match=r"at index \[0, 1, 0, 0\]"):
        op(w, "w")
    w[0, 1] = -np.inf
    with pytest.raises(NonFiniteError):
        op(w)
