"""The conformance kit (KIT-1 to KIT-9): the shipped suite, the comparison engine, both plug-in
protocols, the negative controls, the pytest plugin and the trace check."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from rst_blocks import code_blocks

from boolnet_spec.cli import main
from boolnet_spec.equivalence.conformance.adapters import CommandAdapter, PythonAdapter
from boolnet_spec.equivalence.conformance.case import load_suite
from boolnet_spec.equivalence.conformance.cli import shipped_suite
from boolnet_spec.equivalence.conformance.compare import compare_output
from boolnet_spec.equivalence.conformance.faulty import CONTROLS, control
from boolnet_spec.equivalence.conformance.implementations import reference
from boolnet_spec.equivalence.conformance.runner import read_xfails, run_case, run_suite
from boolnet_spec.equivalence.conformance.vectors import build_files
from boolnet_spec.reference.errors import FormatError, UsageError
from boolnet_spec.reference.ops import OP_NAMES

IMPL = "boolnet_spec.equivalence.conformance.implementations"
SUITE = load_suite(shipped_suite())


@pytest.fixture(scope="module")
def suite_copy(tmp_path_factory):
    target = tmp_path_factory.mktemp("suite") / "suite"
    shutil.copytree(shipped_suite(), target)
    return target


@pytest.mark.req("KIT-8", "KIT-1")
def test_the_shipped_suite_regenerates_byte_for_byte():
    files = build_files("all")
    on_disk = {path.relative_to(shipped_suite()).as_posix(): path.read_bytes()
               for path in shipped_suite().rglob("*") if path.is_file()
               and "__pycache__" not in path.parts}
    assert sorted(files) == sorted(on_disk)
    assert [name for name in files if files[name] != on_disk[name]] == []
    manifest = json.loads(files["MANIFEST.json"])
    assert all(hashlib.sha256(files[name]).hexdigest() == digest
               for name, digest in manifest["files"].items())


@pytest.mark.req("KIT-1")
def test_the_suite_covers_every_registry_op_and_the_breaking_points():
    ops = {case.op for case in SUITE.cases}
    covered = {"stem": "stem", "bconv": "bconv", "split": "channels", "xnor": "logic",
               "or": "logic", "shuffle": "channels", "head": "head"}
    assert set(covered) == set(OP_NAMES) and set(covered.values()) <= ops
    ids = {case.id for case in SUITE.cases}
    assert {"fold/tie-gamma-positive", "fold/tie-gamma-negative", "fold/gamma-zero",
            "fold/constant-channels", "fold/float32-near-tie", "fold/random-k1",
            "fold/random-k4", "bconv/n-max-all-agree-all-disagree", "weights/zero-weights",
            "logic/xnor-truth-table", "logic/or-truth-table", "maxpool/threshold-5x7",
            "padding/replicate-corners"} <= ids
    networks = [case for case in SUITE.cases if case.kind == "network"]
    assert len(networks) == 4
    for case in networks:
        for part in ("model.bsm", "model/graph.json", "inputs/images.npy"):
            assert (case.directory / part).is_file()
        assert any((case.directory / "state_dict").glob("*.npy"))
        assert len(list((case.directory / "model" / "arrays").glob("*.npy"))) > 0
    size = sum(p.stat().st_size for p in shipped_suite().rglob("*") if p.is_file())
    assert size <= 20 << 20


@pytest.mark.req("KIT-1")
def test_descriptors_and_manifest_follow_their_json_schemas():
    jsonschema = pytest.importorskip("jsonschema")
    schemas = Path(__file__).resolve().parent.parent / "equivalence" / "conformance" / "schemas"
    desc = json.loads((schemas / "desc.schema.json").read_text(encoding="utf-8"))
    manifest = json.loads((schemas / "manifest.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(json.loads((shipped_suite() / "MANIFEST.json").read_text()), manifest)
    for case in SUITE.cases:
        jsonschema.validate(json.loads((case.directory / "desc.json").read_text()), desc)


@pytest.mark.req("KIT-4", "KIT-3")
def test_the_reference_is_an_adapter_that_passes_every_case(capsys):
    assert main(["conform", "--impl", f"{IMPL}:reference", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["passed"] == len(SUITE.cases) and data["summary"]["failed"] == 0


@pytest.mark.req("KIT-4", "KIT-3")
@pytest.mark.parametrize("factory", ["datapath", "datapath_folded"])
def test_the_datapath_passes_every_network_case_and_runs_no_op_case(capsys, factory):
    assert main(["conform", "--impl", f"{IMPL}:{factory}", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["passed"] == 4 and data["summary"]["failed"] == 0
    assert data["summary"]["not_run"] == len(SUITE.cases) - 4
    network = [row for row in data["cases"] if row["op"] == "network"]
    assert all(row["not_run"] == [] for row in network)


@pytest.mark.equivalence
@pytest.mark.req("KIT-4", "KIT-2")
def test_our_pytorch_boolnet_passes_the_network_cases_within_the_float_bound(capsys):
    pytest.importorskip("torch")
    assert main(["conform", "--impl", f"{IMPL}:pytorch", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["passed"] == 4 and data["summary"]["failed"] == 0


@pytest.mark.req("KIT-4", "KIT-2", "KIT-3")
@pytest.mark.parametrize("name", sorted(CONTROLS))
def test_every_negative_control_is_detected_and_localised(name):
    results = run_suite(SUITE, PythonAdapter(control(name), name))
    failed = [result for result in results if result.outcome == "failed"]
    assert failed, f"the control {name} slipped through"
    assert {result.op for result in failed} <= set(CONTROLS[name][0])
    assert all(result.op in result.message() for result in failed)
    assert all(result.outcome != "not_run" for result in results if result.op != "network")


@pytest.mark.req("KIT-2")
def test_a_failure_names_the_op_labels_first_element_and_values():
    case = next(c for c in SUITE.cases if c.id == "logic/or-truth-table")
    result = run_case(case, PythonAdapter(control("or_as_xnor")))
    message = result.message()
    assert message.startswith("logic/or-truth-table (op logic, labels LOGIC-2): output out")
    assert "first at [0, 0, 0, 0, 0]: expected 0, got 1 (3 element(s) differ)" in message


@pytest.mark.req("KIT-2")
@pytest.mark.parametrize(("actual", "reason"), [
    (np.array([1, 2], np.int32), "dtype int32"),
    (np.array([1], np.int16), "shape [1]"),
    (np.array([1, 3], np.int16), "values differ: first at [1]: expected 2, got 3"),
    ([1, 2], "not an array"),
])
def test_exact_compare_has_no_tolerance(actual, reason):
    difference = compare_output(actual, np.array([1, 2], np.int16), "exact")
    assert reason in str(difference)
    assert compare_output(np.array([1, 2], np.int16), np.array([1, 2], np.int16),
                          "exact") is None
    near = compare_output(np.array([2001], np.int16), np.array([2000], np.int16), "exact")
    assert near is not None


@pytest.mark.req("KIT-2")
def test_bounded_compare_uses_the_stored_bound_and_rejects_non_finite():
    expected, bound = np.array([1.0, 2.0]), np.array([0.5, 0.0])
    assert compare_output(np.array([1.4, 2.0]), expected, "bounded", bound) is None
    assert "outside the stated bound" in str(compare_output(np.array([1.6, 2.0]), expected,
                                                            "bounded", bound))
    assert "not finite" in str(compare_output(np.array([np.nan, 2.0]), expected, "bounded",
                                              bound))


def command_impl(tmp_path: Path, body: str) -> str:
    script = tmp_path / "impl.py"
    script.write_text(textwrap.dedent(body), encoding="utf-8")
    return f"{sys.executable} {script} {{case}} {{out}}"


LOGIC_IMPL = """
    import json, sys
    import numpy as np
    case, out = sys.argv[1], sys.argv[2]
    desc = json.load(open(f"{case}/desc.json"))
    if desc["function"] not in ("logic_xnor", "logic_or"):
        sys.exit(77)
    x = np.load(f"{case}/inputs/x.npy"); r = np.load(f"{case}/inputs/r.npy")
    y = (x == r) if desc["function"] == "logic_xnor" else (x | r)
    np.save(f"{out}/out.npy", y.astype(np.uint8))
