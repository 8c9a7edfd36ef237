"""Safe file I/O shared by every reader and writer: atomic, all-or-nothing writes (MODEL-5) and
``.npz`` / ``.npy`` reading that checks headers against sizes before anything is allocated
(MODEL-1, MODEL-4). Informative: the rules are stated in the model-file chapter.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from boolnet_spec.reference.errors import BoundError, FormatError, error_if

__all__ = ["MAX_MODEL_BYTES", "write_atomic", "write_npz_atomic", "write_npz", "read_npz",
           "read_npy"]

MAX_MODEL_BYTES = 4 << 30


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` on a file that then becomes exactly ``path``, atomically (MODEL-5)."""
    path = Path(path)
    # Not a with-statement: the file must outlive its handle to be renamed.
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.",  # noqa: SIM115
                                         suffix=".tmp", delete=False)
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(handle.name, 0o666 & ~umask)  # a temporary file is private; the result is not
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


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


def _check_member_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, what: str) -> None:
    """A member's ``.npy`` header must describe exactly the bytes the ZIP directory declares
    (MODEL-4), so a lying header is caught before any array is allocated."""
    name = f"{what} member {info.filename.removesuffix('.npy')}"
    with archive.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            readers = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}
            if version not in readers:
                raise ValueError(f".npy format version {version}")
            shape, _, dtype = readers[version](member)
        except (ValueError, OSError, EOFError) as error:
            raise FormatError(name, "a .npy array", str(error), "MODEL-1") from None
        header = member.tell()
    if dtype.hasobject:
        raise FormatError(name, "numeric arrays only (no pickle, no object arrays)", str(dtype),
                          "MODEL-1")
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    error_if(declared != info.file_size - header, FormatError, name,
             f"{info.file_size - header} data bytes as stored", f"a header declaring {declared}",
             "MODEL-4")


def read_npz(path: str | os.PathLike, what: str,
             limit: int = MAX_MODEL_BYTES) -> dict[str, np.ndarray]:
    """Every member of an ``.npz`` file, never unpickling (MODEL-1, MODEL-4)."""
    path = Path(path)
    error_if(not path.is_file(), FormatError, what, "an existing file", str(path), "MODEL-1")
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
            error_if(total > limit, BoundError, what, f"at most {limit} bytes of arrays", total,
                     "MODEL-4")
            for info in archive.infolist():
                _check_member_header(archive, info, what)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise FormatError(what, "an .npz (ZIP) archive", f"{path}: {error}", "MODEL-1") from None
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except ValueError as error:
        raise FormatError(what, "numeric arrays only (no pickle, no object arrays)",
                          f"{path}: {error}", "MODEL-1") from None
    # MemoryError: a member's .npy header can claim a shape far beyond its ZIP size.
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, MemoryError) as error:
        raise FormatError(what, "a complete .npz archive", f"{path}: {error!r}", "MODEL-1") \
            from None
    for name, value in arrays.items():
        # np.load returns the raw bytes of a member that is not a .npy array.
        error_if(not isinstance(value, np.ndarray) or value.dtype.kind not in "biufc",
                 FormatError, f"{what} member {name}", "a .npy array of a numeric dtype",
                 type(value).__name__ if not isinstance(value, np.ndarray) else value.dtype,
                 "MODEL-1")
    return arrays


def read_npy(path: str | os.PathLike, what: str) -> np.ndarray:
    """One ``.npy`` array, never unpickling (MODEL-1)."""
    path = Path(path)
    error_if(not path.is_file(), FormatError, what, "an existing .npy file", str(path), "MODEL-1")
    try:
        value = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise FormatError(what, "a .npy array of a numeric dtype (no pickle)",
                          f"{path}: {error}", "MODEL-1") from None
    if not isinstance(value, np.ndarray):  # np.load opens an .npz archive too
        value.close()
        raise FormatError(what, "a .npy array, not an .npz archive", str(path), "MODEL-1")
    return value
