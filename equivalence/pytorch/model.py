"""BoolNet in PyTorch with the authors' training semantics and state-dict layout.

An independent re-implementation of the authors' modules, written to reproduce their forward and
backward passes and their parameter names (so their checkpoints load with ``strict=True``). It is
the float model that the equivalence harness checks against the integer reference.

.. req:: TORCH-1

   Weight binarization as the authors train it: ``binarize(W) = B * mean(|W|)`` with the mean taken
   as nested float32 means over the kernel axes and *not* detached; in training
   ``B = hardtanh(W / T)`` (progressive binarization), in eval ``B = sign(hardtanh(W / T))``. The
   gradient of ``B`` is the straight-through gradient of ``clamp(W, -1, 1)``: 1 for ``|W| <= 1``
   (borders included), 0 elsewhere, independent of ``T``. ``T`` is a buffer multiplied by 0.965 at
   every ``update_temperature()`` (in float32, one rounding per step), in every binary module,
   ``GhostBNSign`` included. The authors' ImageNet schedule (``set_temperature_imagenet`` of their
   ``main.py``) is ``scheduled_temperature_update(model, i, every)``: before the forward of
   iteration ``i``, when ``i != 0`` and ``i % every == 0`` (``every = 1000`` in the paper's runs).

.. req:: TORCH-2

   Activation binarization (``GhostSign``): slice ``j`` is ``sign(hardtanh((x + o_j) / T))`` with
   the offsets of SLICE-1, gradient 1 where ``|x + o_j| <= 1``. The sign is selected by
   ``sign_mode``: ``official`` is ``torch.sign`` (``0 -> 0``, ENC-4), ``spec`` is ENC-2 (``x >= 0 ->
   +1``, both zeros included).

.. req:: TORCH-3

   Modules, padding (replication, before a convolution with padding 0), slice selection (CONV-4),
   logic shortcuts as the training surrogates ``XNOR = x * r`` and
   ``OR = clamp((x + 1)/2 + (r + 1)/2, 0, 1) * 2 - 1``, blocks, stem and head follow ARCH-2 to
   ARCH-6; ``state_dict()`` has exactly the layout of ARCH-7.

.. req:: TORCH-4

   Surrogates and their gradients, on the float32 values the authors train with:

   - C1: each forward surrogate agrees with its Boolean operation on its binary domain: ``x * r``
     and the OR formula on ``{-1, +1}`` are LOGIC-1 and LOGIC-2, ``sign(hardtanh(x / T))`` in
     ``spec`` mode is ENC-2's sign (and the weight bit of WB-1).
   - C2: each straight-through gradient is the almost-everywhere derivative of its forward
     surrogate (``hardtanh(x)`` for the sign of weights and activations, ``clamp(v, 0, 1)`` inside
     OR, the product for XNOR) and, at the kinks ``|x| = 1`` (``v`` in ``{0, 1}``), lies in the
     Clarke subdifferential ``[0, 1]``; the border convention passes the gradient (1, as
     ``torch.clamp`` does). Through the scale ``mean|W|`` the weight gradient adds
     ``sign(W) / K * sum(g * B)`` over the ``K`` entries of the filter (``abs``'s gradient at 0
     is 0, inside its subdifferential ``[-1, 1]``).
   - C3: ``hardtanh(x / T) -> sign(x)`` as ``T -> 0``: it equals ``sign(x)`` exactly once
     ``T <= |x|``, and differs by ``1 - |x|/T`` before.
   - C4: ``sign(hardtanh(x / T)) = sign(x)`` for ``0 < T <= 1`` under ENC-2, both zeros and
     subnormals included. (For ``T > 1`` the float32 quotient of a subnormal can round to 0 and
     flip the spec sign of a negative ``x``; the authors' schedule only lowers ``T`` from 1.)
   - Deviation kept from the authors' code: in progressive binarization the forward is
     ``hardtanh(W / T)`` but the gradient is the STE of ``clamp(W, -1, 1)``, independent of ``T``;
     where ``T < |W| <= 1`` it is 1 while the forward's derivative is 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from boolnet_spec.reference.architecture import Architecture, block_plans
from boolnet_spec.reference.slices import slice_offsets

__all__ = ["SIGN_MODES", "binary_sign", "binarize", "BConv", "MultiBConv", "GhostSign",
           "GhostBNSign", "BasicBlock", "BoolNet", "logic_xnor", "logic_or",
           "scheduled_temperature_update"]

SIGN_MODES = ("official", "spec")


def binary_sign(x: torch.Tensor, sign_mode: str) -> torch.Tensor:
    """``torch.sign`` (``official``) or ENC-2's sign with sign(0) = +1 (``spec``) (TORCH-2)."""
    if sign_mode == "official":
        return torch.sign(x)
    if sign_mode == "spec":
        return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))
    raise ValueError(f"sign_mode: expected one of {SIGN_MODES}, got {sign_mode!r}")


