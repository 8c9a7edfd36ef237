"""Fuzz test of issue 12: Hypothesis mutates valid model files, model headers, state dicts, ``.npy``
inputs, checkpoint keys and command lines. Every outcome is a success, a finding or a typed
one-line error (exit 2) within a budget of 10 s and 1 GiB, and a failed command leaves no output
and no temporary file (ERR-5, ERR-6, LIMIT-1 to LIMIT-3).

The budget is fixed (``max_examples`` per test) and CI derandomizes it (tests/conftest.py), so
the whole module runs in well under two minutes under ``pytest -n 2``.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fixtures_network import write_model
from hostile import (
    SMALL_SCALE,
    assert_clean,
    budget,
    leftovers,
    run_cli,
    small_header,
    small_images_file,
    small_model_file,
    small_state_dict_file,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boolnet_spec.reference.errors import SpecError

pytestmark = pytest.mark.req("ERR-5", "ERR-6", "LIMIT-1", "LIMIT-2", "LIMIT-3")


def fuzz(examples: int):
    """A fixed budget of examples; the profile (CI: derandomized) gives the rest."""
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])


# --- Strategies ---------------------------------------------------------------------------------

#: JSON values that a hostile header may put anywhere: extreme integers, floats that JSON cannot
#: hold, strings, nesting and the wrong types.
hostile_values = st.one_of(
    st.sampled_from([0, -1, 1, 2, 3, 63, 64, 65, 4096, 4097, 2 ** 31, 2 ** 63, 10 ** 9,
                     10 ** 30, -(2 ** 63), 0.5, 1e-5, -1e-5, 1e308, True, False, None, "", "x",
                     "replicate", "slices", [], {}, [1, 2], {"bn1": 1e-5}]),
    st.integers(-(2 ** 70), 2 ** 70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.lists(st.integers(-5, 100), max_size=5),
    st.recursive(st.integers(0, 3), lambda inner: st.lists(inner, max_size=2), max_leaves=6),
)


@st.composite
def byte_mutations(draw, data: bytes) -> bytes:
    """``data`` with a few bytes changed, cut short, or with bytes inserted."""
    data = bytearray(data)
    kind = draw(st.sampled_from(["flip", "flip", "truncate", "insert"]))
    if kind == "truncate":
        return bytes(data[:draw(st.integers(0, len(data) - 1))])
    if kind == "insert":
        at = draw(st.integers(0, len(data)))
        return bytes(data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:])
    for _ in range(draw(st.integers(1, 8))):
        # Half of the flips hit the first kilobyte: the ZIP and .npy headers live there.
        end = min(len(data), 1024) if draw(st.booleans()) else len(data)
        data[draw(st.integers(0, end - 1))] ^= draw(st.integers(1, 255))
    return bytes(data)


def _paths(value, prefix=()) -> list[tuple]:
    """Every path to a value inside a JSON document."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@functools.cache
def _small_parts() -> tuple[dict, dict[str, np.ndarray], tuple[tuple, ...]]:
    with tempfile.TemporaryDirectory() as directory:
        header, arrays = small_header(Path(directory))
    return header, arrays, tuple(_paths(header))


@st.composite
def header_mutations(draw) -> dict:
    """The small model's header with one to three values replaced or removed."""
    header, _, paths = _small_parts()
    header = copy.deepcopy(header)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        parent = header
        try:
            for key in path[:-1]:
                parent = parent[key]
            if isinstance(parent, dict) and draw(st.integers(0, 5)) == 0:
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = draw(hostile_values)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this path
    return header


# --- Running a command --------------------------------------------------------------------------

def run_within_budget(capsys, directory: Path, argv: list, outputs: tuple[Path, ...] = ()) -> int:
    """Run ``argv``; the outcome must be clean, and a failure must leave no output."""
    with budget(seconds=10, memory_bytes=1 << 30):
        code, _, err = run_cli(capsys, *argv)
    assert_clean(code, err)
    if code not in (0, 1):
        assert not [p for p in outputs if p.exists()], f"partial output after: {err}"
    assert leftovers(directory) == []
    return code


