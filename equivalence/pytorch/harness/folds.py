"""Supplied folds (HARNESS-7): an implementation's own threshold units against the exact fold of
its BatchNorm parameters."""

from __future__ import annotations

import numpy as np

from boolnet_spec.equivalence.pytorch.bounds import BNParams
from boolnet_spec.equivalence.pytorch.harness.report import Row
from boolnet_spec.reference.batchnorm import BatchNorm
from boolnet_spec.reference.fold import fold_bn_sign
from boolnet_spec.reference.network import Model
from boolnet_spec.reference.ops import OPS
from boolnet_spec.reference.slices import slice_offsets
from boolnet_spec.reference.threshold import GE, ThresholdUnits, is_canonical
from boolnet_spec.reference.weights import weight_scale


def unit_json(polarity, threshold) -> dict:
    return {"cmp": ">=" if int(polarity) == GE else "<=", "t": int(threshold)}


def unit_findings(supplied, exact) -> list[dict]:
    """Every unit ``[j, c]`` of ``supplied`` that is not canonical (THR-2) or differs from the
    exact fold ``exact`` (HARNESS-7), as ``mismatch`` entries naming channel, slice and units."""
    polarity, threshold = np.asarray(supplied.polarity), np.asarray(supplied.threshold)
    canonical = is_canonical(polarity, threshold, int(supplied.n))
    if polarity.shape != exact.polarity.shape:
        return [{"channel": None, "slice": None, "class": "mismatch",
                 "reason": f"units of shape {list(polarity.shape)}, the fold has "
                           f"{list(exact.polarity.shape)}"}]
    differ = (polarity != exact.polarity) | (threshold != exact.threshold) | ~canonical
    findings = []
    for j, c in np.argwhere(differ):
        unit = unit_json(polarity[j, c], threshold[j, c])
        reason = "not canonical (THR-2)" if not canonical[j, c] else \
            "differs from the exact fold of the BatchNorm parameters (FOLD-2, EXACT-2)"
        findings.append({"channel": int(c), "slice": int(j), "class": "mismatch",
                         "unit": unit,
                         "exact_unit": unit_json(exact.polarity[j, c], exact.threshold[j, c]),
                         "reason": reason})
    return findings


def module_paths(module, node) -> tuple[str, str]:
    """The conv and BatchNorm module paths of a binary layer (HARNESS-1, HARNESS-10)."""
    from boolnet_spec.equivalence.pytorch.harness.capture import downsample_paths

    block, kind = node.name.rsplit(".", 1)
    if kind == "downsample":
        return f"{block}.downsample.0", downsample_paths(module, block)[0]
    return f"{block}.{kind}", f"{block}.bn{kind[-1]}"


def exact_units(module, node, slices: int) -> ThresholdUnits:
    """FOLD-2 of the module's own BatchNorm, weights and bias for ``node`` (HARNESS-7)."""
    conv_path, bn_path = module_paths(module, node)
    conv, bn_module = module.get_submodule(conv_path), module.get_submodule(bn_path)
    bn = BNParams.of(bn_module)
    weight = conv.weight.detach().cpu().numpy()
    bias = None if getattr(conv, "bias", None) is None else \
        conv.bias.detach().cpu().numpy().astype(np.float32)
    return fold_bn_sign(BatchNorm(bn.gamma, bn.beta, bn.mean, bn.var, eps=float(bn_module.eps),
                                  name=bn_path),
                        int(np.prod(weight.shape[1:])), weight_scale(weight), bias,
                        slice_offsets(slices))


def check_supplied_units(module, supplied: Model) -> tuple[list[Row], list[dict]]:
    """HARNESS-7: one ``units`` row per binary layer and the findings, in node order."""
    rows, findings = [], []
    for node in supplied.nodes:
        if not OPS[node.op].has_threshold_units:
            continue
        units = supplied.states[node.name]["units"]
        found = unit_findings(units, exact_units(module, node, units.slices))
        row = Row(f"{node.name}.units", node.name, "units",
                  elements=int(np.asarray(units.polarity).size))
        row.counts["mismatch"] = len(found)
        row.counts["equal"] = row.elements - len(found)
        rows.append(row)
        findings += [{"layer": row.layer, **entry} for entry in found]
    return rows, findings
