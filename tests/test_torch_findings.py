"""Issue 11: what real implementations get wrong is caught by the harness and localised.

Each test runs one faulty implementation (``faulty_torch``) or a faulty supplied fold and checks
the node it is blamed on; the clean controls have zero mismatches.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_torch_harness import counts, setup, tie_channel

from boolnet_spec.equivalence.pytorch.certify import certify
from boolnet_spec.equivalence.pytorch.export import export_model
from boolnet_spec.equivalence.pytorch.harness import compare
from boolnet_spec.reference.threshold import ThresholdUnits


def replace_unit(model, node: str, j: int, c: int, polarity: int, threshold: int,
                 canonical: bool = True) -> None:
    units = model.states[node]["units"]
    polarity_, threshold_ = units.polarity.copy(), units.threshold.copy()
    polarity_[j, c], threshold_[j, c] = polarity, threshold
    if canonical:
        model.states[node]["units"] = ThresholdUnits(polarity_, threshold_, units.n)
    else:  # as a deployment stores it: never validated
        bad = object.__new__(ThresholdUnits)
        for key, value in (("polarity", polarity_), ("threshold", threshold_), ("n", units.n)):
            object.__setattr__(bad, key, value)
        model.states[node]["units"] = bad


@pytest.mark.req("HARNESS-7", "CERT-3")
def test_a_supplied_tie_fold_is_a_mismatch_naming_channel_slice_and_units():
    # EEV tie fold: a pre-activation of exactly 0 folded to bit 0 (sign(0) = -1), not ENC-2's 1.
    arch, _, net, images = setup("boolnet-k4", sign_mode="spec")
    tie_channel(net, "layer1.0.bn1", 3, 1)
    model = export_model(net, arch)
    n = model.states["layer1.0.conv1"]["units"].n
    assert model.states["layer1.0.conv1"]["units"].threshold[1, 3] == -n
    replace_unit(model, "layer1.0.conv1", 1, 3, 1, n + 2)
    result = compare(net, arch, images, model=model, progress=False)
    units = counts(result, "layer1.0.conv1.units")
    assert units["mismatch"] == 1 and units["equal"] == units["elements"] - 1
    finding = next(e for e in result.disagreements if e["layer"] == "layer1.0.conv1.units")
    assert finding == {"layer": "layer1.0.conv1.units", "channel": 3, "slice": 1,
                       "class": "mismatch", "unit": {"cmp": ">=", "t": n + 2},
                       "exact_unit": {"cmp": ">=", "t": -n},
                       "reason": finding["reason"]} and "exact fold" in finding["reason"]
    # Its wrong bits are mismatches, not float_ambiguous (margin 0 is within every bound).
    bits = counts(result, "layer1.0.ghostsign1")
    assert bits["float_ambiguous"] == 0 and bits["mismatch"] == images.shape[0] * 8 * 8
    assert not result.summary["passed"]
    risky = [r for node in certify(net, arch, model=model, progress=False).nodes
             for r in node.at_risk if r["class"] == "mismatch"]
    assert [(r["channel"], r["slice"], r["unit"], r["exact_unit"]) for r in risky
            if r["s"] is None] == [(3, 1, {"cmp": ">=", "t": n + 2}, {"cmp": ">=", "t": -n})]


@pytest.mark.req("HARNESS-7")
def test_a_supplied_float32_threshold_compare_is_a_mismatch_where_float32_parts_from_exact():
    # LCE-style: the supplied unit is the function of a real float32 threshold derived from
    # float32 BatchNorm arithmetic, where its rounding moves the root across an accumulator value.
    from fractions import Fraction

    from test_torch_fused import NODE, float32_root_flip

    from boolnet_spec.equivalence.pytorch.export import torch_model
    from boolnet_spec.reference.threshold import canonical_unit

    arch, state, _, images = setup("boolnet-k4")
    j, c = 2, 5
    s0, polarity, t = float32_root_flip(state, arch, NODE, j, c)
    net = torch_model(arch, state)
    model = export_model(net, arch)
    units = model.states[NODE]["units"]
    exact_unit = (int(units.polarity[j, c]), int(units.threshold[j, c]))
    float_unit = canonical_unit(int(polarity[j, c]), Fraction(float(t[j, c])), units.n)
    assert float_unit != exact_unit and s0 in (float_unit[1], exact_unit[1])
    replace_unit(model, NODE, j, c, *float_unit)
    result = compare(net, arch, images, model=model, progress=False)
    finding = next(e for e in result.disagreements if e["layer"] == f"{NODE}.units")
    assert (finding["slice"], finding["channel"]) == (j, c)
    assert finding["unit"]["t"] == float_unit[1] and finding["exact_unit"]["t"] == exact_unit[1]
    assert counts(result, f"{NODE}.units")["mismatch"] == 1
    assert counts(result, "layer1.0.ghostsign2")["float_ambiguous"] == 0
    assert not result.summary["passed"]


@pytest.mark.req("HARNESS-7")
def test_a_non_canonical_supplied_unit_is_a_mismatch_naming_the_unit():
    arch, _, net, images = setup("basenet-k1")
    model = export_model(net, arch)
    units = model.states["layer1.0.conv1"]["units"]
    # The same function as (1, t) but with t of the wrong parity: not canonical (THR-2).
    j, c = 0, 2
    t = int(units.threshold[j, c])
    if units.polarity[j, c] == 1 and -units.n < t <= units.n:
        replace_unit(model, "layer1.0.conv1", j, c, 1, t - 1, canonical=False)
    else:
        replace_unit(model, "layer1.0.conv1", j, c, 1, units.n + 3, canonical=False)
    result = compare(net, arch, images, model=model, progress=False)
    finding = next(e for e in result.disagreements if e["layer"] == "layer1.0.conv1.units")
    assert finding["reason"] == "not canonical (THR-2)" and finding["channel"] == c
    assert counts(result, "layer1.0.conv1.units")["mismatch"] == 1


@pytest.mark.req("HARNESS-7")
@pytest.mark.parametrize("config", ["basenet-k1", "boolnet-k4"])
def test_a_clean_supplied_fold_has_no_mismatch(config):
    arch, _, net, images = setup(config)
    result = compare(net, arch, images, model=export_model(net, arch), progress=False)
    assert result.summary["mismatch"] == 0
    assert any(r.kind == "units" for r in result.rows)


@pytest.mark.req("HARNESS-8")
def test_strict_ternary_makes_a_torch_zero_a_mismatch_where_it_appears():
    arch, _, net, images = setup("boolnet-k4")
    tie_channel(net, "layer1.0.bn1", 3, 1)
    default = compare(net, arch, images, progress=False)
    assert default.summary["mismatch"] == 0 and default.summary["ternary"] > 0
    assert default.settings["ternary"] == "count"
    strict = compare(net, arch, images, progress=False, ternary="error")
    zeros = images.shape[0] * 8 * 8
    assert counts(strict, "layer1.0.ghostsign1")["mismatch"] == zeros
    assert counts(strict, "layer1.0.xnor")["mismatch"] == \
        counts(default, "layer1.0.xnor")["ternary"] > 0             # the 0 reaches the XNOR
    entry = strict.disagreements[0]
    assert entry["layer"] == "layer1.0.ghostsign1"                   # where it appeared
    assert entry["index"][1:3] == [1, 3] and "a torch 0" in entry["reason"]
    assert strict.settings["ternary"] == "error"
    with pytest.raises(Exception, match=r"HARNESS-8"):
        compare(net, arch, images, progress=False, ternary="ignore")


@pytest.mark.req("HARNESS-8")
def test_torch_sign_leaking_into_a_spec_sign_mode_module_is_a_mismatch():
    # Declares spec sign mode, but one quantizer still calls torch.sign (0 -> 0).
    arch, _, net, images = setup("boolnet-k4", sign_mode="spec")
    tie_channel(net, "layer1.0.bn1", 3, 1)
    sign = net.layer1[0].ghostsign1
    sign.forward = lambda x: torch.sign(torch.nn.functional.hardtanh(x.unsqueeze(1)
                                                                     + sign.offsets))
    result = compare(net, arch, images, progress=False)
    assert result.settings["ternary"] == "error"
    assert counts(result, "layer1.0.ghostsign1")["mismatch"] == images.shape[0] * 8 * 8
    assert not result.summary["passed"]


def batch_statistics(net, paths):
    """A gross bug: BatchNorm normalises with the batch's statistics in eval mode."""
    import torch.nn.functional as F

    for path in paths:
        bn = net.get_submodule(path)
        bn.forward = (lambda m: lambda x: F.batch_norm(x, None, None, m.weight, m.bias,
                                                        True))(bn)
    return net


