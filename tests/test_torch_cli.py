"""CLI-1 and CLI-2: ``boolnet-spec compare`` and ``boolnet-spec certify``."""

from __future__ import annotations

import json
import pickle
import zipfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from boolnet_spec.cli import main
from boolnet_spec.equivalence.pytorch import export
from boolnet_spec.equivalence.pytorch.export import torch_model
from boolnet_spec.reference.architecture import architecture
from boolnet_spec.reference.build import build_model, random_state_dict

SUMMARY_KEYS = {"mismatch", "ternary", "float_ambiguous", "top1_agreement"}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.req("CLI-1", "CLI-2")
def test_bundled_compare_and_certify_pass(capsys):
    code, out, _ = run(capsys, "compare", "--json")
    report = json.loads(out)
    assert code == 0 and set(report["summary"]) >= SUMMARY_KEYS
    assert report["summary"]["mismatch"] == 0 and report["summary"]["top1_agreement"] == 1.0
    assert report["settings"]["images"] == 16
    code, out, _ = run(capsys, "certify", "--json")
    report = json.loads(out)
    assert code == 0 and set(report["summary"]) >= SUMMARY_KEYS
    assert report["summary"]["mismatch"] == 0 and report["summary"]["top1_agreement"] == 1.0
    code, out, _ = run(capsys, "certify")
    assert code == 0 and "certified" in out and "layer2.0.downsample" in out


@pytest.fixture
def checkpoint(tmp_path):
    arch = architecture("basenet-k4").scaled(widths=(8, 16), blocks=(1, 1), image_size=32,
                                             classes=4)
    state = random_state_dict(arch, 5)
    path = tmp_path / "model.pth"
    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, path)
    images = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", images)
    return path, tmp_path / "x.npy"


@pytest.mark.req("CLI-1", "CLI-2", "EXPORT-3")
def test_a_checkpoint_with_inputs(capsys, checkpoint):
    path, inputs = checkpoint
    code, out, _ = run(capsys, "compare", str(path), "--config", "basenet-k4", "--input",
                       str(inputs), "--json")
    report = json.loads(out)
    assert code == 0 and report["summary"]["mismatch"] == 0
    assert report["settings"]["architecture"]["widths"] == [8, 16]
    code, out, _ = run(capsys, "compare", str(path), "--config", "basenet-k4", "--image-size",
                       "32", "--samples", "1")
    assert code == 0 and "mismatch 0" in out
    code, out, _ = run(capsys, "certify", str(path), "--config", "basenet-k4", "--json")
    report = json.loads(out)
    assert code == 0 and report["summary"]["top1_agreement"] is None


@pytest.mark.req("CLI-2")
def test_invalid_arguments_exit_2(capsys, checkpoint, tmp_path):
    path, inputs = checkpoint
    code, _, err = run(capsys, "compare", "--config", "boolnet-k4")
    assert code == 2 and "--config" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "certify", str(path))
    assert code == 2 and "--config" in err
    code, _, err = run(capsys, "compare", str(path), "--config", "boolnet-k4", "--input",
                       str(inputs))
    assert code == 2 and ("SD-2" in err or "EXPORT-3" in err)
    np.save(tmp_path / "bad.npy", np.zeros((1, 3, 32, 32)))
    code, _, err = run(capsys, "compare", str(path), "--config", "basenet-k4", "--input",
                       str(tmp_path / "bad.npy"))
    assert code == 2 and "float32" in err


class _Payload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.req("CLI-2", "EXPORT-2")
def test_a_malicious_checkpoint_is_refused(capsys, tmp_path):
    marker = tmp_path / "pwned"
    with zipfile.ZipFile(tmp_path / "evil.pth", "w") as archive:
        archive.writestr("evil/data.pkl", pickle.dumps({"w": _Payload(str(marker))}, protocol=2))
        archive.writestr("evil/version", "3\n")
    code, _, err = run(capsys, "certify", str(tmp_path / "evil.pth"), "--config", "boolnet-k4")
    assert code == 2 and "weights_only" in err and not marker.exists()


@pytest.mark.req("CLI-2")
def test_a_mismatch_exits_1(capsys, monkeypatch):
    deployed = {}

    def drifted(arch, state, sign_mode="official"):
        deployed["model"] = build_model(arch, state)   # the integer deployment of the state
        net = torch_model(arch, state, sign_mode)
        with torch.no_grad():
            net.layer1[0].bn1.bias += 0.5                # ...while PyTorch runs other numbers
        return net

    monkeypatch.setattr(export, "torch_model", drifted)
    monkeypatch.setattr(export, "export_model", lambda module, arch: deployed["model"])
    code, out, _ = run(capsys, "compare", "--json")
    report = json.loads(out)
    assert code == 1 and report["summary"]["mismatch"] > 0
    assert report["first_disagreements"][0]["class"] == "mismatch"
    code, out, _ = run(capsys, "certify", "--json")
    assert code == 1 and json.loads(out)["summary"]["mismatch"] > 0
