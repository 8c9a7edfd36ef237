"""The built-in variants and the published folds, each with the verdict the tests expect."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

import numpy as np

from boolnet_spec.spec.variants.declarations import Fold, Input, Param, ReferenceBit, Variant
from boolnet_spec.spec.variants.expressions import ceil, floor, trunc, where

__all__ = ["bn_reference", "BUILTIN_VARIANTS", "PUBLISHED_FOLDS", "REFERENCE_FOLD", "PLAIN_BN",
           "AFFINE_FREE_BN", "SCALED_CONV_BN", "RSIGN_SHIFT", "BN_SLICE_OFFSET", "BN_MAGNITUDE",
           "LOCAL_ADAPTIVE_SHIFT"]


def _float32(value: Fraction) -> np.float32 | None:
    as_float = np.float32(float(value))
    return as_float if np.isfinite(as_float) and Fraction(float(as_float)) == value else None


def bn_reference(gamma: str | None = "gamma", beta: str | None = "beta", mean: str = "mean",
                 sigma: str = "sigma", alpha: str | None = None, bias: str | None = None,
                 offset: str | None = None, shift: str | None = None) -> ReferenceBit:
    """The numpy reference's bit for a BatchNorm-like variant
    ``y = gamma*(alpha*s + b - mean)/sigma + beta + o - shift``, the names saying which
    parameter plays which part (``None``: absent). It decides EXACT-2 on the exact values with
    ``reference.exact.ge_times_sqrt``, and, where every value is a float32 (``var = sigma**2``,
    ``eps = 0``), also folds with ``reference.fold.fold_bn_sign``; the two must agree."""
    from boolnet_spec.reference.accumulator import N_MAX
    from boolnet_spec.reference.batchnorm import BatchNorm
    from boolnet_spec.reference.exact import ge_times_sqrt
    from boolnet_spec.reference.fold import fold_bn_sign
    from boolnet_spec.reference.threshold import threshold_slices

    def bit(s: int, values: Mapping[str, Fraction]) -> tuple[bool, str]:
        get = lambda name, default: values[name] if name else Fraction(default)  # noqa: E731
        g, a, b, o = get(gamma, 1), get(alpha, 1), get(bias, 0), get(offset, 0)
        level = get(beta, 0) - get(shift, 0)
        m, sd = values[mean], values[sigma]
        exact_bit = ge_times_sqrt(g * (a * s + b - m), -(level + o), sd * sd)
        n = int(values["n"]) if "n" in values else max(abs(s), 1) + (abs(s) == 0)
        floats = [_float32(v) for v in (g, level, m, sd * sd, a, b, o)]
        if any(v is None for v in floats) or floats[3] <= 0 or floats[4] <= 0 or n > N_MAX:
            return exact_bit, "reference.exact.ge_times_sqrt"
        g32, level32, m32, var32, a32, b32, o32 = ([v] for v in floats)
        bn = BatchNorm(np.array(g32, np.float32), np.array(level32, np.float32),
                       np.array(m32, np.float32), np.array(var32, np.float32), 0.0)
        units = fold_bn_sign(bn, n, np.array(a32, np.float32), np.array(b32, np.float32),
                             np.array(o32, np.float32))
        folded = bool(threshold_slices(np.full((1, 1, 1, 1), s, np.int16), units)[0, 0, 0, 0, 0])
        if folded != exact_bit:
            return folded, "reference.fold.fold_bn_sign disagrees with reference.exact"
        return exact_bit, "reference.exact.ge_times_sqrt and reference.fold.fold_bn_sign"
    return bit


_BN_PARAMS = (Param("gamma"), Param("beta"), Param("mean"), Param("sigma", positive=True))
_CONV_PARAMS = (*_BN_PARAMS, Param("alpha", positive=True), Param("b"))


def _bn(s, p):
    return p.gamma * (s - p.mean) / p.sigma + p.beta


def _conv_bn(s, p):
    return p.gamma * (p.alpha * s + p.b - p.mean) / p.sigma + p.beta


PLAIN_BN = Variant(
    "plain-bn", _BN_PARAMS, _bn, reference=bn_reference(),
    description="BatchNorm on the accumulator: gamma*(s - mean)/sigma + beta, gamma of any sign, "
                "sigma = sqrt(var + eps) > 0.")
AFFINE_FREE_BN = Variant(
    "affine-free-bn", (Param("mean"), Param("sigma", positive=True)),
    lambda s, p: (s - p.mean) / p.sigma, reference=bn_reference(gamma=None, beta=None),
    description="BatchNorm without affine parameters (affine=False): (s - mean)/sigma.")
SCALED_CONV_BN = Variant(
    "scaled-conv-bn", _CONV_PARAMS, _conv_bn,
    reference=bn_reference(alpha="alpha", bias="b"),
    description="A binary conv with weight scale alpha > 0 and bias b, then BatchNorm: "
                "gamma*(alpha*s + b - mean)/sigma + beta.")
RSIGN_SHIFT = Variant(
    "rsign-shift", (*_BN_PARAMS, Param("shift")), lambda s, p: _bn(s, p) - p.shift,
    reference=bn_reference(shift="shift"),
    description="BatchNorm then ReActNet's RSign, sign(x - shift) with a learnable shift "
                "(decided with the spec's sign(0) = +1; ReActNet's own x > shift gives -1 at the "
                "tie).")
BN_SLICE_OFFSET = Variant(
    "bn-slice-offset", (*_CONV_PARAMS, Param("o")), lambda s, p: _conv_bn(s, p) + p.o,
    reference=bn_reference(alpha="alpha", bias="b", offset="o"),
    description="One slice of the multi-slice quantizer after a scaled conv and BatchNorm: "
                "gamma*(alpha*s + b - mean)/sigma + beta + o.")
BN_MAGNITUDE = Variant(
    "bn-magnitude", (*_BN_PARAMS, Param("delta", positive=True)),
    lambda s, p: abs(_bn(s, p)) - p.delta,
    description="Not foldable: a magnitude quantizer |BN(s)| - delta; its bit is 1 far from the "
                "mean on both sides, 0 near it.")
LOCAL_ADAPTIVE_SHIFT = Variant(
    "local-adaptive-shift", _BN_PARAMS, lambda s, p: _bn(s, p) + p.q, inputs=(Input("q"),),
    description="Not foldable: BoolNet's stem with local adaptive shifting adds a per-position "
                "term q (a depthwise conv of a second BatchNorm of the input), so the bit depends "
                "on q, not on s alone.")

BUILTIN_VARIANTS: dict[str, Variant] = {v.name: v for v in (
    PLAIN_BN, AFFINE_FREE_BN, SCALED_CONV_BN, RSIGN_SHIFT, BN_SLICE_OFFSET, BN_MAGNITUDE,
    LOCAL_ADAPTIVE_SHIFT)}


def _root(p, sigma=None):
    """``t* = (mean - b)/alpha - beta*sigma/(gamma*alpha)`` of :data:`SCALED_CONV_BN`."""
    sigma = p.sigma if sigma is None else sigma
    return (p.mean - p.b) / p.alpha - p.beta * sigma / (p.gamma * p.alpha)


def _sign(x):
    return where(x > 0, 1, where(x < 0, -1, 0))


# The folds below that divide by gamma without a gamma = 0 branch are checked where their tools
# use them: gamma != 0, and for the popcount folds gamma > 0 on D_n.
_NONZERO_GAMMA = Variant(
    "scaled-conv-bn, gamma != 0", (Param("gamma", nonzero=True), *_CONV_PARAMS[1:]), _conv_bn,
    reference=bn_reference(alpha="alpha", bias="b"))
_POSITIVE_ON_DN = Variant(
    "scaled-conv-bn on D_n, gamma > 0", (Param("gamma", positive=True), *_CONV_PARAMS[1:]),
    _conv_bn, domain="D_n", reference=bn_reference(alpha="alpha", bias="b"))

REFERENCE_FOLD = Fold(
    direction=lambda p: p.gamma,
    threshold=lambda p: where(p.gamma > 0, ceil(_root(p)), floor(_root(p))),
    constant=lambda p: p.beta >= 0, name="FOLD-3 to FOLD-5")

PUBLISHED_FOLDS: dict[str, tuple[Variant, Fold, str]] = {
    "reference": (SCALED_CONV_BN, REFERENCE_FOLD, "proved"),
    "strict-floor": (SCALED_CONV_BN, Fold(
        direction=lambda p: p.gamma,
        threshold=lambda p: -(floor(-_root(p)) + where(p.gamma < 0, 1, 0)),
        constant=lambda p: p.beta >= 0,
        name="floor(b/k) + [k < 0], a published SAT-based BNN verifier"), "counterexample"),
    "truncate-halve": (_POSITIVE_ON_DN, Fold(
        direction=lambda p: 1,
        threshold=lambda p: 2 * trunc((trunc(_root(p)) + p.n) / 2) - p.n,
        name="int truncation, then halved into the popcount, a vendor's tiny-CNN layer"),
        "counterexample"),
    "popcount-ceil": (_POSITIVE_ON_DN, Fold(
        direction=lambda p: 1,
        threshold=lambda p: 2 * ceil((ceil(_root(p)) + p.n) / 2) - p.n,
        name="ceil, then the popcount threshold ceil((t + n)/2)"), "proved"),
    "one-formula": (_NONZERO_GAMMA, Fold(
        direction=lambda p: 1, threshold=lambda p: ceil(_root(p)),
        constant=None, name="one formula for both signs of gamma, an HLS code generator"),
        "counterexample"),
    "variance": (_NONZERO_GAMMA, Fold(
        direction=lambda p: p.gamma,
        threshold=lambda p: where(p.gamma > 0, ceil(_root(p, p.sigma * p.sigma)),
                                  floor(_root(p, p.sigma * p.sigma))),
        constant=lambda p: p.beta >= 0,
        name="the variance instead of its square root, an older HLS code generator"),
        "counterexample"),
    "strict-compare": (SCALED_CONV_BN, Fold(
        direction=lambda p: p.gamma,
        threshold=lambda p: where(p.gamma > 0, floor(_root(p)) + 1, ceil(_root(p)) - 1),
        constant=lambda p: p.beta > 0,
        name="a strict > comparison, a mobile BNN engine"), "counterexample"),
    "flip-columns": (SCALED_CONV_BN, Fold(
        direction=lambda p: _sign(p.gamma),
        threshold=lambda p: where(p.gamma >= 0, ceil(_root(p)), -ceil(-_root(p))),
        constant=lambda p: p.beta >= 0,
        name="ceil and >= on -s for a negative scale, a dataflow FPGA compiler"), "proved"),
}
