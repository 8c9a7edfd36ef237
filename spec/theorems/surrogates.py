"""Theorems of the surrogate gradients (C1 to C4) and the documented deviation of the progressive
gradient.

.. req:: PROOF-16

   (C1) Each forward surrogate agrees with its Boolean operation on its binary domain. The
   straight-through path ``clamp(x, -1, 1)`` of TORCH-1 and TORCH-2 equals ``sign(x) = x`` on
   ``{-1, +1}``; the progressive forward ``hardtanh(x/T)`` equals ``sign(x)`` on ``{-1, +1}`` for
   every ``T`` in ``(0, 1]`` (the schedule starts at 1 and only decreases) and at every ``x`` with
   ``|x| >= T``; the XNOR and OR surrogates equal their gates on ``{-1, +1}**2``.

.. req:: PROOF-17

   (C2) Each straight-through gradient is the almost-everywhere derivative of its forward surrogate
   and lies in the Clarke subdifferential at the kinks. For ``clamp(x, -1, 1)`` and its gradient
   ``g(x) = [|x| <= 1]``: wherever no kink ``+-1`` lies between ``x`` and ``x + h``,
   ``clamp(x + h) - clamp(x) = g(x)*h``; at ``x = +-1`` the one-sided slopes are 0 and 1, so the
   Clarke subdifferential is ``[0, 1]``, and the border convention (``torch.clamp`` passes the
   gradient at ``|x| = 1``) picks ``g(+-1) = 1`` in it. GhostSign's ``[|x + o| <= 1]`` is the same
   statement at ``x + o``. For the OR surrogate the gradient in ``x``,
   ``[0 <= (x + r)/2 + 1 <= 1]``, is the derivative away from ``x = -r - 2`` and ``x = -r``, and
   1 in ``[0, 1]`` at both; for XNOR the gradient ``r`` of ``x*r`` is the derivative everywhere.

.. req:: PROOF-18

   (C3) ``hardtanh(x/T)`` tends to ``sign(x)`` for ``x != 0`` as ``T -> 0``: it equals ``sign(x)``
   as soon as ``0 < T <= |x|``. For ``0 < T <= 1`` its L1 distance to ``sign`` on ``[-1, 1]`` is
   ``T``: ``|hardtanh(x/T) - sign(x)|`` is ``1 - |x|/T`` on ``0 < |x| < T`` and 0 on
   ``T <= |x| <= 1`` (z3), so the integral is two triangles of height 1 and base ``T``, ``T``.

.. req:: PROOF-19

   (C4) ``sign(hardtanh(x/T)) = sign(x)`` for every ``T > 0`` and every real ``x``, under the
   specification's ``sign(0) = +1`` (ENC-2) and under ``torch.sign`` alike: the eval-mode forward
   of TORCH-1 and the quantizer of TORCH-2 do not depend on the temperature.

.. req:: PROOF-20

   Documented deviation (TORCH-1): the authors' gradient of the progressive forward
   ``hardtanh(x/T)``, the straight-through ``[|x| <= 1]``, ignores ``T`` and is not the derivative
   of ``hardtanh(x/T)`` when ``T != 1``. That derivative is ``1/T`` on ``|x| < T`` and 0 on
   ``|x| > T`` (z3: the forward is affine with that slope between the kinks ``+-T``). For every
   ``T > 0`` with ``T != 1`` the two differ at a point that is no kink (``x = 0`` when ``T > 1``,
   ``x = (1 + T)/2`` when ``T < 1``). At ``T = 1/2`` z3 finds a counterexample, and the two
   examples check: at ``x = 3/4`` the gradient is 1 and the derivative 0; at ``x = 1/4``, 1 against
   2.
"""

from __future__ import annotations

import z3

from boolnet_spec.spec import twins
from boolnet_spec.spec.theorems.engine import Lemma, theorem
from boolnet_spec.spec.theorems.logic import gates_on_binary_values, pm1

__all__ = ["surrogates_on_binary_domain", "ste_gradients", "progressive_limit",
           "sign_ignores_temperature", "progressive_gradient_deviation"]


