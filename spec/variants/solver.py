"""Solver queries with a timeout each, and the search for a short, exact witness."""

from __future__ import annotations

import time
from collections.abc import Mapping
from fractions import Fraction

import z3

from boolnet_spec.spec.variants.symbolic import purified

__all__ = ["Solver", "find_witness"]


class Solver:
    """Solver queries under one wall-time budget for the whole variant (VARIANT-5), recording
    each step with z3's answer and, for ``unknown``, its reason."""

    def __init__(self, budget_ms: int):
        self.budget_ms = budget_ms
        self.deadline = time.perf_counter() + budget_ms / 1000
        self.steps: list[tuple[str, str, float, str]] = []
        # While only a proof helps (integer parameters relaxed to reals), a sat answer ends the
        # attempt: no witness is searched.
        self.proof_only = False

    def remaining_ms(self) -> int:
        return int(1000 * (self.deadline - time.perf_counter()))

    def check(self, step: str, *formulas, purify: bool = False, timeout_ms: int | None = None,
              seed: int = 0, polish: bool = False) -> tuple[z3.CheckSatResult, z3.Solver]:
        """One query within the budget; a ``polish`` query (a shorter witness for a known
        answer) is skipped, unrecorded, when the budget is spent."""
        limit = min(timeout_ms or self.budget_ms, self.remaining_ms())
        solver = z3.Solver()
        if limit <= 0:
            if not polish:
                self.steps.append((step, "unknown", 0.0, f"the time budget of "
                                   f"{self.budget_ms / 1000:g} s is spent"))
            return z3.unknown, solver
        solver.set(timeout=limit, random_seed=seed)
        solver.add(*(purified(formulas) if purify else formulas))
        start = time.perf_counter()
        answer = solver.check()
        reason = solver.reason_unknown() if answer == z3.unknown else ""
        if reason == "canceled" or reason == "timeout":
            reason = f"timeout after {limit / 1000:g} s"
        self.steps.append((step, str(answer), time.perf_counter() - start, reason))
        return answer, solver

    def unknown_reason(self) -> str:
        """Which query z3 could not decide, and why."""
        undecided = [step for step in self.steps if step[1] == "unknown"]
        step, _, _, reason = (undecided or self.steps)[-1]
        return f"{step}: z3 answered unknown ({reason or 'no reason given'})"


def _model_value(model: z3.ModelRef, term) -> Fraction | int | None:
    value = model.eval(term, model_completion=True)
    if z3.is_int_value(value):
        return value.as_long()
    if z3.is_rational_value(value):
        return Fraction(value.numerator_as_long(), value.denominator_as_long())
    return None  # algebraic (irrational) or not a constant


# Small witnesses first: (grid scale, bound on the grid index, bound on every integer).
_SMALL = ((2, 4, 2), (4, 16, 16), (4, 64, 64), (64, 4096, None))


def _small_model(solver: Solver, formulas: list, terms: Mapping[str, z3.ExprRef],
                 polish: bool, purify: bool = False) -> dict[str, Fraction | int] | None:
    """Values of ``terms`` satisfying ``formulas`` with every real on a small dyadic grid (short
    to read, float32 values) and every integer, ``s`` included, small, if z3 finds them
    quickly."""
    reals = {name: t for name, t in terms.items() if z3.is_real(t) and z3.is_const(t)}
    ints = [t for t in terms.values() if z3.is_int(t)]
    for scale, bound, int_bound in _SMALL:
        grid = []
        for name, term in reals.items():
            k = z3.Int(f"{name}_grid")
            grid += [term * scale == z3.ToReal(k), k >= -bound, k <= bound]
        if int_bound is not None:
            grid += [z3.And(t >= -int_bound, t <= int_bound) for t in ints]
        answer, found = solver.check("small witness", *formulas, *grid, timeout_ms=400,
                                     polish=polish, purify=purify)
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
            answer, found = solver.check("rational witness", *formulas, *pinned, polish=True,
                                         timeout_ms=1000)
            if answer != z3.sat:
                return None
            model = found.model()
    values = {name: _model_value(model, term) for name, term in terms.items()}
    return None if any(v is None for v in values.values()) else values


def find_witness(solver: Solver, step: str, formulas: list, terms: Mapping[str, z3.ExprRef],
                 purify: bool = False) -> tuple[str, dict[str, Fraction | int] | None]:
    """Decide ``formulas`` and return ``("sat", values of terms)``, ``("unsat", None)`` or
    ``("unknown", None)``. z3's answer on unbounded nonlinear queries depends on its search, so
    short attempts with several seeds come first, then a search for small values and a last
    attempt with the rest of the budget. A
    witness is minimised toward small ``|s|`` and small parameters."""
    if solver.proof_only:
        answer, _ = solver.check(step, *formulas, timeout_ms=1000, purify=purify)
        return ("unsat", None) if answer == z3.unsat else ("unknown", None)
    # Short restarts with other seeds first: z3's time on these queries varies by orders of
    # magnitude with the seed.
    attempts = [("quick", 500, 0), ("seed", 500, 1), ("seed", 700, 2), ("small", None, None),
                ("seed", None, 3)]
    for kind, timeout_ms, seed in attempts:
        if kind == "small":
            values = _small_model(solver, formulas, terms, polish=False, purify=purify)
            if values is not None:
                return "sat", values
            continue
        answer, found = solver.check(step, *formulas, timeout_ms=timeout_ms, seed=seed,
                                     purify=purify)
        if answer == z3.unsat:
            return "unsat", None
        if answer == z3.sat:
            values = _small_model(solver, formulas, terms, polish=True, purify=purify) or \
                _rational_model(solver, found, formulas, terms)
            return ("sat", values) if values is not None else ("unknown", None)
    return "unknown", None
