"""The model file (reference.modelfile): round trips, atomic writes and every malformed file."""

import copy
import io
import json
import os
import pickle
import stat
import zipfile

import numpy as np
import pytest
from fixtures_network import (
    SMALL,
    images,
    model,
    model_contents,
    node,
    small_model_file,
    state_dict,
    write_model,
)
from naive.ops import spec_message

import boolnet_spec.reference.modelfile
import boolnet_spec.reference.safe_io
from boolnet_spec.reference import SPEC_VERSION
from boolnet_spec.reference.architecture import state_dict_layout
from boolnet_spec.reference.errors import (
    BoundError,
    DomainError,
    DTypeError,
    FormatError,
    NonBinaryError,
    NonFiniteError,
    ShapeError,
)
from boolnet_spec.reference.modelfile import HEADER, load_model, save_model
from boolnet_spec.reference.network import forward
from boolnet_spec.reference.safe_io import MAX_MODEL_BYTES, read_npz

ARCH_FIELDS = {"name", "family", "slices", "widths", "blocks", "dilate_last", "classes",
               "image_size"}


@pytest.mark.req("MODEL-1", "MODEL-2", "MODEL-3")
def test_a_saved_model_loads_identical(tmp_path):
    original = model(SMALL)
    path = tmp_path / "model.bnm"
    save_model(original, path)
    loaded = load_model(path)
    assert loaded.architecture == original.architecture
    assert [n.to_json() for n in loaded.nodes] == [n.to_json() for n in original.nodes]
    assert sorted(loaded.arrays) == sorted(original.arrays)
    for name, array in original.arrays.items():
        assert loaded.arrays[name].dtype == array.dtype, name
        assert np.array_equal(loaded.arrays[name], array), name
    x = images(SMALL, 2, 5)
    logits, trace = forward(original, x, trace=True)
    loaded_logits, loaded_trace = forward(loaded, x, trace=True)
    # The same computation on identical arrays: even the real values are identical.
    assert np.array_equal(loaded_logits, logits)
    assert list(loaded_trace) == list(trace)
    assert all(np.array_equal(loaded_trace[name], trace[name]) for name in trace)