def binarize(x: torch.Tensor, temperature: torch.Tensor, progressive: bool, scale: bool,
             sign_mode: str) -> torch.Tensor:
    """The authors' binarization with its straight-through gradient (TORCH-1, TORCH-2)."""
    straight = x.clamp(-1, 1)
    mean = x.abs().mean(-1, keepdim=True).mean(-2, keepdim=True).mean(-3, keepdim=True) \
        if scale else 1.0
    with torch.no_grad():
        binary = F.hardtanh(x / temperature)
        if not progressive:
            binary = binary_sign(binary, sign_mode)
    return ((binary - straight).detach() + straight) * mean


def logic_xnor(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """The authors' XNOR surrogate ``x * r`` (TORCH-3)."""
    return x * r


def logic_or(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """The authors' OR surrogate ``clamp((x + 1)/2 + (r + 1)/2, 0, 1) * 2 - 1`` (TORCH-3)."""
    return ((x + 1) / 2 + (r + 1) / 2).clamp(0, 1) * 2 - 1


class _Binary(nn.Module):
    """A module with a temperature buffer and a sign mode."""

    def __init__(self, sign_mode: str):
        super().__init__()
        self.sign_mode = sign_mode
        self.register_buffer("temperature", torch.ones(1))

    def update_temperature(self) -> None:
        self.temperature *= 0.965


class BConv(_Binary):
    """The downsample branch's binary 1x1 convolution over all slices, with bias."""

    def __init__(self, in_channels: int, out_channels: int, sign_mode: str):
        super().__init__(sign_mode)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The 1x1 convolution of all ``S*C`` slice-channels, with bias (ARCH-5)."""
        weight = binarize(self.weight, self.temperature, self.training, True, self.sign_mode)
        return F.conv2d(x.reshape(x.shape[0], -1, *x.shape[-2:]), weight, self.bias)


class MultiBConv(_Binary):
    """The multi-slice 3x3 binary convolution with replication padding (CONV-4)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, padding: int,
                 dilation: int, groups: int, sign_mode: str):
        super().__init__(sign_mode)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Slice selection (CONV-4), replication padding, grouped convolution."""
        batch, slices, _, height, width = x.shape
        weight = binarize(self.weight, self.temperature, self.training, True, self.sign_mode)
        if self.groups == 1:
            x = x[:, slices // 2:slices // 2 + 1]
        else:
            x = x[:, (slices - self.groups) // 2:(slices + self.groups) // 2]
        x = x.reshape(batch, -1, height, width)
        if self.padding:
            x = F.pad(x, (self.padding,) * 4, mode="replicate")
        return F.conv2d(x, weight, None, self.stride, 0, self.dilation, self.groups)


class GhostSign(_Binary):
    """The multi-slice quantizer: ``[N, C, H, W] -> [N, S, C, H, W]`` (TORCH-2)."""

    def __init__(self, slices: int, sign_mode: str):
        super().__init__(sign_mode)
        offsets = torch.from_numpy(slice_offsets(slices)).reshape(1, -1, 1, 1, 1)
        self.register_buffer("offsets", offsets, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``sign(hardtanh((x + o_j) / T))`` for every slice ``j`` (TORCH-2)."""
        return binarize(x.unsqueeze(1) + self.offsets, self.temperature, False, False,
                        self.sign_mode)


class GhostBNSign(_Binary):
    """BoolNet's stem quantizer with local adaptive shifting (STEM-5)."""

    def __init__(self, channels: int, slices: int, sign_mode: str):
        super().__init__(sign_mode)
        self.bn1 = nn.BatchNorm2d(channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.adaptive_zero_points = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False, groups=channels),
            nn.BatchNorm2d(channels))
        self.GhostSign = GhostSign(slices, sign_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``GhostSign(BN1(x) + BN_las(dwconv(BN2(x))))`` (STEM-5)."""
        return self.GhostSign(self.bn1(x) + self.adaptive_zero_points(self.bn2(x)))


class BasicBlock(nn.Module):
    """A BaseNet or BoolNet block (ARCH-3 to ARCH-6)."""

    def __init__(self, plan, family: str, slices: int, sign_mode: str):
        super().__init__()
        self.plan, self.boolnet = plan, family == "boolnet"
        width = plan.width
        self.conv1 = MultiBConv(plan.in_channels, width, plan.stride, plan.padding,
                                plan.dilation, slices, sign_mode)
        self.conv2 = MultiBConv(width, width, 1, plan.padding, plan.dilation, slices, sign_mode)
        self.bn1 = nn.BatchNorm2d(width)
        self.bn2 = nn.BatchNorm2d(width)
        if self.boolnet:
            self.ghostsign1 = GhostSign(slices, sign_mode)
            self.ghostsign2 = GhostSign(slices, sign_mode)
            self.bn3 = nn.BatchNorm2d(width)
        else:
            self.bn3 = nn.BatchNorm2d(width)
            self.ghostsign1 = GhostSign(slices, sign_mode)
            self.ghostsign2 = GhostSign(slices, sign_mode)
        self.downsample = None
        if plan.downsample:
            layers = [BConv(slices * plan.input_channels, width, sign_mode)]
            if plan.pool:
                layers.append(nn.MaxPool2d(2, 2))
            layers += [nn.BatchNorm2d(width), GhostSign(slices, sign_mode)]
            self.downsample = nn.Sequential(*layers)

    def binary(self, part: int, x: torch.Tensor) -> torch.Tensor:
        """The bits of ``conv{part}``: the conv, its BatchNorm and its GhostSign."""
        conv = getattr(self, f"conv{part}")(x)
        return getattr(self, f"ghostsign{part}")(getattr(self, f"bn{part}")(conv))

    def shuffle(self, z: torch.Tensor, carry: torch.Tensor) -> torch.Tensor:
        """ARCH-6's interleave: channel ``2c`` from ``z``, ``2c + 1`` from ``carry``."""
        batch, slices, width, height, size = z.shape
        return torch.stack((z, carry), dim=3).reshape(batch, slices, 2 * width, height, size)

    def forward(self, block_input: torch.Tensor) -> torch.Tensor:
        """One block: split, downsample, XNOR, OR and shuffle (ARCH-3, ARCH-4, ARCH-6)."""
        channels = block_input.shape[2]
        x = residual = carry = block_input
        if self.plan.split:
            x = residual = block_input[:, :, :channels // 2]
            carry = block_input[:, :, channels // 2:]
        if self.downsample is not None:
            residual = carry = self.downsample(block_input)
        x = logic_xnor(self.binary(1, x), residual)
        if self.plan.last:
            return self.bn2(self.conv2(x)) + self.bn3(x.mean(1))
        z = logic_or(self.binary(2, x), residual)
        if not self.boolnet:
            return z
        return self.shuffle(z, carry)


class BoolNet(nn.Module):
    """A whole BaseNet or BoolNet of ``arch`` (ARCH-1 to ARCH-7)."""

    def __init__(self, arch: Architecture, sign_mode: str = "official"):
        super().__init__()
        binary_sign(torch.zeros(1), sign_mode)
        self.arch = arch
        width, slices = arch.stem_width, arch.slices
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.maxpool = nn.Sequential(nn.BatchNorm2d(width), nn.MaxPool2d(3, 2, 1))
        if arch.family == "boolnet":
            self.ghostbnsign = GhostBNSign(width, slices, sign_mode)
        else:
            self.ghostbnsign = nn.Sequential(nn.BatchNorm2d(width), GhostSign(slices, sign_mode))
        plans = block_plans(arch)
        for stage in range(1, len(arch.widths) + 1):
            blocks = [BasicBlock(plan, arch.family, slices, sign_mode) for plan in plans
                      if plan.name.startswith(f"layer{stage}.")]
            setattr(self, f"layer{stage}", nn.Sequential(*blocks))
        self.prelu2 = nn.PReLU(arch.widths[-1])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(arch.widths[-1], arch.classes)

    @property
    def stages(self) -> list[nn.Sequential]:
        return [getattr(self, f"layer{i}") for i in range(1, len(self.arch.widths) + 1)]

    def set_sign_mode(self, sign_mode: str) -> None:
        binary_sign(torch.zeros(1), sign_mode)
        for module in self.modules():
            if isinstance(module, _Binary):
                module.sign_mode = sign_mode

    def update_temperature(self) -> None:
        for module in self.modules():
            if isinstance(module, _Binary):
                module.update_temperature()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, classes]`` of a float32 image batch ``[N, 3, H, W]``."""
        x = self.ghostbnsign(self.maxpool(self.conv1(x)))
        for stage in self.stages:
            x = stage(x)
        x = self.prelu2(x)
        return self.fc(self.avgpool(x).flatten(1))


def scheduled_temperature_update(model: BoolNet, iteration: int, every: int = 1000) -> bool:
    """The authors' temperature schedule (TORCH-1): ``update_temperature()`` before the forward
    of ``iteration`` when ``iteration != 0`` and ``iteration % every == 0``; True if it ran."""
    due = iteration != 0 and iteration % every == 0
    if due:
        model.update_temperature()
    return due
