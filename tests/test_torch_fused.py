"""HARNESS-14: fused BatchNorm-sign threshold modules, checked against the exact fold of the
float state dict given with them (``faulty_torch.fused_port``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from faulty_torch import Port, float32_thresholds, fused_downsample_port, fused_port
from test_torch_harness import counts, setup

from boolnet_spec.equivalence.pytorch.export import export_model
from boolnet_spec.equivalence.pytorch.harness import compare
from boolnet_spec.reference.batchnorm import BatchNorm
from boolnet_spec.reference.errors import FormatError, ShapeError, UsageError
from boolnet_spec.reference.exact import exact
from boolnet_spec.reference.fold import ChannelFold
from boolnet_spec.reference.network import forward
from boolnet_spec.reference.slices import slice_offsets
from boolnet_spec.reference.weights import weight_scale

NODE = "layer1.0.conv2"
MAP = {"fused": {NODE: {"module": "layer1.0.threshold2"}}}


def exact_units(net, arch, node=NODE):
    units = export_model(net, arch).states[node]["units"]
    return units.polarity.copy(), units.threshold.copy(), units.n


@pytest.mark.req("HARNESS-14")
def test_a_clean_fused_port_compares_with_zero_mismatches():
    arch, state, net, images = setup("boolnet-k4")
    polarity, threshold, _ = exact_units(net, arch)
    port = fused_port(net, NODE, polarity, threshold.astype(np.int32))
    assert "layer1.0.bn2.weight" not in port.state_dict()
    result = compare(port, arch, images, progress=False, module_map=MAP, state_dict=state)
    assert result.summary["mismatch"] == 0, result.disagreements[:3]
    row = counts(result, f"{NODE}.units")
    assert row["equal"] == row["elements"] == polarity.size
    assert counts(result, "layer1.0.ghostsign2")["elements"] > 0     # its bits were compared
    with pytest.raises(UsageError, match=r"state_dict.*HARNESS-14\]$"):
        compare(port, arch, images, progress=False, module_map=MAP)


@pytest.mark.req("HARNESS-14")
def test_a_fused_threshold_off_by_one_is_a_mismatch_naming_the_unit():
    arch, state, net, images = setup("boolnet-k4")
    polarity, threshold, n = exact_units(net, arch)
    # a GE unit t inside D_n: s >= t + 1 drops s = t, another function
    j, c = next((j, c) for j, c in np.ndindex(*polarity.shape)
                if polarity[j, c] == 1 and -n <= threshold[j, c] < n)
    held = threshold.astype(np.int32)
    held[j, c] += 1
    port = fused_port(net, NODE, polarity, held)
    result = compare(port, arch, images, progress=False, module_map=MAP, state_dict=state)
    assert counts(result, f"{NODE}.units")["mismatch"] == 1
    finding = next(e for e in result.disagreements if e["layer"] == f"{NODE}.units")
    t = int(threshold[j, c])
    assert (finding["channel"], finding["slice"]) == (c, j)
    assert finding["held"] == {"cmp": ">=", "t": t + 1}
    assert finding["unit"] == {"cmp": ">=", "t": t + 2}              # the function it computes
    assert finding["exact_unit"] == {"cmp": ">=", "t": t}
    assert not result.summary["passed"]
    bad = {r.layer for r in result.rows if r.counts["mismatch"]}
    assert bad <= {f"{NODE}.units", "layer1.0.ghostsign2"} | {
        r.layer for r in result.rows if not r.layer.startswith("layer1.0")}


def float32_root_flip(state, arch, node: str, j: int, c: int):
    """BatchNorm parameters of channel ``c`` where the float32 threshold of slice ``j`` computes
    another function than the exact fold: beta = -o_j, so the root is (mean - 0) / alpha, and
    mean is stepped through float32 neighbours of alpha * s0 until float32 and exact disagree."""
    block, conv = node.rsplit(".", 1)
    bn = f"{block}.bn{conv[-1]}"
    weight = state[f"{node}.weight"]
    alpha, n = weight_scale(weight), int(np.prod(weight.shape[1:]))
    offset = slice_offsets(arch.slices)[j]
    state[f"{bn}.weight"][c], state[f"{bn}.bias"][c] = np.float32(1.0), -offset
    for s0 in range(-n + 2, n, 2):
        mean = np.float32(alpha[c] * np.float32(s0))
        for _ in range(64):
            state[f"{bn}.running_mean"][c] = mean
            polarity, t = float32_thresholds(state, node, arch.slices)
            fold = ChannelFold(BatchNorm(*(state[f"{bn}.{k}"] for k in (
                "weight", "bias", "running_mean", "running_var"))), c, alpha[c], np.float32(0))
            exact_bit = fold.bit(s0, exact(offset))
            if exact_bit != bool(s0 >= t[j, c]):
                return s0, polarity, t
            mean = np.nextafter(mean, np.float32(np.inf))
    raise AssertionError("no float32 flip found")


@pytest.mark.req("HARNESS-14", "HARNESS-7")
def test_a_float32_threshold_compare_is_found_where_it_differs_from_the_exact_unit():
    arch, state, _, images = setup("boolnet-k4")
    j, c = 2, 5
    s0, polarity, t = float32_root_flip(state, arch, NODE, j, c)
    from boolnet_spec.equivalence.pytorch.export import torch_model

    net = torch_model(arch, state)
    _, exact_t, _ = exact_units(net, arch)
    # the float32 threshold is a real one: every other unit computes the exact function
    port = fused_port(net, NODE, polarity, t)
    result = compare(port, arch, images, progress=False, module_map=MAP, state_dict=state)
    findings = [e for e in result.disagreements if e["layer"] == f"{NODE}.units"]
    assert [(e["slice"], e["channel"]) for e in findings] == [(j, c)]
    finding = findings[0]
    assert finding["held"] == {"cmp": ">=", "t": float(t[j, c])}
    assert finding["exact_unit"] == {"cmp": ">=", "t": int(exact_t[j, c])}
    assert finding["unit"] != finding["exact_unit"]
    assert s0 in (finding["unit"]["t"], finding["exact_unit"]["t"])  # they part at s0
    assert counts(result, f"{NODE}.units")["mismatch"] == 1


@pytest.mark.req("HARNESS-14", "HARNESS-11")
def test_the_map_file_is_bounded_and_validated(tmp_path):
    arch, state, net, images = setup("basenet-k1")
    cases = {
        "fields.json": ({"fused": {NODE: {"module": "x", "scale": "s"}}}, r"fused\.layer1\.0"
                        r"\.conv2: expected only the fields"),
        "node.json": ({"fused": {"layer1.0.bn2": {"module": "x"}}},
                      r"conv2 or layerL\.b\.downsample"),
        "module.json": ({"fused": {NODE: {}}}, r"fused\.layer1\.0\.conv2\.module: .*missing"),
        "type.json": ({"fused": {NODE: {"module": 3}}}, r"module: expected a string"),
        "top.json": ({"paths": {}, "extra": {}}, r"only the tables paths and fused.*'extra'"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_text(json.dumps(data))
        with pytest.raises(FormatError, match=rf"{name}.*{message}"):
            compare(net, arch, images, progress=False, module_map=tmp_path / name,
                    state_dict=state)
    big = tmp_path / "big.json"
    big.write_text(" " * ((1 << 20) + 1))
    from boolnet_spec.reference.errors import BoundError

    with pytest.raises(BoundError, match=r"big\.json: expected at most 1048576 bytes"):
        compare(net, arch, images, progress=False, module_map=big)
    polarity, threshold, _ = exact_units(net, arch)
    port = fused_port(net, NODE, polarity, threshold[:, :-1].astype(np.int32))
    with pytest.raises(ShapeError, match=r"threshold2.*threshold: expected shape \[S, C\]"):
        compare(port, arch, images, progress=False, module_map=MAP, state_dict=state)


@pytest.mark.req("HARNESS-14", "HARNESS-11", "CLI-1", "CLI-2")
def test_compare_and_certify_take_a_module_map_and_a_state_dict(tmp_path, capsys):
    from boolnet_spec.cli import main

    arch, state, net, images = setup("boolnet-k4")
    polarity, threshold, n = exact_units(net, arch)
    np.save(tmp_path / "images.npy", images)
    np.savez(tmp_path / "float.npz", **state)
    (tmp_path / "map.json").write_text(json.dumps(MAP))
    port = {k: v.numpy() for k, v in fused_port(net, NODE, polarity,
                                               threshold.astype(np.int32)).state_dict().items()}
    np.savez(tmp_path / "port.npz", **port)
    common = ["--config", "boolnet-k4", "--input", str(tmp_path / "images.npy"), "--json"]
    fused = ["--module-map", str(tmp_path / "map.json"), "--state-dict",
             str(tmp_path / "float.npz")]
    assert main(["compare", str(tmp_path / "port.npz"), *common, *fused]) == 0
    report = json.loads(capsys.readouterr().out)
    assert any(r["layer"] == f"{NODE}.units" and r["mismatch"] == 0 for r in report["layers"])
    j, c = next((j, c) for j, c in np.ndindex(*polarity.shape)
                if polarity[j, c] == 1 and -n <= threshold[j, c] < n)
    port["layer1.0.threshold2.threshold"][j, c] += 1
    np.savez(tmp_path / "port.npz", **port)
    assert main(["compare", str(tmp_path / "port.npz"), *common, *fused]) == 1
    first = json.loads(capsys.readouterr().out)["first_disagreements"][0]
    assert (first["layer"], first["slice"], first["channel"]) == (f"{NODE}.units", j, c)
    # refused before any work: fused entries without --state-dict, or in certify
    assert main(["compare", str(tmp_path / "port.npz"), *common, *fused[:2]]) == 2
    assert "HARNESS-14" in capsys.readouterr().err
    assert main(["certify", str(tmp_path / "port.npz"), "--config", "boolnet-k4", *fused[:2]]) == 2
    err = capsys.readouterr().err
    assert "compare CHECKPOINT --module-map MAP --state-dict FLOAT" in err
    assert err.rstrip().endswith(f"{NODE} [CERT-4]"), err
    # a fused node the configuration lacks, refused by name before any work
    (tmp_path / "head.json").write_text(json.dumps(
        {"fused": {"layer2.0.conv2": {"module": "x"}}}))
    assert main(["compare", str(tmp_path / "port.npz"), *common, "--module-map",
                 str(tmp_path / "head.json"), *fused[2:]]) == 2
    assert "'layer2.0.conv2' [HARNESS-14]" in capsys.readouterr().err
    # a renamed checkpoint through the paths table
    np.savez(tmp_path / "renamed.npz", **{f"body.{k}": v for k, v in state.items()})
    (tmp_path / "paths.toml").write_text('[paths]\n"" = "body"\n')
    assert main(["compare", str(tmp_path / "renamed.npz"), *common, "--module-map",
                 str(tmp_path / "paths.toml")]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["mismatch"] == 0


DOWN = "layer2.0.downsample"
DOWN_MAP = {"fused": {DOWN: {"module": f"{DOWN}.1"}}}


def downsample_case(**kwargs):
    """boolnet-k4 scaled: layer2.0's downsample pools 2x2 before its BatchNorm (POOL-2); its
    exact units (export, FOLD-2) and the reference's accumulators ``s`` on the images."""
    arch, state, net, images = setup("boolnet-k4")
    model = export_model(net, arch)
    units = model.states[DOWN]["units"]
    _, trace = forward(model, images, trace=True)
    return arch, state, net, images, units, trace[f"{DOWN}.0"]


