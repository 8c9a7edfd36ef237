"""Variants the prover was not written for, each with a verdict derived by hand and a brute-force
cross-check on exact rationals that shares no code with the prover: the oracles below are plain
Python on ``Fraction``, enumerating ``s`` over a small domain and the parameters over a grid."""

import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction as F
from types import SimpleNamespace

import numpy as np
import pytest

from boolnet_spec.spec.variants import (
    Fold,
    Input,
    Param,
    Variant,
    ceil,
    floor,
    maximum,
    minimum,
    prove_variant,
    trunc,
    where,
)
from boolnet_spec.spec.variants.declarations import Range

# The default budget is 3 s of wall time; a loaded CI machine gets more, the verdicts are the same.
BUDGET_MS = 30_000
BN = (Param("gamma"), Param("beta"), Param("mean"), Param("sigma", positive=True))
BN_GRID = {"gamma": [F(-1), F(0), F(1, 2), F(2)], "beta": [F(-1), F(0), F(1, 2)],
           "mean": [F(-1), F(0), F(1, 2), F(1)], "sigma": [F(1, 2), F(1), F(2)]}
POSITIVE_BN_GRID = {**BN_GRID, "gamma": [F(1, 2), F(1), F(2)]}


def bn(s, p):
    return p.gamma * (s - p.mean) / p.sigma + p.beta


def root(p):
    return p.mean - p.beta * p.sigma / p.gamma


@dataclass
class Case:
    """A variant, its verdict derived by hand, and the oracles of the brute force: ``y(s, v)``
    (a number or a tuple), optionally the claimed fold's bit ``fold(s, v)`` (a bool or a tuple),
    the grid of parameter and input values and the admissible test ``admits(v)``."""

    variant: Variant
    verdict: str
    y: object
    grid: dict
    fold: object = None
    admits: object = field(default=lambda v: True)


def oracle_bn(s, v):
    return v.gamma * (s - v.mean) / v.sigma + v.beta


def oracle_root(v):
    return v.mean - v.beta * v.sigma / v.gamma


def by_gamma(s, v, up, down, constant):
    """The bit of a fold by the sign of gamma, on exact values."""
    if v.gamma > 0:
        return s >= up(v)
    if v.gamma < 0:
        return s <= down(v)
    return constant(v)


def clip(x, low, high):
    return min(max(x, low), high)


def float32_neighbours(x, count):
    """``x`` as a float32 and the ``count`` float32 values on each side, as exact rationals."""
    values, up, down = [np.float32(x)], np.float32(x), np.float32(x)
    for _ in range(count):
        up, down = np.nextafter(up, np.float32(np.inf)), np.nextafter(down, np.float32(-np.inf))
        values += [up, down]
    return [F(float(v)) for v in values]


def f32(x):
    return np.float32(float(x))


BOX = {"magnitude": (F(1, 1024), 4096)}
FLOAT32_BN = (Param("gamma", positive=True, **BOX), Param("beta", **BOX), Param("mean", **BOX),
              Param("sigma", positive=True, **BOX))


