"""Solver queries with a timeout each, and the search for a short, exact witness."""

from __future__ import annotations

import time
from collections.abc import Mapping
from fractions import Fraction

import z3

from boolnet_spec.spec.variants.symbolic import purified

__all__ = ["Solver", "find_witness"]


class Solver:
    """Checks with a per-query timeout, recording each step."""

    def __init__(self, timeout_ms: int):
        self.timeout_ms = timeout_ms
        self.steps: list[tuple[str, str, float]] = []

    def check(self, step: str, *formulas, purify: bool = False, timeout_ms: int | None = None,
              seed: int = 0) -> tuple[z3.CheckSatResult, z3.Solver]:
        solver = z3.Solver()
        solver.set(timeout=min(self.timeout_ms, timeout_ms or self.timeout_ms), random_seed=seed)
        solver.add(*(purified(formulas) if purify else formulas))
        start = time.perf_counter()
        answer = solver.check()
        self.steps.append((step, str(answer), time.perf_counter() - start))
        return answer, solver


def _model_value(model: z3.ModelRef, term) -> Fraction | int | None:
    value = model.eval(term, model_completion=True)
    if z3.is_int_value(value):
        return value.as_long()
    if z3.is_rational_value(value):
        return Fraction(value.numerator_as_long(), value.denominator_as_long())
    return None  # algebraic (irrational) or not a constant


# Grids for a readable, float32-representable witness: value = k / scale.
_NICE_GRIDS = ((4, 64), (64, 4096))


def _grid_model(solver: Solver, formulas: list, terms: Mapping[str, z3.ExprRef]) \
        -> dict[str, Fraction | int] | None:
    """Values of ``terms`` satisfying ``formulas`` with every real on a small dyadic grid (short
    to read, float32 values), if z3 finds them quickly."""
    reals = {name: t for name, t in terms.items() if z3.is_real(t) and z3.is_const(t)}
    for scale, bound in _NICE_GRIDS:
        grid = []
        for name, term in reals.items():
            k = z3.Int(f"{name}_grid")
            grid += [term * scale == z3.ToReal(k), k >= -bound, k <= bound]
        answer, found = solver.check("witness on a grid", *formulas, *grid, timeout_ms=1000)
        if answer == z3.sat:
            return {name: _model_value(found.model(), term) for name, term in terms.items()}
    return None


def _rational_model(solver: Solver, found: z3.Solver, formulas: list,
                    terms: Mapping[str, z3.ExprRef]) -> dict[str, Fraction | int] | None:
    """The values of a model, each algebraic one replaced by a nearby rational that keeps
    ``formulas`` satisfied."""
    model, pinned = found.model(), []
    for term in terms.values():
        if z3.is_real(term) and _model_value(model, term) is None:
            pinned.append(term == model.eval(term, model_completion=True).approx(12))
            answer, found = solver.check("rational witness", *formulas, *pinned)
            if answer != z3.sat:
                return None
            model = found.model()
    values = {name: _model_value(model, term) for name, term in terms.items()}
    return None if any(v is None for v in values.values()) else values


def find_witness(solver: Solver, step: str, formulas: list, terms: Mapping[str, z3.ExprRef]) \
        -> tuple[str, dict[str, Fraction | int] | None]:
    """Decide ``formulas`` and return ``("sat", values of terms)``, ``("unsat", None)`` or
    ``("unknown", None)``. z3's answer on unbounded nonlinear queries depends on its search, so a
    quick attempt is followed by a search on small grids and by attempts with other seeds."""
    attempts = [("quick", min(solver.timeout_ms, 1500), 0), ("grid", None, None),
                *[("seed", solver.timeout_ms // 2, seed) for seed in (1, 2)]]
    for kind, timeout_ms, seed in attempts:
        if kind == "grid":
            values = _grid_model(solver, formulas, terms)
            if values is not None:
                return "sat", values
            continue
        answer, found = solver.check(step, *formulas, timeout_ms=timeout_ms, seed=seed)
        if answer == z3.unsat:
            return "unsat", None
        if answer == z3.sat:
            values = _grid_model(solver, formulas, terms) or _rational_model(solver, found,
                                                                              formulas, terms)
            return ("sat", values) if values is not None else ("unknown", None)
    return "unknown", None


