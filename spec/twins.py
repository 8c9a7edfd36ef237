"""Symbolic twins: an independent re-implementation, in z3, of the ops the theorems speak about.

Each twin builds a z3 term from z3 terms, symbolic or concrete, following the normative text of the
reference module named in its docstring, without calling that module. ``tests/test_twins.py`` pins
every twin to the numpy reference: it substitutes random concrete inputs, simplifies the term to a
value and compares that value with the reference's output by equality. A twin that drifted from the
reference would fail there, so an encoding bug cannot make a proof of
:mod:`boolnet_spec.spec.theorems` vacuous.

Conventions: a bit is a 1-bit ``BitVec`` inside a bit-vector word, or a ``Bool`` (``True`` is bit
1, ENC-1) where a twin speaks of one bit; accumulators and thresholds are ``Int`` terms; real values
(BatchNorm parameters, surrogate inputs) are ``Real`` terms. ``sigma`` stands for
``sqrt(var + eps)`` and is never computed: theorems quantify over every ``sigma > 0``.
"""

from __future__ import annotations

from collections.abc import Sequence

import z3

__all__ = [
    "GE", "LE", "PRODUCT_BITS", "bits", "xnor", "pm1_product", "pm1_products", "popcount",
    "popcount_word", "accumulator", "accumulator_word", "in_domain", "ceil", "floor", "trunc",
    "canonical_unit", "unit_bit", "is_canonical", "sign_bit", "ge_times_sqrt", "bn_preactivation",
    "bn_scaled_preactivation", "fold_root", "fold_root_scaled", "fold_unit", "slice_bits",
    "window_max", "threshold_maxpool", "logic_xnor", "logic_or", "clamp", "hardtanh", "spec_sign",
    "torch_sign", "surrogate_xnor", "surrogate_or", "paper_or", "clamp_gradient", "ste_gradient",
    "xnor_gradient", "or_gradient", "progressive_forward",
]

# THR-1's polarity bits: 1 compares s >= t, 0 compares s <= t.
GE, LE = 1, 0
# A +-1 product held in two's complement; 8 bits hold {-1, +1} without wrapping.
PRODUCT_BITS = 8
# A popcount word: 16 bits hold every count and accumulator of a word of at most 64 bits.
WORD_BITS = 16


def _num(value) -> z3.ArithRef:
    return value if isinstance(value, z3.ExprRef) else z3.RealVal(value)


# --- Bits, XNOR and popcount (ACC-1, ACC-2) ------------------------------------------------------

def bits(x: z3.BitVecRef) -> list[z3.BitVecRef]:
    """The 1-bit slices of a word, least significant first."""
    return [z3.Extract(i, i, x) for i in range(x.size())]


def xnor(a: z3.BitVecRef, w: z3.BitVecRef) -> z3.BitVecRef:
    """Bitwise XNOR of two words (ACC-1): bit 1 where activation and weight bits agree."""
    return ~(a ^ w)


def pm1_product(a: z3.BitVecRef, w: z3.BitVecRef) -> z3.BitVecRef:
    """``(2a - 1) * (2w - 1)`` of two 1-bit values, in 8-bit two's complement (ENC-1)."""
    def value(bit):
        return 2 * z3.ZeroExt(PRODUCT_BITS - 1, bit) - 1
    return value(a) * value(w)


def pm1_products(a: z3.BitVecRef, w: z3.BitVecRef) -> list[z3.BitVecRef]:
    """The per-position +-1 products of two words, the terms of ACC-1's dot product."""
    return [pm1_product(x, y) for x, y in zip(bits(a), bits(w), strict=True)]


def popcount(x: z3.BitVecRef) -> z3.ArithRef:
    """The number of 1 bits of a word, as an ``Int``: the sum of its zero-extended bits."""
    return z3.Sum([z3.BV2Int(bit) for bit in bits(x)])


def popcount_word(x: z3.BitVecRef) -> z3.BitVecRef:
    """The number of 1 bits of a word of at most 64 bits, as a 16-bit word."""
    return z3.Sum([z3.ZeroExt(WORD_BITS - 1, bit) for bit in bits(x)])


def accumulator(a: z3.BitVecRef, w: z3.BitVecRef) -> z3.ArithRef:
    """ACC-1: ``s = 2 * popcount(XNOR(a, w)) - n`` for words of ``n`` bits, as an ``Int``."""
    return 2 * popcount(xnor(a, w)) - a.size()


def accumulator_word(a: z3.BitVecRef, w: z3.BitVecRef) -> z3.BitVecRef:
    """ACC-1 in 16-bit two's complement, for words of at most 64 bits."""
    return 2 * popcount_word(xnor(a, w)) - a.size()


def in_domain(s, n) -> z3.BoolRef:
    """ACC-2: ``s`` is in ``D_n = {-n, -n+2, ..., n}``."""
    return z3.And(-n <= s, s <= n, (s + n) % 2 == 0)


