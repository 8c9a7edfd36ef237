"""Architecture: the published BoolNet configurations, their blocks and their state-dict layout.

.. req:: ARCH-1

   Configurations. ``basenet-k1``, ``basenet-k4``, ``boolnet-k4`` and ``boolnet-star-k4`` are the
   authors' four published runs: ResNet-18 layout, stages of ``[2, 2, 2, 2]`` blocks with widths
   ``64, 128, 256, 512``, stage strides ``1, 2, 2, 2``, ``S = k`` slices, a 64-channel stem,
   3x224x224 images, 1000 classes, binary downsampling. A scaled configuration keeps the family and
   the slices and changes the widths (the stem has the first stage's width), the blocks per stage,
   the number of stages, the classes or the image size.

.. req:: ARCH-2

   Stages. Stage ``L`` (from 1) has ``blocks[L-1]`` blocks of width ``widths[L-1]``; its first block
   has stride 2 for ``L > 1``. In ``boolnet-star-k4`` the last stage replaces its stride by
   dilation: its first block has stride 1 and dilation 1, every further block dilation 2. Every
   conv of a block is 3x3 with ``groups = S`` (the authors' ``conv_slices = max_slices``) and
   replication padding of ``dilation`` (BoolNet) or 1 (BaseNet). ``ERROR_IF`` a stride-2 stage
   receives an odd height or width (:class:`~boolnet_spec.reference.errors.ShapeError`): its
   convolution and
   its downsample's pooling would disagree on the output size.

.. req:: ARCH-3

   BaseNet block with input ``x[N, S, C, H, W]``: ``r = x``, or ``r = downsample(x)`` when the
   stage changes width or stride; ``x1 = XNOR(GhostSign(BN1(conv1(x))), r)``;
   ``out = OR(GhostSign(BN2(conv2(x1))), r)``.

.. req:: ARCH-4

   BoolNet block (feature reuse and channel shuffle). ``in_channels`` is ``2 * Cin`` for the first
   block of a stage that changes width, else the block width. When the input has twice
   ``in_channels`` channels per slice it is split (CHAN-2): ``x = r`` = the first half and the
   second half is carried; else ``x = r`` = the input. ``r = downsample(input)`` where the stage
   changes width or stride. Then ``x1 = XNOR(GhostSign(BN1(conv1(x))), r)``,
   ``z1 = OR(GhostSign(BN2(conv2(x1))), r)`` and ``out = shuffle(z1, z2)`` (CHAN-3) with ``z2`` the
   carried half, or ``r`` when nothing was split: every block outputs ``2 * width`` channels.

.. req:: ARCH-5

   Downsample branch (``--binary_downsample``): a 1x1 binary convolution with bias over all
   ``S * C`` slice-channels of the block input (CHAN-1, ``groups = 1``, no padding), then a 2x2
   max pooling with stride 2 before BatchNorm (POOL-2), then GhostSign. The pooling is absent in
   a stage that keeps stride 1 (``boolnet-star-k4``'s last stage); BaseNet always pools.

.. req:: ARCH-6

   The last block of the last stage does not binarize its output: ``z = BN2(conv2(x1)) +
   BN3(mean over slices of x1)`` (HEAD-1), then ``PReLU``, global average pooling and the linear
   classifier (HEAD-2, HEAD-3). Deviation kept from the authors' code and named here: in BoolNet
   the last block splits its input as every non-first block does and the carried half is
   dropped, so half of its input channels never reach the classifier.

.. req:: ARCH-7

   State-dict layout. A configuration reads exactly the keys, shapes and dtypes of the authors'
   ``state_dict()`` (for the four published ones, the files in
   ``reference/data/official-state-dict``),
   including ``num_batches_tracked`` (int64) and ``temperature`` (float32 ``[1]``) buffers, whose
   values do not change the inference semantics: the authors' schedule starts ``T`` at 1 and only
   multiplies it by 0.965, and for ``0 < T <= 1`` the float32 quotient ``W / T`` keeps the sign
   of ``W`` and never underflows to zero, so ``sign(hardtanh(W / T)) = sign(W)``. (For ``T > 1`` a
   subnormal ``W`` can divide to zero.) ``ERROR_IF`` a temperature is not in ``(0, 1]``
   (:class:`~boolnet_spec.reference.errors.DomainError`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

from boolnet_spec.reference.errors import DomainError, ShapeError, error_if
from boolnet_spec.reference.limits import (
    MAX_ACTIVATIONS,
    MAX_BLOCKS,
    MAX_CLASSES,
    MAX_IMAGE_SIZE,
    MAX_PARAMETERS,
    MAX_SLICES,
    MAX_STAGES,
    MAX_WIDTH,
    check_limit,
)
from boolnet_spec.reference.slices import slice_offsets

__all__ = ["Architecture", "BlockPlan", "CONFIGS", "OFFICIAL_LAYOUTS", "architecture",
           "block_plans", "state_dict_layout", "read_layout", "official_layout"]

OFFICIAL_LAYOUTS = Path(__file__).resolve().parent / "data" / "official-state-dict"


def stem_output_size(size: int) -> int:
    """The stem's conv (7x7, stride 2, padding 3) then maxpool (3x3, stride 2, padding 1)."""
    conv = (size + 2 * 3 - 7) // 2 + 1
    return (conv + 2 * 1 - 3) // 2 + 1


