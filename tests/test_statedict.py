"""Reading and checking the authors' float parameters (reference.statedict)."""

from __future__ import annotations

import os
import pickle
import re

import numpy as np
import pytest
from extras import needs_torch, torch

if torch is not None:
    from safetensors.torch import save_file as save_torch_file
from fixtures_network import scaled, state_dict
from naive.ops import spec_message
from safetensors.numpy import save_file

import boolnet_spec.reference.build
from boolnet_spec.reference.architecture import state_dict_layout
from boolnet_spec.reference.build import build_model
from boolnet_spec.reference.errors import DTypeError, FormatError, ShapeError
from boolnet_spec.reference.statedict import check_state_dict, load_state_dict

ARCH = scaled("boolnet-k4", blocks=(1, 1, 1, 1))


def write_npz(path, arrays):
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def write_pth(path, arrays):
    if torch is None:
        pytest.skip("writing a .pth needs torch (pip install '.[torch]')")
    torch.save({key: torch.from_numpy(value) for key, value in arrays.items()}, path)


def write_safetensors(path, arrays):
    save_file(arrays, path)


WRITERS = {".npz": write_npz, ".safetensors": write_safetensors, ".pth": write_pth,
           ".pt": write_pth}


def path_message(path, bound: str, label: str) -> str:
    """ERR-1 with the file as the tensor: the file is what is malformed."""
    return rf"^{re.escape(str(path))}: expected .*{re.escape(bound)}.*\[{label}\]$"


@pytest.mark.req("SD-1")
@pytest.mark.parametrize("suffix", sorted(WRITERS))
def test_every_format_gives_the_same_arrays(tmp_path, suffix):
    parameters = state_dict(ARCH)
    path = tmp_path / f"parameters{suffix}"
    WRITERS[suffix](path, parameters)
    loaded = load_state_dict(path)
    assert sorted(loaded) == sorted(parameters)
    for key, value in parameters.items():
        assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape, key
        assert np.array_equal(loaded[key], value), key
    reference_model, loaded_model = build_model(ARCH, parameters), build_model(ARCH, loaded)
    assert sorted(reference_model.arrays) == sorted(loaded_model.arrays)
    for key, value in reference_model.arrays.items():
        assert np.array_equal(loaded_model.arrays[key], value), key


@pytest.mark.req("SD-1")
@pytest.mark.parametrize("name", ["PARAMETERS.NPZ", "parameters.PTH"])
def test_the_extension_is_read_without_case(tmp_path, name):
    path = tmp_path / name
    WRITERS[path.suffix.lower()](path, {"a": np.arange(3, dtype=np.float32)})
    assert np.array_equal(load_state_dict(path)["a"], np.arange(3, dtype=np.float32))


class Payload:
    """Unpickling it would run its command."""

    def __init__(self, call, argument):
        self.call, self.argument = call, argument

    def __reduce__(self):
        return self.call, (self.argument,)


@needs_torch
@pytest.mark.req("SD-1")
@pytest.mark.parametrize("call", [os.system, exec])
@pytest.mark.parametrize("nested", [False, True])
def test_a_pickle_that_would_run_code_is_refused_unrun(tmp_path, call, nested):
    marker = tmp_path / "pwned"
    command = f"echo pwned > {marker}" if call is os.system else \
        f"open({str(marker)!r}, 'w').write('pwned')"
    payload = Payload(call, command)
    path = tmp_path / "evil.pth"
    torch.save({"conv1.weight": torch.zeros(1), "x": [payload] if nested else payload}, path)
    with pytest.raises(FormatError, match=path_message(path, "weights_only=True", "SD-1")):
        load_state_dict(path)
    assert not marker.exists()


@pytest.mark.req("SD-1")
def test_a_plain_pickle_named_npz_is_refused_unread(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps(Payload(exec, f"open({str(marker)!r}, 'w').write('x')")))
    with pytest.raises(FormatError, match=spec_message("state dict", ".npz (ZIP) archive",
                                                       str(path), "MODEL-1")):
        load_state_dict(path)
    assert not marker.exists()


@pytest.mark.req("SD-1")
def test_an_object_array_in_an_npz_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "objects.npz"
    write_npz(path, {"conv1.weight": np.zeros(2, np.float32),
                     "x": np.array([Payload(exec, f"open({str(marker)!r}, 'w')"), 1],
                                   dtype=object)})
    with pytest.raises(FormatError, match=spec_message("state dict member x", "no object arrays",
                                                       "object", "MODEL-1")):
        load_state_dict(path)
    assert not marker.exists()


