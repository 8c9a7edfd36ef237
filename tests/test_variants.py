"""The BN-variant prover: verdicts on the built-in variants, on the published folds, on variants
and folds it was not written for, the replay of what it finds, and the tutorial's code."""

import math
import re
import textwrap
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boolnet_spec.spec.prove_cli import load_variant
from boolnet_spec.spec.variants import (
    BUILTIN_VARIANTS,
    PLAIN_BN,
    PUBLISHED_FOLDS,
    Fold,
    Input,
    Param,
    Values,
    Variant,
    VariantError,
    ceil,
    floor,
    prove_variant,
    trunc,
    where,
)

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "spec" / "examples" / "tutorial_variant.py"
BN_PARAMS = (Param("gamma"), Param("beta"), Param("mean"), Param("sigma", positive=True))


def bn(s, p):
    return p.gamma * (s - p.mean) / p.sigma + p.beta


def plain_root(p):
    return p.mean - p.beta * p.sigma / p.gamma


def assert_confirmed(result):
    replay = result.counterexample["replay"]
    assert replay["confirmed"], replay
    return replay


EXPECTED = {"plain-bn": "proved", "affine-free-bn": "proved", "scaled-conv-bn": "proved",
            "rsign-shift": "proved", "bn-slice-offset": "proved",
            "bn-magnitude": "not-foldable", "local-adaptive-shift": "not-foldable"}


@pytest.mark.req("VARIANT-2", "VARIANT-3", "VARIANT-5")
@pytest.mark.parametrize("name", list(BUILTIN_VARIANTS))
def test_builtin_variant_verdicts(name):
    result = prove_variant(BUILTIN_VARIANTS[name])
    assert result.status == EXPECTED[name], result.to_json()
    if result.status == "proved":
        assert result.fold["source"] == "derived"
        assert {"a", "t", "y(0)"} <= set(result.fold)
    else:
        assert result.fold is None
        assert_confirmed(result)


@pytest.mark.req("VARIANT-2", "VARIANT-4")
def test_the_magnitude_variant_shows_three_points_whose_bits_are_not_monotone():
    result = prove_variant(BUILTIN_VARIANTS["bn-magnitude"])
    witness = result.counterexample
    s1, s2, s3 = witness["s"]
    assert s1 < s2 < s3
    assert witness["bits"] in ([1, 0, 1], [0, 1, 0])
    assert "not monotone" in result.reason


@pytest.mark.req("VARIANT-2", "VARIANT-4")
def test_local_adaptive_shifting_depends_on_its_second_input():
    result = prove_variant(BUILTIN_VARIANTS["local-adaptive-shift"])
    witness = result.counterexample
    assert sorted(witness["bits"]) == [0, 1]
    assert witness["inputs"][0]["q"] != witness["inputs"][1]["q"]
    assert "input q" in result.reason


@pytest.mark.req("VARIANT-3")
def test_derived_folds_read_like_the_formulas():
    fold = prove_variant(PLAIN_BN).fold
    assert fold["a"] == "gamma/sigma"
    assert fold["t"] == "(gamma*mean - beta*sigma)/gamma"
    assert prove_variant(BUILTIN_VARIANTS["affine-free-bn"]).fold["t"] == "mean"


@pytest.mark.req("VARIANT-3", "VARIANT-4", "VARIANT-5")
@pytest.mark.parametrize("key", list(PUBLISHED_FOLDS))
def test_published_folds(key):
    variant, fold, expected = PUBLISHED_FOLDS[key]
    result = prove_variant(variant.with_fold(fold))
    assert result.status == expected, result.to_json()
    assert result.fold["source"] == "claimed"
    if expected == "counterexample":
        replay = assert_confirmed(result)
        assert any(via.startswith("reference.exact.ge_times_sqrt") for via in replay["via"])
        witness = result.counterexample
        assert witness["bit"] != witness["fold_bit"]
        for value in witness["params"].values():
            assert float(Fraction(value["exact"])) == float(value["decimal"])


@pytest.mark.req("VARIANT-3", "VARIANT-4")
def test_the_strict_fold_fails_at_a_tie_with_negative_gamma():
    variant, fold, _ = PUBLISHED_FOLDS["strict-floor"]
    witness = prove_variant(variant.with_fold(fold)).counterexample
    assert witness["y"]["exact"] == "0"
    assert Fraction(witness["params"]["gamma"]["exact"]) < 0
    assert (witness["bit"], witness["fold_bit"]) == (1, 0)


# Variants and folds the prover was not written for.