@dataclass(frozen=True)
class Architecture:
    """A BoolNet or BaseNet configuration (ARCH-1)."""

    name: str
    family: str
    slices: int
    widths: tuple[int, ...] = (64, 128, 256, 512)
    blocks: tuple[int, ...] = (2, 2, 2, 2)
    dilate_last: bool = False
    classes: int = 1000
    image_size: int = 224

    def __post_init__(self):
        error_if(not isinstance(self.name, str), DomainError, "architecture.name", "a string",
                 repr(self.name), "ARCH-1")
        error_if(self.family not in ("basenet", "boolnet"), DomainError, "architecture.family",
                 "basenet or boolnet", repr(self.family), "ARCH-1")
        error_if(not isinstance(self.dilate_last, bool), DomainError, "architecture.dilate_last",
                 "true or false", repr(self.dilate_last), "ARCH-1")
        error_if(isinstance(self.slices, bool), DomainError, "architecture.slices",
                 "an integer", repr(self.slices), "ARCH-1")
        if isinstance(self.slices, int):  # before slice_offsets allocates S offsets
            check_limit(self.slices, MAX_SLICES, "architecture.slices")
        slice_offsets(self.slices)
        error_if(len(self.widths) < 1 or len(self.widths) != len(self.blocks), ShapeError,
                 "architecture.widths/blocks", "one width and one block count per stage",
                 f"{list(self.widths)} and {list(self.blocks)}", "ARCH-1")
        for what, values in (("widths", self.widths), ("blocks", self.blocks),
                             ("classes", (self.classes,)), ("image_size", (self.image_size,))):
            # bool is an int subclass: a JSON true must not read as 1.
            error_if(any(not isinstance(v, int) or isinstance(v, bool) or v < 1
                         for v in values), DomainError,
                     f"architecture.{what}", "positive integers", list(values), "ARCH-1")
        self._check_limits()
        # The authors' downsample reads the unsplit input, so a stage must widen the network.
        error_if(any(b <= a for a, b in zip(self.widths, self.widths[1:], strict=False)),
                 DomainError, "architecture.widths", "strictly increasing stage widths",
                 list(self.widths), "ARCH-1")

    def _check_limits(self) -> None:
        """LIMIT-1, from Python integers, before anything is allocated."""
        check_limit(len(self.widths), MAX_STAGES, "architecture.widths (stages)")
        for what, values, limit in (("widths", self.widths, MAX_WIDTH),
                                    ("blocks", self.blocks, MAX_BLOCKS),
                                    ("classes", (self.classes,), MAX_CLASSES),
                                    ("image_size", (self.image_size,), MAX_IMAGE_SIZE)):
            for value in values:
                check_limit(value, limit, f"architecture.{what}")
        widest = max(self.widths)
        stem = max(stem_output_size(self.image_size), 1)
        check_limit(self.slices * 2 * widest * stem * stem, MAX_ACTIVATIONS,
                    "architecture: activation elements of one image (S * 2 * max(widths) * "
                    "Hs * Ws)")
        check_limit(sum(self.blocks) * (29 + 2 * self.slices) * widest * widest
                    + (self.classes + 256) * widest, MAX_PARAMETERS,
                    "architecture: parameters (bound B * (29 + 2*S) * W**2 + (K + 256) * W)")

    @property
    def stem_width(self) -> int:
        return self.widths[0]

    def scaled(self, **changes) -> Architecture:
        """A scaled configuration of the same family and slices (ARCH-1)."""
        changes = {k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()
                   if v is not None}
        if "widths" in changes and "blocks" not in changes:
            changes["blocks"] = self.blocks[:len(changes["widths"])]
        return replace(self, **changes)

    def to_json(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict) -> Architecture:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


