"""Generating the golden vectors (KIT-1, KIT-8): per-op cases chosen where implementations break,
and network cases of the four configurations, each with its expected outputs from the reference.

The expected values are the reference's; the bounds of real outputs are the running bounds of
BOUND-5 for any float32 or binary64 evaluation.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from boolnet_spec.equivalence.conformance import CASE_FORMAT, SUITE_FORMAT, SUITE_VERSION
from boolnet_spec.equivalence.conformance.bounds import float_bounds
from boolnet_spec.equivalence.conformance.implementations import reference_functions
from boolnet_spec.reference import SPEC_VERSION
from boolnet_spec.reference.accumulator import N_MAX
from boolnet_spec.reference.batchnorm import DEFAULT_EPS, BatchNorm
from boolnet_spec.reference.errors import DomainError, InternalError, UsageError
from boolnet_spec.reference.ops import BN_FIELDS
from boolnet_spec.reference.safe_io import write_npz
from boolnet_spec.reference.slices import slice_offsets
from boolnet_spec.reference.threshold import GE, LE, ThresholdUnits

__all__ = ["SUITES", "OpCase", "op_cases", "network_cases", "write_suite", "BOUND_HOW"]

SUITES = ("ops", "networks", "all", "full")
BOUND_HOW = ("BOUND-5: a running bound on |float32 or binary64 evaluation - reference| "
             "(gamma_k rounding of every sum and BatchNorm, any summation order)")
U32, U64 = 2.0 ** -24, 2.0 ** -53


@dataclass
class OpCase:
    """One per-op case before it is written: the call and the labels it exercises."""

    op: str
    name: str
    function: str
    labels: list[str]
    inputs: dict[str, np.ndarray]
    attrs: dict = field(default_factory=dict)
    objects: dict = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=lambda: ["out"])
    bounds: dict[str, Callable] = field(default_factory=dict)
    description: str = ""

    @property
    def id(self) -> str:
        return f"{self.op}/{self.name}"


def _bn_object(prefix: str, gamma, beta, mean, var, eps=DEFAULT_EPS) -> tuple[dict, dict]:
    arrays = {f"{prefix}.{f}": np.asarray(v, np.float32)
              for f, v in zip(BN_FIELDS, (gamma, beta, mean, var), strict=True)}
    return arrays, {"type": "BatchNorm", "eps": float(eps),
                    "arrays": {f: f"{prefix}.{f}" for f in BN_FIELDS}}


def _fold_case(name: str, labels: list[str], n: int, gamma, beta, mean, var, alpha=None,
               bias=None, offsets=None, eps=DEFAULT_EPS, description="") -> OpCase:
    channels = len(gamma)
    arrays, bn = _bn_object("bn", gamma, beta, mean, var, eps)
    arrays["alpha"] = np.asarray(np.ones(channels) if alpha is None else alpha, np.float32)
    arrays["bias"] = np.asarray(np.zeros(channels) if bias is None else bias, np.float32)
    arrays["offsets"] = np.asarray(np.zeros(1) if offsets is None else offsets, np.float32)
    return OpCase("fold", name, "fold_bn_sign", ["FOLD-1", "FOLD-2", "THR-4", *labels], arrays,
                  {"n": n}, {"bn": bn}, ["bn", "n", "alpha", "bias", "offsets"],
                  ["polarity", "threshold"], description=description)


def _near_ties(rng: np.random.Generator, n: int, count: int, differs: Callable) -> dict:
    """Channels whose exact root lies within float32 rounding of an accumulator value, kept where
    ``differs(bn, alpha, bias)`` says a float32 evaluation flips a bit (the LCE case)."""
    kept = {k: [] for k in ("gamma", "beta", "mean", "var", "alpha", "bias")}
    for _ in range(4000):
        gamma = np.float32(rng.choice([-1, 1]) * rng.uniform(0.05, 4))
        var = np.float32(rng.uniform(0.01, 9))
        mean = np.float32(rng.uniform(-n, n))
        alpha = np.float32(rng.uniform(0.001, 0.1))
        bias = np.float32(rng.uniform(-0.01, 0.01))
        root = int(rng.integers(-n // 2, n // 2)) * 2 + (n % 2)
        sigma = np.sqrt(np.float64(var) + DEFAULT_EPS)
        beta = np.float32(-np.float64(gamma) * (np.float64(alpha) * root + np.float64(bias)
                                                - np.float64(mean)) / sigma)
        bn = BatchNorm(np.array([gamma]), np.array([beta]), np.array([mean]), np.array([var]))
        if differs(bn, np.array([alpha]), np.array([bias])):
            for key, value in zip(kept, (gamma, beta, mean, var, alpha, bias), strict=True):
                kept[key].append(value)
            if len(kept["gamma"]) == count:
                break
    return {key: np.array(values, np.float32) for key, values in kept.items()}


def _fold_cases() -> Iterator[OpCase]:
    from boolnet_spec.equivalence.conformance.faulty import float32_fold

    fold = reference_functions()["fold_bn_sign"]
    yield _fold_case("tie-gamma-positive", ["FOLD-3"], 9, [1.0, 0.5], [0.0, 0.0], [3.0, -5.0],
                     [1.0, 4.0], description="integer roots 3 and -5, gamma > 0: s >= t")
    yield _fold_case("tie-gamma-negative", ["FOLD-4", "FOLD-6"], 9, [-1.0, -0.25],
                     [0.0, 0.0], [3.0, -5.0], [1.0, 4.0],
                     description="integer roots, gamma < 0: s <= t (the EEV tie)")
    yield _fold_case("gamma-zero", ["FOLD-5"], 9, [0.0, 0.0, -0.0], [0.5, -0.5, 0.0],
                     [1.0, 1.0, 1.0], [1.0, 1.0, 1.0],
                     description="gamma = 0: constant 1 when beta >= 0 (sign(0) = +1)")
    yield _fold_case("constant-channels", ["FOLD-7"], 9, [1.0, -1.0, 1.0, -1.0],
                     [0.0, 0.0, 0.0, 0.0], [100.0, 100.0, -100.0, -100.0], [1.0] * 4,
                     description="roots outside D_n: constant channels")
    rng = np.random.default_rng(20261202)

    def lce_differs(bn, alpha, bias):
        exact, rounded = fold(bn, 9, alpha, bias), float32_fold(bn, 9, alpha, bias)
        return not np.array_equal(exact.threshold, rounded.threshold)

    ties = _near_ties(rng, 9, 8, lce_differs)
    yield _fold_case("float32-near-tie", ["FOLD-2", "EXACT-2"], 9, ties["gamma"], ties["beta"],
                     ties["mean"], ties["var"], ties["alpha"], ties["bias"],
                     description="exact roots within float32 rounding of an accumulator value: "
                                 "a float32 threshold flips the bit (the LCE case)")
    rng = np.random.default_rng(7)
    channels = 64
    for slices in (1, 4):
        yield _fold_case(f"random-k{slices}", ["FOLD-8", "SLICE-1"], 576,
                         rng.choice([-1, 1], channels) * rng.uniform(0.05, 3, channels),
                         rng.normal(0, 1, channels), rng.normal(0, 40, channels),
                         rng.uniform(0.01, 400, channels), rng.uniform(0.001, 0.1, channels),
                         rng.normal(0, 0.5, channels), slice_offsets(slices),
                         description=f"random channels, n = 576, {slices} slice(s)")
    yield _fold_case("var-zero", ["BN-2", "FOLD-2"], 25, [1.0, -2.0, 0.5, -0.75],
                     [0.01, 0.02, -0.03, 0.005], [1.3, -2.6, 4.1, -7.9], [0.0] * 4,
                     description="var = 0: sigma = sqrt(eps), so eps decides the threshold")
    yield _fold_case("n-max", ["ACC-3", "FOLD-7"], N_MAX, [1.0, -1.0, 1.0, -1.0],
                     [0.0, 0.0, 0.0, 0.0], [N_MAX, -N_MAX, N_MAX + 1, -N_MAX - 1], [1.0] * 4,
                     description="thresholds at the ends of D_n for n = N_MAX")


def _units_case(name, labels, n, polarity, threshold, s, function="threshold_slices", op=None,
                attrs=None, description="") -> OpCase:
    arrays = {"s": np.asarray(s, np.int16), "polarity": np.asarray(polarity, np.uint8),
              "threshold": np.asarray(threshold, np.int16)}
    objects = {"units": {"type": "ThresholdUnits", "n": n,
                         "arrays": {"polarity": "polarity", "threshold": "threshold"}}}
    attrs = attrs or {}
    return OpCase(op or "threshold", name, function, labels, arrays, attrs, objects,
                  ["s", "units", *attrs], description=description)


def _all_units(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Every canonical unit of ``n`` (THR-4), one per channel."""
    domain = list(range(-n, n + 1, 2))
    units = [(GE, t) for t in [*domain, n + 2]] + [(LE, t) for t in domain[:-1]]
    return (np.array([[p for p, _ in units]], np.uint8),
            np.array([[t for _, t in units]], np.int16))