@pytest.mark.req("HARNESS-14", "POOL-2")
def test_a_clean_fused_downsample_compares_with_zero_mismatches():
    arch, state, net, images, units, _ = downsample_case()
    port = fused_downsample_port(net, "layer2.0", units.polarity.copy(),
                                 units.threshold.astype(np.int32))
    assert not any(k.startswith(f"{DOWN}.2") for k in port.state_dict())  # its BN is gone
    result = compare(port, arch, images, progress=False, module_map=DOWN_MAP, state_dict=state)
    assert result.summary["mismatch"] == 0, result.disagreements[:3]
    row = counts(result, f"{DOWN}.units")
    assert row["equal"] == row["elements"] == units.polarity.size
    bits = counts(result, DOWN)
    assert bits["elements"] == 2 * arch.slices * 16 * 4 * 4 and bits["equal"] == bits["elements"]


@pytest.mark.req("HARNESS-14", "POOL-2")
def test_a_flipped_threshold_bit_in_a_fused_downsample_is_a_mismatch_there():
    arch, state, net, images, units, s = downsample_case()
    pooled = s.reshape(2, 16, 4, 2, 4, 2).max(axis=(3, 5))
    # a GE unit with even t (t ^ 1 = t + 1 drops s = t) that a pooled accumulator reaches
    j, c = next((j, c) for j, c in np.ndindex(*units.polarity.shape)
                if units.polarity[j, c] == 1 and units.threshold[j, c] % 2 == 0
                and (pooled[:, c] == units.threshold[j, c]).any())
    t = int(units.threshold[j, c])
    held = units.threshold.astype(np.int32)
    held[j, c] ^= 1
    port = fused_downsample_port(net, "layer2.0", units.polarity.copy(), held)
    result = compare(port, arch, images, progress=False, module_map=DOWN_MAP, state_dict=state)
    assert counts(result, f"{DOWN}.units")["mismatch"] == 1
    finding = next(e for e in result.disagreements if e["layer"] == f"{DOWN}.units")
    assert (finding["slice"], finding["channel"]) == (j, c)
    assert finding["held"] == {"cmp": ">=", "t": t + 1}
    assert finding["unit"] == {"cmp": ">=", "t": t + 2}
    assert finding["exact_unit"] == {"cmp": ">=", "t": t}
    # every pooled s == t of that channel and slice is a wrong bit at the downsample node
    expected = int((pooled[:, c] == t).sum())
    assert counts(result, DOWN)["mismatch"] == expected
    wrong = [e for e in result.disagreements if e["layer"] == DOWN]
    assert wrong and all(e["index"][1:3] == [j, c] and e["s_torch"] == t for e in wrong)
    assert {r.layer for r in result.rows if r.counts["mismatch"]} == {DOWN, f"{DOWN}.units"}


