"""A minimal transcription of the authors' training-mode BoolNet and BaseNet (HARNESS-12).

Transcribed, not copied, from hpi-xnor/BoolNet at commit 2231bd0 (no licence file): the four
experiment folders' ``src/models/modules.py``, ``src/models/boolnet.py`` and ``src/main.py``.
Only what the published runs use is kept (``--binary_downsample``, ``GhostBNSign(binary=False)``,
uniform slices); stage widths and block counts are parameters so that tests run at small scale.
Every module keeps the authors' name and state-dict layout, so both models load one state dict.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["binarize", "BConv", "MultiBConv", "GhostSign", "GhostBNSign", "BasicBlock",
           "AuthorsNet", "set_temperature_imagenet"]


def binarize(x, temperature=1.0, progressive=False, scale=False):
    # modules.py binarize: STE through clamp, non-detached mean|W|, hardtanh(x/T), sign in eval
    replace = x.clamp(-1, 1)
    mean = abs(x).mean(-1, keepdim=True).mean(-2, keepdim=True).mean(-3, keepdim=True) \
        if scale else 1.0
    with torch.no_grad():
        binary = F.hardtanh(x / max(temperature, 0.0))
        if not progressive:
            binary = binary.sign()
    return ((binary - replace).detach() + replace).mul(mean)


class BConv(nn.Module):
    """modules.py BConv: binary conv over all slice-channels, with a zero-initialised bias."""

    def __init__(self, in_channels, out_channels, kernel_size=1, stride=1, padding=0,
                 dilation=1, groups=1):
        super().__init__()
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.register_buffer("temperature", torch.Tensor([1]))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels // groups,
                                               kernel_size, kernel_size))
        # modules.py BConv.__init__: ReplicationPad2d, identity when padding is 0
        self.replicatepad = nn.ReplicationPad2d((padding,) * 4) if padding > 0 else (lambda x: x)

    def update_temperature(self):
        self.temperature *= 0.965

    def forward(self, x):
        weight = binarize(self.weight, self.temperature, progressive=self.training, scale=True)
        x = self.replicatepad(x.view(x.size(0), -1, x.size(-2), x.size(-1)))
        return F.conv2d(x, weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MultiBConv(nn.Module):
    """modules.py MultiBConv: grouped binary conv over the middle slices, replication padding."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=1,
                 dilation=1, groups=1):
        super().__init__()
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size,
                                               kernel_size))
        self.bias = None
        self.replicatepad = nn.ReplicationPad2d((padding,) * 4) if padding > 0 else (lambda x: x)
        self.register_buffer("temperature", torch.Tensor([1]))

    def update_temperature(self):
        self.temperature *= 0.965

    def forward(self, x):
        n, s, _, h, w = x.size()
        weight = binarize(self.weight, self.temperature, progressive=self.training, scale=True)
        if self.groups > 1:
            if s > self.groups:  # MultiBConv.forward: slices [(S-g)//2, (S+g)//2)
                x = x[:, int((s - self.groups) // 2):int((s + self.groups) // 2)]
        else:
            x = x[:, s // 2].unsqueeze(1)
        x = self.replicatepad(x.view(n, -1, h, w))
        return F.conv2d(x, weight, self.bias, self.stride, 0, self.dilation, self.groups)


class GhostSign(nn.Module):
    """modules.py GhostSign (mode "uniform"): sign(x + o_j), offsets i/(k+1), STE via clamp."""

    def __init__(self, channels, slices=4):
        super().__init__()
        self.k = slices // 2
        self.register_buffer("temperature", torch.Tensor([1]))
        lows = [1.0 / float(self.k + 1) * i for i in range(-self.k, 0)]
        highs = [1.0 / float(self.k + 1) * i for i in range(1, self.k + 1)]
        # GhostSign.__init__: plain attributes (not buffers), float32 via torch.Tensor
        self.slice_1 = torch.Tensor(lows).reshape(1, -1, 1, 1, 1) if self.k else \
            torch.zeros(1, 1, 1, 1, 1)
        self.slice_2 = torch.Tensor(highs).reshape(1, -1, 1, 1, 1) if self.k else \
            torch.zeros(1, 1, 1, 1, 1)

    def update_temperature(self):
        self.temperature *= 0.965

    def forward(self, x):
        offsets = torch.cat((self.slice_1, self.slice_2), dim=1) if self.k else self.slice_1
        return binarize(x.unsqueeze(1) + offsets, self.temperature, progressive=False,
                        scale=False)


class GhostBNSign(nn.Module):
    """modules.py GhostBNSign(binary=False): BN1(x) + BN_las(dwconv3x3(BN2(x))), then GhostSign."""

    def __init__(self, channels, slices=4):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.adaptive_zero_points = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False, groups=channels),
            nn.BatchNorm2d(channels))
        self.GhostSign = GhostSign(channels, slices=slices)
        self.register_buffer("temperature", torch.Tensor([1]))

    def update_temperature(self):
        self.temperature *= 0.965

    def forward(self, x):
        z = self.bn1(x)
        y = self.bn2(x)
        z = z.add(self.adaptive_zero_points(y))
        return self.GhostSign(z)


def logic_or(x, y):
    # boolnet.py OR: ((x+1)/2 + (y+1)/2).clamp(0, 1) * 2 - 1, in the authors' operation order
    y_l = y.add(1).div(2)
    x_l = x.add(1).div(2)
    return x_l.add(y_l).clamp(0, 1).mul(2).add(-1)


def logic_xnor(x, y):
    return x.mul(y)  # boolnet.py XNOR


class BasicBlock(nn.Module):
    """boolnet.py BasicBlock of the BoolNet folders (``boolnet``) or the BaseNet folders."""

    def __init__(self, in_channels, out_channels, stride, dilation, downsample, max_slices,
                 boolnet):
        super().__init__()
        self.boolnet = boolnet
        # BoolNet BasicBlock.__init__: conv1 reads 2*Cin when the width changes
        self.in_channels = 2 * in_channels if boolnet and in_channels != out_channels \
            else in_channels
        padding = dilation if boolnet else 1  # BaseNet pads 1, BoolNet pads `dilation`
        self.conv1 = MultiBConv(self.in_channels, out_channels, 3, stride, padding, dilation,
                                groups=max_slices)
        self.conv2 = MultiBConv(out_channels, out_channels, 3, 1, padding, dilation,
                                groups=max_slices)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.ghostsign1 = GhostSign(out_channels, slices=max_slices)
        self.ghostsign2 = GhostSign(out_channels, slices=max_slices)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.downsample = downsample
        self.last_block = False

    def forward(self, input):
        n, s, c, h, w = input.size()
        split = self.boolnet and c // self.in_channels == 2
        if split:  # BoolNet BasicBlock.forward: two separate contiguous copies of the half
            residual = input[:, :, :c // 2].contiguous()
            x = input[:, :, :c // 2].contiguous()
        else:
            residual = x = input
        if self.downsample is not None:
            residual = self.downsample(residual.view(n, -1, h, w))
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.ghostsign1(x)
        x = logic_xnor(x, residual)
        if self.last_block:
            z = self.bn2(self.conv2(x))
            return z + self.bn3(x.mean(1))
        z = self.ghostsign2(self.bn2(self.conv2(x)))
        if not self.boolnet:
            return logic_or(z, residual)
        n, s, _, h, w = z.size()
        z_1 = logic_or(z, residual).unsqueeze(2)
        z_2 = input[:, :, c // 2:].unsqueeze(2) if split else residual.unsqueeze(2)
        z = torch.cat((z_1, z_2), dim=2)  # boolnet.py: concatenate, then channel shuffle
        return z.transpose(2, 3).contiguous().view(n, s, -1, h, w).contiguous()


class AuthorsNet(nn.Module):
    """boolnet.py BoolNet (both families), widths and block counts scaled; binary downsample."""

    def __init__(self, widths, layers, num_classes, max_slices, boolnet, dilate_last=False):
        super().__init__()
        self.boolnet, self.max_slices = boolnet, max_slices
        self.inplanes, self.dilation = widths[0], 1
        self.conv1 = nn.Conv2d(3, self.inplanes, 7, 2, 3, bias=False)
        self.maxpool = nn.Sequential(nn.BatchNorm2d(self.inplanes), nn.MaxPool2d(3, 2, 1))
        self.ghostbnsign = GhostBNSign(self.inplanes, slices=max_slices) if boolnet else \
            nn.Sequential(nn.BatchNorm2d(self.inplanes), GhostSign(self.inplanes, max_slices))
        count = self.stages = len(widths)
        for stage, (planes, blocks) in enumerate(zip(widths, layers, strict=True), 1):
            dilate = dilate_last and stage == count and stage > 1
            setattr(self, f"layer{stage}", self._make_layer(planes, blocks, 1 if stage == 1
                                                            else 2, dilate))
        getattr(self, f"layer{count}")[-1].last_block = True
        self.prelu2 = nn.PReLU(widths[-1])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[-1], num_classes)

    def _make_layer(self, planes, blocks, stride, dilate):
        # boolnet.py BoolNet._make_layer, binary_downsample=True
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes:
            fan_in = self.inplanes * self.max_slices * (2 if self.boolnet else 1)
            pool = [nn.MaxPool2d(2, 2)] if stride == 2 or not self.boolnet else []
            downsample = nn.Sequential(BConv(fan_in, planes, 1, 1, 0), *pool,
                                       nn.BatchNorm2d(planes),
                                       GhostSign(planes, slices=self.max_slices))
        layers = [BasicBlock(self.inplanes, planes, stride, previous_dilation, downsample,
                             self.max_slices, self.boolnet)]
        self.inplanes = planes
        layers += [BasicBlock(self.inplanes, planes, 1, self.dilation, None, self.max_slices,
                              self.boolnet) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.ghostbnsign(self.maxpool(self.conv1(x)))
        for stage in range(1, self.stages + 1):
            x = getattr(self, f"layer{stage}")(x)
        x = self.prelu2(x)
        return self.fc(self.avgpool(x).contiguous().view(x.size(0), -1))


def set_temperature_imagenet(net, iteration: int, freq: int = 1000):
    """main.py set_temperature_imagenet: every ``freq`` iterations (not at 0), every binary
    module's temperature is multiplied by 0.965, before that iteration's forward."""
    temperature = torch.ones(1)
    for module in net.modules():
        if isinstance(module, (BConv, MultiBConv, GhostBNSign, GhostSign)):
            if iteration != 0 and iteration % freq == 0:
                module.update_temperature()
            temperature = torch.Tensor([module.temperature])
    return temperature