def _threshold_cases() -> Iterator[OpCase]:
    for n in (1, 9):
        polarity, threshold = _all_units(n)
        domain = np.arange(-n, n + 1, 2, dtype=np.int16)
        s = np.broadcast_to(domain[:, None, None, None], (len(domain), polarity.shape[1], 1, 1))
        yield _units_case(f"every-unit-n{n}", ["THR-2", "THR-3", "THR-5"], n, polarity,
                          threshold, s, description=f"every canonical unit of n = {n} at every s")
    n = N_MAX
    polarity = np.array([[GE, GE, GE, LE, LE, GE]], np.uint8)
    threshold = np.array([[-n, n, n + 2, -n, n - 2, 1]], np.int16)
    s = np.array([-n, -n + 2, -1, 1, n - 2, n], np.int16)[:, None, None, None] * np.ones(
        (1, 6, 1, 1), np.int16)
    yield _units_case("accumulator-extremes", ["ACC-3", "THR-5"], n, polarity, threshold, s,
                      description="n = N_MAX: units and accumulators at the ends of D_n")
    rng = np.random.default_rng(3)
    polarity = rng.integers(0, 2, (4, 16)).astype(np.uint8)
    threshold = (rng.integers(-4, 4, (4, 16)) * 2 + 1).astype(np.int16)
    s = (rng.integers(-5, 5, (2, 16, 3, 5)) * 2 + 1).astype(np.int16)
    yield _units_case("four-slices", ["THR-5", "SLICE-1"], 9, polarity, threshold, s,
                      description="k = 4 slices of 16 channels")


