"""The datapath's packed layout (equivalence.datapath.layout) against bit-by-bit construction."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import bit_arrays

from boolnet_spec.equivalence.datapath.layout import (
    WORD,
    PackedBits,
    check_unused_zero,
    pack_activations,
    pack_weights,
    unpack_activations,
    used_mask,
    words_for,
)
from boolnet_spec.equivalence.datapath.mvu import MVUConfig, matrix_vector
from boolnet_spec.equivalence.datapath.permute import select_groups
from boolnet_spec.reference.channels import flatten_slices
from boolnet_spec.reference.errors import DomainError, DTypeError, NonBinaryError, ShapeError


@st.composite
def activation_bits(draw, max_channels: int = 140):
    """Bits ``[N, S, C, H, W]`` with C often not a multiple of 64 (and sometimes above it)."""
    channels = draw(st.one_of(st.integers(1, 10), st.integers(60, max_channels),
                              st.sampled_from([64, 128])))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 4)), channels,
             draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return draw(bit_arrays(shape))


def word_value(bits) -> int:
    """The integer whose bit ``i`` is ``bits[i]``."""
    return sum(int(b) << i for i, b in enumerate(bits))


@pytest.mark.req("PACK-1", "PACK-2")
@given(activation_bits())
def test_channel_c_of_slice_j_is_bit_c_mod_64_of_word_c_div_64(x):
    packed = pack_activations(x)
    n, s, c, h, w = x.shape
    assert packed.words.dtype == np.uint64
    assert packed.words.shape == (n, h, w, s, words_for(c))
    for b, y, xx, j in np.ndindex(n, h, w, s):
        channels = x[b, j, :, y, xx]
        for k in range(words_for(c)):
            assert int(packed.words[b, y, xx, j, k]) == word_value(channels[64 * k:64 * k + 64])


@pytest.mark.req("PACK-1")
def test_a_word_in_memory_is_little_endian_bytes():
    bits = np.zeros((1, 1, 64, 1, 1), np.uint8)
    bits[0, 0, [0, 9, 63], 0, 0] = 1
    word = pack_activations(bits).words[0, 0, 0, 0, 0]
    assert int(word) == (1 << 0) | (1 << 9) | (1 << 63)
    assert word.astype("<u8").tobytes() == bytes([0x01, 0x02, 0, 0, 0, 0, 0, 0x80])


@pytest.mark.req("PACK-2", "PACK-3")
@given(activation_bits())
def test_unpack_inverts_pack_and_unused_bits_are_zero(x):
    packed = pack_activations(x)
    assert np.array_equal(unpack_activations(packed), x)
    assert unpack_activations(packed).dtype == np.uint8
    assert not (packed.words & ~used_mask(x.shape[2])).any()


@pytest.mark.req("PACK-3")
@given(activation_bits(max_channels=127).filter(lambda x: x.shape[2] % 64), st.data())
def test_garbage_in_an_unused_bit_is_rejected(x, data):
    packed = pack_activations(x)
    channels = x.shape[2]
    bit = data.draw(st.integers(channels % 64, 63))
    index = tuple(data.draw(st.integers(0, d - 1)) for d in packed.words.shape[:4])
    words = packed.words.copy()
    words[(*index, -1)] |= np.uint64(1 << bit)
    with pytest.raises(DomainError, match=r"\[PACK-3\]$"):
        unpack_activations(PackedBits(words, channels))
    with pytest.raises(DomainError, match="unused bits"):
        check_unused_zero(words, channels, "x")


@pytest.mark.req("PACK-3")
def test_an_unused_bit_would_count_as_a_mismatch_at_every_tap():
    # Why garbage is rejected: a 0/0 pad adds nothing to popcount(a XOR w), a 1/0 pad adds 1.
    windows = np.zeros((1, 1, 1), WORD)
    rows = np.zeros((1, 1, 1), WORD)
    clean = matrix_vector(windows, rows, 3, MVUConfig())
    windows[0, 0, 0] = np.uint64(1 << 40)
    dirty = matrix_vector(windows, rows, 3, MVUConfig())
    assert clean[0, 0] == 0 and dirty[0, 0] == 1


@pytest.mark.req("PACK-4")
@given(st.integers(1, 3), st.integers(1, 130), st.integers(1, 3), st.integers(1, 3), st.data())
def test_weight_rows_are_tap_aligned_per_output_channel(cout, cin, kh, kw, data):
    w = data.draw(bit_arrays((cout, cin, kh, kw)))
    rows = pack_weights(w)
    assert rows.dtype == np.uint64
    assert rows.shape == (cout, kh * kw, words_for(cin))
    for o, ky, kx in np.ndindex(cout, kh, kw):
        for k in range(words_for(cin)):
            assert int(rows[o, ky * kw + kx, k]) == word_value(w[o, 64 * k:64 * k + 64, ky, kx])


@pytest.mark.req("PACK-5", "PERM-4")
@given(activation_bits(max_channels=100), st.data())
def test_group_input_vector_of_read_all_packs_the_flattened_channels(x, data):
    slices, channels = x.shape[1:3]
    total = slices * channels
    groups = data.draw(st.sampled_from([g for g in range(1, total + 1) if total % g == 0][:6]))
    vectors = select_groups(pack_activations(x), groups, "all")
    flat = flatten_slices(x)                                     # [N, S*C, H, W]
    per_group = total // groups
    assert vectors.shape[3:] == (groups, words_for(per_group))
    for g in range(groups):
        expected = pack_activations(flat[:, None, g * per_group:(g + 1) * per_group])
        assert np.array_equal(vectors[:, :, :, g], expected.words[:, :, :, 0])


@pytest.mark.req("PACK-5", "PERM-4")
@given(activation_bits(max_channels=100), st.data())
def test_group_input_vector_of_read_slices_is_the_selected_slice(x, data):
    slices = x.shape[1]
    groups = data.draw(st.integers(1, slices))
    vectors = select_groups(pack_activations(x), groups, "slices")
    chosen = [slices // 2] if groups == 1 else range((slices - groups) // 2,
                                                     (slices + groups) // 2)
    for g, j in enumerate(chosen):
        assert np.array_equal(vectors[:, :, :, g], pack_activations(x).words[:, :, :, j])


@pytest.mark.req("PACK-2", "PACK-4")
def test_packing_rejects_what_is_not_a_bit_tensor():
    with pytest.raises(DTypeError, match=r"\[PACK-2\]$"):
        pack_activations(np.zeros((1, 1, 2, 1, 1), np.int8))
    with pytest.raises(ShapeError, match=r"\[PACK-2\]$"):
        pack_activations(np.zeros((1, 2, 1, 1), np.uint8))
    with pytest.raises(NonBinaryError, match=r"\[PACK-4\]$"):
        pack_weights(np.full((1, 1, 1, 1), 2, np.uint8))
    with pytest.raises(ShapeError, match=r"\[PACK-2\]$"):
        PackedBits(np.zeros((1, 1, 1, 1, 2), WORD), 64)
    with pytest.raises(DTypeError, match=r"\[PACK-2\]$"):
        PackedBits(np.zeros((1, 1, 1, 1, 1), np.int64), 64)