@pytest.mark.req("HARNESS-9")
def test_a_gross_bug_is_classified_per_distinct_key_not_per_element(monkeypatch):
    from boolnet_spec.equivalence.pytorch.harness import teacher

    arch, _, net, images = setup("boolnet-k4")
    calls = []
    original = teacher.within_bound
    monkeypatch.setattr(teacher, "within_bound",
                        lambda *a: calls.append(a[1]) or original(*a))
    batch_statistics(net, ["layer1.0.bn1", "layer1.0.bn2", "layer2.0.bn1"])
    result = compare(net, arch, images, progress=False, limit=5)
    mismatches = result.summary["mismatch"]
    assert mismatches > 500 and len(result.disagreements) == 5
    print(f"{mismatches} mismatches, {len(calls)} exact decisions")
    assert len(calls) < mismatches / 4


def bad_rows(result) -> dict:
    return {r.layer: r.counts["mismatch"] for r in result.rows if r.counts["mismatch"]}


@pytest.mark.req("HARNESS-10")
def test_a_swapped_interleave_is_blamed_on_the_shuffle_not_the_or():
    from faulty_torch import swapped_shuffle

    arch, _, net, images = setup("boolnet-k4")
    model = export_model(net, arch)
    result = compare(swapped_shuffle(net), arch, images, model=model, progress=False)
    bad = bad_rows(result)
    assert "layer1.0" in bad                                     # the shuffle's own tensor
    assert "layer1.0.or" not in bad and not any(k.startswith("layer1.0.") for k in bad)
    assert next(iter(bad)) == "layer1.0"                           # first finding in node order


