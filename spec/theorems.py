"""Theorems: the central claims of the specification, proved by z3 for every parameter value.

Each theorem is a labelled requirement below; :func:`prove_all` (``boolnet-spec prove``) proves
them. A theorem is a short list of lemmas, each one z3 query in a fragment the solver decides
(bit-vectors, linear integer/real arithmetic with ``floor``, nonlinear real arithmetic); where a
claim mixes integers and nonlinear reals it is split at a real threshold ``t``, and the lemmas meet
there. A lemma ``hypothesis => conclusion`` is proved when ``hypothesis and not conclusion`` is
unsatisfiable *and* the hypothesis alone is satisfiable, so no lemma holds vacuously. Its terms come
from :mod:`boolnet_spec.spec.twins`, which the tests pin to the numpy reference. The square root
never enters the
solver: ``sigma`` is a variable with ``sigma > 0`` that stands for ``sqrt(var + eps)``, and ``y``
and ``t*`` are defined by ``sigma * y = ...`` and ``gamma * alpha * t* = ...``.

A result is ``proved``, ``counterexample`` (with z3's model) or ``unknown`` (with z3's reason, a
timeout included); only ``proved`` passes.

.. req:: PROOF-1

   Popcount identity. For every width ``w`` from 1 to 64 and all words ``a``, ``v`` of ``w``
   bits, ``sum_i (2*a_i - 1)*(2*v_i - 1) = 2*popcount(XNOR(a, v)) - w`` (ACC-1). Per width, two
   lemmas: at every position the product, in 8-bit two's complement, is ``-1`` or ``+1`` and equals
   ``2*xnor_i - 1`` (bit-blasted); and for all integers with ``p_i = 2*x_i - 1``,
   ``sum p_i = 2*sum x_i - w`` (linear integer arithmetic), which holds in particular for the
   products' values and the XNOR bits.

.. req:: PROOF-2

   Word-wise extension to every ``n``. A dot product of length ``n`` computed over words of
   widths ``w_k`` (``1 <= w_k <= 64``, ``sum w_k = n``) has
   ``s = sum_k (2*pc_k - w_k) = 2*sum_k pc_k - n``, ``pc_k`` the popcount of word ``k``'s XNOR.
   Lemmas: the XNOR of two concatenated 64-bit words is the concatenation of their XNORs and the
   popcount of a concatenation is the sum of the popcounts; and the induction step over integers
   with symbolic counts, ``S = 2*P - N`` and ``0 <= pc <= w`` imply
   ``S + (2*pc - w) = 2*(P + pc) - (N + w)``, from the base ``0 = 2*0 - 0`` of no words.

.. req:: PROOF-3

   Accumulator range and parity. For every ``n >= 1`` and every popcount ``0 <= p <= n``,
   ``s = 2*p - n`` lies in ``D_n`` (ACC-2); every ``s`` in ``D_n`` is ``2*p - n`` for
   ``p = (s + n)/2`` in ``[0, n]``, so the accumulator takes exactly the ``n + 1`` values of
   ``D_n``. For every width from 1 to 64 the 16-bit accumulator of two words lies in ``[-w, w]``
   and has the parity of ``w``.

.. req:: PROOF-4

   The Int16 bound of ACC-3 is sound and tight. For every ``1 <= n <= N_MAX = 32765``, every
   ``s`` in ``D_n``, every popcount ``0 <= p <= n`` and every canonical threshold
   ``-n <= t <= n + 2`` (THR-2) lie in ``[-32768, 32767]``; and ``N_MAX`` is the largest such
   ``n``: for every ``n >= 1``, ``n + 2 <= 32767`` exactly when ``n <= N_MAX``.

.. req:: PROOF-5

   EXACT-2 is exact. For all reals ``L``, ``K`` and ``v > 0``, with ``r > 0`` and ``r*r = v``,
   the decision of EXACT-2 (by the signs of ``L`` and ``K`` where they differ, else by comparing
   ``L**2`` with ``K**2 * v``) equals ``[L >= K*r]``.

.. req:: PROOF-6

   The reference's exact bit is FOLD-2's bit. For all reals ``gamma``, ``beta``, ``mean``, ``b``,
   ``o``, ``s``, ``alpha`` and ``sigma > 0``, with
   ``y = gamma*(alpha*s + b - mean)/sigma + beta + o``, ``[y >= 0]`` equals EXACT-2's decision of
   ``L >= K*sqrt(v)`` for ``L = gamma*(alpha*s + b - mean)``, ``K = -(beta + o)`` and
   ``v = sigma**2 = var + eps``: any ``eps`` that keeps ``var + eps > 0``.

.. req:: PROOF-7

   Canonicalisation of a real threshold (THR-3) is exact. For every ``n >= 1`` and every real
   ``t``, the canonical unit of ``s >= t`` gives ``[s >= t]`` at every ``s`` in ``D_n`` and is
   canonical (THR-2), and the canonical unit of ``s <= t`` gives ``[s <= t]`` and is canonical: for
   thresholds below ``-n``, above ``n``, on an element of ``D_n`` or between two.

.. req:: PROOF-8

   The canonical form is unique and complete. For every ``n >= 1``, two different canonical units
   differ at some ``s`` in ``D_n`` (one of ``t_1``, ``t_2``, ``-n``, ``n``). Every monotone Boolean
   function of ``s`` over ``D_n`` has a canonical unit: with ``i = (s + n)/2``, ``[i >= m]`` for
   ``m = 0, ..., n + 1`` is the unit ``(1, 2*m - n)`` and ``[i <= m]`` for ``m = 0, ..., n - 1`` is
   ``(0, 2*m - n)``, ``2*n + 2`` functions; the other decreasing ones are the two constants.

.. req:: PROOF-9

   Folding with ``gamma > 0``. For all reals ``gamma > 0``, ``alpha > 0``, ``sigma > 0``,
   ``beta``, ``mean``, the conv bias ``b`` and the slice offset ``o``, every ``n >= 1`` and every
   ``s`` in ``D_n``, the canonical unit of ``s >= t*`` (FOLD-3) gives ``[y(s) >= 0]`` (FOLD-2) with
   ``t* = (mean - b)/alpha - (beta + o)*sigma/(gamma*alpha)``: ties ``y(s) = 0`` give 1, a root
   outside ``[-n, n]`` gives a constant unit (FOLD-7). Lemmas: over the reals ``y(s) >= 0`` exactly
   when ``s >= t*``; and PROOF-7 for ``s >= t``.

.. req:: PROOF-10

   Folding with ``gamma < 0``. For all reals ``gamma < 0`` and the other parameters as in
   PROOF-9, every ``n >= 1`` and every ``s`` in ``D_n``, the canonical unit of ``s <= t*``
   (FOLD-4) gives ``[y(s) >= 0]``. Lemmas: over the reals ``y(s) >= 0`` exactly when ``s <= t*``;
   and PROOF-7 for ``s <= t``.

.. req:: PROOF-11

   Folding with ``gamma = 0``. For ``gamma = 0`` and all other parameters as in PROOF-9,
   ``y(s) = beta + o`` at every ``s``, and the canonical constant unit, ``(1, -n)`` when
   ``beta + o >= 0`` and ``(1, n + 2)`` otherwise (FOLD-5), gives ``[y(s) >= 0]`` at every ``s`` in
   ``D_n``.

.. req:: PROOF-12

   Ties and the published folds (FOLD-6). (a) For ``gamma != 0``, every ``n >= 1`` and every ``s``
   in ``D_n`` with ``y(s) = 0`` exactly, the folded unit gives 1. For every integer ``s`` and real
   root ``t``: (b) the published strict fold ``C = floor(-t) + [gamma < 0]``, bit ``[s >= -C]``
   for ``gamma > 0`` and ``[s <= -C]`` for ``gamma < 0``, is right for ``gamma > 0`` and, for
   ``gamma < 0``, differs from ``[s <= t]`` exactly when ``s = t``; (c) ``[s >= trunc(t)]``
   differs from ``[s >= t]`` exactly when ``t > 0`` is not an integer and ``s = floor(t)``;
   (d) for an integer threshold ``t`` and ``s`` in ``D_n``, the popcount comparison
   ``[(s + n)/2 >= trunc((t + n)/2)]`` differs from ``[s >= t]`` exactly when ``t + n`` is odd
   and positive and ``s = t - 1``; (e) ``[s >= ceil(t)]``, one formula for both signs, agrees with
   the ``gamma < 0`` bit ``[s <= t]`` only at ``s = t``: it is wrong at every ``s`` of ``D_n`` but
   at most one.

.. req:: PROOF-13

   Multi-slice bits form a thermometer code. For offsets ``o_1 < o_2 < ... < o_k`` and every real
   ``z``, the slice bits ``b_j = [z + o_j >= 0]`` (SLICE-2) are non-decreasing in ``j``, so they are
   the thermometer code of their count ``m``: ``b_j = [j > k - m]`` (proved for ``k = 1, ..., 8``).
   ``k`` slices thus take at most ``k + 1`` values: ``log2(k + 1)`` bits per element. The folded
   roots are ordered by the slope: for ``gamma*alpha > 0``, ``o < o'`` gives ``t*(o') < t*(o)``
   (the thresholds of ``>=`` units fall with the slice index); for ``gamma*alpha < 0`` the order is
   reversed (the thresholds of ``<=`` units rise).

.. req:: PROOF-14

   Max pooling before BatchNorm-sign is a Boolean reduction of the per-position bits (POOL-2).
   For ``alpha > 0``, ``max_i(alpha*s_i + b) = alpha*max_i(s_i) + b``. For every window of 4 real
   ``s_i`` and all BatchNorm parameters, the bit of the pooled value, ``[y(max) >= 0]``, is the OR
   of the bits ``[y(s_i) >= 0]`` for ``gamma > 0``, their AND for ``gamma < 0`` and their common
   value for ``gamma = 0``. For every canonical unit and every window of 2 or 4 accumulators in
   ``D_n``, the unit's bit at ``max_i(s_i)`` is the OR of its bits at the ``s_i`` for polarity 1
   and their AND for polarity 0; the window of 2 is the induction step to any window.

.. req:: PROOF-15

   Logic shortcuts. On ``{-1, +1}**2`` the authors' XNOR ``x*r``, their OR
   ``clamp((x + 1)/2 + (r + 1)/2, 0, 1)*2 - 1`` and the paper's OR ``2*min(1, (x + r)/2 + 1) - 1``
   equal the +-1 values of the gates (LOGIC-1, LOGIC-2). On the ternary 0 of ``torch.sign``
   (LOGIC-3): ``XNOR(0, r) = XNOR(r, 0) = 0``; ``OR(0, -1) = OR(-1, 0) = 0``;
   ``OR(0, +1) = OR(+1, 0) = +1``; ``OR(0, 0) = +1``; the two OR formulas agree on
   ``{-1, 0, +1}**2`` and stay in it.

.. req:: PROOF-16

   (C1) Each forward surrogate agrees with its Boolean operation on its binary domain. The
   straight-through path ``clamp(x, -1, 1)`` of TORCH-1 and TORCH-2 equals ``sign(x) = x`` on
   ``{-1, +1}``; the progressive forward ``hardtanh(x/T)`` equals ``sign(x)`` on ``{-1, +1}`` for
   every ``T`` in ``(0, 1]`` (the schedule starts at 1 and only decreases) and at every ``x`` with
   ``|x| >= T``; the XNOR and OR surrogates equal their gates on ``{-1, +1}**2``.

.. req:: PROOF-17

   (C2) Each straight-through gradient is the almost-everywhere derivative of its forward surrogate
   and lies in the Clarke subdifferential at the kinks. For ``clamp(x, -1, 1)`` and its gradient
   ``g(x) = [|x| <= 1]``: wherever no kink ``+-1`` lies between ``x`` and ``x + h``,
   ``clamp(x + h) - clamp(x) = g(x)*h``; at ``x = +-1`` the one-sided slopes are 0 and 1, so the
   Clarke subdifferential is ``[0, 1]``, and the border convention (``torch.clamp`` passes the
   gradient at ``|x| = 1``) picks ``g(+-1) = 1`` in it. GhostSign's ``[|x + o| <= 1]`` is the same
   statement at ``x + o``. For the OR surrogate the gradient in ``x``,
   ``[0 <= (x + r)/2 + 1 <= 1]``, is the derivative away from ``x = -r - 2`` and ``x = -r``, and
   1 in ``[0, 1]`` at both; for XNOR the gradient ``r`` of ``x*r`` is the derivative everywhere.

.. req:: PROOF-18

   (C3) ``hardtanh(x/T)`` tends to ``sign(x)`` for ``x != 0`` as ``T -> 0``: it equals ``sign(x)``
   as soon as ``0 < T <= |x|``. For ``0 < T <= 1`` its L1 distance to ``sign`` on ``[-1, 1]`` is
   ``T``: ``|hardtanh(x/T) - sign(x)|`` is ``1 - |x|/T`` on ``0 < |x| < T`` and 0 on
   ``T <= |x| <= 1`` (z3), so the integral is two triangles of height 1 and base ``T``, ``T``.

.. req:: PROOF-19

   (C4) ``sign(hardtanh(x/T)) = sign(x)`` for every ``T > 0`` and every real ``x``, under the
   specification's ``sign(0) = +1`` (ENC-2) and under ``torch.sign`` alike: the eval-mode forward
   of TORCH-1 and the quantizer of TORCH-2 do not depend on the temperature.

.. req:: PROOF-20

   Documented deviation (TORCH-1): the authors' gradient of the progressive forward
   ``hardtanh(x/T)``, the straight-through ``[|x| <= 1]``, ignores ``T`` and is not the derivative
   of ``hardtanh(x/T)`` when ``T != 1``. That derivative is ``1/T`` on ``|x| < T`` and 0 on
   ``|x| > T`` (z3: the forward is affine with that slope between the kinks ``+-T``). For every
   ``T > 0`` with ``T != 1`` the two differ at a point that is no kink (``x = 0`` when ``T > 1``,
   ``x = (1 + T)/2`` when ``T < 1``). At ``T = 1/2`` z3 finds a counterexample, and the two
   examples check: at ``x = 3/4`` the gradient is 1 and the derivative 0; at ``x = 1/4``, 1 against
   2.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction

import z3

from boolnet_spec.reference.accumulator import N_MAX
from boolnet_spec.spec import twins
from boolnet_spec.spec.twins import GE, LE

__all__ = ["Lemma", "LemmaResult", "Theorem", "TheoremResult", "THEOREMS", "STATUSES",
           "check_lemma", "prove", "prove_all", "model_values"]

STATUSES = ("proved", "counterexample", "unknown")
INT16_MIN, INT16_MAX = -(2 ** 15), 2 ** 15 - 1


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


# --- Solving ------------------------------------------------------------------------------------

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


# --- Shared symbols -----------------------------------------------------------------------------

class _BatchNorm:
    """Real parameters of one channel and slice under FOLD-1: ``alpha > 0``, ``sigma > 0``."""

    def __init__(self, suffix: str = ""):
        names = ["gamma", "beta", "mean", "b", "o", "alpha", "sigma"]
        (self.gamma, self.beta, self.mean, self.bias, self.offset, self.alpha,
         self.sigma) = z3.Reals([name + suffix for name in names])
        self.admissible = z3.And(self.alpha > 0, self.sigma > 0)

    def args(self, offset=None):
        return (self.gamma, self.beta, self.mean, self.sigma, self.alpha, self.bias,
                self.offset if offset is None else offset)

    def preactivation_is(self, y, s, offset=None) -> z3.BoolRef:
        """``y`` is FOLD-2's pre-activation at ``s``: ``sigma * y = sigma * y(s)``."""
        return y * self.sigma == twins.bn_scaled_preactivation(s, *self.args(offset))

    def root_is(self, t, offset=None) -> z3.BoolRef:
        """``t`` is the root ``t*``: ``gamma * alpha * t = gamma * alpha * t*``."""
        return self.gamma * self.alpha * t == twins.fold_root_scaled(*self.args(offset))