def _maxpool_cases() -> Iterator[OpCase]:
    rng = np.random.default_rng(5)
    polarity = np.array([[GE, LE, GE, LE]], np.uint8)
    threshold = np.array([[1, -1, 5, -7]], np.int16)
    for size in ((5, 7), (4, 4)):
        s = (rng.integers(-5, 5, (2, 4, *size)) * 2 + 1).astype(np.int16)
        yield _units_case(f"threshold-{size[0]}x{size[1]}", ["POOL-1", "POOL-2"], 9, polarity,
                          threshold, s, "threshold_maxpool", "maxpool",
                          {"kernel": 2, "stride": 2},
                          f"pooling before BatchNorm-sign on a {size[0]}x{size[1]} map, both "
                          "polarities")
    x = rng.integers(0, 2, (2, 2, 3, 7, 5)).astype(np.uint8)
    yield OpCase("maxpool", "binary-odd-7x5", "binary_maxpool", ["POOL-1"], {"x": x},
                 {"kernel": 2, "stride": 2}, {}, ["x", "kernel", "stride"],
                 description="odd spatial size 7x5")


def _conv(name, labels, x, weight, function="binary_conv2d", op="bconv", **attrs) -> OpCase:
    attrs = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "pad_mode": "replicate",
             **attrs}
    return OpCase(op, name, function, labels, {"x": x, "weight": weight}, attrs, {},
                  ["x", "weight", *attrs])


