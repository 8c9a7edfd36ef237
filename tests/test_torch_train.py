"""TRAIN-1 and TRAIN-2: the bundled digits model, its data, provenance and reproduction."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from boolnet_spec.equivalence.pytorch import train
from boolnet_spec.equivalence.pytorch.export import export_model, load_checkpoint, torch_model
from boolnet_spec.equivalence.pytorch.harness import compare
from boolnet_spec.reference.architecture import Architecture
from boolnet_spec.reference.network import forward

PROVENANCE = json.loads((train.DATA / train.PROVENANCE).read_text(encoding="utf-8"))


@pytest.mark.req("TRAIN-1")
def test_dataset_split_and_bundled_samples():
    x_train, y_train, x_test, y_test = train.digits_dataset(32)
    assert x_train.shape == (1437, 3, 32, 32) and x_test.shape == (360, 3, 32, 32)
    assert x_train.dtype == torch.float32 and y_train.dtype == torch.int64
    assert torch.equal(x_train[:, 0], x_train[:, 2])
    assert np.bincount(y_test.numpy()).tolist() == [36, 36, 35, 37, 36, 37, 36, 36, 35, 36]
    samples = np.load(train.DATA / train.SAMPLES, allow_pickle=False)
    labels = np.load(train.DATA / train.SAMPLE_LABELS, allow_pickle=False)
    assert np.array_equal(samples, x_test[:16].numpy())
    assert np.array_equal(labels, y_test[:16].numpy())


@pytest.mark.req("TRAIN-2", "EXPORT-1")
def test_bundled_checkpoint_matches_its_provenance():
    arch = Architecture.from_json(PROVENANCE["architecture"])
    assert arch == train.DIGITS_ARCH and PROVENANCE["config"]["seed"] == 0
    assert PROVENANCE["command"].startswith(
        "python -m boolnet_spec.equivalence.pytorch.train --seed 0")
    net = torch_model(arch, load_checkpoint(train.DATA / train.CHECKPOINT))
    _, _, x_test, y_test = train.digits_dataset(32)
    accuracy = train.evaluate(net, x_test, y_test)
    assert accuracy == PROVENANCE["test_accuracy"] >= 0.9
    logits, _ = forward(export_model(net, arch), x_test.numpy())
    assert float((logits.argmax(1) == y_test.numpy()).mean()) == \
        PROVENANCE["reference_test_accuracy"] >= 0.9


@pytest.mark.equivalence
@pytest.mark.req("TRAIN-2")
def test_retraining_from_the_seed_reproduces_the_checkpoint():
    config = train.TrainConfig(**PROVENANCE["config"])
    start = time.perf_counter()
    net, metrics = train.train(config, progress=False)
    seconds = time.perf_counter() - start
    print(f"retrained in {seconds:.1f} s: {metrics}")
    assert metrics["test_accuracy"] >= 0.9
    same_build = (torch.__version__, torch.backends.cpu.get_cpu_capability()) == \
        (PROVENANCE["torch"], PROVENANCE["cpu_capability"])
    if same_build:  # one thread, deterministic kernels: bitwise reproducible on one build
        shipped = load_checkpoint(train.DATA / train.CHECKPOINT)
        for key, value in net.state_dict().items():
            assert np.array_equal(value.numpy(), shipped[key]), key
        assert metrics["test_accuracy"] == PROVENANCE["test_accuracy"]


@pytest.mark.equivalence
@pytest.mark.req("TRAIN-2", "HARNESS-6", "CERT-3")
def test_bundled_model_on_the_whole_test_set():
    arch = Architecture.from_json(PROVENANCE["architecture"])
    net = torch_model(arch, load_checkpoint(train.DATA / train.CHECKPOINT))
    _, _, x_test, _ = train.digits_dataset(32)
    result = compare(net, arch, x_test.numpy(), progress=False)
    print(result.summary)
    assert result.summary["mismatch"] == 0 and result.summary["top1_agreement"] == 1.0