def _accumulator_in_domain():
    """``n >= 1`` and ``s = 2*k - n`` with ``0 <= k <= n``: every ``s`` of ``D_n``."""
    n, k, s = z3.Ints("n k s")
    return n, s, z3.And(n >= 1, k >= 0, k <= n, s == 2 * k - n)


def _canonical_lemma(polarity: int) -> Lemma:
    n, s, domain = _accumulator_in_domain()
    t = z3.Real("t")
    unit = twins.canonical_unit(polarity, t, n)
    wanted = z3.ToReal(s) >= t if polarity == GE else z3.ToReal(s) <= t
    cmp = ">=" if polarity == GE else "<="
    return Lemma(f"THR-3: the canonical unit of s {cmp} t gives [s {cmp} t] on D_n and is "
                 "canonical", z3.And(twins.unit_bit(*unit, s) == wanted,
                                     twins.is_canonical(*unit, n)), domain, "QF_LIRA")


# --- The theorems -------------------------------------------------------------------------------

@theorem("PROOF-1", "popcount identity, widths 1 to 64")
def popcount_identity() -> list[Lemma]:
    """Bit-blasting per position; linear integer arithmetic for the sum."""
    lemmas = []
    for width in range(1, 65):
        a, v = z3.BitVecs(f"a{width} v{width}", width)
        products = twins.pm1_products(a, v)
        agree = twins.bits(twins.xnor(a, v))
        one = z3.BitVecVal(1, twins.PRODUCT_BITS)
        per_position = [z3.And(z3.Or(p == one, p == -one),
                               p == 2 * z3.ZeroExt(twins.PRODUCT_BITS - 1, x) - 1)
                        for p, x in zip(products, agree, strict=True)]
        lemmas.append(Lemma(f"width {width}: each product is +-1 and equals 2*xnor - 1",
                            z3.And(per_position), logic="QF_BV"))
        p, x = z3.IntVector(f"p{width}", width), z3.IntVector(f"x{width}", width)
        terms = z3.And([z3.And(p[i] == 2 * x[i] - 1, x[i] >= 0, x[i] <= 1) for i in range(width)])
        lemmas.append(Lemma(f"width {width}: sum of 2*x_i - 1 is 2*sum x_i - {width}",
                            z3.Sum(p) == 2 * z3.Sum(x) - width, terms, "QF_LIA"))
    return lemmas


