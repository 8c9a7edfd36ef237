"""The whole-network forward (reference.network) against the naive composition of FACTS 3-4."""

import numpy as np
import pytest
from fixtures_network import (
    FAMILIES,
    SHAPES,
    assert_matches_oracle,
    images,
    model,
    scaled,
    state_dict,
)
from naive import network as oracle
from naive.ops import spec_message

from boolnet_spec.reference.errors import DTypeError, NonFiniteError, ShapeError
from boolnet_spec.reference.network import forward

CASES = [(family, shape) for family in FAMILIES for shape in SHAPES]


@pytest.mark.req("NET-1", "NET-2", "NET-3", "NET-4", "NET-5", "NET-7", "ARCH-2", "ARCH-3",
                 "ARCH-4", "ARCH-5", "ARCH-6", "BUILD-1", "BUILD-2")
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("family", "shape"), CASES)
def test_forward_equals_the_naive_composition_tensor_by_tensor(family, shape, seed):
    arch = scaled(family, **SHAPES[shape])
    x = images(arch, batch=1 + 2 * seed, seed=seed)
    logits, trace = forward(model(arch, seed), x, trace=True)
    expected = oracle.forward(arch, state_dict(arch, seed), x)
    assert_matches_oracle(trace, expected, oracle.offsets(arch.slices))
    assert logits is trace["logits"]


@pytest.mark.req("BUILD-1", "NET-7")
def test_trace_names_are_the_authors_module_paths_in_execution_order():
    arch = scaled("boolnet-k4", widths=(8, 16), blocks=(2, 1))
    _, trace = forward(model(arch), images(arch, 1, 0), trace=True)
    block = lambda p, *head: [f"{p}.conv1", f"{p}.ghostsign1", f"{p}.xnor", *head]  # noqa: E731
    assert list(trace) == [
        "ghostbnsign",
        *block("layer1.0", "layer1.0.conv2", "layer1.0.ghostsign2", "layer1.0.or", "layer1.0"),
        "layer1.1.x", "layer1.1.carry",
        *block("layer1.1", "layer1.1.conv2", "layer1.1.ghostsign2", "layer1.1.or", "layer1.1"),
        "layer2.0.downsample.0", "layer2.0.downsample",
        *block("layer2.0", "layer2.0.conv2", "layer2.0", "logits")]
    arch = scaled("basenet-k4", widths=(8, 16), blocks=(1, 1))
    _, trace = forward(model(arch), images(arch, 1, 0), trace=True)
    assert list(trace) == [
        "ghostbnsign", "layer1.0.conv1", "layer1.0.ghostsign1", "layer1.0.xnor", "layer1.0.conv2",
        "layer1.0.ghostsign2", "layer1.0", "layer2.0.downsample.0", "layer2.0.downsample",
        "layer2.0.conv1", "layer2.0.ghostsign1", "layer2.0.xnor", "layer2.0.conv2", "layer2.0",
        "logits"]


@pytest.mark.req("NET-1", "NET-7")
@pytest.mark.parametrize("family", FAMILIES)
def test_traced_tensors_have_the_kinds_of_net_1(family):
    arch = scaled(family)
    net = model(arch)
    x = images(arch, 2, 3)
    logits, trace = forward(net, x, trace=True)
    n = {row["layer"]: row["n"] for row in net.layers()}
    last = oracle.blocks(arch)[-1].name
    for name, tensor in trace.items():
        if name == "logits":
            assert (tensor.dtype, tensor.shape) == (np.float64, (2, arch.classes))
        elif name == last:
            assert (tensor.dtype, tensor.ndim) == (np.float64, 4)
        elif tensor.dtype == np.int16:
            layer = "head" if name == f"{last}.conv2" else name.removesuffix(".0")
            # ACC-2: every accumulator in D_n, the parity of n.
            assert tensor.ndim == 4 and np.abs(tensor).max() <= n[layer], name
            assert np.all((tensor.astype(np.int32) + n[layer]) % 2 == 0), name
        else:
            assert (tensor.dtype, tensor.ndim) == (np.uint8, 5), name
            assert tensor.shape[1] == arch.slices and tensor.max() <= 1, name
    assert np.array_equal(logits, forward(net, x)[0])
    assert forward(net, x)[1] == {}


@pytest.mark.req("NET-7")
def test_nodes_run_in_their_stored_order():
    arch = scaled("boolnet-star-k4")
    net = model(arch)
    seen = []
    forward(net, images(arch, 1, 0), progress=seen.append)
    assert seen == [node.name for node in net.nodes]


@pytest.mark.req("NET-7", "HEAD-3")
def test_each_image_of_a_batch_is_computed_alone():
    arch = scaled("basenet-k4")
    x = images(arch, 3, 4)
    logits, trace = forward(model(arch), x, trace=True)
    for b in range(3):
        alone, alone_trace = forward(model(arch), x[b:b + 1], trace=True)
        # Real tensors too: the stem and the head's sums are evaluated per image (HEAD-3).
        assert np.array_equal(alone[0], logits[b])
        for name, tensor in alone_trace.items():
            assert np.array_equal(tensor[0], trace[name][b]), name


@pytest.mark.req("NET-7")
@pytest.mark.parametrize(("size", "expected"), [(16, [1, 3, 16, 16]), (64, [1, 3, 64, 64])])
def test_forward_rejects_an_image_of_another_size(size, expected):
    arch = scaled("boolnet-k4")
    image = np.zeros((1, 3, size, size), np.float32)
    with pytest.raises(ShapeError, match=spec_message("image", "[N, [3, 32, 32]]", str(expected),
                                                      "NET-7")):
        forward(model(arch), image)


