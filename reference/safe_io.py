"""Safe file I/O shared by every reader and writer: one all-or-nothing writer (MODEL-5, ERR-6)
and readers that check sizes, headers and nesting before anything is decompressed, parsed or
allocated (MODEL-1, MODEL-4, LIMIT-2, LIMIT-3), turning every failure into a typed error (ERR-5).
Informative: the rules are stated in the model-file and errors chapters.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO

import numpy as np

from boolnet_spec.reference.errors import (
    BoundError,
    DomainError,
    FormatError,
    SpecError,
    error_if,
)
from boolnet_spec.reference.limits import (
    MAX_INPUT_BYTES,
    MAX_JSON_DEPTH,
    MAX_NUMBER_CHARS,
    MAX_TEXT_BYTES,
)

__all__ = ["MAX_MODEL_BYTES", "write_atomic", "write_outputs", "write_npz_atomic", "write_npz",
           "check_writable", "check_input_file", "check_zip_sizes", "read_npz", "read_npy",
           "read_text", "loads_json"]

MAX_MODEL_BYTES = MAX_INPUT_BYTES

#: What a failed read of a file may raise, beyond our own typed errors (ERR-5).
READ_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile, zipfile.LargeZipFile,
               UnicodeDecodeError, OverflowError, MemoryError, KeyError, ValueError)


def _reason(error: BaseException) -> str:
    """One line: the exception's type and its first line."""
    text = (str(error).splitlines() or [""])[0][:200]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def check_writable(path: str | os.PathLike, flag: str = "-o") -> Path:
    """An output path whose directory exists and accepts a new file, checked before any work
    (ERR-6): a probe file is created there and removed."""
    out = Path(path)
    error_if(not out.parent.is_dir(), DomainError, flag, "a path in an existing directory",
             str(out), "MODEL-5")
    error_if(out.is_dir(), DomainError, flag, "a file path, not a directory", str(out), "MODEL-5")
    try:
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", suffix=".probe"):
            pass
    except OSError as error:
        raise DomainError(flag, "a path in a directory that accepts a new file", f"{out} "
                          f"({_reason(error)})", "ERR-6") from None
    return out


