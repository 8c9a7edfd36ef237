"""BOUND-1 to BOUND-3: the float32 error bounds hold for PyTorch's own kernels."""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

torch = pytest.importorskip("torch")

from strategies import float32s, wide_float32s

from boolnet_spec.equivalence.pytorch.bounds import (
    BNParams,
    bn_rounding_count,
    conv_error,
    gamma,
)
from boolnet_spec.equivalence.pytorch.certify import bn_variants, fma32
from boolnet_spec.equivalence.pytorch.harness import float32_semantics, torch_weight
from boolnet_spec.equivalence.pytorch.model import BConv, MultiBConv
from boolnet_spec.reference.exact import round_to_float32
from boolnet_spec.reference.weights import weight_scale


@pytest.mark.req("BOUND-1", "BOUND-2")
@given(st.integers(1, 24), st.integers(1, 4), st.integers(0, 2**32 - 1), st.booleans())
@example(20, 4, 194, False)  # alpha_t 3 ulps from WB-2's alpha in channel 13 (once assumed <= 2)
def test_conv_output_lies_within_e_of_alpha_t_times_s(channels, slices, seed, bias):
    rng = np.random.default_rng(seed)
    # A batch of 16 tempts NNPACK, which the harness turns off (Winograd is outside BOUND-1).
    x = np.where(rng.random((16, slices, channels, 6, 6)) < 0.5, -1.0, 1.0).astype(np.float32)
    if bias:
        conv = BConv(slices * channels, 5, "official")
        conv.bias.data = torch.from_numpy(rng.normal(0, 3, 5).astype(np.float32))
    else:
        conv = MultiBConv(channels, 4 * slices, 1, 1, 1, slices, "official")
    conv.weight.data = torch.from_numpy(rng.normal(0, rng.uniform(1e-3, 10), conv.weight.shape)
                                        .astype(np.float32))
    conv.eval()
    with float32_semantics():
        v = conv(torch.from_numpy(x)).numpy()
    signs, alpha_t = torch_weight(conv)
    n = int(np.prod(signs.shape[1:]))
    inputs = x.reshape(16, -1, 6, 6) if bias else x
    if not bias:
        inputs = torch.nn.functional.pad(torch.from_numpy(x).reshape(16, -1, 6, 6),
                                         (1, 1, 1, 1), mode="replicate").numpy()
    s = torch.nn.functional.conv2d(torch.from_numpy(inputs).double(),
                                   torch.from_numpy(signs).double(),
                                   groups=1 if bias else slices).numpy().astype(np.int64)
    b = conv.bias.detach().numpy() if bias else None
    error = conv_error(n, alpha_t, b)
    for index in zip(*np.nonzero(np.ones(v.shape, bool)), strict=True):
        c = index[1]
        exact_value = Fraction(float(alpha_t[c])) * int(s[index]) + \
            (Fraction(float(b[c])) if bias else 0)
        assert abs(Fraction(float(v[index])) - exact_value) <= Fraction(float(error[c]))
    weight = conv.weight.detach().numpy()
    for alpha_tc, alpha_c, filter_ in zip(alpha_t, weight_scale(weight), weight, strict=True):
        assert abs(Fraction(float(alpha_tc)) - Fraction(float(alpha_c))) <= \
            nested_mean_drift(filter_)


def nested_mean_drift(filter_: np.ndarray) -> Fraction:
    """BOUND-2's ``(gamma_K + u)*mu + 3*eta``, ``K = k_1 + k_2 + k_3 + 3``, in exact arithmetic."""
    u = Fraction(1, 2**24)
    k = sum(filter_.shape) + 3
    mu = sum(Fraction(float(w)) for w in np.abs(filter_).ravel()) / filter_.size
    return (k * u / (1 - k * u) + u) * mu + 3 * Fraction(1, 2**149)


@pytest.mark.req("BOUND-2")
@given(st.tuples(st.integers(1, 3), st.integers(1, 40), st.integers(1, 3), st.integers(1, 3))
       .flatmap(lambda shape: hnp.arrays(np.float32, shape,
                                         elements=float32s(-1e6, 1e6) | wide_float32s())))
def test_nested_mean_alpha_t_lies_within_the_drift_bound(weight):
    assume(bool((np.abs(weight).reshape(len(weight), -1).max(axis=1) > 0).all()))  # WB-3
    conv = SimpleNamespace(weight=torch.from_numpy(weight), temperature=torch.ones(1))
    _, alpha_t = torch_weight(conv)
    for alpha_tc, alpha_c, filter_ in zip(alpha_t, weight_scale(weight), weight, strict=True):
        assert abs(Fraction(float(alpha_tc)) - Fraction(float(alpha_c))) <= \
            nested_mean_drift(filter_)