def fresh(tmp_path: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=tmp_path))


@functools.cache
def _model_bytes(stored: bool) -> bytes:
    with tempfile.TemporaryDirectory() as directory:
        path = small_model_file(Path(directory))
        if not stored:
            return path.read_bytes()
        # Uncompressed, a flipped byte reaches the .npy headers and the arrays themselves.
        out = Path(directory) / "stored.model"
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
            for info in source.infolist():
                target.writestr(info.filename, source.read(info))
        return out.read_bytes()


@functools.cache
def _images_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as directory:
        return small_images_file(Path(directory)).read_bytes()


# --- The fuzz tests -----------------------------------------------------------------------------

@fuzz(40)
@given(data=st.data(), stored=st.booleans(), command=st.sampled_from(["info", "run", "cost"]))
def test_mutated_model_files(tmp_path, capsys, data, stored, command):
    directory = fresh(tmp_path)
    model = directory / "m.model"
    model.write_bytes(data.draw(byte_mutations(_model_bytes(stored))))
    out = directory / "out.npz"
    argv = [command, model] if command != "run" else \
        [command, model, f"--input={small_images_file(directory)}", "-o", out]
    run_within_budget(capsys, directory, argv, (out,))


@fuzz(60)
@given(header=header_mutations(), command=st.sampled_from(["info", "run", "datapath"]))
def test_mutated_model_headers(tmp_path, capsys, header, command):
    directory = fresh(tmp_path)
    _, arrays, _ = _small_parts()
    model = write_model(directory / "h.model", header, arrays)
    out = directory / "out.npz"
    argv = ["info", "--json", model] if command == "info" else \
        [command, model, f"--input={small_images_file(directory)}", "-o", out]
    run_within_budget(capsys, directory, argv, (out,))


@fuzz(25)
@given(data=st.data())
def test_mutated_npy_inputs(tmp_path, capsys, data):
    directory = fresh(tmp_path)
    images = directory / "x.npy"
    images.write_bytes(data.draw(byte_mutations(_images_bytes())))
    out = directory / "out.npz"
    run_within_budget(capsys, directory, ["run", small_model_file(directory),
                                          f"--input={images}", "-o", out], (out,))


