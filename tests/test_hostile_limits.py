"""Class 2 of issue 12: a small file or option that asks for unbounded work or memory is refused
by a documented limit before any work (LIMIT-1, LIMIT-2)."""

from __future__ import annotations

import functools
import zipfile

import numpy as np
import pytest
from extras import needs_torch, torch
from fixtures_network import node, write_model
from hostile import (
    SMALL_SCALE,
    assert_typed_error,
    small_header,
    small_images_file,
    small_model_file,
    small_state_dict_file,
)

import boolnet_spec.reference.statedict as statedict_module
from boolnet_spec.reference import limits
from boolnet_spec.reference.architecture import Architecture
from boolnet_spec.reference.errors import BoundError, FormatError
from boolnet_spec.reference.safe_io import read_npy, read_npz


@pytest.mark.req("LIMIT-1")
@pytest.mark.parametrize("field, value, limit", [
    ("slices", 1000, "64"),
    ("classes", 10 ** 7, "65536"),
    ("image_size", 40_000, "4096"),
    ("widths", [8, 16, 32, 10 ** 6], "8192"),
    ("blocks", [1, 1, 1, 500], "64"),
])
def test_a_header_asking_for_too_much_is_a_bound_error(tmp_path, capsys, field, value, limit):
    header, arrays = small_header(tmp_path)
    header["architecture"][field] = value
    path = write_model(tmp_path / "big.model", header, arrays)
    assert_typed_error(capsys, "info", "--json", path,
                       fragments=(f"architecture.{field}", limit, "[LIMIT-1]"))


@pytest.mark.req("LIMIT-1")
@pytest.mark.parametrize("attr, value", [("padding", 65), ("dilation", 10 ** 6),
                                         ("stride", 2 ** 40), ("pool", 1000)])
def test_a_node_attribute_beyond_its_limit_is_refused_before_the_run(tmp_path, capsys, attr,
                                                                     value):
    header, arrays = small_header(tmp_path)
    target = "layer2.0.downsample" if attr == "pool" else "layer1.0.conv1"
    node(header, target)["attrs"][attr] = value
    path = write_model(tmp_path / "attr.model", header, arrays)
    assert_typed_error(capsys, "run", path, f"--input={small_images_file(tmp_path)}", "-o",
                       tmp_path / "out.npz", fragments=(f"attrs.{attr}", "[LIMIT-1]"))
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.req("LIMIT-1")
@pytest.mark.parametrize("argv, fragment", [
    (["--classes=1000000"], "architecture.classes"),
    (["--widths=8,16,32,100000"], "architecture.widths"),
    (["--blocks=1,1,1,65"], "architecture.blocks"),
    (["--widths=" + ",".join(str(8 * (i + 1)) for i in range(17))], "--widths (stages)"),
    (["--image-size=5000"], "architecture.image_size"),
    (["--widths=2048,4096", "--blocks=8,8"], "architecture: parameters"),
])
def test_build_options_beyond_their_limits_are_refused(tmp_path, capsys, argv, fragment):
    assert_typed_error(capsys, "build", "--config=boolnet-k4", "--random", *argv, "-o",
                       tmp_path / "m.bsm", fragments=(fragment,))
    assert not (tmp_path / "m.bsm").exists()


@pytest.mark.req("LIMIT-2")
@pytest.mark.parametrize("claimed", [(10 ** 5, 3, 32, 32), (2, 3, 32, 33), (1, 3, 32, 32)])
def test_an_npy_header_claiming_other_bytes_than_stored_is_refused(tmp_path, claimed):
    path = small_images_file(tmp_path, batch=2)
    data = path.read_bytes()
    old = b"(2, 3, 32, 32)"
    new = repr(claimed).encode()
    header_end = data.index(b"\n") + 1
    header = data[:header_end].replace(old, new)
    header = header[:-1].ljust(header_end - 1, b" ")[:header_end - 1] + b"\n"
    path.write_bytes(header + data[header_end:])
    with pytest.raises(FormatError, match="data bytes as stored"):
        read_npy(path, "--input")