@theorem("PROOF-2", "word-wise extension to every n")
def wordwise_extension() -> list[Lemma]:
    """Bit-vector lemmas on two words; the induction step in linear integer arithmetic."""
    a1, a2, v1, v2 = z3.BitVecs("a1 a2 v1 v2", 64)
    x, y = z3.BitVecs("x y", 64)
    total, popcounts, length, pc, width = z3.Ints("S P N pc w")
    return [
        Lemma("XNOR of concatenated words is the concatenation of their XNORs",
              twins.xnor(z3.Concat(a1, a2), z3.Concat(v1, v2))
              == z3.Concat(twins.xnor(a1, v1), twins.xnor(a2, v2)), logic="QF_BV"),
        Lemma("popcount of a concatenation is the sum of the popcounts",
              twins.popcount_word(z3.Concat(x, y))
              == twins.popcount_word(x) + twins.popcount_word(y),
              logic="QF_BV"),
        Lemma("induction step: one more word keeps s = 2*popcount - n",
              total + (2 * pc - width) == 2 * (popcounts + pc) - (length + width),
              z3.And(total == 2 * popcounts - length, pc >= 0, pc <= width, width >= 1,
                     width <= 64), "QF_LIA"),
    ]


@theorem("PROOF-3", "accumulator range and parity")
def accumulator_range() -> list[Lemma]:
    """Linear integer arithmetic for every n; bit-vectors for every width 1..64."""
    n, p, s = z3.Ints("n p s")
    lemmas = [
        Lemma("2*p - n is in D_n for every popcount 0 <= p <= n",
              twins.in_domain(2 * p - n, n), z3.And(n >= 1, p >= 0, p <= n), "QF_LIA"),
        Lemma("every s in D_n is 2*p - n with p = (s + n)/2 in [0, n]",
              z3.And((s + n) / 2 >= 0, (s + n) / 2 <= n, 2 * ((s + n) / 2) - n == s),
              z3.And(n >= 1, twins.in_domain(s, n)), "QF_LIA"),
    ]
    for width in range(1, 65):
        a, v = z3.BitVecs(f"a{width} v{width}", width)
        acc = twins.accumulator_word(a, v)
        lemmas.append(Lemma(f"width {width}: the accumulator is in D_{width}",
                            z3.And(acc >= -width, acc <= width,
                                   z3.Extract(0, 0, acc + width) == 0), logic="QF_BV"))
    return lemmas


