"""TORCH-4: the training surrogates and their autograd gradients against what the spec defines."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

torch = pytest.importorskip("torch")

from boolnet_spec.equivalence.pytorch.model import (
    GhostSign,
    MultiBConv,
    binarize,
    binary_sign,
    logic_or,
    logic_xnor,
)
from boolnet_spec.reference.encoding import sign_bit
from boolnet_spec.reference.logic import logic_or as ref_or
from boolnet_spec.reference.logic import logic_xnor as ref_xnor
from boolnet_spec.reference.weights import weight_bits

pytestmark = pytest.mark.req("TORCH-4")

# Values a float32 tensor holds, with the kinks and zeros drawn often.
KINKS = [0.0, -0.0, 1.0, -1.0, 2.0 ** -149, -(2.0 ** -149), 1.0 - 2.0 ** -24, -1.0 + 2.0 ** -24,
         1.0 + 2.0 ** -23, -1.0 - 2.0 ** -23]
values = st.one_of(st.sampled_from(KINKS), st.floats(-4, 4, width=32),
                   st.floats(width=32, allow_nan=False, allow_infinity=False))
temperatures = st.one_of(st.sampled_from([1.0, 0.965, 2.0 ** -20]),
                         st.floats(2.0 ** -30, 1.0, width=32, exclude_min=True))
pm1 = hnp.arrays(np.float32, st.integers(1, 16), elements=st.sampled_from([-1.0, 1.0]))


def tensor(xs) -> torch.Tensor:
    return torch.tensor(np.asarray(xs, dtype=np.float32))


def ste(x: np.ndarray) -> np.ndarray:
    """The spec's STE: the derivative of hardtanh, with the border |x| = 1 passing."""
    return (np.abs(x) <= 1).astype(np.float32)


@given(st.lists(values, min_size=1, max_size=12), temperatures)
def test_c1_c4_sign_surrogate_is_the_spec_sign(xs, t):
    x = tensor(xs)
    out = binarize(x, torch.tensor([t]), progressive=False, scale=False, sign_mode="spec")
    expected = np.where(sign_bit(np.asarray(xs, np.float32)) == 1, 1.0, -1.0)
    assert np.array_equal(out.numpy(), expected)


@given(st.lists(values, min_size=1, max_size=12), temperatures)
def test_official_sign_differs_only_at_zero(xs, t):
    x = tensor(xs)
    official = binarize(x, torch.tensor([t]), False, False, "official").numpy()
    spec = binarize(x, torch.tensor([t]), False, False, "spec").numpy()
    zero = np.asarray(xs, np.float32) == 0
    assert np.array_equal(official[zero], np.zeros(int(zero.sum()), np.float32))
    assert np.array_equal(official[~zero], spec[~zero])


def test_c4_needs_t_at_most_one():
    x = torch.tensor([-(2.0 ** -149)])
    assert binarize(x, torch.tensor([1.0]), False, False, "spec").item() == -1.0
    # T = 4 rounds the subnormal quotient to -0: the spec sign of -0 is +1, not sign(x) = -1.
    assert binarize(x, torch.tensor([4.0]), False, False, "spec").item() == 1.0


@given(hnp.arrays(np.float32, (2, 3, 3, 3), elements=values.filter(lambda v: abs(v) < 1e30)),
       temperatures)
def test_c1_weight_signs_are_the_weight_bits(w, t):
    out = binarize(torch.from_numpy(w), torch.tensor([t]), False, False, "spec").numpy()
    assert np.array_equal(out, np.where(weight_bits(w) == 1, 1.0, -1.0))


@given(pm1, pm1)
def test_c1_logic_surrogates_are_the_gates(x, r):
    size = min(len(x), len(r))
    x, r = x[:size], r[:size]
    bits = lambda v: (v > 0).astype(np.uint8)  # noqa: E731
    xnor = logic_xnor(torch.from_numpy(x), torch.from_numpy(r)).numpy()
    or_ = logic_or(torch.from_numpy(x), torch.from_numpy(r)).numpy()
    assert np.array_equal(bits(xnor), ref_xnor(bits(x), bits(r)))
    assert np.array_equal(bits(or_), ref_or(bits(x), bits(r)))
    assert set(np.unique(np.concatenate([xnor, or_]))) <= {-1.0, 1.0}


@given(st.lists(values.filter(lambda v: abs(v) < 1e30), min_size=1, max_size=12), temperatures,
       st.sampled_from(["official", "spec"]))
def test_c2_activation_ste_is_hardtanh_derivative(xs, t, mode):
    x = tensor(xs).requires_grad_()
    binarize(x, torch.tensor([t]), progressive=False, scale=False, sign_mode=mode).sum().backward()
    assert np.array_equal(x.grad.numpy(), ste(np.asarray(xs, np.float32)))


@given(hnp.arrays(np.float32, (2, 1, 5), elements=st.one_of(st.sampled_from(KINKS),
                                                           st.floats(-3, 3, width=32))))
