"""The ``datapath`` and ``cost`` commands: the same trace as ``run``, counter tables, plots."""

import json
import sys

import numpy as np
import pytest
from fixtures_network import model_images, shape_model, small_model

from boolnet_spec.cli import main
from boolnet_spec.equivalence.datapath.counters import HOROWITZ_45NM, model_costs
from boolnet_spec.equivalence.datapath.mvu import MVUConfig
from boolnet_spec.reference.modelfile import save_model


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("datapath-cli")
    model = small_model("boolnet-k4")
    save_model(model, root / "model.npz")
    np.save(root / "images.npy", model_images(model, batch=2))
    return root


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.req("MACH-2")
@pytest.mark.parametrize("options", [[], ["--trace"], ["--trace", "--pe", "3", "--simd", "8"]])
def test_datapath_writes_the_keys_and_values_of_run(files, capsys, tmp_path, options):
    model, data = files / "model.npz", files / "images.npy"
    assert run_cli(capsys, "run", model, "--input", data, "-o", tmp_path / "run.npz",
                   *options[:1])[0] == 0
    code, out, _ = run_cli(capsys, "datapath", model, "--input", data, "-o",
                           tmp_path / "datapath.npz", *options)
    assert code == 0 and out.startswith(f"wrote {tmp_path / 'datapath.npz'}")
    with np.load(tmp_path / "run.npz") as expected, np.load(tmp_path / "datapath.npz") as ours:
        assert sorted(ours.files) == sorted(expected.files)
        assert len(ours.files) == (1 if not options else 70)
        for key in expected.files:
            assert ours[key].dtype == expected[key].dtype and np.array_equal(ours[key],
                                                                              expected[key])


