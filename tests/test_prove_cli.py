"""The ``boolnet-spec prove`` command: JSON shapes, exit codes and its one-line load errors."""

import json
import textwrap

import pytest

z3 = pytest.importorskip("z3")

from boolnet_spec.cli import main
from boolnet_spec.spec import theorems
from boolnet_spec.spec.theorems import THEOREMS, Lemma, Theorem

VARIANT_KEYS = {"variant", "status", "fold", "counterexample", "reason", "seconds"}


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["prove", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def variant_file(tmp_path):
    def write(body: str, name: str = "variants.py"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(body), encoding="utf-8")
        return path
    return write


BN_FILE = """
    from boolnet_spec.spec.variants import Fold, Input, Param, Variant, ceil, floor, where

    params = [Param("gamma"), Param("beta"), Param("mean"), Param("sigma", positive=True)]

    def bn(s, p):
        return p.gamma * (s - p.mean) / p.sigma + p.beta

    def root(p):
        return p.mean - p.beta * p.sigma / p.gamma

    plain = Variant("plain", params, bn)
    strict = plain.with_fold(Fold(direction=lambda p: p.gamma,
                                  threshold=lambda p: where(p.gamma > 0, floor(root(p)) + 1,
                                                            ceil(root(p)) - 1),
                                  constant=lambda p: p.beta >= 0, name="strict"))
    shifted = Variant("shifted", params, lambda s, p: bn(s, p) + p.q, inputs=[Input("q")])
    not_a_variant = 42
    broken = Variant("broken", params, lambda s, p: p.nothing)
"""


@pytest.mark.req("PROVE-1")
def test_prove_json_lists_the_theorems(capsys):
    code, out, err = run(capsys, "--theorem", "PROOF-4", "--theorem", "PROOF-7", "--json")
    assert code == 0
    rows = json.loads(out)["theorems"]
    assert [row["id"] for row in rows] == ["PROOF-4", "PROOF-7"]
    for row in rows:
        assert set(row) == {"id", "name", "statement", "status", "seconds"}
        assert row["status"] == "proved"
        assert isinstance(row["seconds"], float)
    assert err == ""  # no progress bar when stderr is not a terminal


@pytest.mark.req("PROVE-1")
def test_prove_prints_one_line_per_theorem(capsys):
    code, out, _ = run(capsys, "--theorem", "PROOF-19")
    assert code == 0
    assert out.splitlines()[0].startswith("PROOF-19  proved")
    assert out.splitlines()[-1].startswith("1 of 1 theorems proved in")


@pytest.mark.req("PROVE-1")
def test_the_full_run_proves_every_theorem(capsys):
    code, out, _ = run(capsys, "--json")
    rows = json.loads(out)["theorems"]
    assert code == 0
    assert [row["id"] for row in rows] == list(THEOREMS)
    assert {row["status"] for row in rows} == {"proved"}


@pytest.mark.req("PROVE-1")
def test_a_theorem_that_fails_makes_the_run_fail(capsys, monkeypatch):
    x = z3.Int("x")
    false = Theorem("PROOF-4", "a false claim",
                    lambda: [Lemma("every integer is 3", x == 3, logic="QF_LIA")])
    monkeypatch.setitem(theorems.THEOREMS, "PROOF-4", false)
    code, out, _ = run(capsys, "--theorem", "PROOF-4", "--json")
    row = json.loads(out)["theorems"][0]
    assert code == 1
    assert row["status"] == "counterexample"
    assert row["lemma"] == "every integer is 3"
    assert row["counterexample"]["x"] != "3"
    code, out, _ = run(capsys, "--theorem", "PROOF-4")
    assert code == 1
    assert "lemma: every integer is 3" in out
    assert "0 of 1 theorems proved" in out


@pytest.mark.req("PROVE-1")
def test_an_unknown_theorem_label_is_an_error(capsys):
    code, out, err = run(capsys, "--theorem", "PROOF-99")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "PROOF-99" in err


@pytest.mark.req("PROVE-2")
def test_a_proved_variant_exits_0(capsys, variant_file):
    path = variant_file(BN_FILE)
    code, out, _ = run(capsys, f"--variant={path}:plain", "--json")
    result = json.loads(out)
    assert code == 0
    assert set(result) == VARIANT_KEYS
    assert (result["variant"], result["status"], result["counterexample"]) == \
        ("plain", "proved", None)
    assert result["fold"]["t"] == "(gamma*mean - beta*sigma)/gamma"
    code, out, _ = run(capsys, f"--variant={path}:plain")
    assert code == 0
    assert out.startswith("variant plain: proved")
    assert "t = (gamma*mean - beta*sigma)/gamma" in out


@pytest.mark.req("PROVE-2", "VARIANT-4")
def test_a_counterexample_exits_1_and_reads_as_exact_values(capsys, variant_file):
    path = variant_file(BN_FILE)
    code, out, _ = run(capsys, f"--variant={path}:strict", "--json")
    result = json.loads(out)
    assert code == 1
    assert set(result) == VARIANT_KEYS
    assert result["status"] == "counterexample"
    witness = result["counterexample"]
    assert set(witness) == {"params", "s", "y", "bit", "fold_bit", "replay"}
    assert witness["replay"]["confirmed"]
    assert set(witness["params"]["gamma"]) == {"exact", "decimal"}
    code, out, _ = run(capsys, f"--variant={path}:strict")
    assert code == 1
    assert "replay: confirmed by exact rationals" in out
    assert "gamma = " in out and "sign bit" in out


@pytest.mark.req("PROVE-2")
def test_a_variant_that_does_not_fold_exits_1(capsys, variant_file):
    path = variant_file(BN_FILE)
    code, out, _ = run(capsys, f"--variant={path}:shifted", "--json")
    result = json.loads(out)
    assert code == 1
    assert result["status"] == "not-foldable"
    assert result["fold"] is None
    assert "input q" in result["reason"]


@pytest.mark.req("PROVE-2", "VARIANT-1")
@pytest.mark.parametrize(("target", "body", "message"), [
    ("{dir}/missing.py:plain", None, "no such file"),
    ("{path}", BN_FILE, "the form PATH.py:NAME"),
    ("{path}:not a name", BN_FILE, "the form PATH.py:NAME"),
    ("{path}:nothing_here", BN_FILE, "nothing_here is nothing"),
    ("{path}:not_a_variant", BN_FILE, "is a int, not a Variant"),
    ("{path}:plain", "def broken(:\n", "SyntaxError"),
    ("{path}:plain", "raise SystemExit(3)\n", "SystemExit"),
    ("{path}:plain", "import no_such_module_here\n", "ModuleNotFoundError"),
    ("{path}:broken", BN_FILE, "declares no parameter or input 'nothing'"),
])
def test_a_file_that_cannot_be_loaded_exits_2(capsys, variant_file, tmp_path, target, body,
                                              message):
    path = variant_file(body) if body is not None else tmp_path / "variants.py"
    code, out, err = run(capsys, "--variant=" + target.format(dir=tmp_path, path=path), "--json")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("boolnet-spec prove: error: ")
    assert message in err


@pytest.mark.req("PROVE-2")
def test_a_variant_file_imports_a_helper_beside_it_and_the_import_state_is_restored(
        capsys, variant_file):
    import sys

    variant_file("""
        from boolnet_spec.spec.variants import Param

        PARAMS = [Param("gamma"), Param("beta"), Param("mean"), Param("sigma", positive=True)]
        """, name="bn_helper_14.py")
    path = variant_file("""
        from bn_helper_14 import PARAMS
        from boolnet_spec.spec.variants import Variant

        plain = Variant("plain", PARAMS, lambda s, p: p.gamma * (s - p.mean) / p.sigma + p.beta)
        """)
    saved_path, saved_modules = list(sys.path), set(sys.modules)
    code, out, _ = run(capsys, f"--variant={path}:plain", "--json")
    assert code == 0, out
    assert json.loads(out)["status"] == "proved"
    assert sys.path == saved_path
    assert "bn_helper_14" not in sys.modules
    assert not {name for name in set(sys.modules) - saved_modules
                if name.startswith(("bn_helper", "boolnet_variant_"))}


@pytest.mark.req("PROVE-3")
def test_units_prints_a_threshold_unit_per_row(capsys, variant_file, tmp_path):
    path = variant_file(BN_FILE)
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps([{"gamma": 1, "beta": 0, "mean": 0.5, "sigma": 1, "n": 3},
                                {"gamma": "-2", "beta": "1/3", "mean": 0, "sigma": 2, "n": 5},
                                {"gamma": 0, "beta": -1, "mean": 0, "sigma": 1, "n": 5}]))
    code, out, _ = run(capsys, f"--variant={path}:plain", f"--units={rows}", "--json")
    assert code == 0
    units = json.loads(out)["units"]
    # gamma = 1: s >= 1/2 on D_3 is (1, 1); gamma = -2: y >= 0 iff s <= 1/3, on D_5 (0, -1);
    # gamma = 0 with beta < 0: constant 0, (1, n + 2).
    assert [row["units"] for row in units] == [[{"polarity": 1, "threshold": 1}],
                                               [{"polarity": 0, "threshold": -1}],
                                               [{"polarity": 1, "threshold": 7}]]
    code, out, _ = run(capsys, f"--variant={path}:plain", f"--units={rows}")
    assert code == 0 and "row 1: (0, -1)" in out