ZERO = None if torch is None else torch.zeros(1)


@needs_torch
@pytest.mark.req("SD-1")
@pytest.mark.parametrize(("content", "tensor", "value"), [
    ({"epoch": 3, "weights": {"a": ZERO}}, "epoch", "int"),
    ({"network": {"a": ZERO, "epoch": 3}}, "epoch", "int"),
    ({"a": ZERO, "optimizer": {"lr": 0.1}}, "optimizer", "dict"),
    ({"a": ZERO, "arch": "boolnet"}, "arch", "str"),
    ({7: ZERO}, "7", "Tensor"),
])
def test_a_training_checkpoint_is_not_a_flat_state_dict(tmp_path, content, tensor, value):
    path = tmp_path / "checkpoint.pth"
    torch.save(content, path)
    with pytest.raises(FormatError, match=spec_message(tensor, "a string key with a tensor value",
                                                       value, "SD-1")):
        load_state_dict(path)


@needs_torch
@pytest.mark.req("SD-1")
@pytest.mark.parametrize("wrapper", ["network", "state_dict", "model"])
def test_a_nested_and_data_parallel_state_dict_is_unwrapped(tmp_path, wrapper):
    path = tmp_path / "checkpoint.pth"
    torch.save({wrapper: {"module.a": torch.ones(2), "module.b": torch.zeros(1)}}, path)
    arrays = load_state_dict(path)
    assert sorted(arrays) == ["a", "b"]
    assert np.array_equal(arrays["a"], np.ones(2, np.float32))


@needs_torch
@pytest.mark.req("SD-1")
@pytest.mark.parametrize(("content", "kind"), [([ZERO], "list"), (ZERO, "Tensor"),
                                               (3, "int")])
def test_a_pth_that_is_no_mapping_is_refused(tmp_path, content, kind):
    path = tmp_path / "other.pt"
    torch.save(content, path)
    with pytest.raises(FormatError, match=spec_message(str(path), "a flat mapping", kind,
                                                       "SD-1")):
        load_state_dict(path)


@needs_torch
@pytest.mark.req("SD-1")
@pytest.mark.parametrize("dtype", ["bfloat16", "float8_e4m3fn"])
def test_a_tensor_without_a_numpy_dtype_is_a_dtype_error(tmp_path, dtype):
    dtype = getattr(torch, dtype)
    path = tmp_path / "half.pth"
    torch.save({"conv1.weight": torch.zeros(2, dtype=dtype)}, path)
    with pytest.raises(DTypeError, match=spec_message("conv1.weight", "NumPy-representable",
                                                      str(dtype), "SD-1")):
        load_state_dict(path)


@needs_torch
@pytest.mark.req("SD-1")
def test_a_bfloat16_safetensors_file_is_refused(tmp_path):
    path = tmp_path / "half.safetensors"
    save_torch_file({"conv1.weight": torch.zeros(2, dtype=torch.bfloat16)}, path)
    with pytest.raises(FormatError, match=path_message(path, "a safetensors file", "SD-1")):
        load_state_dict(path)


@needs_torch
@pytest.mark.req("SD-1")
@pytest.mark.parametrize(("make", "shown"), [
    (lambda: torch.zeros(2, 2).to_sparse(), "sparse_coo on cpu"),
    (lambda: torch.empty(2, device="meta"), "strided on meta")])
def test_a_tensor_without_dense_data_is_refused(tmp_path, make, shown):
    tensor = make()
    path = tmp_path / "odd.pth"
    torch.save({"conv1.weight": tensor}, path)
    with pytest.raises(FormatError, match=spec_message("conv1.weight", "a dense tensor", shown,
                                                       "SD-1")):
        load_state_dict(path)


@pytest.mark.req("SD-1")
@pytest.mark.parametrize("suffix", [".npz", ".safetensors", ".pth"])
@pytest.mark.parametrize("keep", [0.0, 0.01, 0.5, 0.99])
def test_a_truncated_file_is_a_format_error(tmp_path, suffix, keep):
    whole = tmp_path / f"whole{suffix}"
    WRITERS[suffix](whole, state_dict(ARCH))
    data = whole.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(FormatError, match=r"\[(SD-1|MODEL-1)\]$") as caught:
        load_state_dict(cut)
    assert str(cut) in str(caught.value)


