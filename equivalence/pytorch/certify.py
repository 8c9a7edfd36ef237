"""Exhaustive certification: every binary channel of a PyTorch BoolNet over its whole input domain.

A binary layer's output bit depends on its input only through the accumulator ``s`` in ``D_n``
(ACC-2), so a channel is checked for every input at once by checking its ``n + 1`` accumulator
values. For each of them PyTorch's own BatchNorm and GhostSign modules are run on the extreme
float32 values its convolution can produce, and the result is compared with the folded
threshold unit.

.. req:: CERT-1

   Interval. For a binary convolution node (NET-3) with ``n``, output channel ``c`` and ``s`` in
   ``D_n``, PyTorch's float32 convolution output lies in ``[alpha_t*s + b - E, alpha_t*s + b + E]``
   (BOUND-1); the certificate uses its end points rounded outward to float32. With a 2x2 max
   pooling before BatchNorm (the downsample branch, POOL-2) the pooled value lies in the same
   interval for ``s`` the window's largest accumulator, and the reference's bit is the unit's bit
   at that ``s``, for either polarity, so the same check covers it.

.. req:: CERT-2

   Evaluation. Rounding to nearest is monotone, so PyTorch's float32 BatchNorm followed by
   ``sign(y + o_j)`` is a monotone function of its input: its value on the whole interval lies
   between its values at the two end points. The end points of every ``s`` and channel are
   evaluated, batched as a tensor ``[2*(n + 1), C, 1, 1]``, by the model's own BatchNorm and
   GhostSign modules, and also by the four float32 evaluation orders of BOUND-3 (``mean*A`` and
   ``x*A`` each fused or not, emulated exactly), so that the certificate does not depend on the
   kernel path one tensor shape happens to take.

.. req:: CERT-3

   Verdict. ``s`` is safe for slice ``j`` when every evaluation at both end points gives the
   unit's bit (a 0 is never safe). A channel is ``certified`` when every ``s`` of every slice is
   safe: then no input makes PyTorch and the reference disagree on it. An unsafe ``s`` is at risk
   and is classified: ``mismatch`` when ``|y*_j(s)| > B(s)`` (BOUND-4 with the end points'
   distance in place of ``E``; rounding cannot explain it: a bug), else ``ternary`` when an
   evaluation gave exactly 0, else ``float_ambiguous``. Each is reported with its margin
   ``|y*_j(s)|`` and its bound. A channel with a zero weight sign (``W = 0``, which ``torch.sign``
   maps to 0 and WB-1 to +1) is not certified: PyTorch's accumulator then leaves ``D_n``; it is
   reported once as ``ternary``. With a supplied model (``model=``), a unit that is not the exact
   fold of the module's BatchNorm parameters, or not canonical, is a ``mismatch`` naming the
   channel, the slice and both units (HARNESS-7), whatever the float evaluation gives.

.. req:: CERT-4

   Scope. Certification runs the model's BatchNorm and GhostSign modules of every binary layer
   against the threshold units folded from the same parameters; it never runs the model's
   convolution, stem, logic, shuffle or head, and it computes the weight signs and ``alpha_t``
   itself (the formula of TORCH-1) instead of taking them from the module's forward. It sees:
   BatchNorm evaluation, folding and threshold bugs, sign-convention and float32 tie bugs of the
   quantizer, and zero weight signs. It is blind to: padding, slice selection, the convolution
   and its accumulator, the module's own weight binarization and ``alpha``, max-pooling order,
   the split, XNOR, OR and shuffle, the stem and the head. Every certificate (report ``scope``,
   with ``sees``, ``blind_to`` and ``see_also``) and the ``certify`` command say so and point to
   ``compare`` (HARNESS-1 to HARNESS-6), which runs the whole module on images, and to the
   conformance kit, which runs an implementation on the shipped suite. A certified model is
   certified for its threshold stage only. Because it evaluates the BatchNorm and sign modules
   themselves, a module map with ``fused`` threshold modules (HARNESS-14) is refused before any
   work (``ERROR_IF``, :class:`~boolnet_spec.reference.errors.UsageError` naming the fused
   nodes): their thresholds are checked by ``compare --module-map MAP --state-dict FLOAT``
   against the exact fold of the float state dict, which is the certificate's question for them
   (FOLD-2, EXACT-2; integer thresholds on the accumulator leave no float32 ambiguity).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from boolnet_spec.equivalence.pytorch.bounds import BNParams, conv_error, layer_bound
from boolnet_spec.equivalence.pytorch.harness import (
    downsample_paths,
    float32_semantics,
    torch_weight,
    within_bound,
)
from boolnet_spec.equivalence.pytorch.harness.folds import exact_units, unit_findings
from boolnet_spec.reference.architecture import Architecture
from boolnet_spec.reference.batchnorm import BatchNorm
from boolnet_spec.reference.exact import exact
from boolnet_spec.reference.fold import ChannelFold
from boolnet_spec.reference.network import Model
from boolnet_spec.reference.ops import OPS
from boolnet_spec.reference.slices import slice_offsets
from boolnet_spec.reference.threshold import GE
from boolnet_spec.reference.weights import weight_scale

__all__ = ["NodeCertificate", "Certification", "certify", "certify_node", "fma32", "bn_variants",
           "SCOPE", "REFUSE_FUSED"]

# certification runs the module's own BatchNorm and sign: a fused module has neither
REFUSE_FUSED = "no fused threshold modules: certify runs each binary layer's own BatchNorm " \
    "and sign modules, which a fused module replaces; check fused thresholds with " \
    "boolnet-spec compare CHECKPOINT --module-map MAP --state-dict FLOAT (compare(..., " \
    "module_map=, state_dict=), HARNESS-14), which folds them exactly from the float state dict"

SCOPE = {
    "sees": ["BatchNorm evaluation of every binary layer", "folding and threshold units",
             "sign convention and float32 ties of the quantizer (GhostSign)",
             "zero weight signs"],
    "blind_to": ["padding", "slice selection", "the convolution and its accumulator",
                 "the module's own weight binarization (weight bits)", "alpha scaling",
                 "max-pooling order", "split", "XNOR", "OR", "shuffle", "stem", "head"],
    "see_also": ["boolnet-spec compare (the harness: runs the whole module on images)",
                 "the conformance kit (boolnet-spec conform: runs an implementation on the suite)"],
}


def _round32(value: np.ndarray, down: bool) -> np.ndarray:
    """``value`` (binary64) rounded to float32 toward -inf (``down``) or +inf."""
    rounded = value.astype(np.float32)
    if down:
        return np.where(rounded.astype(np.float64) > value,
                        np.nextafter(rounded, np.float32(-np.inf)), rounded)
    return np.where(rounded.astype(np.float64) < value,
                    np.nextafter(rounded, np.float32(np.inf)), rounded)


def fma32(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``fl32(x*a + b)`` with one rounding, for float32 operands (CERT-2).

    The product is exact in binary64; the sum is rounded to binary64 with its error recovered by
    TwoSum, and a binary64 sum lying exactly halfway between two float32 numbers is resolved by the
    sign of that error.
    """
    product = x.astype(np.float64) * a.astype(np.float64)
    addend = np.broadcast_to(b.astype(np.float64), product.shape)
    total = product + addend
    virtual = total - product
    error = (product - (total - virtual)) + (addend - virtual)
    rounded = total.astype(np.float32)
    toward = np.where(total > rounded.astype(np.float64), np.float32(np.inf),
                      np.float32(-np.inf))
    other = np.nextafter(rounded, toward.astype(np.float32))
    midpoint = (rounded.astype(np.float64) + other.astype(np.float64)) / 2
    tie = (total == midpoint) & (error != 0) & (total != rounded.astype(np.float64))
    up = np.maximum(rounded, other)
    low = np.minimum(rounded, other)
    return np.where(tie, np.where(error > 0, up, low), rounded)


