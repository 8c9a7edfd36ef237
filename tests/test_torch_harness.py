"""HARNESS-1 to HARNESS-6 and BOUND-4: teacher-forced and free-running comparison, classified."""

from __future__ import annotations

import functools
import json
from fractions import Fraction

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from boolnet_spec.equivalence.pytorch.export import export_model, torch_model
from boolnet_spec.equivalence.pytorch.harness import CLASSES, capture, compare
from boolnet_spec.reference.architecture import CONFIGS, architecture
from boolnet_spec.reference.batchnorm import BatchNorm
from boolnet_spec.reference.build import random_state_dict
from boolnet_spec.reference.errors import FormatError
from boolnet_spec.reference.exact import exact
from boolnet_spec.reference.fold import ChannelFold
from boolnet_spec.reference.network import forward
from boolnet_spec.reference.slices import slice_offsets
from boolnet_spec.reference.weights import weight_scale

SMALL = {"widths": (8, 16), "blocks": (2, 1), "image_size": 32, "classes": 5}


def setup(config: str, seed: int = 0, sign_mode: str = "official"):
    arch = architecture(config).scaled(**SMALL)
    state = random_state_dict(arch, seed)
    images = np.random.default_rng(seed + 1).standard_normal((2, 3, 32, 32)).astype(np.float32)
    return arch, state, torch_model(arch, state, sign_mode), images


def counts(result, layer: str) -> dict:
    return next(r for r in result.to_json()["layers"] if r["layer"] == layer)


@pytest.mark.req("HARNESS-1", "HARNESS-2", "HARNESS-5", "HARNESS-6", "BOUND-5")
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_scaled_models_agree_bit_for_bit(config):
    arch, _, net, images = setup(config)
    result = compare(net, arch, images, progress=False)
    report = json.loads(json.dumps(result.to_json()))
    summary = report["summary"]
    assert summary["mismatch"] == 0 and summary["top1_agreement"] == 1.0
    assert summary["elements"] == sum(r["elements"] for r in report["layers"])
    assert summary["equal"] + summary["ternary"] + summary["float_ambiguous"] == \
        summary["elements"]
    layers = {r["layer"] for r in report["layers"]}
    assert {"ghostbnsign", "layer1.0.ghostsign1", "layer1.0.xnor", "layer1.0.ghostsign2",
            "layer1.0", "layer2.0.downsample", "layer2.0.downsample.0", "logits"} <= layers
    if arch.family == "boolnet":
        assert {"layer1.1.x", "layer1.0.or"} <= layers
    free = report["free_running"]
    assert free["logits_within_bound"] in (True, None)
    assert all(r["differing"] == 0 for r in free["layers"]) == \
        (free["logits_within_bound"] is True)
    assert all(r[c] >= 0 for r in report["layers"] for c in CLASSES)


@pytest.mark.req("HARNESS-1")
def test_the_module_keeps_its_mode_and_a_missing_path_is_an_error():
    arch, _, net, images = setup("basenet-k1")
    net.train()
    compare(net, arch, images, progress=False)
    assert net.training
    del net.layer1[0].bn1
    with pytest.raises(FormatError, match=r"layer1\.0\.bn1"):
        compare(net, arch, images, model=export_model(setup("basenet-k1")[2], arch),
                progress=False)


@pytest.mark.req("HARNESS-3", "HARNESS-6")
def test_a_corrupted_threshold_is_a_mismatch():
    arch, _, net, images = setup("boolnet-k4")
    model = export_model(net, arch)
    units = model.states["layer1.0.conv1"]["units"]
    bits = forward(model, images, trace=True)[1]["layer1.0.ghostsign1"]
    # The channel-slice whose bits vary most, made constant 1: wrong wherever it was 0.
    j, c = np.unravel_index(np.argmax([[abs(bits[:, j, c].mean() - 0.5) < 0.5
                                        for c in range(units.channels)]
                                       for j in range(units.slices)]), units.polarity.shape)
    units.polarity[j, c], units.threshold[j, c] = 1, -units.n
    result = compare(net, arch, images, model=model, progress=False)
    row = counts(result, "layer1.0.ghostsign1")
    assert row["mismatch"] == int((bits[:, j, c] == 0).sum()) > 0
    entry = next(e for e in result.disagreements if e["layer"] == "layer1.0.ghostsign1")
    assert entry["class"] == "mismatch" and entry["unit"] == {"cmp": ">=", "t": -units.n}
    assert entry["reference_bit"] == 1 and entry["torch_value"] == -1.0
    assert abs(entry["exact_preactivation"]) > entry["bound"]
    assert set(entry) >= {"index", "s", "s_torch", "torch_conv", "torch_bn",
                          "torch_preactivation", "margin"}