@pytest.mark.req("MODEL-1", "MODEL-2")
def test_the_file_is_an_npz_of_npy_members_with_a_json_header(tmp_path):
    path = small_model_file(tmp_path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    assert all(name.endswith(".npy") for name in names) and f"{HEADER}.npy" in names
    raw = np.load(path, allow_pickle=False)[HEADER]
    assert raw.dtype == np.uint8 and raw.ndim == 1
    header = json.loads(raw.tobytes().decode("utf-8"))
    assert set(header) == {"format", "format_version", "spec_version", "architecture", "nodes"}
    assert (header["format"], header["format_version"], header["spec_version"]) == \
        ("boolnet-spec-model", 1, SPEC_VERSION)
    assert set(header["architecture"]) == ARCH_FIELDS
    assert header["architecture"]["widths"] == [8, 16, 32, 64]
    for entry in header["nodes"]:
        assert set(entry) == {"name", "op", "inputs", "outputs", "attrs", "arrays"}
    eps = [value for entry in header["nodes"] for value in entry["attrs"].get("eps", {}).values()]
    assert eps and all(type(value) is float and value == 1e-5 for value in eps)


@pytest.mark.req("MODEL-3", "BUILD-2")
def test_arrays_have_the_dtypes_and_layouts_of_model_3(tmp_path):
    header, arrays = model_contents(small_model_file(tmp_path))
    layout = {key: shape for key, shape, _ in state_dict_layout(SMALL)}
    parameters = state_dict(SMALL)
    slices = SMALL.slices
    seen = set()
    for entry in header["nodes"]:
        members = entry["arrays"]
        seen.update(members.values())
        if entry["op"] in ("bconv", "head"):
            weight, key = arrays[members["weight"]], members["weight"].removesuffix(".bits")
            # [Cout, Cin/groups, kh, kw] is the authors' weight shape, bit for float.
            assert weight.dtype == np.uint8 and weight.shape == layout[key], entry["name"]
            assert np.array_equal(weight, (parameters[key] >= 0).astype(np.uint8))
        if entry["op"] == "bconv":
            cout = arrays[members["weight"]].shape[0]
            assert arrays[members["polarity"]].dtype == np.uint8
            assert arrays[members["threshold"]].dtype == np.int16
            assert arrays[members["polarity"]].shape == arrays[members["threshold"]].shape == \
                (slices, cout)
        for role, member in members.items():
            if role in ("weight", "polarity", "threshold"):
                continue
            assert arrays[member].dtype == np.float32, member
            if member in layout:
                # Real parameters are the authors' values under the authors' keys.
                assert arrays[member].shape == layout[member]
                assert np.array_equal(arrays[member], parameters[member]), member
            else:
                assert member in ("ghostbnsign.offsets", "layer4.0.conv2.alpha"), member
    assert seen == set(arrays)


@pytest.mark.req("MODEL-5")
@pytest.mark.parametrize("name", ["model.weird", "model", "model.npz", "model.npy", ".model"])
def test_the_file_is_written_at_exactly_the_given_path(tmp_path, name):
    save_model(model(SMALL), tmp_path / name)
    assert sorted(os.listdir(tmp_path)) == [name]
    assert load_model(tmp_path / name).architecture == SMALL


@pytest.mark.req("MODEL-5")
def test_saving_replaces_an_existing_file(tmp_path):
    path = tmp_path / "model"
    path.write_bytes(b"old content")
    save_model(model(SMALL), path)
    assert sorted(os.listdir(tmp_path)) == ["model"]
    assert load_model(path).architecture == SMALL


@pytest.mark.req("MODEL-5", "ERR-6")
@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_destination_as_it_was(tmp_path, monkeypatch, error):
    path = small_model_file(tmp_path, "model.bnm")
    before = path.read_bytes()

    def write_halfway(file, arrays, compress=True):
        file.write(b"PK\x03\x04 half an archive")
        raise error

    monkeypatch.setattr(boolnet_spec.reference.modelfile, "write_npz", write_halfway)
    # An OS error on an output is a typed error naming the path (ERR-6).
    with pytest.raises(DomainError if isinstance(error, OSError) else type(error)):
        save_model(model(SMALL), path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.bnm"]


@pytest.mark.req("MODEL-5")
def test_the_file_is_flushed_before_it_is_renamed(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace",
                        lambda a, b: (calls.append(("replace", b)), real_replace(a, b))[1])
    save_model(model(SMALL), tmp_path / "model")
    assert calls == ["fsync", ("replace", tmp_path / "model")]


@pytest.mark.req("MODEL-5")
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664),
                                             (0o077, 0o600)])
def test_the_file_permissions_follow_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        save_model(model(SMALL), tmp_path / "model")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "model").stat().st_mode) == mode


def expect_rejected(path, error, tensor, bound, value, label):
    with pytest.raises(error, match=spec_message(tensor, bound, value, label)):
        load_model(path)


@pytest.mark.req("MODEL-1")
@pytest.mark.parametrize("keep", [0, 4, 100, 0.5, -22, -1])
def test_a_truncated_file_is_a_format_error(tmp_path, keep):
    data = small_model_file(tmp_path).read_bytes()
    path = tmp_path / "cut"
    path.write_bytes(data[:int(len(data) * keep) if isinstance(keep, float) else keep])
    expect_rejected(path, FormatError, "model file", ".npz (ZIP) archive", str(path), "MODEL-1")


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


@pytest.mark.req("MODEL-1")
@pytest.mark.parametrize("content", [
    b"", b"not a model", pickle.dumps({"conv1.weight": np.zeros(2)}),
    npy_bytes(np.zeros(3, np.uint8))])
def test_a_file_that_is_no_zip_is_a_format_error(tmp_path, content):
    path = tmp_path / "model"
    path.write_bytes(content)
    expect_rejected(path, FormatError, "model file", ".npz (ZIP) archive", str(path), "MODEL-1")


