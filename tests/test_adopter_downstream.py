"""The adoption guide's project template (docs/conformance.rst, "Install and run"), run as an
adopter runs it: a new project holds the C implementation of equivalence/c and the guide's very
``tox.ini``; ``tox -e equivalence`` installs the wheel built from this checkout (no torch) and
runs the kit through the command protocol. Every default case passes; the same project with one
threshold bit flipped in its C source fails, and the output names the case and its op."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from rst_blocks import code_blocks

from boolnet_spec.equivalence.conformance.case import load_suite
from boolnet_spec.equivalence.conformance.cli import shipped_suite
from boolnet_spec.reference import SPEC_VERSION

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "conformance.rst"
C_DIR = ROOT / "equivalence" / "c"
SUITE = load_suite(shipped_suite())
# bit 1, not bit 0: thresholds share the parity of s (THR-2), so t ^ 1 may compare like t
FLIP = ("int16_t t = thr[j * C + c];",
        "int16_t t = (int16_t)(thr[j * C + c] ^ (j + c == 0 ? 2 : 0));")
TOX_MIN = (4, 20)

pytestmark = [
    pytest.mark.skipif(not os.environ.get("CI") and not os.environ.get("BOOLNET_DOWNSTREAM"),
                       reason="builds a wheel, a tox env and a C program (~40 s): runs under "
                              "CI=true or BOOLNET_DOWNSTREAM=1"),
    pytest.mark.req("KIT-3", "KIT-5", "KIT-6", "KIT-7"),
]


def template(language: str, first_line: str) -> str:
    """The one code block of the guide in ``language`` that starts with ``first_line``."""
    (block,) = [b for b in code_blocks(GUIDE.read_text(encoding="utf-8"), language)
                if b.startswith(first_line)]
    return block


def tox_version(argv: list[str]) -> tuple[int, ...] | None:
    try:
        probe = subprocess.run([*argv, "--version"], capture_output=True, text=True, timeout=60,
                               check=False)
    except OSError:
        return None
    found = re.match(r"(\d+)\.(\d+)", probe.stdout.strip())
    return tuple(map(int, found.groups())) if probe.returncode == 0 and found else None


@pytest.fixture(scope="module")
def tox(tmp_path_factory) -> list[str]:
    """A tox >= 4.20: this interpreter's, the one on PATH, or one installed into a fresh venv."""
    on_path = shutil.which("tox")
    for argv in ([sys.executable, "-m", "tox"], [on_path] if on_path else None):
        if argv and (tox_version(argv) or (0,)) >= TOX_MIN:
            return argv
    venv = tmp_path_factory.mktemp("tox-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                    "--disable-pip-version-check", f"tox>={'.'.join(map(str, TOX_MIN))}"],
                   check=True, timeout=600)
    argv = [str(venv / "bin" / "tox")]
    assert (tox_version(argv) or (0,)) >= TOX_MIN
    return argv


def write_project(project: Path) -> None:
    """The guide's layout: its tox.ini, a constraints file pinning this spec version, an xfail
    file with no entries, and the C sources with their Makefile."""
    layout = template("text", "your-project/")
    project.mkdir()
    indented = "".join(f"   {line}" for line in layout.splitlines(True))
    (project / "README.rst").write_text(f"Our BoolNet\n===========\n\n::\n\n{indented}",
                                        encoding="utf-8")
    (project / "tox.ini").write_text(template("ini", "[tox]"), encoding="utf-8")
    (project / "constraints.txt").write_text(
        f"boolnet-spec=={SPEC_VERSION}\n" + (ROOT / "constraints.txt").read_text(),
        encoding="utf-8")
    (project / "boolnet-xfails.txt").write_text("# none: we pass every case\n", encoding="utf-8")
    shutil.copytree(C_DIR / "src", project / "src")
    shutil.copy(C_DIR / "Makefile", project / "Makefile")
    named = [name for line in layout.splitlines()[1:]
             for name in re.split(r"\s{2,}", line.strip())[0].split(", ")]
    assert len(named) == 5 and all((project / name).exists() for name in named), named


def flip_a_threshold_bit(project: Path) -> None:
    """XOR bit 1 into the threshold of unit (slice 0, channel 0) in threshold_slices."""
    ops = project / "src" / "ops.c"
    text = ops.read_text(encoding="utf-8")
    at = text.index(FLIP[0], text.index("tensor *threshold_slices("))
    ops.write_text(text[:at] + FLIP[1] + text[at + len(FLIP[0]):], encoding="utf-8")


def run_tox(tox: list[str], project: Path, wheel: Path) -> subprocess.CompletedProcess:
    # an outer tox or venv must not leak into the adopter's: its TOX_* settings, its constraints
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "TOX_", "_TOX", "VIRTUAL_ENV", "BOOLNET_SPEC_"))
           and k != "PIP_CONSTRAINT"}
    env["PIP_FIND_LINKS"] = " ".join(filter(None, [os.environ.get("PIP_FIND_LINKS"),
                                                    str(wheel.parent)]))
    return subprocess.run([*tox, "-e", "equivalence"], cwd=project, env=env, capture_output=True,
                          text=True, timeout=900, check=False)