@pytest.mark.req("SD-1")
@pytest.mark.parametrize("name", ["parameters.bin", "parameters.h5", "parameters.ckpt",
                                  "parameters", "parameters.npy"])
def test_another_extension_is_refused_even_with_valid_content(tmp_path, name):
    path = tmp_path / name
    write_npz(path, {"a": np.zeros(1, np.float32)})
    with pytest.raises(FormatError, match=spec_message("state dict", ".safetensors or .npz",
                                                       str(path), "SD-1")):
        load_state_dict(path)


@pytest.mark.req("SD-1")
def test_a_missing_file_is_a_format_error(tmp_path):
    path = tmp_path / "absent.pth"
    with pytest.raises(FormatError, match=spec_message("state dict", "an existing file", str(path),
                                                       "SD-1")):
        load_state_dict(path)
    with pytest.raises(FormatError, match=spec_message("state dict", "an existing file",
                                                       str(tmp_path), "SD-1")):
        load_state_dict(tmp_path)


def one_change(key: str, value) -> dict:
    parameters = state_dict(ARCH)
    if value is None:
        del parameters[key]
    else:
        parameters[key] = value
    return parameters


def folds_nothing(monkeypatch):
    """Make any fold fail loudly, so a check that runs after folding shows up."""
    def fold(*args, **kwargs):
        raise AssertionError("folded before the state dict was checked")
    monkeypatch.setattr(boolnet_spec.reference.build, "fold_bn_sign", fold)


@pytest.mark.req("SD-2")
@pytest.mark.parametrize(("key", "value", "error", "bound", "shown"), [
    ("layer2.0.bn1.running_var", None, FormatError, "present", "missing"),
    ("layer4.0.downsample.3.temperature", None, FormatError, "present", "missing"),
    ("fc.bias", None, FormatError, "present", "missing"),
    ("layer1.0.bn3.num_batches_tracked", None, FormatError, "present", "missing"),
    ("module.conv1.weight", np.zeros((8, 3, 7, 7), np.float32), FormatError,
     "a key of the boolnet-k4 layout", "an extra key"),
    ("ghostbnsign.offsets", np.zeros(4, np.float32), FormatError, "a key of", "an extra key"),
    ("layer1.0.conv1.weight", np.zeros((8, 16, 3, 3), np.float32), ShapeError,
     "shape [8, 8, 3, 3]", "[8, 16, 3, 3]"),
    ("fc.weight", np.zeros((1000, 64), np.float32), ShapeError, "shape [10, 64]", "[1000, 64]"),
    ("layer1.0.conv1.temperature", np.ones((), np.float32), ShapeError, "shape [1]", "[]"),
    ("layer1.0.bn1.weight", np.ones(8, np.float64), DTypeError, "dtype float32", "float64"),
    ("maxpool.0.num_batches_tracked", np.array(7, np.int32), DTypeError, "dtype int64", "int32"),
    ("conv1.weight", np.zeros((8, 3, 7, 7), np.float16), DTypeError, "dtype float32", "float16"),
])
def test_check_state_dict_names_the_key_before_any_folding(monkeypatch, key, value, error, bound,
                                                           shown):
    parameters = one_change(key, value)
    with pytest.raises(error, match=spec_message(key, bound, shown, "SD-2")):
        check_state_dict(ARCH, parameters)
    folds_nothing(monkeypatch)
    with pytest.raises(error, match=spec_message(key, bound, shown, "SD-2")):
        build_model(ARCH, parameters)


@pytest.mark.req("SD-2")
def test_a_state_dict_of_another_configuration_is_refused():
    # BaseNet parameters have no ghostbnsign.bn1; BoolNet's have no ghostbnsign.0.
    with pytest.raises(FormatError, match=spec_message("ghostbnsign.0.weight", "a key of",
                                                       "an extra key", "SD-2")):
        check_state_dict(ARCH, state_dict(scaled("basenet-k4", blocks=(1, 1, 1, 1))))


@pytest.mark.req("SD-2")
def test_a_complete_state_dict_passes_in_any_key_order():
    parameters = state_dict(ARCH)
    check_state_dict(ARCH, dict(reversed(list(parameters.items()))))
    assert [key for key, _, _ in state_dict_layout(ARCH)] == list(parameters)