@pytest.mark.req("MACH-2")
def test_datapath_json_summary(files, capsys, tmp_path):
    code, out, _ = run_cli(capsys, "datapath", files / "model.npz", "--input",
                           files / "images.npy", "-o", tmp_path / "out.npz", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["logits_shape"] == [2, 7] and summary["acc_bits"] == 16


@pytest.mark.req("ACCW-1", "MVU-3")
@pytest.mark.parametrize("options, label", [(["--acc-bits", "4"], "ACCW-4"),
                                            (["--simd", "7"], "MVU-3"),
                                            (["--pe", "0"], "MVU-3")])
def test_datapath_errors_exit_2_with_one_line(files, capsys, tmp_path, options, label):
    code, out, err = run_cli(capsys, "datapath", files / "model.npz", "--input",
                             files / "images.npy", "-o", tmp_path / "out.npz", *options)
    assert code == 2 and out == ""
    assert err.startswith("boolnet-spec datapath: error: ") and err.endswith(f"[{label}]\n")
    assert err.count("\n") == 1
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.req("ACCW-3", "ACCW-4", "MACH-3")
@pytest.mark.parametrize("signed", [False, True])
def test_acc_bits_below_the_static_width_of_cost_is_an_error_before_any_work(files, capsys,
                                                                             tmp_path, signed):
    code, out, _ = run_cli(capsys, "cost", files / "model.npz", "--json")
    widths = {row["layer"]: row["n"] for row in json.loads(out)["layers"] if row["n"]}
    need = {name: n.bit_length() + signed for name, n in widths.items()}
    assert {name: n.bit_length() for name, n in widths.items()} == {
        row["layer"]: row["min_acc_bits"] for row in json.loads(out)["layers"] if row["n"]}
    flag = ["--acc-signed"] if signed else []
    narrow = max(need.values()) - 1
    # The images are never read: a missing --input file is not reached.
    code, out, err = run_cli(capsys, "datapath", files / "model.npz", "--input",
                             tmp_path / "absent.npy", "-o", tmp_path / "out.npz",
                             "--acc-bits", narrow, *flag)
    assert code == 2 and out == "" and err.endswith("[ACCW-4]\n")
    assert all(f"{name} (n = {widths[name]}, needs {bits})" in err
               for name, bits in need.items() if bits > narrow)
    assert ("signed register" in err) and (("unsigned" in err) != signed)
    code, out, _ = run_cli(capsys, "datapath", files / "model.npz", "--input",
                           files / "images.npy", "-o", tmp_path / "out.npz", "--json",
                           "--acc-bits", max(need.values()), *flag)
    assert code == 0 and json.loads(out)["acc_signed"] is signed


@pytest.mark.req("COST-3", "COST-4", "COST-5", "COST-7")
def test_cost_json_has_layers_and_totals(files, capsys):
    code, out, _ = run_cli(capsys, "cost", files / "model.npz", "--json", "--pe", "16")
    report = json.loads(out)
    assert code == 0
    expected = model_costs(small_model("boolnet-k4"), MVUConfig(pe=16))
    assert set(report["total"]) >= {"bops", "flops", "ops", "cycles", "bits_read",
                                    "bits_written", "energy_pj"}
    assert report["total"] == json.loads(json.dumps(expected["total"]))
    assert [row["layer"] for row in report["layers"]] == [
        node.name for node in small_model("boolnet-k4").nodes]
    assert report["energy_table"] == HOROWITZ_45NM.to_json()
    assert "paper" not in report                               # a scaled model


@pytest.mark.req("COST-3", "COST-6")
def test_cost_compares_a_published_configuration_with_the_paper(capsys, tmp_path):
    save_model(shape_model("boolnet-k4"), tmp_path / "boolnet.npz")
    code, out, _ = run_cli(capsys, "cost", tmp_path / "boolnet.npz", "--json")
    paper = json.loads(out)["paper"]
    assert code == 0 and sorted(paper) == ["bops", "flops", "ops"]
    assert all(abs(entry["difference"]) <= 0.02 for entry in paper.values())
    block = json.loads(out)["block"]
    assert block["memory_bits"] == 2_445_312 and block["baseline_memory_bits"] == 13_082_624
    code, out, _ = run_cli(capsys, "cost", tmp_path / "boolnet.npz")
    assert code == 0 and "bops 2.47e+09 vs 2.5e+09 (-1.35%)" in out
    assert "block layer1.0.conv1 (Table 3): 2,445,312 bits against 13,082,624" in out


@pytest.mark.req("COST-7")
def test_cost_table_and_plot(files, capsys, tmp_path):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "costs.png"
    code, out, _ = run_cli(capsys, "cost", files / "model.npz", "--plot", plot)
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split()[:4] == ["layer", "op", "n", "acc"]
    assert any(line.split()[0] == "total" for line in lines)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["costs.png"]


@pytest.mark.req("COST-7")
def test_cost_with_a_replaced_energy_table(files, capsys, tmp_path):
    table = {**HOROWITZ_45NM.to_json(), "source": "zero energy",
             **{k: 0.0 for k in HOROWITZ_45NM.to_json() if k != "source"}}
    (tmp_path / "energy.json").write_text(json.dumps(table))
    code, out, _ = run_cli(capsys, "cost", files / "model.npz", "--json", "--energy",
                           tmp_path / "energy.json")
    assert code == 0 and json.loads(out)["total"]["energy_pj"] == 0.0
    (tmp_path / "bad.json").write_text("[1, 2]")
    code, _, err = run_cli(capsys, "cost", files / "model.npz", "--energy", tmp_path / "bad.json")
    assert code == 2 and err.endswith("[COST-7]\n")


@pytest.mark.req("COST-7")
def test_cost_plot_without_matplotlib_is_a_typed_error(files, capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _, err = run_cli(capsys, "cost", files / "model.npz", "--plot", tmp_path / "p.png")
    assert code == 2 and "matplotlib" in err and err.count("\n") == 1
    code, _, err = run_cli(capsys, "cost", files / "model.npz", "--plot",
                           tmp_path / "missing" / "p.png")
    assert code == 2 and err.endswith("[MODEL-5]\n")