def results(project: Path) -> tuple[dict, ElementTree.Element]:
    tmp = project / ".tox" / "equivalence" / "tmp"
    report = json.loads((tmp / "boolnet-report.json").read_text())
    junit = ElementTree.parse(tmp / "boolnet-junit.xml").getroot()
    return report, junit.find("testsuite") if junit.tag == "testsuites" else junit


def junit_ids(suite: ElementTree.Element, outcome: str) -> set[str]:
    return {re.fullmatch(r"test_case\[(.+)\]", case.get("name")).group(1)
            for case in suite.iter("testcase") if case.find(outcome) is not None}


def env_distributions(project: Path) -> dict[str, str]:
    python = project / ".tox" / "equivalence" / "bin" / "python"
    listed = subprocess.run([str(python), "-c", "import importlib.metadata as m, json; print("
                             "json.dumps({d.metadata['Name'].lower(): d.read_text('RECORD') "
                             "for d in m.distributions()}))"],
                            capture_output=True, text=True, timeout=120, check=True)
    return json.loads(listed.stdout)


def unit_bits(s: np.ndarray, polarity: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """THR-1 by one comparison per unit, the oracle of which threshold cases the flip shows in."""
    s = s.astype(np.int64)[:, None]
    t = threshold.astype(np.int64)[None, :, :, None, None]
    return np.where(polarity[None, :, :, None, None] == 1, s >= t, s <= t).astype(np.uint8)


def cases_the_flip_shows_in() -> set[str]:
    shown = set()
    for case in SUITE.cases:
        if case.function != "threshold_slices":
            continue
        s, polarity, threshold = (case.array(name) for name in ("s", "polarity", "threshold"))
        expected = np.load(case.directory / "expected" / "out.npy")
        assert np.array_equal(unit_bits(s, polarity, threshold), expected), case.id
        flipped = threshold.copy()
        flipped[0, 0] ^= 2
        if not np.array_equal(unit_bits(s, polarity, flipped), expected):
            shown.add(case.id)
    return shown


def test_the_guides_template_passes_the_c_implementation_and_fails_a_flipped_bit(
        tmp_path, boolnet_wheel, tox):
    if shutil.which("make") is None or shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.fail("the downstream template builds C: install make and a C compiler")
    project = tmp_path / "our-boolnet"
    write_project(project)
    ids = sorted(case.id for case in SUITE.cases)

    passed = run_tox(tox, project, boolnet_wheel)
    assert passed.returncode == 0, passed.stdout[-4000:] + passed.stderr[-2000:]
    assert "Warning" not in passed.stdout, passed.stdout[-4000:]
    report, junit = results(project)
    assert report["summary"] == {"passed": len(ids), "failed": 0, "not_run": 0,
                                 "cases": len(ids), "ok": True}
    assert sorted(row["id"] for row in report["cases"]) == ids
    assert report["spec_version"] == SPEC_VERSION
    assert junit.get("tests") == str(len(ids)) == "41"
    assert (junit.get("failures"), junit.get("errors"), junit.get("skipped")) == ("0", "0", "0")
    installed = env_distributions(project)
    assert {"torch", "z3-solver"}.isdisjoint(installed), sorted(installed)
    with zipfile.ZipFile(boolnet_wheel) as wheel:
        (record,) = [n for n in wheel.namelist() if n.endswith(".dist-info/RECORD")]
        ours = [line for line in wheel.read(record).decode().splitlines()
                if line.startswith("boolnet_spec/")]
    # the env's boolnet-spec is this checkout's wheel: the same files with the same hashes
    assert ours and set(ours) <= set(installed["boolnet-spec"].splitlines())

    flip_a_threshold_bit(project)
    failed = run_tox(tox, project, boolnet_wheel)
    assert failed.returncode != 0, failed.stdout[-4000:]
    report, junit = results(project)
    by_id = {row["id"]: row for row in report["cases"]}
    failing = {row["id"] for row in report["cases"] if row["outcome"] == "failed"}
    assert junit_ids(junit, "failure") == failing
    threshold_op = {case.op for case in SUITE.cases
                    if case.function == "threshold_slices"}
    assert threshold_op == {"threshold"}
    expected_threshold = cases_the_flip_shows_in()
    assert expected_threshold, "the flipped unit changes no bit of any threshold case"
    assert {i for i in failing if by_id[i]["op"] == "threshold"} == expected_threshold
    # threshold_slices serves the threshold cases and every network's layers, nothing else
    assert {by_id[i]["op"] for i in failing} <= {"threshold", "network"}
    for case_id in expected_threshold:
        assert f"{case_id} (op threshold, labels " in failed.stdout, failed.stdout[-4000:]
        assert "FAILED " in failed.stdout and f"test_case[{case_id}]" in failed.stdout
    assert report["summary"]["failed"] == len(failing) and not report["summary"]["ok"]