def tie_channel(net, path: str, channel: int, slice_: int) -> None:
    """gamma = 0 and beta = -o_j: PyTorch's pre-activation is exactly 0 in that slice."""
    bn = net.get_submodule(path)
    with torch.no_grad():
        bn.weight[channel] = 0.0
        bn.bias[channel] = -float(slice_offsets(4)[slice_])


@pytest.mark.req("HARNESS-3", "ENC-4")
def test_ties_are_ternary_in_official_mode_and_equal_in_spec_mode():
    arch, _, net, images = setup("boolnet-k4")
    tie_channel(net, "layer1.0.bn1", 3, 1)
    result = compare(net, arch, images, progress=False)
    row = counts(result, "layer1.0.ghostsign1")
    elements_per_channel = images.shape[0] * 8 * 8
    assert row["ternary"] == elements_per_channel and row["mismatch"] == 0
    # The zeros propagate through XNOR: ternary there too, and never a mismatch downstream.
    assert counts(result, "layer1.0.xnor")["ternary"] > 0
    assert result.summary["mismatch"] == 0
    net.set_sign_mode("spec")
    spec = compare(net, arch, images, progress=False)
    assert spec.summary["ternary"] == 0 and spec.summary["mismatch"] == 0
    assert counts(spec, "layer1.0.ghostsign1")["equal"] == row["elements"]


@pytest.mark.req("HARNESS-3")
def test_a_wrong_sign_convention_is_a_mismatch():
    arch, _, net, images = setup("boolnet-k4")
    tie_channel(net, "layer1.0.bn1", 3, 1)
    sign = net.layer1[0].ghostsign1
    sign.forward = lambda x: torch.where(x.unsqueeze(1) + sign.offsets > 0, 1.0, -1.0)
    result = compare(net, arch, images, progress=False)
    row = counts(result, "layer1.0.ghostsign1")
    assert row["mismatch"] == images.shape[0] * 8 * 8
    entry = next(e for e in result.disagreements if e["layer"] == "layer1.0.ghostsign1")
    assert entry["reason"] == "PyTorch's bit is not the sign of its own pre-activation"


@pytest.mark.req("HARNESS-4")
def test_zero_padding_is_a_conv_mismatch():
    arch, _, net, images = setup("basenet-k4")
    conv = net.layer1[0].conv2
    original = conv.forward

    def zero_padded(x):
        conv.padding, saved = 0, conv.padding
        try:
            return original(torch.nn.functional.pad(x, (1, 1, 1, 1)))
        finally:
            conv.padding = saved

    conv.forward = zero_padded
    result = compare(net, arch, images, progress=False)
    row = counts(result, "layer1.0.conv2")
    assert row["mismatch"] > 0 and row["kind"] == "conv"


def flip_by_rounding(net, arch, images, layer: str = "layer1.0.conv1", bn_path="layer1.0.bn1"):
    """Move one channel's running mean next to a tie that float32 decides the other way.

    Returns ``(channel, slice)`` or None. The candidate means are float32 neighbours of the real
    root; PyTorch's own BatchNorm evaluates them on the conv output it produced, FOLD-2 decides
    the exact bit.
    """
    model = export_model(net, arch)
    _, _, seen = capture(net, model, images)
    trace = forward(model, images, trace=True)[1]
    s_all, v_all = trace[layer].astype(np.int64), seen[layer]
    bn = net.get_submodule(bn_path)
    conv = net.get_submodule(layer)
    alpha = weight_scale(conv.weight.detach().numpy())
    offsets = slice_offsets(arch.slices)
    params = [t.detach().numpy().copy() for t in (bn.weight, bn.bias, bn.running_mean,
                                                  bn.running_var)]
    for c in range(v_all.shape[1]):
        for j in range(arch.slices):
            s, v = int(s_all[0, c, 0, 0]), v_all[0, c, 0, 0]
            gamma_, beta, _, var = (float(p[c]) for p in params)
            if gamma_ == 0:
                continue
            root = alpha[c] * s + (beta + offsets[j]) * np.sqrt(var + 1e-5) / gamma_
            base = np.float32(root).view(np.int32)
            candidates = (base + np.arange(-3000, 3000, dtype=np.int32)).view(np.float32)
            probe = torch.nn.BatchNorm2d(len(candidates)).eval()
            with torch.no_grad():
                probe.weight.fill_(gamma_)
                probe.bias.fill_(beta)
                probe.running_var.fill_(var)
                probe.running_mean.copy_(torch.from_numpy(candidates))
                y = probe(torch.full((1, len(candidates), 1, 1), float(v))).numpy().ravel()
            torch_bit = (y.astype(np.float64) + offsets[j]) >= 0
            for k in np.flatnonzero(np.abs(y.astype(np.float64) + offsets[j]) < 1e-3):
                mean = params[2].copy()
                mean[c] = candidates[k]
                fold = ChannelFold(BatchNorm(params[0], params[1], mean, params[3]), c,
                                   alpha[c], np.float32(0))
                if fold.bit(s, exact(offsets[j])) != torch_bit[k] and \
                        y[k] + offsets[j] != 0:
                    with torch.no_grad():
                        bn.running_mean[c] = float(candidates[k])
                    return c, j
    return None


