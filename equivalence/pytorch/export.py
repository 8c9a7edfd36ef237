"""Export: a PyTorch BoolNet in eval mode to the reference model, and checkpoints to state dicts.

.. req:: EXPORT-1

   The export of a PyTorch module whose ``state_dict()`` has the authors' layout (ARCH-7) is the
   folded model that BUILD-1 to BUILD-3 build from that state dict, tensor for tensor. It describes
   the module's eval-mode computation (running statistics, ``sign`` weights); the module's mode,
   gradients and device do not matter, and the module is not changed.

.. req:: EXPORT-2

   Checkpoints are read as SD-1 reads state dicts (``.pth``/``.pt`` with
   ``torch.load(weights_only=True)``, possibly nested under ``network``, ``state_dict`` or
   ``model`` and with ``module.`` prefixes; ``.safetensors``; ``.npz``), so a pickle that would
   execute code is refused with a :class:`~boolnet_spec.reference.errors.FormatError` and never
   executed.

.. req:: EXPORT-3

   The architecture of a checkpoint is the named configuration (ARCH-1) scaled to the state dict:
   stage widths from ``layerL.0.conv1.weight``, blocks per stage from the ``layerL.b`` prefixes,
   classes from ``fc.weight``, and the image size given (default: the configuration's). The state
   dict must then pass SD-2.
"""

from __future__ import annotations

import os
import re

import numpy as np

from boolnet_spec.reference.architecture import Architecture, architecture
from boolnet_spec.reference.build import build_model
from boolnet_spec.reference.errors import BoundError, FormatError, error_if
from boolnet_spec.reference.limits import MAX_BLOCKS, MAX_STAGES, check_limit
from boolnet_spec.reference.network import Model
from boolnet_spec.reference.statedict import check_state_dict, load_state_dict

__all__ = ["state_dict_arrays", "export_model", "load_checkpoint", "infer_architecture",
           "torch_model"]

def state_dict_arrays(module) -> dict[str, np.ndarray]:
    """``module.state_dict()`` as NumPy arrays (copies, on the CPU)."""
    return {key: value.detach().cpu().numpy().copy()
            for key, value in module.state_dict().items()}


def export_model(module, arch: Architecture) -> Model:
    """The folded reference model of a PyTorch BoolNet (EXPORT-1)."""
    return build_model(arch, state_dict_arrays(module))


def load_checkpoint(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The state dict of a checkpoint file (EXPORT-2)."""
    return load_state_dict(path)


def _index(text: str, limit: int, what: str) -> int:
    """A stage or block number of a key, bounded before it is converted (LIMIT-1)."""
    error_if(len(text.lstrip("0")) > len(str(limit)), BoundError, what,
             f"at most {limit} (the limit of LIMIT-1)", f"a number of {len(text)} digits",
             "LIMIT-1")
    return check_limit(int(text), limit, what)


def infer_architecture(config: str, state_dict: dict[str, np.ndarray],
                       image_size: int | None = None) -> Architecture:
    """The configuration ``config`` scaled to the shapes of ``state_dict`` (EXPORT-3)."""
    base = architecture(config)
    stages: dict[int, set[int]] = {}
    for key in state_dict:
        match = re.match(r"layer(\d+)\.(\d+)\.", key)
        if match:
            stage = _index(match[1], MAX_STAGES, f"checkpoint key {key[:80]!r}: stage")
            block = _index(match[2], MAX_BLOCKS - 1, f"checkpoint key {key[:80]!r}: block index")
            stages.setdefault(stage, set()).add(block)
    count = len(stages)
    error_if(count == 0 or sorted(stages) != list(range(1, count + 1)), FormatError,
             "checkpoint", "blocks named layer1.0, layer2.0, ... (the authors' layout)",
             lambda: sorted(stages), "EXPORT-3")
    widths, blocks = [], []
    for stage in range(1, count + 1):
        key = f"layer{stage}.0.conv1.weight"
        error_if(key not in state_dict or np.asarray(state_dict[key]).ndim != 4, FormatError,
                 key, "a rank-4 weight", lambda: "missing" if key not in state_dict else
                 list(np.asarray(state_dict[key]).shape), "EXPORT-3")
        widths.append(int(np.asarray(state_dict[key]).shape[0]))
        blocks.append(max(stages[stage]) + 1)
    fc = np.asarray(state_dict.get("fc.weight", np.zeros((0, 0))))
    error_if(fc.ndim != 2 or fc.shape[0] < 1, FormatError, "fc.weight", "shape [classes, C]",
             list(fc.shape), "EXPORT-3")
    arch = base.scaled(widths=tuple(widths), blocks=tuple(blocks), classes=int(fc.shape[0]),
                       image_size=image_size)
    if arch != base:
        arch = arch.scaled(name=f"{base.name}-scaled")
    check_state_dict(arch, state_dict)
    return arch


def torch_model(arch: Architecture, state_dict: dict[str, np.ndarray],
                sign_mode: str = "official"):
    """A :class:`~boolnet_spec.equivalence.pytorch.model.BoolNet` holding ``state_dict`` (strict),
    in eval
    mode."""
    import torch

    from boolnet_spec.equivalence.pytorch.model import BoolNet

    model = BoolNet(arch, sign_mode=sign_mode)
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v))
                           for k, v in state_dict.items()}, strict=True)
    return model.eval()