@theorem("PROOF-4", "the Int16 bound N_MAX")
def int16_bound() -> list[Lemma]:
    """Linear integer arithmetic."""
    n, s, p, t = z3.Ints("n s p t")
    int16 = lambda value: z3.And(value >= INT16_MIN, value <= INT16_MAX)  # noqa: E731
    return [
        Lemma("accumulator, popcount and canonical threshold are int16 for n <= N_MAX",
              z3.And(int16(s), int16(p), int16(t), int16(n)),
              z3.And(n >= 1, n <= N_MAX, twins.in_domain(s, n), p >= 0, p <= n, t >= -n,
                     t <= n + 2), "QF_LIA"),
        Lemma("N_MAX is the largest n whose constant-0 threshold n + 2 is an int16",
              (n + 2 <= INT16_MAX) == (n <= N_MAX), n >= 1, "QF_LIA"),
    ]


@theorem("PROOF-5", "EXACT-2: the square comparison decides L >= K*sqrt(v)")
def exact_square_comparison() -> list[Lemma]:
    """Nonlinear real arithmetic, with ``r`` the square root of ``v``."""
    lhs, k, v, r = z3.Reals("L K v r")
    return [Lemma("EXACT-2's decision equals [L >= K*r] for r > 0, r*r = v",
                  twins.ge_times_sqrt(lhs, k, v) == (lhs >= k * r),
                  z3.And(v > 0, r > 0, r * r == v), "QF_NRA")]