@pytest.mark.req("HARNESS-3", "BOUND-4")
def test_a_near_tie_flipped_by_float32_is_float_ambiguous():
    arch, _, net, images = setup("boolnet-k4", seed=4)
    found = flip_by_rounding(net, arch, images[:1])
    assert found is not None, "no float32 flip near a root: widen the search"
    result = compare(net, arch, images[:1], progress=False)
    row = counts(result, "layer1.0.ghostsign1")
    assert row["float_ambiguous"] >= 1 and row["mismatch"] == 0
    entry = next(e for e in result.disagreements if e["layer"] == "layer1.0.ghostsign1")
    assert entry["class"] == "float_ambiguous" and entry["index"][:3] == [0, found[1], found[0]]
    assert Fraction(abs(entry["exact_preactivation"])) <= Fraction(entry["bound"]) * 2
    assert entry["s"] == entry["s_torch"]


@pytest.mark.req("HARNESS-3", "HARNESS-4")
def test_ternary_inputs_explain_downstream_disagreements():
    arch, _, net, images = setup("basenet-k4", seed=2)
    for c in range(8):
        tie_channel(net, "ghostbnsign.0", c, 2)   # every stem bit of slice 2 is 0
    result = compare(net, arch, images, progress=False)
    assert counts(result, "ghostbnsign")["ternary"] == images.shape[0] * 8 * 8 * 8
    assert result.summary["mismatch"] == 0
    # conv1 of BaseNet reads slices 0..3 (groups 4): slice 2 feeds group 2's accumulators.
    conv = counts(result, "layer1.0.conv1")
    assert conv["ternary"] > 0 and conv["mismatch"] == 0


@functools.cache
def full_size_boolnet_k4():
    """``boolnet-k4`` at 224x224 with calibrated random parameters (BUILD-4), seed 0."""
    arch = architecture("boolnet-k4")
    return arch, random_state_dict(arch, 0)


@pytest.mark.equivalence
@pytest.mark.req("HARNESS-5", "HARNESS-6")
def test_full_size_boolnet_k4_compares_without_mismatch():
    arch, state = full_size_boolnet_k4()
    net = torch_model(arch, state)
    images = np.random.default_rng(7).standard_normal((2, 3, 224, 224)).astype(np.float32)
    result = compare(net, arch, images, progress=False)
    print(result.summary)
    assert result.summary["mismatch"] == 0 and result.summary["top1_agreement"] == 1.0
    assert result.free_running["logits_within_bound"] in (True, None)


@pytest.mark.req("HARNESS-3", "HARNESS-4", "WB-1")
def test_zero_weights_are_ternary_not_mismatches():
    arch, _, net, images = setup("boolnet-k4", seed=6)
    with torch.no_grad():
        net.layer1[0].conv1.weight[2, 0, 1, 1] = 0.0  # torch.sign gives 0, WB-1 gives +1
        net.layer2[0].conv2.weight[1, 0, 1, 1] = 0.0  # the head's convolution
    result = compare(net, arch, images, progress=False)
    assert result.summary["mismatch"] == 0
    conv = counts(result, "layer1.0.conv1")
    assert conv["ternary"] == images.shape[0] * 8 * 8 and conv["equal"] == conv["elements"] - \
        conv["ternary"]
    head = counts(result, "layer2.0.conv2")
    assert head["ternary"] == images.shape[0] * 4 * 4
    assert counts(result, "layer2.0")["mismatch"] == 0