@pytest.mark.req("PROVE-3")
@pytest.mark.parametrize(("argv", "message"), [
    (["--timeout=nan"], "--timeout"),
    (["--timeout=-1"], "--timeout"),
    (["--units=rows.json"], "--units: expected --variant"),
    (["--variant=v.py:plain", "--theorem", "PROOF-4"], "--theorem: expected no --variant"),
])
def test_bad_usage_exits_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and message in err


@pytest.mark.req("PROVE-3")
@pytest.mark.parametrize(("rows", "message"), [
    ("not json", "a readable JSON file"),
    ('{"gamma": 1}', "a JSON list of rows"),
    ('[{"gamma": 1, "beta": 0, "mean": 0, "sigma": -1, "n": 3}]', "row 0 sigma"),
    ('[{"gamma": 1, "beta": 0, "mean": 0, "sigma": 1}]', "row 0 n"),
])
def test_a_bad_rows_file_exits_2(capsys, variant_file, tmp_path, rows, message):
    path = variant_file(BN_FILE)
    rows_path = tmp_path / "rows.json"
    rows_path.write_text(rows)
    code, out, err = run(capsys, f"--variant={path}:plain", f"--units={rows_path}")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and message in err


@pytest.mark.req("ERR-3", "PROVE-2")
def test_prove_exit_codes_are_those_of_every_command(capsys, variant_file, monkeypatch):
    path = variant_file(BN_FILE)
    assert run(capsys, f"--variant={path}:plain")[0] == 0
    assert run(capsys, f"--variant={path}:strict")[0] == 1
    assert run(capsys, f"--variant={path}:broken")[0] == 2

    def crash(*args, **kwargs):
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr("boolnet_spec.spec.variants.prove_variant", crash)
    code, out, err = run(capsys, f"--variant={path}:plain")
    assert code == 3
    assert out == "" and "a bug of ours" in err
