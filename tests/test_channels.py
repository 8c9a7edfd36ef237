"""Slice flattening, the feature-reuse split and the channel shuffle (reference.channels)."""

from __future__ import annotations

import numpy as np
import pytest
from extras import needs_torch, torch
from hypothesis import given
from hypothesis import strategies as st
from naive import ops as naive
from naive.ops import spec_message
from strategies import bit_arrays

from boolnet_spec.reference.channels import flatten_slices, shuffle_channels, split_channels
from boolnet_spec.reference.errors import DTypeError, NonBinaryError, ShapeError


@st.composite
def slice_maps(draw, even_channels: bool = False):
    """Bits [N, S, C, H, W] with small sizes; C even on request."""
    channels = draw(st.integers(1, 3)) * (2 if even_channels else 1)
    shape = (draw(st.integers(1, 2)), draw(st.sampled_from([1, 2, 4])), channels,
             draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return draw(bit_arrays(shape))


@st.composite
def shuffle_pairs(draw):
    """Two bit maps of one shape [N, S, C, H, W]."""
    z1 = draw(slice_maps())
    return z1, draw(bit_arrays(z1.shape))


@pytest.mark.req("CHAN-1")
@given(slice_maps())
def test_flatten_puts_slice_j_channel_c_at_j_times_c_plus_c(x):
    assert np.array_equal(flatten_slices(x), naive.flatten_slices(x))


@needs_torch
@pytest.mark.req("CHAN-1")
@given(slice_maps())
def test_flatten_equals_the_authors_view(x):
    batch, _, _, height, width = x.shape
    assert np.array_equal(flatten_slices(x), torch.from_numpy(x).view(batch, -1, height, width))


@pytest.mark.req("CHAN-2")
@given(slice_maps(even_channels=True))
def test_split_takes_the_channel_halves_of_every_slice(x):
    first, second = split_channels(x)
    expected_first, expected_second = naive.split_channels(x)
    assert np.array_equal(first, expected_first)
    assert np.array_equal(second, expected_second)


@pytest.mark.req("CHAN-3")
@given(shuffle_pairs())
def test_shuffle_interleaves_by_index_arithmetic(pair):
    z1, z2 = pair
    assert np.array_equal(shuffle_channels(z1, z2), naive.shuffle_channels(z1, z2))


@needs_torch
@pytest.mark.req("CHAN-3")
@given(shuffle_pairs())
def test_shuffle_equals_the_authors_cat_transpose_view(pair):
    z1, z2 = (torch.from_numpy(z.astype(np.float32) * 2 - 1) for z in pair)
    batch, slices, _, height, width = z1.shape
    z = torch.cat((z1.unsqueeze(2), z2.unsqueeze(2)), dim=2)
    authors = z.transpose(2, 3).contiguous().view(batch, slices, -1, height, width)
    assert np.array_equal(shuffle_channels(*pair), (authors.numpy() == 1).astype(np.uint8))


@pytest.mark.req("CHAN-2", "CHAN-3")
@given(slice_maps(even_channels=True))
def test_split_then_shuffle_carries_both_halves(x):
    # Even output channels are the first half, odd ones the carried second half (BoolNet block).
    out = shuffle_channels(*split_channels(x))
    half = x.shape[2] // 2
    assert np.array_equal(out[:, :, 0::2], x[:, :, :half])
    assert np.array_equal(out[:, :, 1::2], x[:, :, half:])


@pytest.mark.req("CHAN-2", "ERR-1")
@pytest.mark.parametrize("channels", [1, 3, 5])
def test_split_of_odd_channels_is_rejected(channels):
    with pytest.raises(ShapeError, match=spec_message(
            "x", "an even channel count C", str(channels), "CHAN-2")):
        split_channels(np.zeros((1, 4, channels, 2, 2), np.uint8))


@pytest.mark.req("CHAN-3", "ERR-1")
@pytest.mark.parametrize("shape", [(1, 4, 3, 2, 2), (1, 2, 2, 2, 2), (2, 4, 2, 2, 2),
                                   (1, 4, 2, 2, 3)])
def test_shuffle_of_different_shapes_is_rejected(shape):
    with pytest.raises(ShapeError, match=spec_message(
            "z2", "the shape of z1 [1, 4, 2, 2, 2]", str(list(shape)), "CHAN-3")):
        shuffle_channels(np.zeros((1, 4, 2, 2, 2), np.uint8), np.zeros(shape, np.uint8))


@pytest.mark.req("CHAN-1", "CHAN-2", "CHAN-3", "ERR-1")
@pytest.mark.parametrize(("op", "label", "tensor"), [
    (flatten_slices, "CHAN-1", "x"), (split_channels, "CHAN-2", "x"),
    (lambda x: shuffle_channels(x, x), "CHAN-3", "z1")])
@pytest.mark.parametrize("shape", [(2, 4, 3, 3), (1, 1, 2, 2, 2, 2)])
def test_rank_other_than_five_is_rejected(op, label, tensor, shape):
    with pytest.raises(ShapeError, match=spec_message(
            tensor, "rank 5 [N, S, C, H, W]", str(list(shape)), label)):
        op(np.zeros(shape, np.uint8))


@pytest.mark.req("CHAN-1", "CHAN-2", "CHAN-3", "ENC-5", "ERR-1")
@pytest.mark.parametrize(("op", "tensor"), [(flatten_slices, "x"), (split_channels, "x"),
                                            (lambda x: shuffle_channels(x, x), "z1")])
def test_non_bits_are_rejected(op, tensor):
    with pytest.raises(DTypeError, match=spec_message(tensor, "dtype uint8", "float32", "ENC-5")):
        op(np.zeros((1, 2, 2, 2, 2), np.float32))
    bad = np.zeros((1, 2, 2, 2, 2), np.uint8)
    bad[0, 1, 0, 1, 1] = 2
    with pytest.raises(NonBinaryError, match=spec_message(
            tensor, "bits in {0, 1}", "2 at index [0, 1, 0, 1, 1]", "ENC-5")):
        op(bad)


@pytest.mark.req("CHAN-3", "ENC-5", "ERR-1")
def test_shuffle_checks_z2_bits():
    bad = np.zeros((1, 2, 2, 2, 2), np.uint8)
    bad[0, 0, 1, 0, 0] = 255
    with pytest.raises(NonBinaryError, match=spec_message(
            "z2", "bits in {0, 1}", "255 at index [0, 0, 1, 0, 0]", "ENC-5")):
        shuffle_channels(np.zeros((1, 2, 2, 2, 2), np.uint8), bad)
