"""The proving engine: lemmas, theorems and their registry, and the z3 queries that decide them.

Each theorem is a labelled requirement of the module named after the chapter it proves;
:func:`prove_all` (``boolnet-spec prove``) proves
them. A theorem is a short list of lemmas, each one z3 query in a fragment the solver decides
(bit-vectors, linear integer/real arithmetic with ``floor``, nonlinear real arithmetic); where a
claim mixes integers and nonlinear reals it is split at a real threshold ``t``, and the lemmas meet
there. A lemma ``hypothesis => conclusion`` is proved when ``hypothesis and not conclusion`` is
unsatisfiable *and* the hypothesis alone is satisfiable, so no lemma holds vacuously. Its terms come
from :mod:`boolnet_spec.spec.twins`, which the tests pin to the numpy reference. The square root
never enters the solver: ``sigma`` is a variable with ``sigma > 0`` that stands for
``sqrt(var + eps)``, and ``y`` and ``t*`` are defined by ``sigma * y = ...`` and
``gamma * alpha * t* = ...``.

A result is ``proved``, ``counterexample`` (with z3's model) or ``unknown`` (with z3's reason, a
timeout included); only ``proved`` passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction

import z3

__all__ = ["Lemma", "LemmaResult", "Theorem", "TheoremResult", "THEOREMS", "STATUSES",
           "theorem", "check_lemma", "prove", "prove_all",
           "model_values"]

STATUSES = ("proved", "counterexample", "unknown")


@dataclass(frozen=True)
class Lemma:
    """One z3 query: ``hypothesis => conclusion`` for all values of its free constants, or, with
    ``exists``, ``hypothesis and conclusion`` for some."""

    name: str
    conclusion: z3.BoolRef
    hypothesis: z3.BoolRef | bool = True
    logic: str | None = None
    exists: bool = False


@dataclass
class LemmaResult:
    name: str
    status: str
    seconds: float
    reason: str | None = None
    model: dict[str, str] | None = None


@dataclass
class TheoremResult:
    id: str
    name: str
    statement: str
    status: str
    seconds: float
    lemmas: list[LemmaResult] = field(default_factory=list)

    @property
    def failed_lemma(self) -> LemmaResult | None:
        return next((lemma for lemma in self.lemmas if lemma.status != "proved"), None)

    def to_json(self) -> dict:
        out = {"id": self.id, "name": self.name, "statement": self.statement,
               "status": self.status, "seconds": round(self.seconds, 3)}
        failed = self.failed_lemma
        if failed is not None:
            out["lemma"] = failed.name
            if failed.reason:
                out["reason"] = failed.reason
            if failed.status == "counterexample":
                out["counterexample"] = failed.model
        witnesses = {lemma.name: lemma.model for lemma in self.lemmas if lemma.model
                     and lemma.status == "proved"}
        if witnesses:
            out["witnesses"] = witnesses
        return out


@dataclass(frozen=True)
class Theorem:
    id: str
    name: str
    lemmas: Callable[[], list[Lemma]]

    @property
    def proof(self) -> str:
        return (self.lemmas.__doc__ or "").strip()


THEOREMS: dict[str, Theorem] = {}


def theorem(label: str, name: str):
    """Register the lemma builder of the theorem stated as requirement ``label``."""
    def register(build: Callable[[], list[Lemma]]):
        THEOREMS[label] = Theorem(label, name, build)
        return build
    return register


def _value(value: z3.ExprRef) -> str:
    if z3.is_rational_value(value):
        exact = Fraction(value.numerator_as_long(), value.denominator_as_long())
        return str(exact) if exact.denominator == 1 else f"{exact} ({float(exact)!r})"
    if z3.is_algebraic_value(value):
        return f"{value.as_decimal(20)} (algebraic)"
    if z3.is_bv_value(value):
        return f"0b{value.as_long():0{value.size()}b}"
    return str(value)


def model_values(model: z3.ModelRef) -> dict[str, str]:
    """The constants of a model, by name, as exact values (rationals also as decimals)."""
    return {decl.name(): _value(model[decl]) for decl in sorted(model.decls(), key=str)
            if decl.arity() == 0}


def _solve(formula: z3.BoolRef, logic: str | None, timeout_ms: int) -> tuple[z3.CheckSatResult,
                                                                              z3.Solver]:
    solver = z3.SolverFor(logic) if logic else z3.Solver()
    solver.set(timeout=max(1, int(timeout_ms)))
    solver.add(formula)
    return solver.check(), solver


def check_lemma(lemma: Lemma, timeout_ms: int) -> LemmaResult:
    """Decide one lemma; a ``forall`` lemma also needs a satisfiable hypothesis."""
    start = time.perf_counter()

    def result(status, reason=None, model=None):
        return LemmaResult(lemma.name, status, time.perf_counter() - start, reason, model)

    hypothesis = z3.BoolVal(lemma.hypothesis) if isinstance(lemma.hypothesis, bool) \
        else lemma.hypothesis
    if lemma.exists:
        answer, solver = _solve(z3.And(hypothesis, lemma.conclusion), lemma.logic, timeout_ms)
        if answer == z3.sat:
            return result("proved", model=model_values(solver.model()))
        if answer == z3.unsat:
            return result("counterexample", reason="no witness exists (unsat)")
        return result("unknown", reason=solver.reason_unknown())
    answer, solver = _solve(z3.And(hypothesis, z3.Not(lemma.conclusion)), lemma.logic, timeout_ms)
    if answer == z3.sat:
        return result("counterexample", model=model_values(solver.model()))
    if answer == z3.unknown:
        return result("unknown", reason=solver.reason_unknown())
    remaining = timeout_ms - 1000 * (time.perf_counter() - start)
    answer, solver = _solve(hypothesis, lemma.logic, remaining)
    if answer == z3.unsat:
        return result("unknown", reason="vacuous: the hypothesis is unsatisfiable")
    if answer == z3.unknown:
        return result("unknown", reason=f"hypothesis not shown satisfiable: "
                                        f"{solver.reason_unknown()}")
    return result("proved")


def prove(thm: Theorem, statement: str = "", timeout_ms: int = 10_000,
          deadline: float | None = None) -> TheoremResult:
    """Prove one theorem: every lemma in order, stopping at the first that is not proved."""
    start = time.perf_counter()
    results = []
    status = "proved"
    for lemma in thm.lemmas():
        budget = timeout_ms if deadline is None else \
            min(timeout_ms, 1000 * (deadline - time.perf_counter()))
        if budget <= 0:
            results.append(LemmaResult(lemma.name, "unknown", 0.0,
                                       "the time budget of the run is exhausted"))
        else:
            results.append(check_lemma(lemma, budget))
        if results[-1].status != "proved":
            status = results[-1].status
            break
    return TheoremResult(thm.id, thm.name, statement, status, time.perf_counter() - start,
                         results)


def prove_all(labels: Iterable[str] | None = None, timeout_ms: int = 10_000,
              budget_seconds: float = 60.0,
              progress: Callable[[TheoremResult], None] | None = None) -> list[TheoremResult]:
    """Prove the registered theorems (or those of ``labels``) within an overall time budget."""
    from boolnet_spec.spec.requirements import requirements

    statements = {label: req.text for label, req in requirements().items()}
    labels = list(THEOREMS) if labels is None else list(labels)
    unknown = [label for label in labels if label not in THEOREMS]
    if unknown:
        raise KeyError(f"no theorem {', '.join(unknown)}; theorems: {', '.join(THEOREMS)}")
    deadline = time.perf_counter() + budget_seconds
    results = []
    for label in labels:
        results.append(prove(THEOREMS[label], statements.get(label, ""), timeout_ms, deadline))
        if progress is not None:
            progress(results[-1])
    return results