@st.composite
def state_dict_mutations(draw, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The small state dict with a key renamed, an array reshaped, retyped or refilled."""
    arrays = dict(arrays)
    key = draw(st.sampled_from(sorted(arrays)))
    kind = draw(st.sampled_from(["rename", "shape", "dtype", "values", "drop"]))
    if kind == "rename":
        new = draw(st.sampled_from(["layer1.99999999.conv1.weight", "layer99.0.conv1.weight",
                                    "layer1.63.conv1.weight", "layer0.0.bn1.weight",
                                    "layer1." + "9" * 5000 + ".x", "fc.weight.extra"])
                   | st.text(min_size=1, max_size=20))
        arrays[new] = arrays.pop(key)
    elif kind == "shape":
        shape = draw(st.lists(st.integers(0, 9), max_size=5))
        arrays[key] = np.zeros(shape, np.float32)
    elif kind == "dtype":
        arrays[key] = arrays[key].astype(draw(st.sampled_from(
            [np.float64, np.float16, np.int8, np.uint8, np.int64, np.complex64, np.bool_])))
    elif kind == "values":
        arrays[key] = np.full_like(arrays[key], draw(st.sampled_from(
            [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e38, -1e-45, 2.0])))
    else:
        arrays.pop(key)
    return arrays


@fuzz(30)
@given(data=st.data(), raw=st.booleans())
def test_mutated_state_dicts(tmp_path, capsys, data, raw):
    directory = fresh(tmp_path)
    source = small_state_dict_file(directory)
    path = directory / "sd.npz"
    if raw:
        path.write_bytes(data.draw(byte_mutations(source.read_bytes())))
    else:
        with np.load(source, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        np.savez(path, **data.draw(state_dict_mutations(arrays)))
    out = directory / "m.bsm"
    run_within_budget(capsys, directory, ["build", *SMALL_SCALE, f"--state-dict={path}",
                                          "-o", out], (out,))


@fuzz(30)
@given(data=st.data())
def test_mutated_checkpoint_keys_bound_the_inferred_architecture(tmp_path, data):
    """The architecture a checkpoint implies (``compare``, ``certify``) is bounded before any
    allocation: inferring it is an answer or a typed error, within the budget."""
    from boolnet_spec.equivalence.pytorch.export import infer_architecture

    directory = fresh(tmp_path)
    with np.load(small_state_dict_file(directory), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays = data.draw(state_dict_mutations(arrays))
    size = data.draw(st.sampled_from([None, 32, 7, 10 ** 9]))
    with budget(seconds=10, memory_bytes=1 << 30), contextlib.suppress(SpecError):
        infer_architecture("boolnet-k4", arrays, size)


def _decimal() -> st.SearchStrategy[str]:
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.integers(-(10 ** 80), 10 ** 80).map(str),
        st.builds(lambda m, e: f"{m}e{e}", st.integers(-999, 999),
                  st.integers(-(10 ** 12), 10 ** 12)),
        st.sampled_from(["1e99999999", "-1e-99999999", "0e999999999", "9" * 5000, "nan", "",
                         " ", "1,2", "0x10", "1_000", "--1", "+.5", "5.", "١"]),
        st.text(max_size=10),
    )


def _integer() -> st.SearchStrategy[str]:
    return st.one_of(st.integers(-(2 ** 70), 2 ** 70).map(str),
                     st.sampled_from(["0", "-1", "65", "4097", "1" * 5000, "1.5", "x", ""]))


@st.composite
def command_lines(draw, model: Path) -> list[str]:
    command = draw(st.sampled_from(["fold", "build", "datapath", "cost"]))
    if command == "fold":
        argv = ["fold"] + [f"--{flag}={draw(_decimal())}"
                           for flag in ("gamma", "beta", "mean", "var")]
        argv += [f"--n={draw(_integer())}", f"--eps={draw(_decimal())}"]
        argv += draw(st.sampled_from([[], [f"--alpha={draw(_decimal())}"],
                                      [f"--slices={draw(_integer())}"],
                                      [f"--offsets={draw(_decimal())},{draw(_decimal())}"]]))
        return argv
    if command == "build":
        options = {"--seed": _integer(), "--classes": _integer(), "--image-size": _integer(),
                   "--widths": st.sampled_from(["8,16", "8,16,32", "16", "0", "16,8", "1" * 70,
                                                "8," * 20 + "8", "4096,8192"]),
                   "--blocks": st.sampled_from(["1,1", "1", "0,1", "65,1", "99999999999,1"])}
        chosen = draw(st.lists(st.sampled_from(sorted(options)), unique=True, max_size=3))
        argv = ["build", "--config=basenet-k1", "--random", "--widths=8,16", "--blocks=1,1",
                "--image-size=32", "--classes=3"]
        return argv + [f"{flag}={draw(options[flag])}" for flag in chosen]
    pe, simd = draw(_integer()), draw(_integer())
    return [command, str(model), f"--pe={pe}", f"--simd={simd}"]


@fuzz(60)
@given(data=st.data())
def test_hostile_command_lines(tmp_path, capsys, data):
    directory = fresh(tmp_path)
    model = small_model_file(directory)
    argv = data.draw(command_lines(model))
    out = directory / "out.bin"
    if argv[0] in ("build", "datapath"):
        argv += ["-o", str(out)]
    if argv[0] == "datapath":
        argv.append(f"--input={small_images_file(directory)}")
    try:
        run_within_budget(capsys, directory, argv, (out,))
    except SystemExit as exit_:  # argparse refuses a non-integer for an integer option
        assert exit_.code == 2
        capsys.readouterr()

