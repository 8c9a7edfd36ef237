"""The one fixtures module of the four configurations: scaled and full-size models with cached
calibrated parameters, the datapath's small models whose channel counts are not multiples of 64,
and a writer of hand-edited model files."""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

import numpy as np

from boolnet_spec.reference.architecture import (
    CONFIGS,
    Architecture,
    architecture,
    state_dict_layout,
)
from boolnet_spec.reference.build import build_model, random_state_dict
from boolnet_spec.reference.modelfile import HEADER, save_model
from boolnet_spec.reference.network import Model

FAMILIES = tuple(CONFIGS)
"""The four published configurations."""
# Widths divisible by S = 4 (groups = S), none a multiple of 64; 68 and 136 span two words.
SMALL_WIDTHS = (12, 20, 36, 68)


def scaled(name: str, widths=(8, 16, 32, 64), blocks=None, image_size: int = 32,
           classes: int = 10) -> Architecture:
    """A small configuration of the family ``name``: fast enough for every test."""
    return architecture(name).scaled(widths=widths, blocks=blocks, image_size=image_size,
                                     classes=classes)


# Four stages of two blocks, one block per stage, two stages (the star dilates its second).
SHAPES = {"4x2": {}, "4x1": {"blocks": (1, 1, 1, 1), "image_size": 64},
          "2x2": {"widths": (8, 16), "image_size": 32}}


@functools.cache
def _state_dict(arch: Architecture, seed: int) -> dict[str, np.ndarray]:
    return random_state_dict(arch, seed)


def state_dict(arch: Architecture, seed: int = 0) -> dict[str, np.ndarray]:
    """Calibrated random parameters (BUILD-4), computed once per worker; a fresh copy."""
    return {key: value.copy() for key, value in _state_dict(arch, seed).items()}


@functools.cache
def model(arch: Architecture, seed: int = 0) -> Model:
    """The folded model of ``state_dict(arch, seed)``; shared, so never to be modified."""
    return build_model(arch, state_dict(arch, seed))


def images(arch: Architecture, batch: int, seed: int) -> np.ndarray:
    """Random normal float32 images of the architecture's size."""
    rng = np.random.default_rng(10_000 + seed)
    return rng.standard_normal((batch, 3, arch.image_size, arch.image_size)).astype(np.float32)


SMALL = scaled("boolnet-k4", blocks=(1, 1, 1, 1))


@functools.cache
def _small_model_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "small.model"
        save_model(model(SMALL), path)
        return path.read_bytes()


def small_model_file(directory: Path, name: str = "small.model") -> Path:
    """A valid model file of ``SMALL`` (BoolNet k=4, one block per stage) in ``directory``."""
    path = directory / name
    path.write_bytes(_small_model_bytes())
    return path


def model_contents(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The JSON header and the other arrays of a model file, read without unpickling."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    return json.loads(arrays.pop(HEADER).tobytes().decode("utf-8")), arrays


def write_model(path: Path, header: dict | None, arrays: dict[str, np.ndarray]) -> Path:
    """A model file of ``header`` (JSON; None: no header member) and ``arrays``."""
    members = dict(arrays)
    if header is not None:
        members[HEADER] = np.frombuffer(json.dumps(header).encode("utf-8"), np.uint8)
    with open(path, "wb") as handle:  # a handle: np.savez would append .npz to a name
        np.savez(handle, **members)
    return path


def node(header: dict, name: str) -> dict:
    """The header's node called ``name``."""
    return next(n for n in header["nodes"] if n["name"] == name)


def assert_near_ties(name: str, got: np.ndarray, want: np.ndarray, pre: tuple,
                     offsets: np.ndarray) -> None:
    """Bits that differ must be float64 near-ties of the oracle's pre-activation ``y + o_j``."""
    y, scale = pre
    wrong = np.argwhere(got != want)
    # A tie within 1e-9 relative has a chance of about 1e-9 per element with random parameters.
    assert len(wrong) <= 2, f"{name}: {len(wrong)} bits differ, first at {wrong[0].tolist()}"
    for b, j, c, h, w in wrong:
        value = y[b, c, h, w] + np.float64(offsets[j])
        assert abs(value) <= 1e-9 * (scale[b, c, h, w] + abs(offsets[j])), \
            f"{name}[{b}, {j}, {c}, {h}, {w}]: reference {got[b, j, c, h, w]}, oracle " \
            f"{want[b, j, c, h, w]}, y + o = {value!r} is no tie"


def assert_matches_oracle(trace: dict, expected, offsets: np.ndarray,
                          partial: bool = False) -> None:
    """Every tensor the oracle computed (``partial``: the first ones of the trace) equals the
    traced one: bits and accumulators exactly, logits to binary64 summation order."""
    names = list(trace)[:len(expected.trace)] if partial else list(trace)
    assert names == list(expected.trace), "names or order differ from BUILD-1"
    for name, want in expected.trace.items():
        got = trace[name]
        assert (got.dtype, got.shape) == (want.dtype, want.shape), name
        if name == "logits":
            # Same binary64 formula; only the order of the pooling and fc sums may differ (HEAD-3).
            assert np.allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max()), name
        elif name in expected.pre and not np.array_equal(got, want):
            assert_near_ties(name, got, want, expected.pre[name], offsets)
            return  # a tie diverges everything downstream: nothing further is comparable
        else:
            assert np.array_equal(got, want), name


def arch_of(name: str) -> Architecture:
    """A published configuration, or the paper's ablation ``boolnet-k1`` (BoolNet, S = 1)."""
    if name == "boolnet-k1":
        return Architecture("boolnet-k1", "boolnet", 1)
    return architecture(name)


@functools.cache
def full_model(name: str) -> Model:
    """A full-size model with calibrated random parameters (seed 0)."""
    arch = arch_of(name)
    return build_model(arch, random_state_dict(arch, 0, batch=1))


@functools.cache
def shape_model(name: str) -> Model:
    """A full-size model with plain parameters (unit weights, identity BatchNorms): the layer
    shapes without the cost of calibration, for the counters."""
    arch = arch_of(name)
    plain = {}
    for key, shape, dtype in state_dict_layout(arch):
        leaf = key.rsplit(".", 1)[-1]
        value = 0.0 if leaf in ("running_mean", "bias", "num_batches_tracked") else 1.0
        plain[key] = np.full(shape, value, dtype=dtype)
    return build_model(arch, plain)


@functools.cache
def small_model(name: str, image_size: int = 64, seed: int = 0) -> Model:
    """A scaled model: widths 12/20/36/68, 7 classes."""
    arch = arch_of(name).scaled(widths=SMALL_WIDTHS, image_size=image_size, classes=7)
    return build_model(arch, random_state_dict(arch, seed, batch=2))


def model_images(model: Model, batch: int = 1, seed: int = 1) -> np.ndarray:
    size = model.architecture.image_size
    return np.random.default_rng(seed).standard_normal((batch, 3, size, size)).astype(np.float32)


def assert_identical_runs(runs: list[tuple[np.ndarray, dict]]) -> None:
    """Every ``(logits, trace)`` of ``runs`` equals the first, tensor by tensor, bit for bit."""
    (logits, trace), others = runs[0], runs[1:]
    for other_logits, other_trace in others:
        assert np.array_equal(other_logits, logits)
        assert other_trace.keys() == trace.keys()
        for key, value in trace.items():
            assert other_trace[key].dtype == value.dtype and np.array_equal(other_trace[key], value)
