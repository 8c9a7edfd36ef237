"""Sphinx extension: labelled requirements, links to them and their coverage table.

``.. req:: FOLD-3`` renders a requirement where autodoc puts the module docstring that states it,
with the anchor ``req-FOLD-3``. ``:req:`FOLD-3``` links to it from any page, and so does a label
that prose names in passing, "(THR-3)"; an unknown label given to ``:req:`` is a warning.
``.. requirements-table::`` lists every requirement of ``spec.requirements`` with its tests.

Traceability runs both ways: each rendered requirement ends in "Tested by N tests" (a link to its
row of the table, whose test names link to their source, :mod:`tests_source`) and "Proved by
PROOF-k" where a theorem of ``docs/proofs-report.json`` names it; a theorem names the requirements
it proves.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import ClassVar

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.domains import Domain, ObjType
from sphinx.roles import XRefRole
from sphinx.transforms import SphinxTransform
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import make_refnode
from tests_source import test_uri

from boolnet_spec.spec.requirements import LABEL_PATTERN, ROOT, Requirement, coverage, requirements

logger = logging.getLogger(__name__)

LABEL = re.compile(rf"\b{LABEL_PATTERN}\b")
# A first sentence shorter than this is a heading ("Ties.") and takes the next sentence with it.
SUMMARY_MIN_CHARS = 40


def anchor(label: str) -> str:
    return f"req-{label}"


def row_anchor(label: str) -> str:
    return f"row-{label}"


@cache
def cached_coverage() -> dict[str, list[str]]:
    return coverage()


@cache
def cached_requirements() -> dict[str, Requirement]:
    return requirements()


@cache
def proofs_of() -> dict[str, list[str]]:
    """Requirement label -> the theorems (``PROOF-k``) whose name says they prove it."""
    report = json.loads((ROOT / "docs" / "proofs-report.json").read_text(encoding="utf-8"))
    proved: dict[str, list[str]] = {}
    for theorem in report["theorems"]:
        for label in LABEL.findall(theorem["name"]):
            if not label.startswith("PROOF-"):
                proved.setdefault(label, []).append(theorem["id"])
    return proved


@cache
def proved_by_theorem() -> dict[str, list[str]]:
    """Theorem label -> the requirements it proves."""
    inverse: dict[str, list[str]] = {}
    for label, theorems in proofs_of().items():
        for theorem in theorems:
            inverse.setdefault(theorem, []).append(label)
    return inverse


class details(nodes.General, nodes.Element):
    """A collapsed list: HTML ``<details>`` with a ``<summary>``."""


def visit_details(self, node: details) -> None:
    self.body.append(self.starttag(node, "details", ""))
    self.body.append(f"<summary>{node['summary']}</summary>")


def depart_details(self, node: details) -> None:
    self.body.append("</details>")


def first_sentence(text: str) -> str:
    """The first sentence of a requirement's text, cut before a literal block (``::``)."""
    for end in re.finditer(r"\.\s|::", text):
        head = text[:end.start()] + (":" if end[0] == "::" else ".")
        # A period inside ``literal`` text or after e.g./i.e. does not end the sentence.
        if head.count("``") % 2 or head.endswith(("e.g.", "i.e.")):
            continue
        if end[0] == "::" or len(head) >= SUMMARY_MIN_CHARS:
            return head
    return text


def installed(module: str) -> str:
    """The import name of a module, whether the registry names it by its folder or installed."""
    return module if module.startswith("boolnet_spec.") else f"boolnet_spec.{module}"


def xref(domain: str, typ: str, target: str, docname: str, content: nodes.Node) -> pending_xref:
    return pending_xref("", content, refdomain=domain, reftype=typ, reftarget=target,
                        refdoc=docname, refwarn=True)


