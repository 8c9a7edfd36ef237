"""Models for the datapath tests, built once per process: full-size published configurations
and small scaled ones whose channel counts are not multiples of 64."""

from __future__ import annotations

from functools import cache

import numpy as np

from boolnet_spec.reference.architecture import Architecture, architecture, state_dict_layout
from boolnet_spec.reference.build import build_model, random_state_dict
from boolnet_spec.reference.network import Model

PUBLISHED = ("basenet-k1", "basenet-k4", "boolnet-k4", "boolnet-star-k4")
# Widths divisible by S = 4 (groups = S), none a multiple of 64; 68 and 136 span two words.
SMALL_WIDTHS = (12, 20, 36, 68)


def arch_of(name: str) -> Architecture:
    """A published configuration, or the paper's ablation ``boolnet-k1`` (BoolNet, S = 1)."""
    if name == "boolnet-k1":
        return Architecture("boolnet-k1", "boolnet", 1)
    return architecture(name)


@cache
def full_model(name: str) -> Model:
    """A full-size model with calibrated random parameters (seed 0)."""
    arch = arch_of(name)
    return build_model(arch, random_state_dict(arch, 0, batch=1))


@cache
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


@cache
def small_model(name: str, image_size: int = 64, seed: int = 0) -> Model:
    """A scaled model: widths 12/20/36/68, 7 classes."""
    arch = arch_of(name).scaled(widths=SMALL_WIDTHS, image_size=image_size, classes=7)
    return build_model(arch, random_state_dict(arch, seed, batch=2))


def images(model: Model, batch: int = 1, seed: int = 1) -> np.ndarray:
    size = model.architecture.image_size
    return np.random.default_rng(seed).standard_normal((batch, 3, size, size)).astype(np.float32)
