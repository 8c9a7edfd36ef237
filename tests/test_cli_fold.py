"""The ``boolnet-spec fold`` command: JSON units against the decimal oracle, and its errors."""

import io
import json
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from naive.fold import bn_sign_bits, nearest_float32
from naive.threshold import canonical_unit_of_bits, unit_bits

from boolnet_spec.cli import main

ROOT = Path(__file__).resolve().parent.parent


def authors_offsets(slices: int) -> list[float]:
    """SLICE-1 written out: fl32(fl64(1/(k+1)) * i) for i = -k..-1, 1..k; one slice gives 0."""
    if slices == 1:
        return [0.0]
    k = slices // 2
    step = 1.0 / (k + 1)
    return [float(np.float32(step * i)) for i in [*range(-k, 0), *range(1, k + 1)]]


def float32_of(text: str) -> float:
    """The float32 a decimal denotes, rounded by the oracle from the decimal's exact value."""
    return nearest_float32(Fraction(Decimal(text)))


@st.composite
def decimal_strings(draw, low: int = -12, high: int = 12, signed: bool = True) -> str:
    """Decimal literals: 1 to 40 digits, plain or with an exponent, signs and negative zero."""
    if draw(st.integers(0, 11)) == 0:
        return draw(st.sampled_from(["0", "-0", "+0.0", "-0.000e5", "0e-7", ".0", "0."]))
    sign = draw(st.sampled_from(["", "-", "+"] if signed else ["", "+"]))
    digits = draw(st.sampled_from("123456789")) + draw(st.text("0123456789", max_size=39))
    exponent = draw(st.integers(low, high))
    if draw(st.booleans()):
        marker = draw(st.sampled_from(["e", "E"]))
        return f"{sign}{digits[0]}.{digits[1:]}{marker}{exponent}"
    point = 1 + exponent
    if point <= 0:
        body = "0." + "0" * -point + digits
    elif point >= len(digits):
        body = digits + "0" * (point - len(digits))
    else:
        body = f"{digits[:point]}.{digits[point:]}"
    return sign + body


@st.composite
def fold_commands(draw) -> tuple[list[str], dict]:
    """An argv for ``fold --json`` and the plain parameters the oracle reads from it."""
    n = draw(st.integers(1, 24))
    gamma = draw(decimal_strings(-4, 4))
    var = draw(decimal_strings(-6, 6, signed=False))
    mean = draw(decimal_strings(-3, 2))
    beta = draw(decimal_strings(-3, 1))
    alpha = draw(decimal_strings(-3, 3, signed=False).filter(lambda t: float32_of(t) > 0))
    bias = draw(decimal_strings(-3, 1))
    argv = ["fold", f"--gamma={gamma}", f"--beta={beta}", f"--mean={mean}", f"--var={var}",
            f"--n={n}", f"--alpha={alpha}", f"--bias={bias}", "--json"]
    eps = 1e-5
    if draw(st.booleans()):
        eps_text = draw(decimal_strings(-9, -1, signed=False).filter(lambda t: float(t) > 0))
        argv.append(f"--eps={eps_text}")
        eps = float(eps_text)
    if draw(st.booleans()):
        slices = draw(st.sampled_from([1, 2, 4, 6]))
        argv.append(f"--slices={slices}")
        offsets = authors_offsets(slices)
    else:
        texts = draw(st.lists(decimal_strings(-3, 0), min_size=1, max_size=3))
        argv.append("--offsets=" + ",".join(texts))
        offsets = [float32_of(text) for text in texts]
    params = {"gamma": float32_of(gamma), "beta": float32_of(beta), "mean": float32_of(mean),
              "var": float32_of(var), "eps": eps, "alpha": float32_of(alpha),
              "bias": float32_of(bias)}
    return argv, {"n": n, "offsets": offsets, "params": params}


def run_json(capsys, argv):
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return json.loads(out)


@pytest.mark.req("EXACT-1", "FOLD-2", "FOLD-8", "THR-2")
@given(fold_commands())
def test_json_units_agree_with_the_oracle_at_every_s(command):
    argv, expected = command
    n = expected["n"]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        assert main(argv) == 0
    assert err.getvalue() == ""
    result = json.loads(out.getvalue())
    assert set(result) == {"n", "slices"}
    assert result["n"] == n
    assert len(result["slices"]) == len(expected["offsets"])
    for row, offset in zip(result["slices"], expected["offsets"], strict=True):
        assert set(row) == {"offset", "cmp", "t"}
        assert row["offset"] == offset
        assert row["cmp"] in (">=", "<=")
        assert type(row["t"]) is int
        bits = bn_sign_bits(**expected["params"], n=n, offset=offset)
        unit = (1 if row["cmp"] == ">=" else 0, row["t"])
        assert unit_bits(*unit, n) == bits
        assert unit == canonical_unit_of_bits(bits, n)


@pytest.mark.req("SLICE-1", "FOLD-2")
def test_slices_4_uses_the_authors_offsets(capsys):
    result = run_json(capsys, ["fold", "--gamma=1", "--beta=0", "--mean=0", "--var=1",
                               "--eps=0", "--alpha=0.125", "--n=8", "--slices=4", "--json"])
    assert result == {"n": 8, "slices": [
        {"offset": authors_offsets(4)[0], "cmp": ">=", "t": 6},
        {"offset": authors_offsets(4)[1], "cmp": ">=", "t": 4},
        {"offset": authors_offsets(4)[2], "cmp": ">=", "t": -2},
        {"offset": authors_offsets(4)[3], "cmp": ">=", "t": -4},
    ]}
    assert authors_offsets(4)[0] == float(np.float32(-2 / 3))


