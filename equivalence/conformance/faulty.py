"""Faulty BoolNet implementations, written the way downstream implementers write them: the kit's
negative controls (KIT-4). Each is the reference with exactly one bug, named after it; the tests
require every one to be detected and localised to its op.

Deliberately wrong code: nothing here is a definition of anything.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from boolnet_spec.equivalence.conformance.implementations import reference, reference_functions
from boolnet_spec.reference.batchnorm import BatchNorm
from boolnet_spec.reference.threshold import GE, LE, ThresholdUnits, canonical_unit

__all__ = ["CONTROLS", "float32_fold", "control"]

_ref = reference_functions()


def _float64_root(bn: BatchNorm, c: int, alpha: float, bias: float, offset: float) -> float:
    sigma = math.sqrt(float(bn.var[c]) + bn.eps)
    return (float(bn.mean[c]) - bias - (float(bn.beta[c]) + offset) * sigma
            / float(bn.gamma[c])) / alpha


def _per_unit(rule):
    """A fold that decides each unit with ``rule(bn, c, alpha, bias, offset, n)``."""
    def fold_bn_sign(bn, n, alpha=None, bias=None, offsets=None):
        channels = bn.channels
        alpha = np.ones(channels, np.float32) if alpha is None else alpha
        bias = np.zeros(channels, np.float32) if bias is None else bias
        offsets = np.zeros(1, np.float32) if offsets is None else offsets
        polarity = np.empty((len(offsets), channels), np.uint8)
        threshold = np.empty((len(offsets), channels), np.int16)
        for c in range(channels):
            for j, offset in enumerate(offsets):
                polarity[j, c], threshold[j, c] = rule(bn, c, float(alpha[c]), float(bias[c]),
                                                       float(offset), n)
        return ThresholdUnits(polarity, threshold, n)
    return fold_bn_sign


def _constant_or(rule):
    def decide(bn, c, alpha, bias, offset, n):
        if bn.gamma[c] == 0:
            return canonical_unit(GE, -n if bn.beta[c] + offset >= 0 else n + 2, n)
        return rule(bn, c, alpha, bias, offset, n)
    return decide


@_constant_or
def _eev(bn, c, alpha, bias, offset, n):
    # The SAT verifier's floor(b/k) + [k < 0]: a tie at an integer root becomes strict for k < 0.
    t = _float64_root(bn, c, alpha, bias, offset)
    if bn.gamma[c] > 0:
        return canonical_unit(GE, math.ceil(t), n)
    return canonical_unit(LE, math.floor(t) - (1 if t == math.floor(t) else 0), n)


@_constant_or
def _truncating(bn, c, alpha, bias, offset, n):
    # The vendor's C++ (int) cast: truncation toward zero instead of ceil / floor.
    t = _float64_root(bn, c, alpha, bias, offset)
    return canonical_unit(GE if bn.gamma[c] > 0 else LE, math.trunc(t), n)


def float32_fold(bn, n, alpha=None, bias=None, offsets=None, eps_scale: float = 1.0):
    """The LCE-style fold: the pre-activation evaluated in float32 at every ``s`` of ``D_n``,
    its sign bits turned into a unit."""
    channels = bn.channels
    alpha = np.ones(channels, np.float32) if alpha is None else alpha.astype(np.float32)
    bias = np.zeros(channels, np.float32) if bias is None else bias.astype(np.float32)
    offsets = np.zeros(1, np.float32) if offsets is None else offsets.astype(np.float32)
    s = np.arange(-n, n + 1, 2, dtype=np.float32)
    f32 = np.float32
    polarity = np.empty((len(offsets), channels), np.uint8)
    threshold = np.empty((len(offsets), channels), np.int16)
    for c in range(channels):
        scale = bn.gamma[c] / np.sqrt(bn.var[c] + f32(bn.eps * eps_scale))
        for j, offset in enumerate(offsets):
            y = ((alpha[c] * s + bias[c]) - bn.mean[c]) * scale + bn.beta[c] + f32(offset)
            ones = s[y >= 0]
            if bn.gamma[c] >= 0:
                unit = (GE, int(ones.min()) if ones.size else n + 2)
            else:
                unit = (LE, int(ones.max())) if ones.size else (GE, n + 2)
            polarity[j, c], threshold[j, c] = canonical_unit(*unit, n)
    return ThresholdUnits(polarity, threshold, n)


def _changed_eps(bn, n, alpha=None, bias=None, offsets=None):
    changed = BatchNorm(bn.gamma, bn.beta, bn.mean, bn.var, eps=bn.eps * 4, name=bn.name)
    return _ref["fold_bn_sign"](changed, n, alpha, bias, offsets)


def _sign_zero_negative(z, offsets, name="z"):
    bits = _ref["slice_quantize"](z, offsets, name)
    shifted = np.asarray(z)[:, None] + np.asarray(offsets).reshape((1, -1) + (1,) * (z.ndim - 1))
    return np.where(shifted == 0, 0, bits).astype(np.uint8)


def _zero_padding(x, padding, mode, name="x"):
    return _ref["pad_bits"](x, padding, "one" if mode == "replicate" else mode, name)


def _conv_zero_padding(x, weight, stride=1, padding=0, dilation=1, groups=1, pad_mode="replicate",
                       name="conv"):
    mode = "one" if pad_mode == "replicate" else pad_mode
    return _ref["binary_conv2d"](x, weight, stride, padding, dilation, groups, mode, name)


def _wrapping(function):
    def conv(*args, **kwargs):
        return function(*args, **kwargs).astype(np.int8).astype(np.int16)
    return conv


def _flip_weight(function):
    def conv(x, weight, *args, **kwargs):
        weight = weight.copy()
        weight.flat[0] ^= 1
        return function(x, weight, *args, **kwargs)
    return conv


def _flip_threshold(s, units):
    t = units.threshold.copy()
    t.flat[0] = t.flat[0] ^ 2
    return _ref["threshold_slices"](s, ThresholdUnits(units.polarity, t, units.n))


def _pool_after_sign(s, units, kernel, stride):
    return _ref["binary_maxpool"](_ref["threshold_slices"](s, units), kernel, stride)


def _swapped_shuffle(z1, z2):
    return _ref["shuffle_channels"](z2, z1)


CONTROLS = {
    "eev_tie_fold": (("fold",), {"fold_bn_sign": _per_unit(_eev)}),
    "truncating_fold": (("fold",), {"fold_bn_sign": _per_unit(_truncating)}),
    "float32_threshold": (("fold",), {"fold_bn_sign": float32_fold}),
    "changed_bn_eps": (("fold",), {"fold_bn_sign": _changed_eps}),
    "sign_zero_negative": (("slices",), {"slice_quantize": _sign_zero_negative}),
    "zero_padding": (("padding", "bconv"), {"pad_bits": _zero_padding,
                                 "binary_conv2d": _conv_zero_padding}),
    "swapped_shuffle": (("channels",), {"shuffle_channels": _swapped_shuffle}),
    "or_as_xnor": (("logic",), {"logic_or": _ref["logic_xnor"]}),
    "wrapping_8bit_accumulator": (("bconv",), {
        "binary_conv2d": _wrapping(_ref["binary_conv2d"]),
        "multi_slice_conv2d": _wrapping(_ref["multi_slice_conv2d"])}),
    "flipped_threshold_bit": (("threshold",), {"threshold_slices": _flip_threshold}),
    "flipped_weight_bit": (("bconv",), {"binary_conv2d": _flip_weight(_ref["binary_conv2d"]),
                                     "multi_slice_conv2d":
                                         _flip_weight(_ref["multi_slice_conv2d"])}),
    "maxpool_after_sign": (("maxpool",), {"threshold_maxpool": _pool_after_sign}),
}
"""Each control: the ops its bug must be localised to, and the functions it replaces."""


def control(name: str) -> SimpleNamespace:
    """The reference with the bug ``name`` (without ``run``: per-op cases localise it)."""
    implementation = reference()
    del implementation.run
    for function, replacement in CONTROLS[name][1].items():
        setattr(implementation, function, replacement)
    return implementation


def _factory(name: str):
    return lambda: control(name)


globals().update({name: _factory(name) for name in CONTROLS})
