"""Class 9 of issue 12: every output file, of every writer, gets the same mode: ``0o666`` masked
by the umask (ERR-6)."""

from __future__ import annotations

import os
import stat

import pytest
from hostile import run_cli, small_images_file, small_model_file

pytestmark = pytest.mark.req("ERR-6")

UMASKS = [0o022, 0o027, 0o077]


@pytest.fixture(params=UMASKS, ids=oct)
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_build_outputs_get_the_umask_mode(tmp_path, capsys, umask):
    model, export = tmp_path / "m.bsm", tmp_path / "sd.npz"
    code, _, err = run_cli(capsys, "build", "--config=basenet-k1", "--random", "--widths=8,16",
                           "--blocks=1,1", "--image-size=32", "--classes=3", "-o", model,
                           "--export-state-dict", export)
    assert code == 0, err
    assert mode(model) == mode(export) == 0o666 & ~umask


@pytest.mark.parametrize("command", ["run", "datapath"])
def test_forward_outputs_get_the_umask_mode(tmp_path, capsys, umask, command):
    model, images = small_model_file(tmp_path), small_images_file(tmp_path)
    out = tmp_path / "out.npz"
    code, _, err = run_cli(capsys, command, model, f"--input={images}", "-o", out)
    assert code == 0, err
    assert mode(out) == 0o666 & ~umask


def test_the_cost_plot_gets_the_umask_mode(tmp_path, capsys, umask):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "plot.png"
    code, _, err = run_cli(capsys, "cost", small_model_file(tmp_path), "--plot", plot)
    assert code == 0, err
    assert mode(plot) == 0o666 & ~umask


def test_train_digits_writes_its_four_files_with_the_umask_mode(tmp_path, capsys, monkeypatch,
                                                                umask):
    pytest.importorskip("sklearn")
    import boolnet_spec.equivalence.pytorch.train as train_module
    from boolnet_spec.equivalence.pytorch.model import BoolNet

    monkeypatch.setattr(train_module, "train",
                        lambda config: (BoolNet(train_module.DIGITS_ARCH).eval(), {}))
    monkeypatch.setattr(train_module, "reference_accuracy", lambda *args: 0.0)
    out = tmp_path / "digits"
    code, _, err = run_cli(capsys, "train-digits", "--epochs=1", "-o", out)
    assert code == 0, err
    files = sorted(out.iterdir())
    assert [f.name for f in files] == sorted([train_module.CHECKPOINT, train_module.PROVENANCE,
                                              train_module.SAMPLES, train_module.SAMPLE_LABELS])
    assert {mode(f) for f in files} == {0o666 & ~umask}
