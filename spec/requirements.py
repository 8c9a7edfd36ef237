"""Requirements: the labelled rules of the specification and the tests that cover them.

A requirement is stated once, in the docstring of the module that implements it, as a
``.. req:: LABEL`` directive (``LABEL`` is an upper-case chapter tag, a hyphen and a number, e.g.
``FOLD-3``). A test declares what it covers with ``@pytest.mark.req("FOLD-3", ...)`` on the test,
its class, or the module's ``pytestmark``. Both are read from the source files without importing
them, so the registry needs neither numpy nor torch nor z3.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LABEL_PATTERN", "ROOT", "SOURCE_PACKAGES", "Requirement", "coverage", "requirements"]

ROOT = Path(__file__).resolve().parent.parent
SOURCE_PACKAGES = ("reference", "spec", "equivalence")
LABEL_PATTERN = r"[A-Z]+-\d+"
_DIRECTIVE = re.compile(rf"^(?P<indent>[ \t]*)\.\. req:: (?P<label>{LABEL_PATTERN})[ \t]*$", re.M)


@dataclass(frozen=True)
class Requirement:
    label: str
    module: str
    text: str
    tests: list[str] = field(default_factory=list, compare=False)


def _module_name(path: Path, root: Path = ROOT) -> str:
    """The installed name: the chapter folders install under ``boolnet_spec``."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(("boolnet_spec", *(parts[:-1] if parts[-1] == "__init__" else parts)))


def _directive_text(docstring: str, match: re.Match) -> str:
    body = []
    for line in docstring[match.end():].splitlines()[1:]:
        if line.strip() and len(line) - len(line.lstrip()) <= len(match["indent"]):
            break
        body.append(line.strip())
    return " ".join(" ".join(body).split())


def requirements(root: Path = ROOT) -> dict[str, Requirement]:
    """Every requirement, by label, from the module docstrings of the source packages."""
    found: dict[str, Requirement] = {}
    for package in SOURCE_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")),
                                          clean=True) or ""
            for match in _DIRECTIVE.finditer(docstring):
                label = match["label"]
                if label in found:
                    raise ValueError(f"requirement {label} defined twice: in "
                                     f"{found[label].module} and {_module_name(path, root)}")
                found[label] = Requirement(label, _module_name(path, root),
                                           _directive_text(docstring, match))
    return found


def _req_labels(decorators: list[ast.expr]) -> list[str]:
    labels = []
    for node in decorators:
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "req"):
            labels += [arg.value for arg in node.args if isinstance(arg, ast.Constant)]
    return labels


def _module_marks(tree: ast.Module) -> list[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            value = node.value
            return _req_labels(value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value])
    return []


def coverage(root: Path = ROOT) -> dict[str, list[str]]:
    """Label -> test ids (``tests/file.py::Class::test``) that carry it."""
    covered: dict[str, list[str]] = {}

    def visit(body: list[ast.stmt], prefix: str, inherited: list[str]) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                visit(node.body, f"{prefix}::{node.name}",
                      inherited + _req_labels(node.decorator_list))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                    node.name.startswith("test"):
                for label in inherited + _req_labels(node.decorator_list):
                    covered.setdefault(label, []).append(f"{prefix}::{node.name}")

    for path in sorted((root / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        visit(tree.body, path.relative_to(root).as_posix(), _module_marks(tree))
    return covered
