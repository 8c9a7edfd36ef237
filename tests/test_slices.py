"""The multi-slice quantizer (reference.slices): the authors' offsets and exact decisions."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from extras import needs_torch, torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from naive import ops as naive
from naive.ops import spec_message
from strategies import float32s

from boolnet_spec.reference.errors import DomainError, DTypeError, NonFiniteError
from boolnet_spec.reference.slices import slice_offsets, slice_quantize


def authors_offsets(slices: int) -> np.ndarray:
    """The offsets of the authors' ``GhostSign(mode="uniform")``, built as its __init__ does."""
    k = slices // 2
    slice_1, slice_2 = [], []
    for i in range(-k, k + 1):
        if i != 0 and k != 0:
            (slice_1 if i < 0 else slice_2).append(1.0 / float(k + 1) * i)
    if not slice_1 + slice_2:
        return torch.zeros(1, 1, 1, 1, 1).numpy().ravel()
    return torch.cat((torch.Tensor(slice_1).reshape(1, -1, 1, 1, 1),
                      torch.Tensor(slice_2).reshape(1, -1, 1, 1, 1)), dim=1).numpy().ravel()


@needs_torch
@pytest.mark.req("SLICE-1")
@pytest.mark.parametrize("slices", [1, 2, 4, 6, 8, 10])
def test_offsets_are_the_authors_float32_values(slices):
    offsets = slice_offsets(slices)
    assert offsets.dtype == np.float32
    assert offsets.shape == (slices,)
    assert np.array_equal(offsets.view(np.uint32), authors_offsets(slices).view(np.uint32))


@pytest.mark.req("SLICE-1")
def test_four_slices_are_thirds():
    expected = np.array([-2 / 3, -1 / 3, 1 / 3, 2 / 3], np.float32)
    assert np.array_equal(slice_offsets(4), expected)
    assert np.array_equal(slice_offsets(1), np.zeros(1, np.float32))


@pytest.mark.req("SLICE-1")
@pytest.mark.parametrize("slices", [2, 4, 6, 8, 10, 12, 20])
def test_offsets_are_increasing_and_symmetric(slices):
    offsets = slice_offsets(slices)
    assert np.all(np.diff(offsets) > 0)
    assert np.array_equal(offsets, -offsets[::-1])


@pytest.mark.req("SLICE-1", "ERR-1")
@pytest.mark.parametrize("slices", [0, -1, -2, 3, 5, 11, 2.0, "4", None])
def test_zero_negative_and_odd_slice_counts_are_rejected(slices):
    with pytest.raises(DomainError, match=spec_message(
            "slices", "S = 1 or an even S >= 2", repr(slices), "SLICE-1")):
        slice_offsets(slices)


@st.composite
def near_offsets(draw, offsets: np.ndarray, dtype):
    """A value of ``dtype`` at, just below or just above some ``-o_j``, or a zero of either sign."""
    bounds = [dtype(-o) for o in offsets.astype(dtype)]
    edges = [v for b in bounds for v in (b, np.nextafter(b, dtype(-np.inf)),
                                         np.nextafter(b, dtype(np.inf)))]
    return draw(st.sampled_from([*edges, dtype(0.0), dtype(-0.0)]))


