"""Reading a conformance suite: the manifest, the case descriptors and their arrays (KIT-1).

Every field is checked before a case runs; a malformed suite is a
:class:`~boolnet_spec.reference.errors.FormatError` that names the file and the field.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from boolnet_spec.equivalence.conformance import CASE_FORMAT, SUITE_FORMAT
from boolnet_spec.reference.errors import FormatError
from boolnet_spec.reference.safe_io import read_npy

__all__ = ["Output", "Case", "Suite", "load_suite", "MAX_DESCRIPTOR_BYTES", "MODES"]

MODES = ("exact", "bounded")
MAX_DESCRIPTOR_BYTES = 1 << 20
MAX_MANIFEST_BYTES = 16 << 20
_ID = re.compile(r"[a-z0-9_]+/[a-z0-9_.+-]+")
_NAME = re.compile(r"[A-Za-z0-9_.+-]+")


def _fail(path: Path, field_: str, bound: str, value: object) -> FormatError:
    return FormatError(f"{path} field {field_}", bound, value, "KIT-1")


def _json(path: Path, limit: int) -> dict:
    if not path.is_file():
        raise _fail(path, "(file)", "an existing file", "missing")
    size = path.stat().st_size
    if size > limit:
        raise _fail(path, "(file)", f"at most {limit} bytes", size)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise _fail(path, "(file)", "a JSON document", type(error).__name__) from None
    if not isinstance(data, dict):
        raise _fail(path, "(file)", "a JSON object", type(data).__name__)
    return data


def _get(data: dict, key: str, kind: type | tuple[type, ...], path: Path):
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _fail(path, key, f"a value of type {getattr(kind, '__name__', kind)}", repr(value))
    return value


@dataclass(frozen=True)
class Output:
    """One expected output of a case: its file, dtype, shape and comparison (KIT-2)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    mode: str
    how: str
    required: bool

    @classmethod
    def parse(cls, name: str, data: object, path: Path) -> Output:
        where = f"outputs.{name}"
        if not isinstance(data, dict) or not _NAME.fullmatch(name):
            raise _fail(path, where, "an object named by a file-safe name", repr(data)[:80])
        dtype, shape, compare = data.get("dtype"), data.get("shape"), data.get("compare")
        if dtype not in ("uint8", "int16", "int32", "float32", "float64"):
            raise _fail(path, f"{where}.dtype", "uint8, int16, int32, float32 or float64",
                        repr(dtype))
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool)
                                                  and 0 <= d < 1 << 31 for d in shape):
            raise _fail(path, f"{where}.shape", "a list of sizes", repr(shape)[:80])
        if not isinstance(compare, dict) or compare.get("mode") not in MODES:
            raise _fail(path, f"{where}.compare.mode", f"one of {list(MODES)}", repr(compare))
        if compare["mode"] == "bounded" and dtype not in ("float32", "float64"):
            raise _fail(path, f"{where}.compare.mode", "exact for bits and integers (KIT-2)",
                        "bounded")
        return cls(name, dtype, tuple(shape), compare["mode"], str(compare.get("how", "")),
                   bool(data.get("required", True)))


@dataclass
class Case:
    """One conformance case (KIT-1)."""

    directory: Path
    id: str
    op: str
    function: str
    labels: list[str]
    args: list[str]
    attrs: dict
    inputs: dict[str, dict]
    objects: dict[str, dict]
    outputs: list[Output]
    kind: str = "op"
    description: str = ""
    tensor_order: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, directory: Path) -> Case:
        path = directory / "desc.json"
        data = _json(path, MAX_DESCRIPTOR_BYTES)
        if data.get("format") != CASE_FORMAT:
            raise _fail(path, "format", repr(CASE_FORMAT), repr(data.get("format")))
        case_id = _get(data, "id", str, path)
        if not _ID.fullmatch(case_id):
            raise _fail(path, "id", "op/case in lower case", repr(case_id))
        labels = _get(data, "labels", list, path)
        if not all(isinstance(label, str) and re.fullmatch(r"[A-Z]+-\d+", label)
                   for label in labels):
            raise _fail(path, "labels", "requirement labels such as FOLD-2", repr(labels)[:80])
        outputs = _get(data, "outputs", dict, path)
        inputs = _get(data, "inputs", dict, path)
        for name, spec in inputs.items():
            if not isinstance(spec, dict) or not _NAME.fullmatch(name) \
                    or not isinstance(spec.get("file"), str):
                raise _fail(path, f"inputs.{name}", "an object with a file", repr(spec)[:80])
        kind = data.get("kind", "op")
        if kind not in ("op", "network"):
            raise _fail(path, "kind", "op or network", repr(kind))
        args = _get(data, "args", list, path)
        objects = data.get("objects", {})
        if not isinstance(objects, dict):
            raise _fail(path, "objects", "an object", repr(objects)[:80])
        known = set(inputs) | set(_get(data, "attrs", dict, path)) | set(objects)
        for arg in args:
            if arg not in known:
                raise _fail(path, "args", "names of inputs, attrs or objects", repr(arg))
        return cls(directory, case_id, _get(data, "op", str, path),
                   _get(data, "function", str, path), labels, args, data["attrs"], inputs,
                   objects, [Output.parse(name, spec, path) for name, spec in outputs.items()],
                   kind, str(data.get("description", "")),
                   list(data.get("tensor_order", [])))

    def array(self, name: str) -> np.ndarray:
        """An input array, read without pickle (MODEL-1)."""
        return read_npy(self.directory / self.inputs[name]["file"], f"{self.id} input {name}")

    def expected(self, output: Output) -> np.ndarray:
        return read_npy(self.directory / "expected" / f"{output.name}.npy",
                        f"{self.id} expected {output.name}")

    def bound(self, output: Output) -> np.ndarray:
        return read_npy(self.directory / "expected" / f"{output.name}.bound.npy",
                        f"{self.id} bound of {output.name}")


@dataclass
class Suite:
    """A verified suite: its versions and its cases in id order (KIT-1)."""

    directory: Path
    suite_version: str
    spec_version: str
    cases: list[Case]

    def labels(self) -> set[str]:
        return {label for case in self.cases for label in case.labels}


def load_suite(directory: str | Path, verify: bool = True) -> Suite:
    """Read ``MANIFEST.json`` and every case; with ``verify`` check every file's sha256."""
    directory = Path(directory)
    path = directory / "MANIFEST.json"
    data = _json(path, MAX_MANIFEST_BYTES)
    if data.get("format") != SUITE_FORMAT:
        raise _fail(path, "format", repr(SUITE_FORMAT), repr(data.get("format")))
    files = _get(data, "files", dict, path)
    for name, digest in files.items():
        target = (directory / name).resolve()
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest) \
                or directory.resolve() not in target.parents:
            raise _fail(path, f"files.{name}", "a path inside the suite and a sha256",
                        repr(digest))
        if not target.is_file():
            raise _fail(path, f"files.{name}", "an existing file", "missing")
        if verify and hashlib.sha256(target.read_bytes()).hexdigest() != digest:
            raise _fail(path, f"files.{name}", f"sha256 {digest}", "a different hash")
    case_dirs = sorted({Path(*Path(name).parts[:2]) for name in files
                        if Path(name).name == "desc.json"})
    cases = [Case.load(directory / name) for name in case_dirs]
    ids = [case.id for case in cases]
    if len(set(ids)) != len(ids):
        raise _fail(path, "files", "unique case ids", "a repeated id")
    return Suite(directory, _get(data, "suite_version", str, path),
                 _get(data, "spec_version", str, path), sorted(cases, key=lambda c: c.id))