@pytest.mark.req("LIMIT-2")
def test_the_cap_of_an_npz_state_dict_is_checked_from_its_directory(tmp_path, capsys,
                                                                    monkeypatch):
    path = small_state_dict_file(tmp_path)
    monkeypatch.setattr(statedict_module, "read_npz", functools.partial(read_npz, limit=1000))
    assert_typed_error(capsys, "build", *SMALL_SCALE, f"--state-dict={path}", "-o",
                       tmp_path / "m.bsm", fragments=("at most 1000 bytes",))


@needs_torch
@pytest.mark.req("LIMIT-2", "SD-1")
@pytest.mark.parametrize("cap", [1000, 50_000, 400_000])
def test_a_pth_that_inflates_beyond_the_cap_is_refused_before_torch_reads_it(
        tmp_path, capsys, monkeypatch, cap):
    path = tmp_path / "zeros.pth"
    # Compresses to almost nothing, inflates to 512 KB: the directory's sizes decide.
    torch.save({"fc.weight": torch.zeros(128, 1024)}, path, _use_new_zipfile_serialization=True)
    with zipfile.ZipFile(path) as archive:
        assert sum(i.file_size for i in archive.infolist()) > cap
    monkeypatch.setattr(statedict_module, "MAX_INPUT_BYTES", cap)
    loaded = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: loaded.append(a))
    real_check = statedict_module.check_zip_sizes
    monkeypatch.setattr(statedict_module, "check_zip_sizes",
                        lambda p, what: real_check(p, what, cap))
    assert_typed_error(capsys, "build", *SMALL_SCALE, f"--state-dict={path}", "-o",
                       tmp_path / "m.bsm", fragments=("decompressed", "[LIMIT-2]"))
    assert loaded == []


@pytest.mark.req("LIMIT-2")
@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_a_state_dict_file_above_the_cap_is_refused_by_its_size(tmp_path, capsys, monkeypatch,
                                                               suffix):
    path = tmp_path / f"big{suffix}"
    path.write_bytes(b"\0" * 5000)
    monkeypatch.setattr(statedict_module, "MAX_INPUT_BYTES", 4096)
    assert_typed_error(capsys, "build", *SMALL_SCALE, f"--state-dict={path}", "-o",
                       tmp_path / "m.bsm", fragments=("at most 4096 bytes", "[LIMIT-2]"))


@needs_torch
@pytest.mark.req("LIMIT-1")
@pytest.mark.parametrize("key", ["layer1.64.conv1.weight", "layer17.0.conv1.weight",
                                 "layer1." + "9" * 5000 + ".conv1.weight"])
def test_a_checkpoint_key_with_an_absurd_block_index_is_refused(tmp_path, capsys, key):
    arrays = dict(np.load(small_state_dict_file(tmp_path), allow_pickle=False))
    arrays[key] = np.zeros((8, 8, 3, 3), np.float32)
    path = tmp_path / "keys.npz"
    np.savez(path, **arrays)
    assert_typed_error(capsys, "certify", path, "--config=boolnet-k4",
                       fragments=("checkpoint key", "[LIMIT-1]"))


@pytest.mark.req("LIMIT-1")
@pytest.mark.parametrize("argv, fragment", [
    (["--slices=100000"], "--slices"),
    (["--offsets=" + ",".join(["0.1"] * 65)], "--offsets (slices)"),
    (["--n=" + "1" * 5000], "--n"),
])
def test_fold_options_beyond_their_limits_are_refused(capsys, argv, fragment):
    assert_typed_error(capsys, "fold", "--gamma=1", "--beta=0", "--mean=0", "--var=1",
                       *(["--n=9"] if not argv[0].startswith("--n") else []), *argv,
                       fragments=(fragment,))


@pytest.mark.req("LIMIT-1")
def test_the_limits_live_in_one_module_and_bound_an_architecture():
    assert limits.MAX_SLICES < limits.MAX_WIDTH < limits.MAX_PARAMETERS
    with pytest.raises(BoundError, match="activation elements"):
        Architecture("x", "boolnet", 64, widths=(4096,), blocks=(1,), classes=10,
                     image_size=4096)
    assert small_model_file  # the fixtures stay importable from here
