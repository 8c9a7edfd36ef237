"""The specification's version, status and date, and how to cite it: one place for every page.

The version is :data:`boolnet_spec.reference.SPEC_VERSION`; the status and the date of this
version are here and in :doc:`changelog`. ``|spec_status|`` and ``|spec_date|`` substitute them
in any page, and ``|paper|`` and ``|authors_commit|`` the paper and the authors' code followed.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

SPEC_STATUS = "draft"
SPEC_DATE = "2026-12-02"
COPYRIGHT = "2026, the boolnet-spec authors (MIT licence)"
PAPER = ("Nianhui Guo, Joseph Bethge, Haojin Yang, Kai Zhong, Xuefei Ning, Christoph Meinel and "
         "Yu Wang. BoolNet: Minimizing the Energy Consumption of Binary Neural Networks. "
         "arXiv:2106.06991, 2021.")
AUTHORS_REPOSITORY = "hpi-xnor/BoolNet"
AUTHORS_COMMIT = "2231bd0da9b0115c3a9c0da321c47a514da578a3"

PROLOG = f"""
.. |spec_status| replace:: {SPEC_STATUS}
.. |spec_date| replace:: {SPEC_DATE}
.. |paper| replace:: {PAPER}
.. |authors_repository| replace:: ``{AUTHORS_REPOSITORY}``
.. |authors_commit| replace:: ``{AUTHORS_COMMIT}``
"""


class NormativeNote(SphinxDirective):
    """The line under a chapter's title that says which of its parts are normative."""

    def run(self):
        text = ("Normative: this chapter's text up to its first section marked informative, and "
                "every labelled requirement. Sections marked (informative) explain, illustrate "
                "or document the Python API; they add no requirement.")
        return [nodes.paragraph(text, text, classes=["normative-note"])]


def add_prolog(app, config) -> None:
    config.rst_prolog = (config.rst_prolog or "") + PROLOG


def setup(app):
    app.connect("config-inited", add_prolog)
    app.add_directive("normative-note", NormativeNote)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