@theorem("PROOF-6", "FOLD-2: the exact bit is [y >= 0]")
def fold_exact_bit() -> list[Lemma]:
    """Nonlinear real arithmetic."""
    bn, (s, y) = _BatchNorm(), z3.Reals("s y")
    lhs = bn.gamma * (bn.alpha * s + bn.bias - bn.mean)
    return [Lemma("[y >= 0] equals EXACT-2's decision of L >= K*sqrt(sigma**2)",
                  (y >= 0) == twins.ge_times_sqrt(lhs, -(bn.beta + bn.offset),
                                                  bn.sigma * bn.sigma),
                  z3.And(bn.sigma > 0, bn.preactivation_is(y, s)), "QF_NRA")]


@theorem("PROOF-7", "THR-3: canonicalisation of a real threshold")
def canonical_real_threshold() -> list[Lemma]:
    """Linear integer/real arithmetic with floor."""
    return [_canonical_lemma(GE), _canonical_lemma(LE)]


@theorem("PROOF-8", "THR-2: the canonical form is unique and complete")
def canonical_form_unique() -> list[Lemma]:
    """Linear integer arithmetic; the witness of a difference is one of four candidates."""
    n, s, domain = _accumulator_in_domain()
    p1, t1, p2, t2, m = z3.Ints("p1 t1 p2 t2 m")
    differ = [z3.And(twins.in_domain(c, n), twins.unit_bit(p1, t1, c) != twins.unit_bit(p2, t2, c))
              for c in (t1, t2, -n, n)]
    index = (s + n) / 2
    return [
        Lemma("two different canonical units differ at one of t1, t2, -n, n", z3.Or(differ),
              z3.And(n >= 1, twins.is_canonical(p1, t1, n), twins.is_canonical(p2, t2, n),
                     z3.Or(p1 != p2, t1 != t2)), "QF_LIA"),
        Lemma("[i >= m], m = 0..n+1, is the canonical unit (1, 2m - n)",
              z3.And(twins.is_canonical(GE, 2 * m - n, n),
                     twins.unit_bit(GE, 2 * m - n, s) == (index >= m)),
              z3.And(domain, m >= 0, m <= n + 1), "QF_LIA"),
        Lemma("[i <= m], m = 0..n-1, is the canonical unit (0, 2m - n)",
              z3.And(twins.is_canonical(LE, 2 * m - n, n),
                     twins.unit_bit(LE, 2 * m - n, s) == (index <= m)),
              z3.And(domain, m >= 0, m <= n - 1), "QF_LIA"),
    ]


def _fold_real_lemma(sign: str) -> Lemma:
    bn, (s, y, t) = _BatchNorm(), z3.Reals("s y t")
    slope = bn.gamma > 0 if sign == ">" else bn.gamma < 0
    wanted = s >= t if sign == ">" else s <= t
    return Lemma(f"over the reals, for gamma {sign} 0, y(s) >= 0 exactly when s "
                 f"{'>=' if sign == '>' else '<='} t*", (y >= 0) == wanted,
                 z3.And(bn.admissible, slope, bn.preactivation_is(y, s), bn.root_is(t)),
                 "QF_NRA")


@theorem("PROOF-9", "FOLD-3: folding with gamma > 0")
def fold_positive_gamma() -> list[Lemma]:
    """Nonlinear real arithmetic at real ``s``; PROOF-7's lemma on ``D_n``."""
    return [_fold_real_lemma(">"), _canonical_lemma(GE)]


@theorem("PROOF-10", "FOLD-4: folding with gamma < 0")
def fold_negative_gamma() -> list[Lemma]:
    """Nonlinear real arithmetic at real ``s``; PROOF-7's lemma on ``D_n``."""
    return [_fold_real_lemma("<"), _canonical_lemma(LE)]


@theorem("PROOF-11", "FOLD-5: folding with gamma = 0")
def fold_zero_gamma() -> list[Lemma]:
    """Nonlinear real arithmetic; linear integer arithmetic for the constant unit."""
    bn, (s, y) = _BatchNorm(), z3.Reals("s y")
    n, acc, domain = _accumulator_in_domain()
    level = z3.Real("c")
    constant = z3.If(level >= 0, -n, n + 2)
    return [
        Lemma("for gamma = 0, y(s) = beta + o at every s", y == bn.beta + bn.offset,
              z3.And(bn.admissible, bn.gamma == 0, bn.preactivation_is(y, s)), "QF_NRA"),
        Lemma("the constant unit of beta + o = c gives [c >= 0] on D_n",
              z3.And(twins.unit_bit(GE, constant, acc) == (level >= 0),
                     twins.is_canonical(GE, constant, n)), domain, "QF_LIRA"),
    ]


