"""The informative Python API of a chapter, apart from its normative text.

A chapter renders its module's docstring (the normative text) with ``.. automodule:: M`` and
``:no-index:``, and under its own heading "Python API (informative)" ``.. python-api:: M``: the
module's members as ``automodule`` documents them, without the docstring a second time. So the
API never runs on from the normative text without a heading, and ``:mod:`M``` links to the API.
"""

from __future__ import annotations

import inspect
import re

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.pycode import ModuleAnalyzer, PycodeError
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

API_ONLY = "python_api_module"


class PythonApiDirective(SphinxDirective):
    """``.. python-api:: module``: ``automodule`` with members and without the docstring."""

    required_arguments = 1
    option_spec = {  # noqa: RUF012 (docutils' interface)
        "members": directives.unchanged,
        "special-members": directives.unchanged,
        "show-inheritance": directives.flag,
    }

    def run(self):
        name = self.arguments[0]
        members = " ".join(self.options.get("members", "").split())
        lines = [f".. automodule:: {name}", f"   :members: {members}".rstrip()]
        if "special-members" in self.options:
            lines.append(f"   :special-members: {self.options['special-members']}")
        if "show-inheritance" in self.options:
            lines.append("   :show-inheritance:")
        node = nodes.container(classes=["python-api"])
        self.env.temp_data[API_ONLY] = name
        try:
            nested_parse_with_titles(self.state, StringList(lines, self.get_source_info()[0]),
                                     node)
        finally:
            self.env.temp_data.pop(API_ONLY, None)
        return [node]


def drop_module_docstring(app, what, name, obj, options, lines) -> None:
    if what == "module" and app.env.temp_data.get(API_ONLY) == name:
        lines.clear()


def skip_undocumented_data(app, what, name, obj, skip, options):
    """Module data without a doc comment (``#:``) would show its type's docstring: skip it."""
    module = app.env.temp_data.get(API_ONLY)
    if skip or what != "module" or module is None or callable(obj) or inspect.ismodule(obj):
        return None
    try:
        documented = ModuleAnalyzer.for_module(module).find_attr_docs()
    except PycodeError:
        return None
    return None if ("", name) in documented else True


QUALIFIED = re.compile(r"~?\bboolnet_spec\.(?:\w+\.)*(\w+)")


def clean_signature(app, what, name, obj, options, signature, return_annotation):
    """A signature Sphinx could not parse is shown as text: drop its ``~module.`` prefixes and
    the ``<factory>`` of dataclass fields, which would read as Python artefacts."""
    if not signature or "<factory>" not in signature:
        return None
    signature = QUALIFIED.sub(lambda m: m[1], signature.replace("<factory>", "..."))
    return signature.replace("~", ""), return_annotation


def setup(app):
    app.add_directive("python-api", PythonApiDirective)
    app.connect("autodoc-process-signature", clean_signature)
    app.connect("autodoc-skip-member", skip_undocumented_data)
    app.connect("autodoc-process-docstring", drop_module_docstring)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
