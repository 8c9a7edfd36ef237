"""The test suite's source, rendered beside the specification, so a test name is a link.

Every ``tests/**/test_*.py`` becomes the page ``_tests/<path>`` (as ``sphinx.ext.viewcode`` does for
modules), highlighted, with an anchor at each test: a test id ``tests/test_fold.py::TestX::test_y``
links to ``_tests/tests/test_fold.html#TestX.test_y`` (:func:`test_target`).
"""

from __future__ import annotations

import ast
import html
import posixpath
from functools import cache
from pathlib import Path

from boolnet_spec.spec.requirements import ROOT

PAGES = "_tests"


def test_target(test_id: str) -> tuple[str, str]:
    """The page name and anchor of a test id ``path::Class::name``."""
    path, _, name = test_id.partition("::")
    return posixpath.join(PAGES, path.removesuffix(".py")), name.replace("::", ".")


def test_uri(test_id: str, from_docname: str) -> str:
    """The relative HTML address of a test from the page ``from_docname``."""
    page, anchor = test_target(test_id)
    return "../" * from_docname.count("/") + f"{page}.html#{anchor}"


@cache
def test_files() -> tuple[Path, ...]:
    return tuple(sorted((ROOT / "tests").rglob("test_*.py")))


def _test_lines(tree: ast.Module) -> dict[str, tuple[int, int]]:
    """Anchor -> first and last line (1-based, decorators included) of every test."""
    found = {}

    def visit(body, prefix):
        for node in body:
            if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                    node.name.startswith("test"):
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                found[prefix + node.name] = (first, node.end_lineno or node.lineno)

    visit(tree.body, "")
    return found


def collect_pages(app):
    if app.builder.format != "html":
        return
    highlighter = app.builder.highlighter
    for path in test_files():
        relative = path.relative_to(ROOT).as_posix()
        code = path.read_text(encoding="utf-8")
        lines = highlighter.highlight_block(code, "python", linenos="inline").splitlines()
        before, after = lines[0].split("<pre>", 1)
        lines[0:1] = [before + "<pre>", after]
        for anchor, (first, _last) in _test_lines(ast.parse(code)).items():
            lines[first] = f'<span class="test-source" id="{html.escape(anchor)}"></span>' + \
                lines[first]
        pagename = posixpath.join(PAGES, relative.removesuffix(".py"))
        index = app.builder.get_relative_uri(pagename, "requirements")
        body = (f"<h1>Test source: <code>{html.escape(relative)}</code></h1>\n"
                f'<p>The tests of this file and the requirements they cover are listed in the '
                f'<a href="{index}">requirements table</a>. Informative.</p>\n' + "\n".join(lines))
        yield pagename, {"title": relative, "body": body}, "page.html"


def setup(app):
    app.connect("html-collect-pages", collect_pages)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
