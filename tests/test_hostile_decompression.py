"""Class 1 of issue 12: a corrupted compressed member is a typed one-line error (ERR-5), never a
``zlib.error`` traceback, in every command that reads the file."""

from __future__ import annotations

import zipfile

import pytest
from hostile import (
    SMALL_SCALE,
    assert_typed_error,
    deflated_members,
    flip_byte,
    small_images_file,
    small_model_file,
    small_state_dict_file,
)

pytestmark = pytest.mark.req("ERR-5", "MODEL-1")


def _member(path, name):
    return next(m for m in deflated_members(path) if m[0].startswith(name))


@pytest.mark.parametrize("member, where", [
    ("layer2.0.conv1.weight.bits", 0.5),   # a weight member, mid-stream
    ("__graph__", 0.1),                    # the JSON header, near its start
    ("fc.weight", 0.9),                    # a float member, near its end
])
def test_a_flipped_byte_in_a_model_member_is_a_format_error(tmp_path, capsys, member, where):
    path = small_model_file(tmp_path)
    _, start, size = _member(path, member)
    flip_byte(path, start + int(where * (size - 1)))
    assert_typed_error(capsys, "info", path, fragments=("model file", "[MODEL-1]"))


@pytest.mark.parametrize("command", ["info", "cost", "run", "datapath"])
def test_every_model_reader_refuses_a_corrupted_stream(tmp_path, capsys, command):
    path = small_model_file(tmp_path)
    _, start, size = _member(path, "layer1.0.conv2.weight.bits")
    flip_byte(path, start + size // 3, 0x5A)
    extra = [] if command in ("info", "cost") else \
        [f"--input={small_images_file(tmp_path)}", "-o", tmp_path / "out.npz"]
    assert_typed_error(capsys, command, path, *extra, fragments=("model file",))
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.98])
def test_a_truncated_state_dict_is_a_format_error(tmp_path, capsys, cut):
    path = small_state_dict_file(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:int(cut * len(data))])
    assert_typed_error(capsys, "build", *SMALL_SCALE, f"--state-dict={path}", "-o",
                       tmp_path / "m.bsm", fragments=("state dict",))
    assert not (tmp_path / "m.bsm").exists()


def test_a_corrupted_state_dict_member_is_a_format_error(tmp_path, capsys):
    path = small_state_dict_file(tmp_path)
    _, start, size = _member(path, "layer3.0.conv1.weight")
    flip_byte(path, start + size // 2)
    assert_typed_error(capsys, "build", *SMALL_SCALE, f"--state-dict={path}", "-o",
                       tmp_path / "m.bsm", fragments=("state dict",))


def test_a_stored_member_with_a_wrong_crc_is_a_format_error(tmp_path, capsys):
    path = tmp_path / "crc.model"
    with zipfile.ZipFile(small_model_file(tmp_path)) as source, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("fc.bias.npy")
    flip_byte(path, info.header_offset + 30 + len(info.filename) + 130)
    assert_typed_error(capsys, "info", path, fragments=("model file",))