@pytest.mark.req("HARNESS-14", "POOL-2", "HARNESS-10")
def test_a_fused_downsample_pooling_after_its_threshold_is_a_mismatch_at_the_downsample():
    from boolnet_spec.reference.maxpool import binary_maxpool, threshold_maxpool
    from boolnet_spec.reference.threshold import threshold_slices

    arch, state, net, images, units, s = downsample_case()
    assert (units.polarity == 0).any()             # an LE unit: the OR is not its AND
    port = fused_downsample_port(net, "layer2.0", units.polarity.copy(),
                                 units.threshold.astype(np.int32), pool_last=True)
    result = compare(port, arch, images, progress=False, module_map=DOWN_MAP, state_dict=state)
    after = binary_maxpool(threshold_slices(s, units), 2, 2)
    expected = int((after != threshold_maxpool(s, units, 2, 2)).sum())
    assert expected > 0
    assert counts(result, DOWN)["mismatch"] == expected
    assert counts(result, f"{DOWN}.units")["mismatch"] == 0   # right thresholds, wrong order
    assert {r.layer for r in result.rows if r.counts["mismatch"]} == {DOWN}
    first = next(e for e in result.disagreements if e["layer"] == DOWN)
    assert units.polarity[first["index"][1], first["index"][2]] == 0
    assert "pooling after the threshold" in first["reason"]


