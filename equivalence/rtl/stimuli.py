"""Stimuli and expected words for the RTL testbench, from the conformance kit's cases.

Nothing here simulates: it reads the kit's cases (per-op and network), plays the units the RTL
does not implement (the permutation unit and the line buffer, PERM-4, LB-1, LB-2, taken from
:mod:`boolnet_spec.equivalence.datapath`) and packs every input and expected tensor into the
words the RTL exchanges (PACK-1 to PACK-4).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np

from boolnet_spec.equivalence.conformance.case import Case, load_suite
from boolnet_spec.equivalence.datapath.layout import (
    PackedBits,
    pack_activations,
    pack_weights,
    words_for,
)
from boolnet_spec.equivalence.datapath.line_buffer import output_size, pad_pixels, windows
from boolnet_spec.equivalence.datapath.permute import select_groups

SUITE = Path(str(files("boolnet_spec.conformance") / "vectors"))
"""The shipped conformance suite (the kit's default)."""

OP_CASES = {
    "bconv": ["bconv/grouped-one-padding", "bconv/n-max-all-agree-all-disagree",
              "bconv/replicate-corners", "bconv/slices-groups1", "bconv/slices-groups2",
              "bconv/slices-groups4", "bconv/stride2-dilation2"],
    "threshold": ["threshold/accumulator-extremes", "threshold/every-unit-n1",
                  "threshold/every-unit-n9", "threshold/four-slices"],
    "maxpool": ["maxpool/binary-odd-7x5", "maxpool/threshold-4x4", "maxpool/threshold-5x7"],
    "logic": ["logic/or-truth-table", "logic/xnor-truth-table"],
}
"""The per-op cases the testbench drives, by unit."""

BLOCK_NETWORK = "network/boolnet-k4-scaled"
"""The network case whose first block (and the next block's downsample branch) is rebuilt."""


def suite_cases() -> dict[str, Case]:
    return {case.id: case for case in load_suite(SUITE).cases}


def vector_int(words: np.ndarray) -> int:
    """A word vector (word 0 first) as one integer: bit 64*k + i is bit i of word k (PACK-1)."""
    return int.from_bytes(np.ascontiguousarray(words, dtype="<u8").tobytes(), "little")


def int_words(value: int, count: int) -> np.ndarray:
    return np.frombuffer(value.to_bytes(8 * count, "little"), dtype="<u8").astype(np.uint64)


def popcount_thresholds(polarity: np.ndarray, threshold: np.ndarray, n: int) -> np.ndarray:
    """THU-1: canonical units (polarity, t) to T = (n - t)/2, exact; the host's conversion."""
    t = threshold.astype(np.int64)
    if np.any((n - t) % 2):
        raise ValueError("THU-1: a threshold without the parity of n is not canonical")
    return ((n - t) // 2).astype(np.int64)


@dataclass
class ConvJob:
    """One binary convolution on the MVU (and threshold unit, and pooling unit)."""

    name: str
    n: int
    cout: int
    groups: int
    k: int                        # words per row: kh*kw*ceil(Cin_g/64)
    rows: np.ndarray              # [Cout, K] uint64 (PACK-4)
    windows: np.ndarray           # [P, G*K] uint64, group g at words g*K (LB-2, PACK-5)
    pixels: tuple[int, int, int]  # N, Ho, Wo
    expected_s: np.ndarray | None = None          # int16 [N, Cout, Ho, Wo]
    polarity: np.ndarray | None = None            # [S, Cout]
    big_t: np.ndarray | None = None               # [S, Cout] THU-1
    pool: int = 0


def conv_job(name: str, x: PackedBits, weight: np.ndarray, attrs: dict, read: str,
             units: tuple[np.ndarray, np.ndarray] | None = None) -> ConvJob:
    """The permutation unit (PERM-4) and line buffer (LB-1, LB-2) of the datapath model make
    the window vectors the RTL reads."""
    cout, cin_group, kh, kw = weight.shape
    groups = attrs["groups"]
    vectors = select_groups(x, groups, read, name)
    padded = pad_pixels(vectors, attrs["padding"], attrs["pad_mode"], cin_group, name)
    size = tuple(output_size(s, kk, attrs["stride"], attrs["padding"], attrs["dilation"])
                 for s, kk in zip(x.words.shape[1:3], (kh, kw), strict=True))
    win = windows(padded, (kh, kw), attrs["stride"], attrs["dilation"], size)  # [K, P, G]
    k = win.shape[0]
    n = cin_group * kh * kw
    rows = pack_weights(weight, name).reshape(cout, -1)
    assert rows.shape[1] == k == kh * kw * words_for(cin_group)
    job = ConvJob(name, n, cout, groups, k, rows,
                  np.ascontiguousarray(win.transpose(1, 2, 0).reshape(win.shape[1], -1)),
                  (x.words.shape[0], *size))
    if units is not None:
        job.polarity = units[0].astype(np.int64)
        job.big_t = popcount_thresholds(units[0], units[1], n)
    return job


def bconv_job(case: Case) -> ConvJob:
    x, weight, attrs = case.array("x"), case.array("weight"), case.attrs
    if case.function == "multi_slice_conv2d":
        packed, read = pack_activations(x), "slices"
    else:  # binary_conv2d: one slice, groups over its channels (CONV-3)
        packed, read = pack_activations(x[:, None]), "all"
    job = conv_job(case.id, packed, weight, attrs, read)
    job.expected_s = case.expected(case.outputs[0])
    return job


def packed_pixels(bits: np.ndarray) -> tuple[np.ndarray, int, int]:
    """bits [N, S, C, H, W] -> pixel vectors [N*H*W, S*K] (PACK-2), S, K."""
    packed = pack_activations(bits)
    n, h, w, s, k = packed.words.shape
    return packed.words.reshape(n * h * w, s * k), s, k


def network_case(cases: dict[str, Case]):
    """The network case's model, expected trace and case directory."""
    from boolnet_spec.reference.modelfile import load_model

    case = cases[BLOCK_NETWORK]
    model = load_model(case.directory / "model.bsm")
    trace = {path.name[:-4]: np.load(path, allow_pickle=False)
             for path in sorted((case.directory / "expected").glob("*.npy"))
             if not path.name.endswith(".bound.npy")}
    return model, trace


def node(model, name: str):
    return next(nd for nd in model.nodes if nd.name == name)
