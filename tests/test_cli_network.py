"""The ``boolnet-spec build``, ``run`` and ``info`` commands: outputs equal to the library's,
and one-line errors before any work."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
from extras import needs_torch, torch
from fixtures_network import images, scaled, state_dict
from naive import network as oracle
from naive.ops import spec_message

import boolnet_spec.reference.build
import boolnet_spec.reference.modelfile
from boolnet_spec.cli import main
from boolnet_spec.reference.build import random_state_dict
from boolnet_spec.reference.modelfile import load_model
from boolnet_spec.reference.network import forward

ARCH = scaled("boolnet-star-k4", widths=(8, 16, 32), image_size=32, classes=7)
SCALE = ["--widths", "8,16,32", "--image-size", "32", "--classes", "7"]
SEED = 3


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(err: str, command: str, tensor: str, bound: str, value: str,
                          label: str) -> None:
    assert err.endswith("\n") and err.count("\n") == 1, err
    prefix = f"boolnet-spec {command}: error: "
    assert err.startswith(prefix), err
    assert re.match(spec_message(tensor, bound, value, label), err[len(prefix):-1]), err


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``build --random`` once: the model file and the exported parameters."""
    directory = tmp_path_factory.mktemp("built")
    model_path, export = directory / "star.model", directory / "parameters.npz"
    code = main(["build", "--config=boolnet-star-k4", "--random", f"--seed={SEED}", *SCALE,
                 "-o", str(model_path), "--export-state-dict", str(export), "--json"])
    assert code == 0
    return model_path, export


@pytest.mark.req("BUILD-4", "MODEL-5")
def test_build_random_writes_the_model_and_its_parameters(built, capsys):
    model_path, export = built
    parameters = np.load(export, allow_pickle=False)
    expected = random_state_dict(ARCH, SEED)
    assert sorted(parameters.files) == sorted(expected)
    for key, value in expected.items():
        assert parameters[key].dtype == value.dtype and np.array_equal(parameters[key], value)
    assert load_model(model_path).architecture == ARCH


@needs_torch
@pytest.mark.req("BUILD-1", "SD-1")
@pytest.mark.parametrize("suffix", [".npz", ".pth"])
def test_build_from_the_exported_parameters_gives_a_byte_identical_file(built, tmp_path,
                                                                        capsys, suffix):
    model_path, export = built
    source = export
    if suffix == ".pth":
        source = tmp_path / "parameters.pth"
        with np.load(export, allow_pickle=False) as arrays:
            torch.save({key: torch.from_numpy(arrays[key]) for key in arrays.files}, source)
    again = tmp_path / "again.model"
    code, out, err = run_cli(capsys, "build", "--config=boolnet-star-k4",
                             f"--state-dict={source}", *SCALE, "-o", again, "--json")
    assert (code, err) == (0, "")
    # NumPy writes every member with a fixed ZIP timestamp, so the bytes can be compared.
    assert again.read_bytes() == model_path.read_bytes()
    summary = json.loads(out)
    net = load_model(again)
    rows = net.layers()
    assert summary == {"output": str(again), "architecture": ARCH.to_json(),
                       "nodes": len(net.nodes), "binary_layers": len(rows),
                       "threshold_units": sum(r["threshold_units"] for r in rows),
                       "constant_units": sum(r["constant_units"] for r in rows)}
    assert summary["binary_layers"] == sum(n.op in ("bconv", "head") for n in net.nodes) == 14


@pytest.mark.req("BUILD-1")
def test_build_prints_a_summary_line(tmp_path, capsys):
    path = tmp_path / "k1"
    code, out, err = run_cli(capsys, "build", "--config=basenet-k1", "--random", "--widths=8,16",
                             "--blocks=1,1", "--image-size=32", "--classes=3", "-o", path)
    assert (code, err) == (0, "")
    assert out.startswith(f"wrote {path}: basenet-k1 (basenet, S = 1), ") and out.count("\n") == 1
    assert load_model(path).architecture == scaled("basenet-k1", widths=(8, 16), blocks=(1, 1),
                                                   classes=3)


def expected_layers(arch) -> list[tuple[str, int]]:
    """Every binary layer and its n, from the block structure and the authors' weight shapes."""
    parameters, rows = state_dict(arch, SEED), []
    for block in oracle.blocks(arch):
        if block.downsample:
            weight = parameters[f"{block.name}.downsample.0.weight"]
            rows.append((f"{block.name}.downsample", int(np.prod(weight.shape[1:]))))
        rows.append((f"{block.name}.conv1",
                     int(np.prod(parameters[f"{block.name}.conv1.weight"].shape[1:]))))
        rows.append(("head" if block.last else f"{block.name}.conv2", 9 * block.width))
    return rows


