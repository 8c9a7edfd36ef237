"""The comparison engine (KIT-2): one function that every plug-in point and the trace check use.
Bits and integers are compared exactly; real outputs within their stored bound."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Difference", "compare_output"]


@dataclass(frozen=True)
class Difference:
    """Why an output is not the expected one; ``None`` fields do not apply."""

    reason: str
    index: list[int] | None = None
    expected: object = None
    actual: object = None
    count: int = 0

    def __str__(self) -> str:
        if self.index is None:
            return self.reason
        return (f"{self.reason}: first at {self.index}: expected {self.expected!r}, got "
                f"{self.actual!r} ({self.count} element(s) differ)")

    def to_json(self) -> dict:
        return {"reason": self.reason, "index": self.index, "expected": self.expected,
                "actual": self.actual, "count": self.count}


def _first(mask: np.ndarray, expected: np.ndarray, actual: np.ndarray, reason: str) -> Difference:
    flat = int(np.flatnonzero(mask)[0])
    index = [int(i) for i in np.unravel_index(flat, mask.shape)]
    return Difference(reason, index, expected.flat[flat].item(), actual.flat[flat].item(),
                      int(np.count_nonzero(mask)))


def compare_output(actual: object, expected: np.ndarray, mode: str,
                   bound: np.ndarray | None = None, dtype: str | None = None
                   ) -> Difference | None:
    """``None`` when ``actual`` conforms to ``expected`` under ``mode``, else the difference."""
    if not isinstance(actual, np.ndarray):
        return Difference(f"not an array but a {type(actual).__name__}")
    want = np.dtype(dtype or expected.dtype)
    if mode == "exact" and actual.dtype != want:
        return Difference(f"dtype {actual.dtype}, expected {want}")
    if actual.shape != expected.shape:
        return Difference(f"shape {list(actual.shape)}, expected {list(expected.shape)}")
    if mode == "exact":
        differ = actual != expected
        return _first(differ, expected, actual, "values differ") if differ.any() else None
    if actual.dtype.kind != "f":
        return Difference(f"dtype {actual.dtype}, expected a float type")
    finite = np.isfinite(actual)
    if not finite.all():
        return _first(~finite, expected, actual, "not finite")
    distance = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    outside = distance > bound
    if outside.any():
        return _first(outside, expected, actual, "outside the stated bound")
    return None
