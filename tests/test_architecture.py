"""Configurations, block plans and state-dict layouts (reference.architecture) against the
authors' published layouts and the block structure of FACTS section 4."""

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from naive.ops import spec_message

from boolnet_spec.reference.architecture import (
    CONFIGS,
    Architecture,
    architecture,
    block_plans,
    official_layout,
    state_dict_layout,
    stem_output_size,
)
from boolnet_spec.reference.errors import DomainError, ShapeError

LAYOUTS = Path(__file__).resolve().parent.parent / "reference" / "data" / "official-state-dict"
TSV = {"basenet-k1": "basenet-k-1.tsv", "basenet-k4": "basenet-k-4.tsv",
       "boolnet-k4": "boolnet-k-4.tsv", "boolnet-star-k4": "boolnet-k-4-star.tsv"}


def authors_layout(name: str) -> list[tuple[str, tuple[int, ...], str]]:
    """The rows of the authors' TSV, parsed here: key, shape (a JSON list), dtype."""
    rows = []
    for line in (LAYOUTS / TSV[name]).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, shape, dtype = line.split("\t")
            rows.append((key, tuple(json.loads(shape)), dtype))
    return rows


@pytest.mark.req("ARCH-7")
@pytest.mark.parametrize("name", sorted(TSV))
def test_layout_equals_the_authors_state_dict_key_by_key(name):
    layout, authors = state_dict_layout(architecture(name)), authors_layout(name)
    for index, (row, expected) in enumerate(zip(layout, authors, strict=False)):
        assert row == expected, f"row {index}"
    assert len(layout) == len(authors) == {"basenet-k1": 210, "basenet-k4": 210,
                                           "boolnet-k4": 222, "boolnet-star-k4": 222}[name]
    assert official_layout(name) == authors


@pytest.mark.req("ARCH-7")
@pytest.mark.parametrize("name", sorted(TSV))
def test_layout_holds_the_temperature_and_batch_count_buffers(name):
    layout = state_dict_layout(architecture(name))
    temperatures = [row for row in layout if row[0].endswith(".temperature")]
    counts = [row for row in layout if row[0].endswith(".num_batches_tracked")]
    assert temperatures and all(shape == (1,) and dtype == "float32"
                                for _, shape, dtype in temperatures)
    assert counts and all(shape == () and dtype == "int64" for _, shape, dtype in counts)


@pytest.mark.req("ARCH-7", "ARCH-1")
@pytest.mark.parametrize("name", sorted(TSV))
def test_a_scaled_number_of_classes_changes_only_the_classifier(name):
    layout = state_dict_layout(architecture(name).scaled(classes=10))
    expected = [(key, (10, *shape[1:]) if key.startswith("fc.") else shape, dtype)
                for key, shape, dtype in authors_layout(name)]
    assert layout == expected


@pytest.mark.req("ARCH-1")
def test_the_four_published_configurations():
    assert sorted(CONFIGS) == sorted(TSV)
    for name, arch in CONFIGS.items():
        assert architecture(name) is arch
        assert (arch.widths, arch.blocks, arch.classes, arch.image_size, arch.stem_width) == \
            ((64, 128, 256, 512), (2, 2, 2, 2), 1000, 224, 64)
        assert (arch.family, arch.slices, arch.dilate_last) == {
            "basenet-k1": ("basenet", 1, False), "basenet-k4": ("basenet", 4, False),
            "boolnet-k4": ("boolnet", 4, False), "boolnet-star-k4": ("boolnet", 4, True)}[name]
        assert Architecture.from_json(json.loads(json.dumps(arch.to_json()))) == arch


def plan(name, input_channels, in_channels, width, output_channels, stride, dilation, padding,
         split, downsample, pool, last, input_size, output_size) -> dict:
    return dict(locals())


def boolnet_plans(star: bool) -> list[dict]:
    """FACTS 4 for BoolNet k=4 and BoolNet* k=4 at 224x224 (56x56 after the stem)."""
    return [
        plan("layer1.0", 64, 64, 64, 128, 1, 1, 1, False, False, False, False, 56, 56),
        plan("layer1.1", 128, 64, 64, 128, 1, 1, 1, True, False, False, False, 56, 56),
        plan("layer2.0", 128, 128, 128, 256, 2, 1, 1, False, True, True, False, 56, 28),
        plan("layer2.1", 256, 128, 128, 256, 1, 1, 1, True, False, False, False, 28, 28),
        plan("layer3.0", 256, 256, 256, 512, 2, 1, 1, False, True, True, False, 28, 14),
        plan("layer3.1", 512, 256, 256, 512, 1, 1, 1, True, False, False, False, 14, 14),
        *([plan("layer4.0", 512, 512, 512, 1024, 1, 1, 1, False, True, False, False, 14, 14),
           plan("layer4.1", 1024, 512, 512, 1024, 1, 2, 2, True, False, False, True, 14, 14)]
          if star else
          [plan("layer4.0", 512, 512, 512, 1024, 2, 1, 1, False, True, True, False, 14, 7),
           plan("layer4.1", 1024, 512, 512, 1024, 1, 1, 1, True, False, False, True, 7, 7)])]


