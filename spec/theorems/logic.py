"""Theorem of the logic chapter: the shortcut formulas on binary and ternary values.

.. req:: PROOF-15

   Logic shortcuts. On ``{-1, +1}**2`` the authors' XNOR ``x*r``, their OR
   ``clamp((x + 1)/2 + (r + 1)/2, 0, 1)*2 - 1`` and the paper's OR ``2*min(1, (x + r)/2 + 1) - 1``
   equal the +-1 values of the gates (LOGIC-1, LOGIC-2). On the ternary 0 of ``torch.sign``
   (LOGIC-3): ``XNOR(0, r) = XNOR(r, 0) = 0``; ``OR(0, -1) = OR(-1, 0) = 0``;
   ``OR(0, +1) = OR(+1, 0) = +1``; ``OR(0, 0) = +1``; the two OR formulas agree on
   ``{-1, 0, +1}**2`` and stay in it.
"""

from __future__ import annotations

import z3

from boolnet_spec.spec import twins
from boolnet_spec.spec.theorems.engine import Lemma, theorem

__all__ = ["pm1", "gates_on_binary_values", "logic_shortcuts"]


def pm1(bit: z3.BoolRef) -> z3.ArithRef:
    return z3.If(bit, z3.RealVal(1), z3.RealVal(-1))


def gates_on_binary_values() -> list[Lemma]:
    x, r = z3.Bools("x r")
    pair = (pm1(x), pm1(r))
    return [Lemma("on {-1, +1}**2: x*r is XNOR, both OR formulas are OR",
                  z3.And(twins.surrogate_xnor(*pair) == pm1(twins.logic_xnor(x, r)),
                         twins.surrogate_or(*pair) == pm1(twins.logic_or(x, r)),
                         twins.paper_or(*pair) == pm1(twins.logic_or(x, r))), logic="QF_NRA")]


@theorem("PROOF-15", "LOGIC: the shortcut formulas on binary and ternary values")
def logic_shortcuts() -> list[Lemma]:
    """Finite real arithmetic."""
    x, r = z3.Reals("x r")
    ternary = z3.And(z3.Or(x == -1, x == 0, x == 1), z3.Or(r == -1, r == 0, r == 1))
    xnor, gate_or = twins.surrogate_xnor(x, r), twins.surrogate_or(x, r)
    zero_or = z3.If(z3.Or(x == -1, r == -1), z3.RealVal(0), z3.RealVal(1))
    return [
        *gates_on_binary_values(),
        Lemma("XNOR with a 0 operand is 0", xnor == 0, z3.And(ternary, z3.Or(x == 0, r == 0)),
              "QF_NRA"),
        Lemma("OR(0, -1) = 0, OR(0, +1) = +1, OR(0, 0) = +1, either order", gate_or == zero_or,
              z3.And(ternary, z3.Or(x == 0, r == 0)), "QF_NRA"),
        Lemma("the two OR formulas agree on {-1, 0, 1}**2 and stay in it",
              z3.And(twins.paper_or(x, r) == gate_or, z3.Or(gate_or == -1, gate_or == 0,
                                                            gate_or == 1),
                     z3.Or(xnor == -1, xnor == 0, xnor == 1)), ternary, "QF_NRA"),
    ]