def zip_with(path, members: dict[str, bytes], base=None):
    """A ZIP holding the members of ``base`` (a model file) plus raw ``members``."""
    with zipfile.ZipFile(path, "w") as archive:
        if base is not None:
            with zipfile.ZipFile(base) as source:
                for name in source.namelist():
                    if name not in members:
                        archive.writestr(name, source.read(name))
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.req("MODEL-1")
def test_a_pickled_member_is_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return exec, (f"open({str(marker)!r}, 'w').write('x')",)

    path = zip_with(tmp_path / "evil", {"fc.bias.npy": npy_bytes(np.array([Payload()]))},
                    base=small_model_file(tmp_path))
    expect_rejected(path, FormatError, "model file member fc.bias", "no object arrays", "object",
                    "MODEL-1")
    assert not marker.exists()


@pytest.mark.req("MODEL-1")
@pytest.mark.parametrize(("member", "data", "bound", "shown"), [
    ("__graph__", b'{"format": "boolnet-spec-model"}', "a .npy array", "magic string"),
    ("notes.txt", b"hello", "a .npy array", "reading magic string"),
    ("fc.bias.npy", npy_bytes(np.array(["a", "b"])), "a .npy array of a numeric dtype", "<U1"),
    ("fc.bias.npy", npy_bytes(np.zeros(2, "datetime64[s]")), "a .npy array of a numeric dtype",
     "datetime64[s]"),
    ("fc.bias.npy", npy_bytes(np.zeros(2, [("a", np.float32)])),
     "a .npy array of a numeric dtype", "[('a', '<f4')]"),
])
def test_a_member_that_is_no_numeric_npy_array_is_a_format_error(tmp_path, member, data, bound,
                                                                  shown):
    path = zip_with(tmp_path / "odd", {member: data}, base=small_model_file(tmp_path))
    expect_rejected(path, FormatError, f"model file member {member.removesuffix('.npy')}",
                    bound, shown, "MODEL-1")


@pytest.mark.req("MODEL-1", "MODEL-4")
def test_a_member_claiming_a_huge_shape_is_a_format_error(tmp_path):
    # The ZIP directory says a few bytes; the .npy header claims 1 TiB.
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (1099511627776,), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    data = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + \
        bytes(16)
    path = zip_with(tmp_path / "huge", {"fc.bias.npy": data}, base=small_model_file(tmp_path))
    expect_rejected(path, FormatError, "model file member fc.bias", "16 data bytes as stored",
                    "a header declaring 1099511627776", "MODEL-4")


@pytest.mark.req("MODEL-4")
def test_the_size_bound_is_checked_from_the_zip_directory_before_reading(tmp_path, monkeypatch):
    path = small_model_file(tmp_path)
    with zipfile.ZipFile(path) as archive:
        total = sum(info.file_size for info in archive.infolist())
    assert set(read_npz(path, "model file", limit=total)) == {HEADER, *model(SMALL).arrays}

    def no_read(*args, **kwargs):
        raise AssertionError("a member was read before the size check")

    monkeypatch.setattr(np, "load", no_read)
    with pytest.raises(BoundError, match=spec_message("model file", f"at most {total - 1} bytes",
                                                      str(total), "MODEL-4")):
        read_npz(path, "model file", limit=total - 1)
    assert MAX_MODEL_BYTES == 4 * 2**30
    assert boolnet_spec.reference.safe_io.read_npz.__defaults__ == (MAX_MODEL_BYTES,)


MISSING = object()


def set_field(*path, value):
    """Set (or with MISSING delete) a header field; a string in a list picks a node by name."""
    def edit(header, arrays):
        target = header
        for key in path[:-1]:
            target = node(header, key) if isinstance(target, list) and isinstance(key, str) \
                else target[key]
        if value is MISSING:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return edit


def set_array(member, make):
    """Replace (``make(old)``) or with MISSING delete the stored array ``member``."""
    def edit(header, arrays):
        if make is MISSING:
            del arrays[member]
        else:
            arrays[member] = make(arrays[member].copy())
    return edit


def set_raw_header(data: np.ndarray | None):
    """Store ``data`` (None: nothing) as the header member instead of the JSON."""
    def edit(header, arrays):
        if data is not None:
            arrays[HEADER] = data
        header.clear()
    return edit


def at(index, value):
    """An array function that sets one element."""
    def make(array):
        array[index] = value
        return array
    return make


