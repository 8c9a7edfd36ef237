"""Faulty PyTorch BoolNet implementations (issue 11): each patches one bug into a clean
:class:`~boolnet_spec.equivalence.pytorch.model.BoolNet` and returns it."""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F
from torch import nn


def zero_padding(net, block: str = "layer1.0", conv: str = "conv2"):
    """The 3x3 convolution pads with zeros instead of replicating the border."""
    module = net.get_submodule(f"{block}.{conv}")
    original = module.forward

    def zero_padded(x):
        module.padding, saved = 0, module.padding
        try:
            return original(F.pad(x, (1, 1, 1, 1)))
        finally:
            module.padding = saved

    module.forward = zero_padded
    return net


def swapped_shuffle(net, block: str = "layer1.0"):
    """The shuffle puts the carried half on the even channels and the OR result on the odd."""
    module = net.get_submodule(block)
    shuffle = module.shuffle
    module.shuffle = lambda z, carry: shuffle(carry, z)
    return net


class SlicePool(nn.MaxPool2d):
    """2x2 max pooling of a bit tensor ``[N, S, C, H, W]``."""

    def forward(self, x):
        batch, slices, channels, height, width = x.shape
        pooled = super().forward(x.reshape(batch, slices * channels, height, width))
        return pooled.reshape(batch, slices, channels, *pooled.shape[-2:])


def pool_after_sign(net):
    """Every pooling downsample branch pools the bits after BatchNorm and sign."""
    for module in net.modules():
        branch = getattr(module, "downsample", None)
        if branch is not None and isinstance(branch[1], nn.MaxPool2d):
            module.downsample = nn.Sequential(branch[0], branch[2], branch[3], SlicePool(2, 2))
    return net


__all__ = ["zero_padding", "swapped_shuffle", "pool_after_sign", "SlicePool", "Port",
           "PORT_MAP", "FusedThreshold", "fused_port", "float32_thresholds",
           "FusedPoolThreshold", "fused_downsample_port"]


class Port(nn.Module):
    """A clean port with other names: wrapped in ``body``, stages renamed ``stageL``."""

    def __init__(self, net):
        super().__init__()
        for index, stage in enumerate(net.stages, 1):
            delattr(net, f"layer{index}")
            setattr(net, f"stage{index}", stage)
        count = len(net.arch.widths)
        # a subclass of this instance only: patching BoolNet itself broke every later BoolNet
        net.__class__ = type("RenamedBoolNet", (type(net),), {"stages": property(
            lambda self: [getattr(self, f"stage{i}") for i in range(1, count + 1)])})
        self.body = net

    def forward(self, x):
        return self.body(x)


PORT_MAP = {"": "body", **{f"layer{i}": f"body.stage{i}" for i in range(1, 5)}}