@pytest.mark.req("HARNESS-14", "CERT-4")
def test_the_stem_the_head_and_missing_branches_cannot_be_fused():
    arch, state, net, images = setup("boolnet-k4")
    cases = {"ghostbnsign": r"the stem's is real-valued", "conv1": r"cannot be fused",
             "layer2.0.conv2": r"binary layers of .*the last block's conv2",
             "layer1.0.downsample": r"only blocks that change shape have a downsample"}
    for node, message in cases.items():
        with pytest.raises(FormatError, match=rf"fused.*{message}.*{node!r}.*HARNESS-14"):
            compare(net, arch, images, progress=False, state_dict=state,
                    module_map={"fused": {node: {"module": "fc"}}})

    from boolnet_spec.equivalence.pytorch.certify import certify

    calls = []
    net.register_forward_pre_hook(lambda *_: calls.append(1))
    with pytest.raises(UsageError, match=r"compare CHECKPOINT --module-map MAP --state-dict "
                       r"FLOAT.*layer1\.0\.conv2 \[CERT-4\]$"):
        certify(net, arch, progress=False, module_map=MAP)
    assert calls == []                                           # refused before any work


@pytest.mark.req("HARNESS-14", "HARNESS-11")
def test_the_documented_map_file_runs_on_the_port_it_describes(tmp_path, monkeypatch):
    from pathlib import Path

    from test_conformance_kit import code_blocks

    from boolnet_spec.equivalence.pytorch.export import torch_model

    page = Path(__file__).resolve().parent.parent / "docs" / "chapters" / "pytorch-harness.rst"
    text = page.read_text(encoding="utf-8")
    (example,), (snippet,) = code_blocks(text, "json"), code_blocks(text, "python")
    arch, state, net, images, units, _ = downsample_case()
    conv2 = export_model(net, arch).states[NODE]["units"]
    fused_port(net, NODE, conv2.polarity.copy(), conv2.threshold.astype(np.int32))
    fused_downsample_port(net, "layer2.0", units.polarity.copy(),
                          units.threshold.astype(np.int32))
    port = Port(net)
    assert "body.stage2.0.downsample.1.threshold" in port.state_dict()
    assert isinstance(torch_model(arch, state).stages, list)    # BoolNet itself unpatched
    monkeypatch.chdir(tmp_path)
    (tmp_path / "map.json").write_text(example, encoding="utf-8")
    scope = {"port": port, "arch": arch, "images": images, "float_state": state}
    exec(snippet, scope)                                           # asserts no mismatch
    result = scope["result"]
    assert {f"{NODE}.units", f"{DOWN}.units"} <= {r.layer for r in result.rows}
    assert counts(result, DOWN)["equal"] == counts(result, DOWN)["elements"] > 0
    # the same file with one held threshold off by one is found at that node
    port.body.stage2[0].downsample[1].threshold[0, 0] += 2
    assert compare(port, arch, images, progress=False, module_map="map.json",
                   state_dict=state).summary["mismatch"] > 0
