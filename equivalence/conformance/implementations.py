"""Implementations the kit is run against through its public plug-in points (KIT-4): the
reference itself, the datapath model, our PyTorch BoolNet, and the negative controls.

Each factory is named as ``--boolnet-impl`` names it, e.g.
``boolnet_spec.equivalence.conformance.implementations:reference``.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from boolnet_spec.reference import (
    bconv,
    channels,
    encoding,
    fold,
    head,
    logic,
    maxpool,
    padding,
    slices,
    stem,
    threshold,
    weights,
)

__all__ = ["OP_MODULES", "reference", "datapath", "pytorch", "reference_functions"]

OP_MODULES = (encoding, padding, bconv, channels, logic, maxpool, slices, threshold, weights,
              fold, stem, head)
"""The op modules whose public functions form the per-op protocol (KIT-4)."""


def reference_functions() -> dict[str, object]:
    """Every public function of the reference's op modules, by name."""
    functions = {}
    for module in OP_MODULES:
        for name in module.__all__:
            value = getattr(module, name)
            if callable(value) and not isinstance(value, type):
                functions[name] = value
    return functions


def _run_reference(model_path: Path, images: np.ndarray) -> dict[str, np.ndarray]:
    from boolnet_spec.reference.modelfile import load_model
    from boolnet_spec.reference.network import forward

    logits, trace = forward(load_model(model_path), images, trace=True)
    return {**trace, "logits": logits}


def reference() -> SimpleNamespace:
    """The reference as an implementation: every op function and ``run``."""
    return SimpleNamespace(**reference_functions(), run=_run_reference)


def datapath(pe: int = 64, simd: int = 64) -> SimpleNamespace:
    """The packed-integer datapath model (MACH-1): ``run`` only, every traced tensor."""
    from boolnet_spec.equivalence.datapath.machine import Datapath
    from boolnet_spec.reference.modelfile import load_model

    def run(model_path: Path, images: np.ndarray) -> dict[str, np.ndarray]:
        logits, trace = Datapath(load_model(model_path), pe, simd).run(images, trace=True)
        return {**trace, "logits": logits}

    return SimpleNamespace(run=run)


def datapath_folded() -> SimpleNamespace:
    """The datapath with another folding (PE 8, SIMD 16): the same values (MVU-1)."""
    return datapath(8, 16)


def pytorch() -> SimpleNamespace:
    """Our PyTorch BoolNet, built from the case's float state dict in the authors' layout (a port
    that folds for itself): ``run`` gives the logits."""
    import torch

    from boolnet_spec.equivalence.pytorch.export import torch_model
    from boolnet_spec.equivalence.pytorch.harness import float32_semantics
    from boolnet_spec.reference.architecture import Architecture
    from boolnet_spec.reference.safe_io import read_npy

    def run(model_path: Path, images: np.ndarray) -> dict[str, np.ndarray]:
        case = Path(model_path).parent
        graph = json.loads((case / "model" / "graph.json").read_text(encoding="utf-8"))
        arch = Architecture.from_json(graph["architecture"])
        state = {path.name[:-4]: read_npy(path, path.name)
                 for path in sorted((case / "state_dict").glob("*.npy"))}
        module = torch_model(arch, state, "spec")
        with float32_semantics():
            logits = module(torch.from_numpy(np.ascontiguousarray(images)))
        return {"logits": logits.numpy().astype(np.float64)}

    return SimpleNamespace(run=run)
