"""The variants of the tutorial "Prove threshold folding for your BN variant" (docs).

Prove one with ``boolnet-spec prove --variant=spec/examples/tutorial_variant.py:NAME``; the tests
run every variant below and check the verdict the tutorial states.
"""

from boolnet_spec.spec.variants import Fold, Input, Param, Variant, ceil, floor, where

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