@theorem("PROOF-12", "FOLD-6: ties, and where the published folds fail")
def fold_ties_and_published_folds() -> list[Lemma]:
    """Nonlinear real arithmetic for the tie; linear integer/real arithmetic with floor for the
    published folds."""
    bn, (real_s, y, root) = _BatchNorm(), z3.Reals("s y t")
    n, s, domain = _accumulator_in_domain()
    t, ti = z3.Real("t"), z3.Int("ti")
    at = z3.ToReal(s)
    strict_c = twins.floor(-t) + 1
    vendor = (s + n) / 2 >= twins.trunc(z3.ToReal(ti + n) / 2)
    return [
        Lemma("a tie y(s) = 0 is at the root: s = t*", real_s == root,
              z3.And(bn.admissible, bn.gamma != 0, bn.preactivation_is(y, real_s),
                     bn.root_is(root), y == 0), "QF_NRA"),
        Lemma("the canonical units of s >= t and s <= t give 1 at s = t in D_n",
              z3.And(twins.unit_bit(*twins.canonical_unit(GE, at, n), s),
                     twins.unit_bit(*twins.canonical_unit(LE, at, n), s)), domain, "QF_LIRA"),
        Lemma("strict fold, gamma > 0: [s >= -floor(-t)] is [s >= t]",
              (s >= -twins.floor(-t)) == (at >= t), logic="QF_LIRA"),
        Lemma("strict fold, gamma < 0: [s <= -(floor(-t) + 1)] is wrong exactly at s = t",
              ((s <= -strict_c) != (at <= t)) == (at == t), logic="QF_LIRA"),
        Lemma("truncation: [s >= trunc(t)] is wrong exactly at s = floor(t) for a positive "
              "non-integer t",
              ((s >= twins.trunc(t)) != (at >= t))
              == z3.And(t > 0, twins.floor(t) != t, s == twins.floor(t)), logic="QF_LIRA"),
        Lemma("halving: the popcount threshold trunc((t + n)/2) is wrong exactly at s = t - 1 "
              "for odd positive t + n",
              (vendor != (s >= ti)) == z3.And(ti + n > 0, (ti + n) % 2 == 1, s == ti - 1),
              domain, "QF_LIRA"),
        Lemma("one formula for both signs: [s >= ceil(t)] agrees with [s <= t] only at s = t",
              at == t, (s >= twins.ceil(t)) == (at <= t), "QF_LIRA"),
    ]


@theorem("PROOF-13", "multi-slice bits are a thermometer code")
def thermometer_code() -> list[Lemma]:
    """Linear real arithmetic for the slice bits; nonlinear real arithmetic for the roots."""
    z, o1, o2 = z3.Reals("z o1 o2")
    lemmas = [Lemma("o1 < o2: [z + o1 >= 0] implies [z + o2 >= 0]",
                    z3.Implies(*twins.slice_bits(z, [o1, o2])), o1 < o2, "QF_LRA")]
    for k in range(1, 9):
        offsets = z3.Reals(" ".join(f"o{j}_{k}" for j in range(1, k + 1)))
        slice_bits = twins.slice_bits(z, offsets)
        count = z3.Sum([z3.If(b, 1, 0) for b in slice_bits])
        lemmas.append(Lemma(f"k = {k}: the bits are the thermometer code of their count",
                            z3.And([b == (j > k - count) for j, b in enumerate(slice_bits, 1)]),
                            z3.And([offsets[j] < offsets[j + 1] for j in range(k - 1)]),
                            "QF_LIRA"))
    bn = _BatchNorm()
    t1, t2 = z3.Reals("t1 t2")
    roots = z3.And(bn.admissible, o1 < o2, bn.root_is(t1, o1), bn.root_is(t2, o2))
    lemmas += [
        Lemma("gamma > 0: the root falls as the offset rises", t2 < t1,
              z3.And(roots, bn.gamma > 0), "QF_NRA"),
        Lemma("gamma < 0: the root rises with the offset", t2 > t1,
              z3.And(roots, bn.gamma < 0), "QF_NRA"),
    ]
    return lemmas


@theorem("PROOF-14", "POOL-2: max pooling before BatchNorm-sign")
def maxpool_before_bn_sign() -> list[Lemma]:
    """Nonlinear real arithmetic for the real window; linear integer arithmetic for the units."""
    bn = _BatchNorm()
    window = z3.Reals("s1 s2 s3 s4")
    ys, pooled = z3.Reals("y1 y2 y3 y4"), z3.Real("y_max")
    pooled_input = twins.window_max([bn.alpha * s + bn.bias for s in window])
    bits = [y >= 0 for y in ys]
    lemmas = [
        Lemma("max commutes with s -> alpha*s + b for alpha > 0",
              pooled_input == bn.alpha * twins.window_max(window) + bn.bias, bn.alpha > 0,
              "QF_NRA"),
        Lemma("the pooled bit is the OR (gamma > 0), AND (gamma < 0) or common value "
              "(gamma = 0) of the bits",
              (pooled >= 0) == z3.If(bn.gamma > 0, z3.Or(bits),
                                     z3.If(bn.gamma < 0, z3.And(bits), bits[0])),
              z3.And(bn.admissible,
                     pooled * bn.sigma == bn.gamma * (pooled_input - bn.mean)
                     + (bn.beta + bn.offset) * bn.sigma,
                     *[bn.preactivation_is(y, s) for y, s in zip(ys, window, strict=True)]),
              "QF_NRA"),
    ]
    n, _, _ = _accumulator_in_domain()
    polarity, threshold = z3.Ints("polarity threshold")
    for size in (2, 4):
        accs = z3.Ints(" ".join(f"s{i}_{size}" for i in range(1, size + 1)))
        lemmas.append(Lemma(
            f"window of {size}: the unit's bit at the max is the OR (polarity 1) or AND "
            "(polarity 0) of its bits",
            twins.unit_bit(polarity, threshold, twins.window_max(accs))
            == twins.threshold_maxpool(accs, polarity, threshold),
            z3.And(n >= 1, twins.is_canonical(polarity, threshold, n),
                   *[twins.in_domain(s, n) for s in accs]), "QF_LIA"))
    return lemmas