@st.composite
def quantizer_inputs(draw):
    """A float32 or float64 z[N, C, H, W] mixing ordinary values with values at the bounds."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    offsets = slice_offsets(draw(st.sampled_from([1, 2, 4, 6])))
    ordinary = st.floats(-2.0, 2.0, width=32 if dtype == np.float32 else 64)
    elements = near_offsets(offsets, dtype) | ordinary.map(dtype) | \
        st.sampled_from([dtype(np.inf), dtype(-np.inf)])
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3)),
             draw(st.integers(1, 3)))
    return draw(hnp.arrays(dtype, shape, elements=elements)), offsets


@pytest.mark.req("SLICE-2")
@given(quantizer_inputs())
def test_quantizer_decides_z_plus_o_on_exact_values(case):
    z, offsets = case
    out = slice_quantize(z, offsets)
    assert out.dtype == np.uint8
    assert out.shape == (z.shape[0], len(offsets), *z.shape[1:])
    for b, j, c, y, x in np.ndindex(out.shape):
        assert out[b, j, c, y, x] == naive.slice_bit(z[b, c, y, x], offsets[j])


@pytest.mark.req("SLICE-2", "ENC-2")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ties_and_their_neighbours(dtype):
    offsets = slice_offsets(4)
    for j, o in enumerate(offsets):
        tie = -dtype(o)
        z = np.array([tie, np.nextafter(tie, dtype(-np.inf)), np.nextafter(tie, dtype(np.inf))],
                     dtype).reshape(3, 1, 1, 1)
        assert np.array_equal(slice_quantize(z, offsets)[:, j].ravel(), [1, 0, 1])
    zeros = np.array([0.0, -0.0], dtype).reshape(2, 1, 1, 1)
    assert np.array_equal(slice_quantize(zeros, slice_offsets(1)).ravel(), [1, 1])


@pytest.mark.req("SLICE-2")
def test_float64_input_is_not_rounded_to_float32_first():
    # -1/3 in float64 lies strictly between two float32 values; rounding z to float32 would tie.
    offsets = slice_offsets(4)
    tie = -np.float64(offsets[2])
    just_above, just_below = np.nextafter(tie, np.inf), np.nextafter(tie, -np.inf)
    assert np.float32(just_above) == np.float32(just_below) == -offsets[2]
    z = np.array([just_above, just_below]).reshape(2, 1, 1, 1)
    assert np.array_equal(slice_quantize(z, offsets)[:, 2].ravel(), [1, 0])


@st.composite
def float32_features(draw):
    """float32 y[N, C, H, W] with exact ties to the 4-slice offsets among ordinary values."""
    offsets = slice_offsets(4)
    elements = near_offsets(offsets, np.float32) | float32s(-2.0, 2.0)
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3)),
             draw(st.integers(1, 3)))
    return draw(hnp.arrays(np.float32, shape, elements=elements))


@needs_torch
@pytest.mark.req("SLICE-3", "ENC-4")
@given(float32_features())
def test_quantizer_equals_the_authors_float32_ghostsign_but_for_its_zero(y):
    offsets = slice_offsets(4)
    # The authors' GhostSign forward: x.unsqueeze(1) + slice, then sign, all float32.
    signs = torch.sign(torch.from_numpy(y).unsqueeze(1)
                       + torch.from_numpy(offsets).reshape(1, -1, 1, 1, 1)).numpy()
    out = slice_quantize(y, offsets)
    assert np.array_equal(out, (signs != -1).astype(np.uint8))
    ties = np.zeros(signs.shape, bool)
    for b, j, c, i, k in np.ndindex(ties.shape):
        ties[b, j, c, i, k] = Fraction(float(y[b, c, i, k])) + Fraction(float(offsets[j])) == 0
    assert np.array_equal(signs == 0, ties)


@pytest.mark.req("SLICE-2", "ERR-1")
@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.float16, bool])
def test_non_float_input_is_rejected(dtype):
    with pytest.raises(DTypeError, match=spec_message(
            "z", "dtype float32 or float64", str(np.dtype(dtype)), "SLICE-2")):
        slice_quantize(np.zeros((1, 1, 2, 2), dtype), slice_offsets(4))


@pytest.mark.req("SLICE-2", "ENC-3", "ERR-1")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_input_is_rejected(dtype):
    z = np.zeros((1, 2, 2, 2), dtype)
    z[0, 1, 0, 1] = np.nan
    with pytest.raises(NonFiniteError, match=spec_message(
            "z", "no NaN in the argument of sign", "nan at index [0, 1, 0, 1]", "ENC-3")):
        slice_quantize(z, slice_offsets(2))


@pytest.mark.req("SLICE-2", "ERR-1")
def test_offsets_must_be_finite_float32():
    z = np.zeros((1, 1, 1, 1), np.float32)
    with pytest.raises(DTypeError, match=spec_message(
            "slice offsets", "dtype float32", "float64", "SLICE-2")):
        slice_quantize(z, slice_offsets(4).astype(np.float64))
    with pytest.raises(NonFiniteError, match=spec_message(
            "slice offsets", "finite values", "inf at index [1]", "SLICE-2")):
        slice_quantize(z, np.array([0.0, np.inf], np.float32))