@pytest.mark.req("NET-7")
def test_forward_rejects_a_non_square_image():
    arch = scaled("basenet-k1")
    with pytest.raises(ShapeError, match=spec_message("image", "[3, 32, 32]", "[2, 3, 32, 31]",
                                                      "NET-7")):
        forward(model(arch), np.zeros((2, 3, 32, 31), np.float32))


@pytest.mark.req("NET-7")
@pytest.mark.parametrize(("image", "error", "tensor", "bound", "value"), [
    (np.zeros((1, 3, 32, 32), np.float64), DTypeError, "image", "float32", "float64"),
    (np.zeros((1, 3, 32, 32), np.float16), DTypeError, "image", "float32", "float16"),
    (np.zeros((1, 3, 32, 32), np.uint8), DTypeError, "image", "float32", "uint8"),
    (np.zeros((1, 1, 32, 32), np.float32), ShapeError, "image", "[N, 3, H, W]", "[1, 1, 32, 32]"),
    (np.zeros((3, 32, 32), np.float32), ShapeError, "image", "[N, 3, H, W]", "[3, 32, 32]"),
])
def test_forward_rejects_an_image_of_the_wrong_dtype_or_rank(image, error, tensor, bound, value):
    with pytest.raises(error, match=spec_message(tensor, bound, value, "STEM-1")):
        forward(model(scaled("boolnet-k4")), image)


@pytest.mark.req("NET-7")
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_forward_rejects_a_non_finite_pixel_before_any_node_runs(value):
    arch = scaled("boolnet-k4")
    image = images(arch, 2, 0)
    image[1, 2, 5, 7] = value
    seen = []
    with pytest.raises(NonFiniteError, match=spec_message("image", "finite", "[1, 2, 5, 7]",
                                                          "STEM-1")):
        forward(model(arch), image, progress=seen.append)
    assert seen == []


@pytest.mark.req("NET-6")
@pytest.mark.parametrize("family", FAMILIES)
def test_layer_rows_agree_with_the_architecture(family):
    arch = scaled(family)
    net = model(arch)
    s, boolnet = arch.slices, arch.family == "boolnet"
    size, channels = 8, arch.widths[0]  # the stem maps 32x32 to 8x8 with the first width
    expected = []
    for block in oracle.blocks(arch):
        p, w = block.name, block.width
        out_size = size // block.stride
        conv1_in = (2 * block.previous_width if block.downsample else w) if boolnet else channels
        if block.downsample:
            pooled = out_size if block.pool else size
            expected.append((f"{p}.downsample", [s, channels, size, size],
                             [s, w, pooled, pooled], [1, 1], 1, 1, 1, 2 * block.pool,
                             s * channels))
        expected.append((f"{p}.conv1", None, [s, w, out_size, out_size], [3, 3], block.stride,
                         block.dilation, s, 0, conv1_in * 9))
        expected.append(("head" if block.last else f"{p}.conv2", None,
                         [s, w, out_size, out_size], [3, 3], 1, block.dilation, s, 0, w * 9))
        size, channels = out_size, 2 * w if boolnet else w
    rows = net.layers()
    assert [row["layer"] for row in rows] == [e[0] for e in expected]
    for row, (_, shape_in, shape_out, kernel, stride, dilation, groups, pool, n) in zip(
            rows, expected, strict=True):
        node = next(node for node in net.nodes if node.name == row["layer"])
        assert row["n"] == n and row["accumulator_range"] == [-n, n], row["layer"]
        assert (row["kernel"], row["stride"], row["dilation"], row["groups"], row["pool"]) == \
            (kernel, stride, dilation, groups, pool), row["layer"]
        if shape_in is not None:
            assert row["input"] == shape_in
        cout, cin_group = shape_out[1], n // (kernel[0] * kernel[1])
        assert row["weight_bits"] == cout * cin_group * kernel[0] * kernel[1]
        if row["op"] == "head":
            assert row["output"] == [cout, *shape_out[2:]]
            assert (row["threshold_units"], row["constant_units"]) == (0, 0)
            continue
        assert row["output"] == shape_out and row["activation_bits"] == int(np.prod(shape_out))
        polarity = net.arrays[node.arrays["polarity"]]
        threshold = net.arrays[node.arrays["threshold"]].astype(np.int32)
        constant = (polarity == 1) & ((threshold == -n) | (threshold == n + 2))
        assert row["threshold_units"] == s * cout == polarity.size
        assert row["constant_units"] == int(constant.sum())


@pytest.mark.req("NET-7")
@pytest.mark.parametrize(("y", "tie"), [(0.0, True), (-1e-17, True), (1e-6, False)])
def test_only_a_float64_near_tie_may_differ_from_the_oracle(y, tie):
    # The comparison's own escape hatch: a flipped bit passes only at a tie of the oracle.
    bits = np.zeros((1, 1, 2, 1, 1), np.uint8)
    flipped = bits.copy()
    flipped[0, 0, 1] = 1
    expected = oracle.Forward(trace={"x": bits, "y": bits},
                              pre={"x": (np.array([[[[0.5]], [[y]]]]), np.ones((1, 2, 1, 1)))})
    check = lambda: assert_matches_oracle({"x": flipped, "y": flipped}, expected,  # noqa: E731
                                          np.zeros(1, np.float32))
    if tie:
        check()
    else:
        with pytest.raises(AssertionError, match="is no tie"):
            check()
