"""The abstraction that decides folds built from ``floor`` and ``ceil`` of the real root in
linear integer/real arithmetic."""

from __future__ import annotations

import time

import z3

__all__ = ["abstract_check"]


class _NotApplicable(Exception):
    """The fold is not a function of the root, ``n`` and sign conditions."""


def abstract_check(symbols, solver, admissible, inputs_ok, s, s_ok, bit, affine) -> str:
    """Decide the fold's correctness in linear integer/real arithmetic (VARIANT-3), for a fold
    whose threshold is built from ``floor``/``ceil`` of the real root ``t = -y(0)/a`` and ``n``,
    with ``where`` conditions on the parameters.

    Every ``floor``/``ceil`` argument that depends on real parameters is proved equal to ``t`` or
    ``-t`` (nonlinear real arithmetic) and replaced by it; every condition on the real parameters
    becomes a Boolean variable, restricted to the combinations some admissible parameter value
    realizes; the truth ``[y(s) >= 0]`` becomes ``[s >= t]``, ``[s <= t]`` or ``[y(0) >= 0]`` by
    the sign of ``a``. The result over-approximates the fold, so ``unsat`` proves it correct."""
    slope, level = affine
    root = z3.Real("t_root")
    reals = {c.get_id() for c in [*symbols.consts.values(), *symbols.inputs()[0].values()]
             if z3.is_real(c)}
    root_ok = z3.And(admissible, inputs_ok, slope != 0, slope * root + level == 0)
    atoms: dict[int, tuple[z3.BoolRef, z3.BoolRef]] = {}
    memo: dict[int, z3.ExprRef] = {}

    def mentions(expr, test) -> bool:
        return test(expr) or any(mentions(child, test) for child in expr.children())

    def is_real_param(expr) -> bool:
        return z3.is_const(expr) and expr.get_id() in reals

    def atom(condition) -> z3.BoolRef:
        if condition.get_id() not in atoms:
            atoms[condition.get_id()] = (z3.Bool(f"atom{len(atoms)}"), condition)
        return atoms[condition.get_id()][0]

    def abstract(expr):
        if expr.get_id() in memo:
            return memo[expr.get_id()]
        if not mentions(expr, is_real_param):
            out = expr
        elif z3.is_bool(expr) and not mentions(expr, lambda e: e.eq(s)) and not mentions(
                expr, lambda e: z3.is_app_of(e, z3.Z3_OP_TO_INT)):
            out = atom(expr)
        elif z3.is_app_of(expr, z3.Z3_OP_TO_INT):
            out = _floor_or_abstract(expr.arg(0))
        elif is_real_param(expr) or not z3.is_app(expr):
            raise _NotApplicable
        else:
            out = expr.decl()(*[abstract(child) for child in expr.children()])
        memo[expr.get_id()] = out
        return out

    # The root t = t_floor + a fraction in [0, 1), nonzero exactly when t_fractional holds: with
    # t in comparisons with integers and in floors only, the query is integer arithmetic.
    root_floor, fractional = z3.Int("t_floor"), z3.Bool("t_fractional")
    floors = {1: root_floor, -1: z3.If(fractional, -root_floor - 1, -root_floor)}

    def _floor_or_abstract(argument):
        # floor(f(n, floor(...))) stays; floor(g(parameters)) needs g = t or g = -t.
        try:
            inner = abstract(argument)
            if not mentions(inner, is_real_param):
                return z3.ToInt(inner)
        except _NotApplicable:
            pass
        for sign in (1, -1):
            answer, _ = solver.check("floor argument is the root", root_ok,
                                     argument != sign * root)
            if answer == z3.unsat:
                return floors[sign]
        raise _NotApplicable

    try:
        increasing, decreasing, level_bit = atom(slope > 0), atom(slope < 0), atom(level >= 0)
        abstract_bit = abstract(bit)
    except _NotApplicable:
        return "unknown"
    above_root = z3.If(fractional, s >= root_floor + 1, s >= root_floor)
    truth = z3.If(increasing, above_root, z3.If(decreasing, s <= root_floor, level_bit))
    patterns = _feasible_patterns(solver, z3.And(admissible, inputs_ok), list(atoms.values()))
    integers = z3.And([p.constraint(symbols.consts[p.name]) for p in symbols.params
                       if p.name in symbols.integer])
    # Where the slope is 0 the root is free, so a threshold used there is any integer.
    query = [integers, s_ok, z3.Or(patterns), abstract_bit != truth]
    answer, _ = solver.check("fold equals [y(s) >= 0], abstracted", *query, purify=True)
    return str(answer)


def _feasible_patterns(solver, constraints, atoms) -> list[z3.BoolRef]:
    """The combinations of truth values of ``atoms`` (pairs ``(variable, condition)``) that some
    value satisfying ``constraints`` realizes; a combination z3 cannot decide counts as
    feasible."""
    patterns = []
    # One incremental solver: a pattern extends its prefix by one condition.
    incremental = z3.Solver()
    incremental.add(constraints)
    start, answers = time.perf_counter(), []

    def extend(prefix: list[z3.BoolRef], rest) -> None:
        if not rest:
            patterns.append(z3.And(prefix) if prefix else z3.BoolVal(True))
            return
        (variable, condition), *tail = rest
        for literal, holds in ((variable, condition), (z3.Not(variable), z3.Not(condition))):
            remaining = solver.remaining_ms()
            if remaining <= 0:
                answer = z3.unknown
            else:
                incremental.set(timeout=min(remaining, 1000))
                incremental.push()
                incremental.add(holds)
                answer = incremental.check()
            answers.append(str(answer))
            if answer != z3.unsat:
                extend([*prefix, literal], tail)
            if remaining > 0:
                incremental.pop()

    extend([], atoms)
    solver.steps.append(("sign patterns feasible", ", ".join(sorted(set(answers))) or "none",
                         time.perf_counter() - start, ""))
    return patterns
