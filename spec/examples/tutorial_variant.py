"""The variants of the tutorial "Prove threshold folding for your BN variant" (docs).

Prove one with ``boolnet-spec prove --variant=spec/examples/tutorial_variant.py:NAME``; the tests
run every variant below and check the verdict the tutorial states.
"""

from fractions import Fraction

from boolnet_spec.spec.variants import Fold, Input, Param, Range, Variant, ceil, floor, where

# [declare]
params = [
    Param("gamma"),                   # BatchNorm weight: any sign, zero included
    Param("beta"),                    # BatchNorm bias
    Param("mean"),                    # running mean
    Param("sigma", positive=True),    # sqrt(running_var + eps), never computed
    Param("scale", positive=True),    # your learnable scale after BatchNorm
    Param("shift"),                   # your learnable shift after it
]


def preactivation(s, p):
    """What goes into sign(): scale * BN(s) + shift."""
    return p.scale * (p.gamma * (s - p.mean) / p.sigma + p.beta) + p.shift


scaled_shift = Variant("scaled-shift-bn", params, preactivation)
# [/declare]


# [claim]
def root(p):
    """Where the pre-activation crosses zero (for gamma != 0)."""
    return p.mean - (p.beta + p.shift / p.scale) * p.sigma / p.gamma


first_try = scaled_shift.with_fold(Fold(
    direction=lambda p: 1,                    # always "s >= t"
    threshold=lambda p: ceil(root(p)),
    name="s >= ceil(t)"))
# [/claim]

# [fix]
fixed = scaled_shift.with_fold(Fold(
    direction=lambda p: p.gamma,              # > 0: s >= t, < 0: s <= t, = 0: constant
    threshold=lambda p: where(p.gamma > 0, ceil(root(p)), floor(root(p))),
    constant=lambda p: p.scale * p.beta + p.shift >= 0,
    name="by the sign of gamma"))
# [/fix]

# [input]
per_position_shift = Variant(
    "per-position-shift", params,
    lambda s, p: preactivation(s, p) + p.q,  # q: another branch's output at this position
    inputs=[Input("q")])
# [/input]

# [integers]
integer_params = [Param("g", integer=True, nonzero=True), Param("b", integer=True)]


def integer_root(p):
    return -p.b / p.g


integer_fold = Variant(
    "integer-bn", integer_params, lambda s, p: p.g * s + p.b,
    Fold(direction=lambda p: p.g,
         threshold=lambda p: where(p.g > 0, ceil(integer_root(p)), floor(integer_root(p))),
         name="by the sign of g"))
# [/integers]

# [range]
every_third = Variant(
    "every-third-accumulator", [Param("m")], lambda s, p: s - p.m,
    Fold(direction=lambda p: 1, threshold=lambda p: 3 * ceil(p.m / 3), name="3*ceil(m/3)"),
    domain=Range(0, 12, step=3))          # s in {0, 3, 6, 9, 12}
# [/range]

# [quantizer]
ternary = Variant(
    "ternary", [*params[:4], Param("delta", nonnegative=True)],
    lambda s, p: (p.gamma * (s - p.mean) / p.sigma + p.beta - p.delta,    # bit 1: x >= delta
                  p.gamma * (s - p.mean) / p.sigma + p.beta + p.delta))   # bit 2: x >= -delta
# [/quantizer]

# [float32]
box = {"magnitude": (Fraction(1, 1024), 4096)}   # 2**-10 <= |x| <= 2**12
float32_params = [Param("gamma", positive=True, **box), Param("beta", **box),
                  Param("mean", **box), Param("sigma", positive=True, **box)]


def bn_root(p):
    return p.mean - p.beta * p.sigma / p.gamma


float32_root = Variant(
    "bn-float32-threshold", float32_params,
    lambda s, p: p.gamma * (s - p.mean) / p.sigma + p.beta,
    Fold(direction=lambda p: 1, threshold=lambda p: ceil(bn_root(p)),
         name="ceil(t) computed in float32", arithmetic="float32"),
    domain="D_n")
float32_ceil = Variant(
    "shift-float32-threshold", [Param("mean", low=-1024, high=1024)], lambda s, p: s - p.mean,
    Fold(direction=lambda p: 1, threshold=lambda p: ceil(p.mean), name="ceil(mean) in float32",
         arithmetic="float32"))
# [/float32]
