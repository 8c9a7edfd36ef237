"""Sphinx extension: the status table of the theorems, from the committed proof report.

``.. proofs-status::`` renders ``docs/proofs-report.json`` (written by
``boolnet-spec prove --json``; ``tests/test_theorems.py`` proves every theorem again and checks the
report against the registry) as a table: label, theorem, how z3 proves it, status and seconds. A
theorem of :mod:`boolnet_spec.spec.theorems` missing from the report, or a report row that is not
proved, is a warning, so the ``-W`` build fails on a stale report.
"""

from __future__ import annotations

import json
from pathlib import Path

from docutils import nodes
from requirements_ext import xref
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

REPORT = "proofs-report.json"


class ProofsStatusDirective(SphinxDirective):
    """The theorems of the proof report with their status."""

    def run(self) -> list[nodes.Node]:
        from boolnet_spec.spec.theorems import THEOREMS

        path = Path(self.env.srcdir) / REPORT
        self.env.note_dependency(str(path))
        rows = json.loads(path.read_text(encoding="utf-8"))["theorems"]
        reported = {row["id"] for row in rows}
        for label in THEOREMS.keys() - reported:
            logger.warning("theorem %s is missing from %s: regenerate it with "
                           "`boolnet-spec prove --json > docs/%s`", label, REPORT, REPORT,
                           location=self.get_location())
        proved = sum(row["status"] == "proved" for row in rows)
        total = sum(row["seconds"] for row in rows)
        summary = nodes.paragraph(text=f"{proved} of {len(rows)} theorems proved, "
                                       f"{total:.1f} s in all when the report was written.")
        body = nodes.tbody()
        for row in rows:
            if row["status"] != "proved":
                logger.warning("theorem %s is %s in %s", row["id"], row["status"], REPORT,
                               location=self.get_location())
            theorem = THEOREMS.get(row["id"])
            label = nodes.paragraph("", "", xref("req", "req", row["id"], self.env.docname,
                                                 nodes.literal(text=row["id"])))
            proof, messages = self.parse_inline(" ".join((theorem.proof if theorem else "")
                                                         .split()))
            body += self.row([[label], row["name"], [nodes.paragraph("", "", *proof), *messages],
                              row["status"], f"{row['seconds']:.2f}"])
        head = nodes.thead("", self.row(["Label", "Theorem", "Proved by", "Status", "Seconds"]))
        group = nodes.tgroup("", *(nodes.colspec(colwidth=w) for w in (10, 35, 35, 10, 10)),
                             head, body, cols=5)
        return [summary, nodes.table("", group, classes=["proofs", "colwidths-auto"])]

    @staticmethod
    def row(cells: list) -> nodes.row:
        row = nodes.row()
        for cell in cells:
            row += nodes.entry("", *cell) if isinstance(cell, list) else \
                nodes.entry("", nodes.paragraph(text=cell))
        return row


def setup(app):
    app.add_directive("proofs-status", ProofsStatusDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