def _pm1(bit: z3.BoolRef) -> z3.ArithRef:
    return z3.If(bit, z3.RealVal(1), z3.RealVal(-1))


def _gates_on_binary_values() -> list[Lemma]:
    x, r = z3.Bools("x r")
    pair = (_pm1(x), _pm1(r))
    return [Lemma("on {-1, +1}**2: x*r is XNOR, both OR formulas are OR",
                  z3.And(twins.surrogate_xnor(*pair) == _pm1(twins.logic_xnor(x, r)),
                         twins.surrogate_or(*pair) == _pm1(twins.logic_or(x, r)),
                         twins.paper_or(*pair) == _pm1(twins.logic_or(x, r))), logic="QF_NRA")]


@theorem("PROOF-15", "LOGIC: the shortcut formulas on binary and ternary values")
def logic_shortcuts() -> list[Lemma]:
    """Finite real arithmetic."""
    x, r = z3.Reals("x r")
    ternary = z3.And(z3.Or(x == -1, x == 0, x == 1), z3.Or(r == -1, r == 0, r == 1))
    xnor, gate_or = twins.surrogate_xnor(x, r), twins.surrogate_or(x, r)
    zero_or = z3.If(z3.Or(x == -1, r == -1), z3.RealVal(0), z3.RealVal(1))
    return [
        *_gates_on_binary_values(),
        Lemma("XNOR with a 0 operand is 0", xnor == 0, z3.And(ternary, z3.Or(x == 0, r == 0)),
              "QF_NRA"),
        Lemma("OR(0, -1) = 0, OR(0, +1) = +1, OR(0, 0) = +1, either order", gate_or == zero_or,
              z3.And(ternary, z3.Or(x == 0, r == 0)), "QF_NRA"),
        Lemma("the two OR formulas agree on {-1, 0, 1}**2 and stay in it",
              z3.And(twins.paper_or(x, r) == gate_or, z3.Or(gate_or == -1, gate_or == 0,
                                                            gate_or == 1),
                     z3.Or(xnor == -1, xnor == 0, xnor == 1)), ternary, "QF_NRA"),
    ]


@theorem("PROOF-16", "C1: forward surrogates on their binary domain")
def surrogates_on_binary_domain() -> list[Lemma]:
    """Nonlinear real arithmetic."""
    bit, (x, temperature) = z3.Bool("b"), z3.Reals("x T")
    value = _pm1(bit)
    return [
        Lemma("clamp(x, -1, 1) = x = sign(x) on {-1, +1}",
              z3.And(twins.hardtanh(value) == value, twins.spec_sign(value) == value),
              logic="QF_NRA"),
        Lemma("hardtanh(x/T) = sign(x) on {-1, +1} for 0 < T <= 1",
              twins.progressive_forward(value, temperature) == twins.spec_sign(value),
              z3.And(temperature > 0, temperature <= 1), "QF_NRA"),
        Lemma("hardtanh(x/T) = sign(x) where |x| >= T",
              twins.progressive_forward(x, temperature) == twins.spec_sign(x),
              z3.And(temperature > 0, z3.Or(x >= temperature, x <= -temperature)), "QF_NRA"),
        *_gates_on_binary_values(),
    ]


def _between(x, h, point) -> z3.BoolRef:
    """``point`` lies in the closed interval between ``x`` and ``x + h``."""
    return z3.And(z3.If(h >= 0, x, x + h) <= point, point <= z3.If(h >= 0, x + h, x))


def _affine_between_kinks(what: str, forward, gradient, kinks, hypothesis=True) -> Lemma:
    """``gradient`` is the derivative of ``forward`` wherever no kink lies between ``x`` and
    ``x + h``: the forward is affine there with slope ``gradient(x)``."""
    x, h = z3.Reals("x h")
    return Lemma(f"{what}: f(x + h) - f(x) = g(x)*h when no kink lies between x and x + h",
                 forward(x + h) - forward(x) == gradient(x) * h,
                 z3.And(hypothesis, *[z3.Not(_between(x, h, kink)) for kink in kinks]), "QF_NRA")


def _clarke_at_kink(what: str, forward, gradient, kink, left: int, right: int,
                    reach: int) -> Lemma:
    """The one-sided slopes of ``forward`` at ``kink`` are ``left`` and ``right`` within
    ``reach``, and ``gradient(kink)`` lies in their convex hull, the Clarke subdifferential."""
    h = z3.Real("h")
    low, high = min(left, right), max(left, right)
    return Lemma(f"{what}: one-sided slopes {left} and {right} at the kink, g there in "
                 f"[{low}, {high}]",
                 z3.And(forward(kink + h) - forward(kink) == right * h,
                        forward(kink - h) - forward(kink) == -left * h,
                        gradient(kink) >= low, gradient(kink) <= high),
                 z3.And(h > 0, h < reach), "QF_NRA")


