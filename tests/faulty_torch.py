"""Faulty PyTorch BoolNet implementations (issue 11): each patches one bug into a clean
:class:`~boolnet_spec.equivalence.pytorch.model.BoolNet` and returns it."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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


__all__ = ["zero_padding", "torch"]
