"""Random single binary layers on the datapath against the reference's node: kernel, stride,
dilation, groups, slices, padding, pooling and channel counts that are not multiples of 64."""

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import bit_arrays

from boolnet_spec.equivalence.datapath.layout import (
    PackedBits,
    pack_activations,
    unpack_activations,
)
from boolnet_spec.equivalence.datapath.machine import ConvLayer
from boolnet_spec.equivalence.datapath.mvu import MVUConfig
from boolnet_spec.reference.errors import DomainError
from boolnet_spec.reference.network import Node, run_node
from boolnet_spec.reference.threshold import ThresholdUnits, canonical_unit

pytestmark = pytest.mark.req("MACH-1", "PERM-4", "LB-1", "LB-2", "MVU-1", "MVU-2", "THU-2",
                             "THU-3", "POOLU-2")


@dataclass(frozen=True)
class LayerCase:
    node: Node
    arrays: dict
    x: np.ndarray
    config: MVUConfig


def divisors(total: int) -> list[int]:
    return [g for g in range(1, total + 1) if total % g == 0]


@st.composite
def layer_cases(draw) -> LayerCase:
    """A bconv node with its arrays and input bits."""
    slices = draw(st.integers(1, 4))
    channels = draw(st.one_of(st.integers(1, 9), st.integers(60, 70), st.integers(126, 131)))
    read = draw(st.sampled_from(["slices", "all"]))
    if read == "slices":
        groups, cin_group = draw(st.integers(1, slices)), channels
    else:
        groups = draw(st.sampled_from(divisors(slices * channels)[:5]))
        cin_group = slices * channels // groups
    cout = groups * draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride, dilation = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    pad_mode = draw(st.sampled_from(["replicate", "one", "none"]))
    padding = 0 if pad_mode == "none" else draw(st.integers(0, 2))
    reach = [max(1, dilation * (k - 1) + 1 - 2 * padding) for k in kernel]
    height, width = (draw(st.integers(r, r + 4)) for r in reach)
    out = [(s + 2 * padding - dilation * (k - 1) - 1) // stride + 1
           for s, k in zip((height, width), kernel, strict=True)]
    pool = draw(st.sampled_from([0, 0, 2, 3]))
    if min(out) < pool:
        pool = 0
    n = cin_group * kernel[0] * kernel[1]
    out_slices = draw(st.integers(1, 4))
    cmp = draw(bit_arrays((out_slices, cout)))
    real = draw(hnp.arrays(np.int32, (out_slices, cout), elements=st.integers(-n - 3, n + 3)))
    units = [canonical_unit(int(p), int(t), n) for p, t in zip(cmp.flat, real.flat, strict=True)]
    units = ThresholdUnits(np.array([p for p, _ in units], np.uint8).reshape(out_slices, cout),
                           np.array([t for _, t in units], np.int16).reshape(out_slices, cout), n)
    weight = draw(bit_arrays((cout, cin_group, *kernel)))
    x = draw(bit_arrays((draw(st.integers(1, 2)), slices, channels, height, width)))
    node = Node("layer", "bconv", ["x"], ["layer.s", "layer.bits"],
                {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups,
                 "pad_mode": pad_mode, "read": read, "pool": pool},
                {"weight": "w", "polarity": "p", "threshold": "t"})
    config = MVUConfig(pe=draw(st.integers(1, 8)), simd=draw(st.sampled_from([8, 64, 128])))
    return LayerCase(node, {"w": weight, "p": units.polarity, "t": units.threshold}, x, config)


@given(layer_cases())
def test_a_random_binary_layer_equals_the_reference_node(case):
    s, bits = run_node(case.node, case.arrays, case.x)
    state = {"weight": case.arrays["w"],
             "units": ThresholdUnits(case.arrays["p"], case.arrays["t"],
                                     int(np.prod(case.arrays["w"].shape[1:])))}
    layer = ConvLayer.compile(case.node, state)
    d, pixels, packed = layer.run(pack_activations(case.x), case.config)
    ours = layer.accumulator(d, pixels)
    assert ours.dtype == s.dtype and np.array_equal(ours, s)
    out = unpack_activations(packed)
    assert out.dtype == bits.dtype and np.array_equal(out, bits)


@pytest.mark.req("PACK-3")
@given(layer_cases().filter(lambda case: case.x.shape[2] % 64))
def test_a_layer_rejects_garbage_in_the_unused_bits_of_its_input(case):
    state = {"weight": case.arrays["w"],
             "units": ThresholdUnits(case.arrays["p"], case.arrays["t"],
                                     int(np.prod(case.arrays["w"].shape[1:])))}
    layer = ConvLayer.compile(case.node, state)
    packed = pack_activations(case.x)
    words = packed.words.copy()
    words[0, 0, 0, 0, -1] |= np.uint64(1 << 63)
    with pytest.raises(DomainError, match=r"^layer input: .*\[PACK-3\]$"):
        layer.run(PackedBits(words, packed.channels), case.config)
