"""Building the folded graph from the authors' parameters (reference.build), and the calibrated
random parameters, against BUILD-1's text, the exact fold and the PyTorch model."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from extras import needs_torch, torch
from fixtures_network import FAMILIES, SHAPES, images, model, scaled, state_dict
from naive import network as oracle
from naive.fold import bn_sign_bits_at, nearest_float32
from naive.ops import spec_message

from boolnet_spec.reference.architecture import state_dict_layout
from boolnet_spec.reference.build import build_model, random_state_dict
from boolnet_spec.reference.errors import DomainError
from boolnet_spec.reference.maxpool import real_maxpool
from boolnet_spec.reference.network import forward
from boolnet_spec.reference.stem import real_conv2d

CASES = [(family, shape) for family in FAMILIES for shape in SHAPES]


def build_1_graph(arch) -> list[tuple]:
    """``(name, op, inputs, outputs)`` of every node, as BUILD-1 and ARCH-3/4 describe them."""
    boolnet = arch.family == "boolnet"
    nodes = [("stem", "stem", ["image"], ["ghostbnsign"])]
    x, channels = "ghostbnsign", arch.widths[0]
    for block in oracle.blocks(arch):
        p = block.name
        conv1_in = (2 * block.previous_width if block.downsample else block.width) \
            if boolnet else channels
        conv_in = residual = carry = x
        if boolnet and channels == 2 * conv1_in:
            nodes.append((f"{p}.split", "split", [x], [f"{p}.x", f"{p}.carry"]))
            conv_in = residual = f"{p}.x"
            carry = f"{p}.carry"
        if block.downsample:
            nodes.append((f"{p}.downsample", "bconv", [x],
                          [f"{p}.downsample.0", f"{p}.downsample"]))
            residual = carry = f"{p}.downsample"
        nodes += [(f"{p}.conv1", "bconv", [conv_in], [f"{p}.conv1", f"{p}.ghostsign1"]),
                  (f"{p}.xnor", "xnor", [f"{p}.ghostsign1", residual], [f"{p}.xnor"])]
        if block.last:
            return [*nodes, ("head", "head", [f"{p}.xnor"], [f"{p}.conv2", p, "logits"])]
        nodes.append((f"{p}.conv2", "bconv", [f"{p}.xnor"], [f"{p}.conv2", f"{p}.ghostsign2"]))
        if boolnet:
            nodes += [(f"{p}.or", "or", [f"{p}.ghostsign2", residual], [f"{p}.or"]),
                      (f"{p}.shuffle", "shuffle", [f"{p}.or", carry], [p])]
        else:
            nodes.append((f"{p}.or", "or", [f"{p}.ghostsign2", residual], [p]))
        x, channels = p, 2 * block.width if boolnet else block.width
    raise AssertionError("no last block")


@pytest.mark.req("BUILD-1", "ARCH-3", "ARCH-4", "ARCH-6")
@pytest.mark.parametrize(("family", "shape"), CASES)
def test_the_graph_is_wired_as_build_1_says(family, shape):
    arch = scaled(family, **SHAPES[shape])
    nodes = model(arch).nodes
    assert [(n.name, n.op, n.inputs, n.outputs) for n in nodes] == build_1_graph(arch)


@pytest.mark.req("BUILD-1", "ARCH-6")
def test_the_last_boolnet_block_drops_its_carried_half():
    nodes = model(scaled("boolnet-k4")).nodes
    assert "layer4.1.carry" in nodes[[n.name for n in nodes].index("layer4.1.split")].outputs
    assert not any("layer4.1.carry" in n.inputs for n in nodes)


@pytest.mark.req("BUILD-1", "ARCH-2", "ARCH-5")
@pytest.mark.parametrize("family", FAMILIES)
def test_convolution_attributes_follow_the_block(family):
    arch = scaled(family, **SHAPES["2x2"])
    nodes = {n.name: n for n in model(arch).nodes}
    for block in oracle.blocks(arch):
        p = block.name
        padding = block.dilation if arch.family == "boolnet" else 1
        conv = {"padding": padding, "dilation": block.dilation, "groups": arch.slices,
                "pad_mode": "replicate"}
        assert nodes[f"{p}.conv1"].attrs == conv | {"stride": block.stride, "read": "slices",
                                                    "pool": 0}
        second = nodes["head" if block.last else f"{p}.conv2"].attrs
        assert {key: second[key] for key in (*conv, "stride")} == conv | {"stride": 1}
        if block.downsample:
            assert nodes[f"{p}.downsample"].attrs == {
                "stride": 1, "padding": 0, "dilation": 1, "groups": 1, "pad_mode": "none",
                "read": "all", "pool": 2 if block.pool else 0}


def exact_alpha(weight: np.ndarray) -> np.ndarray:
    """WB-2 by Fractions: the float32 nearest to the exact mean of |W| per output channel."""
    rows = np.abs(weight.reshape(weight.shape[0], -1)).astype(np.float64).tolist()
    return np.array([nearest_float32(sum(map(Fraction, row)) / len(row)) for row in rows],
                    np.float32)


def bn_prefix(name: str, arch) -> str:
    """BUILD-2: conv1 folds bn1, conv2 bn2, the downsample the BatchNorm of its branch."""
    block, conv = name.rsplit(".", 1)
    if conv == "downsample":
        pooled = next(b for b in oracle.blocks(arch) if b.name == block).pool
        return f"{name}.{2 if pooled else 1}"
    return f"{block}.bn{conv[-1]}"


@pytest.mark.req("BUILD-2")
@pytest.mark.parametrize("arch", [scaled(name, **SHAPES["2x2"]) for name in
                                  ("boolnet-k4", "boolnet-star-k4", "basenet-k1")],
                         ids=lambda arch: arch.name)
def test_every_unit_is_the_exact_fold_of_its_layer(arch):
    net, parameters = model(arch), state_dict(arch)
    offsets = oracle.offsets(arch.slices)
    for node in net.nodes:
        if node.op != "bconv":
            continue
        weight_key = node.arrays["weight"].removesuffix(".bits")
        weight = parameters[weight_key]
        n = int(np.prod(weight.shape[1:]))
        alpha = exact_alpha(weight)
        bias = parameters.get(f"{node.name}.0.bias", np.zeros(weight.shape[0], np.float32))
        prefix = bn_prefix(node.name, arch)
        bn = [parameters[f"{prefix}.{f}"] for f in ("weight", "bias", "running_mean",
                                                     "running_var")]
        polarity = net.arrays[node.arrays["polarity"]]
        threshold = net.arrays[node.arrays["threshold"]].astype(int)
        for j, c in np.ndindex(polarity.shape):
            t = threshold[j, c]
            # y is monotone in s: a step is pinned on both sides of t, a constant at both ends.
            constant = polarity[j, c] == 1 and t in (-n, n + 2)
            points = [-n, n] if constant else [t - 2, t] if polarity[j, c] else [t, t + 2]
            unit = [int(s >= t) if polarity[j, c] else int(s <= t) for s in points]
            exact = bn_sign_bits_at(points, *(float(p[c]) for p in bn), 1e-5, float(alpha[c]),
                                    float(bias[c]), float(offsets[j]))
            assert unit == exact, f"{node.name} unit [{j}, {c}] at {points}"


@pytest.mark.req("BUILD-2")
@pytest.mark.parametrize("family", FAMILIES)
def test_the_head_stores_the_exact_alpha_of_its_conv(family):
    arch = scaled(family)
    head = next(n for n in model(arch).nodes if n.op == "head")
    weight = state_dict(arch)[head.arrays["weight"].removesuffix(".bits")]
    assert np.array_equal(model(arch).arrays[head.arrays["alpha"]], exact_alpha(weight))


def temperature_keys(arch) -> list[str]:
    return [key for key, _, _ in state_dict_layout(arch) if key.endswith(".temperature")]


@pytest.mark.req("BUILD-3", "ARCH-7")
@pytest.mark.parametrize("value", [0.0, -0.0, -1.0, np.nan, np.inf, -np.inf, 1.0000001, 4.0])
@pytest.mark.parametrize("key", ["ghostbnsign.temperature", "layer1.1.conv2.temperature",
                                 "layer4.0.downsample.3.temperature"])
def test_a_temperature_outside_zero_one_is_a_domain_error(key, value):
    arch = scaled("boolnet-k4")
    parameters = state_dict(arch)
    parameters[key] = np.array([value], np.float32)
    with pytest.raises(DomainError, match=spec_message(key, "a temperature in (0, 1]",
                                                       f"[{float(np.float32(value))}]",
                                                       "BUILD-3")):
        build_model(arch, parameters)


def same_model(a, b) -> bool:
    return [n.to_json() for n in a.nodes] == [n.to_json() for n in b.nodes] and \
        sorted(a.arrays) == sorted(b.arrays) and \
        all(a.arrays[k].dtype == b.arrays[k].dtype and np.array_equal(a.arrays[k], b.arrays[k])
            for k in a.arrays)


@pytest.mark.req("BUILD-3", "ARCH-7")
@pytest.mark.parametrize("family", FAMILIES)
def test_buffers_and_unused_parameters_do_not_enter_the_model(family):
    arch = scaled(family)
    parameters = state_dict(arch)
    rng = np.random.default_rng(7)
    last = oracle.blocks(arch)[-1].name
    for key, value in parameters.items():
        if key.endswith(".temperature"):
            parameters[key] = np.array([10.0 ** rng.uniform(-30, 0)], np.float32)
        elif key.endswith(".num_batches_tracked"):
            parameters[key] = np.array(-rng.integers(0, 2**40), np.int64)
        elif ".bn3." in key and not key.startswith(f"{last}."):
            # Not even BN-2's checks see these: they belong to no node.
            parameters[key] = np.full(value.shape, -np.inf if "var" in key else np.nan,
                                      np.float32)
    assert same_model(build_model(arch, parameters), model(arch))


@pytest.mark.req("BUILD-4")
def test_random_parameters_are_a_function_of_the_seed():
    arch = scaled("boolnet-star-k4", **SHAPES["2x2"])
    first, again, other = (random_state_dict(arch, s) for s in (5, 5, 6))
    assert [(k, v.shape, str(v.dtype)) for k, v in first.items()] == \
        [(k, tuple(s), d) for k, s, d in state_dict_layout(arch)]
    assert all(np.array_equal(first[k], again[k], equal_nan=True) for k in first)
    assert not all(np.array_equal(first[k], other[k]) for k in first)


@pytest.mark.req("BUILD-4")
@pytest.mark.parametrize(("family", "shape"), CASES)
def test_calibration_makes_realistic_statistics(family, shape):
    arch = scaled(family, **SHAPES[shape])
    parameters = state_dict(arch)
    gammas = np.concatenate([v for k, v in parameters.items() if k.endswith(".weight")
                             and v.ndim == 1 and k != "prelu2.weight"])
    assert 0.1 < (gammas < 0).mean() < 0.45
    variances = np.concatenate([v for k, v in parameters.items() if k.endswith("running_var")])
    assert (variances != 1).mean() > 0.5
    _, trace = forward(model(arch), images(arch, 4, 11), trace=True)
    for name, bits in trace.items():
        if name == "ghostbnsign" or name.endswith(("ghostsign1", "ghostsign2", "downsample")):
            assert 0.1 < bits.mean() < 0.9, name


class RecordImages:
    """A Generator that records the calibration images it draws."""

    def __init__(self, rng):
        self.rng, self.images = rng, []

    def __getattr__(self, name):
        return getattr(self.rng, name)

    def standard_normal(self, size=None, dtype=np.float64):
        values = self.rng.standard_normal(size, dtype)
        if np.ndim(values) == 4:
            self.images.append(values.astype(np.float32))
        return values


def assert_statistics(parameters, prefix, real):
    """running_mean and running_var: the mean and unbiased variance of ``real`` per channel."""
    values = np.moveaxis(real, 1, 0).reshape(real.shape[1], -1)
    # float32 results of binary64 sums in an unspecified order: a few float32 ulps apart.
    for key, exact in (("running_mean", values.mean(axis=1)),
                       ("running_var", values.var(axis=1, ddof=1))):
        stored = parameters[f"{prefix}.{key}"].astype(np.float64)
        scale = np.abs(values).max(axis=1) ** (1 if key == "running_mean" else 2)
        assert np.all(np.abs(stored - exact) <= 4e-7 * np.abs(exact) + 1e-12 * scale), \
            f"{prefix}.{key}"


@pytest.mark.req("BUILD-4")
@pytest.mark.parametrize("family", FAMILIES)
def test_calibration_uses_the_real_input_of_each_batchnorm_in_execution_order(family,
                                                                              monkeypatch):
    arch = scaled(family, **SHAPES["4x1"])
    recorder, real_default_rng = {}, np.random.default_rng

    def default_rng(seed):
        recorder["rng"] = RecordImages(real_default_rng(seed))
        return recorder["rng"]

    monkeypatch.setattr(np.random, "default_rng", default_rng)
    parameters = random_state_dict(arch, 3, batch=2)
    monkeypatch.undo()
    (calibration,) = recorder["rng"].images
    assert calibration.shape == (2, 3, arch.image_size, arch.image_size)
    # The oracle runs on the final parameters: every layer before a BatchNorm is in place.
    inputs = oracle.forward(arch, parameters, calibration).bn_inputs
    net = oracle.Network(arch, parameters)
    conv = real_conv2d(calibration, parameters["conv1.weight"], 2, 3)
    features = real_maxpool(net.bn("maxpool.0")(conv), 3, 2, 1)
    inputs |= {"maxpool.0": conv}
    if arch.family == "boolnet":
        shifted = real_conv2d(net.bn("ghostbnsign.bn2")(features),
                              parameters["ghostbnsign.adaptive_zero_points.0.weight"], 1, 1,
                              groups=features.shape[1])
        inputs |= {"ghostbnsign.bn1": features, "ghostbnsign.bn2": features,
                   "ghostbnsign.adaptive_zero_points.1": shifted}
    else:
        inputs |= {"ghostbnsign.0": features}
    used = {key.rsplit(".", 1)[0] for key in parameters if key.endswith(".running_mean")
            and (".bn3." not in key or key.startswith(oracle.blocks(arch)[-1].name))}
    assert set(inputs) == used
    for prefix, real in inputs.items():
        assert_statistics(parameters, prefix, real)


def torch_model(arch, parameters, sign_mode="spec"):
    from boolnet_spec.equivalence.pytorch.model import BoolNet

    net = BoolNet(arch, sign_mode=sign_mode)
    result = net.load_state_dict({k: torch.from_numpy(v) for k, v in parameters.items()},
                                 strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return net.eval()


@needs_torch
@pytest.mark.req("TORCH-3", "BUILD-4", "ARCH-7")
@pytest.mark.parametrize(("family", "shape"), CASES)
def test_the_pytorch_model_has_the_layout_and_agrees(family, shape):
    arch = scaled(family, **SHAPES[shape])
    parameters = state_dict(arch)
    net = torch_model(arch, parameters)
    assert [(k, tuple(v.shape), str(v.dtype).removeprefix("torch."))
            for k, v in net.state_dict().items()] == state_dict_layout(arch)
    x = images(arch, 4, 21)
    logits, _ = forward(model(arch), x)
    with torch.no_grad():
        authors = net(torch.from_numpy(x)).double().numpy()
    assert np.array_equal(logits.argmax(axis=1), authors.argmax(axis=1))
    # float32 stem and head against binary64; a near-tie bit flip may move a few logits more.
    assert np.abs(logits - authors).max() / np.abs(logits).max() < 1e-3