def test_c2_ghostsign_gradient_passes_where_the_shifted_input_is_within_one(x):
    sign = GhostSign(4, "official")
    inputs = torch.from_numpy(x.reshape(2, 1, 5, 1)).requires_grad_()
    sign(inputs).sum().backward()
    shifted = x.reshape(2, 1, 1, 5, 1) + sign.offsets.numpy()  # float32, as torch adds
    assert np.array_equal(inputs.grad.numpy(), ste(shifted).sum(axis=1).reshape(2, 1, 5, 1))


@given(hnp.arrays(np.float32, (2, 2, 3, 3), elements=st.one_of(
    st.sampled_from([0.0, 1.0, -1.0, 0.5]), st.floats(-2, 2, width=32))), temperatures,
    st.booleans(), hnp.arrays(np.float32, (2, 2, 3, 3), elements=st.floats(-1, 1, width=32)))
def test_c2_weight_gradient_through_the_scale(w, t, progressive, g):
    weight = torch.from_numpy(w).requires_grad_()
    out = binarize(weight, torch.tensor([t]), progressive, scale=True, sign_mode="official")
    (out * torch.from_numpy(g)).sum().backward()
    w64, g64 = w.astype(np.float64), g.astype(np.float64)
    scale = np.abs(w).mean(-1, keepdims=True).mean(-2, keepdims=True).mean(-3, keepdims=True)
    forward = np.clip(w64 / t, -1, 1) if progressive else np.sign(np.clip(w / np.float32(t), -1, 1))
    per_filter = (g64 * forward).reshape(2, -1).sum(axis=1)[:, None, None, None]
    expected = g64 * scale * ste(w) + np.sign(w64) / 18 * per_filter
    assert np.allclose(weight.grad.numpy(), expected, rtol=1e-5, atol=1e-6)
    # Every zero weight gets no gradient from |W| (0 lies in the subdifferential [-1, 1]).
    zero = w == 0
    assert np.array_equal(weight.grad.numpy()[zero],
                          (g64 * scale * ste(w))[zero].astype(np.float32))


@given(st.lists(values.filter(lambda v: abs(v) < 1e30), min_size=1, max_size=8),
       st.lists(temperatures, min_size=2, max_size=2))
def test_progressive_gradient_is_independent_of_temperature(xs, ts):
    grads = []
    for t in ts:
        x = tensor(xs).requires_grad_()
        binarize(x, torch.tensor([t]), progressive=True, scale=False,
                 sign_mode="official").sum().backward()
        grads.append(x.grad.numpy())
    assert np.array_equal(grads[0], grads[1])
    assert np.array_equal(grads[0], ste(np.asarray(xs, np.float32)))


def test_deviation_progressive_gradient_is_not_the_forward_derivative():
    # T = 0.25 < |W| = 0.5 <= 1: the forward hardtanh(W / T) is flat there, the gradient is 1.
    x = torch.tensor([0.5], requires_grad=True)
    out = binarize(x, torch.tensor([0.25]), progressive=True, scale=False, sign_mode="official")
    out.sum().backward()
    assert out.item() == 1.0 and x.grad.item() == 1.0


@given(pm1, pm1, st.floats(-1, 1, width=32), st.floats(-1, 1, width=32))
def test_c2_logic_gradients(x, r, gx, gr):
    size = min(len(x), len(r))
    a = torch.from_numpy(x[:size]).requires_grad_()
    b = torch.from_numpy(r[:size]).requires_grad_()
    (logic_xnor(a, b) * gx).sum().backward()
    assert np.array_equal(a.grad.numpy(), (np.float32(gx) * r[:size]))
    assert np.array_equal(b.grad.numpy(), (np.float32(gx) * x[:size]))
    a.grad, b.grad = None, None
    (logic_or(a, b) * gr).sum().backward()
    v = (x[:size] + 1) / 2 + (r[:size] + 1) / 2
    # a.e. derivative 1 inside (0, 1); the kinks v = 0 and v = 1 pass it (Clarke [0, 1]).
    expected = np.where((v >= 0) & (v <= 1), np.float32(gr), np.float32(0))
    assert np.array_equal(a.grad.numpy(), expected)
    assert np.array_equal(b.grad.numpy(), expected)


@given(st.floats(-4, 4, width=32).filter(lambda v: v != 0),
       st.integers(0, 400))
def test_c3_hardtanh_tends_to_sign(x, steps):
    t = np.float32(0.965) ** steps
    value = torch.nn.functional.hardtanh(torch.tensor([x]) / torch.tensor([t])).item()
    if t <= abs(x):
        assert value == np.sign(x)
    else:
        assert abs(value - np.sign(x)) <= 1 - abs(x) / t + 1e-6


def test_c3_every_weight_binarizes_after_enough_updates():
    conv = MultiBConv(2, 2, 1, 1, 1, 1, "official")
    for _ in range(600):
        conv.update_temperature()
    conv.train()
    trained = binarize(conv.weight, conv.temperature, True, True, "official")
    conv.eval()
    evaluated = binarize(conv.weight, conv.temperature, False, True, "official")
    assert torch.equal(trained, evaluated)
    assert binary_sign(torch.zeros(1), "spec").item() == 1.0