def bn_variants(bn: BNParams, x: np.ndarray) -> list[np.ndarray]:
    """The four float32 evaluations of BOUND-3 of BatchNorm on ``x[..., C]``."""
    eps = np.float32(bn.eps)
    inverse = np.float32(1) / np.sqrt(bn.var + eps)
    slope = (inverse * bn.gamma).astype(np.float32)
    shifts = [(bn.beta - (bn.mean * slope).astype(np.float32)).astype(np.float32),
              fma32(-bn.mean, slope, bn.beta)]
    out = []
    for shift in shifts:
        product = (x.astype(np.float64) * slope.astype(np.float64)).astype(np.float32)
        out.append((product.astype(np.float64) + shift.astype(np.float64)).astype(np.float32))
        out.append(fma32(x, slope, shift))
    return out


@dataclass
class NodeCertificate:
    """CERT-3 for one binary convolution node."""

    layer: str
    n: int
    channels: int
    slices: int
    certified_channels: int
    at_risk: list[dict] = field(default_factory=list)

    def counts(self) -> dict:
        classes = [r["class"] for r in self.at_risk]
        return {c: classes.count(c) for c in ("float_ambiguous", "ternary", "mismatch")}

    def to_json(self, limit: int | None = None) -> dict:
        return {"layer": self.layer, "n": self.n, "channels": self.channels,
                "slices": self.slices, "certified_channels": self.certified_channels,
                "at_risk_values": len(self.at_risk), **self.counts(),
                "smallest_margin": min((r["margin"] for r in self.at_risk
                                        if r["margin"] is not None), default=None),
                "at_risk": self.at_risk[:limit]}


