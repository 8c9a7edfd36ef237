"""The theorems of spec.theorems: each is proved, the prover reports what is not, a mutated twin
breaks the proofs that use it, and the committed report is current."""

import json
from pathlib import Path

import pytest

z3 = pytest.importorskip("z3")

from boolnet_spec.spec import theorems, twins
from boolnet_spec.spec.requirements import requirements
from boolnet_spec.spec.theorems import THEOREMS, Lemma, check_lemma, prove, prove_all

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "proofs-report.json"

pytestmark = [pytest.mark.req(
    "PROOF-1", "PROOF-2", "PROOF-3", "PROOF-4", "PROOF-5", "PROOF-6", "PROOF-7", "PROOF-8",
    "PROOF-9", "PROOF-10", "PROOF-11", "PROOF-12", "PROOF-13", "PROOF-14", "PROOF-15",
    "PROOF-16", "PROOF-17", "PROOF-18", "PROOF-19", "PROOF-20")]


@pytest.mark.parametrize("label", list(THEOREMS))
def test_theorem_is_proved(label):
    result = prove(THEOREMS[label], timeout_ms=30_000)
    assert result.status == "proved", result.to_json()
    assert all(lemma.status == "proved" for lemma in result.lemmas)


def test_every_theorem_is_a_stated_requirement_and_back():
    stated = {label for label, req in requirements().items()
              if req.module.startswith("boolnet_spec.spec.theorems.")}
    assert stated == set(THEOREMS)


def test_the_committed_report_is_current():
    """docs/proofs-report.json (rendered in the docs) lists every theorem, proved, with its
    current statement; regenerate it with ``boolnet-spec prove --json > docs/proofs-report.json``.
    Seconds are not compared."""
    report = json.loads(REPORT.read_text(encoding="utf-8"))["theorems"]
    statements = {label: req.text for label, req in requirements().items()}
    assert [row["id"] for row in report] == list(THEOREMS)
    for row in report:
        assert row["status"] == "proved", row["id"]
        assert row["statement"] == statements[row["id"]], f"{row['id']}: statement changed"
        assert row["name"] == THEOREMS[row["id"]].name


def test_a_false_lemma_gives_its_counterexample():
    n, s, t = z3.Int("n"), z3.Int("s"), z3.Real("t")
    wrong = Lemma("s >= floor(t) is s >= t", (s >= twins.floor(t)) == (z3.ToReal(s) >= t),
                  n >= 1, "QF_LIRA")
    result = check_lemma(wrong, 5000)
    assert result.status == "counterexample"
    model = result.model
    assert set(model) >= {"s", "t"}


def test_a_vacuous_lemma_is_not_proved():
    x = z3.Real("x")
    result = check_lemma(Lemma("anything from x < x", x == 7, x < x, "QF_LRA"), 5000)
    assert result.status == "unknown"
    assert "vacuous" in result.reason


def test_an_existential_lemma_without_witness_fails_and_with_one_shows_it():
    x = z3.Real("x")
    assert check_lemma(Lemma("x*x < 0", x * x < 0, logic="QF_NRA", exists=True),
                       5000).status == "counterexample"
    found = check_lemma(Lemma("x*x = 2", x * x == 2, x > 0, "QF_NRA", exists=True), 5000)
    assert found.status == "proved"
    assert "algebraic" in found.model["x"]


def test_a_query_that_times_out_is_unknown():
    a, v = z3.BitVecs("a v", 48)
    products = twins.pm1_products(a, v)
    hard = Lemma("the popcount identity at width 48 as one bit-blasted query",
                 z3.Sum([z3.SignExt(8, p) for p in products])
                 == 2 * twins.popcount_word(twins.xnor(a, v)) - 48,
                 logic="QF_BV")
    result = check_lemma(hard, 200)
    assert result.status == "unknown"
    assert result.reason


def test_an_exhausted_budget_makes_the_rest_unknown():
    results = prove_all(["PROOF-4", "PROOF-5"], budget_seconds=0.0)
    assert [r.status for r in results] == ["unknown", "unknown"]
    assert "budget" in results[0].lemmas[0].reason
    assert results[0].to_json()["reason"] == results[0].lemmas[0].reason


@pytest.mark.parametrize(("twin", "broken", "label"), [
    ("canonical_unit", lambda polarity, t, n: (z3.IntVal(polarity), twins.floor(t)), "PROOF-7"),
    ("ste_gradient", lambda x: z3.RealVal(1), "PROOF-17"),
    ("in_domain", lambda s, n: z3.And(-n <= s, s <= n), "PROOF-3"),
    ("surrogate_or", lambda x, r: z3.If(x > r, x, r) * 0, "PROOF-15"),
    ("fold_root_scaled", lambda gamma, beta, mean, sigma, alpha=1, bias=0, offset=0:
     gamma * mean - (beta + offset) * sigma, "PROOF-9"),
])
def test_a_broken_twin_breaks_its_theorem(monkeypatch, twin, broken, label):
    monkeypatch.setattr(twins, twin, broken)
    result = prove(THEOREMS[label], timeout_ms=10_000)
    assert result.status == "counterexample", result.to_json()
    assert "counterexample" in result.to_json()


def test_the_deviation_witness_is_a_real_counterexample():
    result = prove(THEOREMS["PROOF-20"])
    witness = result.to_json()["witnesses"]["counterexample at T = 1/2"]
    x = z3.RealVal(witness["x"].split()[0])
    temperature = z3.RealVal("1/2")
    gradient = z3.simplify(twins.ste_gradient(x))
    inside = z3.is_true(z3.simplify(z3.And(x > -temperature, x < temperature)))
    derivative = z3.RealVal(2) if inside else z3.RealVal(0)
    assert not z3.is_true(z3.simplify(gradient == derivative))


def test_results_are_structured():
    result = prove_all(["PROOF-4"])[0]
    row = result.to_json()
    assert set(row) == {"id", "name", "statement", "status", "seconds"}
    assert row["status"] in theorems.STATUSES
    assert row["statement"].startswith("The Int16 bound")
