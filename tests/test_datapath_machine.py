"""Whole models on the datapath: every traced tensor equal to the reference's, bit for bit."""

import numpy as np
import pytest
from fixtures_network import FAMILIES, full_model, model_images, small_model

from boolnet_spec.equivalence.datapath.layout import PackedBits, used_mask
from boolnet_spec.equivalence.datapath.machine import Datapath
from boolnet_spec.reference.errors import BoundError, DomainError, DTypeError, ShapeError
from boolnet_spec.reference.network import forward


def assert_same_trace(model, image, **config):
    reference_logits, reference_trace = forward(model, image, trace=True)
    logits, trace = Datapath(model, **config).run(image, trace=True)
    assert sorted(trace) == sorted(reference_trace)
    for name, expected in reference_trace.items():
        assert trace[name].dtype == expected.dtype, name
        assert trace[name].shape == expected.shape, name
        assert np.array_equal(trace[name], expected), name
    assert logits.dtype == reference_logits.dtype
    assert np.array_equal(logits, reference_logits)


@pytest.mark.req("MACH-1", "MACH-2", "PERM-2", "PERM-3", "LOGU-1", "LOGU-2")
@pytest.mark.parametrize("name", [*FAMILIES, "boolnet-k1"])
def test_scaled_models_trace_equal_the_reference(name):
    # Widths 12/20/36/68: no channel count is a multiple of 64, some span two words.
    model = small_model(name)
    assert_same_trace(model, model_images(model, batch=2))


@pytest.mark.req("MVU-3", "MACH-3")
@pytest.mark.parametrize("pe, simd", [(1, 4), (3, 64), (64, 128), (7, 4096)])
def test_folding_never_changes_a_value(pe, simd):
    model = small_model("boolnet-k4")
    assert_same_trace(model, model_images(model, seed=3), pe=pe, simd=simd)


@pytest.mark.req("MACH-2", "PACK-3")
def test_packed_trace_keeps_every_unused_bit_zero():
    model = small_model("boolnet-star-k4")
    machine = Datapath(model)
    _, trace = machine.run(model_images(model), trace=True, packed=True)
    _, unpacked = machine.run(model_images(model), trace=True)
    assert sorted(trace) == sorted(unpacked)
    packed = [value for value in trace.values() if isinstance(value, PackedBits)]
    assert len(packed) == sum(model.shapes[name][0] == "bits" for name in trace)
    for value in packed:
        assert not (value.words & ~used_mask(value.channels)).any()
    layer = machine.layers["layer1.0.conv1"]
    d = trace["layer1.0.conv1"]
    assert d.dtype == np.uint16 and d.shape[-1] == layer.out_channels
    assert np.array_equal(layer.accumulator(d.reshape(-1, d.shape[-1]), d.shape[:3]),
                          unpacked["layer1.0.conv1"])


@pytest.mark.req("MACH-3")
@pytest.mark.parametrize("config", [{"pe": 0}, {"simd": 100}, {"acc_bits": 0},
                                    {"acc_bits": 40}])
def test_configuration_is_checked_when_the_machine_is_built(config):
    with pytest.raises(DomainError):
        Datapath(small_model("basenet-k1"), **config)


@pytest.mark.req("MACH-1")
def test_images_of_another_shape_or_dtype_are_rejected():
    model = small_model("basenet-k1")
    machine = Datapath(model)
    with pytest.raises(ShapeError, match=r"\[MACH-1\]$"):
        machine.run(np.zeros((1, 3, 32, 32), np.float32))
    with pytest.raises(DTypeError):
        machine.run(model_images(model).astype(np.float64))


@pytest.mark.req("ACCW-3", "ACCW-4")
def test_a_signed_register_needs_one_bit_more_and_overflows_at_its_own_maximum():
    model = small_model("basenet-k4")
    unsigned = Datapath(model).min_acc_bits()
    signed = Datapath(model, acc_signed=True).min_acc_bits()
    assert signed == {name: bits + 1 for name, bits in unsigned.items()}
    with pytest.raises(DomainError, match=r"signed register.*\[ACCW-4\]$"):
        Datapath(model, acc_bits=max(unsigned.values()), acc_signed=True)
    exact = Datapath(model, acc_bits=max(signed.values()), acc_signed=True)
    assert np.array_equal(exact.run(model_images(model))[0], forward(model, model_images(model))[0])
    # The data-dependent guard: a 5-bit signed register holds d <= 15, as a 4-bit unsigned one.
    loose = Datapath(model, acc_bits=5, acc_signed=True, static_check=False)
    with pytest.raises(BoundError, match=r"d <= 15 \(5-bit signed.*\[ACCW-1\]$"):
        loose.run(model_images(model))


@pytest.mark.req("ACCW-1", "ACCW-2")
def test_an_undersized_accumulator_stops_the_run_with_a_typed_error():
    model = small_model("basenet-k4")
    with pytest.raises(DomainError, match=r"layer1\.0\.conv1 \(n = 108, needs 7\).*\[ACCW-4\]$"):
        Datapath(model, acc_bits=4)
    machine = Datapath(model, acc_bits=4, static_check=False)
    widths = machine.min_acc_bits()
    assert widths["layer1.0.conv1"] == (12 * 9).bit_length()
    with pytest.raises(BoundError, match=r"^layer1\.0\.conv1 accumulator: .*\[ACCW-1\]$"):
        machine.run(model_images(model))
    exact = Datapath(model, acc_bits=max(widths.values()))
    assert np.array_equal(exact.run(model_images(model))[0], forward(model, model_images(model))[0])


@pytest.mark.equivalence
@pytest.mark.req("MACH-1", "MACH-2")
@pytest.mark.parametrize("name", FAMILIES)
def test_published_configurations_trace_equal_the_reference(name):
    model = full_model(name)
    assert_same_trace(model, model_images(model))
