"""The datapath's units on packed words against the reference ops on unpacked bits."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import bit_arrays

from boolnet_spec.equivalence.datapath.layout import (
    WORD,
    PackedBits,
    pack_activations,
    pack_bits_last,
    pack_weights,
    unpack_activations,
    unpack_bits_last,
    used_mask,
)
from boolnet_spec.equivalence.datapath.line_buffer import (
    line_buffer_bits,
    output_size,
    pad_pixels,
    windows,
)
from boolnet_spec.equivalence.datapath.logic_unit import logic_or, xnor
from boolnet_spec.equivalence.datapath.mvu import (
    MVUConfig,
    matrix_vector,
    minimal_width,
    mismatches_to_accumulator,
    neuron_folds,
    signed_width,
    synapse_folds,
)
from boolnet_spec.equivalence.datapath.permute import concat, extract, select_groups, shuffle, split
from boolnet_spec.equivalence.datapath.pool_unit import max_pool, threshold_pool
from boolnet_spec.equivalence.datapath.threshold_unit import ThresholdUnit
from boolnet_spec.reference.bconv import binary_conv2d
from boolnet_spec.reference.channels import shuffle_channels, split_channels
from boolnet_spec.reference.errors import BoundError, DomainError, DTypeError, ShapeError
from boolnet_spec.reference.logic import logic_or as reference_or
from boolnet_spec.reference.logic import logic_xnor as reference_xnor
from boolnet_spec.reference.maxpool import binary_maxpool, threshold_maxpool
from boolnet_spec.reference.padding import pad_bits
from boolnet_spec.reference.threshold import ThresholdUnits, canonical_unit, threshold_slices

CHANNELS = st.one_of(st.integers(1, 9), st.integers(28, 36), st.integers(60, 70),
                     st.integers(120, 136))


@st.composite
def bit_tensors(draw, channels=CHANNELS, even: bool = False, max_size: int = 4):
    c = draw(channels)
    if even:
        c += c % 2
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 4)), c,
             draw(st.integers(1, max_size)), draw(st.integers(1, max_size)))
    return draw(bit_arrays(shape))


def with_garbage(x: PackedBits) -> PackedBits:
    words = x.words.copy()
    words[..., -1] |= np.uint64(1 << 63)
    return PackedBits(words, x.channels)


# Permutation unit ---------------------------------------------------------------------------

@pytest.mark.req("PERM-1")
@given(st.integers(1, 200), st.data())
def test_extract_and_concat_move_exactly_the_used_bits(total, data):
    bits = data.draw(bit_arrays((2, total)))
    words = pack_bits_last(bits)
    start = data.draw(st.integers(0, total - 1))
    length = data.draw(st.integers(1, total - start))
    field = extract(words, start, length)
    assert np.array_equal(field, pack_bits_last(bits[:, start:start + length]))
    cut = data.draw(st.integers(1, total))
    parts = [(pack_bits_last(bits[:, :cut]), cut)]
    if cut < total:
        parts.append((pack_bits_last(bits[:, cut:]), total - cut))
    assert np.array_equal(concat(parts), words)


@pytest.mark.req("PERM-2")
@given(bit_tensors(even=True))
def test_split_equals_the_reference_split(x):
    first, second = split(pack_activations(x))
    expected = split_channels(x)
    assert np.array_equal(unpack_activations(first), expected[0])
    assert np.array_equal(unpack_activations(second), expected[1])
    for half in (first, second):
        assert not (half.words & ~used_mask(half.channels)).any()


@pytest.mark.req("PERM-2", "PACK-3")
def test_split_rejects_an_odd_channel_count_and_garbage():
    with pytest.raises(ShapeError, match=r"\[PERM-2\]$"):
        split(pack_activations(np.zeros((1, 1, 3, 1, 1), np.uint8)))
    with pytest.raises(DomainError, match=r"\[PACK-3\]$"):
        split(with_garbage(pack_activations(np.zeros((1, 1, 4, 1, 1), np.uint8))))


@pytest.mark.req("PERM-3")
@given(bit_tensors(), st.data())
def test_shuffle_interleaves_like_the_reference(z1, data):
    z2 = data.draw(bit_arrays(z1.shape))
    out = shuffle(pack_activations(z1), pack_activations(z2))
    assert out.channels == 2 * z1.shape[2]
    assert np.array_equal(unpack_activations(out), shuffle_channels(z1, z2))
    assert not (out.words & ~used_mask(out.channels)).any()


@pytest.mark.req("PERM-3")
def test_shuffle_rejects_operands_of_different_shapes():
    a = pack_activations(np.zeros((1, 1, 4, 2, 2), np.uint8))
    b = pack_activations(np.zeros((1, 1, 6, 2, 2), np.uint8))
    with pytest.raises(ShapeError, match=r"\[PERM-3\]$"):
        shuffle(a, b)


@pytest.mark.req("PERM-4")
def test_group_selection_rejects_impossible_groups():
    x = pack_activations(np.zeros((1, 4, 3, 1, 1), np.uint8))
    with pytest.raises(DomainError, match=r"\[PERM-4\]$"):
        select_groups(x, 5, "slices")
    with pytest.raises(DomainError, match=r"\[PERM-4\]$"):
        select_groups(x, 5, "all")
    with pytest.raises(DomainError, match=r"\[PERM-4\]$"):
        select_groups(x, 0, "slices")


# Line buffer --------------------------------------------------------------------------------

@pytest.mark.req("LB-1")
@given(bit_tensors(max_size=3), st.sampled_from(["replicate", "one"]), st.integers(0, 3))
def test_padding_packed_pixels_equals_the_reference_padding(x, mode, padding):
    packed = pack_activations(x)
    padded = pad_pixels(packed.words, padding, mode, x.shape[2])
    expected = pad_bits(x, padding, mode)
    assert np.array_equal(unpack_activations(PackedBits(padded, x.shape[2])), expected)
    assert not (padded & ~used_mask(x.shape[2])).any()


@pytest.mark.req("LB-1")
def test_padding_modes_and_amounts_are_checked():
    words = np.zeros((1, 1, 1, 1, 1), WORD)
    with pytest.raises(DomainError, match=r"\[LB-1\]$"):
        pad_pixels(words, 1, "zero", 3)
    with pytest.raises(DomainError, match=r"\[LB-1\]$"):
        pad_pixels(words, 1, "none", 3)
    with pytest.raises(DomainError, match=r"\[LB-1\]$"):
        pad_pixels(words, -1, "one", 3)


@pytest.mark.req("LB-2")
@given(bit_tensors(max_size=6), st.integers(1, 3), st.integers(1, 3), st.integers(1, 2),
       st.integers(1, 2))
def test_window_word_t_k_is_word_k_of_tap_t(x, kh, kw, stride, dilation):
    height, width = x.shape[3:]
    out = (output_size(height, kh, stride, 0, dilation), output_size(width, kw, stride, 0,
                                                                     dilation))
    words = pack_activations(x).words
    if min(out) < 1:
        with pytest.raises(ShapeError, match=r"\[LB-2\]$"):
            windows(words, (kh, kw), stride, dilation, out)
        return
    win = windows(words, (kh, kw), stride, dilation, out)
    k = words.shape[-1]
    assert win.shape == (kh * kw * k, x.shape[0] * out[0] * out[1], x.shape[1])
    for index, (b, y, xx) in enumerate(np.ndindex(x.shape[0], *out)):
        for ky, kx in np.ndindex(kh, kw):
            tap = words[b, y * stride + ky * dilation, xx * stride + kx * dilation]  # [S, K]
            t = ky * kw + kx
            assert np.array_equal(win[t * k:(t + 1) * k, index], tap.T)


@pytest.mark.req("LB-3")
def test_line_buffer_capacity():
    # 3x3, dilation 2: 5 rows of 56 + 2*2 pixels of 4 groups of 1 word.
    assert line_buffer_bits(56, 3, 2, 2, 4, 1) == 64 * 5 * 60 * 4
    assert line_buffer_bits(7, 1, 0, 1, 1, 8) == 64 * 7 * 8


# Matrix-vector unit and accumulator ---------------------------------------------------------

@st.composite
def dense_cases(draw):
    """Grouped 1-pixel convolutions over arbitrary windows: windows, rows and n."""
    groups = draw(st.integers(1, 3))
    cin = draw(CHANNELS)
    taps = draw(st.integers(1, 3))
    per_group = draw(st.integers(1, 5))
    pixels = draw(st.integers(1, 4))
    x = draw(bit_arrays((pixels, groups, taps, cin)))
    w = draw(bit_arrays((groups * per_group, cin, taps, 1)))
    return x, w


def mvu_operands(x, w):
    pixels, groups, taps, cin = x.shape
    win = pack_bits_last(x).reshape(pixels, groups, -1).transpose(2, 0, 1)      # [K, P, G]
    rows = pack_weights(w).reshape(groups, w.shape[0] // groups, -1).transpose(2, 0, 1)
    return np.ascontiguousarray(win), np.ascontiguousarray(rows), cin * taps


@pytest.mark.req("MVU-1", "MVU-2")
@given(dense_cases(), st.sampled_from([1, 2, 8, 64, 128, 192, 4096]), st.integers(1, 9))
def test_mismatch_count_is_the_number_of_differing_bits(case, simd, pe):
    x, w = case
    win, rows, n = mvu_operands(x, w)
    d = matrix_vector(win, rows, n, MVUConfig(pe=pe, simd=simd))
    pixels, groups = x.shape[:2]
    per_group = w.shape[0] // groups
    expected = np.array([[int((x[p, o // per_group] != w[o, :, :, 0].T).sum())
                          for o in range(w.shape[0])] for p in range(pixels)])
    assert np.array_equal(d, expected)
    assert d.max(initial=0) <= n


@pytest.mark.req("MVU-2")
@given(bit_tensors(max_size=5), st.data())
def test_accumulator_n_minus_2d_equals_the_reference_convolution(x, data):
    n_, _, c, h, w_ = x.shape
    kh, kw = data.draw(st.integers(1, min(3, h))), data.draw(st.integers(1, min(3, w_)))
    cout = data.draw(st.integers(1, 5))
    weight = data.draw(bit_arrays((cout, c, kh, kw)))
    flat = x[:, :1]                                              # one slice, groups 1
    words = pack_activations(flat).words
    out = (h - kh + 1, w_ - kw + 1)
    win = windows(words, (kh, kw), 1, 1, out)
    rows = pack_weights(weight).reshape(1, cout, -1).transpose(2, 0, 1)
    d = matrix_vector(win, np.ascontiguousarray(rows), c * kh * kw, MVUConfig())
    s = mismatches_to_accumulator(d, c * kh * kw).reshape(n_, *out, cout).transpose(0, 3, 1, 2)
    expected = binary_conv2d(flat[:, 0], weight, pad_mode="none")
    assert s.dtype == np.int16 and np.array_equal(s, expected)


@pytest.mark.req("MVU-3", "ACCW-1")
@given(dense_cases(), st.sampled_from([1, 4, 16, 64, 128]))
def test_fold_partial_sums_never_decrease_so_the_final_value_decides(case, simd):
    x, w = case
    win, rows, n = mvu_operands(x, w)
    config = MVUConfig(simd=simd)
    folds = synapse_folds(win.shape[0], simd)
    # Simulate the register fold by fold, SIMD bits of the XOR stream at a time.
    xor = win[:, :, :, None] ^ rows[:, None, :, :]                         # [K, P, G, Co]
    stream = unpack_bits_last(np.moveaxis(xor, 0, -1), 64 * win.shape[0])  # [P, G, Co, 64K]
    partial = np.cumsum([stream[..., f * simd:(f + 1) * simd].sum(axis=-1)
                         for f in range(folds)], axis=0)
    assert (np.diff(partial, axis=0) >= 0).all()
    final = matrix_vector(win, rows, n, config)
    assert np.array_equal(partial[-1].reshape(final.shape), final)
    assert np.array_equal(partial.max(axis=0).reshape(final.shape), final)


@pytest.mark.req("MVU-1")
def test_the_unit_reads_words_only():
    with pytest.raises(DTypeError, match=r"\[MVU-1\]$"):
        matrix_vector(np.zeros((1, 1, 1), np.int64), np.zeros((1, 1, 1), WORD), 1, MVUConfig())
    with pytest.raises(ShapeError, match=r"\[MVU-1\]$"):
        matrix_vector(np.zeros((2, 1, 1), WORD), np.zeros((1, 1, 1), WORD), 1, MVUConfig())


@pytest.mark.req("MVU-3")
def test_fold_counts():
    assert synapse_folds(9, 64) == 9 and synapse_folds(9, 128) == 5 and synapse_folds(9, 8) == 72
    assert synapse_folds(72, 4608) == 1
    assert neuron_folds(64, 64) == 1 and neuron_folds(65, 64) == 2 and neuron_folds(5, 1) == 5


@pytest.mark.req("MVU-3", "ACCW-1")
@pytest.mark.parametrize("field, value", [("pe", 0), ("simd", 48), ("simd", 96), ("simd", 0),
                                          ("acc_bits", 0), ("acc_bits", 33), ("pe", 1.5),
                                          ("acc_bits", True)])
def test_configuration_is_checked(field, value):
    with pytest.raises(DomainError, match=r"\[(MVU-3|ACCW-1)\]$"):
        MVUConfig(**{field: value})


def all_mismatch_case(cin: int, kernel: int):
    """A one-pixel convolution whose window is the complement of the weight row: d = n."""
    weight = np.random.default_rng(cin).integers(0, 2, (1, cin, kernel, kernel), np.uint8)
    x = (1 - weight[0]).transpose(1, 2, 0)[None, None]           # [1, 1, kh, kw, Cin] ... as
    x = np.ascontiguousarray(x.transpose(0, 1, 4, 2, 3))         # bits [N=1, S=1, Cin, kh, kw]
    words = pack_activations(x).words
    win = windows(words, (kernel, kernel), 1, 1, (1, 1))
    rows = pack_weights(weight).reshape(1, 1, -1).transpose(2, 0, 1)
    return win, np.ascontiguousarray(rows), cin * kernel * kernel, x, weight


@pytest.mark.req("ACCW-2", "ACCW-1", "ACCW-3")
def test_the_xnor_mode_width_trap_n_576():
    # PEERS: a compiler sizes the accumulator from the signed range of s and picks a 10-bit
    # signed type, max 511 < 576. This datapath accumulates d in [0, n], unsigned.
    win, rows, n, x, weight = all_mismatch_case(64, 3)
    assert n == 576
    assert minimal_width(576) == 10 and signed_width(576) == 11
    assert (1 << 10) - 1 >= 576 > (1 << 9) - 1
    d = matrix_vector(win, rows, n, MVUConfig(acc_bits=10))
    assert d[0, 0] == 576
    s = mismatches_to_accumulator(d, n)
    assert s[0, 0] == -576 == binary_conv2d(x[:, 0], weight, pad_mode="none")[0, 0, 0, 0]
    # A register whose maximum is 511 (9 bits unsigned, or the peer's 10 bits signed) overflows.
    with pytest.raises(BoundError, match=r"d = 576 .*\[ACCW-1\]$"):
        matrix_vector(win, rows, n, MVUConfig(acc_bits=9))
    with pytest.raises(BoundError, match=r"d <= 511 \(10-bit signed, n = 576 needs 11 bits\)"):
        matrix_vector(win, rows, n, MVUConfig(acc_bits=10, acc_signed=True))
    assert matrix_vector(win, rows, n, MVUConfig(acc_bits=11, acc_signed=True))[0, 0] == 576


@pytest.mark.req("ACCW-1")
@given(st.integers(1, 150), st.integers(1, 3))
def test_an_undersized_accumulator_raises_and_never_wraps(cin, kernel):
    win, rows, n, _, _ = all_mismatch_case(cin, kernel)
    width = minimal_width(n)
    assert matrix_vector(win, rows, n, MVUConfig(acc_bits=width))[0, 0] == n
    if width > 1:
        with pytest.raises(BoundError, match=rf"d = {n} at pixel 0.*\[ACCW-1\]$"):
            matrix_vector(win, rows, n, MVUConfig(acc_bits=width - 1))


@pytest.mark.req("ACCW-1")
def test_an_undersized_accumulator_passes_while_no_value_overflows():
    # d counts mismatches: an input that matches the weights leaves d = 0 in any width.
    win, rows, n, _, _ = all_mismatch_case(64, 3)
    matching = ~win & used_mask(64)[0]
    assert matrix_vector(matching, rows, n, MVUConfig(acc_bits=1))[0, 0] == 0


@pytest.mark.req("ACCW-2")
@given(st.integers(1, 32765))
def test_minimal_widths(n):
    assert (1 << minimal_width(n)) - 1 >= n > (1 << (minimal_width(n) - 1)) - 1
    assert (1 << (signed_width(n) - 1)) - 1 >= n > (1 << (signed_width(n) - 2)) - 1
    assert minimal_width(n) <= 15 < MVUConfig().acc_bits


# Threshold unit -----------------------------------------------------------------------------

def all_canonical_units(n: int):
    """Every canonical unit of THR-2 for ``n``, as [1, 2n + 2] arrays."""
    units = [(1, t) for t in range(-n, n + 3, 2)] + [(0, t) for t in range(-n, n, 2)]
    polarity = np.array([[p for p, _ in units]], np.uint8)
    threshold = np.array([[t for _, t in units]], np.int16)
    return polarity, threshold


@pytest.mark.req("THU-1", "THU-2")
@pytest.mark.parametrize("n", [1, 2, 3, 8, 9, 27])
def test_every_canonical_unit_agrees_with_the_reference_at_every_accumulator(n):
    polarity, threshold = all_canonical_units(n)
    unit = ThresholdUnit.from_canonical(polarity, threshold, n)
    assert unit.threshold.dtype == np.int16
    assert unit.threshold.min() >= -1 and unit.threshold.max() <= n
    d = np.arange(n + 1, dtype=np.uint16)[:, None].repeat(polarity.shape[1], axis=1)
    ours = unit.bits(d)[:, 0]                                          # [n + 1, units]
    s = mismatches_to_accumulator(d, n)[:, :, None, None]               # [n + 1, units, 1, 1]
    expected = threshold_slices(s, ThresholdUnits(polarity, threshold, n))[:, 0, :, 0, 0]
    assert np.array_equal(ours, expected.astype(bool))


@pytest.mark.req("THU-1")
def test_constants_in_the_popcount_domain():
    n = 9
    unit = ThresholdUnit.from_canonical(np.array([[1, 1]], np.uint8),
                                        np.array([[-n, n + 2]], np.int16), n)
    assert unit.threshold.tolist() == [[n, -1]]


@st.composite
def unit_cases(draw):
    n = draw(st.integers(1, 40))
    slices, channels = draw(st.integers(1, 4)), draw(CHANNELS)
    cmp = draw(bit_arrays((slices, channels)))
    real = draw(hnp.arrays(np.int32, (slices, channels), elements=st.integers(-n - 3, n + 3)))
    units = [canonical_unit(int(p), int(t), n) for p, t in zip(cmp.flat, real.flat, strict=True)]
    polarity = np.array([p for p, _ in units], np.uint8).reshape(slices, channels)
    threshold = np.array([t for _, t in units], np.int16).reshape(slices, channels)
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    d = draw(hnp.arrays(np.uint16, (*shape, channels), elements=st.integers(0, n)))
    return ThresholdUnits(polarity, threshold, n), d


@pytest.mark.req("THU-2", "THU-3")
@given(unit_cases())
def test_packed_multi_threshold_output_equals_the_reference(case):
    units, d = case
    unit = ThresholdUnit.from_canonical(units.polarity, units.threshold, units.n)
    out = unit.apply(d.reshape(-1, d.shape[-1]), d.shape[:3])
    s = mismatches_to_accumulator(d, units.n).transpose(0, 3, 1, 2)
    assert np.array_equal(unpack_activations(out), threshold_slices(s, units))
    assert not (out.words & ~used_mask(units.channels)).any()


@pytest.mark.req("THU-1")
def test_non_canonical_units_are_rejected():
    with pytest.raises(DomainError, match=r"\[THU-1\]$"):
        ThresholdUnit.from_canonical(np.array([[1]], np.uint8), np.array([[2]], np.int16), 3)
    with pytest.raises(DomainError, match=r"\[THU-1\]$"):
        ThresholdUnit.from_canonical(np.array([[0]], np.uint8), np.array([[3]], np.int16), 3)
    with pytest.raises(DTypeError, match=r"\[THU-1\]$"):
        ThresholdUnit.from_canonical(np.array([[1]], np.uint8), np.array([[1]], np.int32), 3)
    with pytest.raises(ShapeError, match=r"\[THU-1\]$"):
        ThresholdUnit.from_canonical(np.array([1], np.uint8), np.array([1], np.int16), 3)


# Pooling unit -------------------------------------------------------------------------------

@pytest.mark.req("POOLU-1")
@given(bit_tensors(max_size=7), st.integers(1, 3), st.integers(1, 3))
def test_binary_max_pool_is_or_over_words(x, kernel, stride):
    packed = pack_activations(x)
    if min(x.shape[3:]) < kernel:
        with pytest.raises(ShapeError, match=r"\[POOLU-1\]$"):
            max_pool(packed, kernel, stride)
        return
    assert np.array_equal(unpack_activations(max_pool(packed, kernel, stride)),
                          binary_maxpool(x, kernel, stride))


@pytest.mark.req("POOLU-2")
@given(unit_cases(), st.integers(1, 3))
def test_pooling_before_batchnorm_sign_equals_the_reference(case, kernel):
    units, d = case
    if min(d.shape[1:3]) < kernel:
        return
    unit = ThresholdUnit.from_canonical(units.polarity, units.threshold, units.n)
    bits = unit.apply(d.reshape(-1, d.shape[-1]), d.shape[:3])
    pooled = threshold_pool(bits, unit.polarity_words(), kernel, kernel)
    s = mismatches_to_accumulator(d, units.n).transpose(0, 3, 1, 2)
    assert np.array_equal(unpack_activations(pooled), threshold_maxpool(s, units, kernel, kernel))


@pytest.mark.req("POOLU-1")
def test_pool_sizes_are_checked():
    x = pack_activations(np.zeros((1, 1, 3, 2, 2), np.uint8))
    with pytest.raises(DomainError, match=r"\[POOLU-1\]$"):
        max_pool(x, 0, 1)


# Logic unit ---------------------------------------------------------------------------------

@pytest.mark.req("LOGU-1", "LOGU-2")
@given(bit_tensors(), st.data())
def test_gates_on_words_equal_the_reference_gates(x, data):
    r = data.draw(bit_arrays(x.shape))
    a, b = pack_activations(x), pack_activations(r)
    both = xnor(a, b)
    either = logic_or(a, b)
    assert np.array_equal(unpack_activations(both), reference_xnor(x, r))
    assert np.array_equal(unpack_activations(either), reference_or(x, r))
    mask = used_mask(x.shape[2])
    assert not (both.words & ~mask).any() and not (either.words & ~mask).any()


@pytest.mark.req("LOGU-1")
def test_xnor_of_two_unused_zeros_is_masked():
    zeros = pack_activations(np.zeros((1, 1, 5, 1, 1), np.uint8))
    assert int(xnor(zeros, zeros).words[0, 0, 0, 0, 0]) == 0b11111


@pytest.mark.req("LOGU-2", "PACK-3")
def test_gates_reject_mismatched_or_dirty_operands():
    a = pack_activations(np.zeros((1, 1, 5, 2, 2), np.uint8))
    b = pack_activations(np.zeros((1, 1, 5, 2, 1), np.uint8))
    with pytest.raises(ShapeError, match=r"\[LOGU-2\]$"):
        logic_or(a, b)
    with pytest.raises(DomainError, match=r"\[PACK-3\]$"):
        xnor(a, with_garbage(a))
