"""Evaluation on worker threads (reference.threads): every part once, errors kept, and the ops
that use it give the serial result bit for bit whatever the thread budget."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from fixtures_network import assert_identical_runs, small_model
from hypothesis import given, settings
from hypothesis import strategies as st
from naive import ops as naive
from strategies import bit_arrays, conv_configs
from threadpoolctl import threadpool_info

import boolnet_spec.reference.threads as threads
from boolnet_spec.reference.architecture import CONFIGS
from boolnet_spec.reference.batchnorm import BatchNorm
from boolnet_spec.reference.bconv import binary_conv2d
from boolnet_spec.reference.errors import ShapeError
from boolnet_spec.reference.network import forward
from boolnet_spec.reference.stem import boolnet_stem, stem_features


@pytest.fixture(params=[1, 2, 3])
def budget(request, monkeypatch):
    monkeypatch.setattr(threads, "budget", lambda: request.param)
    return request.param


def blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


@pytest.mark.parametrize("count", [0, 1, 2, 5, 17])
def test_every_part_runs_once_and_shares_go_to_the_workers(budget, count):
    seen, lock = [], threading.Lock()

    def work(worker, share):
        with lock:
            seen.append((worker, threading.get_ident(), list(share)))

    with threads.session():
        threads.run_parts(work, list(range(count)))
    assert sorted(part for _, _, share in seen for part in share) == list(range(count))
    assert len(seen) == max(1, min(budget, count))
    assert sorted(worker for worker, _, _ in seen) == list(range(len(seen)))
    if len(seen) > 1:
        assert threading.get_ident() not in {ident for _, ident, _ in seen}


def test_outside_a_session_the_parts_run_on_the_calling_thread(monkeypatch):
    monkeypatch.setattr(threads, "budget", lambda: 4)
    seen = []
    threads.run_parts(lambda worker, share: seen.append((worker, threading.get_ident(),
                                                         list(share))), [0, 1, 2])
    assert seen == [(0, threading.get_ident(), [0, 1, 2])]


def test_blas_gets_one_thread_inside_a_worker_and_its_budget_back_after():
    before = blas_threads()
    inside = []
    with threads.session():
        threads.run_parts(lambda worker, share: inside.append(blas_threads()), [0, 1, 2, 3])
    assert blas_threads() == before
    if threads.budget() >= 2:
        assert len(inside) == 2 and all(counts == [1] * len(before) for counts in inside)


def test_an_error_in_a_part_reaches_the_caller_with_its_type(monkeypatch):
    monkeypatch.setattr(threads, "budget", lambda: 2)

    def work(worker, share):
        if 3 in share:
            raise ShapeError("part 3", "a bound", "a value", "CONV-1")

    with pytest.raises(ShapeError, match="part 3"), threads.session():
        threads.run_parts(work, [0, 1, 2, 3])


def test_a_nested_run_stays_on_its_worker(monkeypatch):
    monkeypatch.setattr(threads, "budget", lambda: 2)
    nested = []
    with threads.session():
        assert threads.workers(8) == 2
        threads.run_parts(lambda worker, share: nested.append(threads.workers(8)), [0, 1])
    assert nested == [1, 1]


@st.composite
def conv_cases(draw):
    config = draw(conv_configs(6, 7))
    batch = draw(st.integers(1, 5))
    x = draw(bit_arrays((batch, config.cin, config.height, config.width)))
    w = draw(bit_arrays((config.cout, config.cin // config.groups, *config.kernel)))
    return config, x, w


@pytest.mark.req("CONV-1")
@settings(max_examples=40)
@given(case=conv_cases())
def test_binary_conv2d_is_the_nested_loops_on_any_thread_budget(case):
    config, x, w = case
    expected = naive.binary_conv2d(x, w, config.stride, config.padding, config.dilation,
                                   config.groups, config.pad_mode)
    for count in (1, 2, 3):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(threads, "budget", lambda count=count: count)
            with threads.session():
                s = binary_conv2d(x, w, config.stride, config.padding, config.dilation,
                                  config.groups, config.pad_mode)
        assert s.dtype == np.int16 and np.array_equal(s, expected)


def random_bn(rng, channels, name):
    return BatchNorm(rng.standard_normal(channels).astype(np.float32),
                     rng.standard_normal(channels).astype(np.float32),
                     rng.standard_normal(channels).astype(np.float32),
                     rng.uniform(0.1, 2, channels).astype(np.float32), name=name)


@pytest.mark.req("STEM-2", "STEM-3", "STEM-5")
@pytest.mark.parametrize("seed", range(3))
def test_stem_values_do_not_depend_on_the_thread_budget(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    image = rng.standard_normal((5, 3, 30, 22)).astype(np.float32)
    weight = rng.standard_normal((8, 3, 7, 7)).astype(np.float32)
    bn0, bn1, bn2, bn_las = (random_bn(rng, 8, name) for name in ("bn0", "bn1", "bn2", "las"))
    dw = rng.standard_normal((8, 1, 3, 3)).astype(np.float32)
    offsets = np.array([-2 / 3, -1 / 3, 1 / 3, 2 / 3], np.float32)
    results = []
    for count in (1, 2, 3):
        monkeypatch.setattr(threads, "budget", lambda count=count: count)
        with threads.session():
            features = stem_features(image, weight, bn0)
            results.append((features, boolnet_stem(features, bn1, bn2, dw, bn_las, offsets)))
    for features, bits in results[1:]:
        assert features.dtype == np.float64 and np.array_equal(features, results[0][0])
        assert np.array_equal(bits, results[0][1])
    # Each image alone, on the caller's thread, gives its row of the batch.
    monkeypatch.setattr(threads, "budget", lambda: 1)
    alone = np.concatenate([stem_features(image[i:i + 1], weight, bn0) for i in range(5)])
    assert np.array_equal(alone, results[0][0])


@pytest.mark.req("NET-7", "CONV-1", "STEM-3")
@pytest.mark.parametrize("name", CONFIGS)
def test_a_forward_pass_is_the_same_on_every_thread_budget(name, monkeypatch):
    model = small_model(name, image_size=64, seed=4)
    image = np.random.default_rng(9).standard_normal((5, 3, 64, 64)).astype(np.float32)
    runs = []
    for count in (1, 2, 3):
        monkeypatch.setattr(threads, "budget", lambda count=count: count)
        runs.append(forward(model, image, trace=True))
    assert_identical_runs(runs)


def test_sessions_on_two_threads_keep_their_own_workers_and_restore_blas_once():
    before = blas_threads()
    started, release, seen = threading.Barrier(2), threading.Event(), {}

    def run(key):
        with threads.session():
            started.wait()
            seen[key] = threads.workers(8)
            release.wait(10)

    runners = [threading.Thread(target=run, args=(key,)) for key in "ab"]
    for runner in runners:
        runner.start()
    release.set()
    for runner in runners:
        runner.join()
    assert blas_threads() == before
    if threads.budget() >= 2:
        # One thread opened the session and spreads its work; the other ran serially.
        assert sorted(seen.values()) == [1, 2]