CONFIGS = {
    "basenet-k1": Architecture("basenet-k1", "basenet", 1),
    "basenet-k4": Architecture("basenet-k4", "basenet", 4),
    "boolnet-k4": Architecture("boolnet-k4", "boolnet", 4),
    "boolnet-star-k4": Architecture("boolnet-star-k4", "boolnet", 4, dilate_last=True),
}
_LAYOUT_FILES = {"basenet-k1": "basenet-k-1.tsv", "basenet-k4": "basenet-k-4.tsv",
                 "boolnet-k4": "boolnet-k-4.tsv", "boolnet-star-k4": "boolnet-k-4-star.tsv"}


def architecture(name: str) -> Architecture:
    error_if(name not in CONFIGS, DomainError, "config", f"one of {', '.join(CONFIGS)}",
             repr(name), "ARCH-1")
    return CONFIGS[name]


@dataclass(frozen=True)
class BlockPlan:
    """One block as the authors' ``_make_layer`` wires it (ARCH-2 to ARCH-6)."""

    name: str
    input_channels: int        # C of the block input, per slice
    in_channels: int           # C read by conv1, per slice
    width: int
    output_channels: int       # C of the block output, per slice
    stride: int
    dilation: int
    padding: int
    split: bool
    downsample: bool
    pool: bool
    last: bool
    input_size: int
    output_size: int


def block_plans(arch: Architecture) -> list[BlockPlan]:
    """The blocks of ``arch`` in execution order (ARCH-2 to ARCH-6)."""
    size = stem_output_size(arch.image_size)
    boolnet = arch.family == "boolnet"
    plans = []
    inplanes, channels, dilation = arch.stem_width, arch.stem_width, 1
    for stage, (width, count) in enumerate(zip(arch.widths, arch.blocks, strict=True), start=1):
        stride = 1 if stage == 1 else 2
        previous_dilation = dilation
        if arch.dilate_last and stage == len(arch.widths) and stride == 2:
            dilation, stride = dilation * stride, 1
        for index in range(count):
            first = index == 0
            block_stride = stride if first else 1
            block_dilation = previous_dilation if first else dilation
            downsample = first and (block_stride != 1 or inplanes != width)
            if boolnet:
                in_channels = 2 * inplanes if first and inplanes != width else width
            else:
                in_channels = inplanes
            split = boolnet and channels == 2 * in_channels
            if block_stride == 2:
                error_if(size % 2 == 1, ShapeError, f"layer{stage}.{index} input",
                         "an even height and width before a stride-2 stage", f"{size}x{size}",
                         "ARCH-2")
            out = size // block_stride
            plans.append(BlockPlan(
                name=f"layer{stage}.{index}", input_channels=channels, in_channels=in_channels,
                width=width, output_channels=2 * width if boolnet else width,
                stride=block_stride, dilation=block_dilation,
                padding=block_dilation if boolnet else 1, split=split, downsample=downsample,
                pool=downsample and (block_stride == 2 or not boolnet),
                last=stage == len(arch.widths) and index == count - 1, input_size=size,
                output_size=out))
            size, inplanes, channels = out, width, plans[-1].output_channels
    return plans