# --- Threshold units (THR-1 to THR-3) ------------------------------------------------------------

def ceil(t) -> z3.ArithRef:
    """The least integer ``>= t``."""
    return -z3.ToInt(-_num(t))


def floor(t) -> z3.ArithRef:
    """The greatest integer ``<= t``."""
    return z3.ToInt(_num(t))


def trunc(t) -> z3.ArithRef:
    """``t`` rounded toward zero, as C's conversion to ``int`` does."""
    t = _num(t)
    return z3.If(t >= 0, floor(t), ceil(t))


def canonical_unit(polarity: int, t, n) -> tuple[z3.ArithRef, z3.ArithRef]:
    """THR-3: the canonical unit ``(polarity, threshold)`` of ``s >= t`` (``GE``) or ``s <= t``
    (``LE``) over ``D_n``, for a real ``t``."""
    t = _num(t)
    if polarity == GE:
        low = z3.If(ceil(t) > -n, ceil(t), -n)
        return z3.IntVal(GE), z3.If(t > n, n + 2, low + (low + n) % 2)
    high = floor(t)
    constant = z3.Or(t >= n, t < -n)
    threshold = z3.If(t >= n, -n, z3.If(t < -n, n + 2, high - (high + n) % 2))
    return z3.If(constant, GE, LE), threshold


def unit_bit(polarity, threshold, s) -> z3.BoolRef:
    """THR-1: the output bit of the unit ``(polarity, threshold)`` at accumulator ``s``."""
    return z3.If(polarity == GE, s >= threshold, s <= threshold)


def is_canonical(polarity, threshold, n) -> z3.BoolRef:
    """THR-2: the unit is canonical for ``n``."""
    inside = in_domain(threshold, n)
    return z3.Or(z3.And(polarity == GE, z3.Or(inside, threshold == n + 2)),
                 z3.And(polarity == LE, inside, threshold != n))


# --- Sign, the exact decision and the folded BatchNorm (ENC-2, EXACT-2, FOLD-2 to FOLD-5) --------

def sign_bit(y) -> z3.BoolRef:
    """ENC-2: ``[y >= 0]``, so ``sign(0) = +1``."""
    return _num(y) >= 0


def ge_times_sqrt(lhs, k, v) -> z3.BoolRef:
    """EXACT-2's decision of ``lhs >= k * sqrt(v)`` for ``v > 0``, without a square root."""
    lhs, k, v = _num(lhs), _num(k), _num(v)
    return z3.If(z3.And(lhs >= 0, k <= 0), True,
                 z3.If(z3.And(lhs < 0, k >= 0), False,
                       z3.If(lhs >= 0, lhs * lhs >= k * k * v, lhs * lhs <= k * k * v)))


def bn_preactivation(s, gamma, beta, mean, sigma, alpha=1, bias=0, offset=0) -> z3.ArithRef:
    """FOLD-2: ``y = gamma * (alpha * s + b - mean) / sigma + beta + o``."""
    s = z3.ToReal(s) if z3.is_int(s) else _num(s)
    return _num(gamma) * (_num(alpha) * s + _num(bias) - _num(mean)) / _num(sigma) \
        + _num(beta) + _num(offset)


def bn_scaled_preactivation(s, gamma, beta, mean, sigma, alpha=1, bias=0,
                            offset=0) -> z3.ArithRef:
    """``sigma * y``: FOLD-2's pre-activation times ``sigma``, free of division."""
    s = z3.ToReal(s) if z3.is_int(s) else _num(s)
    return _num(gamma) * (_num(alpha) * s + _num(bias) - _num(mean)) \
        + (_num(beta) + _num(offset)) * _num(sigma)


def fold_root(gamma, beta, mean, sigma, alpha=1, bias=0, offset=0) -> z3.ArithRef:
    """FOLD-3/FOLD-4: the real root ``t*`` of ``y``, for ``gamma != 0``:
    ``t* = (mean - b) / alpha - (beta + o) * sigma / (gamma * alpha)``."""
    gamma, alpha = _num(gamma), _num(alpha)
    return (_num(mean) - _num(bias)) / alpha \
        - (_num(beta) + _num(offset)) * _num(sigma) / (gamma * alpha)


def fold_root_scaled(gamma, beta, mean, sigma, alpha=1, bias=0, offset=0) -> z3.ArithRef:
    """``gamma * alpha * t*``, free of division: ``gamma * (mean - b) - (beta + o) * sigma``."""
    return _num(gamma) * (_num(mean) - _num(bias)) - (_num(beta) + _num(offset)) * _num(sigma)