def both(*edits):
    def edit(header, arrays):
        for one in edits:
            one(header, arrays)
    return edit


def add_unused(header, arrays):
    arrays["extra"] = np.zeros(1, np.float32)


def drop_head(header, arrays):
    head = node(header, "head")
    header["nodes"].remove(head)
    for member in head["arrays"].values():
        del arrays[member]


N1 = 72  # n of layer1.0.conv1: 8 channels * 3 * 3
F32 = np.float32
MALFORMED = {
    # MODEL-1: the header member
    "no header": (set_raw_header(None), FormatError, "__graph__", "the JSON header member",
                  "missing", "MODEL-1"),
    "header int8": (set_raw_header(np.frombuffer(b"{}", np.int8)), FormatError, "__graph__",
                    "a uint8 vector", "int8 [2]", "MODEL-1"),
    "header 2-D": (set_raw_header(np.zeros((2, 2), np.uint8)), FormatError, "__graph__",
                   "a uint8 vector", "uint8 [2, 2]", "MODEL-1"),
    # MODEL-2: the header's JSON and fields
    "header not JSON": (set_raw_header(np.frombuffer(b"{nodes: []}", np.uint8)), FormatError,
                        "__graph__", "UTF-8 JSON", "", "MODEL-2"),
    "header not UTF-8": (set_raw_header(np.frombuffer(b"\xff\xfe{}", np.uint8)), FormatError,
                         "__graph__", "UTF-8 JSON", "utf-8", "MODEL-2"),
    "header a list": (set_raw_header(np.frombuffer(b"[1, 2]", np.uint8)), FormatError,
                      "__graph__", "a JSON object", "list", "MODEL-2"),
    "format": (set_field("format", value="boolnet-model"), FormatError, "header.format",
               "'boolnet-spec-model'", "'boolnet-model'", "MODEL-2"),
    "no format": (set_field("format", value=MISSING), FormatError, "header.format",
                  "'boolnet-spec-model'", "None", "MODEL-2"),
    "version 2": (set_field("format_version", value=2), FormatError, "header.format_version",
                  "1", "2", "MODEL-2"),
    "version '1'": (set_field("format_version", value="1"), FormatError,
                    "header.format_version", "1", "'1'", "MODEL-2"),
    "version 1.0": (set_field("format_version", value=1.0), FormatError,
                    "header.format_version", "1", "1.0", "MODEL-2"),
    "version true": (set_field("format_version", value=True), FormatError,
                     "header.format_version", "1", "True", "MODEL-2"),
    "no spec_version": (set_field("spec_version", value=MISSING), FormatError,
                        "header.spec_version", "str", "None", "MODEL-2"),
    "spec_version int": (set_field("spec_version", value=1), FormatError, "header.spec_version",
                         "str", "1", "MODEL-2"),
    "no architecture": (set_field("architecture", value=MISSING), FormatError,
                        "header.architecture", "dict", "None", "MODEL-2"),
    "architecture list": (set_field("architecture", value=[]), FormatError,
                          "header.architecture", "dict", "[]", "MODEL-2"),
    "architecture without name": (set_field("architecture", "name", value=MISSING), FormatError,
                                  "header.architecture", "the fields of ARCH-1", "name",
                                  "MODEL-2"),
    "architecture extra field": (set_field("architecture", "depth", value=18), FormatError,
                                 "header.architecture", "the fields of ARCH-1", "depth",
                                 "MODEL-2"),
    "architecture widths": (set_field("architecture", "widths", value=[8, 8, 32, 64]),
                            FormatError, "header.architecture", "the fields of ARCH-1",
                            "strictly increasing", "MODEL-2"),
    "architecture classes true": (set_field("architecture", "classes", value=True), FormatError,
                                  "header.architecture", "the fields of ARCH-1",
                                  "architecture.classes", "MODEL-2"),
    "no nodes": (set_field("nodes", value=MISSING), FormatError, "header.nodes", "list", "None",
                 "MODEL-2"),
    "nodes an object": (set_field("nodes", value={}), FormatError, "header.nodes", "list", "{}",
                        "MODEL-2"),
    "node a string": (set_field("nodes", 3, value="layer1.0.conv2"), FormatError,
                      "header.nodes[3]", "an object", "str", "MODEL-2"),
    "node without op": (set_field("nodes", "layer1.0.xnor", "op", value=MISSING), FormatError,
                        "header.nodes[2].op", "a str", "None", "MODEL-2"),
    "inputs a string": (set_field("nodes", "layer1.0.xnor", "inputs", value="ghostbnsign"),
                        FormatError, "header.nodes[2].inputs", "a list", "'ghostbnsign'",
                        "MODEL-2"),
    "attrs a list": (set_field("nodes", "layer1.0.conv1", "attrs", value=[]), FormatError,
                     "header.nodes[1].attrs", "a dict", "[]", "MODEL-2"),
    "input name a number": (set_field("nodes", "layer1.0.xnor", "inputs", value=[1, 2]),
                            FormatError, "header.nodes[2]", "string tensor and array names",
                            "[1, 2", "MODEL-2"),
    # NET-6: the graph
    "unknown op": (set_field("nodes", "layer1.0.conv1", "op", value="conv"), FormatError,
                   "node layer1.0.conv1", "an op in", "'conv'", "OPS-1"),
    "arity": (set_field("nodes", "layer1.0.xnor", "inputs", value=["layer1.0.ghostsign1"]),
              FormatError, "node layer1.0.xnor", "2 input(s) and 1 output(s)", "1 and 1",
              "NET-6"),
    "two outputs for one": (set_field("nodes", "layer1.0.xnor", "outputs", value=["a", "b"]),
                            FormatError, "node layer1.0.xnor", "2 input(s) and 1 output(s)",
                            "2 and 2", "NET-6"),
    "undefined input": (set_field("nodes", "layer1.0.xnor", "inputs",
                                  value=["layer1.0.ghostsign1", "nope"]), FormatError,
                        "node layer1.0.xnor input", "a tensor defined by the image or an earlier",
                        "'nope'", "NET-6"),
    "later input": (set_field("nodes", "layer1.0.conv1", "inputs", value=["layer1.0"]),
                    FormatError, "node layer1.0.conv1 input", "an earlier node", "'layer1.0'",
                    "NET-6"),
    "output defined before": (set_field("nodes", "layer1.0.conv2", "outputs",
                                        value=["layer1.0.conv1", "layer1.0.ghostsign2"]),
                              FormatError, "node layer1.0.conv2 output", "a new tensor name",
                              "'layer1.0.conv1'", "NET-6"),
    "output image": (set_field("nodes", "layer1.0.xnor", "outputs", value=["image"]),
                     FormatError, "node layer1.0.xnor output", "a new tensor name", "'image'",
                     "NET-6"),
    "output twice in a node": (set_field("nodes", "layer1.0.conv1", "outputs",
                                         value=["layer1.0.conv1", "layer1.0.conv1"]),
                               FormatError, "node layer1.0.conv1 output", "a new tensor name",
                               "'layer1.0.conv1'", "NET-6"),
    "node name twice": (set_field("nodes", "layer1.0.conv2", "name", value="layer1.0.conv1"),
                        FormatError, "node layer1.0.conv1", "a node name used once",
                        "a repeated name", "NET-6"),
    "array shared": (set_field("nodes", "layer2.0.conv1", "arrays", "weight",
                               value="layer1.0.conv1.weight.bits"), FormatError,
                     "layer1.0.conv1.weight.bits", "an array used by one node",
                     "used by layer1.0.conv1 and layer2.0.conv1", "NET-6"),
    "array missing": (set_array("layer2.0.conv1.polarity", MISSING), FormatError,
                      "layer2.0.conv1.polarity", "a stored array", "missing", "NET-6"),
    "role missing": (set_field("nodes", "layer2.0.conv1", "arrays", "threshold", value=MISSING),
                     FormatError, "node layer2.0.conv1", "an array for role 'threshold'",
                     "['polarity', 'weight']", "NET-6"),
    "array unused": (add_unused, FormatError, "extra", "only arrays used by a node",
                     "1 unused array(s): ['extra']", "NET-6"),
    "no logits": (drop_head, FormatError, "graph", "a node producing 'logits'", "", "NET-6"),
    "classes": (set_field("architecture", "classes", value=1000), ShapeError, "logits",
                "1000 classes", "10", "NET-6"),
    "input kind": (set_field("nodes", "layer1.0.conv2", "inputs", value=["layer1.0.conv1"]),
                   ShapeError, "node layer1.0.conv2 input layer1.0.conv1", "a bits tensor",
                   "a acc tensor", "NET-6"),
    "attr missing": (set_field("nodes", "layer1.0.conv1", "attrs", "stride", value=MISSING),
                     FormatError, "node layer1.0.conv1 attrs.stride", "int", "None", "NET-6"),
    "attr bool": (set_field("nodes", "layer1.0.conv1", "attrs", "pool", value=False),
                  FormatError, "node layer1.0.conv1 attrs.pool", "int", "False", "NET-6"),
    "eps missing": (set_field("nodes", "stem", "attrs", "eps", "bn0", value=MISSING),
                    FormatError, "node stem attrs.eps.bn0", "a binary64 number", "None",
                    "NET-6"),
    "eps string": (set_field("nodes", "head", "attrs", "eps", "bn3", value="1e-5"),
                   FormatError, "node head attrs.eps.bn3", "a binary64 number", "'1e-5'",
                   "NET-6"),
    # NET-2 to NET-5: operation attributes and their shapes
    "stem variant": (set_field("nodes", "stem", "attrs", "variant", value="resnet"),
                     FormatError, "node stem", "variant basenet or boolnet", "'resnet'", "NET-2"),
    "offsets 2-D": (set_array("ghostbnsign.offsets", lambda a: a[None]), ShapeError,
                    "ghostbnsign.offsets", "shape [S]", "[1, 4]", "NET-2"),
    "read": (set_field("nodes", "layer1.0.conv1", "attrs", "read", value="half"), FormatError,
             "node layer1.0.conv1 attrs.read", "slices or all", "'half'", "NET-3"),
    "pool too large": (set_field("nodes", "layer2.0.downsample", "attrs", "pool", value=9),
                       ShapeError, "node layer2.0.downsample attrs.pool", "0 <= pool <= 8",
                       "9", "NET-3"),
    "polarity Cout": (both(set_array("layer1.0.conv1.polarity",
                                     lambda a: np.ones((4, 9), np.uint8)),
                           set_array("layer1.0.conv1.threshold",
                                     lambda a: np.full((4, 9), -N1, np.int16))),
                      ShapeError, "layer1.0.conv1.polarity", "[S, Cout = 8]", "[4, 9]", "NET-3"),
    "groups above S": (set_field("nodes", "layer1.0.conv1", "attrs", "groups", value=5),
                       DomainError, "node layer1.0.conv1 attrs.groups", "1 <= groups <= S = 4",
                       "5", "CONV-4"),
    "stride 0": (set_field("nodes", "layer1.0.conv1", "attrs", "stride", value=0), DomainError,
                 "node layer1.0.conv1 attrs.stride", "an integer >= 1", "0", "CONV-3"),
    "zero padding": (set_field("nodes", "layer1.0.conv1", "attrs", "pad_mode", value="zeros"),
                     DomainError, "pad_mode", "one of replicate, one, none", "'zeros'", "PAD-3"),
    "xnor shapes": (set_field("nodes", "layer2.0.xnor", "inputs",
                              value=["layer2.0.ghostsign1", "layer1.0"]), ShapeError,
                    "node layer2.0.xnor input layer1.0", "the shape of layer2.0.ghostsign1",
                    "[4, 16, 8, 8]", "NET-4"),
    "head grows the size": (set_field("nodes", "head", "attrs", "padding", value=2), ShapeError,
                            "node head conv output", "[64, 1, 1]", "[64, 3, 3]", "NET-5"),
    "head other channels": (set_array("layer4.0.conv2.weight.bits", lambda a: np.zeros(
        (68, 64, 3, 3), np.uint8)), ShapeError, "node head conv output", "[64, 1, 1]",
        "[68, 1, 1]", "NET-5"),
    "head conv empty": (set_field("nodes", "head", "attrs", "padding", value=0), ShapeError,
                        "node head output", "Ho >= 1 and Wo >= 1", "[-1, -1]", "CONV-2"),
    "head alpha 0": (set_array("layer4.0.conv2.alpha", at(5, 0.0)), DomainError,
                     "layer4.0.conv2.alpha", "alpha > 0", "0.0", "NET-5"),
    # Stored arrays: bits, threshold units, real parameters
    "weight float32": (set_array("layer1.0.conv1.weight.bits", lambda a: a.astype(F32)),
                       DTypeError, "layer1.0.conv1.weight.bits", "dtype uint8", "float32",
                       "ENC-5"),
    "weight bool": (set_array("layer2.0.downsample.0.weight.bits", lambda a: a.astype(bool)),
                    DTypeError, "layer2.0.downsample.0.weight.bits", "dtype uint8", "bool",
                    "ENC-5"),
    "weight bit 2": (set_array("layer3.0.conv2.weight.bits", at((1, 2, 0, 1), 2)),
                     NonBinaryError, "layer3.0.conv2.weight.bits", "bits in {0, 1}",
                     "2 at index [1, 2, 0, 1]", "ENC-5"),
    "weight Cin": (set_array("layer1.0.conv1.weight.bits", lambda a: np.zeros((8, 16, 3, 3),
                                                                              np.uint8)),
                   ShapeError, "layer1.0.conv1.weight.bits", "Cin/groups = 8", "[8, 16, 3, 3]",
                   "CONV-3"),
    "threshold int32": (set_array("layer1.0.conv1.threshold", lambda a: a.astype(np.int32)),
                        DTypeError, "layer1.0.conv1.threshold (threshold.threshold)",
                        "dtype int16", "int32", "THR-4"),
    "polarity int8": (set_array("layer1.0.conv2.polarity", lambda a: a.astype(np.int8)),
                      DTypeError, "layer1.0.conv2.threshold (threshold.polarity)", "dtype uint8",
                      "int8", "THR-4"),
    "threshold shape": (set_array("layer1.0.conv1.threshold", lambda a: a[:, :4]), ShapeError,
                        "layer1.0.conv1.threshold (threshold.polarity/threshold)",
                        "one shape [S, C]", "(4, 8) and (4, 4)", "THR-4"),
    "t = n + 4": (set_array("layer1.0.conv1.threshold", at((2, 3), N1 + 4)), DomainError,
                  "layer1.0.conv1.threshold (threshold)", f"canonical units for n = {N1}",
                  f"t {N1 + 4}) at [2, 3]", "THR-4"),
    "t of the wrong parity": (set_array("layer1.0.conv1.threshold", at((0, 0), 1)),
                              DomainError, "layer1.0.conv1.threshold (threshold)",
                              f"canonical units for n = {N1}", "t 1) at [0, 0]", "THR-4"),
    "polarity 0 with t = n": (both(set_array("layer1.0.conv1.polarity", at((1, 1), 0)),
                                   set_array("layer1.0.conv1.threshold", at((1, 1), N1))),
                              DomainError,
        "layer1.0.conv1.threshold (threshold)", "canonical", f"(polarity 0, t {N1}) at [1, 1]",
        "THR-4"),
    "polarity 2": (set_array("layer1.0.conv1.polarity", at((3, 7), 2)), DomainError,
                   "layer1.0.conv1.threshold (threshold)", "canonical", "(polarity 2, t",
                   "THR-4"),
    "NaN in the stem": (set_array("maxpool.0.bias", at(3, np.nan)), NonFiniteError,
                        "maxpool.0.bias", "finite values", "nan at index [3]", "NET-6"),
    "inf in the depthwise conv": (set_array("ghostbnsign.adaptive_zero_points.0.weight",
                                            at((2, 0, 1, 1), np.inf)), NonFiniteError,
                                  "ghostbnsign.adaptive_zero_points.0.weight", "finite values",
                                  "inf at index [2, 0, 1, 1]", "NET-6"),
    "NaN in the head": (set_array("fc.weight", at((9, 63), np.nan)), NonFiniteError,
                        "fc.weight", "finite values", "nan at index [9, 63]", "NET-6"),
    "NaN in an offset": (set_array("ghostbnsign.offsets", at(0, np.nan)), NonFiniteError,
                         "ghostbnsign.offsets", "finite values", "nan at index [0]", "NET-6"),
    "var + eps <= 0": (set_array("ghostbnsign.bn2.running_var", at(6, -1.0)), DomainError,
                       "ghostbnsign.bn2.running_var", "running_var + eps > 0",
                       "-1.0 at index [6]", "BN-2"),
    "var = -eps": (both(set_array("layer4.0.bn3.running_var", at(0, 2.0**-10)),
                        set_field("nodes", "head", "attrs", "eps", "bn3", value=-(2.0**-10))),
                   DomainError,
                   "layer4.0.bn3.running_var", "running_var + eps > 0", "0.0009765625 at index",
                   "BN-2"),
    "stem float64": (set_array("conv1.weight", lambda a: a.astype(np.float64)), DTypeError,
                     "conv1.weight", "dtype float32", "float64", "NET-6"),
    "fc bias shape": (set_array("fc.bias", lambda a: np.zeros(11, F32)), ShapeError, "fc.bias",
                      "shape [10]", "[11]", "NET-6"),
    "prelu shape": (set_array("prelu2.weight", lambda a: a[:32]), ShapeError, "prelu2.weight",
                    "shape [64]", "[32]", "NET-6"),
}