CASES = {
    # Bug 1: integer parameters.
    "integer-fold": Case(
        Variant("integer-fold", (Param("g", integer=True, nonzero=True), Param("b", integer=True)),
                lambda s, p: p.g * s + p.b,
                Fold(lambda p: p.g, lambda p: where(p.g > 0, ceil(-p.b / p.g), floor(-p.b / p.g)))),
        "proved", lambda s, v: v.g * s + v.b,
        {"g": [F(k) for k in (-3, -2, -1, 1, 2, 3)], "b": [F(k) for k in range(-4, 5)]},
        fold=lambda s, v: s >= math.ceil(-v.b / v.g) if v.g > 0 else s <= math.floor(-v.b / v.g)),
    "integer-fold-rounded-the-wrong-way": Case(
        Variant("integer-fold-wrong", (Param("g", integer=True, nonzero=True),
                                       Param("b", integer=True)),
                lambda s, p: p.g * s + p.b,
                Fold(lambda p: p.g, lambda p: where(p.g > 0, floor(-p.b / p.g), ceil(-p.b / p.g)))),
        "counterexample", lambda s, v: v.g * s + v.b,
        {"g": [F(k) for k in (-3, -2, -1, 1, 2, 3)], "b": [F(k) for k in range(-4, 5)]},
        fold=lambda s, v: s >= math.floor(-v.b / v.g) if v.g > 0 else s <= math.ceil(-v.b / v.g)),
    "integer-derived": Case(
        Variant("integer-derived", (Param("g", integer=True), Param("b", integer=True)),
                lambda s, p: p.g * s + p.b),
        "proved", lambda s, v: v.g * s + v.b,
        {"g": [F(k) for k in (-2, 0, 1, 3)], "b": [F(k) for k in range(-3, 4)]}),
    "tiny-cnn-integer-truncation": Case(
        Variant("tiny-cnn-integer-truncation", (Param("g", integer=True, positive=True),
                                                Param("b", integer=True)),
                lambda s, p: p.g * s + p.b, Fold(lambda p: 1, lambda p: trunc(-p.b / p.g))),
        "counterexample", lambda s, v: v.g * s + v.b,
        {"g": [F(k) for k in (1, 2, 3)], "b": [F(k) for k in range(-4, 5)]},
        fold=lambda s, v: s >= math.trunc(-v.b / v.g)),
    # Bug 2: the threshold handles gamma = 0.
    "dn-zero-slope-in-threshold": Case(
        Variant("dn-zero-slope-in-threshold", (Param("g"), Param("b")), lambda s, p: p.g * s + p.b,
                Fold(lambda p: p.g, lambda p: where(p.g > 0, ceil(-p.b / p.g), where(
                    p.g < 0, floor(-p.b / p.g), where(p.b >= 0, -p.n, p.n + 1)))),
                domain="D_n"),
        "proved", lambda s, v: v.g * s + v.b,
        {"g": [F(-1), F(0), F(1, 2), F(2)], "b": [F(-1), F(0), F(1, 3), F(1)],
         "n": [F(k) for k in (1, 2, 3, 4)]},
        fold=lambda s, v: s >= math.ceil(-v.b / v.g) if v.g > 0 else (
            s <= math.floor(-v.b / v.g) if v.g < 0 else s >= (-v.n if v.b >= 0 else v.n + 1))),
    "dn-zero-slope-strict": Case(
        Variant("dn-zero-slope-strict", (Param("g"), Param("b")), lambda s, p: p.g * s + p.b,
                Fold(lambda p: p.g, lambda p: where(p.g > 0, ceil(-p.b / p.g), where(
                    p.g < 0, floor(-p.b / p.g), where(p.b > 0, -p.n, p.n + 1)))),
                domain="D_n"),
        "counterexample", lambda s, v: v.g * s + v.b,
        {"g": [F(-1), F(0), F(2)], "b": [F(-1), F(0), F(1)], "n": [F(1), F(2), F(3)]},
        fold=lambda s, v: s >= math.ceil(-v.b / v.g) if v.g > 0 else (
            s <= math.floor(-v.b / v.g) if v.g < 0 else s >= (-v.n if v.b > 0 else v.n + 1))),
    # Bug 3: where() is lazy.
    "guarded-preactivation": Case(
        Variant("guarded-preactivation", (Param("c"),),
                lambda s, p: where(p.c == 0, s * s - 1, s / p.c)),
        "not-foldable", lambda s, v: s * s - 1 if v.c == 0 else s / v.c,
        {"c": [F(-1), F(0), F(1, 2), F(2)]}),
    "guarded-threshold": Case(
        Variant("guarded-threshold", (Param("g"), Param("b")), lambda s, p: p.g * s + p.b,
                Fold(lambda p: p.g, lambda p: where(p.g != 0, where(
                    p.g > 0, ceil(-p.b / p.g), floor(-p.b / p.g)), 0), lambda p: p.b >= 0)),
        "proved", lambda s, v: v.g * s + v.b,
        {"g": [F(-2), F(0), F(1, 3), F(1)], "b": [F(-1), F(0), F(1, 2), F(2)]},
        fold=lambda s, v: by_gamma(s, SimpleNamespace(gamma=v.g), lambda _: math.ceil(-v.b / v.g),
                                   lambda _: math.floor(-v.b / v.g), lambda _: v.b >= 0)),
    # Exact literals.
    "one-tenth-as-a-fraction": Case(
        Variant("one-tenth-as-a-fraction", (), lambda s, p: -abs(s * F("0.1") - F("0.3"))),
        "not-foldable", lambda s, v: -abs(s * F(1, 10) - F(3, 10)), {}),
    "dyadic-float-literals": Case(
        Variant("dyadic-float-literals", (Param("m"),), lambda s, p: s * 0.5 - p.m * 0.25),
        "proved", lambda s, v: s / 2 - v.m / 4, {"m": [F(-3), F(0), F(1, 2), F(5)]}),
    # ReActNet.
    "reactnet-rsign": Case(
        Variant("reactnet-rsign", (*BN, Param("alpha")), lambda s, p: bn(s, p) - p.alpha),
        "proved", lambda s, v: oracle_bn(s, v) - v.alpha, {**BN_GRID, "alpha": [F(-1), F(1, 2)]}),
    "reactnet-rsign-strict-at-the-tie": Case(
        Variant("reactnet-rsign", (*BN, Param("alpha")), lambda s, p: bn(s, p) - p.alpha,
                Fold(lambda p: p.gamma,
                     lambda p: where(p.gamma > 0, floor(root(p) + p.alpha * p.sigma / p.gamma) + 1,
                                     ceil(root(p) + p.alpha * p.sigma / p.gamma) - 1),
                     lambda p: p.beta - p.alpha > 0, name="x > alpha, ReActNet's tie")),
        "counterexample", lambda s, v: oracle_bn(s, v) - v.alpha,
        {**BN_GRID, "alpha": [F(0), F(1, 2)]},
        fold=lambda s, v: by_gamma(
            s, v, lambda v: math.floor(oracle_root(v) + v.alpha * v.sigma / v.gamma) + 1,
            lambda v: math.ceil(oracle_root(v) + v.alpha * v.sigma / v.gamma) - 1,
            lambda v: v.beta - v.alpha > 0)),
    "reactnet-rprelu": Case(
        Variant("reactnet-rprelu", (*BN, Param("shift"), Param("slope", positive=True),
                                    Param("zeta")),
                lambda s, p: where(bn(s, p) >= p.shift, bn(s, p) - p.shift,
                                   p.slope * (bn(s, p) - p.shift)) + p.zeta),
        "proved", lambda s, v: (oracle_bn(s, v) - v.shift) * (
            1 if oracle_bn(s, v) >= v.shift else v.slope) + v.zeta,
        {**BN_GRID, "shift": [F(0), F(1)], "slope": [F(1, 4)], "zeta": [F(-1, 2), F(1)]}),
    "reactnet-rprelu-negative-slope": Case(
        Variant("reactnet-rprelu-any-slope", (*BN, Param("shift"), Param("slope"), Param("zeta")),
                lambda s, p: where(bn(s, p) >= p.shift, bn(s, p) - p.shift,
                                   p.slope * (bn(s, p) - p.shift)) + p.zeta),
        "not-foldable", lambda s, v: (oracle_bn(s, v) - v.shift) * (
            1 if oracle_bn(s, v) >= v.shift else v.slope) + v.zeta,
        {**BN_GRID, "shift": [F(0)], "slope": [F(-1), F(1, 2)], "zeta": [F(-1, 2)]}),
    # tiny-cnn's truncation.
    "tiny-cnn-truncation": Case(
        Variant("tiny-cnn-truncation", (Param("gamma", positive=True), *BN[1:]), bn,
                Fold(lambda p: 1, lambda p: trunc(root(p)))),
        "counterexample", oracle_bn, POSITIVE_BN_GRID,
        fold=lambda s, v: s >= math.trunc(oracle_root(v))),
    "tiny-cnn-truncation-of-roots-at-most-0": Case(
        Variant("tiny-cnn-truncation-nonpositive-root", (Param("gamma", positive=True), *BN[1:]),
                bn, Fold(lambda p: 1, lambda p: trunc(root(p))),
                assumptions=lambda p: p.gamma * p.mean - p.beta * p.sigma <= 0),
        "proved", oracle_bn, POSITIVE_BN_GRID, fold=lambda s, v: s >= math.trunc(oracle_root(v)),
        admits=lambda v: v.gamma * v.mean - v.beta * v.sigma <= 0),
    # Ties written another way (FOLD-6).
    "ceil-as-negated-floor": Case(
        Variant("ceil-as-negated-floor", BN, bn,
                Fold(lambda p: p.gamma, lambda p: where(p.gamma > 0, -floor(-root(p)),
                                                        floor(root(p))),
                     lambda p: p.beta >= 0)),
        "proved", oracle_bn, BN_GRID,
        fold=lambda s, v: by_gamma(s, v, lambda v: -math.floor(-oracle_root(v)),
                                   lambda v: math.floor(oracle_root(v)), lambda v: v.beta >= 0)),
    "round-half-up": Case(
        Variant("round-half-up", (Param("gamma", positive=True), *BN[1:]), bn,
                Fold(lambda p: 1, lambda p: floor(root(p) + F(1, 2)))),
        "counterexample", oracle_bn, POSITIVE_BN_GRID,
        fold=lambda s, v: s >= math.floor(oracle_root(v) + F(1, 2))),
    "floor-plus-one": Case(
        Variant("floor-plus-one", (Param("gamma", positive=True), *BN[1:]), bn,
                Fold(lambda p: 1, lambda p: floor(root(p)) + 1)),
        "counterexample", oracle_bn, POSITIVE_BN_GRID,
        fold=lambda s, v: s >= math.floor(oracle_root(v)) + 1),
    # Roundings into the popcount on D_n.
    "popcount-floor-form": Case(
        Variant("popcount-floor-form", (Param("gamma", positive=True), *BN[1:]), bn,
                Fold(lambda p: 1, lambda p: 2 * floor((ceil(root(p)) + p.n + 1) / 2) - p.n),
                domain="D_n"),
        "proved", oracle_bn, {**POSITIVE_BN_GRID, "n": [F(1), F(2), F(3)]},
        fold=lambda s, v: s >= 2 * math.floor((math.ceil(oracle_root(v)) + v.n + 1) / 2) - v.n),
    "popcount-halved-down": Case(
        Variant("popcount-halved-down", (Param("gamma", positive=True), *BN[1:]), bn,
                Fold(lambda p: 1, lambda p: 2 * floor((ceil(root(p)) + p.n) / 2) - p.n),
                domain="D_n"),
        "counterexample", oracle_bn, {**POSITIVE_BN_GRID, "n": [F(1), F(2), F(3)]},
        fold=lambda s, v: s >= 2 * math.floor((math.ceil(oracle_root(v)) + v.n) / 2) - v.n),
    # Learnable clips.
    "learnable-clip": Case(
        Variant("learnable-clip", (*BN, Param("c", positive=True)),
                lambda s, p: minimum(maximum(bn(s, p), -p.c), p.c)),
        "proved", lambda s, v: clip(oracle_bn(s, v), -v.c, v.c), {**BN_GRID, "c": [F(1, 2)]}),
    "pact-clip": Case(
        Variant("pact-clip", (*BN, Param("a", positive=True)),
                lambda s, p: minimum(maximum(bn(s, p), 0), p.a) - p.a / 2),
        "proved", lambda s, v: clip(oracle_bn(s, v), 0, v.a) - v.a / 2,
        {**BN_GRID, "a": [F(1), F(3)]}),
    "clip-magnitude": Case(
        Variant("clip-magnitude", (*BN, Param("c", positive=True)),
                lambda s, p: abs(minimum(maximum(bn(s, p), -p.c), p.c)) - p.c / 2),
        "not-foldable", lambda s, v: abs(clip(oracle_bn(s, v), -v.c, v.c)) - v.c / 2,
        {**BN_GRID, "c": [F(1)]}),
    # LayerNorm-like inputs.
    "layernorm-mean-input": Case(
        Variant("layernorm-mean-input", (Param("gamma"), Param("beta"), Param("sigma",
                                                                              positive=True)),
                lambda s, p: p.gamma * (s - p.mu) / p.sigma + p.beta, inputs=(Input("mu"),)),
        "not-foldable", lambda s, v: v.gamma * (s - v.mu) / v.sigma + v.beta,
        {"gamma": [F(1)], "beta": [F(0)], "sigma": [F(1)], "mu": [F(0), F(3)]}),
    "input-within-margin": Case(
        Variant("input-within-margin", (Param("eps", positive=True),),
                lambda s, p: 2 * s + 1 + p.q, inputs=(Input("q"),),
                assumptions=lambda p: (p.q <= p.eps) & (-p.eps <= p.q) & (p.eps <= F(1, 2))),
        "proved", lambda s, v: 2 * s + 1 + v.q,
        {"eps": [F(1, 4), F(1, 2)], "q": [F(k, 4) for k in range(-2, 3)]},
        admits=lambda v: abs(v.q) <= v.eps <= F(1, 2)),
    "input-beyond-margin": Case(
        Variant("input-beyond-margin", (Param("eps", positive=True),),
                lambda s, p: 2 * s + 1 + p.q, inputs=(Input("q"),),
                assumptions=lambda p: (p.q <= p.eps) & (-p.eps <= p.q) & (p.eps <= 1)),
        "not-foldable", lambda s, v: 2 * s + 1 + v.q,
        {"eps": [F(1)], "q": [F(-1), F(0), F(1)]}, admits=lambda v: abs(v.q) <= v.eps <= 1),
    # Bounded domains.
    "range-with-step": Case(
        Variant("range-with-step", (Param("m"),), lambda s, p: s - p.m,
                Fold(lambda p: 1, lambda p: 3 * ceil(p.m / 3)), domain=Range(0, 12, 3)),
        "proved", lambda s, v: s - v.m, {"m": [F(k, 2) for k in range(-3, 28)]},
        fold=lambda s, v: s >= 3 * math.ceil(v.m / 3)),
    "range-fold-on-every-integer": Case(
        Variant("range-fold-on-every-integer", (Param("m"),), lambda s, p: s - p.m,
                Fold(lambda p: 1, lambda p: 3 * ceil(p.m / 3))),
        "counterexample", lambda s, v: s - v.m, {"m": [F(k, 2) for k in range(-3, 8)]},
        fold=lambda s, v: s >= 3 * math.ceil(v.m / 3)),
    "square-on-a-nonnegative-range": Case(
        Variant("square-on-a-range", (Param("c", positive=True),), lambda s, p: s * s - p.c,
                domain=Range(0, 10)),
        "proved", lambda s, v: s * s - v.c, {"c": [F(1, 2), F(4), F(30), F(200)]}),
    "square-on-every-integer": Case(
        Variant("square", (Param("c", positive=True),), lambda s, p: s * s - p.c),
        "not-foldable", lambda s, v: s * s - v.c, {"c": [F(1, 2), F(4)]}),
    # Quantizers with several outputs.
    "ternary": Case(
        Variant("ternary", (*BN, Param("d", nonnegative=True)),
                lambda s, p: (bn(s, p) - p.d, bn(s, p) + p.d)),
        "proved", lambda s, v: (oracle_bn(s, v) - v.d, oracle_bn(s, v) + v.d),
        {**BN_GRID, "d": [F(0), F(1)]}),
    "ternary-unordered": Case(
        Variant("ternary-any-d", (*BN, Param("d")),
                lambda s, p: (bn(s, p) - p.d, bn(s, p) + p.d)),
        "not-foldable", lambda s, v: (oracle_bn(s, v) - v.d, oracle_bn(s, v) + v.d),
        {**BN_GRID, "d": [F(-1), F(1)]}),
    "two-bit": Case(
        Variant("two-bit", BN, lambda s, p: tuple(bn(s, p) - F(k, 2) for k in (5, 3, 1))),
        "proved", lambda s, v: tuple(oracle_bn(s, v) - F(k, 2) for k in (5, 3, 1)), BN_GRID),
    "slices-claimed-thresholds": Case(
        Variant("three-slices", (*BN, Param("o1"), Param("o2"), Param("o3")),
                lambda s, p: (bn(s, p) + p.o1, bn(s, p) + p.o2, bn(s, p) + p.o3),
                Fold(lambda p: p.gamma, lambda p: tuple(
                    where(p.gamma > 0, ceil(root(p) - o * p.sigma / p.gamma),
                          floor(root(p) - o * p.sigma / p.gamma)) for o in (p.o1, p.o2, p.o3)),
                     lambda p: (p.beta + p.o1 >= 0, p.beta + p.o2 >= 0, p.beta + p.o3 >= 0)),
                assumptions=lambda p: (p.o1 < p.o2) & (p.o2 < p.o3)),
        "proved", lambda s, v: tuple(oracle_bn(s, v) + o for o in (v.o1, v.o2, v.o3)),
        {**BN_GRID, "o1": [F(-1)], "o2": [F(0), F(1, 2)], "o3": [F(1)]},
        fold=lambda s, v: tuple(by_gamma(
            s, v, lambda v, o=o: math.ceil(oracle_root(v) - o * v.sigma / v.gamma),
            lambda v, o=o: math.floor(oracle_root(v) - o * v.sigma / v.gamma),
            lambda v, o=o: v.beta + o >= 0) for o in (v.o1, v.o2, v.o3)),
        admits=lambda v: v.o1 < v.o2 < v.o3),
    "slices-one-threshold-floored": Case(
        Variant("three-slices-one-floored", (*BN, Param("o1"), Param("o2"), Param("o3")),
                lambda s, p: (bn(s, p) + p.o1, bn(s, p) + p.o2, bn(s, p) + p.o3),
                Fold(lambda p: p.gamma, lambda p: tuple(
                    where(p.gamma > 0, rounding(root(p) - o * p.sigma / p.gamma),
                          floor(root(p) - o * p.sigma / p.gamma))
                    for o, rounding in ((p.o1, ceil), (p.o2, floor), (p.o3, ceil))),
                     lambda p: (p.beta + p.o1 >= 0, p.beta + p.o2 >= 0, p.beta + p.o3 >= 0)),
                assumptions=lambda p: (p.o1 < p.o2) & (p.o2 < p.o3)),
        "counterexample", lambda s, v: tuple(oracle_bn(s, v) + o for o in (v.o1, v.o2, v.o3)),
        {**BN_GRID, "o1": [F(-1)], "o2": [F(0), F(1, 2)], "o3": [F(1)]},
        fold=lambda s, v: tuple(by_gamma(
            s, v, lambda v, o=o, r=r: r(oracle_root(v) - o * v.sigma / v.gamma),
            lambda v, o=o: math.floor(oracle_root(v) - o * v.sigma / v.gamma),
            lambda v, o=o: v.beta + o >= 0)
            for o, r in ((v.o1, math.ceil), (v.o2, math.floor), (v.o3, math.ceil))),
        admits=lambda v: v.o1 < v.o2 < v.o3),
    # Float32 folds: the LCE failure mode, and two thresholds float32 computes exactly.
    "float32-rounded-root": Case(
        Variant("float32-rounded-root", FLOAT32_BN, bn,
                Fold(lambda p: 1, lambda p: ceil(root(p)), arithmetic="float32"), domain="D_n"),
        "counterexample", oracle_bn,
        {"gamma": float32_neighbours(3, 6), "beta": float32_neighbours(2994, 6),
         "mean": [F(1000)], "sigma": [F(1)], "n": [F(4)]},
        fold=lambda s, v: s >= float(np.ceil(f32(v.mean) - f32(v.beta) * f32(v.sigma)
                                             / f32(v.gamma)))),
    "float32-integer-sum": Case(
        Variant("float32-integer-sum", (Param("a", integer=True, low=-1000, high=1000),
                                        Param("b", integer=True, low=-1000, high=1000)),
                lambda s, p: s - p.a - p.b,
                Fold(lambda p: 1, lambda p: p.a + p.b, arithmetic="float32")),
        "proved", lambda s, v: s - v.a - v.b,
        {"a": [F(k) for k in (-1000, -7, 0, 3, 999)], "b": [F(k) for k in (-999, -1, 0, 8, 1000)]},
        fold=lambda s, v: s >= float(f32(v.a) + f32(v.b))),
    "float32-ceil-of-mean": Case(
        Variant("float32-ceil-of-mean", (Param("mean", low=-1024, high=1024),),
                lambda s, p: s - p.mean,
                Fold(lambda p: 1, lambda p: ceil(p.mean), arithmetic="float32")),
        "proved", lambda s, v: s - v.mean,
        {"mean": [F(float(f32(x))) for x in (-1024, -2.7, -1e-3, 0, 1 / 3, 2.5, 7.9)]},
        fold=lambda s, v: s >= float(np.ceil(f32(v.mean)))),
}


