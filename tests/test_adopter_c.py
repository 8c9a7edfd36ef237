"""The C adopter's implementation (equivalence/c) against the conformance kit.

Builds ``boolnet_c`` twice with make (-O2, and -fsanitize=address,undefined) into a temporary
directory, runs the shipped suite through the kit's public command protocol
(``boolnet-spec conform --impl-cmd=...``) and checks that every case passes, then feeds the
sanitizer build malformed cases and models: each must end with a one-line message and exit
code 2, never a crash or a sanitizer report.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import boolnet_spec

ROOT = Path(__file__).resolve().parent.parent
C_DIR = ROOT / "equivalence" / "c"
SUITE = Path(boolnet_spec.__file__).resolve().parent / "conformance" / "vectors"
SANITIZER_MARKERS = ("Sanitizer", "runtime error:", "AddressSanitizer", "LeakSanitizer")

pytestmark = pytest.mark.skipif(
    shutil.which("make") is None or shutil.which(os.environ.get("CC", "cc")) is None,
    reason="needs make and a C compiler",
)


@pytest.fixture(scope="module")
def binaries(tmp_path_factory) -> dict[str, Path]:
    build = tmp_path_factory.mktemp("boolnet-c-build")
    subprocess.run(["make", "-C", str(C_DIR), f"BUILD={build}", "all", "sanitize"],
                   check=True, capture_output=True, text=True)
    return {"normal": build / "boolnet_c", "sanitize": build / "boolnet_c-asan"}


def suite_case_ids() -> list[str]:
    return sorted(str(p.parent.relative_to(SUITE)) for p in SUITE.glob("*/*/desc.json"))


def conform(binary: Path, *extra: str) -> dict:
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    proc = subprocess.run(
        [sys.executable, "-m", "boolnet_spec", "conform", f"--impl-cmd={binary} {{case}} {{out}}",
         "--json", *extra],
        capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout)


@pytest.mark.parametrize("build", ["normal", "sanitize"])
def test_kit_all_cases_pass(binaries, build):
    report = conform(binaries[build])
    ids = suite_case_ids()
    summary = report["summary"]
    assert summary["failed"] == 0
    assert summary["not_run"] == 0
    assert summary["passed"] == summary["cases"] == len(ids)
    assert sorted(c["id"] for c in report["cases"]) == ids
    # network cases: every traced tensor was written and compared, none reported not run
    for case in report["cases"]:
        assert case["outcome"] == "passed", case
        assert case["not_run"] == [], case


# ---------------------------------------------------------------- malformed input


def copy_case(tmp_path: Path, case_id: str) -> Path:
    dst = tmp_path / "case"
    shutil.copytree(SUITE / case_id, dst)
    return dst


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def rewrite_bytes(path: Path, change) -> None:
    path.write_bytes(change(path.read_bytes()))


def replace_in(old: bytes, new: bytes):
    def change(data: bytes) -> bytes:
        assert old in data
        return data.replace(old, new)
    return change


def set_npy(path: Path, change) -> None:
    array = np.load(path)
    change(array)
    np.save(path, array)


OR_CASE = "logic/or-truth-table"
CONV_CASE = "bconv/replicate-corners"
UNITS_CASE = "threshold/four-slices"
FOLD_CASE = "fold/random-k4"
NET_CASE = "network/boolnet-k4-scaled"


def node(index: int, key: str, value):
    def change(graph):
        graph["nodes"][index][key] = value
    return change


def node_attr(index: int, key: str, value):
    def change(graph):
        graph["nodes"][index]["attrs"][key] = value
    return change


MALFORMED = {
    # npy files
    "truncated-npy": (OR_CASE, lambda c: rewrite_bytes(
        c / "inputs/x.npy", lambda b: b[:-2]), "data bytes"),
    "truncated-header": (OR_CASE, lambda c: rewrite_bytes(
        c / "inputs/x.npy", lambda b: b[:40]), "header"),
    "not-npy": (OR_CASE, lambda c: (c / "inputs/x.npy").write_text("hello"), "not an .npy"),
    "wrong-dtype-in-header": (OR_CASE, lambda c: rewrite_bytes(
        c / "inputs/x.npy", replace_in(b"'|u1'", b"'<f2'")), "dtype"),
    "non-utf8-dtype": (OR_CASE, lambda c: rewrite_bytes(
        c / "inputs/x.npy", replace_in(b"'|u1'", b"'\xd3\xff'")), "unsupported dtype '\\xd3"),
    "declared-dtype-mismatch": (OR_CASE, lambda c: rewrite_bytes(
        c / "inputs/x.npy", replace_in(b"'|u1'", b"'<i2'")), "data bytes"),
    "huge-shape": (OR_CASE, lambda c: rewrite_bytes(
        c / "inputs/x.npy", replace_in(b"(1, 1, 1, 1, 4)", b"(99999999999, 99999999999, 99)")),
        "overflow"),
    "huge-shape-no-overflow": (OR_CASE, lambda c: rewrite_bytes(
        c / "inputs/x.npy", replace_in(b"(1, 1, 1, 1, 4)", b"(65536, 65536, 4)    ")),
        "data bytes"),
    "fortran-order": (OR_CASE, lambda c: rewrite_bytes(
        c / "inputs/x.npy", replace_in(b"False", b"True ")), "fortran"),
    "header-length-beyond-file": (OR_CASE, lambda c: rewrite_bytes(
        c / "inputs/x.npy", lambda b: b[:8] + b"\xff\xff" + b[10:]), "exceeds the file"),
    "non-bit-value": (OR_CASE, lambda c: set_npy(
        c / "inputs/x.npy", lambda a: a.__setitem__((0, 0, 0, 0, 1), 7)), "ENC-5"),
    "missing-input-file": (OR_CASE, lambda c: (c / "inputs/r.npy").unlink(), "cannot open"),
    # desc.json
    "bad-json": (OR_CASE, lambda c: (c / "desc.json").write_text('{"kind": "op", '),
                 "malformed JSON"),
    "json-not-object": (OR_CASE, lambda c: (c / "desc.json").write_text("[1, 2]"),
                        "not a JSON object"),
    "deep-json": (OR_CASE, lambda c: (c / "desc.json").write_text("[" * 100000),
                  "nesting too deep"),
    "missing-desc": (OR_CASE, lambda c: (c / "desc.json").unlink(), "cannot open"),
    "missing-inputs-field": (OR_CASE, lambda c: edit_json(
        c / "desc.json", lambda d: d.pop("inputs")), "missing field 'inputs'"),
    "missing-function-field": (OR_CASE, lambda c: edit_json(
        c / "desc.json", lambda d: d.pop("function")), "missing field 'function'"),
    "input-path-escape": (OR_CASE, lambda c: edit_json(
        c / "desc.json", lambda d: d["inputs"]["x"].update(file="../../../etc/passwd")),
        "invalid name"),
    "declared-shape-mismatch": (OR_CASE, lambda c: edit_json(
        c / "desc.json", lambda d: d["inputs"]["x"].update(shape=[4])), "declared shape"),
    "attr-not-integer": (CONV_CASE, lambda c: edit_json(
        c / "desc.json", lambda d: d["attrs"].update(padding=1e300)), "not an integer"),
    "attr-out-of-range": (CONV_CASE, lambda c: edit_json(
        c / "desc.json", lambda d: d["attrs"].update(stride=0)), "outside"),
    "attr-wrong-type": (CONV_CASE, lambda c: edit_json(
        c / "desc.json", lambda d: d["attrs"].update(pad_mode=3)), "expected a string"),
    "unknown-pad-mode": (CONV_CASE, lambda c: edit_json(
        c / "desc.json", lambda d: d["attrs"].update(pad_mode="zero")), "PAD-3"),
    "conv-output-empty": (CONV_CASE, lambda c: edit_json(
        c / "desc.json", lambda d: d["attrs"].update(dilation=9)), "CONV-2"),
    "units-not-canonical": (UNITS_CASE, lambda c: set_npy(
        c / "inputs/threshold.npy", lambda a: a.__setitem__((0, 0), 1000)), "THR-4"),
    "units-n-missing": (UNITS_CASE, lambda c: edit_json(
        c / "desc.json", lambda d: d["objects"]["units"].pop("n")), "missing field 'n'"),
    "fold-nan": (FOLD_CASE, lambda c: set_npy(
        c / "inputs/bn.weight.npy", lambda a: a.__setitem__(0, np.nan)), "not finite"),
    "fold-var-negative": (FOLD_CASE, lambda c: set_npy(
        c / "inputs/bn.running_var.npy", lambda a: a.__setitem__(0, -1.0)), "BN-2"),
    "fold-alpha-zero": (FOLD_CASE, lambda c: set_npy(
        c / "inputs/alpha.npy", lambda a: a.__setitem__(0, 0.0)), "FOLD-1"),
    # model graph and arrays
    "graph-bad-json": (NET_CASE, lambda c: (c / "model/graph.json").write_text("{"),
                       "malformed JSON"),
    "graph-wrong-format": (NET_CASE, lambda c: edit_json(
        c / "model/graph.json", lambda g: g.update(format="zip")), "MODEL-2"),
    "graph-unknown-op": (NET_CASE, lambda c: edit_json(
        c / "model/graph.json", node(1, "op", "conv9")), "OPS-1"),
    "graph-undefined-input": (NET_CASE, lambda c: edit_json(
        c / "model/graph.json", node(2, "inputs", ["nope", "ghostbnsign"])), "NET-6"),
    "graph-wrong-arity": (NET_CASE, lambda c: edit_json(
        c / "model/graph.json", node(2, "inputs", ["ghostbnsign"])), "OPS-1"),
    "graph-redefined-output": (NET_CASE, lambda c: edit_json(
        c / "model/graph.json", node(2, "outputs", ["ghostbnsign"])), "already defined"),
    "graph-member-escape": (NET_CASE, lambda c: edit_json(
        c / "model/graph.json", node(1, "arrays", {"weight": "../../desc", "polarity": "x",
                                                    "threshold": "y"})), "invalid"),
    "graph-bad-groups": (NET_CASE, lambda c: edit_json(
        c / "model/graph.json", node_attr(1, "groups", 3)), "CONV-3"),
    "graph-huge-padding": (NET_CASE, lambda c: edit_json(
        c / "model/graph.json", node_attr(1, "padding", 65535)), "exceeds"),
    "graph-huge-dilation": (NET_CASE, lambda c: edit_json(
        c / "model/graph.json", node_attr(1, "dilation", 65535)), "CONV-2"),
    "graph-unused-array": (NET_CASE, lambda c: np.save(
        c / "model/arrays/extra.npy", np.zeros(3, np.float32)), "used by no node"),
    "graph-array-two-nodes": (NET_CASE, lambda c: edit_json(
        c / "model/graph.json", lambda g: g["nodes"][3]["arrays"].update(
            weight=g["nodes"][1]["arrays"]["weight"])), "used by nodes"),
    "graph-bad-read": (NET_CASE, lambda c: edit_json(
        c / "model/graph.json", node_attr(1, "read", "some")), "NET-3"),
    "graph-missing-array": (NET_CASE, lambda c: (
        c / "model/arrays/layer2.0.conv1.threshold.npy").unlink(), "cannot open"),
    "graph-non-canonical-unit": (NET_CASE, lambda c: set_npy(
        c / "model/arrays/layer1.0.conv1.threshold.npy",
        lambda a: a.__setitem__((0, 0), 1000)), "THR-4"),
    "graph-weight-not-bits": (NET_CASE, lambda c: set_npy(
        c / "model/arrays/layer1.0.conv1.weight.bits.npy",
        lambda a: a.__setitem__((0, 0, 0, 0), 2)), "ENC-5"),
    "graph-float-array-wrong-dtype": (NET_CASE, lambda c: np.save(
        c / "model/arrays/fc.bias.npy", np.zeros(10, np.float64)), "expected float32"),
    "image-nan": (NET_CASE, lambda c: set_npy(
        c / "inputs/images.npy", lambda a: a.__setitem__((0, 0, 0, 0), np.nan)), "not finite"),
    "image-wrong-size": (NET_CASE, lambda c: np.save(
        c / "inputs/images.npy", np.zeros((1, 3, 16, 16), np.float32)), "NET-7"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_input_is_a_clean_error(binaries, tmp_path, name):
    case_id, mutate, message = MALFORMED[name]
    case = copy_case(tmp_path, case_id)
    mutate(case)
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run([str(binaries["sanitize"]), str(case), str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert not any(marker in proc.stderr for marker in SANITIZER_MARKERS), proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("boolnet_c: error: "), proc.stderr
    assert message in lines[0], proc.stderr


def test_unknown_function_exits_77(binaries, tmp_path):
    case = copy_case(tmp_path, OR_CASE)
    edit_json(case / "desc.json", lambda d: d.update(function="teleport"))
    proc = subprocess.run([str(binaries["sanitize"]), str(case), str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 77, proc.stderr
    assert "not implemented" in proc.stderr


def test_usage_error(binaries):
    proc = subprocess.run([str(binaries["normal"])], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "usage" in proc.stderr


# ---------------------------------------------------------------- two blocks per stage


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "boolnet_spec", *args], capture_output=True,
                          text=True, timeout=600)


@pytest.mark.parametrize("config", ["boolnet-k4", "boolnet-star-k4"])
def test_kit_own_checkpoint_two_blocks_per_stage(binaries, tmp_path, config):
    """The shipped network cases have one block per stage: no split node, no dilation 2.
    Write a network case of a scaled two-block model with the kit's own generator
    (``vectors --config --state-dict --input``) and run it through the kit."""
    state_dict = tmp_path / "sd.npz"
    built = cli("build", f"--config={config}", "--random", "--seed=3", "--widths=8,16,32,64",
                "--blocks=2,2,2,2", "--image-size=32", "--classes=10",
                f"--export-state-dict={state_dict}", "-o", str(tmp_path / "model.bsm"))
    assert built.returncode == 0, built.stderr
    suite = tmp_path / "suite"
    for seed in range(16):
        # KIT-2: the generator refuses images whose stem values lie within the float bound of a
        # slice threshold; try the next seeded image then
        images = tmp_path / f"images{seed}.npy"
        np.save(images, np.random.default_rng(seed).standard_normal((1, 3, 32, 32))
                .astype(np.float32))
        written = cli("vectors", "-o", str(suite), f"--config={config}",
                      f"--state-dict={state_dict}", f"--input={images}")
        if written.returncode == 0:
            break
        assert "KIT-2" in written.stderr, written.stderr
        shutil.rmtree(suite, ignore_errors=True)
    else:
        pytest.fail("no seeded image is far enough from the slice thresholds (KIT-2)")
    graph = json.loads(next(suite.glob("network/*/model/graph.json")).read_text())
    assert any(node["op"] == "split" for node in graph["nodes"])
    if config == "boolnet-star-k4":
        assert any(node["attrs"].get("dilation") == 2 for node in graph["nodes"])
    report = conform(binaries["sanitize"], f"--suite-dir={suite}")
    assert report["summary"] == {**report["summary"], "passed": 1, "failed": 0, "not_run": 0}
    assert all(case["not_run"] == [] for case in report["cases"])
