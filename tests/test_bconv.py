"""Binary convolution (reference.bconv) against seven nested loops, popcounts and torch."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from extras import F, needs_torch, torch
from fixtures_network import assert_identical_runs, small_model
from hypothesis import given
from hypothesis import strategies as st
from naive import ops as naive
from naive.ops import spec_message
from strategies import bit_arrays, conv_configs

import boolnet_spec.reference.bconv
from boolnet_spec.reference import network
from boolnet_spec.reference.accumulator import N_MAX
from boolnet_spec.reference.architecture import CONFIGS
from boolnet_spec.reference.bconv import (
    ConvWeights,
    binary_conv2d,
    multi_slice_conv2d,
    select_slices,
)
from boolnet_spec.reference.channels import flatten_slices
from boolnet_spec.reference.errors import (
    BoundError,
    DomainError,
    DTypeError,
    NonBinaryError,
    ShapeError,
)
from boolnet_spec.reference.network import forward
from boolnet_spec.reference.slices import slice_offsets


@st.composite
def conv_cases(draw, max_channels: int = 6, max_size: int = 7):
    """A small conv configuration with its input and weight bits."""
    config = draw(conv_configs(max_channels, max_size))
    x = draw(bit_arrays((config.batch, config.cin, config.height, config.width)))
    w = draw(bit_arrays((config.cout, config.cin // config.groups, *config.kernel)))
    return config, x, w


def run(config, x, w):
    return binary_conv2d(x, w, config.stride, config.padding, config.dilation, config.groups,
                         config.pad_mode)


@pytest.mark.req("CONV-1", "CONV-2", "PAD-1", "PAD-2", "PAD-3")
@given(conv_cases())
def test_binary_conv2d_equals_nested_loops(case):
    config, x, w = case
    s = run(config, x, w)
    expected = naive.binary_conv2d(x, w, config.stride, config.padding, config.dilation,
                                   config.groups, config.pad_mode)
    assert s.dtype == np.int16
    assert s.shape == expected.shape
    assert np.array_equal(s, expected)


@pytest.mark.req("CONV-1")
@given(conv_cases(), st.integers(1, 3), st.integers(1, 3))
def test_prepared_weights_give_the_same_accumulators(case, stride, dilation):
    config, x, w = case
    # Weights prepared once per layer; prepared for another geometry they are laid out anew.
    for prepared in (ConvWeights(w, config.stride, config.dilation, config.groups),
                     ConvWeights(w, stride, dilation, config.groups)):
        assert np.array_equal(
            binary_conv2d(x, prepared, config.stride, config.padding, config.dilation,
                          config.groups, config.pad_mode), run(config, x, w))


def _formulations(n: int) -> list[tuple[type, int]]:
    """Every (dtype, lanes) an evaluation may use for dot products of length ``n``."""
    bits = n.bit_length() + 1
    return [(dtype, lanes) for dtype, significand in ((np.float32, 24), (np.float64, 53))
            for lanes in range(1, significand // bits + 1)]


@pytest.mark.req("CONV-1")
@given(conv_cases(), st.data())
def test_every_lane_formulation_equals_nested_loops(case, data):
    # The evaluation note's lanes: any dtype and lane count within its significand is exact.
    config, x, w = case
    n = w.shape[1] * w.shape[2] * w.shape[3]
    dtype, lanes = data.draw(st.sampled_from(_formulations(n)))
    prepared = ConvWeights(w, config.stride, config.dilation, config.groups, dtype=dtype,
                           lanes=lanes)
    expected = naive.binary_conv2d(x, w, config.stride, config.padding, config.dilation,
                                   config.groups, config.pad_mode)
    assert np.array_equal(binary_conv2d(x, prepared, config.stride, config.padding,
                                        config.dilation, config.groups, config.pad_mode),
                          expected)


@pytest.mark.req("CONV-1", "ACC-2")
@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 31, 32, 255, 256, 1023, 1024, 4095, 4096, 8191])
def test_lanes_at_their_bound_unpack_exactly(n):
    # Lanes at +n, -n and n - 2 (channel l*P + o is lane l): the largest magnitudes the packing
    # must carry, for n on both sides of each change of the lane width.
    rng = np.random.default_rng(n)
    cout = 12
    x = rng.integers(0, 2, (3, n, 1, 1)).astype(np.uint8)
    x[0], x[1] = 1, 0
    w = rng.integers(0, 2, (cout, n, 1, 1)).astype(np.uint8)
    w[0::3], w[1::3] = 1, 0
    if n >= 2:
        w[2::3] = 1
        w[2::3, 0] = 0                      # s = n - 2 on the all-ones image
    expected = naive.binary_conv2d(x, w, 1, 0, 1, 1, "none")
    assert {int(expected[0, 0, 0, 0]), int(expected[0, 1, 0, 0])} == {n, -n}
    for dtype, lanes in _formulations(n):
        s = binary_conv2d(x, ConvWeights(w, dtype=dtype, lanes=lanes))
        assert np.array_equal(s, expected), (dtype, lanes)


@pytest.mark.req("CONV-1")
@pytest.mark.parametrize(("dtype", "lanes", "tensor", "bound", "value"), [
    (np.float16, None, "conv dtype", "float32 or float64", "float16 for n = 576"),
    (np.int32, None, "conv dtype", "float32 or float64", "int32 for n = 576"),
    (np.float32, 0, "conv lanes", "1 <= lanes <= 2 for float32 and n = 576", "0"),
    (np.float32, 3, "conv lanes", "1 <= lanes <= 2 for float32 and n = 576", "3"),
    (np.float64, 5, "conv lanes", "1 <= lanes <= 4 for float64 and n = 576", "5"),
])
def test_formulations_beyond_the_significand_are_refused(dtype, lanes, tensor, bound, value):
    w = np.ones((4, 64, 3, 3), np.uint8)                  # n = 576: 11 bits a lane
    with pytest.raises(DomainError, match=spec_message(tensor, bound, value, "CONV-1")):
        ConvWeights(w, dtype=dtype, lanes=lanes)


@pytest.mark.req("CONV-1", "ACC-1")
@given(conv_cases())
def test_accumulator_is_twice_the_popcount_of_xnor_minus_n(case):
    config, x, w = case
    s = run(config, x, w)
    n, group_out = config.n, config.cout // config.groups
    # Bytes past n are padding of packbits; the mask keeps XNOR from counting them.
    mask = np.packbits(np.ones(n, np.uint8))
    for b, o, y, xx in np.ndindex(s.shape):
        field = naive.receptive_field(x, b, o // group_out, config.cin // config.groups, y, xx,
                                      config.kernel, config.stride, config.padding,
                                      config.dilation, config.pad_mode)
        xnor = ~(np.packbits(np.array(field, np.uint8)) ^ np.packbits(w[o].ravel())) & mask
        assert int(s[b, o, y, xx]) == 2 * int(np.bitwise_count(xnor).sum()) - n


@pytest.mark.req("CONV-1", "ACC-2", "ACC-3")
@given(conv_cases())
def test_accumulator_lies_in_the_domain_of_n(case):
    config, x, w = case
    s = run(config, x, w)
    assert s.dtype == np.int16
    assert np.all(np.abs(s.astype(np.int32)) <= config.n)
    assert np.all((s.astype(np.int32) + config.n) % 2 == 0)


@needs_torch
@pytest.mark.req("CONV-1", "PAD-1", "PAD-2")
@given(conv_cases().filter(lambda case: case[0].pad_mode != "none"))
def test_binary_conv2d_equals_the_authors_pad_then_conv(case):
    config, x, w = case
    # The authors pad with ReplicationPad2d, then convolve +-1 floats with padding 0 (exact in f64).
    a = torch.from_numpy(x.astype(np.float64) * 2 - 1)
    p = (config.padding,) * 4
    padded = torch.nn.ReplicationPad2d(p)(a) if config.pad_mode == "replicate" else \
        F.pad(a, p, value=1.0)
    authors = F.conv2d(padded, torch.from_numpy(w.astype(np.float64) * 2 - 1), None,
                       config.stride, 0, config.dilation, config.groups).numpy()
    assert np.array_equal(run(config, x, w), authors.astype(np.int64))


@pytest.mark.req("CONV-1", "ACC-3")
@pytest.mark.parametrize("agree", [True, False])
def test_n_max_reaches_the_int16_extremes(agree):
    x = np.ones((1, N_MAX, 1, 1), np.uint8)
    w = np.full((1, N_MAX, 1, 1), int(agree), np.uint8)
    for s in [binary_conv2d(x, w)] + [binary_conv2d(x, ConvWeights(w, dtype=dtype, lanes=lanes))
                                      for dtype, lanes in _formulations(N_MAX)]:
        assert s.dtype == np.int16
        assert int(s[0, 0, 0, 0]) == (N_MAX if agree else -N_MAX)


@pytest.mark.req("CONV-1", "CONV-4", "PAD-1")
@pytest.mark.parametrize(("slices", "cin", "cout", "groups", "stride", "padding", "dilation"), [
    (4, 4, 8, 4, 1, 1, 1),   # BaseNet k=4 block conv
    (4, 4, 8, 4, 2, 1, 1),   # first block of a stride-2 stage
    (4, 8, 4, 4, 1, 2, 2),   # BoolNet* dilated block: padding = dilation = 2
    (1, 6, 4, 1, 2, 1, 1),   # BaseNet k=1
])
def test_published_block_convs_equal_nested_loops(slices, cin, cout, groups, stride, padding,
                                                  dilation):
    rng = np.random.default_rng(slices * 1000 + cin * 100 + stride * 10 + dilation)
    x = rng.integers(0, 2, (2, slices, cin, 7, 6)).astype(np.uint8)
    w = rng.integers(0, 2, (cout, cin, 3, 3)).astype(np.uint8)
    s = multi_slice_conv2d(x, w, stride, padding, dilation, groups, "replicate")
    flat = naive.flatten_slices(x, naive.selected_slices(slices, groups))
    assert np.array_equal(s, naive.binary_conv2d(flat, w, stride, padding, dilation, groups,
                                                 "replicate"))


@pytest.mark.req("CONV-1", "CHAN-1")
def test_downsample_bconv_reads_all_slices_with_one_group():
    # The 1x1 BConv of the downsample branch: groups 1 over all S*Cin slice-channels, no padding.
    rng = np.random.default_rng(7)
    x = rng.integers(0, 2, (2, 4, 3, 4, 4)).astype(np.uint8)
    w = rng.integers(0, 2, (6, 12, 1, 1)).astype(np.uint8)
    flat = naive.flatten_slices(x)
    assert np.array_equal(binary_conv2d(flatten_slices(x), w),
                          naive.binary_conv2d(flat, w, 1, 0, 1, 1, "none"))


@st.composite
def multi_slice_cases(draw):
    """Bits [N, S, C, H, W] with S in {1, 2, 4, 6}, any valid groups, and a 3x3 weight."""
    slices = draw(st.sampled_from([1, 2, 4, 6]))
    groups = draw(st.integers(1, slices))
    channels = draw(st.integers(1, 2))
    height, width = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x = draw(bit_arrays((draw(st.integers(1, 2)), slices, channels, height, width)))
    cout = groups * draw(st.integers(1, 2))
    w = draw(bit_arrays((cout, channels, 3, 3)))
    return x, w, groups, draw(st.integers(1, 2)), draw(st.integers(1, 2))


@pytest.mark.req("CONV-4", "CHAN-1")
@given(multi_slice_cases())
def test_select_slices_follows_the_authors_rules(case):
    x, _, groups, _, _ = case
    chosen = naive.selected_slices(x.shape[1], groups)
    assert np.array_equal(select_slices(x, groups), naive.flatten_slices(x, chosen))


@pytest.mark.req("CONV-4", "CONV-1")
@given(multi_slice_cases())
def test_multi_slice_conv2d_is_selection_then_grouped_conv(case):
    x, w, groups, stride, dilation = case
    # BoolNet blocks pad by the dilation with replicated edges.
    s = multi_slice_conv2d(x, w, stride, dilation, dilation, groups, "replicate")
    flat = naive.flatten_slices(x, naive.selected_slices(x.shape[1], groups))
    expected = naive.binary_conv2d(flat, w, stride, dilation, dilation, groups, "replicate")
    assert s.dtype == np.int16
    assert np.array_equal(s, expected)


@pytest.mark.req("CONV-4", "SLICE-1")
def test_four_slices_with_one_group_read_the_plus_one_third_slice():
    x = np.zeros((1, 4, 2, 3, 3), np.uint8)
    x[:, 2] = 1
    assert np.array_equal(select_slices(x, 1), np.ones((1, 2, 3, 3), np.uint8))
    assert slice_offsets(4)[2] == np.float32(1 / 3)


@pytest.mark.req("CONV-4")
@pytest.mark.parametrize(("slices", "groups", "chosen"), [
    (1, 1, [0]), (2, 1, [1]), (2, 2, [0, 1]), (4, 1, [2]), (4, 2, [1, 2]), (4, 3, [0, 1, 2]),
    (4, 4, [0, 1, 2, 3]), (6, 1, [3]), (6, 2, [2, 3]), (6, 3, [1, 2, 3]), (6, 4, [1, 2, 3, 4]),
    (6, 5, [0, 1, 2, 3, 4]), (6, 6, [0, 1, 2, 3, 4, 5])])
def test_selected_slices_table(slices, groups, chosen):
    # Slice j holds channel value j in binary, so the selection can be read back.
    x = np.zeros((1, slices, 3, 1, 1), np.uint8)
    for j in range(slices):
        x[0, j, :, 0, 0] = [(j >> bit) & 1 for bit in range(3)]
    read = select_slices(x, groups).reshape(groups, 3)
    assert [int(row @ [1, 2, 4]) for row in read] == chosen


@pytest.mark.req("CONV-4", "ERR-1")
@pytest.mark.parametrize(("slices", "groups"), [(4, 0), (4, 5), (4, -1), (1, 2), (4, 2.0)])
def test_groups_outside_one_to_s_are_rejected(slices, groups):
    x = np.zeros((1, slices, 2, 3, 3), np.uint8)
    with pytest.raises(DomainError, match=spec_message(
            "groups", f"1 <= groups <= S = {slices}", repr(groups), "CONV-4")):
        select_slices(x, groups)


@pytest.mark.req("CONV-4", "ERR-1")
def test_select_slices_needs_rank_five():
    with pytest.raises(ShapeError, match=spec_message(
            "x", "rank 5 [N, S, C, H, W]", "[1, 4, 3, 3]", "CONV-4")):
        select_slices(np.zeros((1, 4, 3, 3), np.uint8), 1)


X = np.zeros((1, 4, 5, 5), np.uint8)
W = np.zeros((2, 4, 3, 3), np.uint8)


@pytest.mark.req("CONV-3", "ENC-5", "ERR-1")
@pytest.mark.parametrize("dtype", [bool, np.int8, np.float32])
@pytest.mark.parametrize("which", ["x", "w"])
def test_non_bit_dtypes_are_rejected(dtype, which):
    x, w = (X.astype(dtype), W) if which == "x" else (X, W.astype(dtype))
    tensor = "conv input" if which == "x" else "conv.weight"
    with pytest.raises(DTypeError, match=spec_message(
            tensor, "dtype uint8", str(np.dtype(dtype)), "ENC-5")):
        binary_conv2d(x, w, padding=1)


@pytest.mark.req("CONV-3", "ENC-5", "ERR-1")
@pytest.mark.parametrize("value", [2, 255])
def test_non_binary_weight_is_rejected(value):
    w = W.copy()
    w[1, 3, 2, 0] = value
    with pytest.raises(NonBinaryError, match=spec_message(
            "layer1.0.conv1.weight", "bits in {0, 1}", f"{value} at index [1, 3, 2, 0]",
            "ENC-5")):
        binary_conv2d(X, w, padding=1, name="layer1.0.conv1")


@pytest.mark.req("CONV-3", "ERR-1")
@pytest.mark.parametrize(("x", "w", "groups", "tensor", "bound", "value"), [
    (X[0], W, 1, "conv input", "rank 4 [N, Cin, H, W]", "[4, 5, 5]"),
    (X, W[0], 1, "conv.weight", "rank 4 [Cout, Cin/groups, kh, kw]", "[4, 3, 3]"),
    (np.zeros((1, 3, 5, 5), np.uint8), np.zeros((2, 1, 3, 3), np.uint8), 2, "conv channels",
     "Cin and Cout multiples of groups = 2", "Cin = 3, Cout = 2"),
    (X, np.zeros((3, 2, 3, 3), np.uint8), 2, "conv channels",
     "Cin and Cout multiples of groups = 2", "Cin = 4, Cout = 3"),
    (X, W, 2, "conv.weight", "shape[1] = Cin/groups = 2", "4"),
    (X, np.zeros((2, 3, 3, 3), np.uint8), 1, "conv.weight", "shape[1] = Cin/groups = 4", "3"),
])
def test_mismatched_shapes_are_rejected(x, w, groups, tensor, bound, value):
    with pytest.raises(ShapeError, match=spec_message(tensor, bound, value, "CONV-3")):
        binary_conv2d(x, w, padding=1, groups=groups)


@pytest.mark.req("CONV-3", "ERR-1")
@pytest.mark.parametrize("what", ["stride", "dilation", "groups"])
@pytest.mark.parametrize("value", [0, -1, 1.0, None])
def test_stride_dilation_groups_must_be_integers_from_one(what, value):
    with pytest.raises(DomainError, match=spec_message(
            f"conv.{what}", "an integer >= 1", repr(value), "CONV-3")):
        binary_conv2d(X, W, padding=1, **{what: value})


@pytest.mark.req("CONV-2", "ERR-1")
@pytest.mark.parametrize(("height", "kernel", "padding", "dilation", "value"), [
    (2, 3, 0, 1, "Ho = 0, Wo = 3"), (1, 2, 0, 1, "Ho = 0, Wo = 4"),
    (4, 3, 0, 2, "Ho = 0, Wo = 1")])
def test_output_smaller_than_one_pixel_is_rejected(height, kernel, padding, dilation, value):
    x = np.zeros((1, 1, height, 5), np.uint8)
    w = np.zeros((1, 1, kernel, kernel), np.uint8)
    with pytest.raises(ShapeError, match=spec_message(
            "conv output", "Ho >= 1 and Wo >= 1", value, "CONV-2")):
        binary_conv2d(x, w, padding=padding, dilation=dilation)


@pytest.mark.req("CONV-3", "ACC-3", "ERR-1")
@pytest.mark.parametrize(("cin", "kernel", "n"), [(N_MAX + 1, (1, 1), N_MAX + 1),
                                                 (1, (182, 181), 182 * 181),
                                                 (2, (0, 3), 0), (0, (3, 3), 0)])
def test_n_outside_one_to_n_max_is_rejected_before_any_work(monkeypatch, cin, kernel, n):
    def work(*args, **kwargs):
        raise AssertionError("the conv started computing before checking n")

    # Padding and the +-1 conversion are the expensive work; they must never run.
    monkeypatch.setattr(boolnet_spec.reference.bconv, "fill_padded", work)
    monkeypatch.setattr(boolnet_spec.reference.bconv, "to_pm1", work)
    x = np.zeros((1, cin, 2, 2), np.uint8)
    w = np.zeros((1, cin, *kernel), np.uint8)
    with pytest.raises(BoundError, match=spec_message(
            "conv dot-product length n", f"1 <= n <= N_MAX = {N_MAX}", str(n), "ACC-3")):
        binary_conv2d(x, w, padding=1)


@pytest.mark.req("CONV-3", "PAD-3", "ERR-1")
@pytest.mark.parametrize(("padding", "mode", "tensor", "bound", "value"), [
    (1, "zero", "pad_mode", "one of replicate, one, none", "'zero'"),
    (1, "reflect", "pad_mode", "one of replicate, one, none", "'reflect'"),
    (-1, "replicate", "padding", "an integer p >= 0", "-1"),
    (1, "none", "padding", "p = 0 for pad_mode none", "1")])
def test_invalid_padding_is_rejected(padding, mode, tensor, bound, value):
    with pytest.raises(DomainError, match=spec_message(tensor, bound, value, "PAD-3")):
        binary_conv2d(X, W, padding=padding, pad_mode=mode)



@pytest.mark.req("NET-7", "CONV-1")
@pytest.mark.parametrize("name", CONFIGS)
def test_a_forward_pass_is_the_same_in_every_formulation(name, monkeypatch):
    # Each layer's default (format, lanes) against binary32 and binary64 with one lane and
    # binary64 with the most lanes, on every traced tensor of the four configurations.
    image = np.random.default_rng(5).standard_normal((3, 3, 64, 64)).astype(np.float32)
    runs = []
    for options in ({}, {"dtype": np.float32, "lanes": 1}, {"dtype": np.float64, "lanes": 1},
                    {"dtype": np.float64}):
        monkeypatch.setattr(network, "ConvWeights", functools.partial(ConvWeights, **options))
        runs.append(forward(small_model(name, image_size=64, seed=6), image, trace=True))
    assert_identical_runs(runs)