BASENET_PLANS = [
    plan("layer1.0", 64, 64, 64, 64, 1, 1, 1, False, False, False, False, 56, 56),
    plan("layer1.1", 64, 64, 64, 64, 1, 1, 1, False, False, False, False, 56, 56),
    plan("layer2.0", 64, 64, 128, 128, 2, 1, 1, False, True, True, False, 56, 28),
    plan("layer2.1", 128, 128, 128, 128, 1, 1, 1, False, False, False, False, 28, 28),
    plan("layer3.0", 128, 128, 256, 256, 2, 1, 1, False, True, True, False, 28, 14),
    plan("layer3.1", 256, 256, 256, 256, 1, 1, 1, False, False, False, False, 14, 14),
    plan("layer4.0", 256, 256, 512, 512, 2, 1, 1, False, True, True, False, 14, 7),
    plan("layer4.1", 512, 512, 512, 512, 1, 1, 1, False, False, False, True, 7, 7)]

PLANS = {"basenet-k1": BASENET_PLANS, "basenet-k4": BASENET_PLANS,
         "boolnet-k4": boolnet_plans(star=False), "boolnet-star-k4": boolnet_plans(star=True)}


@pytest.mark.req("ARCH-2", "ARCH-3", "ARCH-4", "ARCH-5", "ARCH-6")
@pytest.mark.parametrize("name", sorted(PLANS))
def test_block_plans_follow_the_facts(name):
    assert stem_output_size(224) == 56
    assert [asdict(p) for p in block_plans(architecture(name))] == PLANS[name]


@pytest.mark.req("ARCH-4", "ARCH-5", "ARCH-7")
@pytest.mark.parametrize("name", sorted(PLANS))
def test_block_plans_agree_with_the_authors_weight_shapes(name):
    arch = architecture(name)
    shapes = {key: shape for key, shape, _ in authors_layout(name)}
    for p in block_plans(arch):
        assert shapes[f"{p.name}.conv1.weight"] == (p.width, p.in_channels, 3, 3)
        assert shapes[f"{p.name}.conv2.weight"] == (p.width, p.width, 3, 3)
        down = shapes.get(f"{p.name}.downsample.0.weight")
        assert down == ((p.width, arch.slices * p.input_channels, 1, 1) if p.downsample
                        else None)
        # The BatchNorm of the branch sits after the pool when there is one.
        assert (f"{p.name}.downsample.2.weight" in shapes) == p.pool
        assert (f"{p.name}.downsample.1.weight" in shapes) == (p.downsample and not p.pool)


@pytest.mark.req("ARCH-2")
@pytest.mark.parametrize(("name", "sizes"), [
    ("boolnet-k4", [8, 8, 4, 2, 1]), ("boolnet-star-k4", [8, 8, 4, 2, 2]),
    ("basenet-k1", [8, 8, 4, 2, 1])])
def test_scaled_block_sizes(name, sizes):
    arch = architecture(name).scaled(widths=(8, 16, 32, 64), blocks=(1, 1, 1, 1), image_size=32)
    plans = block_plans(arch)
    assert [plans[0].input_size] + [p.output_size for p in plans] == sizes
    assert [p.stride for p in plans] == [1, 2, 2, 1 if arch.dilate_last else 2]


@pytest.mark.req("ARCH-1")
def test_scaling_keeps_family_and_slices_and_truncates_the_blocks():
    arch = architecture("boolnet-star-k4").scaled(widths=[8, 16], image_size=48, classes=7)
    assert (arch.name, arch.family, arch.slices, arch.dilate_last) == \
        ("boolnet-star-k4", "boolnet", 4, True)
    assert (arch.widths, arch.blocks, arch.stem_width, arch.image_size, arch.classes) == \
        ((8, 16), (2, 2), 8, 48, 7)
    # The last of two stages is the dilated one.
    assert [(p.stride, p.dilation) for p in block_plans(arch)] == [(1, 1), (1, 1), (1, 1),
                                                                    (1, 2)]