def _bn(prefix: str, channels: int) -> list[tuple[str, tuple[int, ...], str]]:
    return [*((f"{prefix}.{name}", (channels,), "float32") for name in
              ("weight", "bias", "running_mean", "running_var")),
            (f"{prefix}.num_batches_tracked", (), "int64")]


def _temperature(prefix: str) -> list[tuple[str, tuple[int, ...], str]]:
    return [(f"{prefix}.temperature", (1,), "float32")]


def state_dict_layout(arch: Architecture) -> list[tuple[str, tuple[int, ...], str]]:
    """``(key, shape, dtype)`` of every entry of the authors' state dict, in its order (ARCH-7)."""
    c0, s = arch.stem_width, arch.slices
    layout = [("conv1.weight", (c0, 3, 7, 7), "float32"), *_bn("maxpool.0", c0)]
    if arch.family == "boolnet":
        layout += [*_temperature("ghostbnsign"), *_bn("ghostbnsign.bn1", c0),
                   *_bn("ghostbnsign.bn2", c0),
                   ("ghostbnsign.adaptive_zero_points.0.weight", (c0, 1, 3, 3), "float32"),
                   *_bn("ghostbnsign.adaptive_zero_points.1", c0),
                   *_temperature("ghostbnsign.GhostSign")]
    else:
        layout += [*_bn("ghostbnsign.0", c0), *_temperature("ghostbnsign.1")]
    for plan in block_plans(arch):
        p, w = plan.name, plan.width
        layout += [(f"{p}.conv1.weight", (w, plan.in_channels, 3, 3), "float32"),
                   *_temperature(f"{p}.conv1"),
                   (f"{p}.conv2.weight", (w, w, 3, 3), "float32"), *_temperature(f"{p}.conv2"),
                   *_bn(f"{p}.bn1", w), *_bn(f"{p}.bn2", w)]
        signs = [*_temperature(f"{p}.ghostsign1"), *_temperature(f"{p}.ghostsign2")]
        # The two families register bn3 and the GhostSigns in opposite orders.
        layout += [*signs, *_bn(f"{p}.bn3", w)] if arch.family == "boolnet" else \
            [*_bn(f"{p}.bn3", w), *signs]
        if plan.downsample:
            bn_index = 2 if plan.pool else 1
            layout += [(f"{p}.downsample.0.bias", (w,), "float32"),
                       (f"{p}.downsample.0.weight", (w, s * plan.input_channels, 1, 1), "float32"),
                       *_temperature(f"{p}.downsample.0"), *_bn(f"{p}.downsample.{bn_index}", w),
                       *_temperature(f"{p}.downsample.{bn_index + 1}")]
    width = arch.widths[-1]
    layout += [("prelu2.weight", (width,), "float32"),
               ("fc.weight", (arch.classes, width), "float32"),
               ("fc.bias", (arch.classes,), "float32")]
    return layout


def read_layout(path: Path) -> list[tuple[str, tuple[int, ...], str]]:
    """Parse one of the official ``key<TAB>shape<TAB>dtype`` files."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, shape, dtype = line.split("\t")
        dims = shape.strip("[]")
        rows.append((key, tuple(int(d) for d in dims.split(",")) if dims else (), dtype))
    return rows


def official_layout(name: str) -> list[tuple[str, tuple[int, ...], str]]:
    return read_layout(OFFICIAL_LAYOUTS / _LAYOUT_FILES[name])
