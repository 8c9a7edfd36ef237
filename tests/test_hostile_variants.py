"""Class 6 of issue 12: whatever a variant file's own code raises, and whatever its declaration
holds, ``prove --variant`` answers with a typed one-line error (ERR-5, PROVE-2); ``--timeout``
is checked before any work."""

from __future__ import annotations

import textwrap

import pytest

pytest.importorskip("z3")

from hostile import assert_typed_error, run_cli

import boolnet_spec.spec.prove_cli as prove_cli

pytestmark = pytest.mark.req("ERR-5", "PROVE-2")

HEAD = """
    from boolnet_spec.spec.variants import Fold, Param, Variant

    params = [Param("gamma", positive=True), Param("beta")]
"""


def variant_file(tmp_path, body: str):
    path = tmp_path / "user_variant.py"
    path.write_text(textwrap.dedent(HEAD) + textwrap.dedent(body), encoding="utf-8")
    return path


@pytest.mark.parametrize("body", [
    'v = Variant("v", [Param(7)], lambda s, p: s)',
    'v = Variant("v", "gamma", lambda s, p: s)',
    'v = Variant("v", params, 3)',
    'v = Variant("v", params, lambda s, p: s, claimed_fold=Fold(1, 2))',
    'v = Variant(("v",), params, lambda s, p: s)',
])
def test_a_declaration_of_the_wrong_types_is_a_variant_error(tmp_path, capsys, body):
    path = variant_file(tmp_path, body)
    assert_typed_error(capsys, "prove", f"--variant={path}:v", fragments=("[VARIANT-1]",))


@pytest.mark.parametrize("body, raised", [
    ('v = Variant("v", params, lambda s, p: undefined_name * s)', "NameError"),
    ('v = Variant("v", params, lambda s, p: {}["k"])', "KeyError"),
    ('def deep(s, p):\n    return deep(s, p)\nv = Variant("v", params, deep)', "RecursionError"),
    ('def stop(s, p):\n    raise SystemExit(3)\nv = Variant("v", params, stop)', "SystemExit"),
    ('class Odd(Exception):\n    pass\ndef odd(s, p):\n    raise Odd("no")\n'
     'v = Variant("v", params, odd)', "Odd"),
    ('v = Variant("v", params, lambda s, p: s * p.gamma,\n'
     '            assumptions=lambda p: [][1])', "IndexError"),
])
def test_an_exception_in_user_code_is_a_variant_error(tmp_path, capsys, body, raised):
    path = variant_file(tmp_path, body)
    err = assert_typed_error(capsys, "prove", f"--variant={path}:v", "--timeout=2")
    assert raised in err or "VARIANT-1" in err, err


@pytest.mark.req("PROVE-1")
@pytest.mark.parametrize("timeout, fragment", [
    ("nan", "finite"), ("inf", "finite"), ("-1", "above 0"), ("0", "above 0"), ("1e9", "3600"),
])
def test_a_bad_timeout_is_refused_before_any_work(tmp_path, capsys, monkeypatch, timeout,
                                                  fragment):
    monkeypatch.setattr(prove_cli, "load_variant", lambda target: pytest.fail("loaded"))
    path = variant_file(tmp_path, 'v = Variant("v", params, lambda s, p: s)')
    assert_typed_error(capsys, "prove", f"--variant={path}:v", f"--timeout={timeout}",
                       fragments=("--timeout", fragment))
    assert_typed_error(capsys, "prove", "--theorem=PROOF-4", f"--timeout={timeout}",
                       fragments=("--timeout", fragment))


def test_an_oversized_variant_file_is_refused_unread(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(prove_cli, "MAX_TEXT_BYTES", 100)
    path = variant_file(tmp_path, "x = 1\n" * 100)
    assert_typed_error(capsys, "prove", f"--variant={path}:x", fragments=("LIMIT-2",))


def test_a_bug_of_the_prover_is_still_an_internal_error(tmp_path, capsys, monkeypatch):
    path = variant_file(tmp_path, 'v = Variant("v", params, lambda s, p: s * p.gamma + p.beta)')

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug in the prover")

    monkeypatch.setattr("boolnet_spec.spec.variants.prove_variant", broken)
    code, _, err = run_cli(capsys, "prove", f"--variant={path}:v")
    assert code == 3 and "internal error" in err