def write_outputs(outputs: Mapping[str | os.PathLike, Callable[[BinaryIO], None]]) -> None:
    """Write every output, all or nothing (MODEL-5, ERR-6).

    Each ``write(handle)`` fills a temporary file beside its destination; only when every one is
    complete and on disk are they renamed onto their destinations, each with the umask-derived
    mode. A failure before the renames removes every temporary file and leaves every
    destination as it was."""
    paths = [Path(path) for path in outputs]
    error_if(len({path.resolve() for path in paths}) != len(paths), DomainError, "outputs",
             "a distinct path for every output", [str(path) for path in paths], "ERR-6")
    mode = _mode()
    done: list[tuple[str, Path]] = []
    try:
        for path, write in zip(paths, outputs.values(), strict=True):
            # Not a with-statement: the file must outlive its handle to be renamed.
            handle = tempfile.NamedTemporaryFile(  # noqa: SIM115
                dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
            done.append((handle.name, path))
            with handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(handle.name, mode)  # a temporary file is private; the result is not
        for temporary, path in done:
            os.replace(temporary, path)
    except BaseException as error:
        for temporary, _ in done:
            Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            where = done[-1][1] if done else paths[0]
            raise DomainError(str(where), "a writable output file", _reason(error),
                              "ERR-6") from None
        raise


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` on a file that then becomes exactly ``path``, atomically (MODEL-5)."""
    write_outputs({path: write})


def write_npz_atomic(path: str | os.PathLike, arrays: dict[str, np.ndarray],
                     compress: bool = True) -> None:
    """Write ``arrays`` as an ``.npz`` at exactly ``path``, atomically (MODEL-5); stored members
    with ``compress=False``."""
    write_atomic(path, lambda handle: write_npz(handle, arrays, compress))


def write_npz(handle: BinaryIO, arrays: dict[str, np.ndarray], compress: bool = True) -> None:
    """NumPy's ``.npz`` layout with fixed member timestamps, so equal arrays give equal bytes
    (KIT-8); members are deflated with ``compress`` and stored without."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(handle, "w", method, allowZip64=True) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def check_input_file(path: str | os.PathLike, what: str, limit: int | None = None,
                     label: str = "MODEL-1", kind: str = "file") -> Path:
    """An existing, readable regular file of at most ``limit`` bytes (LIMIT-2, ERR-5)."""
    path = Path(path)
    try:
        exists = path.is_file()
        size = path.stat().st_size if exists else 0
    except OSError as error:
        raise FormatError(what, "a readable file", f"{path} ({_reason(error)})", label) from None
    error_if(not exists, FormatError, what, f"an existing {kind}", str(path), label)
    error_if(not os.access(path, os.R_OK), FormatError, what, "a readable file",
             f"{path} (permission denied)", label)
    if limit is not None:
        error_if(size > limit, BoundError, what, f"a file of at most {limit} bytes",
                 f"{path}: {size} bytes", "LIMIT-2")
    return path


def check_zip_sizes(path: Path, what: str, limit: int = MAX_INPUT_BYTES,
                    label: str = "LIMIT-2") -> None:
    """The uncompressed size of a ZIP archive's members, from its central directory, before
    anything is decompressed (LIMIT-2); nothing is checked for a file that is not a ZIP."""
    try:
        if not zipfile.is_zipfile(path):
            return None
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except SpecError:
        raise
    except READ_ERRORS as error:
        raise FormatError(what, "a readable ZIP archive", f"{path} ({_reason(error)})",
                          label) from None
    error_if(total > limit, BoundError, what, f"at most {limit} bytes once decompressed",
             f"{path}: {total} bytes", label)


def _npy_header(handle: BinaryIO, name: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset of a ``.npy`` stream, read without its data (MODEL-1)."""
    try:
        version = np.lib.format.read_magic(handle)
        readers = {(1, 0): np.lib.format.read_array_header_1_0,
                   (2, 0): np.lib.format.read_array_header_2_0}
        if version not in readers:
            raise ValueError(f".npy format version {version}")
        shape, _, dtype = readers[version](handle)
    except SpecError:
        raise
    except Exception as error:  # numpy's header parser raises many types on a malformed header
        raise FormatError(name, "a .npy array", _reason(error), "MODEL-1") from None
    if dtype.hasobject:
        raise FormatError(name, "numeric arrays only (no pickle, no object arrays)",
                          f"{dtype} (never unpickled: allow_pickle=False)", "MODEL-1")
    return shape, dtype, handle.tell()


def _check_member_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, what: str) -> None:
    """A member's ``.npy`` header must describe exactly the bytes the ZIP directory declares
    (MODEL-4), so a lying header is caught before any array is allocated."""
    name = f"{what} member {info.filename.removesuffix('.npy')}"
    with archive.open(info) as member:
        shape, dtype, header = _npy_header(member, name)
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    error_if(declared != info.file_size - header, FormatError, name,
             f"{info.file_size - header} data bytes as stored", f"a header declaring {declared}",
             "MODEL-4")


def read_npz(path: str | os.PathLike, what: str,
             limit: int = MAX_MODEL_BYTES) -> dict[str, np.ndarray]:
    """Every member of an ``.npz`` file, never unpickling (MODEL-1, MODEL-4, ERR-5)."""
    path = check_input_file(path, what)
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
            error_if(total > limit, BoundError, what, f"at most {limit} bytes of arrays", total,
                     "MODEL-4")
            for info in archive.infolist():
                _check_member_header(archive, info, what)
    except SpecError:
        raise
    except READ_ERRORS as error:
        raise FormatError(what, "an .npz (ZIP) archive", f"{path}: {_reason(error)}",
                          "MODEL-1") from None
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    # A corrupted deflate stream raises zlib.error; a member's CRC, BadZipFile.
    except SpecError:
        raise
    except READ_ERRORS as error:
        raise FormatError(what, "a complete .npz archive of numeric arrays (no pickle)",
                          f"{path}: {_reason(error)}", "MODEL-1") from None
    for name, value in arrays.items():
        # np.load returns the raw bytes of a member that is not a .npy array.
        error_if(not isinstance(value, np.ndarray) or value.dtype.kind not in "biufc",
                 FormatError, f"{what} member {name}", "a .npy array of a numeric dtype",
                 type(value).__name__ if not isinstance(value, np.ndarray) else value.dtype,
                 "MODEL-1")
    return arrays


def read_npy(path: str | os.PathLike, what: str, limit: int = MAX_INPUT_BYTES) -> np.ndarray:
    """One ``.npy`` array, never unpickling, its header checked against the file's size before
    the array is allocated (MODEL-1, LIMIT-2)."""
    path = check_input_file(path, what, limit, kind=".npy file")
    try:
        with path.open("rb") as handle:
            if handle.read(len(np.lib.format.MAGIC_PREFIX)) != np.lib.format.MAGIC_PREFIX:
                raise FormatError(what, "a .npy array (not an .npz archive or another file)",
                                  str(path), "MODEL-1")
            handle.seek(0)
            shape, dtype, header = _npy_header(handle, what)
            stored = os.fstat(handle.fileno()).st_size - header
            declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
            error_if(declared != stored, FormatError, what,
                     f"{stored} data bytes as stored in {path}",
                     f"a header declaring {declared} (shape {list(shape)}, {dtype})", "LIMIT-2")
            error_if(dtype.kind not in "biufc", FormatError, what, "a numeric dtype", str(dtype),
                     "MODEL-1")
            handle.seek(0)
            return np.lib.format.read_array(handle, allow_pickle=False)
    except SpecError:
        raise
    except READ_ERRORS as error:
        raise FormatError(what, "a .npy array of a numeric dtype (no pickle)",
                          f"{path}: {_reason(error)}", "MODEL-1") from None


def read_text(path: str | os.PathLike, what: str, label: str,
              limit: int = MAX_TEXT_BYTES) -> str:
    """A UTF-8 text file of at most ``limit`` bytes (LIMIT-2, ERR-5)."""
    path = check_input_file(path, what, limit, label)
    try:
        return path.read_text(encoding="utf-8")
    except SpecError:
        raise
    except READ_ERRORS as error:
        raise FormatError(what, "a readable UTF-8 text file", f"{path}: {_reason(error)}",
                          label) from None


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NUMBER = re.compile(rb"[-+0-9.eE]+")


def loads_json(raw: bytes | str, what: str, label: str) -> object:
    """JSON after a bounded scan of its nesting depth and number lengths (LIMIT-3), so that
    neither the parser's recursion nor an integer conversion can fail on it."""
    raw = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    error_if(len(raw) > MAX_TEXT_BYTES, BoundError, what, f"at most {MAX_TEXT_BYTES} bytes",
             len(raw), "LIMIT-2")
    bare = _STRING.sub(b'""', raw)
    codes = np.frombuffer(bare, np.uint8)
    opens = (codes == ord("[")) | (codes == ord("{"))
    closes = (codes == ord("]")) | (codes == ord("}"))
    depth = int(np.cumsum(opens.astype(np.int64) - closes).max(initial=0))
    error_if(depth > MAX_JSON_DEPTH, FormatError, what,
             f"JSON nested at most {MAX_JSON_DEPTH} deep", f"depth {depth}", "LIMIT-3")
    longest = max((len(m) for m in _NUMBER.findall(bare)), default=0)
    error_if(longest > MAX_NUMBER_CHARS, FormatError, what,
             f"JSON numbers of at most {MAX_NUMBER_CHARS} characters",
             f"a number of {longest} characters", "LIMIT-3")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as error:
        raise FormatError(what, "UTF-8 JSON", _reason(error), label) from None