def _bconv_cases() -> Iterator[OpCase]:
    n = N_MAX
    ones = np.ones((1, n, 1, 1), np.uint8)
    weight = np.stack([np.ones((n, 1, 1), np.uint8), np.zeros((n, 1, 1), np.uint8)])
    yield _conv("n-max-all-agree-all-disagree", ["CONV-1", "ACC-3", "ACC-1"], ones, weight,
                pad_mode="none")
    rng = np.random.default_rng(11)
    x = rng.integers(0, 2, (2, 3, 5, 6)).astype(np.uint8)
    w = rng.integers(0, 2, (4, 3, 3, 3)).astype(np.uint8)
    yield _conv("replicate-corners", ["CONV-1", "CONV-2", "PAD-1"], x, w, padding=1)
    yield _conv("stride2-dilation2", ["CONV-1", "CONV-2", "CONV-3", "PAD-1"], x, w, stride=2,
                padding=2, dilation=2)
    w = rng.integers(0, 2, (6, 1, 3, 3)).astype(np.uint8)
    yield _conv("grouped-one-padding", ["CONV-1", "CONV-3", "PAD-2"],
                rng.integers(0, 2, (1, 3, 4, 5)).astype(np.uint8), w, padding=1, groups=3,
                pad_mode="one")
    x = rng.integers(0, 2, (2, 4, 4, 5, 5)).astype(np.uint8)
    for groups in (1, 2, 4):
        w = rng.integers(0, 2, (8, groups * 4 // groups, 3, 3)).astype(np.uint8)
        yield _conv(f"slices-groups{groups}", ["CONV-4", "CONV-1"], x, w, "multi_slice_conv2d",
                    padding=1, groups=groups)


def _simple_cases() -> Iterator[OpCase]:
    rng = np.random.default_rng(13)
    pairs = np.array([[0, 0, 1, 1]], np.uint8).reshape(1, 1, 1, 1, 4), \
        np.array([[0, 1, 0, 1]], np.uint8).reshape(1, 1, 1, 1, 4)
    for function, op in (("logic_xnor", "xnor"), ("logic_or", "or")):
        yield OpCase("logic", f"{op}-truth-table", function,
                     ["LOGIC-1" if op == "xnor" else "LOGIC-2"], {"x": pairs[0], "r": pairs[1]},
                     {}, {}, ["x", "r"], description="every two-input combination")
    x = rng.integers(0, 2, (2, 4, 6, 3, 3)).astype(np.uint8)
    yield OpCase("channels", "split", "split_channels", ["CHAN-2"], {"x": x}, {}, {}, ["x"],
                 ["first", "second"])
    yield OpCase("channels", "shuffle", "shuffle_channels", ["CHAN-3"],
                 {"z1": x, "z2": rng.integers(0, 2, x.shape).astype(np.uint8)}, {}, {},
                 ["z1", "z2"])
    yield OpCase("channels", "flatten", "flatten_slices", ["CHAN-1"], {"x": x}, {}, {}, ["x"])
    bits = rng.integers(0, 2, (1, 2, 3, 4)).astype(np.uint8)
    for mode, label in (("replicate", "PAD-1"), ("one", "PAD-2")):
        yield OpCase("padding", f"{mode}-corners", "pad_bits", [label], {"x": bits},
                     {"padding": 2, "mode": mode}, {}, ["x", "padding", "mode"])
    weight = rng.normal(0, 1, (4, 3, 3, 3)).astype(np.float32)
    weight[0, 0, 0, :] = 0.0
    weight[1, 0] = -0.0
    yield OpCase("weights", "zero-weights", "weight_bits", ["WB-1"], {"weight": weight}, {}, {},
                 ["weight"], description="zero weights (torch.sign(0) = 0) are bit 1")
    yield OpCase("weights", "scale", "weight_scale", ["WB-2"], {"weight": weight}, {}, {},
                 ["weight"], description="alpha: the float32 nearest the exact mean of |W|")
    z = rng.normal(0, 1, (2, 3, 4, 4)).astype(np.float32)
    for slices in (1, 4):
        offsets = slice_offsets(slices)
        z[0, 0, 0, :len(offsets)] = -offsets
        yield OpCase("slices", f"quantize-k{slices}", "slice_quantize", ["SLICE-2", "ENC-2"],
                     {"z": z.copy(), "offsets": offsets}, {}, {}, ["z", "offsets"],
                     description="z + o_j = 0 exactly in some elements: sign(0) = +1")


def _stem_cases() -> Iterator[OpCase]:
    rng = np.random.default_rng(17)
    channels, offsets = 4, slice_offsets(4)
    bn_arrays, bn = _bn_object("bn", rng.uniform(0.5, 2, channels), rng.normal(0, 0.3, channels),
                               rng.normal(0, 0.5, channels), rng.uniform(0.5, 2, channels))
    bn_ = BatchNorm(*(bn_arrays[f"bn.{f}"] for f in BN_FIELDS))
    features = rng.normal(0, 1, (2, channels, 5, 5))
    margin = np.abs(bn_(features)[:, None] + offsets[None, :, None, None, None])
    features[np.broadcast_to((margin < 1e-3).any(axis=1), features.shape)] = 4.0
    margin = np.abs(bn_(features)[:, None] + offsets[None, :, None, None, None])
    if margin.min() < 1e-3:
        raise InternalError("the stem case's features lie within 1e-3 of a decision")
    yield OpCase("stem", "basenet-bits", "basenet_stem", ["STEM-4", "SLICE-2"],
                 {"features": features, "offsets": offsets, **bn_arrays}, {}, {"bn": bn},
                 ["features", "bn", "offsets"], description="margins >= 1e-3")


def _head_cases() -> Iterator[OpCase]:
    rng = np.random.default_rng(19)
    z = rng.normal(0, 1, (2, 6, 3, 3))
    slope = rng.uniform(0.01, 0.5, 6).astype(np.float32)
    yield OpCase("head", "prelu", "prelu", ["HEAD-2"], {"z": z, "slope": slope}, {}, {},
                 ["z", "slope"], bounds={"out": lambda v, a: U32 * np.abs(v) + 2 ** -1074})
    weight = rng.normal(0, 0.3, (5, 6)).astype(np.float32)
    bias = rng.normal(0, 0.1, 5).astype(np.float32)

    def classifier_bound(value, arrays):
        terms, count = arrays["weight"].shape[1] + 1, 9
        pooled = np.abs(arrays["z"]).mean(axis=(2, 3))
        gamma = (count + terms) * (U32 + U64) * 1.01
        return gamma * (pooled @ np.abs(arrays["weight"].astype(np.float64)).T
                        + np.abs(arrays["bias"])) + 1e-300
    yield OpCase("head", "classifier", "classifier", ["HEAD-3"],
                 {"z": z, "weight": weight, "bias": bias}, {}, {}, ["z", "weight", "bias"],
                 bounds={"out": classifier_bound})


OP_CASE_GROUPS = (_fold_cases, _threshold_cases, _maxpool_cases, _bconv_cases, _simple_cases,
                  _stem_cases, _head_cases)


def op_cases() -> list[OpCase]:
    """Every per-op case, computed by the reference."""
    return [case for group in OP_CASE_GROUPS for case in group()]


def _call(case: OpCase) -> dict[str, np.ndarray]:
    from boolnet_spec.equivalence.conformance.adapters import as_outputs

    function = reference_functions()[case.function]
    kwargs = {}
    for arg in case.args:
        if arg in case.objects:
            spec = case.objects[arg]
            arrays = {role: case.inputs[member] for role, member in spec["arrays"].items()}
            kwargs[arg] = ThresholdUnits(arrays["polarity"], arrays["threshold"], spec["n"]) \
                if spec["type"] == "ThresholdUnits" else BatchNorm(
                    arrays["weight"], arrays["bias"], arrays["running_mean"],
                    arrays["running_var"], eps=spec["eps"], name=arg)
        else:
            kwargs[arg] = case.inputs[arg] if arg in case.inputs else case.attrs[arg]
    return as_outputs(case.outputs, function(**kwargs))


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), version=(1, 0),
                              allow_pickle=False)
    return buffer.getvalue()