def domain_points(variant, v):
    if isinstance(variant.domain, Range):
        return [F(s) for s in variant.domain.points()]
    if variant.domain == "D_n" or hasattr(v, "n"):
        return [F(s) for s in range(-int(v.n), int(v.n) + 1, 2)]
    return [F(s) for s in range(-9, 10)]


def declared(variant, values) -> bool:
    """The sign constraints of the declaration, restated."""
    for p in variant.params:
        x = values[p.name]
        if (p.positive and x <= 0) or (p.negative and x >= 0) or (p.nonzero and x == 0) or (
                p.nonnegative and x < 0):
            return False
    return True


def as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


def not_monotone(bits) -> bool:
    return any(a != b and b != c for a, b, c in itertools.combinations(bits, 3))


def brute_force(case: Case) -> set[str]:
    """The kinds of violation found on the grid: ``input``, ``monotone``, ``thermometer`` and
    ``fold``; empty when the variant folds and the claimed fold holds everywhere on it."""
    variant = case.variant
    inputs = [i.name for i in variant.inputs]
    params = [name for name in case.grid if name not in inputs]
    found = set()
    for combination in itertools.product(*(case.grid[name] for name in params)):
        values = dict(zip(params, combination, strict=True))
        bits_by_input = []
        for input_values in itertools.product(*(case.grid[name] for name in inputs)):
            v = SimpleNamespace(**values, **dict(zip(inputs, input_values, strict=True)))
            if not declared(variant, vars(v)) or not case.admits(v):
                continue
            points = domain_points(variant, v)
            truth = [tuple(y >= 0 for y in as_tuple(case.y(s, v))) for s in points]
            bits_by_input.append(truth)
            for output in range(len(truth[0])):
                if not_monotone([bits[output] for bits in truth]):
                    found.add("monotone")
            if any(a and not b for bits in truth for a, b in itertools.pairwise(bits)):
                found.add("thermometer")
            if case.fold is not None:
                for s, bits in zip(points, truth, strict=True):
                    try:
                        folded = as_tuple(case.fold(s, v))
                    except ZeroDivisionError:
                        folded = None
                    if folded != bits:
                        found.add("fold")
        if len({tuple(map(tuple, b)) for b in bits_by_input}) > 1:
            found.add("input")
    return found