@theorem("PROOF-16", "C1: forward surrogates on their binary domain")
def surrogates_on_binary_domain() -> list[Lemma]:
    """Nonlinear real arithmetic."""
    bit, (x, temperature) = z3.Bool("b"), z3.Reals("x T")
    value = pm1(bit)
    return [
        Lemma("clamp(x, -1, 1) = x = sign(x) on {-1, +1}",
              z3.And(twins.hardtanh(value) == value, twins.spec_sign(value) == value),
              logic="QF_NRA"),
        Lemma("hardtanh(x/T) = sign(x) on {-1, +1} for 0 < T <= 1",
              twins.progressive_forward(value, temperature) == twins.spec_sign(value),
              z3.And(temperature > 0, temperature <= 1), "QF_NRA"),
        Lemma("hardtanh(x/T) = sign(x) where |x| >= T",
              twins.progressive_forward(x, temperature) == twins.spec_sign(x),
              z3.And(temperature > 0, z3.Or(x >= temperature, x <= -temperature)), "QF_NRA"),
        *gates_on_binary_values(),
    ]


def _between(x, h, point) -> z3.BoolRef:
    """``point`` lies in the closed interval between ``x`` and ``x + h``."""
    return z3.And(z3.If(h >= 0, x, x + h) <= point, point <= z3.If(h >= 0, x + h, x))


def _affine_between_kinks(what: str, forward, gradient, kinks, hypothesis=True) -> Lemma:
    """``gradient`` is the derivative of ``forward`` wherever no kink lies between ``x`` and
    ``x + h``: the forward is affine there with slope ``gradient(x)``."""
    x, h = z3.Reals("x h")
    return Lemma(f"{what}: f(x + h) - f(x) = g(x)*h when no kink lies between x and x + h",
                 forward(x + h) - forward(x) == gradient(x) * h,
                 z3.And(hypothesis, *[z3.Not(_between(x, h, kink)) for kink in kinks]), "QF_NRA")


def _clarke_at_kink(what: str, forward, gradient, kink, left: int, right: int,
                    reach: int) -> Lemma:
    """The one-sided slopes of ``forward`` at ``kink`` are ``left`` and ``right`` within
    ``reach``, and ``gradient(kink)`` lies in their convex hull, the Clarke subdifferential."""
    h = z3.Real("h")
    low, high = min(left, right), max(left, right)
    return Lemma(f"{what}: one-sided slopes {left} and {right} at the kink, g there in "
                 f"[{low}, {high}]",
                 z3.And(forward(kink + h) - forward(kink) == right * h,
                        forward(kink - h) - forward(kink) == -left * h,
                        gradient(kink) >= low, gradient(kink) <= high),
                 z3.And(h > 0, h < reach), "QF_NRA")


def _derivative_lemmas(what: str, forward, gradient, kinks) -> list[Lemma]:
    """:func:`_affine_between_kinks` and :func:`_clarke_at_kink` for kinks
    ``(point, left slope, right slope, reach)``."""
    return [_affine_between_kinks(what, forward, gradient, [k[0] for k in kinks]),
            *[_clarke_at_kink(f"{what} at {k[0]}", forward, gradient, *k) for k in kinks]]


@theorem("PROOF-17", "C2: straight-through gradients are Clarke derivatives")
def ste_gradients() -> list[Lemma]:
    """Nonlinear real arithmetic: the forward is affine with slope g between kinks."""
    offset, r = z3.Reals("o r")
    return [
        *_derivative_lemmas("clamp(x, -1, 1)", twins.hardtanh, twins.ste_gradient,
                            [(-1, 0, 1, 2), (1, 1, 0, 2)]),
        *_derivative_lemmas("GhostSign clamp(x + o, -1, 1)",
                            lambda x: twins.hardtanh(x + offset),
                            lambda x: twins.ste_gradient(x + offset),
                            [(-1 - offset, 0, 1, 2), (1 - offset, 1, 0, 2)]),
        *_derivative_lemmas("OR in x", lambda x: twins.surrogate_or(x, r),
                            lambda x: twins.or_gradient(x, r),
                            [(-r - 2, 0, 1, 2), (-r, 1, 0, 2)]),
        *_derivative_lemmas("XNOR in x", lambda x: twins.surrogate_xnor(x, r),
                            lambda x: twins.xnor_gradient(x, r), []),
    ]


