"""The z3 twins of spec.twins agree with the numpy reference (and the authors' torch formulas) on
random concrete inputs, so the theorems that use them speak about the reference."""

from fractions import Fraction

import numpy as np
import pytest

z3 = pytest.importorskip("z3")
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import bit_arrays, fold_cases, slice_offset_sets

from boolnet_spec.reference.bconv import binary_conv2d
from boolnet_spec.reference.exact import exact, ge_times_sqrt
from boolnet_spec.reference.fold import ChannelFold, fold_bn_sign
from boolnet_spec.reference.logic import logic_or, logic_xnor
from boolnet_spec.reference.maxpool import threshold_maxpool
from boolnet_spec.reference.slices import slice_quantize
from boolnet_spec.reference.threshold import (
    ThresholdUnits,
    canonical_unit,
    is_canonical,
    threshold_slices,
)
from boolnet_spec.spec import twins


def _numeral(expr: z3.ExprRef) -> bool:
    return z3.is_rational_value(expr) or z3.is_algebraic_value(expr) or z3.is_int_value(expr)


def _floor_of(number: z3.ExprRef) -> int:
    """The exact floor of a rational or algebraic numeral: an approximation, then two exact
    comparisons."""
    approx = number.approx(30) if z3.is_algebraic_value(number) else number
    k = value(z3.ToInt(approx))
    while not z3.is_true(z3.simplify(z3.ToReal(z3.IntVal(k)) <= number)):
        k -= 1
    while z3.is_true(z3.simplify(z3.ToReal(z3.IntVal(k + 1)) <= number)):
        k += 1
    return k


def _fold_floors(expr: z3.ExprRef) -> z3.ExprRef:
    """``expr`` with every floor of a numeral replaced by its value, innermost first (z3's
    simplifier leaves floors of algebraic numbers alone)."""
    if not z3.is_app(expr) or expr.num_args() == 0:
        return expr
    children = [_fold_floors(child) for child in expr.children()]
    if z3.is_app_of(expr, z3.Z3_OP_TO_INT):
        argument = z3.simplify(children[0])
        if _numeral(argument):
            return z3.IntVal(_floor_of(argument))
    return expr.decl()(*children)


def value(expr: z3.ExprRef, sigma: z3.ExprRef | None = None, sigma_value=None):
    """The concrete value of a closed twin term: bool, int or Fraction; ``sigma`` is replaced by
    ``sigma_value``, an algebraic number, first."""
    if sigma is not None:
        expr = _fold_floors(z3.substitute(expr, (sigma, sigma_value)))
    result = z3.simplify(expr)
    if z3.is_true(result) or z3.is_false(result):
        return z3.is_true(result)
    if z3.is_int_value(result) or z3.is_bv_value(result):
        return result.as_long()
    if z3.is_rational_value(result):
        return Fraction(result.numerator_as_long(), result.denominator_as_long())
    raise AssertionError(f"the twin did not evaluate to a value: {result}")


def real(q) -> z3.RatNumRef:
    q = Fraction(q)
    return z3.RealVal(f"{q.numerator}/{q.denominator}")


def word(bits: np.ndarray) -> z3.BitVecNumRef:
    """A bit-vector with bit i = bits[i]."""
    return z3.BitVecVal(sum(int(b) << i for i, b in enumerate(bits)), len(bits))


def signed(bits: int, width: int) -> int:
    return bits - (1 << width) if bits >> (width - 1) else bits


rationals = st.fractions(-200, 200, max_denominator=64)
positive_rationals = st.fractions(Fraction(1, 64), 200, max_denominator=64)


@st.composite
def word_pairs(draw):
    width = draw(st.integers(1, 64))
    return draw(bit_arrays(width)), draw(bit_arrays(width))


@pytest.mark.req("PROOF-1", "PROOF-3")
@given(word_pairs())
def test_accumulator_twins_equal_the_binary_convolution(pair):
    a, v = pair
    width = len(a)
    s = int(binary_conv2d(a.reshape(1, width, 1, 1), v.reshape(1, width, 1, 1))[0, 0, 0, 0])
    assert value(twins.accumulator(word(a), word(v))) == s
    assert signed(value(twins.accumulator_word(word(a), word(v))), 16) == s
    assert sum(signed(value(p), twins.PRODUCT_BITS)
               for p in twins.pm1_products(word(a), word(v))) == s
    assert value(twins.popcount(twins.xnor(word(a), word(v)))) == (s + width) // 2
    assert value(twins.popcount_word(word(a))) == int(a.sum())


@pytest.mark.req("PROOF-2")
@given(word_pairs(), word_pairs())
def test_concatenated_words_xnor_and_count_like_one_long_word(first, second):
    (a1, v1), (a2, v2) = first, second
    joined = [np.concatenate([x2, x1]) for x1, x2 in ((a1, a2), (v1, v2))]
    s = int(binary_conv2d(joined[0].reshape(1, -1, 1, 1), joined[1].reshape(1, -1, 1, 1))[0, 0, 0,
                                                                                            0])
    xnor = twins.xnor(z3.Concat(word(a2), word(a1)), z3.Concat(word(v2), word(v1)))
    assert value(2 * twins.popcount(xnor)) - len(joined[0]) == s


