"""Encoding: bits, their +-1 values and sign, against plain Python loops."""

import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import bit_arrays

from boolnet_spec.reference.encoding import (
    BIT_DTYPE,
    check_bits,
    from_pm1,
    ops_own_bits,
    sign_bit,
    to_pm1,
)
from boolnet_spec.reference.errors import DTypeError, NonBinaryError, NonFiniteError

small_shapes = hnp.array_shapes(min_dims=1, max_dims=4, max_side=4)


@pytest.mark.req("ENC-1")
@given(small_shapes.flatmap(bit_arrays))
def test_to_pm1_is_two_b_minus_one(bits):
    values = to_pm1(bits)
    assert values.dtype == np.int8
    assert values.shape == bits.shape
    assert [int(v) for v in values.ravel()] == [2 * int(b) - 1 for b in bits.ravel()]


@pytest.mark.req("ENC-1", "ENC-4")
@given(small_shapes.flatmap(bit_arrays))
def test_from_pm1_inverts_to_pm1(bits):
    back = from_pm1(to_pm1(bits))
    assert back.dtype == BIT_DTYPE
    assert np.array_equal(back, bits)


@pytest.mark.req("ENC-1")
def test_bit_one_is_plus_one_and_true():
    assert np.array_equal(to_pm1(np.array([0, 1], np.uint8)), np.array([-1, 1], np.int8))
    assert np.array_equal(from_pm1(np.array([-1.0, 1.0], np.float32)), np.array([0, 1], np.uint8))


@pytest.mark.req("ENC-2")
@given(hnp.arrays(np.float64, st.integers(1, 20),
                  elements=st.floats(allow_nan=False, allow_subnormal=True)))
def test_sign_bit_is_y_nonnegative(y):
    assert [int(b) for b in sign_bit(y)] == [int(v >= 0) for v in y.tolist()]


@pytest.mark.req("ENC-2")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_both_zeros_are_plus_one(dtype):
    zeros = np.array([0.0, -0.0], dtype)
    assert np.signbit(zeros).tolist() == [False, True]
    assert sign_bit(zeros).tolist() == [1, 1]
    tiny = np.array([np.finfo(dtype).smallest_subnormal, -np.finfo(dtype).smallest_subnormal],
                    dtype)
    assert sign_bit(tiny).tolist() == [1, 0]


@pytest.mark.req("ENC-3")
def test_infinities_are_ordered():
    assert sign_bit(np.array([np.inf, -np.inf], np.float32)).tolist() == [1, 0]


@pytest.mark.req("ENC-3", "ERR-1")
def test_sign_of_nan_is_an_error():
    y = np.array([[1.0, -2.0], [np.nan, np.nan]], np.float32)
    with pytest.raises(NonFiniteError) as info:
        sign_bit(y, "z")
    assert info.value.tensor == "z"
    assert "nan at index [1, 0] (2 element(s))" in str(info.value)
    assert str(info.value).endswith("[ENC-3]")


@pytest.mark.req("ENC-4", "ERR-1", "ERR-2")
def test_ternary_zero_of_torch_sign_is_rejected():
    # torch.sign, like np.sign, maps an exact 0 to 0: the third value the spec refuses
    ternary = np.sign(np.array([0.5, 0.0, -3.0], np.float32))
    assert ternary.tolist() == [1.0, 0.0, -1.0]
    with pytest.raises(NonBinaryError) as info:
        from_pm1(ternary, "activation")
    message = str(info.value)
    assert message.startswith("activation: expected values in {-1, +1}")
    assert "torch.sign" in message
    assert "at index [1] (1 element(s))" in message
    assert message.endswith("[ENC-4]")


@pytest.mark.req("ENC-4")
@pytest.mark.parametrize("value", [2, 0.5, np.nan, np.inf, -2])
def test_any_other_pm1_value_is_rejected(value):
    values = np.array([1.0, -1.0, value])
    with pytest.raises(NonBinaryError) as info:
        from_pm1(values)
    assert "torch.sign" not in str(info.value)
    assert "at index [2]" in str(info.value)
    assert info.value.label == "ENC-4"


@pytest.mark.req("ENC-5", "ERR-2")
@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.uint16, np.bool_, np.float32])
def test_bits_of_another_dtype_are_rejected(dtype):
    with pytest.raises(DTypeError) as info:
        check_bits(np.array([0, 1], dtype), "x")
    assert info.value.tensor == "x"
    assert str(np.dtype(dtype)) in str(info.value)
    assert str(info.value).endswith("[ENC-5]")


@pytest.mark.req("ENC-5", "ERR-1")
@pytest.mark.parametrize("bad", [2, 255])
def test_bits_other_than_zero_and_one_are_rejected(bad):
    bits = np.array([[0, 1], [1, bad]], np.uint8)
    with pytest.raises(NonBinaryError) as info:
        to_pm1(bits, "x")
    assert f"{bad} at index [1, 1]" in str(info.value)
    assert "bits in {0, 1}" in str(info.value)
    assert str(info.value).endswith("[ENC-5]")


@pytest.mark.req("ENC-5")
@given(small_shapes.flatmap(bit_arrays))
def test_check_bits_accepts_every_bit_tensor(bits):
    assert np.array_equal(check_bits(bits, "x"), bits)


@pytest.mark.req("ENC-5", "NET-7")
def test_inside_a_forward_pass_only_the_dtype_of_the_ops_own_bits_is_checked():
    two = np.array([0, 2], np.uint8)
    seen = []
    with ops_own_bits():
        assert check_bits(two, "x") is not None  # an op's own output is not scanned again
        with pytest.raises(DTypeError):
            check_bits(two.astype(np.int8), "x")
        other = threading.Thread(target=lambda: seen.append(_raises(two)))
        other.start()
        other.join()
    assert seen == [True]  # another thread still scans every value
    assert _raises(two)  # and so does this one once the pass is over


def _raises(bits: np.ndarray) -> bool:
    try:
        check_bits(bits, "x")
    except NonBinaryError:
        return True
    return False
