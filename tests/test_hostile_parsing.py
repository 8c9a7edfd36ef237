"""Class 4 of issue 12: JSON and number parsing are bounded before they run (LIMIT-3), and a
field of the wrong JSON type is a typed error (ERR-5)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from fixtures_network import node, write_model
from hostile import assert_typed_error, run_cli, small_header, write_raw_header

from boolnet_spec.reference.cli import float32_from_decimal
from boolnet_spec.reference.errors import BoundError, FormatError, NonFiniteError
from boolnet_spec.reference.safe_io import loads_json

FOLD = ["fold", "--beta=0", "--mean=0", "--var=1", "--n=9"]


@pytest.mark.req("LIMIT-3", "ERR-5")
@pytest.mark.parametrize("depth", [33, 1000, 200_000])
def test_a_deeply_nested_header_is_a_format_error(tmp_path, capsys, depth):
    header, arrays = small_header(tmp_path)
    text = json.dumps(header)
    nested = "[" * depth + "]" * depth
    text = text.replace('"attrs": {}', f'"attrs": {{"x": {nested}}}', 1)
    path = write_raw_header(tmp_path / "deep.model", text, arrays)
    assert_typed_error(capsys, "info", path, fragments=("nested at most 32", "[LIMIT-3]"))


@pytest.mark.req("LIMIT-3")
@pytest.mark.parametrize("number", ["1" * 65, "-" + "9" * 5000, "1." + "0" * 100 + "e5"])
def test_a_number_literal_beyond_the_limit_is_a_format_error(tmp_path, capsys, number):
    header, arrays = small_header(tmp_path)
    text = json.dumps(header).replace('"image_size": 32', f'"image_size": {number}', 1)
    path = write_raw_header(tmp_path / "long.model", text, arrays)
    assert_typed_error(capsys, "info", "--json", path,
                       fragments=("numbers of at most 64 characters", "[LIMIT-3]"))


@pytest.mark.req("ERR-5", "NET-6")
@pytest.mark.parametrize("value", [1e-5, [1e-5], "1e-5", None])
def test_eps_of_the_wrong_json_type_is_a_format_error(tmp_path, capsys, value):
    header, arrays = small_header(tmp_path)
    node(header, "stem")["attrs"]["eps"] = value
    path = write_model(tmp_path / "eps.model", header, arrays)
    assert_typed_error(capsys, "info", path, fragments=("attrs.eps", "[NET-6]"))


@pytest.mark.req("ERR-5", "MODEL-2")
@pytest.mark.parametrize("mutate", [
    lambda h: h["architecture"].update(widths="8,16"),
    lambda h: h["architecture"].update(widths=[[8], 16, 32, 64]),
    lambda h: h["nodes"][0].update(attrs=[1]),
    lambda h: h["nodes"][1]["attrs"].update(stride="1"),
])
def test_other_fields_of_the_wrong_type_are_typed_errors(tmp_path, capsys, mutate):
    header, arrays = small_header(tmp_path)
    mutate(header)
    path = write_model(tmp_path / "typed.model", header, arrays)
    code, _, err = run_cli(capsys, "info", path)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err


@pytest.mark.req("LIMIT-3", "EXACT-1")
@pytest.mark.parametrize("text, error", [
    ("1e99999999", NonFiniteError), ("-7.5e+4000000000", NonFiniteError),
    ("0.000001e45", NonFiniteError), ("9" * 70, BoundError),
])
def test_a_decimal_outside_float32_is_refused_before_exact_expansion(text, error):
    start = time.perf_counter()
    with pytest.raises(error):
        float32_from_decimal(text, "--gamma")
    assert time.perf_counter() - start < 1.0


@pytest.mark.req("LIMIT-3", "EXACT-1")
@pytest.mark.parametrize("text, expected", [
    ("1e-99999999", 0.0), ("-3e-61", -0.0), ("0e999999999", 0.0),
    ("1.4e-45", 1.401298464324817e-45), ("3.4028235e38", 3.4028234663852886e38),
])
def test_tiny_and_boundary_decimals_round_without_expansion(text, expected):
    value = float32_from_decimal(text, "--gamma")
    assert value == np.float32(expected)
    assert np.signbit(value) == np.signbit(np.float32(expected))


@pytest.mark.req("LIMIT-3")
@pytest.mark.parametrize("gamma", ["1e99999999", "2" * 5000, "-1e400"])
def test_fold_answers_a_huge_gamma_with_one_line(capsys, gamma):
    start = time.perf_counter()
    assert_typed_error(capsys, *FOLD, f"--gamma={gamma}", fragments=("--gamma",))
    assert time.perf_counter() - start < 2.0


@pytest.mark.req("LIMIT-3")
@pytest.mark.parametrize("text", ['{"a": ' * 40 + "1" + "}" * 40, "1" * 100,
                                  '[1, 2, "' + "[" * 100 + '"]'])
def test_loads_json_scans_before_parsing(text):
    if text.startswith("[1, 2"):  # brackets inside a string do not nest
        assert loads_json(text, "x", "LIMIT-3") == [1, 2, "[" * 100]
    else:
        with pytest.raises(FormatError, match="LIMIT-3"):
            loads_json(text, "x", "LIMIT-3")


@pytest.mark.req("LIMIT-3", "COST-7")
def test_an_energy_table_nested_too_deep_is_a_format_error(tmp_path, capsys):
    from hostile import small_model_file

    table = tmp_path / "energy.json"
    table.write_text('{"source": ' + "[" * 100 + "]" * 100 + "}")
    assert_typed_error(capsys, "cost", small_model_file(tmp_path), f"--energy={table}",
                       fragments=("energy table", "[LIMIT-3]"))