class RequirementDomain(Domain):
    """Where each requirement is rendered: ``data["docs"]`` maps label -> docname."""

    name = "req"
    label = "Requirements"
    object_types: ClassVar = {"req": ObjType("requirement", "req")}
    initial_data: ClassVar = {"docs": {}, "table": {}}
    dangling_warnings: ClassVar = {"req": "unknown requirement %(target)s"}

    @property
    def docs(self) -> dict[str, str]:
        return self.data["docs"]

    def note_requirement(self, label: str, docname: str, location: nodes.Node | None = None):
        if label in self.docs:
            logger.warning("requirement %s is already rendered in %s", label, self.docs[label],
                           location=location or docname)
        self.docs[label] = docname

    def clear_doc(self, docname: str) -> None:
        for label in [label for label, doc in self.docs.items() if doc == docname]:
            del self.docs[label]
        self.data["table"].pop(docname, None)

    def merge_domaindata(self, docnames: set[str], otherdata: dict) -> None:
        for label, doc in otherdata["docs"].items():
            if doc in docnames:
                self.note_requirement(label, doc)
        for doc in otherdata["table"]:
            if doc in docnames:
                self.data["table"][doc] = True

    def check_consistency(self) -> None:
        # The registry and the rendered text must name the same requirements.
        registry = requirements()
        for label in self.docs.keys() - registry.keys():
            logger.warning("requirement %s is rendered in %s but spec.requirements does not "
                           "find it in the sources", label, self.docs[label])
        for label in registry.keys() - self.docs.keys():
            logger.warning("requirement %s (%s) is rendered on no page", label,
                           registry[label].module)

    def resolve_xref(self, env, fromdocname, builder, typ, target, node, contnode):
        if typ == "chapter" and target in self.docs:
            # The chapter's title, not its module's name.
            docname = self.docs[target]
            title = env.titles[docname].astext()
            number = env.toc_secnumbers.get(docname, {}).get("")
            text = (".".join(map(str, number)) + ". " if number else "") + title
            return make_refnode(builder, fromdocname, docname, "", nodes.inline(text, text),
                                title)
        if typ == "row":
            tables = sorted(self.data["table"])
            if not tables:
                return None
            return make_refnode(builder, fromdocname, tables[0], row_anchor(target), contnode,
                                f"tests of {target}")
        if target in self.docs:
            return make_refnode(builder, fromdocname, self.docs[target], anchor(target),
                                contnode, f"requirement {target}")
        return None

    def resolve_any_xref(self, env, fromdocname, builder, target, node, contnode):
        found = self.resolve_xref(env, fromdocname, builder, "req", target, node, contnode)
        return [("req:req", found)] if found else []

    def get_objects(self):
        for label, doc in self.docs.items():
            yield label, label, "req", doc, anchor(label), 1


class RequirementRole(XRefRole):
    """``:req:`FOLD-3``` without a domain prefix, resolved by :class:`RequirementDomain`."""

    def run(self):
        self.name = "req:req"
        return super().run()


class RequirementDirective(SphinxDirective):
    """A requirement block headed by its label, the target of ``:req:``."""

    required_arguments = 1
    has_content = True

    def run(self) -> list[nodes.Node]:
        label = self.arguments[0]
        block = nodes.admonition(classes=["requirement"], ids=[anchor(label)])
        self.set_source_info(block)
        block += nodes.title("", "", nodes.reference(label, label, refid=anchor(label)))
        block += self.parse_content_to_nodes()
        self.env.domains["req"].note_requirement(label, self.env.docname, block)
        block += self.trace(label)
        return [block]

    def trace(self, label: str) -> nodes.paragraph:
        """"Tested by N tests", linked to the table's row, and "Proved by PROOF-k"."""
        tests = cached_coverage().get(label, [])
        for test_file in {test_id.partition("::")[0] for test_id in tests}:
            self.env.note_dependency(str(ROOT / test_file))
        line = nodes.paragraph(classes=["req-trace"])
        count = f"{len(tests)} test" + ("" if len(tests) == 1 else "s")
        line += nodes.Text("Tested by ")
        line += xref("req", "row", label, self.env.docname,
                     nodes.inline(count, count)) if tests else \
            nodes.strong(text="no test", classes=["uncovered"])
        for key, title in (("proved", "Proved by "), ("proves", "Proves ")):
            others = proofs_of().get(label, []) if key == "proved" else \
                proved_by_theorem().get(label, [])
            if others:
                line += nodes.Text("; " + title)
                for i, other in enumerate(others):
                    line += [nodes.Text(", ")] if i else []
                    line += xref("req", "req", other, self.env.docname,
                                 nodes.literal(other, other))
        line += nodes.Text(".")
        return line