FOLDABILITY = {"input", "monotone", "thermometer"}


def oracle_at(case, witness, s):
    values = {name: F(value["exact"]) for name, value in witness["params"].items()}
    for inputs in witness.get("inputs", [{}])[:1]:
        values.update({name: F(value["exact"]) for name, value in inputs.items()})
    v = SimpleNamespace(**values)
    ys = as_tuple(case.y(F(s), v))
    return v, ys


@pytest.mark.req("VARIANT-2", "VARIANT-3", "VARIANT-4", "VARIANT-5", "VARIANT-7")
@pytest.mark.parametrize("name", list(CASES))
def test_the_verdict_is_the_hand_derived_one_and_brute_force_agrees(name):
    case = CASES[name]
    result = prove_variant(case.variant, BUDGET_MS)
    assert result.status == case.verdict, result.to_json()
    found = brute_force(case)
    if case.verdict == "proved":
        assert not found, found
    elif case.verdict == "not-foldable":
        assert found & FOLDABILITY, found
    else:
        assert "fold" in found and not found & FOLDABILITY, found
    witness = result.counterexample
    if witness is None:
        return
    assert witness["replay"]["confirmed"]
    output = witness.get("output", 1) - 1
    if case.verdict == "counterexample":
        v, ys = oracle_at(case, witness, witness["s"])
        assert (ys[output] >= 0) != as_tuple(case.fold(F(witness["s"]), v))[output]
    elif isinstance(witness["s"], list):
        bits = [oracle_at(case, witness, s)[1][output] >= 0 for s in witness["s"]]
        assert not_monotone(bits)


NON_AFFINE = ["reactnet-rprelu", "learnable-clip", "pact-clip", "square-on-a-nonnegative-range"]


@pytest.mark.req("VARIANT-9")
@pytest.mark.parametrize("name", [*NON_AFFINE, "two-bit", "dn-zero-slope-in-threshold"])
def test_per_channel_units_match_the_brute_force_bits(name):
    case = CASES[name]
    result = prove_variant(case.variant, BUDGET_MS)
    assert result.status == "proved"
    params = [p.name for p in case.variant.params]
    for combination in itertools.islice(itertools.product(*(case.grid[p] for p in params)), 40):
        values = dict(zip(params, combination, strict=True))
        if not declared(case.variant, values):
            continue
        row = {name: str(value) for name, value in values.items()}
        if not isinstance(case.variant.domain, Range):
            row["n"] = 7
        v = SimpleNamespace(**{name: F(value) for name, value in row.items()})
        units = result.units(row)
        for s in domain_points(case.variant, v):
            bits = tuple(y >= 0 for y in as_tuple(case.y(s, v)))
            assert bits == tuple((s >= t) if polarity else (s <= t) for polarity, t in units)
