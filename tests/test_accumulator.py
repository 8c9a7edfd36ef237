"""Accumulator: s = 2*popcount(XNOR) - n, its domain D_n and its Int16 bound."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from naive.threshold import domain as naive_domain
from strategies import bit_arrays

from boolnet_spec.reference.accumulator import (
    ACC_DTYPE,
    N_MAX,
    check_n,
    domain,
    popcount_to_accumulator,
)
from boolnet_spec.reference.errors import BoundError, DTypeError


@st.composite
def dot_products(draw) -> tuple[int, np.ndarray, np.ndarray]:
    """(n, activation bits [R, n], weight bits [R, n]) for a few rows of one dot-product length."""
    n = draw(st.integers(1, 80))
    rows = draw(st.integers(1, 4))
    return n, draw(bit_arrays((rows, n))), draw(bit_arrays((rows, n)))


@pytest.mark.req("ACC-1")
@given(dot_products())
def test_accumulator_is_the_pm1_dot_product(case):
    n, activations, weights = case
    popcounts = np.array([sum(int(a == w) for a, w in zip(row_a, row_w, strict=True))
                          for row_a, row_w in zip(activations, weights, strict=True)])
    dot = [sum((2 * int(a) - 1) * (2 * int(w) - 1) for a, w in zip(row_a, row_w, strict=True))
           for row_a, row_w in zip(activations, weights, strict=True)]
    s = popcount_to_accumulator(popcounts, n)
    assert s.dtype == ACC_DTYPE
    assert s.tolist() == dot


@pytest.mark.req("ACC-2")
@given(dot_products())
def test_every_accumulator_lies_in_d_n(case):
    n, activations, weights = case
    popcounts = np.array([int(np.sum(a == w)) for a, w in zip(activations, weights, strict=True)])
    for s in popcount_to_accumulator(popcounts, n).tolist():
        assert -n <= s <= n
        assert (s - n) % 2 == 0
        assert s in naive_domain(n)


@pytest.mark.req("ACC-2")
@pytest.mark.parametrize("n", [*range(1, 12), 576, N_MAX])
def test_domain_is_every_second_integer_from_minus_n_to_n(n):
    d = domain(n)
    assert d.dtype == ACC_DTYPE
    assert len(d) == n + 1
    assert d.tolist() == naive_domain(n)
    assert (d[0], d[-1]) == (-n, n)
    assert {int(v) % 2 for v in d} == {n % 2}


@pytest.mark.req("ACC-3")
def test_int16_holds_the_extremes_at_n_max():
    assert N_MAX == 32765 == np.iinfo(np.int16).max - 2
    assert check_n(N_MAX) == N_MAX
    s = popcount_to_accumulator(np.array([0, N_MAX], np.int64), N_MAX)
    assert s.tolist() == [-N_MAX, N_MAX]
    # the largest canonical threshold, constant 0, is n + 2 (THR-2)
    assert int(np.int16(N_MAX + 2)) == N_MAX + 2


@pytest.mark.req("ACC-3")
def test_popcount_beyond_a_signed_dot_product_width_is_kept():
    # a width chosen from the signed range [-576, 576] alone would be 10 bits, max 511 < 576
    n = 576
    assert popcount_to_accumulator(np.array([n, 0, 300]), n).tolist() == [576, -576, 24]


@pytest.mark.req("ACC-3", "ERR-2")
@pytest.mark.parametrize("n", [0, -1, N_MAX + 1, 40000, 2**70])
def test_n_beyond_the_bound_is_a_bound_error(n):
    with pytest.raises(BoundError) as info:
        check_n(n, "--n")
    assert info.value.tensor == "--n"
    assert f"N_MAX = {N_MAX}" in str(info.value)
    assert f"got {n} [ACC-3]" in str(info.value)


@pytest.mark.req("ACC-3", "ERR-2")
@pytest.mark.parametrize("n", [3.0, 2.5, "3", True, None])
def test_non_integer_n_is_a_dtype_error(n):
    with pytest.raises(DTypeError) as info:
        domain(n)
    assert type(n).__name__ in str(info.value)
    assert info.value.label == "ACC-3"


@pytest.mark.req("ACC-3")
@pytest.mark.parametrize("n", [np.int64(7), np.int16(7), np.uint8(7)])
def test_numpy_integer_n_is_accepted_as_int(n):
    assert check_n(n) == 7
    assert type(check_n(n)) is int
