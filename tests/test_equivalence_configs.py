"""The four published configurations at full size, end to end: calibrated random parameters,
build, model file, forward; against the PyTorch model and the naive composition."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from fixtures_network import FAMILIES, assert_matches_oracle
from naive import network as oracle

from boolnet_spec.equivalence.pytorch.model import BoolNet
from boolnet_spec.reference.architecture import architecture, official_layout
from boolnet_spec.reference.build import build_model, random_state_dict
from boolnet_spec.reference.modelfile import load_model, save_model
from boolnet_spec.reference.network import forward

pytestmark = pytest.mark.equivalence


@pytest.mark.req("ARCH-1", "ARCH-7", "BUILD-1", "BUILD-2", "BUILD-4", "MODEL-1", "MODEL-3",
                 "MODEL-5", "NET-7", "TORCH-3")
@pytest.mark.parametrize("name", FAMILIES)
def test_published_configuration_end_to_end(name, tmp_path):
    arch = architecture(name)
    parameters = random_state_dict(arch, seed=2024)
    path = tmp_path / f"{name}.model"
    save_model(build_model(arch, parameters), path)
    net = load_model(path)
    x = np.random.default_rng(7).standard_normal((2, 3, 224, 224)).astype(np.float32)
    logits, trace = forward(net, x, trace=True)
    assert logits.shape == (2, 1000)

    authors = BoolNet(arch, sign_mode="spec")
    authors.load_state_dict({k: torch.from_numpy(v) for k, v in parameters.items()}, strict=True)
    assert [(k, tuple(v.shape), str(v.dtype).removeprefix("torch."))
            for k, v in authors.state_dict().items()] == official_layout(name)
    with torch.no_grad():
        expected = authors.eval()(torch.from_numpy(x)).double().numpy()
    assert np.array_equal(logits.argmax(axis=1), expected.argmax(axis=1))
    # float32 stem, BatchNorm and head against binary64 and exact folds: rounding, not bits.
    assert np.abs(logits - expected).max() / np.abs(logits).max() < 1e-3

    # The naive composition of the stem and the first block, bit for bit.
    composition = oracle.Network(arch, parameters)
    first = oracle.Forward()
    composition.block(first, oracle.blocks(arch)[0], composition.stem(first, x))
    assert list(first.trace)[-1] == "layer1.0"
    assert_matches_oracle(trace, first, oracle.offsets(arch.slices), partial=True)