"""


@pytest.mark.req("KIT-5", "KIT-3")
def test_a_command_implementation_passes_what_it_implements(tmp_path, capsys):
    cases = ["logic/or-truth-table", "logic/xnor-truth-table", "fold/gamma-zero",
             "network/basenet-k1-scaled"]
    code = main(["conform", "--impl-cmd", command_impl(tmp_path, LOGIC_IMPL), "--json",
                 *(f"--case={case}" for case in cases)])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    passed = sorted(row["id"] for row in data["cases"] if row["outcome"] == "passed")
    assert passed == ["logic/or-truth-table", "logic/xnor-truth-table"]
    assert data["summary"]["not_run"] == 2
    assert data["labels"]["LOGIC-1"] == {"passed": 1, "failed": 0, "not_run": 0}


@pytest.mark.req("KIT-5", "KIT-3")
@pytest.mark.parametrize(("body", "reason"), [
    ("np.save(f'{out}/out.npy', y.astype(np.int16))", "dtype int16, expected uint8"),
    ("np.save(f'{out}/result.npy', y.astype(np.uint8))", "missing (not written)"),
    ("np.save(f'{out}/out.npy', y.astype(np.uint8)[..., :2])", "shape"),
    ("open(f'{out}/out.npy', 'wb').write(b'not an npy')", "unreadable"),
    ("import time; time.sleep(600)", "timed out"),
    ("sys.exit(3)", "exited 3"),
])
def test_a_broken_command_fails_that_case_with_its_reason_and_the_run_goes_on(tmp_path, body,
                                                                               reason):
    script = LOGIC_IMPL.replace(
        '    np.save(f"{out}/out.npy", y.astype(np.uint8))\n', f"    {body}\n")
    # Long enough for a loaded machine to start Python and numpy; the hang is ended at 5 s.
    adapter = CommandAdapter(command_impl(tmp_path, script), timeout=5 if "sleep" in body else 60)
    cases = [c for c in SUITE.cases if c.op == "logic"]
    results = [run_case(case, adapter) for case in cases]
    assert [r.outcome for r in results] == ["failed", "failed"]
    assert all(reason in r.message() or reason in r.reason for r in results)


@pytest.mark.req("KIT-5")
def test_packed_bits_in_the_datapath_layout_are_accepted(tmp_path):
    from boolnet_spec.equivalence.datapath.layout import pack_activations

    case = next(c for c in SUITE.cases if c.id == "network/boolnet-k4-scaled")
    body = """
        import sys, numpy as np
        from pathlib import Path
        case, out = Path(sys.argv[1]), sys.argv[2]
        for name in ("logits", "ghostbnsign"):
            np.save(f"{out}/{name}.npy", np.load(case / "packed" / f"{name}.npy"))
    """
    packed_case = tmp_path / "case"
    shutil.copytree(case.directory, packed_case)
    (packed_case / "packed").mkdir()
    np.save(packed_case / "packed" / "logits.npy", case.expected(case.outputs[-1]))
    bits = np.load(case.directory / "expected" / "ghostbnsign.npy")
    np.save(packed_case / "packed" / "ghostbnsign.npy", pack_activations(bits).words)
    from boolnet_spec.equivalence.conformance.case import Case

    result = run_case(Case.load(packed_case), CommandAdapter(command_impl(tmp_path, body),
                                                             packed=True))
    assert result.outcome == "passed", result.message()
    assert "ghostbnsign" not in result.not_run and "layer1.0" in result.not_run


@pytest.mark.req("KIT-1")
@pytest.mark.parametrize(("edit", "field"), [
    (lambda d: d.pop("labels"), "labels"),
    (lambda d: d.update(format="onnx"), "format"),
    (lambda d: d.update(id="No Slash"), "id"),
    (lambda d: d.update(args=["nowhere"]), "args"),
    (lambda d: d["outputs"]["out"].update(compare={"mode": "bounded"}), "outputs.out.compare"),
    (lambda d: d["outputs"]["out"].update(dtype="object"), "outputs.out.dtype"),
    (lambda d: d["outputs"]["out"].update(shape=[-1]), "outputs.out.shape"),
])
def test_a_malformed_descriptor_names_the_file_and_field(suite_copy, tmp_path, edit, field):
    from boolnet_spec.equivalence.conformance.case import Case

    case_dir = tmp_path / "case"
    shutil.copytree(suite_copy / "logic" / "or-truth-table", case_dir)
    desc = json.loads((case_dir / "desc.json").read_text())
    edit(desc)
    (case_dir / "desc.json").write_text(json.dumps(desc))
    with pytest.raises(FormatError, match=rf"desc.json field {field}.*\[KIT-1\]"):
        Case.load(case_dir)


@pytest.mark.req("KIT-1")
@pytest.mark.parametrize("damage", ["hash", "missing", "json", "escape"])
def test_a_damaged_suite_is_refused_naming_the_file(tmp_path, damage):
    suite = tmp_path / "suite"
    shutil.copytree(shipped_suite(), suite)
    manifest = json.loads((suite / "MANIFEST.json").read_text())
    if damage == "hash":
        target = suite / "logic" / "or-truth-table" / "expected" / "out.npy"
        data = bytearray(target.read_bytes())
        data[-1] ^= 1
        target.write_bytes(bytes(data))
        match = "logic/or-truth-table/expected/out.npy: expected sha256"
    elif damage == "missing":
        (suite / "fold" / "gamma-zero" / "desc.json").unlink()
        match = "fold/gamma-zero/desc.json: expected an existing file"
    elif damage == "json":
        (suite / "MANIFEST.json").write_text("{not json")
        match = "MANIFEST.json field \\(file\\): expected a JSON document"
    else:
        manifest["files"]["../outside"] = "0" * 64
        (suite / "MANIFEST.json").write_text(json.dumps(manifest))
        match = "files.../outside: expected a path inside the suite"
    with pytest.raises(FormatError, match=match):
        load_suite(suite)


@pytest.mark.req("KIT-6")
def test_xfail_files_name_cases_or_labels_and_nothing_else(tmp_path):
    path = tmp_path / "xfails.txt"
    path.write_text("# known\nlogic/or-truth-table\nFOLD-6  # the EEV tie\n\n")
    assert read_xfails(path, SUITE) == {"logic/or-truth-table", "FOLD-6"}
    path.write_text("logic/or-truth-table\nnot-a-case\n")
    with pytest.raises(FormatError, match=r"line 2: expected a case id or requirement label"):
        read_xfails(path, SUITE)


@pytest.mark.req("KIT-6")
def test_conform_exits_1_on_a_failure_and_0_when_it_is_an_expected_failure(tmp_path, capsys):
    assert main(["conform", "--impl", f"{IMPL.replace('implementations', 'faulty')}:or_as_xnor"]
                ) == 1
    assert "logic/or-truth-table" in capsys.readouterr().out
    xfails = tmp_path / "x.txt"
    xfails.write_text("LOGIC-2\n")
    assert main(["conform", "--impl", f"{IMPL.replace('implementations', 'faulty')}:or_as_xnor",
                 "--xfail", str(xfails)]) == 0
    xfails.write_text("LOGIC-1\n")
    assert main(["conform", "--impl", f"{IMPL}:reference", "--xfail", str(xfails)]) == 1


@pytest.mark.req("KIT-4")
def test_the_implementation_is_chosen_once(monkeypatch, capsys):
    monkeypatch.delenv("BOOLNET_SPEC_IMPL", raising=False)
    monkeypatch.delenv("BOOLNET_SPEC_IMPL_CMD", raising=False)
    assert main(["conform"]) == 2
    assert "exactly one implementation" in capsys.readouterr().err
    assert main(["conform", "--impl", "no.such.module:factory"]) == 2
    monkeypatch.setenv("BOOLNET_SPEC_IMPL", f"{IMPL}:reference")
    assert main(["conform", "--case", "fold/gamma-zero"]) == 0
    with pytest.raises(UsageError):
        CommandAdapter("./impl {case}")


@pytest.mark.req("KIT-2")
def test_dump_writes_inputs_expected_and_actual_outputs(tmp_path, capsys):
    dump = tmp_path / "dump"
    assert main(["conform", "--impl", f"{IMPL.replace('implementations', 'faulty')}:or_as_xnor",
                 "--case", "logic/or-truth-table", "--dump", str(dump)]) == 1
    assert (dump / "inputs" / "x.npy").is_file() and (dump / "expected" / "out.npy").is_file()
    with np.load(dump / "actual.npz") as actual:
        assert actual["out"].tolist() == [[[[[1, 0, 0, 1]]]]]


@pytest.mark.req("KIT-3", "KIT-6", "KIT-7")
def test_the_pytest_plugin_collects_one_test_per_case_and_writes_the_reports(tmp_path):
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    xfails = tmp_path / "xfails.txt"
    xfails.write_text("LOGIC-2\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "2",
         "--pyargs", "boolnet_spec.conformance", "-m", "op_logic or op_fold or op_network",
         f"--boolnet-impl={IMPL.replace('implementations', 'faulty')}:or_as_xnor",
         f"--boolnet-xfail={xfails}", f"--boolnet-report={report}", f"--junitxml={junit}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    data = json.loads(report.read_text())
    assert data["labels"]["LOGIC-2"] == {"passed": 0, "failed": 1, "not_run": 0}
    selected = [case for case in SUITE.cases if case.op in ("logic", "fold", "network")]
    assert data["summary"]["failed"] == 1 and data["summary"]["cases"] == len(selected)
    assert data["summary"]["not_run"] == 4 and data["summary"]["passed"] == len(selected) - 5
    jsonschema = pytest.importorskip("jsonschema")
    schema = Path(__file__).resolve().parent.parent / "equivalence" / "conformance" / "schemas"
    jsonschema.validate(data, json.loads((schema / "report.schema.json").read_text()))
    assert "logic/or-truth-table" in junit.read_text()
    # the JUnit XML stays plain xunit2: no warning, no result rows as testcase properties
    assert "boolnet_result" not in junit.read_text() and "PytestWarning" not in done.stdout
    strict = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--pyargs",
         "boolnet_spec.conformance", f"--boolnet-impl={IMPL}:reference",
         f"--boolnet-xfail={xfails}", "-m", "op_logic"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False)
    assert strict.returncode == 1 and "XPASS(strict)" in strict.stdout


@pytest.mark.req("KIT-9")
def test_check_trace_finds_the_first_wrong_node(tmp_path, capsys):
    case = next(c for c in SUITE.cases if c.id == "network/basenet-k4-scaled")
    expected = {o.name: case.expected(o) for o in case.outputs}
    images = case.directory / "inputs" / "images.npy"
    model = case.directory / "model.bsm"
    good = tmp_path / "good.npz"
    np.savez(good, **expected)
    assert main(["check-trace", str(model), "--input", str(images), "--trace", str(good),
                 "--json"]) == 0
    wrong = dict(expected)
    wrong["layer1.0.ghostsign1"] = wrong["layer1.0.ghostsign1"].copy()
    wrong["layer1.0.ghostsign1"][0, 0, 0, 0, 0] ^= 1
    bad = tmp_path / "bad.npz"
    np.savez(bad, **wrong)
    capsys.readouterr()
    assert main(["check-trace", str(model), "--input", str(images), "--trace", str(bad),
                 "--json"]) == 1
    first = json.loads(capsys.readouterr().out)["first_divergence"]
    assert (first["tensor"], first["index"]) == ("layer1.0.ghostsign1", [0, 0, 0, 0, 0])
    assert first["verdict"].startswith("this node is wrong")
    propagated = {k: v for k, v in wrong.items() if k != "ghostbnsign"}
    np.savez(bad, **propagated)
    assert main(["check-trace", str(model), "--input", str(images), "--trace", str(bad),
                 "--json"]) == 1
    first = json.loads(capsys.readouterr().out)["first_divergence"]
    assert first["verdict"].startswith("cannot tell: the trace lacks the node's input")


@pytest.mark.req("FOLD-1")
def test_fold_batch_folds_every_row_like_the_single_command(tmp_path, capsys):
    rows = tmp_path / "in.csv"
    rows.write_text('gamma,beta,mean,var,n,slices,offsets\n-0.75,0.1,2,4,576,4,\n'
                    '1,0,3,1,9,,"0,0.5"\n0,0.5,1,1,9,,\n')
    out = tmp_path / "out.csv"
    assert main(["fold", "--batch", str(rows), "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "row,slice,offset,n,polarity,threshold,cmp" and len(lines) == 8
    capsys.readouterr()
    assert main(["fold", "--gamma=1", "--beta=0", "--mean=3", "--var=1", "--n=9",
                 "--offsets=0,0.5", "--json"]) == 0
    single = json.loads(capsys.readouterr().out)["slices"]
    batch = [line.split(",") for line in lines[5:7]]
    assert [(row["cmp"], row["t"]) for row in single] == [(b[6], int(b[5])) for b in batch]
    rows.write_text("gamma,beta,mean,var,n\n1,0,3,1,99999999\n")
    assert main(["fold", "--batch", str(rows), "-o", str(tmp_path / "x.csv")]) == 2
    assert "row 1 column n" in capsys.readouterr().err and not (tmp_path / "x.csv").exists()
    assert main(["fold", "--batch", str(rows), "--gamma=1", "-o", str(out)]) == 2


def test_the_adoption_guide_snippets_run(tmp_path):
    guide = (Path(__file__).resolve().parent.parent / "docs" / "conformance.rst").read_text()
    adapter, command = code_blocks(guide, "python")
    module = tmp_path / "my_boolnet.py"
    module.write_text(adapter, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    logic = ["--case=logic/or-truth-table", "--case=logic/xnor-truth-table",
             "--case=fold/gamma-zero"]
    done = subprocess.run([sys.executable, "-m", "boolnet_spec", "conform",
                           "--impl", "my_boolnet:factory", "--json", *logic], env=env,
                          cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["passed"] >= 2
    script = tmp_path / "impl.py"
    script.write_text(command, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "boolnet_spec", "conform", "--impl-cmd",
                           f"{sys.executable} {script} {{case}} {{out}}", "--json", *logic],
                          cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["passed"] >= 2


@pytest.mark.req("KIT-1", "KIT-2")
def test_vectors_of_their_own_checkpoint_leave_out_images_a_float_could_flip(tmp_path, capsys):
    data = Path(__file__).resolve().parent.parent / "equivalence" / "pytorch" / "data"
    out = tmp_path / "theirs"
    assert main(["vectors", "-o", str(out), "--config=boolnet-k4",
                 f"--state-dict={data / 'boolnet-digits.safetensors'}",
                 f"--input={data / 'digits-samples.npy'}"]) == 0
    assert "left out image(s)" in capsys.readouterr().err
    suite = load_suite(out)
    (case,) = suite.cases
    assert case.id == "network/boolnet-k4-scaled-yours" and case.array("images").shape[0] >= 1
    assert run_case(case, PythonAdapter(reference())).outcome == "passed"
    assert main(["vectors", "-o", str(out), "--suite=ops"]) == 2
    assert main(["vectors", "-o", str(tmp_path / "x"), "--config=boolnet-k4"]) == 2
