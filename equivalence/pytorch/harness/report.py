"""The report of a comparison (HARNESS-6): counts per class per tensor, and the first
disagreements."""

from __future__ import annotations

from dataclasses import dataclass, field

CLASSES = ("equal", "ternary", "float_ambiguous", "mismatch")


@dataclass
class Row:
    """One compared tensor: its element counts per class (HARNESS-6)."""

    layer: str
    node: str
    kind: str
    elements: int = 0
    counts: dict = field(default_factory=lambda: dict.fromkeys(CLASSES, 0))
    smallest_margin: float | None = None

    def to_json(self) -> dict:
        return {"layer": self.layer, "node": self.node, "kind": self.kind,
                "elements": self.elements, **self.counts,
                "smallest_margin": self.smallest_margin}


@dataclass
class Comparison:
    """The result of :func:`compare` (HARNESS-6)."""

    rows: list[Row]
    disagreements: list[dict]
    free_running: dict
    settings: dict

    @property
    def summary(self) -> dict:
        totals = {c: sum(r.counts[c] for r in self.rows) for c in CLASSES}
        return {"mismatch": totals["mismatch"], "ternary": totals["ternary"],
                "float_ambiguous": totals["float_ambiguous"], "equal": totals["equal"],
                "elements": sum(r.elements for r in self.rows),
                "top1_agreement": self.free_running["top1_agreement"],
                "logits_max_abs_diff": self.free_running["logits_max_abs_diff"],
                "free_running_bit_differences": sum(
                    r["differing"] for r in self.free_running["layers"]),
                "passed": totals["mismatch"] == 0}

    def to_json(self, limit: int | None = None) -> dict:
        return {"summary": self.summary, "settings": self.settings,
                "layers": [r.to_json() for r in self.rows],
                "free_running": self.free_running,
                "first_disagreements": self.disagreements[:limit]}