@theorem("PROOF-18", "C3: hardtanh(x/T) tends to sign(x), L1 distance T")
def progressive_limit() -> list[Lemma]:
    """Nonlinear real arithmetic for the integrand; its integral is a sum of trapezoids."""
    x, temperature = z3.Reals("x T")
    gap = twins.progressive_forward(x, temperature) - twins.spec_sign(x)
    distance = z3.If(gap >= 0, gap, -gap)
    on_unit = z3.And(temperature > 0, temperature <= 1)
    return [
        Lemma("hardtanh(x/T) = sign(x) once 0 < T <= |x|",
              twins.progressive_forward(x, temperature) == twins.spec_sign(x),
              z3.And(x != 0, temperature > 0, z3.Or(temperature <= x, temperature <= -x)),
              "QF_NRA"),
        Lemma("|hardtanh(x/T) - sign(x)| = 1 - |x|/T on 0 < |x| < T",
              distance * temperature == temperature - z3.If(x >= 0, x, -x),
              z3.And(on_unit, x != 0, x > -temperature, x < temperature), "QF_NRA"),
        Lemma("|hardtanh(x/T) - sign(x)| = 0 on T <= |x| <= 1", distance == 0,
              z3.And(on_unit, x >= -1, x <= 1, z3.Or(x >= temperature, x <= -temperature)),
              "QF_NRA"),
        Lemma("two triangles of height 1 and base T and two flat pieces sum to T",
              2 * (temperature * (1 + 0) / 2) + 2 * ((1 - temperature) * (0 + 0) / 2)
              == temperature, on_unit, "QF_NRA"),
    ]


@theorem("PROOF-19", "C4: sign(hardtanh(x/T)) = sign(x)")
def sign_ignores_temperature() -> list[Lemma]:
    """Nonlinear real arithmetic."""
    x, temperature = z3.Reals("x T")
    forward = twins.progressive_forward(x, temperature)
    return [Lemma("for T > 0: the spec's sign and torch.sign of hardtanh(x/T) are those of x",
                  z3.And(twins.spec_sign(forward) == twins.spec_sign(x),
                         twins.torch_sign(forward) == twins.torch_sign(x)),
                  temperature > 0, "QF_NRA")]


@theorem("PROOF-20", "deviation: the progressive gradient ignores T")
def progressive_gradient_deviation() -> list[Lemma]:
    """Nonlinear real arithmetic; the counterexample is a witness z3 finds."""
    temperature = z3.Real("T")
    positive = temperature > 0

    def derivative(x):
        return z3.If(z3.And(x > -temperature, x < temperature), 1 / temperature, 0)

    def differs(x):
        kink = z3.Or(x == temperature, x == -temperature)
        return z3.And(z3.Not(kink), twins.ste_gradient(x) != derivative(x))

    x = z3.Real("x")
    return [
        _affine_between_kinks("hardtanh(x/T)",
                              lambda v: twins.progressive_forward(v, temperature), derivative,
                              [temperature, -temperature], positive),
        Lemma("for every T != 1 the gradient differs from the derivative at x = 0 or "
              "x = (1 + T)/2", z3.Or(differs(z3.RealVal(0)), differs((1 + temperature) / 2)),
              z3.And(positive, temperature != 1), "QF_NRA"),
        Lemma("counterexample at T = 1/2", differs(x), temperature == z3.RealVal("1/2"),
              "QF_NRA", exists=True),
        *[Lemma(f"at T = 1/2, x = {x}: gradient {gradient}, derivative {slope}",
                z3.And(twins.ste_gradient(x) == gradient, derivative(x) == slope),
                temperature == z3.RealVal("1/2"), "QF_NRA")
          for x, gradient, slope in ((z3.RealVal("3/4"), 1, 0), (z3.RealVal("1/4"), 1, 2))],
    ]
