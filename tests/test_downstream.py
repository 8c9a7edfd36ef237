"""A downstream project installs the built wheel and keeps its own ``spec`` and ``reference``
packages (issue 9's acceptance): nothing of ours attaches to theirs, and theirs stay untouched."""

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

THEIR_FILES = {
    "spec/__init__.py": "NAME = 'their spec'\n",
    "spec/prove_cli.py": "raise ImportError('their spec.prove_cli must never be imported')\n",
    "reference/__init__.py": "NAME = 'their reference'\n",
    "reference/cli.py": "def main():\n    return 'their cli'\n",
    "tests/test_theirs.py": textwrap.dedent("""\
        import reference
        import spec
        from reference.cli import main

        import boolnet_spec.spec.variants
        from boolnet_spec.reference.fold import fold_bn_sign


        def test_both_projects_import_side_by_side():
            assert (spec.NAME, reference.NAME, main()) == ("their spec", "their reference",
                                                           "their cli")
            assert boolnet_spec.spec.variants.__name__ == "boolnet_spec.spec.variants"
            assert fold_bn_sign.__module__ == "boolnet_spec.reference.fold"
        """),
    "variants/helper.py": "def shifted(s, p):\n    return p.g * s + p.b\n",
    "variants/mine.py": textwrap.dedent("""\
        from helper import shifted

        from boolnet_spec.spec.variants import Fold, Param, Variant, ceil, floor, where

        V = Variant("sibling-helper", [Param("g", nonzero=True), Param("b")], shifted,
                    claimed_fold=Fold(direction=lambda p: p.g,
                                      threshold=lambda p: where(p.g > 0, ceil(-p.b / p.g),
                                                                floor(-p.b / p.g)),
                                      name="affine"))
        """),
}


def digest(project: Path) -> dict[str, str]:
    return {str(p.relative_to(project)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(project.rglob("*")) if p.is_file() and "__pycache__" not in p.parts
            and ".pytest_cache" not in p.parts}


@pytest.mark.skipif(not os.environ.get("CI") and not os.environ.get("BOOLNET_DOWNSTREAM"),
                    reason="builds a wheel and a venv (~40 s): runs under CI=true or "
                           "BOOLNET_DOWNSTREAM=1")
def test_a_downstream_project_with_its_own_spec_package_installs_the_wheel(tmp_path,
                                                                           boolnet_wheel):
    wheel = boolnet_wheel
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-c", str(ROOT / "constraints.txt"), f"{wheel}[proofs,test]"],
                   check=True, timeout=600)
    project = tmp_path / "their-project"
    for name, text in THEIR_FILES.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text, encoding="utf-8")
    before = digest(project)

    def run(*argv: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        return subprocess.run([*argv], cwd=project, capture_output=True, text=True, timeout=300,
                              check=False, env=env)

    theirs = run(str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests")
    assert theirs.returncode == 0, theirs.stdout + theirs.stderr
    fold = run(str(venv / "bin" / "boolnet-spec"), "fold", "--gamma=-0.75", "--beta=0.1",
               "--mean=2", "--var=4", "--n=9", "--json")
    assert fold.returncode == 0, fold.stderr
    assert json.loads(fold.stdout)["n"] == 9
    helped = run(str(python), "-m", "boolnet_spec", "--help")
    assert helped.returncode == 0 and "prove" in helped.stdout
    proved = run(str(venv / "bin" / "boolnet-spec"), "prove", "--variant=variants/mine.py:V",
                 "--json")
    assert proved.returncode == 0, proved.stdout + proved.stderr
    assert json.loads(proved.stdout)["status"] == "proved"
    assert digest(project) == before
    installed = run(str(python), "-c", "import importlib.metadata as m, json; "
                    "d = m.distribution('boolnet-spec'); print(json.dumps(["
                    "d.read_text('top_level.txt').split(), "
                    "sorted({f.parts[0] for f in d.files if f.suffix == '.py'})]))")
    top_level, roots = json.loads(installed.stdout)
    assert (top_level, roots) == (["boolnet_spec"], ["boolnet_spec"])