@pytest.mark.req("NET-6")
def test_info_lists_every_binary_layer_with_n_and_its_accumulator_range(built, capsys):
    model_path, _ = built
    code, out, err = run_cli(capsys, "info", model_path, "--json")
    assert (code, err) == (0, "")
    info = json.loads(out)
    assert info["architecture"] == ARCH.to_json()
    expected = expected_layers(ARCH)
    assert [(row["layer"], row["n"]) for row in info["layers"]] == expected
    assert all(row["accumulator_range"] == [-row["n"], row["n"]] for row in info["layers"])
    code, out, err = run_cli(capsys, "info", model_path)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("boolnet-star-k4: boolnet, S = 4, widths [8, 16, 32]")
    for layer, n in expected:
        (line,) = [line for line in lines if line.split()[:1] == [layer]]
        assert f" {n} " in line and f"[{-n}, {n}]" in line, line
    assert lines[-1].startswith("total: ")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    path = tmp_path_factory.mktemp("input") / "images.npy"
    np.save(path, images(ARCH, 3, 8))
    return path


@pytest.mark.req("NET-7", "MODEL-5")
@pytest.mark.parametrize("trace", [False, True])
def test_run_writes_the_logits_and_trace_of_forward(built, batch, tmp_path, capsys, trace):
    model_path, _ = built
    out_path = tmp_path / "out.weird"
    code, out, err = run_cli(capsys, "run", model_path, f"--input={batch}", "-o", out_path,
                             "--json", *(["--trace"] if trace else []))
    assert (code, err) == (0, "")
    logits, expected = forward(load_model(model_path), np.load(batch), trace=True)
    with np.load(out_path, allow_pickle=False) as written:
        names = sorted(written.files)
        assert names == (sorted(expected) if trace else ["logits"])
        # The same computation on the same arrays: even the real values are identical.
        assert written["logits"].shape == (3, 7)
        assert np.array_equal(written["logits"], logits)
        for name in names:
            if name != "logits":
                assert written[name].dtype == expected[name].dtype, name
                assert np.array_equal(written[name], expected[name]), name
    summary = json.loads(out)
    assert summary == {"output": str(out_path), "logits_shape": [3, 7],
                       "top1": logits.argmax(axis=1).tolist(),
                       "trace": sorted(expected) if trace else []}
    assert sorted(os.listdir(tmp_path)) == ["out.weird"]


@pytest.mark.req("NET-7")
def test_run_prints_a_summary_line(built, batch, tmp_path, capsys):
    model_path, _ = built
    code, out, err = run_cli(capsys, "run", model_path, f"--input={batch}", "-o",
                             tmp_path / "out.npz", "--trace")
    assert (code, err) == (0, "")
    assert out.startswith(f"wrote {tmp_path / 'out.npz'}: logits [3, 7] and ") and \
        "traced tensors; top-1 [" in out and out.count("\n") == 1


@pytest.mark.req("MODEL-1", "NET-7")
def test_run_errors_are_one_line(built, batch, tmp_path, capsys):
    model_path, _ = built
    out = tmp_path / "out.npz"
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return exec, (f"open({str(marker)!r}, 'w').write('x')",)

    pickled = tmp_path / "pickled.npy"
    np.save(pickled, np.array([Payload()], dtype=object), allow_pickle=True)
    wide = tmp_path / "float64.npy"
    np.save(wide, np.load(batch).astype(np.float64))
    small = tmp_path / "small.npy"
    np.save(small, np.zeros((2, 3, 16, 16), np.float32))
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full((1, 3, 32, 32), np.nan, np.float32))
    cases = [
        ((tmp_path / "absent.model", batch), "model file", "an existing file", "absent.model",
         "MODEL-1"),
        ((batch, batch), "model file", ".npz (ZIP) archive", "images.npy", "MODEL-1"),
        ((model_path, tmp_path / "absent.npy"), "--input", "an existing .npy file",
         "absent.npy", "MODEL-1"),
        ((model_path, pickled), "--input", "no pickle", "allow_pickle=False", "MODEL-1"),
        ((model_path, model_path), "--input", "not an .npz archive", "star.model", "MODEL-1"),
        ((model_path, wide), "image", "dtype float32", "float64", "STEM-1"),
        ((model_path, small), "image", "shape [N, [3, 32, 32]]", "[2, 3, 16, 16]", "NET-7"),
        ((model_path, nan), "image", "finite values", "nan at index [0, 0, 0, 0]", "STEM-1"),
    ]
    for (model_file, images_file), tensor, bound, value, label in cases:
        code, stdout, err = run_cli(capsys, "run", model_file, f"--input={images_file}", "-o",
                                    out)
        assert (code, stdout) == (2, "")
        assert_one_line_error(err, "run", tensor, bound, value, label)
    assert not out.exists() and not marker.exists()


