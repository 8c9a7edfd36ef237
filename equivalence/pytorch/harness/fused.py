"""Fused threshold modules (HARNESS-14): a port's BatchNorm-sign replaced by one module holding
integer or float thresholds on the accumulator, checked against the exact fold of the float
state dict given with it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from boolnet_spec.equivalence.pytorch.harness.folds import unit_findings
from boolnet_spec.equivalence.pytorch.harness.report import Row
from boolnet_spec.reference.accumulator import ACC_DTYPE
from boolnet_spec.reference.architecture import Architecture, block_plans
from boolnet_spec.reference.batchnorm import BatchNorm
from boolnet_spec.reference.encoding import BIT_DTYPE
from boolnet_spec.reference.errors import (
    DomainError,
    FormatError,
    NonFiniteError,
    ShapeError,
    UsageError,
    error_if,
)
from boolnet_spec.reference.fold import fold_bn_sign
from boolnet_spec.reference.network import Model
from boolnet_spec.reference.ops import BlockTensors
from boolnet_spec.reference.slices import slice_offsets
from boolnet_spec.reference.threshold import GE, ThresholdUnits, canonical_unit
from boolnet_spec.reference.weights import weight_scale

__all__ = ["FusedThreshold", "FUSED_NODE", "NODE_NAMES", "parse_fused", "held_units",
           "realised_units", "check_fused_units", "check_fused_nodes", "require_state_dict",
           "exact_units"]

FUSED_NODE = re.compile(r"layer[0-9]{1,2}\.[0-9]{1,2}\.(conv[12]|downsample)")
NODE_NAMES = "node names layerL.b.conv1, layerL.b.conv2 or layerL.b.downsample (a binary " \
    "layer's BatchNorm-sign; the stem's is real-valued, not a threshold on an integer " \
    "accumulator, so it cannot be fused)"
FIELDS = ("module", "threshold", "polarity")
MAX_PATH_CHARS = 1000


@dataclass(frozen=True)
class FusedThreshold:
    """One fused node: the implementation's module path and the names of its ``[S, C]``
    attributes ``threshold`` (on the accumulator ``s``) and ``polarity`` (1: ``s >= t``,
    0: ``s <= t``)."""

    node: str
    module: str
    threshold: str = "threshold"
    polarity: str = "polarity"

    @property
    def downsample(self) -> bool:
        return self.node.endswith(".downsample")

    def bn_path(self, pool: int = 0) -> str:
        """The authors' path of the BatchNorm it replaces (``downsample.1``, or ``.2`` after a
        pooling, for the downsample branch)."""
        block, kind = self.node.rsplit(".", 1)
        if self.downsample:
            return f"{self.node}.{BlockTensors.downsample_bn(pool)}"
        return f"{block}.bn{kind[-1]}"

    def sign_path(self) -> str:
        """The reference tensor its output is: ``p.ghostsignK``, or ``p.downsample``."""
        block, kind = self.node.rsplit(".", 1)
        return self.node if self.downsample else f"{block}.ghostsign{kind[-1]}"


def parse_fused(data: object, source: str) -> dict[str, FusedThreshold]:
    """HARNESS-14: the ``fused`` table of a module map, validated field by field."""
    error_if(not isinstance(data, dict), FormatError, f"{source}: fused",
             "a table {node: {module, threshold, polarity}}", type(data).__name__, "HARNESS-14")
    fused = {}
    for node, entry in data.items():
        error_if(not isinstance(node, str) or FUSED_NODE.fullmatch(node) is None, FormatError,
                 f"{source}: fused", NODE_NAMES, repr(node)[:80], "HARNESS-14")
        field = f"{source}: fused.{node}"
        error_if(not isinstance(entry, dict), FormatError, field,
                 "a table {module, threshold, polarity}", type(entry).__name__, "HARNESS-14")
        unknown = sorted(set(entry) - set(FIELDS))
        error_if(bool(unknown), FormatError, field, f"only the fields {', '.join(FIELDS)}",
                 lambda unknown=unknown: repr(unknown[0])[:80], "HARNESS-14")
        error_if("module" not in entry, FormatError, f"{field}.module",
                 "the implementation's module path", "missing", "HARNESS-14")
        for key, value in entry.items():
            error_if(not isinstance(value, str) or len(value) > MAX_PATH_CHARS, FormatError,
                     f"{field}.{key}", f"a string of at most {MAX_PATH_CHARS} characters",
                     lambda value=value: f"{type(value).__name__} of length "
                     f"{len(value) if isinstance(value, str) else '-'}", "HARNESS-14")
        fused[node] = FusedThreshold(node, **entry)
    return fused


def _array(value, what: str) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    error_if(value is None, FormatError, what, "an [S, C] tensor", "missing", "HARNESS-14")
    return np.asarray(value)


def held_units(source, spec: FusedThreshold, slices: int, channels: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """``(polarity, threshold)`` ``[S, C]`` the fused module holds; ``source(name)`` gives an
    attribute. ``ERROR_IF`` a shape, a polarity or a threshold is not admissible."""
    where = f"module {spec.module} ({spec.node})"
    threshold = _array(source(spec.threshold), f"{where}.{spec.threshold}")
    polarity = _array(source(spec.polarity), f"{where}.{spec.polarity}")
    for name, array in ((spec.threshold, threshold), (spec.polarity, polarity)):
        error_if(array.shape != (slices, channels), ShapeError, f"{where}.{name}",
                 f"shape [S, C] = [{slices}, {channels}]", list(array.shape), "HARNESS-14")
        error_if(array.dtype.kind not in "iuf", DomainError, f"{where}.{name}",
                 "an integer or float tensor", str(array.dtype), "HARNESS-14")
    error_if(not bool(np.isfinite(threshold.astype(np.float64)).all()), NonFiniteError,
             f"{where}.{spec.threshold}", "finite thresholds", "NaN or infinity", "HARNESS-14")
    error_if(not bool(np.isin(polarity, (0, 1)).all()), DomainError,
             f"{where}.{spec.polarity}", "0 (s <= t) or 1 (s >= t)",
             lambda: repr(polarity[~np.isin(polarity, (0, 1))][0]), "HARNESS-14")
    return polarity, threshold


def realised_units(polarity: np.ndarray, threshold: np.ndarray, n: int) -> ThresholdUnits:
    """The canonical unit (THR-2) of the function ``[s >= t]`` or ``[s <= t]`` on ``D_n`` that
    each held threshold computes, decided on its exact value (EXACT-1)."""
    out_p = np.empty(polarity.shape, BIT_DTYPE)
    out_t = np.empty(polarity.shape, ACC_DTYPE)
    for j, c in np.ndindex(*polarity.shape):
        value = threshold[j, c]
        exact = Fraction(int(value)) if threshold.dtype.kind in "iu" else Fraction(float(value))
        out_p[j, c], out_t[j, c] = canonical_unit(int(polarity[j, c]), exact, n)
    return ThresholdUnits(out_p, out_t, n)


def require_state_dict(fused: dict, state_dict) -> None:
    """``ERROR_IF`` fused modules come without the float state dict (HARNESS-14)."""
    error_if(bool(fused) and state_dict is None, UsageError, "state_dict (--state-dict)",
             "the float state dict in the authors' layout whose BatchNorm the fused "
             "thresholds fold", f"missing, with fused modules at {', '.join(sorted(fused))}",
             "HARNESS-14")


def check_fused_nodes(fused: dict, arch: Architecture, source: str = "module map") -> None:
    """``ERROR_IF`` a fused node is not a thresholded binary layer of ``arch`` (HARNESS-14)."""
    layers = set()
    for plan in block_plans(arch):
        layers |= {f"{plan.name}.conv1"} | ({f"{plan.name}.conv2"} if not plan.last else set())
        layers |= {f"{plan.name}.downsample"} if plan.downsample else set()
    unknown = sorted(set(fused) - layers)
    error_if(bool(unknown), FormatError, f"{source}: fused",
             f"binary layers of {arch.name} with a BatchNorm-sign (the last block's conv2 feeds "
             "the real-valued head, and only blocks that change shape have a downsample)",
             lambda: repr(unknown[0])[:80], "HARNESS-14")


def exact_units(state_dict: dict, node: str, slices: int, pool: int = 0) -> ThresholdUnits:
    """FOLD-2 of the state dict's BatchNorm, weights and (downsample) bias for a block's
    ``conv1``, ``conv2`` or ``downsample`` (pooling before BatchNorm, POOL-2, leaves the fold
    unchanged: the unit is applied to the window's largest accumulator)."""
    spec = FusedThreshold(node, "")
    conv = f"{node}.0" if spec.downsample else node
    prefix = spec.bn_path(pool)
    weight = np.asarray(state_dict[f"{conv}.weight"], np.float32)
    bias = np.asarray(state_dict[f"{conv}.bias"], np.float32) if spec.downsample else None
    bn = BatchNorm(*(np.asarray(state_dict[f"{prefix}.{f}"], np.float32)
                     for f in ("weight", "bias", "running_mean", "running_var")), name=prefix)
    return fold_bn_sign(bn, int(np.prod(weight.shape[1:])), weight_scale(weight), bias,
                        slice_offsets(slices))


def check_fused_units(source, fused: dict, state_dict: dict, model: Model
                      ) -> tuple[list[Row], list[dict], dict[str, ThresholdUnits]]:
    """HARNESS-14: a ``<node>.units`` row per fused node; every held threshold whose function
    differs from the exact fold is a ``mismatch`` naming channel, slice, the held value, the unit
    it computes and the exact one. ``source(spec)`` gives ``name -> attribute``."""
    rows, findings, realised = [], [], {}
    slices = model.architecture.slices
    check_fused_nodes(fused, model.architecture)
    for node in model.nodes:
        spec = fused.get(node.name)
        if spec is None:
            continue
        exact = exact_units(state_dict, node.name, slices, node.attrs.get("pool", 0))
        polarity, threshold = held_units(source(spec), spec, slices, exact.polarity.shape[1])
        units = realised[node.name] = realised_units(polarity, threshold, exact.n)
        found = unit_findings(units, exact)
        for entry in found:
            j, c = entry["slice"], entry["channel"]
            entry["held"] = {"cmp": ">=" if int(polarity[j, c]) == GE else "<=",
                             "t": threshold[j, c].item()}
            entry["reason"] = "the fused threshold computes another function than the exact " \
                "fold of the state dict's BatchNorm (FOLD-2, EXACT-2)"
        row = Row(f"{node.name}.units", node.name, "units", elements=int(polarity.size))
        row.counts["mismatch"] = len(found)
        row.counts["equal"] = row.elements - len(found)
        rows.append(row)
        findings += [{"layer": row.layer, **entry} for entry in found]
    return rows, findings, realised