class _Writer:
    """Files of a suite, collected in memory with their hashes, written once at the end."""

    def __init__(self):
        self.files: dict[str, bytes] = {}

    def add(self, name: str, data: bytes) -> None:
        self.files[name] = data

    def npy(self, name: str, array: np.ndarray) -> dict:
        array = np.asarray(array)
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        self.add(name, _npy_bytes(array))
        return {"dtype": str(array.dtype), "shape": list(array.shape)}

    def json(self, name: str, data: dict) -> None:
        self.add(name, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def _output_spec(array: np.ndarray, bounded: bool, how: str = "") -> dict:
    compare = {"mode": "bounded", "how": how} if bounded else {"mode": "exact"}
    return {"compare": compare}


def _write_op_case(writer: _Writer, case: OpCase) -> None:
    base = case.id
    inputs = {name: {"file": f"inputs/{name}.npy", **writer.npy(f"{base}/inputs/{name}.npy", v)}
              for name, v in case.inputs.items()}
    produced = _call(case)
    outputs = {}
    for name in case.outputs:
        value = np.asarray(produced[name])
        spec = writer.npy(f"{base}/expected/{name}.npy", value)
        bounded = name in case.bounds
        if bounded:
            writer.npy(f"{base}/expected/{name}.bound.npy",
                       np.asarray(case.bounds[name](value, case.inputs), np.float64))
        outputs[name] = {**spec, **_output_spec(value, bounded, BOUND_HOW if bounded else "")}
    writer.json(f"{base}/desc.json", {
        "format": CASE_FORMAT, "suite_version": SUITE_VERSION, "spec_version": SPEC_VERSION,
        "id": case.id, "kind": "op", "op": case.op, "function": case.function,
        "module": next(m.__name__ for m in _modules() if case.function in m.__all__),
        "labels": sorted(set(case.labels)), "inputs": inputs, "attrs": case.attrs,
        "objects": case.objects, "args": case.args, "outputs": outputs,
        "description": case.description})


def _modules():
    from boolnet_spec.equivalence.conformance.implementations import OP_MODULES

    return OP_MODULES


def _decided_images(model, shape: tuple[int, ...], first_seed: int, tries: int = 64
                    ) -> np.ndarray:
    """Gaussian images of the first seed from ``first_seed`` on whose stem bits no float
    rounding can flip (KIT-2), else the zero image (full-size Gaussian images have millions of
    stem values, and some always lie within their bound)."""
    from boolnet_spec.equivalence.conformance.bounds import ambiguous_images

    candidates = [np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
                  for seed in range(first_seed, first_seed + tries)]
    for images in [*candidates, np.zeros(shape, np.float32)]:
        if not ambiguous_images(model, images).any():
            return images
    raise InternalError(f"no decided images among {tries} seeds for {model.architecture.name}")


def network_cases(full: bool = False) -> list[tuple[str, object, dict, np.ndarray]]:
    """``(name, model, state_dict, images)`` of the four configurations at reduced scale (two
    blocks per stage, so split, shuffle and dilation all run), and with ``full`` one full-size
    boolnet-k4 image."""
    from boolnet_spec.reference.architecture import CONFIGS
    from boolnet_spec.reference.build import build_model, random_state_dict

    cases = []
    for name, arch in CONFIGS.items():
        small = arch.scaled(widths=(8, 16, 32, 64), blocks=(2, 2, 2, 2), image_size=32,
                            classes=10)
        state = random_state_dict(small, 0)
        model = build_model(small, state)
        cases.append((f"{name}-scaled", model, state, _decided_images(model, (2, 3, 32, 32), 1)))
    if full:
        arch = CONFIGS["boolnet-k4"]
        state = random_state_dict(arch, 0, batch=1)
        model = build_model(arch, state)
        cases.append(("boolnet-k4-full", model, state,
                      _decided_images(model, (1, 3, 224, 224), 1, tries=4)))
    return cases


def _write_network_case(writer: _Writer, name: str, model, state_dict: dict,
                        images: np.ndarray) -> None:
    from boolnet_spec.reference.modelfile import model_header, model_members
    from boolnet_spec.reference.network import forward

    base = f"network/{name}"
    logits, trace = forward(model, images, trace=True)
    trace["logits"] = logits
    bounds = float_bounds(model, images, trace)
    import io
    buffer = io.BytesIO()
    write_npz(buffer, model_members(model), compress=False)
    writer.add(f"{base}/model.bsm", buffer.getvalue())
    writer.json(f"{base}/model/graph.json", model_header(model))
    for member, array in model.arrays.items():
        writer.npy(f"{base}/model/arrays/{member}.npy", array)
    for key, array in state_dict.items():
        writer.npy(f"{base}/state_dict/{key}.npy", array)
    inputs = {"images": {"file": "inputs/images.npy",
                         **writer.npy(f"{base}/inputs/images.npy", images)}}
    order = [tensor for node in model.nodes for tensor in node.outputs]
    outputs = {}
    for tensor in order:
        value = trace[tensor]
        spec = writer.npy(f"{base}/expected/{tensor}.npy", value)
        bounded = tensor in bounds
        if bounded:
            writer.npy(f"{base}/expected/{tensor}.bound.npy", bounds[tensor])
        outputs[tensor] = {**spec, **_output_spec(value, bounded, BOUND_HOW if bounded else ""),
                           "required": tensor == "logits"}
    writer.json(f"{base}/desc.json", {
        "format": CASE_FORMAT, "suite_version": SUITE_VERSION, "spec_version": SPEC_VERSION,
        "id": base, "kind": "network", "op": "network", "function": "run",
        "labels": ["NET-7", "BUILD-1", "MODEL-1"], "inputs": inputs, "attrs": {},
        "objects": {}, "args": ["images"], "outputs": outputs, "tensor_order": order,
        "architecture": model.architecture.to_json(),
        "description": f"{model.architecture.name}: every named tensor of the forward pass"})


def build_files(suite: str = "all", network: list | None = None) -> dict[str, bytes]:
    """The files of a suite, by path, with ``MANIFEST.json`` (KIT-1, KIT-8)."""
    if suite not in SUITES:
        raise UsageError("--suite", f"one of {list(SUITES)}", repr(suite), "KIT-1")
    writer = _Writer()
    if suite in ("ops", "all", "full") and network is None:
        for case in op_cases():
            _write_op_case(writer, case)
    if suite != "ops":
        for name, model, state_dict, images in (network if network is not None
                                                else network_cases(suite == "full")):
            _write_network_case(writer, name, model, state_dict, images)
    files = dict(sorted(writer.files.items()))
    writer.files = {}
    writer.json("MANIFEST.json", {
        "format": SUITE_FORMAT, "suite_version": SUITE_VERSION, "spec_version": SPEC_VERSION,
        "suite": suite, "files": {name: hashlib.sha256(data).hexdigest()
                                  for name, data in files.items()}})
    return {**files, **writer.files}


def write_suite(directory: str | Path, files: dict[str, bytes]) -> None:
    """Write a suite to ``directory`` all at once: built beside it, then renamed (MODEL-5)."""
    directory = Path(directory)
    if directory.exists():
        raise DomainError("-o", "a directory that does not exist yet", str(directory),
                          "KIT-1")
    if not directory.parent.is_dir():
        raise DomainError("-o", "a path in an existing directory", str(directory), "MODEL-5")
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        for name, data in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        mode = 0o777 & ~_umask()
        os.chmod(staging, mode)
        os.rename(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