@pytest.mark.req("PROOF-3", "PROOF-4", "PROOF-8")
@given(st.integers(1, 60), st.integers(-70, 70))
def test_domain_twin_is_the_reference_domain(n, s):
    from boolnet_spec.reference.accumulator import domain
    assert value(twins.in_domain(z3.IntVal(s), z3.IntVal(n))) == (s in domain(n).tolist())


@pytest.mark.req("PROOF-7", "PROOF-9", "PROOF-10")
@given(st.sampled_from([0, 1]), rationals | st.integers(-70, 70).map(Fraction),
       st.integers(1, 60))
def test_canonical_unit_twin_is_the_reference_canonicalisation(polarity, t, n):
    twin = tuple(value(term) for term in twins.canonical_unit(polarity, real(t), z3.IntVal(n)))
    assert twin == canonical_unit(polarity, t, n)


@pytest.mark.req("PROOF-7", "PROOF-8", "PROOF-14")
@given(st.integers(1, 30), st.sampled_from([0, 1]), st.integers(-35, 35), st.integers(-35, 35))
def test_unit_twins_are_the_reference_threshold_unit(n, polarity, threshold, s):
    canonical = bool(is_canonical(np.array([polarity]), np.array([threshold]), n)[0])
    assert value(twins.is_canonical(z3.IntVal(polarity), z3.IntVal(threshold),
                                    z3.IntVal(n))) == canonical
    if canonical and abs(s) <= n:
        units = ThresholdUnits(np.array([[polarity]], np.uint8), np.array([[threshold]], np.int16),
                               n)
        expected = threshold_slices(np.full((1, 1, 1, 1), s, np.int16), units)[0, 0, 0, 0, 0]
        assert value(twins.unit_bit(polarity, threshold, z3.IntVal(s))) == bool(expected)


@st.composite
def square_comparisons(draw) -> tuple[Fraction, Fraction, Fraction]:
    """``(L, K, v)``, a third of them ties ``L = K*sqrt(v)`` with ``v`` a square."""
    k, v = draw(rationals), draw(positive_rationals)
    if draw(st.integers(0, 2)) == 0:
        root = draw(positive_rationals)
        return k * root + draw(st.sampled_from([0, 0, Fraction(1, 64), -Fraction(1, 64)])), k, \
            root * root
    return draw(rationals), k, v


@pytest.mark.req("PROOF-5", "PROOF-6")
@given(square_comparisons())
def test_exact_decision_twin_is_the_reference_decision(comparison):
    lhs, k, v = comparison
    assert value(twins.ge_times_sqrt(real(lhs), real(k), real(v))) == ge_times_sqrt(lhs, k, v)


def channel_terms(case, c: int, offset):
    """The exact parameters of channel c as z3 values, sigma as a constant, and the pair
    (sigma, sqrt(var + eps) as an algebraic number) that :func:`value` substitutes."""
    bn = case.bn
    sigma = z3.Real("sigma")
    solver = z3.Solver()
    solver.add(sigma > 0, sigma * sigma == real(exact(bn.var[c]) + Fraction(bn.eps)))
    assert solver.check() == z3.sat
    return (real(exact(bn.gamma[c])), real(exact(bn.beta[c])), real(exact(bn.mean[c])), sigma,
            real(exact(case.alpha[c])), real(exact(case.bias[c])), real(exact(offset))), \
        (sigma, solver.model()[sigma])


@pytest.mark.req("PROOF-6", "PROOF-9", "PROOF-10", "PROOF-11", "PROOF-12")
@settings(max_examples=60)
@given(fold_cases(max_n=24), st.data())
def test_fold_twins_are_the_reference_fold(case, data):
    units = fold_bn_sign(case.bn, case.n, case.alpha, case.bias, case.offsets)
    for c in range(case.bn.channels):
        channel = ChannelFold(case.bn, c, case.alpha[c], case.bias[c])
        for j, offset in enumerate(case.offsets):
            terms, algebraic = channel_terms(case, c, offset)
            unit = tuple(value(t, *algebraic) for t in twins.fold_unit(z3.IntVal(case.n), *terms))
            assert unit == (int(units.polarity[j, c]), int(units.threshold[j, c]))
            s = data.draw(st.sampled_from(range(-case.n, case.n + 1, 2)))
            y = twins.bn_preactivation(z3.IntVal(s), *terms)
            assert value(twins.sign_bit(y), *algebraic) == channel.bit(s, exact(offset))
            gamma, sigma, alpha = terms[0], terms[3], terms[4]
            scaled = twins.bn_scaled_preactivation(z3.IntVal(s), *terms)
            assert value(scaled == sigma * y, *algebraic)
            if exact(case.bn.gamma[c]) != 0:
                assert value(twins.fold_root_scaled(*terms)
                             == gamma * alpha * twins.fold_root(*terms), *algebraic)


