"""Logic shortcuts (reference.logic) against the authors' +-1 formulas and elementwise gates."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from extras import needs_torch, torch
from hypothesis import given
from hypothesis import strategies as st
from naive.ops import pm1, spec_message
from strategies import bit_arrays

from boolnet_spec.reference.encoding import from_pm1
from boolnet_spec.reference.errors import DTypeError, NonBinaryError, ShapeError
from boolnet_spec.reference.logic import logic_or, logic_xnor


def authors_xnor(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """``XNOR`` of the authors' boolnet.py."""
    return x.mul(r)


def authors_or(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """``OR`` of the authors' boolnet.py."""
    return x.add(1).div(2).add(r.add(1).div(2)).clamp(0, 1).mul(2).add(-1)


def paper_or(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """The paper's ``2*min(1, (x + r)/2 + 1) - 1``."""
    return 2 * torch.clamp((x + r) / 2 + 1, max=1) - 1


TRUTH_TABLE = list(itertools.product([0, 1], repeat=2))


@st.composite
def operand_pairs(draw):
    """Two bit tensors of one random shape (rank 0 to 5)."""
    shape = tuple(draw(st.lists(st.integers(1, 3), max_size=5)))
    return draw(bit_arrays(shape)), draw(bit_arrays(shape))


@needs_torch
@pytest.mark.req("LOGIC-1")
@pytest.mark.parametrize(("x", "r"), TRUTH_TABLE)
def test_xnor_truth_table_equals_the_authors_product(x, r):
    out = logic_xnor(np.array([x], np.uint8), np.array([r], np.uint8))
    assert out.dtype == np.uint8
    assert int(out[0]) == int(x == r)
    authors = authors_xnor(torch.tensor([float(pm1(x))]), torch.tensor([float(pm1(r))]))
    assert pm1(out[0]) == authors.item()


@needs_torch
@pytest.mark.req("LOGIC-2")
@pytest.mark.parametrize(("x", "r"), TRUTH_TABLE)
def test_or_truth_table_equals_the_authors_and_the_papers_formula(x, r):
    out = logic_or(np.array([x], np.uint8), np.array([r], np.uint8))
    assert out.dtype == np.uint8
    assert int(out[0]) == int(x or r)
    a, b = torch.tensor([float(pm1(x))]), torch.tensor([float(pm1(r))])
    assert pm1(out[0]) == authors_or(a, b).item() == paper_or(a, b).item()


@pytest.mark.req("LOGIC-1", "LOGIC-2")
@given(operand_pairs())
def test_gates_act_elementwise(pair):
    x, r = pair
    xnor, or_ = logic_xnor(x, r), logic_or(x, r)
    assert xnor.shape == or_.shape == x.shape
    for index in np.ndindex(x.shape):
        assert xnor[index] == int(x[index] == r[index])
        assert or_[index] == int(x[index] == 1 or r[index] == 1)


@needs_torch
@pytest.mark.req("LOGIC-1", "LOGIC-2")
@given(operand_pairs())
def test_gates_equal_the_authors_formulas_on_pm1_tensors(pair):
    a, b = (torch.from_numpy(np.asarray(v.astype(np.float32) * 2 - 1)) for v in pair)
    assert np.array_equal(logic_xnor(*pair), from_pm1(authors_xnor(a, b).numpy()))
    assert np.array_equal(logic_or(*pair), from_pm1(authors_or(a, b).numpy()))


@needs_torch
@pytest.mark.req("LOGIC-3", "ENC-4")
def test_the_authors_formulas_on_the_ternary_zero_have_no_bit():
    # torch.sign(0) = 0 enters the authors' gates; these are the values the spec refuses.
    zero = torch.sign(torch.tensor([0.0]))
    minus, plus = torch.tensor([-1.0]), torch.tensor([1.0])
    assert zero.item() == 0
    for r in (minus, zero, plus):
        assert authors_xnor(zero, r).item() == 0
    assert authors_or(zero, minus).item() == 0
    assert authors_or(minus, zero).item() == 0
    assert authors_or(zero, plus).item() == 1
    assert authors_or(zero, zero).item() == 1
    assert paper_or(zero, minus).item() == 0
    assert paper_or(zero, zero).item() == 1
    with pytest.raises(NonBinaryError, match=spec_message(
            "values", "the ternary 0 of torch.sign is not an activation",
            "0.0 at index [1]", "ENC-4")):
        from_pm1(torch.stack([plus, authors_or(zero, minus)]).numpy().ravel())


@pytest.mark.req("LOGIC-3", "ERR-1")
@pytest.mark.parametrize(("gate", "name"), [(logic_xnor, "xnor"), (logic_or, "or")])
@pytest.mark.parametrize(("x_shape", "r_shape"), [((2, 3), (3,)), ((2, 3), (1, 3)),
                                                  ((2, 3), (3, 2)), ((1,), ())])
def test_operands_of_different_shapes_are_rejected(gate, name, x_shape, r_shape):
    with pytest.raises(ShapeError, match=spec_message(
            f"{name} r", f"the shape of x {list(x_shape)}", str(list(r_shape)), "LOGIC-3")):
        gate(np.zeros(x_shape, np.uint8), np.zeros(r_shape, np.uint8))


@pytest.mark.req("LOGIC-3", "ENC-5", "ERR-1")
@pytest.mark.parametrize(("gate", "name"), [(logic_xnor, "xnor"), (logic_or, "or")])
@pytest.mark.parametrize("dtype", [bool, np.int8, np.float32])
@pytest.mark.parametrize("operand", ["x", "r"])
def test_non_bit_dtypes_are_rejected(gate, name, dtype, operand):
    good, bad = np.zeros((2, 2), np.uint8), np.zeros((2, 2), dtype)
    with pytest.raises(DTypeError, match=spec_message(
            f"{name} {operand}", "dtype uint8", str(np.dtype(dtype)), "ENC-5")):
        gate(bad, good) if operand == "x" else gate(good, bad)


@pytest.mark.req("LOGIC-3", "ENC-5", "ERR-1")
@pytest.mark.parametrize(("gate", "name"), [(logic_xnor, "xnor"), (logic_or, "or")])
@pytest.mark.parametrize("value", [2, 255])
def test_non_binary_values_are_rejected(gate, name, value):
    bad = np.array([[0, 1], [value, 1]], np.uint8)
    with pytest.raises(NonBinaryError, match=spec_message(
            f"{name} r", "bits in {0, 1}", f"{value} at index [1, 0]", "ENC-5")):
        gate(np.zeros((2, 2), np.uint8), bad)
