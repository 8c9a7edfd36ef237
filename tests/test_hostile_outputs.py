"""Class 3 of issue 12: output locations are checked before any work, and a command's outputs
are written all or nothing through one writer (ERR-6)."""

from __future__ import annotations

import numpy as np
import pytest
from hostile import (
    SMALL_SCALE,
    assert_typed_error,
    leftovers,
    run_cli,
    small_images_file,
    small_model_file,
    unwritable_directory,
)

import boolnet_spec.reference.build
from boolnet_spec.reference import modelfile
from boolnet_spec.reference.errors import DomainError
from boolnet_spec.reference.safe_io import write_outputs

pytestmark = pytest.mark.req("ERR-6")

RANDOM = ["--config=boolnet-k4", "--random", "--widths=8,16", "--blocks=1,1", "--image-size=32",
          "--classes=3"]


@pytest.fixture
def no_work(monkeypatch):
    """Fails the test if a command starts its work."""
    def forbidden(*args, **kwargs):
        raise AssertionError("the command started its work before checking its outputs")

    monkeypatch.setattr(boolnet_spec.reference.build, "random_state_dict", forbidden)
    monkeypatch.setattr("boolnet_spec.reference.modelfile.load_model", forbidden)


@pytest.mark.parametrize("which", ["-o", "--export-state-dict"])
def test_build_checks_both_outputs_before_any_work(tmp_path, capsys, no_work, which):
    with unwritable_directory(tmp_path) as locked:
        paths = {"-o": tmp_path / "m.bsm", "--export-state-dict": tmp_path / "sd.npz"}
        paths[which] = locked / paths[which].name
        assert_typed_error(capsys, "build", *RANDOM, "-o", paths["-o"], "--export-state-dict",
                           paths["--export-state-dict"], fragments=(which, "[ERR-6]"))
    assert not (tmp_path / "m.bsm").exists() and not (tmp_path / "sd.npz").exists()


@pytest.mark.parametrize("command", ["run", "datapath", "cost"])
def test_an_unwritable_output_of_a_model_command_is_found_before_the_model_is_read(
        tmp_path, capsys, no_work, command):
    model = small_model_file(tmp_path)
    with unwritable_directory(tmp_path) as locked:
        if command == "cost":
            argv = ["cost", model, "--plot", locked / "plot.png"]
        else:
            argv = [command, model, f"--input={small_images_file(tmp_path)}", "-o",
                    locked / "out.npz"]
        assert_typed_error(capsys, *argv, fragments=("[ERR-6]",))


@pytest.mark.parametrize("second", ["m.bsm", "./m.bsm", "sub/../m.bsm"])
def test_two_outputs_of_one_command_may_not_share_a_path(tmp_path, capsys, no_work, monkeypatch,
                                                         second):
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    assert_typed_error(capsys, "build", *RANDOM, "-o", "m.bsm", "--export-state-dict", second,
                       fragments=("different output paths",))


@pytest.mark.parametrize("failing", [0, 1])
def test_build_writes_both_outputs_or_neither(tmp_path, capsys, monkeypatch, failing):
    model, export = tmp_path / "m.bsm", tmp_path / "sd.npz"
    model.write_bytes(b"old model")
    export.write_bytes(b"old parameters")
    real, calls = np.savez_compressed, []

    def savez(handle, **arrays):
        calls.append(handle)
        if len(calls) - 1 == failing:
            handle.write(b"PK half")
            raise OSError(28, "No space left on device")
        real(handle, **arrays)

    real_npz = modelfile.write_npz

    def npz(handle, arrays, compress=True):
        calls.append(handle)
        if len(calls) - 1 == failing:
            handle.write(b"PK half")
            raise OSError(28, "No space left on device")
        real_npz(handle, arrays, compress)

    monkeypatch.setattr(np, "savez_compressed", savez)
    monkeypatch.setattr(modelfile, "write_npz", npz)
    code, _, err = run_cli(capsys, "build", *RANDOM, "-o", model, "--export-state-dict",
                           export)
    assert code == 2 and "No space left" in err and err.count("\n") == 1, err
    assert model.read_bytes() == b"old model"
    assert export.read_bytes() == b"old parameters"
    assert leftovers(tmp_path) == []


def test_the_writer_renames_only_when_every_output_is_complete(tmp_path):
    order = []

    def first(handle):
        handle.write(b"one")
        order.append("first written")

    def second(handle):
        assert not (tmp_path / "a").exists(), "a was renamed before b was complete"
        handle.write(b"two")

    write_outputs({tmp_path / "a": first, tmp_path / "b": second})
    assert (tmp_path / "a").read_bytes() == b"one" and (tmp_path / "b").read_bytes() == b"two"
    with pytest.raises(DomainError, match="distinct path"):
        write_outputs({tmp_path / "c": first, tmp_path / "x" / ".." / "c": second})
    assert not (tmp_path / "c").exists()


@pytest.mark.req("ERR-5")
def test_an_output_that_is_a_directory_or_has_no_directory_is_a_typed_error(tmp_path, capsys,
                                                                          no_work):
    (tmp_path / "d").mkdir()
    assert_typed_error(capsys, "build", *RANDOM, "-o", tmp_path / "d",
                       fragments=("not a directory",))
    assert_typed_error(capsys, "build", *RANDOM, "-o", tmp_path / "absent" / "m.bsm",
                       fragments=("existing directory",))
    assert_typed_error(capsys, "build", *SMALL_SCALE, "--state-dict=x.npz", "-o", tmp_path,
                       fragments=("-o",))


def test_train_digits_checks_its_output_directory_before_training(tmp_path, capsys,
                                                                 monkeypatch):
    pytest.importorskip("torch")
    import boolnet_spec.equivalence.pytorch.train as train_module

    monkeypatch.setattr(train_module, "train", lambda *a, **k: pytest.fail("trained"))
    with unwritable_directory(tmp_path) as locked:
        assert_typed_error(capsys, "train-digits", "-o", locked / "new",
                           fragments=("-o", "[ERR-6]"))
    (tmp_path / "file").write_text("x")
    assert_typed_error(capsys, "train-digits", "-o", tmp_path / "file",
                       fragments=("a directory",))