@pytest.mark.req("PROOF-13")
@given(st.lists(st.floats(-4, 4, width=32), min_size=1, max_size=5), slice_offset_sets())
def test_slice_twin_is_the_reference_quantizer(z, offsets):
    bits = slice_quantize(np.array(z, np.float64), offsets)
    for i, zi in enumerate(z):
        twin = [value(b) for b in twins.slice_bits(real(zi), [real(exact(o)) for o in offsets])]
        assert twin == [bool(b) for b in bits[i]]


@pytest.mark.req("PROOF-14")
@given(st.integers(1, 12), st.sampled_from([0, 1]), st.data())
def test_maxpool_twin_is_the_reference_threshold_maxpool(n, polarity, data):
    points = list(range(-n, n + 1, 2))
    thresholds = [*points, n + 2] if polarity else [t for t in points if t != n]
    threshold = data.draw(st.sampled_from(thresholds))
    window = data.draw(st.lists(st.sampled_from(points), min_size=4, max_size=4))
    units = ThresholdUnits(np.array([[polarity]], np.uint8), np.array([[threshold]], np.int16), n)
    s = np.array(window, np.int16).reshape(1, 1, 2, 2)
    expected = threshold_maxpool(s, units, 2, 2)[0, 0, 0, 0, 0]
    accs = [z3.IntVal(v) for v in window]
    assert value(twins.threshold_maxpool(accs, polarity, threshold)) == bool(expected)
    assert value(twins.window_max(accs)) == max(window)


@pytest.mark.req("PROOF-15", "PROOF-16")
@given(st.integers(0, 1), st.integers(0, 1))
def test_gate_twins_are_the_reference_gates(x, r):
    bx, br = np.array([x], np.uint8), np.array([r], np.uint8)
    assert value(twins.logic_xnor(z3.BoolVal(x), z3.BoolVal(r))) == bool(logic_xnor(bx, br)[0])
    assert value(twins.logic_or(z3.BoolVal(x), z3.BoolVal(r))) == bool(logic_or(bx, br)[0])


# Dyadic values with few bits: every float32 operation of the authors' formulas on them is exact.
dyadics = st.integers(-40, 40).map(lambda k: Fraction(k, 8))
ternary = st.sampled_from([-1, 0, 1]).map(Fraction)


@pytest.fixture(scope="module")
def authors():
    """The authors' formulas as equivalence.pytorch.model re-implements them (needs torch)."""
    pytest.importorskip("torch")
    from boolnet_spec.equivalence.pytorch import model
    return model


def tensor(q):
    import torch
    return torch.tensor([float(q)], dtype=torch.float32, requires_grad=True)


@pytest.mark.req("PROOF-15", "PROOF-16", "PROOF-17")
@given(dyadics | ternary, dyadics | ternary)
def test_surrogate_twins_are_the_authors_formulas_and_gradients(authors, x, r):
    for formula, twin, gradient in ((authors.logic_xnor, twins.surrogate_xnor, twins.xnor_gradient),
                                    (authors.logic_or, twins.surrogate_or, twins.or_gradient)):
        tx, tr = tensor(x), tensor(r)
        out = formula(tx, tr)
        out.backward()
        assert Fraction(out.item()) == value(twin(real(x), real(r)))
        assert Fraction(tx.grad.item()) == value(gradient(real(x), real(r)))
    assert value(twins.paper_or(real(x), real(r))) == \
        min(Fraction(1), (x + r) / 2 + 1) * 2 - 1


@pytest.mark.req("PROOF-16", "PROOF-17", "PROOF-18", "PROOF-19", "PROOF-20")
@given(dyadics | ternary, st.sampled_from([Fraction(1), Fraction(1, 2), Fraction(1, 4),
                                           Fraction(2)]),
       st.booleans())
def test_binarize_twins_are_the_authors_binarize(authors, x, temperature, progressive):
    import torch
    tx = tensor(x)
    out = authors.binarize(tx, torch.tensor([float(temperature)]), progressive, False, "official")
    out.backward()
    forward = twins.progressive_forward(real(x), real(temperature))
    if not progressive:
        forward = twins.torch_sign(forward)
    assert Fraction(out.item()) == value(forward)
    assert Fraction(tx.grad.item()) == value(twins.ste_gradient(real(x)))
    assert Fraction(torch.clamp(torch.tensor(float(x)), -1, 1).item()) == \
        value(twins.hardtanh(real(x)))
    for mode, twin in (("official", twins.torch_sign), ("spec", twins.spec_sign)):
        assert Fraction(authors.binary_sign(torch.tensor(float(x)), mode).item()) == \
            value(twin(real(x)))