def _derivative_lemmas(what: str, forward, gradient, kinks) -> list[Lemma]:
    """:func:`_affine_between_kinks` and :func:`_clarke_at_kink` for kinks
    ``(point, left slope, right slope, reach)``."""
    return [_affine_between_kinks(what, forward, gradient, [k[0] for k in kinks]),
            *[_clarke_at_kink(f"{what} at {k[0]}", forward, gradient, *k) for k in kinks]]


@theorem("PROOF-17", "C2: straight-through gradients are Clarke derivatives")
def ste_gradients() -> list[Lemma]:
    """Nonlinear real arithmetic: the forward is affine with slope g between kinks."""
    offset, r = z3.Reals("o r")
    return [
        *_derivative_lemmas("clamp(x, -1, 1)", twins.hardtanh, twins.ste_gradient,
                            [(-1, 0, 1, 2), (1, 1, 0, 2)]),
        *_derivative_lemmas("GhostSign clamp(x + o, -1, 1)",
                            lambda x: twins.hardtanh(x + offset),
                            lambda x: twins.ste_gradient(x + offset),
                            [(-1 - offset, 0, 1, 2), (1 - offset, 1, 0, 2)]),
        *_derivative_lemmas("OR in x", lambda x: twins.surrogate_or(x, r),
                            lambda x: twins.or_gradient(x, r),
                            [(-r - 2, 0, 1, 2), (-r, 1, 0, 2)]),
        *_derivative_lemmas("XNOR in x", lambda x: twins.surrogate_xnor(x, r),
                            lambda x: twins.xnor_gradient(x, r), []),
    ]


@theorem("PROOF-18", "C3: hardtanh(x/T) tends to sign(x), L1 distance T")
def progressive_limit() -> list[Lemma]:
    """Nonlinear real arithmetic for the integrand; its integral is a sum of trapezoids."""
    x, temperature = z3.Reals("x T")
    gap = twins.progressive_forward(x, temperature) - twins.spec_sign(x)
    distance = z3.If(gap >= 0, gap, -gap)
    on_unit = z3.And(temperature > 0, temperature <= 1)
    return [
        Lemma("hardtanh(x/T) = sign(x) once 0 < T <= |x|",
              twins.progressive_forward(x, temperature) == twins.spec_sign(x),
              z3.And(x != 0, temperature > 0, z3.Or(temperature <= x, temperature <= -x)),
              "QF_NRA"),
        Lemma("|hardtanh(x/T) - sign(x)| = 1 - |x|/T on 0 < |x| < T",
              distance * temperature == temperature - z3.If(x >= 0, x, -x),
              z3.And(on_unit, x != 0, x > -temperature, x < temperature), "QF_NRA"),
        Lemma("|hardtanh(x/T) - sign(x)| = 0 on T <= |x| <= 1", distance == 0,
              z3.And(on_unit, x >= -1, x <= 1, z3.Or(x >= temperature, x <= -temperature)),
              "QF_NRA"),
        Lemma("two triangles of height 1 and base T and two flat pieces sum to T",
              2 * (temperature * (1 + 0) / 2) + 2 * ((1 - temperature) * (0 + 0) / 2)
              == temperature, on_unit, "QF_NRA"),
    ]


@theorem("PROOF-19", "C4: sign(hardtanh(x/T)) = sign(x)")
def sign_ignores_temperature() -> list[Lemma]:
    """Nonlinear real arithmetic."""
    x, temperature = z3.Reals("x T")
    forward = twins.progressive_forward(x, temperature)
    return [Lemma("for T > 0: the spec's sign and torch.sign of hardtanh(x/T) are those of x",
                  z3.And(twins.spec_sign(forward) == twins.spec_sign(x),
                         twins.torch_sign(forward) == twins.torch_sign(x)),
                  temperature > 0, "QF_NRA")]


@theorem("PROOF-20", "deviation: the progressive gradient ignores T")
def progressive_gradient_deviation() -> list[Lemma]:
    """Nonlinear real arithmetic; the counterexample is a witness z3 finds."""
    temperature = z3.Real("T")
    positive = temperature > 0

    def derivative(x):
        return z3.If(z3.And(x > -temperature, x < temperature), 1 / temperature, 0)

    def differs(x):
        kink = z3.Or(x == temperature, x == -temperature)
        return z3.And(z3.Not(kink), twins.ste_gradient(x) != derivative(x))

    x = z3.Real("x")
    return [
        _affine_between_kinks("hardtanh(x/T)",
                              lambda v: twins.progressive_forward(v, temperature), derivative,
                              [temperature, -temperature], positive),
        Lemma("for every T != 1 the gradient differs from the derivative at x = 0 or "
              "x = (1 + T)/2", z3.Or(differs(z3.RealVal(0)), differs((1 + temperature) / 2)),
              z3.And(positive, temperature != 1), "QF_NRA"),
        Lemma("counterexample at T = 1/2", differs(x), temperature == z3.RealVal("1/2"),
              "QF_NRA", exists=True),
        *[Lemma(f"at T = 1/2, x = {x}: gradient {gradient}, derivative {slope}",
                z3.And(twins.ste_gradient(x) == gradient, derivative(x) == slope),
                temperature == z3.RealVal("1/2"), "QF_NRA")
          for x, gradient, slope in ((z3.RealVal("3/4"), 1, 0), (z3.RealVal("1/4"), 1, 2))],
    ]