class RequirementsTableDirective(SphinxDirective):
    """Every requirement of the registry: label, chapter, summary and covering tests."""

    def run(self) -> list[nodes.Node]:
        # Coverage comes from tests/, which Sphinx does not track: read this page on every build.
        self.env.note_reread()
        self.env.domains["req"].data["table"][self.env.docname] = True
        found, covering = cached_requirements(), cached_coverage()
        uncovered = sum(1 for label in found if not covering.get(label))
        count = nodes.paragraph(text=f"{len(found)} requirements, {len(found) - uncovered} covered")
        if uncovered:
            count += [nodes.Text(", "), nodes.strong(text=f"{uncovered} UNCOVERED",
                                                     classes=["uncovered"])]
        count += nodes.Text(".")

        body = nodes.tbody()
        for req in found.values():
            row = self.row([self.link("req", "req", req.label),
                            [nodes.paragraph("", "", xref("req", "chapter", req.label,
                                                          self.env.docname, nodes.inline()))],
                            self.summary(req), self.tests(covering.get(req.label, []))],
                           requirement=req.label)
            row["ids"] = [row_anchor(req.label)]
            body += row
        group = nodes.tgroup("", *(nodes.colspec(colwidth=w) for w in (10, 16, 40, 34)),
                             nodes.thead("", self.row(["Label", "Chapter", "Summary", "Tests"])),
                             body, cols=4)
        return [count, nodes.table("", group, classes=["requirements", "colwidths-given"])]

    def row(self, cells: list, **attributes) -> nodes.row:
        row = nodes.row(**attributes)
        for cell in cells:
            row += nodes.entry("", *cell) if isinstance(cell, list) else \
                nodes.entry("", nodes.paragraph(text=cell))
        return row

    def link(self, domain: str, typ: str, target: str) -> list[nodes.Node]:
        content = nodes.literal(text=target)
        return [nodes.paragraph("", "", xref(domain, typ, target, self.env.docname, content))]

    def summary(self, req: Requirement) -> list[nodes.Node]:
        # Docstrings name classes relative to their module (:class:`SpecError`).
        saved = self.env.ref_context.get("py:module")
        self.env.ref_context["py:module"] = installed(req.module)
        try:
            inline, messages = self.parse_inline(first_sentence(req.text))
        finally:
            self.env.ref_context["py:module"] = saved
        return [nodes.paragraph("", "", *inline), *messages]

    def tests(self, test_ids: list[str]) -> list[nodes.Node]:
        if not test_ids:
            return [nodes.paragraph("", "", nodes.strong(text="UNCOVERED", classes=["uncovered"]))]
        items = []
        for test_id in test_ids:
            path, _, name = test_id.partition("::")
            link = nodes.reference("", "", nodes.literal(text=name), internal=True,
                                   refuri=test_uri(test_id, self.env.docname),
                                   reftitle=test_id)
            items.append(nodes.list_item("", nodes.paragraph("", "", link,
                                                            nodes.Text(f" ({path})"))))
        listing = nodes.bullet_list("", *items, classes=["req-tests"])
        files = len({test_id.partition("::")[0] for test_id in test_ids})
        count = f"{len(test_ids)} test" + ("" if len(test_ids) == 1 else "s")
        if len(test_ids) <= 3:
            return [listing]
        summary = f"{count} in {files} file" + ("" if files == 1 else "s")
        return [details("", listing, summary=summary)]


class LinkLabels(SphinxTransform):
    """Link the labels that prose names in passing, "(THR-3)", to their requirement."""

    default_priority = 800
    # Running text only: not code, not titles, not the text of a link.
    prose = (nodes.paragraph, nodes.emphasis, nodes.strong, nodes.term)

    def apply(self, **kwargs) -> None:
        known = cached_requirements().keys()
        for text in list(self.document.findall(nodes.Text)):
            if type(text.parent) not in self.prose or not LABEL.search(text):
                continue
            parts, last = [], 0
            for match in LABEL.finditer(text):
                if match[0] in known:
                    parts += [nodes.Text(text[last:match.start()]),
                              xref("req", "req", match[0], self.env.docname,
                                   nodes.inline(match[0], match[0]))]
                    last = match.end()
            if parts:
                text.parent.replace(text, [*parts, nodes.Text(text[last:])])


class ReadingOrder(SphinxPostTransform):
    """Sort the table's rows in the order a reader meets the requirements.

    Where each requirement is rendered is known only after every page is read."""

    default_priority = 5  # before ReferencesResolver (10) resolves the rows' links

    def run(self, **kwargs) -> None:
        bodies = [body for body in self.document.findall(nodes.tbody)
                  if "requirements" in body.parent.parent["classes"]]
        if not bodies:
            return
        relations, order, doc = self.env.collect_relations(), [], self.config.root_doc
        while doc and doc not in order:
            order.append(doc)
            doc = relations.get(doc, (None, None, None))[2]
        rank = {doc: i for i, doc in enumerate(order)}
        # Labels stay in source order within a page: the domain notes them as they are read.
        docs = self.env.domains["req"].docs.items()
        position = {label: (rank.get(doc, len(rank)), i) for i, (label, doc) in enumerate(docs)}
        for body in bodies:
            body.children.sort(key=lambda row: position.get(row["requirement"], (len(rank), 0)))


def setup(app):
    app.add_node(details, html=(visit_details, depart_details))
    app.add_domain(RequirementDomain)
    app.add_role("req", RequirementRole(warn_dangling=True))
    app.add_directive("req", RequirementDirective)
    app.add_directive("requirements-table", RequirementsTableDirective)
    app.add_transform(LinkLabels)
    app.add_post_transform(ReadingOrder)
    return {"version": "1", "env_version": 1, "parallel_read_safe": True,
            "parallel_write_safe": True}
