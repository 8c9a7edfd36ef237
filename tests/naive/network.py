"""Naive oracle for a whole network: FACTS 3-4 composed on real pre-activations, never folded.

Independent of ``reference.fold``, ``reference.threshold``, ``reference.maxpool``,
``reference.network``, ``reference.build``, ``reference.channels``, ``reference.logic`` and of the
block plans of ``reference.architecture``: every binarizing layer computes ``alpha*s + b`` in
binary64, max-pools those real values where the downsample pools, applies BatchNorm (BN-3) and
the slice quantizer; blocks, split, XNOR, OR and shuffle are written here from the facts. The
reference enters only as ops: ``binary_conv2d``, ``weight_bits``, ``weight_scale``, the stem
functions, ``BatchNorm`` and ``slice_quantize``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from boolnet_spec.reference.batchnorm import BatchNorm
from boolnet_spec.reference.bconv import binary_conv2d
from boolnet_spec.reference.slices import slice_quantize
from boolnet_spec.reference.stem import basenet_stem, boolnet_stem, stem_features
from boolnet_spec.reference.weights import weight_bits, weight_scale

EPS = 1e-5  # torch.nn.BatchNorm2d's default, used by every BatchNorm of the authors' model


def offsets(slices: int) -> np.ndarray:
    """FACTS 3: ``[-i/(k/2+1) for i = k/2..1] + [i/(k/2+1) for i = 1..k/2]``; one slice: 0."""
    if slices == 1:
        return np.zeros(1, np.float32)
    half = slices // 2
    return np.array([-i / (half + 1) for i in range(half, 0, -1)]
                    + [i / (half + 1) for i in range(1, half + 1)], np.float32)


@dataclass(frozen=True)
class Block:
    name: str
    width: int
    previous_width: int
    stride: int
    dilation: int
    downsample: bool
    pool: bool
    last: bool


def blocks(arch) -> list[Block]:
    """FACTS 4: stage strides 1, 2, 2, ...; BoolNet* trades the last stage's stride for dilation 2
    on its blocks after the first; a downsample where a stage changes width or stride."""
    out, previous = [], arch.widths[0]
    for stage, (width, count) in enumerate(zip(arch.widths, arch.blocks, strict=True), start=1):
        stride = 1 if stage == 1 else 2
        dilated = arch.dilate_last and stage == len(arch.widths) and stride == 2
        for index in range(count):
            first = index == 0
            block_stride = (1 if dilated else stride) if first else 1
            out.append(Block(f"layer{stage}.{index}", width, previous, block_stride,
                             2 if dilated and not first else 1,
                             first and (stride != 1 or width != previous), not dilated,
                             stage == len(arch.widths) and index == count - 1))
            previous = width
    return out


def flatten(x: np.ndarray) -> np.ndarray:
    """``[N, S, C, H, W] -> [N, S*C, H, W]``, channel ``j*C + c`` from slice ``j``."""
    return np.concatenate([x[:, j] for j in range(x.shape[1])], axis=1)


def xnor(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    assert a.shape == b.shape
    return (1 - (a ^ b)).astype(np.uint8)


def logic_or(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    assert a.shape == b.shape
    return (a | b).astype(np.uint8)


def shuffle(z1: np.ndarray, z2: np.ndarray) -> np.ndarray:
    """Output channel ``2c`` from ``z1[c]``, ``2c + 1`` from ``z2[c]``."""
    assert z1.shape == z2.shape
    out = np.empty((*z1.shape[:2], 2 * z1.shape[2], *z1.shape[3:]), np.uint8)
    out[:, :, 0::2], out[:, :, 1::2] = z1, z2
    return out


def maxpool2(real: np.ndarray) -> np.ndarray:
    """``MaxPool2d(2, 2)`` (floor mode) on real values ``[N, C, H, W]``."""
    batch, channels, height, width = real.shape
    h, w = height // 2, width // 2
    return real[:, :, :2 * h, :2 * w].reshape(batch, channels, h, 2, w, 2).max(axis=(3, 5))


@dataclass
class Forward:
    """The oracle's tensors by BUILD-1 name; per bit tensor ``(y, scale)``, the binary64
    pre-activation before the slice offsets and a bound on the magnitude of its terms; and the
    real input of every BatchNorm of the blocks, by state-dict prefix."""

    logits: np.ndarray = None
    trace: dict = field(default_factory=dict)
    pre: dict = field(default_factory=dict)
    bn_inputs: dict = field(default_factory=dict)


class Network:
    def __init__(self, arch, state_dict: dict[str, np.ndarray]):
        self.arch, self.sd = arch, state_dict
        self.offsets = offsets(arch.slices)
        self.boolnet = arch.family == "boolnet"

    def bn(self, prefix: str) -> BatchNorm:
        return BatchNorm(*(self.sd[f"{prefix}.{f}"] for f in ("weight", "bias", "running_mean",
                                                               "running_var")), EPS, prefix)

    def binarize(self, out: Forward, names: tuple[str, str], x: np.ndarray, weight_key: str,
                 bn_prefix: str, stride: int, padding: int, dilation: int, groups: int,
                 pool: bool = False, bias_key: str | None = None) -> np.ndarray:
        """GhostSign(BN(maxpool?(conv(x)))) with the conv's real value ``alpha*s + b``."""
        weight = self.sd[weight_key]
        s = binary_conv2d(flatten(x), weight_bits(weight), stride, padding, dilation, groups,
                          "replicate" if padding else "none")
        real = weight_scale(weight).astype(np.float64)[None, :, None, None] * s
        bias = np.zeros(weight.shape[0]) if bias_key is None else \
            self.sd[bias_key].astype(np.float64)
        real = real + bias[None, :, None, None]
        if pool:
            real = maxpool2(real)
        bn = self.bn(bn_prefix)
        out.bn_inputs[bn_prefix] = real
        y = bn(real)
        column = lambda v: np.abs(v.astype(np.float64))[None, :, None, None]  # noqa: E731
        scale = column(bn.gamma) / np.sqrt(column(bn.var) + EPS) * (
            np.abs(real) + column(bias) + column(bn.mean)) + column(bn.beta)
        bits = slice_quantize(y, self.offsets)
        out.trace[names[0]], out.trace[names[1]] = s, bits
        out.pre[names[1]] = (y, scale)
        return bits

    def stem(self, out: Forward, image: np.ndarray) -> np.ndarray:
        features = stem_features(image, self.sd["conv1.weight"], self.bn("maxpool.0"))
        if self.boolnet:
            bits = boolnet_stem(features, self.bn("ghostbnsign.bn1"), self.bn("ghostbnsign.bn2"),
                                self.sd["ghostbnsign.adaptive_zero_points.0.weight"],
                                self.bn("ghostbnsign.adaptive_zero_points.1"), self.offsets)
        else:
            bits = basenet_stem(features, self.bn("ghostbnsign.0"), self.offsets)
        out.trace["ghostbnsign"] = bits
        return bits

    def block(self, out: Forward, block: Block, block_input: np.ndarray) -> np.ndarray:
        p, slices = block.name, self.arch.slices
        padding = block.dilation if self.boolnet else 1
        conv = {"padding": padding, "dilation": block.dilation, "groups": slices}
        x = residual = carry = block_input
        if self.boolnet:
            conv1_in = 2 * block.previous_width if block.downsample else block.width
            assert self.sd[f"{p}.conv1.weight"].shape[1] == conv1_in
            if block_input.shape[2] == 2 * conv1_in:
                half = block_input.shape[2] // 2
                x = residual = block_input[:, :, :half]
                carry = block_input[:, :, half:]
                out.trace[f"{p}.x"], out.trace[f"{p}.carry"] = x, carry
        if block.downsample:
            bn_index = 2 if block.pool else 1
            residual = carry = self.binarize(
                out, (f"{p}.downsample.0", f"{p}.downsample"), block_input,
                f"{p}.downsample.0.weight", f"{p}.downsample.{bn_index}", 1, 0, 1, 1,
                pool=block.pool, bias_key=f"{p}.downsample.0.bias")
        bits = self.binarize(out, (f"{p}.conv1", f"{p}.ghostsign1"), x, f"{p}.conv1.weight",
                             f"{p}.bn1", block.stride, **conv)
        x1 = out.trace[f"{p}.xnor"] = xnor(bits, residual)
        if block.last:
            return self.head(out, p, x1, conv)
        bits = self.binarize(out, (f"{p}.conv2", f"{p}.ghostsign2"), x1, f"{p}.conv2.weight",
                             f"{p}.bn2", 1, **conv)
        if not self.boolnet:
            out.trace[p] = logic_or(bits, residual)
            return out.trace[p]
        z1 = out.trace[f"{p}.or"] = logic_or(bits, residual)
        out.trace[p] = shuffle(z1, carry)
        return out.trace[p]

    def head(self, out: Forward, p: str, x1: np.ndarray, conv: dict) -> np.ndarray:
        """``BN2(alpha2*conv2(x1)) + BN3(mean over slices of x1)``, PReLU, average pool, fc."""
        weight = self.sd[f"{p}.conv2.weight"]
        s2 = binary_conv2d(flatten(x1), weight_bits(weight), 1, conv["padding"],
                           conv["dilation"], conv["groups"], "replicate")
        real = weight_scale(weight).astype(np.float64)[None, :, None, None] * s2
        mean = (2 * x1.astype(np.float64) - 1).sum(axis=1) / x1.shape[1]
        out.bn_inputs[f"{p}.bn2"], out.bn_inputs[f"{p}.bn3"] = real, mean
        z = self.bn(f"{p}.bn2")(real) + self.bn(f"{p}.bn3")(mean)
        slope = self.sd["prelu2.weight"].astype(np.float64)[None, :, None, None]
        pooled = np.where(z >= 0, z, slope * z).mean(axis=(2, 3))
        logits = pooled @ self.sd["fc.weight"].astype(np.float64).T + \
            self.sd["fc.bias"].astype(np.float64)
        out.trace[f"{p}.conv2"], out.trace[p], out.trace["logits"] = s2, z, logits
        return logits

    def forward(self, image: np.ndarray) -> Forward:
        out = Forward()
        x = self.stem(out, image)
        for block in blocks(self.arch):
            x = self.block(out, block, x)
        out.logits = x
        return out


def forward(arch, state_dict: dict[str, np.ndarray], image: np.ndarray) -> Forward:
    """The oracle's logits, every named tensor and the bit tensors' pre-activations."""
    return Network(arch, state_dict).forward(image)
