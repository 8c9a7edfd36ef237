"""The informative fold algorithm on fixed-scale integers, and the widths its integers need.

An independent re-implementation of FOLD-2 to FOLD-7 the way a C or hardware implementer would
write it: every input scaled by a fixed power of two to an integer, no fraction ever reduced, one
comparison of squares (EXACT-2), a binary search over ``D_n``. :func:`fold_unit` is the pseudocode
of the fold chapter, line for line. ``.. fold-widths::`` renders the bit lengths its integers
reach on extreme inputs, measured here, and checks :func:`fold_unit` against the reference's
:func:`~boolnet_spec.reference.fold.fold_bn_sign` on those inputs and on random ones: a
disagreement is a warning, so the ``-W`` build fails.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

F32_SCALE = 149    # every finite float32 is an integer multiple of 2**-149
F64_SCALE = 1074   # every finite binary64 is an integer multiple of 2**-1074


def scaled(x: float, scale: int) -> int:
    value = Fraction(float(x)) * 2 ** scale
    assert value.denominator == 1
    return value.numerator


def fold_unit(gamma, beta, mean, var, eps, alpha, bias, offset, n, widths=None):
    """The canonical unit ``(polarity, t)`` of one channel and slice; ``widths`` collects the
    bit length of every integer by name."""
    G = scaled(gamma, F32_SCALE)
    A = scaled(alpha, F32_SCALE)
    B = scaled(bias, F32_SCALE) - scaled(mean, F32_SCALE)
    K = -(scaled(beta, F32_SCALE) + scaled(offset, F32_SCALE))
    V = scaled(var, F64_SCALE) + scaled(eps, F64_SCALE)
    shift = 2 * F32_SCALE + F64_SCALE - 2 * (2 * F32_SCALE)  # 776: L has scale 2**298

    def note(name: str, value: int) -> None:
        if widths is not None:
            widths[name] = max(widths.get(name, 0), abs(value).bit_length())

    for name, value in (("G", G), ("A", A), ("B", B), ("K", K), ("V", V)):
        note(name, value)

    def bit(s: int) -> bool:
        # [G (A s + B) 2**-298 >= K 2**-149 sqrt(V 2**-1074)], EXACT-2 on integers.
        L = G * (A * s + B)
        note("A*s + B", A * s + B)
        note("L", L)
        if L >= 0 and K <= 0:
            return True
        if L < 0 and K >= 0:
            return False
        left, right = L * L << shift, K * K * V
        note("L*L << 776", left)
        note("K*K*V", right)
        return left >= right if L >= 0 else left <= right

    def least(predicate) -> int:
        low, high = 0, n + 1  # predicate(n + 1) is true by definition
        while low < high:
            middle = (low + high) // 2
            if middle == n + 1 or predicate(middle):
                high = middle
            else:
                low = middle + 1
        return low

    if G == 0:
        return (1, -n) if K <= 0 else (1, n + 2)
    if G > 0:
        i = least(lambda i: bit(2 * i - n))
        return 1, 2 * i - n          # i = n + 1 gives (1, n + 2): constant 0
    i = least(lambda i: not bit(2 * i - n))
    t = 2 * i - n - 2                # the largest s with bit 1
    if i == 0:
        return 1, n + 2              # no s has bit 1: constant 0
    if t == n:
        return 1, -n                 # every s has bit 1: constant 1
    return 0, t


def reference_unit(gamma, beta, mean, var, eps, alpha, bias, offset, n):
    from boolnet_spec.reference.batchnorm import BatchNorm
    from boolnet_spec.reference.fold import fold_bn_sign

    f32 = np.float32
    bn = BatchNorm(np.array([gamma], f32), np.array([beta], f32), np.array([mean], f32),
                   np.array([var], f32), eps=eps)
    units = fold_bn_sign(bn, n, alpha=np.array([alpha], f32), bias=np.array([bias], f32),
                         offsets=np.array([offset], f32))
    return int(units.polarity[0, 0]), int(units.threshold[0, 0])


F32_MAX = float(np.finfo(np.float32).max)
F32_TINY = float(np.float32(2.0 ** -149))
N_MAX = 32765

#: Extreme inputs: (what they show, gamma, beta, mean, var, eps, alpha, bias, offset, n).
CORNERS = [
    ("typical: unit scales, eps = 1e-5", 0.8, -0.3, 1.7, 2.5, 1e-5, 0.05, 0.0, 1 / 3, 576),
    ("float32 extremes, eps = 1e-5", F32_MAX, F32_TINY, -F32_MAX, F32_TINY, 1e-5, F32_MAX,
     F32_TINY, -F32_MAX, N_MAX),
    ("float32 extremes, eps = 1e-5, gamma < 0", -F32_TINY, F32_MAX, F32_TINY, F32_MAX, 1e-5,
     F32_TINY, -F32_MAX, F32_MAX, N_MAX),
    ("float32 extremes, eps = largest binary64", F32_MAX, F32_TINY, -F32_MAX, F32_TINY,
     float(np.finfo(np.float64).max), F32_MAX, F32_TINY, -F32_MAX, N_MAX),
]


def measure():
    """Bit lengths per corner, and the corners and random cases where the two folds differ."""
    rows, disagreements = [], []
    for label, *args in CORNERS:
        widths: dict[str, int] = {}
        unit = fold_unit(*args, widths=widths)
        if unit != reference_unit(*args):
            disagreements.append(label)
        rows.append((label, unit, widths))
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        g, b, m, v = (float(np.float32(x)) for x in rng.normal(0, 2, 4))
        args = (g, b, m, abs(v), 1e-5, float(np.float32(abs(rng.normal()) + 0.01)),
                float(np.float32(rng.normal())), float(np.float32(rng.normal(0, 0.3))), n)
        if fold_unit(*args) != reference_unit(*args):
            disagreements.append(repr(args))
    return rows, disagreements


class FoldWidthsDirective(SphinxDirective):
    def run(self):
        rows, disagreements = measure()
        for case in disagreements:
            logger.warning("the integer fold algorithm differs from fold_bn_sign on %s", case,
                           location=self.get_location())
        names = ["G", "A", "B", "K", "V", "A*s + B", "L", "L*L << 776", "K*K*V"]
        body = nodes.tbody()
        for label, unit, widths in rows:
            row = nodes.row()
            for cell in [label, str(unit), *(str(widths.get(name, "")) for name in names)]:
                row += nodes.entry("", nodes.paragraph(text=cell))
            body += row
        head = nodes.row()
        for cell in ["Inputs", "Unit", *names]:
            head += nodes.entry("", nodes.paragraph("", "", nodes.literal(text=cell)
                                                    if cell not in ("Inputs", "Unit")
                                                    else nodes.Text(cell)))
        group = nodes.tgroup("", *(nodes.colspec(colwidth=w) for w in [22, 9] + [8] * 9),
                             nodes.thead("", head), body, cols=11)
        caption = nodes.paragraph(text=(
            "Bit lengths measured when the site was built (largest over every s the search "
            f"visits); the algorithm agreed with the reference on these inputs and on "
            f"200 random ones ({len(disagreements)} disagreements)."))
        return [caption, nodes.table("", group, classes=["fold-widths", "colwidths-auto"])]


def setup(app):
    app.add_directive("fold-widths", FoldWidthsDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
