"""Class 7 of issue 12: no reported number wraps. An absurd size is refused by LIMIT-1; within
the limits every counter is a Python integer, exact at the extreme shapes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from fixtures_network import write_model
from hostile import assert_typed_error, run_cli, small_header

from boolnet_spec.reference.modelfile import load_model

pytestmark = pytest.mark.req("LIMIT-1")


def resized(tmp_path, size: int):
    header, arrays = small_header(tmp_path)
    header["architecture"]["image_size"] = size
    return write_model(tmp_path / f"m{size}.model", header, arrays)


@pytest.mark.parametrize("size", [4097, 2 ** 40, 10 ** 18])
def test_info_refuses_an_absurd_image_size_instead_of_wrapping(tmp_path, capsys, size):
    assert_typed_error(capsys, "info", "--json", resized(tmp_path, size),
                       fragments=("image_size", "[LIMIT-1]"))


@pytest.mark.parametrize("size", [512, 1024, 2048])
def test_layer_counters_are_exact_python_integers_at_extreme_shapes(tmp_path, capsys, size):
    code, out, err = run_cli(capsys, "info", "--json", resized(tmp_path, size))
    assert code == 0, err
    rows = json.loads(out)["layers"]
    model = load_model(resized(tmp_path, size))
    for row, expected in zip(rows, model.layers(), strict=True):
        assert row == expected
        assert all(type(expected[key]) is int for key in ("n", "weight_bits", "activation_bits"))
        if row["op"] == "bconv":
            assert row["activation_bits"] == math.prod(row["output"])
            assert row["weight_bits"] == row["output"][1] * row["n"]


@pytest.mark.req("COST-7")
@pytest.mark.parametrize("size", [256, 512, 1024])
def test_cost_counters_scale_exactly_and_do_not_wrap(tmp_path, capsys, size):
    totals = []
    for s in (size, 2 * size):
        code, out, err = run_cli(capsys, "cost", "--json", resized(tmp_path, s))
        assert code == 0, err
        totals.append(json.loads(out)["total"])
    small, large = totals
    assert large["bops"] == 4 * small["bops"]
    assert large["logic_ops"] == 4 * small["logic_ops"]
    for key in ("bops", "cycles", "bits_read", "bits_written"):
        assert isinstance(large[key], int) and large[key] > 0


def test_numpy_products_of_these_shapes_would_wrap_where_python_does_not():
    wrapped = np.prod(np.array([2 ** 40, 2 ** 30], dtype=np.int64))
    assert int(wrapped) != 2 ** 70 and math.prod([2 ** 40, 2 ** 30]) == 2 ** 70
