"""Model file: one file holding a folded BoolNet model, and how it is read and written.

.. req:: MODEL-1

   A model file is a ZIP archive in NumPy's ``.npz`` layout. Every member is a ``.npy`` array of a
   numeric dtype; no member is ever unpickled (``np.load(allow_pickle=False)``), so a file that
   holds a pickle, or an object array, is rejected
   (:class:`~boolnet_spec.reference.errors.FormatError`). The
   member ``__graph__`` is a ``uint8`` vector holding the UTF-8 JSON header.

.. req:: MODEL-2

   The header is a JSON object with ``format = "boolnet-spec-model"``, ``format_version = 1``,
   ``spec_version`` (the specification version that wrote it), ``architecture`` (ARCH-1: ``name``,
   ``family``, ``slices``, ``widths``, ``blocks``, ``dilate_last``, ``classes``, ``image_size``) and
   ``nodes``: a list of objects with ``name``, ``op`` (NET-2 to NET-5), ``inputs`` and ``outputs``
   (tensor names), ``attrs`` (operation attributes; BatchNorm ``eps`` values are JSON numbers read
   as binary64) and ``arrays`` (role to member name). ``ERROR_IF`` the format or version differs or
   a field is missing or of the wrong type (:class:`~boolnet_spec.reference.errors.FormatError`).

.. req:: MODEL-3

   Arrays: binary weights are ``uint8`` bits ``[Cout, Cin/groups, kh, kw]`` (WB-1); threshold units
   are ``uint8`` polarity and ``int16`` threshold ``[S, Cout]`` (THR-1); real-valued stem and head
   parameters are float32 in the authors' layout, under the authors' state-dict keys. The whole
   model is then validated by NET-6 before it is returned: a truncated, hostile or inconsistent file
   never reaches a forward pass.

.. req:: MODEL-4

   ``ERROR_IF`` the archive's members would expand beyond ``MAX_MODEL_BYTES`` (4 GiB) in memory
   (:class:`~boolnet_spec.reference.errors.BoundError`), or a member's ``.npy`` header declares
   another number
   of data bytes than the ZIP directory stores for it
   (:class:`~boolnet_spec.reference.errors.FormatError`),
   both checked from the ZIP directory and the ``.npy`` headers before any array is read.

.. req:: MODEL-5

   Writing is atomic: the file is written beside the destination under a temporary name, flushed
   to disk and renamed onto the destination, which is exactly the given path whatever its
   extension. A failed write leaves the destination as it was.
"""

from __future__ import annotations

import json
import os
from typing import BinaryIO

import numpy as np

from boolnet_spec.reference import SPEC_VERSION
from boolnet_spec.reference.architecture import Architecture
from boolnet_spec.reference.errors import BoundError, FormatError, SpecError, error_if
from boolnet_spec.reference.network import Model, Node
from boolnet_spec.reference.safe_io import (
    MAX_MODEL_BYTES,
    loads_json,
    read_npz,
    write_atomic,
    write_npz,
)

__all__ = ["FORMAT", "FORMAT_VERSION", "MAX_MODEL_BYTES", "save_model", "write_model",
           "load_model", "model_header", "model_members"]

FORMAT = "boolnet-spec-model"
FORMAT_VERSION = 1
HEADER = "__graph__"


def _field(header: dict, key: str, kind: type | tuple[type, ...]):
    value = header.get(key)
    error_if(not isinstance(value, kind), FormatError, f"header.{key}", f"a {kind}", repr(value),
             "MODEL-2")
    return value


def _node(data, index: int) -> Node:
    error_if(not isinstance(data, dict), FormatError, f"header.nodes[{index}]", "an object",
             type(data).__name__, "MODEL-2")
    fields = {"name": str, "op": str, "inputs": list, "outputs": list, "attrs": dict,
              "arrays": dict}
    for key, kind in fields.items():
        error_if(not isinstance(data.get(key), kind), FormatError, f"header.nodes[{index}].{key}",
                 f"a {kind.__name__}", repr(data.get(key)), "MODEL-2")
    names = data["inputs"] + data["outputs"] + list(data["arrays"].values())
    error_if(not all(isinstance(name, str) for name in names), FormatError,
             f"header.nodes[{index}]", "string tensor and array names", names, "MODEL-2")
    return Node(**{key: data[key] for key in fields})


def parse_header(arrays: dict[str, np.ndarray]) -> tuple[Architecture, list[Node]]:
    """The architecture and nodes of a model file's header (MODEL-2)."""
    error_if(HEADER not in arrays, FormatError, HEADER, "the JSON header member", "missing",
             "MODEL-1")
    raw = arrays.pop(HEADER)
    error_if(raw.dtype != np.uint8 or raw.ndim != 1, FormatError, HEADER,
             "a uint8 vector of UTF-8 JSON", f"{raw.dtype} {list(raw.shape)}", "MODEL-1")
    header = loads_json(raw.tobytes(), HEADER, "MODEL-2")
    error_if(not isinstance(header, dict), FormatError, HEADER, "a JSON object",
             type(header).__name__, "MODEL-2")
    error_if(header.get("format") != FORMAT, FormatError, "header.format", repr(FORMAT),
             repr(header.get("format")), "MODEL-2")
    version = header.get("format_version")
    # 1.0 and true compare equal to 1 in Python; only the JSON integer 1 is version 1.
    error_if(type(version) is not int or version != FORMAT_VERSION, FormatError,
             "header.format_version", FORMAT_VERSION, repr(version), "MODEL-2")
    _field(header, "spec_version", str)
    try:
        architecture = Architecture.from_json(_field(header, "architecture", dict))
    except BoundError:
        raise
    except (TypeError, SpecError) as error:
        raise FormatError("header.architecture", "the fields of ARCH-1", str(error),
                          "MODEL-2") from None
    nodes = [_node(data, i) for i, data in enumerate(_field(header, "nodes", list))]
    return architecture, nodes


def load_model(path: str | os.PathLike) -> Model:
    """Read and validate a model file (MODEL-1 to MODEL-4, NET-6)."""
    arrays = read_npz(path, "model file")
    architecture, nodes = parse_header(arrays)
    return Model(architecture, nodes, arrays)


def model_header(model: Model) -> dict:
    """The JSON header of ``model`` (MODEL-2)."""
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "spec_version": SPEC_VERSION,
            "architecture": model.architecture.to_json(),
            "nodes": [node.to_json() for node in model.nodes]}


def model_members(model: Model) -> dict[str, np.ndarray]:
    """The members of the model file of ``model``: the header, then every array (MODEL-1)."""
    raw = np.frombuffer(json.dumps(model_header(model), indent=1).encode("utf-8"),
                        dtype=np.uint8)
    return {HEADER: raw, **model.arrays}


def write_model(model: Model, handle: BinaryIO, compress: bool = True) -> None:
    """Write ``model``'s archive to an open binary file (MODEL-1, MODEL-2); ``compress=False``
    stores the members, so the bytes depend on nothing but the model."""
    write_npz(handle, model_members(model), compress)


def save_model(model: Model, path: str | os.PathLike, compress: bool = True) -> None:
    """Write ``model`` to exactly ``path``, atomically (MODEL-5)."""
    write_atomic(path, lambda handle: write_model(model, handle, compress))