@pytest.mark.req("BOUND-1")
def test_gamma_and_conv_error_values():
    assert gamma(1) >= 2.0 ** -24 / (1 - 2.0 ** -24)
    assert conv_error(1, np.array([3.0], np.float32))[0] == 0.0  # one term: exact
    assert conv_error(4, np.array([1.0], np.float32), np.array([2.0], np.float32))[0] >= \
        4 * 2.0 ** -24 * 6


def real_bn(x: float, g: float, b: float, m: float, v: float, eps: float) -> Decimal:
    """``g*(x - m)/sqrt(v + eps) + b`` to 80 digits (exact for the bound's purposes)."""
    with localcontext() as ctx:
        ctx.prec = 80
        d = lambda f: Decimal(Fraction(f).numerator) / Decimal(Fraction(f).denominator)  # noqa
        return d(g) * (d(x) - d(m)) / (d(v) + d(eps)).sqrt() + d(b)


@pytest.mark.req("BOUND-3")
@given(hnp.arrays(np.float32, 6, elements=float32s(-1e3, 1e3)),
       st.tuples(float32s(-4, 4), float32s(-8, 8), float32s(-100, 100), float32s(0, 50)))
def test_torch_batchnorm_lies_within_the_bound(x, params):
    g, b, m, v = (np.array([p], np.float32) for p in params)
    module = torch.nn.BatchNorm2d(1).eval()
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(g))
        module.bias.copy_(torch.from_numpy(b))
        module.running_mean.copy_(torch.from_numpy(m))
        module.running_var.copy_(torch.from_numpy(v))
        y = module(torch.from_numpy(x.reshape(1, 1, -1, 1))).numpy().ravel()
    bn = BNParams(g, b, m, v, 1e-5)
    bound = bn.rounding(np.abs(x.astype(np.float64))[:, None], axis=1)[:, 0]
    for xi, yi, bi in zip(x, y, bound, strict=True):
        exact_value = real_bn(float(xi), float(g[0]), float(b[0]), float(m[0]), float(v[0]),
                              1e-5)
        assert abs(Decimal(float(yi)) - exact_value) <= Decimal(float(bi))
    # The module is one of the four evaluation orders the certificate emulates.
    variants = bn_variants(bn, x[:, None])
    assert any(np.array_equal(y, variant[:, 0]) for variant in variants)
    for variant in variants:
        for xi, yi, bi in zip(x, variant[:, 0], bound, strict=True):
            exact_value = real_bn(float(xi), float(g[0]), float(b[0]), float(m[0]),
                                  float(v[0]), 1e-5)
            assert abs(Decimal(float(yi)) - exact_value) <= Decimal(float(bi))


@pytest.mark.req("BOUND-3")
def test_negative_variance_raises_the_rounding_count():
    var = np.array([1.0, 0.0, -5e-6], np.float32)
    ratio = Fraction(1e-5) / (Fraction(float(var[2])) + Fraction(1e-5))
    assert bn_rounding_count(var, 1e-5).tolist() == [8, 8, 7 + -(-ratio.numerator //
                                                             ratio.denominator)]


@pytest.mark.req("CERT-2")
@given(float32s(-1e6, 1e6), float32s(-1e6, 1e6), float32s(-1e6, 1e6))
def test_fma32_rounds_once(x, a, b):
    got = fma32(np.array([x]), np.array([a]), np.array([b]))[0]
    assert got == round_to_float32(Fraction(float(x)) * Fraction(float(a)) + Fraction(float(b)))


@pytest.mark.req("CERT-2")
def test_fma32_resolves_a_binary64_midpoint():
    # x*a = 1 + 2**-24 + 2**-60: binary64 rounds the sum to the float32 midpoint 1 + 2**-24.
    x = np.float32(1 + 2.0 ** -23)
    a = np.float32(1 + 2.0 ** -23)          # x*a = 1 + 2**-22 + 2**-46
    b = np.float32(-(2.0 ** -22) + 2.0 ** -47)
    exact_value = Fraction(float(x)) * Fraction(float(a)) + Fraction(float(b))
    assert fma32(np.array([x]), np.array([a]), np.array([b]))[0] == \
        round_to_float32(exact_value)