@pytest.mark.req("VARIANT-2", "VARIANT-3", "VARIANT-9")
def test_a_monotone_cubic_folds_and_its_threshold_is_evaluated_per_channel():
    cubic = Variant("cubic", BN_PARAMS, lambda s, p: p.gamma * (s - p.mean) ** 3 + p.beta)
    result = prove_variant(cubic)
    assert result.status == "proved", result.to_json()
    assert "bisection" in result.fold["rule"]
    row = {"gamma": -2, "beta": "1/3", "mean": "5/2", "sigma": 1, "n": 9}
    [(polarity, threshold)] = result.units(row)
    bits = [-2 * (Fraction(s) - Fraction(5, 2)) ** 3 + Fraction(1, 3) >= 0
            for s in range(-9, 10, 2)]
    assert bits == [(s >= threshold) if polarity else (s <= threshold) for s in range(-9, 10, 2)]


@pytest.mark.req("VARIANT-2")
def test_a_non_monotone_pre_activation_with_monotone_bits_folds():
    # |s - mean| is not monotone in s, but its sign bit is constant 1.
    result = prove_variant(Variant("magnitude", BN_PARAMS, lambda s, p: abs(s - p.mean)))
    assert result.status == "proved", result.to_json()


@pytest.mark.req("VARIANT-2", "VARIANT-4")
def test_a_quadratic_does_not_fold():
    quadratic = Variant("quadratic", (Param("mean"), Param("r", positive=True)),
                        lambda s, p: (s - p.mean) * (s - p.mean) - p.r)
    result = prove_variant(quadratic)
    assert result.status == "not-foldable"
    assert result.counterexample["bits"] == [1, 0, 1]
    assert_confirmed(result)


@pytest.mark.req("VARIANT-2", "VARIANT-3")
def test_an_input_that_cannot_change_the_sign_does_not_prevent_folding():
    variant = Variant("scaled by q**2 + 1", (Param("mean"),),
                      lambda s, p: (s - p.mean) * (p.q * p.q + 1), inputs=[Input("q")])
    result = prove_variant(variant)
    assert result.status == "proved", result.to_json()


@pytest.mark.req("VARIANT-3", "VARIANT-4")
def test_a_threshold_that_divides_by_zero_where_it_is_used_is_a_counterexample():
    no_zero_branch = Fold(direction=lambda p: p.gamma,
                          threshold=lambda p: where(p.gamma > 0, ceil(plain_root(p)),
                                                    floor(plain_root(p))))
    result = prove_variant(PLAIN_BN.with_fold(no_zero_branch))
    assert result.status == "counterexample"
    assert result.counterexample["params"]["gamma"]["exact"] == "0"
    assert "undefined" in result.counterexample["fold_bit"]
    assert_confirmed(result)


@pytest.mark.req("VARIANT-3")
def test_a_fold_on_d_n_with_the_popcount_threshold_is_proved_and_without_parity_it_is_not():
    positive = (Param("gamma", positive=True), *BN_PARAMS[1:])
    on_dn = Variant("bn on D_n", positive, bn, domain="D_n")
    halved = Fold(direction=lambda p: True,
                  threshold=lambda p: 2 * ceil((ceil(plain_root(p)) + p.n) / 2) - p.n)
    assert prove_variant(on_dn.with_fold(halved)).status == "proved"
    on_integers = Variant("bn on every integer", positive, bn)
    wrong_there = prove_variant(on_integers.with_fold(Fold(
        direction=lambda p: True,
        threshold=lambda p: 2 * ceil((ceil(plain_root(p)) + 7) / 2) - 7)))
    assert wrong_there.status == "counterexample"


@pytest.mark.req("VARIANT-1")
@pytest.mark.parametrize(("variant", "message"), [
    (Variant("divides", (Param("gamma"), Param("sigma")), lambda s, p: p.gamma * s / p.sigma),
     "division by zero"),
    (Variant("typo", BN_PARAMS, lambda s, p: p.gama * s), "declares no parameter or input 'gama'"),
    (Variant("bool", BN_PARAMS, lambda s, p: s >= p.mean), "a number or an arithmetic"),
    (Variant("empty", (Param("x", positive=True, negative=True),), lambda s, p: s - p.x),
     "at least one admissible"),
    (Variant("twice", (Param("x"), Param("x")), lambda s, p: s - p.x), "distinct names"),
    (Variant("s", (Param("s"),), lambda s, p: s), "distinct names"),
    (Variant("domain", BN_PARAMS, bn, domain="naturals"), "domain"),
    (Variant("sqrt", BN_PARAMS, lambda s, p: math.sqrt(p.sigma) * s), "TypeError"),
])
def test_a_malformed_declaration_is_an_error(variant, message):
    with pytest.raises(VariantError, match=message) as error:
        prove_variant(variant)
    assert "[VARIANT-1]" in str(error.value)