@pytest.mark.req("MODEL-5")
@pytest.mark.parametrize("where", ["missing/out.npz", "."])
def test_run_refuses_a_bad_output_path_before_any_work(built, batch, tmp_path, capsys,
                                                       monkeypatch, where):
    def no_work(*args, **kwargs):
        raise AssertionError("work done before the output path was checked")

    monkeypatch.setattr(boolnet_spec.reference.modelfile, "load_model", no_work)
    out = tmp_path / where
    code, stdout, err = run_cli(capsys, "run", built[0], f"--input={batch}", "-o", out)
    assert (code, stdout) == (2, "")
    bound = "a path in an existing directory" if "missing" in where else "a file path"
    assert_one_line_error(err, "run", "-o", bound, str(out), "MODEL-5")


@pytest.mark.req("MODEL-5")
@pytest.mark.parametrize("flag", ["-o", "--export-state-dict"])
def test_build_refuses_a_bad_output_path_before_any_work(tmp_path, capsys, monkeypatch, flag):
    def no_work(*args, **kwargs):
        raise AssertionError("work done before the output path was checked")

    monkeypatch.setattr(boolnet_spec.reference.build, "random_state_dict", no_work)
    monkeypatch.setattr(boolnet_spec.reference.build, "build_model", no_work)
    bad = tmp_path / "missing" / "file"
    paths = {"-o": tmp_path / "model", "--export-state-dict": tmp_path / "parameters.npz"}
    paths[flag] = bad
    code, stdout, err = run_cli(capsys, "build", "--config=boolnet-k4", "--random", *SCALE,
                                "-o", paths["-o"], "--export-state-dict",
                                paths["--export-state-dict"])
    assert (code, stdout) == (2, "")
    assert_one_line_error(err, "build", flag, "a path in an existing directory", str(bad),
                          "MODEL-5")
    assert os.listdir(tmp_path) == []


@pytest.mark.req("SD-1", "SD-2", "ARCH-1", "ARCH-2")
def test_build_errors_are_one_line_and_write_nothing(built, tmp_path, capsys):
    _, export = built
    with np.load(export, allow_pickle=False) as arrays:
        parameters = {key: arrays[key] for key in arrays.files}
    renamed = tmp_path / "renamed.npz"
    np.savez(renamed, **{("module." + k if k == "fc.bias" else k): v
                         for k, v in parameters.items()})
    other_extension = tmp_path / "parameters.bin"
    other_extension.write_bytes(export.read_bytes())
    star = ["--config=boolnet-star-k4"]
    cases = [
        ([*star, f"--state-dict={renamed}", *SCALE], "module.fc.bias", "a key of",
         "an extra key", "SD-2"),
        ([*star, f"--state-dict={export}", *SCALE[:4]], "fc.weight", "shape [1000, 32]",
         "[7, 32]", "SD-2"),
        ([*star, f"--state-dict={tmp_path / 'absent.pth'}", *SCALE], "state dict",
         "an existing file", "absent.pth", "SD-1"),
        ([*star, f"--state-dict={other_extension}", *SCALE], "state dict",
         "a .pth, .pt, .safetensors or .npz file", "parameters.bin", "SD-1"),
        ([*star, "--random", "--widths=8,x"], "--widths", "comma-separated positive integers",
         "'8,x'", "ARCH-1"),
        ([*star, "--random", "--widths=16,8"], "architecture.widths", "strictly increasing",
         "[16, 8]", "ARCH-1"),
        (["--config=boolnet-k4", "--random", "--widths=8,16,32,64", "--image-size=40"],
         "layer3.0 input", "an even height and width", "5x5", "ARCH-2"),
        ([*star, "--random", "--classes=0"], "architecture.classes", "positive integers", "[0]",
         "ARCH-1"),
    ]
    for argv, tensor, bound, value, label in cases:
        out = tmp_path / "model"
        code, stdout, err = run_cli(capsys, "build", *argv, "-o", out)
        assert (code, stdout) == (2, ""), argv
        assert_one_line_error(err, "build", tensor, bound, value, label)
        assert not out.exists()


@pytest.mark.req("ARCH-1")
@pytest.mark.parametrize("argv", [
    ["build", "--config=boolnet-k8", "--random", "-o", "x"],
    ["build", "--config=boolnet-k4", "--random", "--state-dict=a.npz", "-o", "x"],
    ["build", "--config=boolnet-k4", "-o", "x"],
    ["build", "--config=boolnet-k4", "--random", "--image-size=big", "-o", "x"],
    ["run", "model"], ["info"]])
def test_usage_errors_exit_2_from_argparse(capsys, argv):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert "usage: boolnet-spec" in capsys.readouterr().err


@pytest.mark.req("MODEL-1")
def test_info_on_a_file_that_is_no_model(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("not a model")
    code, stdout, err = run_cli(capsys, "info", path)
    assert (code, stdout) == (2, "")
    assert_one_line_error(err, "info", "model file", ".npz (ZIP) archive", str(path), "MODEL-1")