def _hardtanh_ste_forward(conv, x):
    batch, slices, _, height, width = x.shape
    straight = F.hardtanh(conv.weight)
    mean = conv.weight.abs().mean(-1, keepdim=True).mean(-2, keepdim=True) \
        .mean(-3, keepdim=True)
    with torch.no_grad():
        binary = F.hardtanh(conv.weight / conv.temperature)
        if not conv.training:
            binary = torch.sign(binary)
    weight = ((binary - straight).detach() + straight) * mean
    x = x[:, (slices - conv.groups) // 2:(slices + conv.groups) // 2] if conv.groups > 1 \
        else x[:, slices // 2:slices // 2 + 1]
    x = F.pad(x.reshape(batch, -1, height, width), (conv.padding,) * 4, mode="replicate")
    return F.conv2d(x, weight, None, conv.stride, 0, conv.dilation, conv.groups)


def hardtanh_ste(net, path: str = "layer1.0.conv1"):
    """The weight's straight-through estimator is hardtanh's backward: 0 at ``|W| = 1``."""
    conv = net.get_submodule(path)
    conv.forward = types.MethodType(_hardtanh_ste_forward, conv)  # survives deepcopy
    return net


class FusedThreshold(nn.Module):
    """An LCE-style fused BatchNorm-sign: the accumulator ``s`` recovered from the conv output,
    compared with integer or float thresholds ``[S, C]`` (polarity 1: ``s >= t``, 0: ``s <= t``)."""

    def __init__(self, alpha, polarity, threshold):
        super().__init__()
        self.register_buffer("alpha", torch.as_tensor(alpha).reshape(1, -1, 1, 1))
        self.register_buffer("polarity", torch.as_tensor(polarity))
        self.register_buffer("threshold", torch.as_tensor(threshold))

    def forward(self, v):
        s = torch.round(v / self.alpha).unsqueeze(1)
        t = self.threshold.to(torch.float64)[None, :, :, None, None]
        ge = self.polarity.bool()[None, :, :, None, None]
        bit = torch.where(ge, s.double() >= t, s.double() <= t)
        return torch.where(bit, 1.0, -1.0).to(v.dtype)


def _fused_binary(self, part, x):
    """BasicBlock.binary with ``thresholdK`` in place of ``ghostsignK(bnK(.))`` where present."""
    fused = getattr(self, f"threshold{part}", None)
    if fused is None:
        return type(self).binary(self, part, x)
    return fused(getattr(self, f"conv{part}")(x))


def fused_port(net, node: str, polarity, threshold):
    """``net`` with node ``layerL.b.convK``'s BatchNorm and sign replaced by a
    :class:`FusedThreshold` ``layerL.b.thresholdK`` (the BatchNorm and sign are deleted)."""
    from boolnet_spec.equivalence.pytorch.harness.capture import torch_weight

    block_path, conv = node.rsplit(".", 1)
    block, part = net.get_submodule(block_path), conv[-1]
    _, alpha_t = torch_weight(getattr(block, conv))
    delattr(block, f"bn{part}")
    delattr(block, f"ghostsign{part}")
    setattr(block, f"threshold{part}", FusedThreshold(alpha_t, polarity, threshold))
    block.binary = types.MethodType(_fused_binary, block)
    return net


def float32_thresholds(state: dict, node: str, slices: int):
    """LCE-style thresholds from float32 BatchNorm arithmetic: ``t = ((-(beta + o) * sqrt(var +
    eps)) / gamma + mean) / alpha`` in float32, polarity ``gamma > 0`` (the root of FOLD-2)."""
    import numpy as np

    from boolnet_spec.reference.slices import slice_offsets
    from boolnet_spec.reference.weights import weight_scale

    f32 = np.float32
    block, conv = node.rsplit(".", 1)
    bn = f"{block}.bn{conv[-1]}"
    gamma, beta, mean, var = (state[f"{bn}.{k}"].astype(f32) for k in
                              ("weight", "bias", "running_mean", "running_var"))
    weight = state[f"{node}.weight"]
    alpha, n = weight_scale(weight), int(np.prod(weight.shape[1:]))
    offsets = slice_offsets(slices).astype(f32)[:, None]
    sigma = np.sqrt(var + f32(1e-5))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = ((-(beta[None] + offsets) * sigma[None]) / gamma[None] + mean[None]) / alpha[None]
    polarity = (gamma > 0).astype(np.uint8)[None].repeat(slices, 0)
    constant = np.where((beta[None] + offsets) >= 0, f32(n + 1), f32(-n - 1))  # gamma = 0: s <= t
    t = np.where(gamma[None] == 0, constant, t).astype(f32)
    return polarity, t


class FusedPoolThreshold(FusedThreshold):
    """A fused downsample tail: ``s`` recovered from the 1x1 conv's output ``alpha * s + b``,
    2x2 max pooling of ``s`` and the thresholds (POOL-2); ``pool_last`` thresholds each position
    first and pools the bits (the wrong order: an OR where polarity 0 needs an AND)."""

    def __init__(self, alpha, bias, polarity, threshold, pool: int, pool_last: bool = False):
        super().__init__(alpha, polarity, threshold)
        self.register_buffer("bias", torch.as_tensor(bias).reshape(1, -1, 1, 1))
        self.pool, self.pool_last = pool, pool_last

    def forward(self, v):
        s = torch.round((v - self.bias) / self.alpha)
        if self.pool and not self.pool_last:
            s = F.max_pool2d(s, self.pool, self.pool)
        bits = super().forward(s * self.alpha)
        if self.pool and self.pool_last:
            bits = SlicePool(self.pool, self.pool)(bits)
        return bits


def fused_downsample_port(net, block: str, polarity, threshold, pool_last: bool = False):
    """``net`` with ``block``'s downsample ``(conv, [pool,] BatchNorm, sign)`` replaced by
    ``Sequential(conv, FusedPoolThreshold)``: the fused module is ``block.downsample.1``."""
    from boolnet_spec.equivalence.pytorch.harness.capture import torch_weight

    module = net.get_submodule(block)
    conv = module.downsample[0]
    pool = 2 if any(isinstance(m, nn.MaxPool2d) for m in module.downsample) else 0
    _, alpha_t = torch_weight(conv)
    fused = FusedPoolThreshold(alpha_t, conv.bias.detach().clone(), polarity, threshold, pool,
                               pool_last)
    module.downsample = nn.Sequential(conv, fused)
    return net