@dataclass
class Certification:
    """The certificates of every binary node of a model (CERT-3)."""

    nodes: list[NodeCertificate]
    seconds: float
    settings: dict

    @property
    def summary(self) -> dict:
        totals = {c: sum(n.counts()[c] for n in self.nodes)
                  for c in ("float_ambiguous", "ternary", "mismatch")}
        return {**totals, "layers": len(self.nodes),
                "channels": sum(n.channels for n in self.nodes),
                "certified_channels": sum(n.certified_channels for n in self.nodes),
                "units": sum(n.channels * n.slices for n in self.nodes),
                "accumulator_values": sum(n.channels * n.slices * (n.n + 1) for n in self.nodes),
                "at_risk_values": sum(len(n.at_risk) for n in self.nodes),
                "seconds": round(self.seconds, 2), "passed": totals["mismatch"] == 0}

    def to_json(self, limit: int | None = None) -> dict:
        return {"summary": self.summary, "settings": self.settings, "scope": SCOPE,
                "layers": [n.to_json(limit) for n in self.nodes]}


def _paths(module, node) -> tuple[str, str, str]:
    """The conv, BatchNorm and GhostSign module paths of a bconv node."""
    block, kind = node.name.rsplit(".", 1)
    if kind == "downsample":
        bn, sign = downsample_paths(module, block)
        return f"{block}.downsample.0", bn, sign
    which = kind[-1]
    return f"{block}.{kind}", f"{block}.bn{which}", f"{block}.ghostsign{which}"


def certify_node(module, model: Model, node, supplied: bool = False) -> NodeCertificate:
    """CERT-1 to CERT-3 for one bconv node; a ``supplied`` model's units are also checked against
    the exact fold of the module's parameters (HARNESS-7)."""
    import torch

    conv_path, bn_path, sign_path = _paths(module, node)
    conv, bn_module = module.get_submodule(conv_path), module.get_submodule(bn_path)
    ghostsign = module.get_submodule(sign_path)
    signs, alpha_t = torch_weight(conv)
    alpha = weight_scale(conv.weight.detach().cpu().numpy())
    bias = None if getattr(conv, "bias", None) is None else \
        conv.bias.detach().cpu().numpy().astype(np.float32)
    n = int(np.prod(signs.shape[1:]))
    units = model.states[node.name]["units"]
    offsets = slice_offsets(units.slices)
    channels = units.channels
    s = np.arange(-n, n + 1, 2, dtype=np.int64)
    centre = s[:, None].astype(np.float64) * alpha_t.astype(np.float64)[None, :]
    if bias is not None:
        centre = centre + bias.astype(np.float64)[None, :]
    error = conv_error(n, alpha_t, bias)[None, :] * (1 + 2.0 ** -30) + np.abs(centre) * 2.0 ** -50
    ends = np.stack([_round32(centre - error, down=True), _round32(centre + error, down=False)])
    # The certificate's distance from alpha_t*s + b: E plus the outward rounding.
    reach = np.maximum(np.abs(ends[0] - centre), np.abs(ends[1] - centre)).max(axis=0)

    bn = BNParams.of(bn_module)
    with float32_semantics():
        was_training = (bn_module.training, ghostsign.training)
        bn_module.eval()
        ghostsign.eval()
        try:
            x = torch.from_numpy(ends.reshape(-1, channels, 1, 1).copy())
            torch_bits = ghostsign(bn_module(x)).numpy().reshape(2, n + 1, -1, channels)
        finally:
            bn_module.train(was_training[0])
            ghostsign.train(was_training[1])
    threshold = units.threshold.astype(np.int64)
    ge = units.polarity == GE
    reference = np.where(ge[None], s[:, None, None] >= threshold[None],
                         s[:, None, None] <= threshold[None])            # [n+1, S, C]
    expected = np.where(reference, 1.0, -1.0).astype(np.float32)
    risky = (torch_bits != expected[None]).any(axis=0)
    zero = (torch_bits == 0).any(axis=0)
    spec = getattr(ghostsign, "sign_mode", "official") == "spec"
    for y in bn_variants(bn, ends):
        pre = y.astype(np.float64)[:, :, None, :] + offsets.astype(np.float64)[None, None, :, None]
        value = np.where(pre >= 0, 1.0, -1.0) if spec else np.sign(pre)
        risky |= (value != expected[None]).any(axis=0)
        zero |= (value == 0).any(axis=0)

    at_risk = []
    if risky.any():
        reference_bn = BatchNorm(bn.gamma, bn.beta, bn.mean, bn.var, eps=float(bn_module.eps),
                                 name=bn_path)
        index = np.argwhere(risky)
        values = s[index[:, 0]]
        bounds = layer_bound(bn, values[:, None], n, alpha, alpha_t, bias, axis=1,
                             error=reach)[np.arange(len(index)), index[:, 2]]
        shift = np.zeros(channels) if bias is None else bias.astype(np.float64)
        folds: dict[int, ChannelFold] = {}
        for (i, j, c), value, bound in zip(index, values, bounds, strict=True):
            fold = folds.setdefault(int(c), ChannelFold(
                reference_bn, int(c), alpha[c], np.float32(0) if bias is None else bias[c]))
            within = within_bound(fold, int(value), exact(offsets[j]), Fraction(float(bound))) \
                and fold.bit(int(value), exact(offsets[j])) == bool(reference[i, j, c])
            cls = "mismatch" if not within else "ternary" if zero[i, j, c] else \
                "float_ambiguous"
            margin = abs(_preactivation(bn, c, float(alpha[c]) * float(value) + shift[c],
                                        offsets[j]))
            at_risk.append({"channel": int(c), "slice": int(j), "s": int(value),
                            "unit": {"cmp": ">=" if ge[j, c] else "<=",
                                     "t": int(threshold[j, c])},
                            "reference_bit": int(reference[i, j, c]), "class": cls,
                            "torch_zero": bool(zero[i, j, c]), "margin": margin,
                            "bound": float(bound)})
    for c in np.flatnonzero((signs == 0).reshape(channels, -1).any(axis=1)):
        at_risk.append({"channel": int(c), "slice": None, "s": None, "class": "ternary",
                        "torch_zero": True, "margin": None, "bound": None,
                        "reason": "zero weight sign: PyTorch's accumulator leaves D_n"})
    if supplied:
        for finding in unit_findings(units, exact_units(module, node, units.slices)):
            at_risk.append({**finding, "s": None, "torch_zero": False, "margin": None,
                            "bound": None})
    certified = channels - len({r["channel"] for r in at_risk})
    return NodeCertificate(node.name, n, channels, units.slices, certified, at_risk)