@pytest.mark.req("HARNESS-10")
def test_max_pooling_after_batchnorm_sign_is_a_mismatch_at_the_downsample():
    from faulty_torch import pool_after_sign

    arch, _, net, images = setup("basenet-k4", seed=3)
    model = export_model(net, arch)
    # Pooling commutes with an increasing BatchNorm-sign: make one channel decreasing.
    bn = net.layer2[0].downsample[2]
    with torch.no_grad():
        bn.weight[:] = -bn.weight.abs()
    model = export_model(net, arch)
    result = compare(pool_after_sign(net), arch, images, model=model, progress=False)
    bad = bad_rows(result)
    assert next(iter(bad)) == "layer2.0.downsample"
    entry = next(e for e in result.disagreements if e["layer"] == "layer2.0.downsample")
    assert "max pooling after BatchNorm-sign" in entry["reason"]


@pytest.mark.req("HARNESS-10")
def test_an_unexplained_structure_is_refused_naming_the_node():
    from boolnet_spec.reference.errors import FormatError

    arch, _, net, images = setup("basenet-k4")
    model = export_model(net, arch)
    branch = net.layer2[0].downsample
    net.layer2[0].downsample = torch.nn.Sequential(branch[0], branch[2], branch[3])  # no pool
    with pytest.raises(FormatError, match=r"node layer2\.0\.downsample: .*MaxPool2d.*"
                                          r"\[HARNESS-10\]$"):
        compare(net, arch, images, model=model, progress=False)
    net.layer2[0].downsample = torch.nn.Sequential(branch[0], branch[1], torch.nn.ReLU(),
                                                   branch[3])
    with pytest.raises(FormatError, match=r"ReLU.*\[HARNESS-10\]$"):
        compare(net, arch, images, model=model, progress=False)


