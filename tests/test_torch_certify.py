"""CERT-1 to CERT-3: exhaustive certification of every binary channel against PyTorch."""

from __future__ import annotations

import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_torch_harness import flip_by_rounding, full_size_boolnet_k4, setup, tie_channel

from boolnet_spec.equivalence.pytorch.certify import certify
from boolnet_spec.equivalence.pytorch.export import export_model, torch_model
from boolnet_spec.equivalence.pytorch.harness import compare
from boolnet_spec.reference.architecture import CONFIGS

pytestmark = pytest.mark.req("CERT-1", "CERT-2", "CERT-3")


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_scaled_models_have_no_mismatch(config):
    arch, _, net, _ = setup(config)
    result = certify(net, arch, progress=False)
    summary = result.summary
    assert summary["mismatch"] == 0
    assert summary["layers"] == sum(1 for n in export_model(net, arch).nodes if n.op == "bconv")
    assert summary["accumulator_values"] == sum(
        c.channels * c.slices * (c.n + 1) for c in result.nodes)
    for node in result.nodes:
        at_risk_channels = {r["channel"] for r in node.at_risk}
        assert node.certified_channels == node.channels - len(at_risk_channels)
        for risk in node.at_risk:
            assert risk["class"] in ("float_ambiguous", "ternary")
            assert risk["margin"] <= risk["bound"] * (1 + 1e-9)


def test_every_flip_the_harness_sees_is_at_risk():
    arch, _, net, images = setup("boolnet-k4", seed=4)
    channel, slice_ = flip_by_rounding(net, arch, images[:1])
    result = compare(net, arch, images[:1], progress=False)
    flips = [e for e in result.disagreements if e["class"] == "float_ambiguous"]
    assert flips
    certificate = certify(net, arch, progress=False)
    node = next(n for n in certificate.nodes if n.layer == "layer1.0.conv1")
    risky = {(r["channel"], r["slice"], r["s"]) for r in node.at_risk}
    for flip in flips:
        _, j, c, _, _ = flip["index"]
        assert (c, j, flip["s"]) in risky
    assert (channel, slice_) in {(c, j) for c, j, _ in risky}


def test_exact_ties_are_ternary_and_spec_mode_certifies_them():
    arch, _, net, _ = setup("boolnet-k4")
    tie_channel(net, "layer1.0.bn2", 5, 0)
    node = next(n for n in certify(net, arch, progress=False).nodes
                if n.layer == "layer1.0.conv2")
    tied = [r for r in node.at_risk if r["channel"] == 5 and r["slice"] == 0]
    assert len(tied) == node.n + 1 and all(r["class"] == "ternary" for r in tied)
    assert all(r["torch_zero"] and r["margin"] == 0.0 for r in tied)
    net.set_sign_mode("spec")
    spec = next(n for n in certify(net, arch, progress=False).nodes
                if n.layer == "layer1.0.conv2")
    assert not [r for r in spec.at_risk if r["channel"] == 5 and r["slice"] == 0]


def test_a_corrupted_threshold_is_a_mismatch():
    arch, _, net, _ = setup("basenet-k4")
    model = export_model(net, arch)
    units = model.states["layer2.0.downsample"]["units"]
    varying = np.flatnonzero(units.constant()[0] < 0)
    c = int(varying[0])
    units.threshold[0, c] += 2 if units.threshold[0, c] < units.n else -2
    result = certify(net, arch, model=model, progress=False)
    node = next(n for n in result.nodes if n.layer == "layer2.0.downsample")
    wrong = [r for r in node.at_risk if r["class"] == "mismatch"]
    assert wrong and all(r["channel"] == c and r["slice"] == 0 for r in wrong)
    assert result.summary["mismatch"] == len(wrong) and not result.summary["passed"]


@pytest.mark.equivalence
def test_full_size_boolnet_k4_is_certified_without_mismatch():
    arch, state = full_size_boolnet_k4()
    net = torch_model(arch, state)
    torch.set_num_threads(2)
    start = time.perf_counter()
    try:
        result = certify(net, arch, progress=False)
    finally:
        torch.set_num_threads(1)
    seconds = time.perf_counter() - start
    summary = result.summary
    print(f"boolnet-k4 224x224 certification: {seconds:.1f} s, {summary}")
    assert summary["mismatch"] == 0
    assert summary["channels"] == 4224 and summary["units"] == 4 * 4224
    assert summary["certified_channels"] > 0


def test_a_zero_weight_sign_is_not_certified():
    arch, _, net, _ = setup("basenet-k1")
    with torch.no_grad():
        net.layer1[0].conv2.weight[3, 0, 0, 0] = 0.0
    node = next(n for n in certify(net, arch, progress=False).nodes
                if n.layer == "layer1.0.conv2")
    flagged = [r for r in node.at_risk if r["s"] is None]
    assert [(r["channel"], r["class"]) for r in flagged] == [(3, "ternary")]
    assert node.certified_channels <= node.channels - 1


@pytest.mark.req("CERT-4")
def test_certification_is_blind_to_a_padding_bug_and_says_so(capsys):
    from faulty_torch import zero_padding

    from boolnet_spec.cli import main
    from boolnet_spec.equivalence.pytorch.certify import SCOPE

    arch, _, net, images = setup("basenet-k4")
    model = export_model(net, arch)
    zero_padding(net)
    result = certify(net, arch, model=model, progress=False)
    assert result.summary["mismatch"] == 0                       # blind, by design
    assert compare(net, arch, images, model=model, progress=False).summary["mismatch"] > 0
    scope = result.to_json()["scope"]
    assert scope == SCOPE and "padding" in scope["blind_to"]
    assert any("compare" in s for s in scope["see_also"]) and \
        any("conform" in s for s in scope["see_also"])
    assert main(["certify"]) == 0
    out = capsys.readouterr().out
    assert "scope (CERT-4)" in out and "blind to: padding" in out and "compare" in out