@pytest.mark.req("MODEL-1", "MODEL-2", "MODEL-3", "NET-2", "NET-3", "NET-4", "NET-5", "NET-6")
@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_model_is_a_typed_error_naming_its_cause(tmp_path, case):
    edit, error, tensor, bound, value, label = MALFORMED[case]
    header, arrays = model_contents(small_model_file(tmp_path))
    header = copy.deepcopy(header)
    edit(header, arrays)
    path = write_model(tmp_path / "edited", header or None, arrays)
    expect_rejected(path, error, tensor, bound, value, label)


@pytest.mark.req("MODEL-2", "NET-6")
def test_the_unedited_contents_load(tmp_path):
    # The edits above start from this file: unedited, it must pass.
    header, arrays = model_contents(small_model_file(tmp_path))
    assert load_model(write_model(tmp_path / "same", header, arrays)).architecture == SMALL


@pytest.mark.req("NET-6")
@pytest.mark.parametrize(("channels", "n_ok"), [(32765, True), (32766, False), (32767, False)])
def test_n_beyond_n_max_is_a_bound_error(tmp_path, channels, n_ok):
    # A 1x1 conv widens the stem's bits to `channels`; a second 1x1 conv then has n = channels.
    header, arrays = model_contents(small_model_file(tmp_path))
    stem = node(header, "stem")
    conv = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "pad_mode": "none",
            "pool": 0}
    header["nodes"] = [stem, {
        "name": "wide", "op": "bconv", "inputs": ["ghostbnsign"], "outputs": ["s", "wide"],
        "attrs": conv | {"read": "all"},
        "arrays": {"weight": "w1", "polarity": "p1", "threshold": "t1"}}, {
        "name": "deep", "op": "bconv", "inputs": ["wide"], "outputs": ["s2", "deep"],
        "attrs": conv | {"read": "slices"},
        "arrays": {"weight": "w2", "polarity": "p2", "threshold": "t2"}}]
    kept = {member: arrays[member] for member in stem["arrays"].values()}
    kept |= {"w1": np.zeros((channels, 32, 1, 1), np.uint8),
             "p1": np.ones((4, channels), np.uint8), "t1": np.full((4, channels), -32, np.int16),
             "w2": np.zeros((1, channels, 1, 1), np.uint8), "p2": np.ones((4, 1), np.uint8),
             "t2": np.full((4, 1), -min(channels, 32765), np.int16)}
    path = write_model(tmp_path / "deep", header, kept)
    if n_ok:
        # Past the n check, the graph still lacks its logits.
        expect_rejected(path, FormatError, "graph", "a node producing 'logits'", "", "NET-6")
    else:
        expect_rejected(path, BoundError, "t2 (n)", "1 <= n <= N_MAX = 32765", str(channels),
                        "ACC-3")
