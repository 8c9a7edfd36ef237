"""Padding of bit maps (reference.padding) against per-pixel index arithmetic and torch."""

from __future__ import annotations

import numpy as np
import pytest
from extras import needs_torch, torch
from hypothesis import given
from hypothesis import strategies as st
from naive import ops as naive
from naive.ops import spec_message
from strategies import bit_arrays

from boolnet_spec.reference.errors import DomainError, DTypeError, NonBinaryError, ShapeError
from boolnet_spec.reference.padding import PAD_MODES, pad_bits


@st.composite
def padded_maps(draw):
    """A bit map of rank 2 to 4 with H, W <= 4, a mode, and a padding up to 2*max(H, W) + 1."""
    lead = draw(st.lists(st.integers(1, 2), max_size=2))
    height, width = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x = draw(bit_arrays((*lead, height, width)))
    mode = draw(st.sampled_from(PAD_MODES))
    padding = 0 if mode == "none" else draw(st.integers(0, 2 * max(height, width) + 1))
    return x, padding, mode


@pytest.mark.req("PAD-1", "PAD-2", "PAD-3")
@given(padded_maps())
def test_pad_bits_equals_index_arithmetic(case):
    x, padding, mode = case
    out = pad_bits(x, padding, mode)
    assert out.dtype == np.uint8
    assert np.array_equal(out, naive.pad_bits(x, padding, mode))


@needs_torch
@pytest.mark.req("PAD-1")
@given(padded_maps().filter(lambda case: case[2] == "replicate"))
def test_replicate_equals_the_authors_replication_pad(case):
    x, padding, _ = case
    planes = torch.from_numpy(x.reshape(-1, 1, *x.shape[-2:]).astype(np.float64) * 2 - 1)
    out = pad_bits(x, padding, "replicate")
    authors = torch.nn.ReplicationPad2d((padding,) * 4)(planes).numpy().reshape(out.shape)
    assert np.array_equal(out, (authors == 1).astype(np.uint8))


@pytest.mark.req("PAD-1")
def test_replicate_clamps_when_padding_exceeds_the_map():
    # Two rows, p = 5: the five rows above copy row 0, the five below copy row 1, columns clamp.
    x = np.array([[1, 0], [0, 1]], np.uint8)
    out = pad_bits(x, 5, "replicate")
    assert out.shape == (12, 12)
    assert np.array_equal(out[:6, :6], np.ones((6, 6), np.uint8))
    assert np.array_equal(out[:6, 6:], np.zeros((6, 6), np.uint8))
    assert np.array_equal(out[6:, :6], np.zeros((6, 6), np.uint8))
    assert np.array_equal(out[6:, 6:], np.ones((6, 6), np.uint8))


@pytest.mark.req("PAD-2")
@given(padded_maps().filter(lambda case: case[2] == "one"))
def test_one_padding_frames_the_map_with_ones(case):
    x, p, _ = case
    out = pad_bits(x, p, "one")
    height, width = x.shape[-2:]
    assert np.array_equal(out[..., p:p + height, p:p + width], x)
    frame = np.ones(out.shape, bool)
    frame[..., p:p + height, p:p + width] = False
    assert np.all(out[frame] == 1)


@pytest.mark.req("PAD-3")
@given(bit_arrays((2, 3)), st.sampled_from(PAD_MODES))
def test_p_zero_returns_the_map_unchanged(x, mode):
    assert np.array_equal(pad_bits(x, 0, mode), x)


@pytest.mark.req("PAD-3", "ERR-1")
@pytest.mark.parametrize("mode", ["zero", "reflect", "constant", "", "Replicate"])
def test_modes_without_a_bit_are_rejected(mode):
    with pytest.raises(DomainError, match=spec_message(
            "pad_mode", "one of replicate, one, none", repr(mode), "PAD-3")):
        pad_bits(np.ones((2, 2), np.uint8), 1, mode)


@pytest.mark.req("PAD-3", "ERR-1")
@pytest.mark.parametrize("padding", [-1, -7, 1.5, "1", None])
def test_padding_must_be_a_non_negative_integer(padding):
    with pytest.raises(DomainError, match=spec_message(
            "padding", "an integer p >= 0", repr(padding), "PAD-3")):
        pad_bits(np.ones((2, 2), np.uint8), padding, "replicate")


@pytest.mark.req("PAD-3", "ERR-1")
def test_mode_none_refuses_a_padding():
    with pytest.raises(DomainError, match=spec_message(
            "padding", "p = 0 for pad_mode none", "2", "PAD-3")):
        pad_bits(np.ones((2, 2), np.uint8), 2, "none")


@pytest.mark.req("PAD-1", "ENC-5", "ERR-1")
@pytest.mark.parametrize("dtype", [bool, np.int8, np.float32, np.uint16])
def test_non_bit_dtype_is_rejected(dtype):
    with pytest.raises(DTypeError, match=spec_message(
            "x", "dtype uint8", str(np.dtype(dtype)), "ENC-5")):
        pad_bits(np.ones((2, 2), dtype), 1, "replicate")


@pytest.mark.req("PAD-1", "ENC-5", "ERR-1")
@pytest.mark.parametrize("value", [2, 255])
def test_non_binary_value_is_rejected(value):
    x = np.ones((2, 3), np.uint8)
    x[1, 2] = value
    with pytest.raises(NonBinaryError, match=spec_message(
            "x", "bits in {0, 1}", f"{value} at index [1, 2]", "ENC-5")):
        pad_bits(x, 1, "one")


@pytest.mark.req("PAD-1", "ERR-1")
@pytest.mark.parametrize("shape", [(3,), (), (2, 0), (0, 3), (1, 0, 2)])
def test_map_without_two_non_empty_spatial_axes_is_rejected(shape):
    with pytest.raises(ShapeError, match=spec_message(
            "x", "rank >= 2 [..., H, W] with H, W >= 1", str(list(shape)), "PAD-1")):
        pad_bits(np.ones(shape, np.uint8), 1, "replicate")
