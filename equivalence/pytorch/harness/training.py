"""Training conformance (HARNESS-12): a port's train-mode forward and parameter gradients
against this package's PyTorch BoolNet."""

from __future__ import annotations

import copy

import numpy as np

from boolnet_spec.equivalence.pytorch.harness.mapping import mapped

__all__ = ["compare_training"]


def _run(module, images, labels):
    import torch
    import torch.nn.functional as F

    module.train()
    module.zero_grad(set_to_none=True)
    with torch.backends.nnpack.flags(enabled=False):
        logits = module(torch.from_numpy(np.ascontiguousarray(images, np.float32)))
        loss = F.cross_entropy(logits, torch.from_numpy(np.asarray(labels, np.int64)))
        loss.backward()
    return logits.detach().numpy(), float(loss.detach())


def compare_training(port, reference, images: np.ndarray, labels: np.ndarray,
                     module_map=None, tolerance: float = 0.0) -> dict:
    """HARNESS-12: train-mode logits, loss and every parameter's gradient of the cross-entropy
    loss on ``(images, labels)``, of ``port`` (under ``module_map``, HARNESS-11) and
    ``reference``, both holding the same parameters. Neither module is changed (copies run)."""
    port, reference = copy.deepcopy(port), copy.deepcopy(reference)
    view = mapped(port, module_map)
    ours = dict(reference.named_parameters())
    theirs = dict(view.named_parameters())
    logits_port, loss_port = _run(port, images, labels)
    logits_ours, loss_ours = _run(reference, images, labels)
    rows, differing = [], []
    for name, parameter in ours.items():
        other = theirs.get(name)
        if other is None or other.grad is None or parameter.grad is None:
            row = {"parameter": name, "max_abs_diff": None,
                   "equal": other is not None and other.grad is None and parameter.grad is None}
        else:
            diff = float((other.grad.double() - parameter.grad.double()).abs().max()) \
                if other.grad.shape == parameter.grad.shape else float("inf")
            row = {"parameter": name, "max_abs_diff": diff, "equal": diff <= tolerance}
        rows.append(row)
        if not row["equal"]:
            differing.append(name)
    forward = float(np.abs(logits_port.astype(np.float64) - logits_ours).max()) \
        if logits_port.shape == logits_ours.shape else float("inf")
    return {"forward_max_abs_diff": forward, "forward_equal": forward <= tolerance,
            "loss": [loss_port, loss_ours], "tolerance": tolerance, "parameters": rows,
            "differing_parameters": differing,
            "first_differing_parameter": differing[0] if differing else None,
            "passed": forward <= tolerance and not differing}
