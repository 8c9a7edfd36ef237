"""BatchNorm: eval-mode parameters, their validation, and the binary64 boundary evaluation."""

import math
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import batchnorms, float32s, wide_float32s

from boolnet_spec.reference.batchnorm import DEFAULT_EPS, BatchNorm
from boolnet_spec.reference.errors import DomainError, DTypeError, NonFiniteError, ShapeError


def column(*values):
    return np.array(values, np.float32)


def one_channel(var=1.0, eps=DEFAULT_EPS, **overrides):
    var = var if isinstance(var, np.ndarray | np.generic) else column(var)
    fields = {"gamma": column(1.0), "beta": column(0.0), "mean": column(0.0),
              "var": var} | overrides
    return BatchNorm(fields["gamma"], fields["beta"], fields["mean"], fields["var"], eps)


@pytest.mark.req("BN-1")
def test_negative_and_zero_gammas_are_parameters():
    bn = BatchNorm(column(-1.5, 0.0, -0.0, 2.0), column(0.0, 1.0, -1.0, 0.0),
                   column(0.0, 0.0, 0.0, 0.0), column(1.0, 1.0, 1.0, 1.0))
    assert bn.channels == 4
    assert bn.eps == DEFAULT_EPS == 1e-5
    assert np.signbit(bn.gamma).tolist() == [True, False, True, False]


@pytest.mark.req("BN-1", "BN-3")
@given(batchnorms(), st.data())
def test_binary64_evaluation_is_close_to_the_exact_value(bn, data):
    x = data.draw(hnp.arrays(np.float32, (2, bn.channels), elements=float32s(-100.0, 100.0)))
    y = bn(x)
    with localcontext() as context:
        context.prec = 200
        for (i, c), value in np.ndenumerate(y):
            sigma = (Decimal(float(bn.var[c])) + Decimal(bn.eps)).sqrt()
            scaled = (Decimal(float(x[i, c])) - Decimal(float(bn.mean[c]))) / sigma \
                * Decimal(float(bn.gamma[c]))
            exact = scaled + Decimal(float(bn.beta[c]))
            # four binary64 roundings, each within 2**-53 of the magnitudes it touches
            bound = Decimal(2) ** -50 * (abs(scaled) + abs(Decimal(float(bn.beta[c]))))
            assert abs(Decimal(float(value)) - exact) <= bound


@pytest.mark.req("BN-3")
@given(batchnorms(), st.data())
def test_binary64_evaluation_follows_the_stated_order(bn, data):
    x = data.draw(hnp.arrays(np.float32, (2, bn.channels, 2),
                             elements=float32s(-1000.0, 1000.0) | wide_float32s()))
    y = bn(x)
    assert y.dtype == np.float64
    for (i, c, k), value in np.ndenumerate(y):
        d = float(bn.var[c]) + bn.eps
        r = math.sqrt(d)
        expected = ((float(x[i, c, k]) - float(bn.mean[c])) / r) * float(bn.gamma[c]) \
            + float(bn.beta[c])
        assert np.float64(value).tobytes() == np.float64(expected).tobytes()


@pytest.mark.req("BN-3")
def test_order_is_not_torch_cpu_order():
    # torch's CPU kernel folds to x*(gamma/r) + (beta - mean*gamma/r): another rounding
    bn = one_channel(var=3.0, eps=0.0, gamma=column(0.7), beta=column(0.1), mean=column(0.3))
    x = np.array([[float(k)] for k in range(-50, 51)], np.float32)
    y = bn(x)[:, 0]
    r = math.sqrt(3.0)
    scale = float(np.float32(0.7)) / r
    shift = float(np.float32(0.1)) - float(np.float32(0.3)) * scale
    torch_order = np.array([float(v) * scale + shift for v in x[:, 0]])
    assert not np.array_equal(y, torch_order)


@pytest.mark.req("BN-3", "ERR-2")
def test_input_must_have_the_channels_on_axis_one():
    bn = one_channel()
    with pytest.raises(ShapeError, match=r"bn input.*\[BN-3\]$"):
        bn(np.zeros((2, 3), np.float32))
    with pytest.raises(ShapeError):
        bn(np.zeros(1, np.float32))


@pytest.mark.req("BN-2", "ERR-2")
@pytest.mark.parametrize("field", ["gamma", "beta", "mean", "var"])
@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32])
def test_parameters_must_be_float32(field, dtype):
    with pytest.raises(DTypeError, match=r"\[BN-2\]$"):
        one_channel(**{field: np.ones(1, dtype)})


@pytest.mark.req("BN-2", "ERR-2")
@pytest.mark.parametrize("field, value", [("gamma", np.ones((1, 1), np.float32)),
                                          ("beta", column(0.0, 0.0)), ("mean", column()),
                                          ("var", np.float32(1.0))])
def test_parameters_must_share_shape_c(field, value):
    with pytest.raises(ShapeError, match=r"\[BN-2\]$"):
        one_channel(**{field: value})


@pytest.mark.req("BN-2", "ERR-2")
@pytest.mark.parametrize("field", ["gamma", "beta", "mean", "var"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_parameters_must_be_finite(field, value):
    with pytest.raises(NonFiniteError) as info:
        one_channel(**{field: column(value)})
    assert "at index [0]" in str(info.value)


@pytest.mark.req("BN-2", "ERR-2")
@pytest.mark.parametrize("eps", [float("nan"), float("inf"), -float("inf")])
def test_eps_must_be_finite(eps):
    with pytest.raises(NonFiniteError, match=r"bn.eps"):
        one_channel(eps=eps)


@pytest.mark.req("BN-2", "ERR-2")
@pytest.mark.parametrize("eps", [np.float32(1e-5), "1e-5", True, None])
def test_eps_must_be_a_binary64_number(eps):
    with pytest.raises(DTypeError, match=r"bn.eps"):
        one_channel(eps=eps)


@pytest.mark.req("BN-2", "ERR-2")
@pytest.mark.parametrize("var, eps", [
    (0.0, 0.0),
    (-0.0, 0.0),
    (-0.5, 1e-5),
    (1e-6, -1e-5),
    (2.0**-149, -(2.0**-149)),
    (-(2.0**-149), 0.0),
    (1.0, -1.0),
])
def test_var_plus_eps_must_be_positive(var, eps):
    with pytest.raises(DomainError) as info:
        one_channel(var=var, eps=eps)
    assert info.value.tensor == "bn.running_var"
    assert f"eps = {eps!r}" in info.value.bound


@pytest.mark.req("BN-2")
@pytest.mark.parametrize("var, eps", [
    (2.0**-149, -(2.0**-150)),  # the exact sum 2**-150 rounds to 0 in float32
    (-1e-6, 1e-5),
    (0.0, 2.0**-1074),
    (1.0, -(1.0 - 2.0**-53)),  # eps rounds to -1.0 in float32
])
def test_var_plus_eps_is_decided_exactly(var, eps):
    assert one_channel(var=var, eps=eps).channels == 1


@pytest.mark.req("BN-2")
@given(float32s() | wide_float32s(), st.sampled_from([0.0, 1e-5, -1e-5, 2.0**-140, -(2.0**-140),
                                                      -1.0, 1e30]))
def test_domain_error_exactly_when_var_plus_eps_is_not_positive(var, eps):
    if Fraction(float(var)) + Fraction(eps) > 0:
        assert one_channel(var=float(var), eps=eps).channels == 1
    else:
        with pytest.raises(DomainError):
            one_channel(var=float(var), eps=eps)