@pytest.mark.req("ARCH-1")
@pytest.mark.parametrize(("changes", "error", "tensor", "bound", "value"), [
    ({"widths": (0, 16, 32, 64)}, DomainError, "architecture.widths", "positive integers",
     "[0, 16, 32, 64]"),
    ({"widths": (16, 8)}, DomainError, "architecture.widths", "strictly increasing", "[16, 8]"),
    ({"widths": (8, 8, 16, 32)}, DomainError, "architecture.widths", "strictly increasing",
     "[8, 8, 16, 32]"),
    ({"widths": (8, 16), "blocks": (1, 1, 1)}, ShapeError, "architecture.widths/blocks",
     "one width and one block count per stage", "[8, 16] and [1, 1, 1]"),
    ({"widths": (), "blocks": ()}, ShapeError, "architecture.widths/blocks", "per stage", "[]"),
    ({"widths": (8, 16, 32, 64, 128)}, ShapeError, "architecture.widths/blocks", "per stage",
     "[2, 2, 2, 2]"),
    ({"blocks": (1, 0, 1, 1)}, DomainError, "architecture.blocks", "positive", "[1, 0, 1, 1]"),
    ({"classes": 0}, DomainError, "architecture.classes", "positive", "[0]"),
    ({"classes": True}, DomainError, "architecture.classes", "positive", "[True]"),
    ({"image_size": -32}, DomainError, "architecture.image_size", "positive", "[-32]"),
    ({"image_size": 32.0}, DomainError, "architecture.image_size", "positive", "[32.0]"),
    ({"slices": 3}, DomainError, "slices", "even", "3"),
    ({"slices": True}, DomainError, "architecture.slices", "an integer", "True"),
    ({"family": "resnet"}, DomainError, "architecture.family", "basenet or boolnet", "'resnet'"),
    ({"dilate_last": "yes"}, DomainError, "architecture.dilate_last", "true or false", "'yes'"),
    ({"name": 3}, DomainError, "architecture.name", "a string", "3"),
])
def test_invalid_configurations_are_typed_errors(changes, error, tensor, bound, value):
    label = "SLICE-1" if tensor == "slices" else "ARCH-1"
    with pytest.raises(error, match=spec_message(tensor, bound, value, label)):
        architecture("boolnet-k4").scaled(**changes)


@pytest.mark.req("ARCH-1")
def test_an_unknown_configuration_name_is_a_domain_error():
    with pytest.raises(DomainError, match=spec_message("config", "boolnet-star-k4", "'boolnet-k8'",
                                                       "ARCH-1")):
        architecture("boolnet-k8")


@pytest.mark.req("ARCH-2")
@pytest.mark.parametrize(("name", "size", "block", "odd"), [
    ("boolnet-k4", 40, "layer3.0", "5x5"), ("basenet-k4", 48, "layer4.0", "3x3"),
    ("boolnet-k4", 80, "layer4.0", "5x5"), ("basenet-k1", 36, "layer2.0", "9x9")])
def test_an_odd_size_before_a_stride_2_stage_is_a_shape_error(name, size, block, odd):
    arch = architecture(name).scaled(widths=(8, 16, 32, 64), image_size=size)
    with pytest.raises(ShapeError, match=spec_message(f"{block} input", "an even height and width",
                                                      odd, "ARCH-2")):
        block_plans(arch)
    with pytest.raises(ShapeError, match=r"\[ARCH-2\]$"):
        state_dict_layout(arch)


@pytest.mark.req("ARCH-2")
def test_the_dilated_stage_accepts_an_odd_size():
    # 80 -> 20 after the stem, 10, 5; BoolNet*'s last stage keeps stride 1, so 5 is fine there.
    arch = architecture("boolnet-star-k4").scaled(widths=(8, 16, 32, 64), image_size=80)
    assert [p.output_size for p in block_plans(arch)][-2:] == [5, 5]


@pytest.mark.req("ARCH-2")
@pytest.mark.parametrize(("size", "expected"), [(1, 1), (2, 1), (3, 1), (4, 1), (5, 2), (32, 8),
                                                (33, 9), (224, 56), (225, 57)])
def test_stem_output_size_is_conv_7x7_s2_p3_then_maxpool_3x3_s2_p1(size, expected):
    conv = (size + 6 - 7) // 2 + 1
    assert stem_output_size(size) == (conv + 2 - 3) // 2 + 1 == expected