@pytest.mark.req("EXACT-1", "FOLD-6")
def test_decimal_just_above_a_float32_midpoint_is_not_double_rounded(capsys):
    # 1 + 2**-24 + 2**-80 is nearest to 1 + 2**-23; float64 then float32 would give 1.0
    mean = str(Decimal(1) + Decimal(2) ** -24 + Decimal(2) ** -80)
    assert np.float32(float(mean)) == np.float32(1.0)
    argv = ["fold", "--gamma=1", "--beta=0", "--var=1", "--eps=0", "--n=1", "--json"]
    # y = s - mean over D_1 = {-1, 1}: s = 1 is a tie (bit 1) only if the mean were 1.0
    above = run_json(capsys, [*argv, f"--mean={mean}"])["slices"][0]
    assert above == {"offset": 0.0, "cmp": ">=", "t": 3}
    tie = run_json(capsys, [*argv, "--mean=1"])["slices"][0]
    assert tie == {"offset": 0.0, "cmp": ">=", "t": 1}


@pytest.mark.req("FOLD-5", "FOLD-7", "ENC-2")
def test_table_names_constant_channels(capsys):
    argv = ["fold", "--gamma=-0", "--beta=0", "--mean=5", "--var=1", "--n=4",
            "--offsets=0,-0.5,1e-30"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[0].startswith("n = 4: s in D_n")
    assert [line.split()[-2:] for line in lines[2:]] == [["constant", "1"], ["constant", "0"],
                                                         ["constant", "1"]]
    assert main(["fold", "--gamma=1", "--beta=0", "--mean=1", "--var=1", "--n=4"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("1 iff s >= 2")


BAD_ARGUMENTS = [
    (["--gamma=nan"], "--gamma", "EXACT-1"),
    (["--gamma=-inf"], "--gamma", "EXACT-1"),
    (["--beta=Infinity"], "--beta", "EXACT-1"),
    (["--mean=1e39"], "--mean", "EXACT-1"),
    (["--gamma=340282356779733661637539395458142568448"], "--gamma", "EXACT-1"),
    (["--gamma=abc"], "--gamma", "EXACT-1"),
    (["--bias=1,5"], "--bias", "EXACT-1"),
    (["--gamma="], "--gamma", "EXACT-1"),
    (["--offsets=0,nan"], "--offsets", "EXACT-1"),
    (["--var=-1"], "--var/--eps", "BN-2"),
    (["--var=0", "--eps=0"], "--var/--eps", "BN-2"),
    (["--var=1e-6", "--eps=-1e-5"], "--var/--eps", "BN-2"),
    (["--eps=nan"], "--eps", "BN-2"),
    (["--eps=1e400"], "--eps", "BN-2"),
    (["--eps=tiny"], "--eps", "BN-2"),
    (["--n=0"], "--n", "ACC-3"),
    (["--n=40000"], "--n", "ACC-3"),
    (["--alpha=0"], "--alpha", "FOLD-1"),
    (["--alpha=-0"], "--alpha", "FOLD-1"),
    (["--alpha=-2"], "--alpha", "FOLD-1"),
    (["--alpha=1e-50"], "--alpha", "FOLD-1"),
    (["--slices=3"], "slices", "SLICE-1"),
]


@pytest.mark.req("ERR-1", "EXACT-1", "BN-2", "ACC-3", "FOLD-1")
@pytest.mark.parametrize("overrides, flag, label", BAD_ARGUMENTS,
                         ids=[" ".join(case[0]) for case in BAD_ARGUMENTS])
def test_invalid_parameters_exit_2_with_one_line(capsys, overrides, flag, label):
    defaults = {"--gamma": "1", "--beta": "0", "--mean": "0", "--var": "1", "--n": "3"}
    given_flags = {item.split("=")[0] for item in overrides}
    argv = ["fold", *[f"{k}={v}" for k, v in defaults.items() if k not in given_flags],
            *overrides, "--json"]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1
    assert err.startswith(f"boolnet-spec fold: error: {flag}: expected ")
    assert err.rstrip().endswith(f"[{label}]")


@pytest.mark.req("EXACT-1")
def test_largest_float32_decimal_is_accepted(capsys):
    below = str(2**128 - 2**103 - 1)
    result = run_json(capsys, ["fold", f"--gamma={below}", "--beta=0", "--mean=0", "--var=1",
                               "--n=3", "--json"])
    assert result["slices"][0] == {"offset": 0.0, "cmp": ">=", "t": 1}


@pytest.mark.req("ACC-3")
def test_non_integer_n_is_a_one_line_error(capsys):
    assert main(["fold", "--gamma=1", "--beta=0", "--mean=0", "--var=1", "--n=2.5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("boolnet-spec fold: error: --n: expected an integer") and "[ACC-3]" in err


@pytest.mark.req("FOLD-8", "EXACT-1")
def test_console_script_runs_in_a_fresh_interpreter(capsys):
    argv = ["fold", "--gamma=-0.75", "--beta=0.1", "--mean=1.5", "--var=0.3", "--n=9",
            "--alpha=0.02", "--bias=0.01", "--slices=4", "--json"]
    completed = subprocess.run([sys.executable, "-m", "boolnet_spec", *argv], cwd=ROOT,
                               capture_output=True, text=True, timeout=60, check=False)
    assert (completed.returncode, completed.stderr) == (0, "")
    assert json.loads(completed.stdout) == run_json(capsys, argv)