def _preactivation(bn: BNParams, c: int, x: float, offset: np.float32) -> float:
    """A binary64 estimate of ``y*_j`` (for the report; the verdict is exact)."""
    return float(bn.slope[c] * (x - float(bn.mean[c])) + float(bn.beta[c]) + float(offset))


def certify(module, arch: Architecture, model: Model | None = None,
            progress: bool = True, module_map=None) -> Certification:
    """Certify every binary channel and slice of ``module`` (CERT-1 to CERT-4); ``module_map``
    as in :func:`~boolnet_spec.equivalence.pytorch.harness.compare` (HARNESS-11)."""
    from boolnet_spec.equivalence.pytorch.harness.mapping import mapped
    from boolnet_spec.equivalence.pytorch.harness.structure import check_structure
    from boolnet_spec.reference.errors import UsageError, error_if

    module = mapped(module, module_map)
    fused = getattr(module, "fused", {})
    error_if(bool(fused), UsageError, "module map", REFUSE_FUSED,
             lambda: ", ".join(sorted(fused)), "CERT-4")
    check_structure(module, arch)
    import torch
    from tqdm import tqdm

    from boolnet_spec.equivalence.pytorch.export import export_model

    start = time.perf_counter()
    supplied = model is not None
    if model is None:
        model = export_model(module, arch)
    nodes = [node for node in model.nodes if OPS[node.op].has_threshold_units]
    certificates = []
    for node in tqdm(nodes, desc="certify", unit="layer", disable=None if progress else True,
                     file=sys.stderr):
        certificates.append(certify_node(module, model, node, supplied))
    settings = {"torch": torch.__version__, "architecture": model.architecture.to_json(),
                "evaluations": ["the model's BatchNorm and GhostSign modules",
                                "mean*A unfused, x*A unfused", "mean*A unfused, x*A fused",
                                "mean*A fused, x*A unfused", "mean*A fused, x*A fused"]}
    return Certification(certificates, time.perf_counter() - start, settings)