@pytest.mark.req("HARNESS-11", "HARNESS-1")
def test_a_renamed_and_wrapped_port_compares_through_a_module_map(tmp_path):
    import json

    from faulty_torch import PORT_MAP, Port

    from boolnet_spec.equivalence.pytorch.model import BoolNet
    from boolnet_spec.reference.errors import FormatError

    arch, _, net, images = setup("boolnet-k4")
    clean = compare(net, arch, images, progress=False)

    class Renamed(BoolNet):  # its own class, so the renamed stages property stays local
        pass

    net.__class__ = Renamed
    port = Port(net)
    with pytest.raises(FormatError):                  # refused, typed: not the authors' layout
        compare(port, arch, images, progress=False)
    (tmp_path / "map.json").write_text(json.dumps({"paths": PORT_MAP}))
    (tmp_path / "map.toml").write_text("[paths]\n" + "".join(
        f'"{k}" = "{v}"\n' for k, v in PORT_MAP.items()))
    for module_map in (PORT_MAP, tmp_path / "map.json", str(tmp_path / "map.toml")):
        result = compare(port, arch, images, progress=False, module_map=module_map)
        assert result.summary == clean.summary
    assert certify(port, arch, progress=False, module_map=PORT_MAP).summary["mismatch"] == 0
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(FormatError, match=r"HARNESS-11\]$"):
        compare(port, arch, images, progress=False, module_map=tmp_path / "bad.json")


@pytest.mark.req("HARNESS-12", "TORCH-1")
def test_training_conformance_finds_a_hardtanh_ste_at_its_parameter():
    import copy

    from faulty_torch import hardtanh_ste

    from boolnet_spec.equivalence.pytorch.harness import compare_training

    arch, _, net, images = setup("boolnet-k4")
    labels = np.arange(images.shape[0]) % arch.classes
    with torch.no_grad():
        net.layer1[0].conv1.weight[:, 0, 0, 0] = 1.0            # on the STE's border
    clean = compare_training(copy.deepcopy(net), net, images, labels)
    assert clean["passed"] and clean["forward_max_abs_diff"] == 0.0
    assert all(r["equal"] for r in clean["parameters"]) and len(clean["parameters"]) > 10
    report = compare_training(hardtanh_ste(copy.deepcopy(net)), net, images, labels)
    assert report["forward_equal"]                               # same forward, other backward
    assert report["differing_parameters"] == ["layer1.0.conv1.weight"]
    assert not report["passed"] and net.training is False


@pytest.mark.req("HARNESS-8", "CLI-1")
def test_compare_ternary_option(capsys):
    import json

    from boolnet_spec.cli import main

    code = main(["compare", "--json", "--ternary=error"])
    report = json.loads(capsys.readouterr().out)
    assert report["settings"]["ternary"] == "error"
    assert code == (0 if report["summary"]["mismatch"] == 0 else 1)
    assert report["summary"]["mismatch"] == report["summary"]["ternary"] == 0 or code == 1


@pytest.mark.req("HARNESS-7", "CLI-1", "CLI-2")
def test_compare_and_certify_take_a_supplied_model_file(capsys, tmp_path):
    import json

    from boolnet_spec.cli import main
    from boolnet_spec.equivalence.pytorch.cli import BUNDLED, DATA
    from boolnet_spec.equivalence.pytorch.export import load_checkpoint, torch_model
    from boolnet_spec.reference.architecture import Architecture
    from boolnet_spec.reference.modelfile import save_model

    provenance = json.loads((DATA / "boolnet-digits.json").read_text(encoding="utf-8"))
    arch = Architecture.from_json(provenance["architecture"])
    model = export_model(torch_model(arch, load_checkpoint(BUNDLED)), arch)
    save_model(model, tmp_path / "clean.npz")
    for command in ("compare", "certify"):
        assert main([command, "--json", "--model", str(tmp_path / "clean.npz")]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["summary"]["mismatch"] == 0
    # compare's report has the units rows of HARNESS-7 (certify reports findings per layer).
    assert main(["compare", "--json", "--model", str(tmp_path / "clean.npz")]) == 0
    layers = json.loads(capsys.readouterr().out)["layers"]
    assert any(r["kind"] == "units" and r["mismatch"] == 0 for r in layers)
