"""TORCH-1 to TORCH-3 and EXPORT-1 to EXPORT-3: the PyTorch modules, their layout and export."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from boolnet_spec.equivalence.pytorch.export import (
    export_model,
    infer_architecture,
    load_checkpoint,
    state_dict_arrays,
    torch_model,
)
from boolnet_spec.equivalence.pytorch.model import BoolNet, GhostSign, MultiBConv, binarize
from boolnet_spec.reference.architecture import CONFIGS, architecture, official_layout
from boolnet_spec.reference.build import build_model, random_state_dict
from boolnet_spec.reference.errors import FormatError, ShapeError
from boolnet_spec.reference.network import forward
from boolnet_spec.reference.slices import slice_offsets

SMALL = {"widths": (8, 16), "blocks": (2, 1), "image_size": 32, "classes": 5}


def small(config: str):
    return architecture(config).scaled(**SMALL)


@pytest.mark.req("TORCH-3", "ARCH-7")
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_published_layouts_load_strictly(config):
    model = BoolNet(architecture(config))
    layout = [(k, tuple(v.shape), str(v.dtype).removeprefix("torch."))
              for k, v in model.state_dict().items()]
    assert layout == official_layout(config)


@pytest.mark.req("TORCH-3", "EXPORT-1")
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_scaled_models_compute_the_reference_logits_top1(config):
    arch = small(config)
    state = random_state_dict(arch, 3)
    net = torch_model(arch, state)
    images = np.random.default_rng(0).standard_normal((3, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        logits = net(torch.from_numpy(images)).numpy()
    reference, _ = forward(build_model(arch, state), images)
    assert np.array_equal(logits.argmax(1), reference.argmax(1))


@pytest.mark.req("TORCH-1")
def test_weight_binarization_modes_and_temperature():
    conv = MultiBConv(2, 4, 1, 1, 1, 1, "official")
    conv.weight.data = torch.randn(4, 2, 3, 3) * 0.1
    before = conv.temperature.clone()
    conv.update_temperature()
    assert conv.temperature.item() == np.float32(before.item() * np.float32(0.965))
    scale = conv.weight.abs().mean(-1, keepdim=True).mean(-2, keepdim=True).mean(-3, keepdim=True)
    train = binarize(conv.weight, conv.temperature, True, True, "official")
    assert torch.equal(train, torch.nn.functional.hardtanh(conv.weight / conv.temperature) * scale)
    evaluated = binarize(conv.weight, conv.temperature, False, True, "official")
    assert torch.equal(evaluated, torch.sign(conv.weight) * scale)
    assert train.grad_fn is not None  # the scale is not detached


@pytest.mark.req("TORCH-2")
def test_ghostsign_offsets_and_sign_modes():
    sign = GhostSign(4, "official")
    assert np.array_equal(sign.offsets.reshape(-1).numpy(), slice_offsets(4))
    ties = -torch.from_numpy(slice_offsets(4)).reshape(1, 4, 1, 1)  # x + o_j = 0 in slice j
    out = sign(ties)                                    # [1, 4 slices, 4 channels, 1, 1]
    diagonal = out[0, np.arange(4), np.arange(4), 0, 0]
    assert torch.equal(diagonal, torch.zeros(4))
    sign.sign_mode = "spec"
    assert torch.equal(sign(ties)[0, np.arange(4), np.arange(4), 0, 0], torch.ones(4))
    with pytest.raises(ValueError, match="sign_mode"):
        BoolNet(small("boolnet-k4"), sign_mode="zero")


@pytest.mark.req("TORCH-2", "TORCH-3")
def test_set_sign_mode_reaches_every_binary_module():
    net = BoolNet(small("basenet-k4"), sign_mode="official")
    net.set_sign_mode("spec")
    modes = {m.sign_mode for m in net.modules() if hasattr(m, "sign_mode")}
    assert modes == {"spec"}
    net.update_temperature()
    temperatures = {float(m.temperature) for m in net.modules() if hasattr(m, "temperature")}
    assert temperatures == {float(np.float32(0.965))}


@pytest.mark.req("EXPORT-1")
def test_export_is_the_build_of_the_state_dict_and_leaves_the_module_alone():
    arch = small("boolnet-k4")
    state = random_state_dict(arch, 1)
    net = torch_model(arch, state).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    exported = export_model(net, arch)
    built = build_model(arch, state)
    assert [n.to_json() for n in exported.nodes] == [n.to_json() for n in built.nodes]
    assert exported.arrays.keys() == built.arrays.keys()
    for key, value in built.arrays.items():
        assert np.array_equal(exported.arrays[key], value)
        assert exported.arrays[key].dtype == value.dtype
    assert net.training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


@pytest.mark.req("EXPORT-2", "SD-1")
def test_checkpoints_nested_and_prefixed(tmp_path):
    arch = small("basenet-k1")
    net = torch_model(arch, random_state_dict(arch, 0))
    expected = state_dict_arrays(net)
    torch.save({"epoch": 3, "network": net.state_dict()}, tmp_path / "authors.pth")
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, tmp_path / "dp.pt")
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in net.state_dict().items()},
              str(tmp_path / "w.safetensors"))
    np.savez(tmp_path / "w.npz", **expected)
    for name in ("authors.pth", "dp.pt", "w.safetensors", "w.npz"):
        loaded = load_checkpoint(tmp_path / name)
        assert loaded.keys() == expected.keys()
        assert all(np.array_equal(loaded[k], v) for k, v in expected.items())


class _Payload:
    """Unpickling this would create a file: the side effect a refused pickle must not have."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.req("EXPORT-2", "SD-1")
def test_a_pickle_that_would_run_code_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    with zipfile.ZipFile(tmp_path / "evil.pth", "w") as archive:
        archive.writestr("evil/data.pkl", pickle.dumps({"w": _Payload(str(marker))}, protocol=2))
        archive.writestr("evil/version", "3\n")
    with pytest.raises(FormatError, match="weights_only") as info:
        load_checkpoint(tmp_path / "evil.pth")
    assert "\n" not in str(info.value)
    assert not marker.exists()
    plain = tmp_path / "plain.pth"
    plain.write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(FormatError):
        load_checkpoint(plain)
    assert not marker.exists()
    with pytest.raises(FormatError):
        load_checkpoint(tmp_path / "missing.pth")


@pytest.mark.req("EXPORT-3")
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_architecture_inferred_from_the_state_dict(config):
    arch = small(config)
    state = state_dict_arrays(BoolNet(arch))
    inferred = infer_architecture(config, state, 32)
    assert (inferred.widths, inferred.blocks, inferred.classes, inferred.image_size) == \
        (arch.widths, arch.blocks, arch.classes, 32)
    assert inferred.family == arch.family and inferred.slices == arch.slices
    published = state_dict_arrays(BoolNet(architecture(config)))
    assert infer_architecture(config, published) == architecture(config)


@pytest.mark.req("EXPORT-3", "SD-2")
def test_inferred_architecture_still_checks_the_layout():
    arch = small("boolnet-k4")
    state = state_dict_arrays(BoolNet(arch))
    state["layer1.0.bn1.weight"] = state["layer1.0.bn1.weight"][:-1]
    with pytest.raises(ShapeError, match=r"layer1\.0\.bn1\.weight"):
        infer_architecture("boolnet-k4", state, 32)
    with pytest.raises(FormatError, match=r"layer1\.0"):
        infer_architecture("boolnet-k4", {"fc.weight": np.zeros((2, 2), np.float32)})
