"""Shared helpers of the hostile-input tests (ERR-5, ERR-6): run a command in-process, check that
its outcome is clean, and make small valid files to break."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import resource
import signal
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from fixtures_network import SMALL, small_model_file, state_dict

from boolnet_spec.cli import main
from boolnet_spec.reference.modelfile import HEADER

#: The command line that builds ``SMALL`` from a state dict.
SMALL_SCALE = ["--config=boolnet-k4", "--widths=8,16,32,64", "--blocks=1,1,1,1",
               "--image-size=32", "--classes=10"]
ONE_LINE = re.compile(r"^boolnet-spec [\w-]+: error: .+ \[[A-Z]+-\d+\]$")


class OverBudget(BaseException):
    """A command ran past the time budget of the fuzz test (never caught by the CLI)."""


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_clean(code: int, err: str, allowed: tuple[int, ...] = (0, 1, 2)) -> None:
    """A success, a finding, or a typed error on exactly one stderr line: never a traceback,
    never an internal error (ERR-3, ERR-5)."""
    assert code in allowed, f"exit {code}: {err[-2000:]}"
    assert "Traceback" not in err, err[-2000:]
    if code == 2:
        assert err.endswith("\n") and err.count("\n") == 1, err
        assert ONE_LINE.match(err.rstrip("\n")), err


def assert_typed_error(capsys, *argv, fragments: tuple[str, ...] = ()) -> str:
    """The command exits 2 with one stderr line holding every fragment; its message."""
    code, out, err = run_cli(capsys, *argv)
    assert_clean(code, err, allowed=(2,))
    assert out == ""
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


def leftovers(directory: Path) -> list[str]:
    """Temporary or probe files the writer left behind."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith((".tmp", ".probe")))


@contextlib.contextmanager
def unwritable_directory(tmp_path: Path):
    """A directory in which no file can be created, even by root; skips where none exists."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        for candidate in (locked, Path("/sys"), Path("/proc/sys")):
            try:
                with tempfile.NamedTemporaryFile(dir=candidate):
                    continue
            except OSError:
                yield candidate
                return
        import pytest

        pytest.skip("no unwritable directory on this machine")
    finally:
        locked.chmod(0o755)


@contextlib.contextmanager
def budget(seconds: int = 10, memory_bytes: int = 1 << 30):
    """Fail with :class:`OverBudget` after ``seconds`` of CPU time (a loaded machine does not
    count against the command); allocations beyond ``memory_bytes`` more than the process holds
    now raise MemoryError (where the platform lets us cap it)."""
    def expire(signum, frame):
        raise OverBudget(f"over the budget of {seconds} CPU seconds")

    previous = signal.signal(signal.SIGPROF, expire)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    limits = resource.getrlimit(resource.RLIMIT_AS)
    capped = False
    try:
        with open("/proc/self/statm") as statm:
            size = int(statm.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (size + memory_bytes, limits[1]))
        capped = True
    except (OSError, ValueError):
        pass
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
        if capped:
            resource.setrlimit(resource.RLIMIT_AS, limits)


@functools.cache
def _state_dict_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "sd.npz"
        np.savez_compressed(path, **state_dict(SMALL))
        return path.read_bytes()


def small_state_dict_file(directory: Path, name: str = "sd.npz") -> Path:
    """The parameters of ``SMALL`` as an ``.npz`` state dict."""
    path = directory / name
    path.write_bytes(_state_dict_bytes())
    return path


def small_images_file(directory: Path, batch: int = 1, name: str = "images.npy") -> Path:
    path = directory / name
    rng = np.random.default_rng(batch)
    np.save(path, rng.standard_normal((batch, 3, 32, 32)).astype(np.float32))
    return path


def small_header(directory: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The JSON header and arrays of the small model file."""
    path = small_model_file(directory, "header-source.model")
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    path.unlink()
    return json.loads(arrays.pop(HEADER).tobytes().decode("utf-8")), arrays


def write_raw_header(path: Path, text: str | bytes, arrays: dict[str, np.ndarray]) -> Path:
    """A model file whose header member holds exactly ``text``."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    with open(path, "wb") as handle:  # a handle: np.savez would append .npz to a name
        np.savez_compressed(handle, **{HEADER: np.frombuffer(raw, np.uint8), **arrays})
    return path


def deflated_members(path: Path) -> list[tuple[str, int, int]]:
    """``(name, data offset, compressed size)`` of every deflated member of a ZIP file."""
    members = []
    with zipfile.ZipFile(path) as archive, path.open("rb") as handle:
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_DEFLATED or info.compress_size < 8:
                continue
            handle.seek(info.header_offset + 26)
            name_length, extra_length = np.frombuffer(handle.read(4), "<u2")
            start = info.header_offset + 30 + int(name_length) + int(extra_length)
            members.append((info.filename, start, info.compress_size))
    return members


def flip_byte(path: Path, offset: int, mask: int = 0xFF) -> Path:
    data = bytearray(path.read_bytes())
    data[offset] ^= mask
    path.write_bytes(bytes(data))
    return path


__all__ = ["SMALL", "SMALL_SCALE", "OverBudget", "run_cli", "assert_clean", "assert_typed_error",
           "leftovers", "unwritable_directory", "budget", "small_model_file",
           "small_state_dict_file", "small_images_file", "small_header", "write_raw_header",
           "deflated_members", "flip_byte", "os"]
