"""Running error bounds of the real-valued stem, convolution and classifier (BOUND-5), as the
harness evaluates them next to PyTorch."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from boolnet_spec.equivalence.pytorch.bounds import (
    ETA32,
    ETA64,
    SAFETY,
    U32,
    U64,
    BNParams,
    Running,
    gamma,
)
from boolnet_spec.reference.head import average_pool, fc_columns, linear
from boolnet_spec.reference.maxpool import real_maxpool
from boolnet_spec.reference.stem import real_conv2d


def stem_running(node, state: dict, images: np.ndarray,
                 params: Callable[[str], BNParams]) -> Running:
    """BOUND-5 for the stem: the reference pre-activation and a bound on PyTorch's distance;
    ``params(path)`` gives the float32 BatchNorm at the authors' module path."""
    weight = state["conv"]
    x = Running(images.astype(np.float64))
    conv = conv_running(x, weight, 2, 3)
    features = conv.batchnorm(params("maxpool.0"), state["bn0"])
    features = Running(real_maxpool(features.value, 3, 2, 1),
                       real_maxpool(features.error, 3, 2, 1))
    if node.attrs["variant"] == "basenet":
        return features.batchnorm(params("ghostbnsign.0"), state["bn"])
    first = features.batchnorm(params("ghostbnsign.bn1"),
                               state["bn1"])
    second = features.batchnorm(params("ghostbnsign.bn2"),
                                state["bn2"])
    shifted = conv_running(second, state["las"], 1, 1, groups=weight.shape[0])
    shifted = shifted.batchnorm(
        params("ghostbnsign.adaptive_zero_points.1"),
        state["bn_las"])
    return first.add(shifted)


def conv_running(x: Running, weight: np.ndarray, stride: int, padding: int,
                  groups: int = 1) -> Running:
    """A real convolution of ``m`` products in float32 (torch) and binary64 (STEM-2)."""
    m = int(np.prod(weight.shape[1:]))
    magnitude_weight = np.abs(weight.astype(np.float64))
    value = real_conv2d(x.value, weight, stride, padding, groups)
    spread = real_conv2d(x.error, magnitude_weight, stride, padding, groups)
    total = real_conv2d(x.magnitude, magnitude_weight, stride, padding, groups)
    error = spread + (gamma(m) + gamma(m, U64)) * total * (1 + gamma(m, U64)) \
        + m * (ETA32 + ETA64)
    return Running(value, error * SAFETY)


def classifier_running(z: Running, state: dict) -> Running:
    """BOUND-5 for PReLU, global average pooling and the linear layer (HEAD-2, HEAD-3)."""
    slope = state["prelu"].astype(np.float64)[None, :, None, None]
    value = np.where(z.value >= 0, z.value, slope * z.value)
    error = np.maximum(1.0, np.abs(slope)) * z.error + (U32 + U64) * np.abs(slope) * z.magnitude \
        + ETA32 + ETA64
    activated = Running(value, error * SAFETY)
    count = z.value.shape[2] * z.value.shape[3]
    # The reference's own per-image sums (HEAD-3), for the bounds too: no bytes that vary by BLAS.
    pooled = Running(average_pool(activated.value),
                     (average_pool(activated.error) + (gamma(count) + gamma(count, U64))
                      * average_pool(activated.magnitude) + ETA32 + ETA64) * SAFETY)
    weight = state["fc.weight"]
    bias = state["fc.bias"].astype(np.float64)
    terms = weight.shape[1] + 1
    columns, magnitudes = fc_columns(weight), fc_columns(np.abs(weight))
    logits = linear(pooled.value, columns, bias)
    error = linear(pooled.error, magnitudes, np.zeros_like(bias)) \
        + (gamma(terms) + gamma(terms, U64)) * linear(pooled.magnitude, magnitudes, np.abs(bias)) \
        + terms * (ETA32 + ETA64)
    return Running(logits, error * SAFETY * (1 + gamma(terms, U64)))
