"""HEAD-3's sums: the reference's logits are a function of the image alone (not of its batch, the
thread count or the BLAS), follow the stated order, and lie within the stated bounds."""

from __future__ import annotations

import dataclasses
import functools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

from boolnet_spec.reference.architecture import CONFIGS, architecture
from boolnet_spec.reference.build import build_model, random_state_dict
from boolnet_spec.reference.head import average_pool, classifier, prelu
from boolnet_spec.reference.network import Model, forward

pytestmark = pytest.mark.req("HEAD-3")

U = Fraction(1, 2**53)
TINY = Fraction(1, 2**1074)


def gamma(m: int) -> Fraction:
    """STEM-2's ``gamma(m) = m*u / (1 - m*u)``, exactly."""
    return m * U / (1 - m * U)


@functools.cache
def full_width_model(name: str) -> Model:
    """A published configuration at 64x64 with 10 classes: the head keeps its 512 channels."""
    arch = dataclasses.replace(architecture(name), image_size=64, classes=10)
    return build_model(arch, random_state_dict(arch, 3))


def batch_images(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((count, 3, 64, 64)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_an_images_logits_do_not_depend_on_its_batch_or_the_blas_threads(name):
    model, images = full_width_model(name), batch_images(5, seed=5)
    together, _ = forward(model, images)
    alone = np.concatenate([forward(model, images[i:i + 1])[0] for i in range(len(images))])
    assert np.array_equal(together, alone)
    order = np.array([3, 0, 4, 1, 2])
    assert np.array_equal(forward(model, images[order])[0], together[order])
    # One BLAS thread: no worker threads either, so the batch is evaluated serially.
    with threadpool_limits(1):
        serial, _ = forward(model, images)
        single = forward(model, images[2:3])[0]
    assert np.array_equal(serial, together)
    assert np.array_equal(single, together[2:3])


def stated_order(z: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """HEAD-3's reference order in Python floats (binary64, correctly rounded, no fused ops)."""
    batch, channels, height, width = z.shape
    logits = np.zeros((batch, weight.shape[0]))
    for n in range(batch):
        pooled = []
        for c in range(channels):
            total = 0.0
            for h in range(height):
                for w in range(width):
                    total += float(z[n, c, h, w])
            pooled.append(total / (height * width))
        for k in range(weight.shape[0]):
            total = 0.0
            for c in range(channels):
                total += pooled[c] * float(weight[k, c])
            logits[n, k] = total + float(bias[k])
    return logits


@st.composite
def head_arrays(draw):
    """``z[N, C, H, W]``, ``W[K, C]`` float32 and ``b[K]`` float32 of mixed signs and scales,
    some tiny enough that products and quotients underflow."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 40)), draw(st.integers(1, 4)),
             draw(st.integers(1, 4)))
    z_scale = 2.0 ** draw(st.sampled_from([-1074, -1060, -30, 0, 20]))
    w_scale = 2.0 ** draw(st.sampled_from([-149, -130, -10, 0, 10]))
    z = rng.standard_normal(shape) * z_scale
    z[rng.random(shape) < 0.2] = 0.0
    classes = draw(st.integers(1, 4))
    weight = (rng.standard_normal((classes, shape[1])) * w_scale).astype(np.float32)
    bias = (rng.standard_normal(classes) * draw(st.sampled_from([0.0, 2.0**-140, 1.0]))
            ).astype(np.float32)
    return z, weight, bias


@settings(max_examples=60, deadline=None)
@given(head_arrays())
def test_the_reference_sums_in_the_stated_order(arrays):
    z, weight, bias = arrays
    assert np.array_equal(classifier(z, weight, bias), stated_order(z, weight, bias))


def pooling_bound(values: list[Fraction]) -> Fraction:
    """HEAD-3: ``gamma(m) * mean(|z|) + 2**-1074`` for the mean of ``m`` values."""
    return gamma(len(values)) * sum(abs(v) for v in values) / len(values) + TINY


def linear_bound(pooled: list[Fraction], row: list[Fraction], bias: Fraction) -> Fraction:
    """HEAD-3: ``gamma(C + 1) * (sum |pooled * W| + |b|) + C * 2**-1074``."""
    terms = sum(abs(p * w) for p, w in zip(pooled, row, strict=True)) + abs(bias)
    return gamma(len(row) + 1) * terms + len(row) * TINY


def assert_within_the_stated_bounds(z: np.ndarray, weight: np.ndarray, bias: np.ndarray,
                                    logits: np.ndarray) -> None:
    """Each pooled value within its bound of the exact mean; each logit within its bound of the
    exact sum of the same pooled values' products, and within the composed bound of the exact
    logits of ``z``."""
    pooled = average_pool(z)
    rows = [[Fraction(float(w)) for w in row] for row in weight]
    biases = [Fraction(float(b)) for b in bias]
    for n in range(z.shape[0]):
        means, errors = [], []
        for c in range(z.shape[1]):
            values = [Fraction(float(v)) for v in z[n, c].ravel()]
            means.append(sum(values) / len(values))
            errors.append(pooling_bound(values))
            assert abs(Fraction(float(pooled[n, c])) - means[-1]) <= errors[-1], (n, c)
        own = [Fraction(float(p)) for p in pooled[n]]
        for k, (row, b) in enumerate(zip(rows, biases, strict=True)):
            got = Fraction(float(logits[n, k]))
            exact_own = sum(p * w for p, w in zip(own, row, strict=True)) + b
            bound = linear_bound(own, row, b)
            assert abs(got - exact_own) <= bound, (n, k)
            exact = sum(m * w for m, w in zip(means, row, strict=True)) + b
            carried = sum(abs(w) * e for w, e in zip(row, errors, strict=True))
            assert abs(got - exact) <= bound + carried, (n, k)


@settings(max_examples=40, deadline=None)
@given(head_arrays())
def test_the_logits_lie_within_the_stated_bounds_of_the_exact_sums(arrays):
    z, weight, bias = arrays
    assert_within_the_stated_bounds(z, weight, bias, classifier(z, weight, bias))


@pytest.mark.parametrize("name", ["boolnet-k4", "basenet-k1"])
def test_a_models_logits_lie_within_the_stated_bounds_of_the_exact_sums(name):
    model = full_width_model(name)
    logits, trace = forward(model, batch_images(2, seed=8), trace=True)
    head = model.nodes[-1]
    state = model.states[head.name]
    z = prelu(trace[head.outputs[1]], state["prelu"])
    assert_within_the_stated_bounds(z, state["fc.weight"], state["fc.bias"], logits)