@pytest.mark.req("VARIANT-1")
def test_expressions_evaluate_on_exact_values_too():
    p = Values("v", {"x": Fraction(-7, 2)})
    assert (ceil(p.x), floor(p.x), trunc(p.x), where(p.x < 0, 1, 2)) == (-3, -4, -3, 1)
    with pytest.raises(AttributeError, match="declares no parameter"):
        _ = p.y


# A family of claimed folds for y = k*gamma*(s - mean)/sigma + beta, checked against brute force.

@st.composite
def perturbed_folds(draw):
    k = draw(st.sampled_from([1, -1, 2]))
    flip = draw(st.booleans())
    offset = draw(st.sampled_from([0, 0, 1, -1]))
    rounding = draw(st.sampled_from(["ceil", "floor", "trunc", "exact"]))
    rounders = {"ceil": ceil, "floor": floor, "trunc": trunc,
                "exact": lambda x: where(x > 0, ceil(x), floor(x))}
    round_up, round_down = (rounders[rounding], floor) if rounding != "exact" else (ceil, floor)
    if rounding in ("floor", "trunc"):
        round_down = rounders[rounding]
    params = (Param("gamma", nonzero=True), *BN_PARAMS[1:])
    variant = Variant(f"k = {k}", params, lambda s, p: k * p.gamma * (s - p.mean) / p.sigma
                      + p.beta)

    def root(p):
        return p.mean - p.beta * p.sigma / (k * p.gamma)

    fold = Fold(direction=lambda p: -k * p.gamma if flip else k * p.gamma,
                threshold=lambda p: where(k * p.gamma > 0, round_up(root(p)),
                                          round_down(root(p))) + offset,
                name=f"flip {flip}, offset {offset}, {rounding}")
    return variant.with_fold(fold), draw(st.lists(st.tuples(
        st.integers(-8, 8).filter(bool), st.integers(-8, 8), st.integers(-8, 8),
        st.integers(1, 8)), min_size=20, max_size=20))


def brute_force_mismatch(variant, samples) -> bool:
    fold = variant.claimed_fold
    for gamma, beta, mean, sigma in samples:
        p = Values(variant.name, {"gamma": Fraction(gamma, 2), "beta": Fraction(beta, 2),
                                  "mean": Fraction(mean, 2), "sigma": Fraction(sigma, 2)})
        for s in range(-12, 13):
            truth = variant.preactivation(Fraction(s), p) >= 0
            direction = fold.direction(p)
            threshold = fold.threshold(p)
            bit = s >= threshold if direction >= 0 else s <= threshold
            if bit != truth:
                return True
    return False


@pytest.mark.req("VARIANT-3", "VARIANT-4", "VARIANT-5")
@settings(max_examples=25)
@given(perturbed_folds())
def test_verdicts_on_perturbed_folds_agree_with_brute_force(case):
    variant, samples = case
    result = prove_variant(variant)
    assert result.status in ("proved", "counterexample"), result.to_json()
    if result.status == "proved":
        assert not brute_force_mismatch(variant, samples)
    else:
        assert_confirmed(result)
    if brute_force_mismatch(variant, samples):
        assert result.status == "counterexample"


# The tutorial (docs/tutorial_variant.rst) shows spec/examples/tutorial_variant.py.

TUTORIAL_VERDICTS = {"scaled_shift": "proved", "first_try": "counterexample", "fixed": "proved",
                     "per_position_shift": "not-foldable"}


@pytest.mark.req("VARIANT-1", "VARIANT-2", "VARIANT-3")
@pytest.mark.parametrize("name", list(TUTORIAL_VERDICTS))
def test_the_tutorial_variants_get_the_verdicts_it_states(name):
    result = prove_variant(load_variant(f"{TUTORIAL}:{name}"))
    assert result.status == TUTORIAL_VERDICTS[name], result.to_json()
    if result.status != "proved":
        assert_confirmed(result)


@pytest.mark.req("VARIANT-5")
def test_the_tutorial_python_code_runs():
    text = (ROOT / "docs" / "tutorial_variant.rst").read_text(encoding="utf-8")
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", text)
    assert blocks
    for block in blocks:
        exec(textwrap.dedent(block), {})


def test_the_tutorial_includes_every_marked_section():
    text = (ROOT / "docs" / "tutorial_variant.rst").read_text(encoding="utf-8")
    source = TUTORIAL.read_text(encoding="utf-8")
    for section in ("declare", "claim", "fix", "input"):
        assert f"# [{section}]" in source and f"# [/{section}]" in source
        assert f":start-after: # [{section}]" in text
    for name, verdict in TUTORIAL_VERDICTS.items():
        assert f"tutorial_variant.py:{name}" in text
        assert verdict in text