def fold_unit(n, gamma, beta, mean, sigma, alpha=1, bias=0,
              offset=0) -> tuple[z3.ArithRef, z3.ArithRef]:
    """FOLD-3 to FOLD-5: the canonical unit of one channel and slice."""
    gamma = _num(gamma)
    root = fold_root(gamma, beta, mean, sigma, alpha, bias, offset)
    increasing, decreasing = canonical_unit(GE, root, n), canonical_unit(LE, root, n)
    constant = z3.If(_num(beta) + _num(offset) >= 0, -n, n + 2)
    pick = lambda i: z3.If(gamma > 0, increasing[i], z3.If(gamma < 0, decreasing[i],  # noqa: E731
                                                             (GE, constant)[i]))
    return pick(0), pick(1)


# --- Slices and max pooling (SLICE-2, POOL-2) ----------------------------------------------------

def slice_bits(z, offsets: Sequence) -> list[z3.BoolRef]:
    """SLICE-2: the bits ``[z + o_j >= 0]`` of one feature, one per offset."""
    return [sign_bit(_num(z) + _num(o)) for o in offsets]


def window_max(values: Sequence) -> z3.ArithRef:
    """The maximum of a non-empty window of values."""
    best = values[0]
    for value in values[1:]:
        best = z3.If(value > best, value, best)
    return best


def threshold_maxpool(window: Sequence, polarity, threshold) -> z3.BoolRef:
    """POOL-2: the pooled bit of a window of accumulators under one unit: the OR of the
    per-position bits for polarity ``GE``, their AND for ``LE``."""
    per_position = [unit_bit(polarity, threshold, s) for s in window]
    return z3.If(polarity == GE, z3.Or(per_position), z3.And(per_position))


# --- Logic shortcuts and the training surrogates (LOGIC-1, LOGIC-2, TORCH-1 to TORCH-3) ----------

def logic_xnor(x: z3.BoolRef, r: z3.BoolRef) -> z3.BoolRef:
    """LOGIC-1 on bits."""
    return x == r


def logic_or(x: z3.BoolRef, r: z3.BoolRef) -> z3.BoolRef:
    """LOGIC-2 on bits."""
    return z3.Or(x, r)


def clamp(x, low, high) -> z3.ArithRef:
    """``min(max(x, low), high)`` for ``low <= high``, as ``torch.clamp``."""
    x = _num(x)
    return z3.If(x < low, _num(low), z3.If(x > high, _num(high), x))


def hardtanh(x) -> z3.ArithRef:
    """``clamp(x, -1, 1)``."""
    return clamp(x, -1, 1)


def spec_sign(x) -> z3.ArithRef:
    """ENC-2's sign as a +-1 value: ``+1`` for ``x >= 0``."""
    return z3.If(_num(x) >= 0, z3.RealVal(1), z3.RealVal(-1))


def torch_sign(x) -> z3.ArithRef:
    """``torch.sign``: ``0`` at ``0`` (the ternary value of ENC-4)."""
    x = _num(x)
    return z3.If(x > 0, z3.RealVal(1), z3.If(x < 0, z3.RealVal(-1), z3.RealVal(0)))


def surrogate_xnor(x, r) -> z3.ArithRef:
    """The authors' XNOR on +-1 (or ternary) values: ``x * r``."""
    return _num(x) * _num(r)


def surrogate_or(x, r) -> z3.ArithRef:
    """The authors' OR: ``clamp((x + 1)/2 + (r + 1)/2, 0, 1) * 2 - 1``."""
    return clamp((_num(x) + 1) / 2 + (_num(r) + 1) / 2, 0, 1) * 2 - 1


def paper_or(x, r) -> z3.ArithRef:
    """The paper's OR: ``2 * min(1, (x + r)/2 + 1) - 1``."""
    inner = (_num(x) + _num(r)) / 2 + 1
    return 2 * z3.If(inner < 1, inner, z3.RealVal(1)) - 1


def clamp_gradient(x, low, high) -> z3.ArithRef:
    """The gradient ``torch.clamp`` passes back: 1 on ``[low, high]``, borders included."""
    x = _num(x)
    return z3.If(z3.And(x >= low, x <= high), z3.RealVal(1), z3.RealVal(0))


def ste_gradient(x) -> z3.ArithRef:
    """TORCH-1/TORCH-2's straight-through gradient: that of ``clamp(x, -1, 1)``."""
    return clamp_gradient(x, -1, 1)


def xnor_gradient(x, r) -> z3.ArithRef:
    """The gradient of ``x * r`` with respect to ``x``."""
    return _num(r)


def or_gradient(x, r) -> z3.ArithRef:
    """The gradient autograd computes for the authors' OR with respect to ``x``:
    ``2 * clamp'((x + 1)/2 + (r + 1)/2) * 1/2``."""
    return clamp_gradient((_num(x) + 1) / 2 + (_num(r) + 1) / 2, 0, 1)


def progressive_forward(w, temperature) -> z3.ArithRef:
    """TORCH-1's training forward of a weight: ``hardtanh(w / T)``."""
    return hardtanh(_num(w) / _num(temperature))
