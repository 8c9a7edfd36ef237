"""Where float meets integer in a network case (KIT-2): the BOUND-5 running bounds of the head's
real output and the logits for any float32 or binary64 evaluation, and the check that no stem
bit of the case's images is within its bound of flipping."""

from __future__ import annotations

import numpy as np

from boolnet_spec.reference.batchnorm import BatchNorm
from boolnet_spec.reference.errors import DomainError

__all__ = ["float_bounds", "ambiguous_images"]


def _params(model):
    from boolnet_spec.equivalence.pytorch.bounds import BNParams

    batchnorms = {bn.name: bn for state in model.states.values() for bn in state.values()
                  if isinstance(bn, BatchNorm)}

    def params(path: str) -> BNParams:
        bn = batchnorms[path]
        return BNParams(bn.gamma, bn.beta, bn.mean, bn.var, bn.eps)
    return params


def ambiguous_images(model, images: np.ndarray) -> np.ndarray:
    """Per image: whether a stem pre-activation lies within its BOUND-5 bound of a slice offset,
    where a conforming float evaluation may give the other bit."""
    from boolnet_spec.equivalence.pytorch.harness.running import stem_running

    stem = model.nodes[0]
    z0 = stem_running(stem, model.states[stem.name], images, _params(model))
    offsets = model.states[stem.name]["offsets"].astype(np.float64)
    ambiguous = np.abs(z0.value[:, None] + offsets[None, :, None, None, None]) \
        <= z0.error[:, None]
    return ambiguous.reshape(len(images), -1).any(axis=1)


def float_bounds(model, images: np.ndarray, trace: dict) -> dict[str, np.ndarray]:
    """``{block output: bound, "logits": bound}``; ``ERROR_IF`` a stem pre-activation lies within
    its bound of a slice offset, where a float evaluation may give the other bit
    (:class:`~boolnet_spec.reference.errors.DomainError`)."""
    from boolnet_spec.equivalence.pytorch.bounds import U32, U64, Running, conv_error
    from boolnet_spec.equivalence.pytorch.harness.running import classifier_running

    params = _params(model)
    ambiguous = ambiguous_images(model, images)
    if ambiguous.any():
        raise DomainError("images", "stem pre-activations farther than their float bound from "
                          "every slice offset", f"{int(ambiguous.sum())} ambiguous image(s)",
                          "KIT-2")
    node = model.nodes[-1]
    state = model.states[node.name]
    alpha = state["alpha"]
    n = int(np.prod(state["weight"].shape[1:]))
    s2, x = trace[node.outputs[0]], trace[node.inputs[0]]
    conv = Running(s2.astype(np.float64) * alpha.astype(np.float64)[None, :, None, None],
                   conv_error(n, alpha)[None, :, None, None])
    mean = Running(np.where(x == 1, 1.0, -1.0).mean(axis=1), U32 + U64)
    z = conv.batchnorm(params(state["bn2"].name), state["bn2"]).add(
        mean.batchnorm(params(state["bn3"].name), state["bn3"]))
    return {node.outputs[1]: z.error, "logits": classifier_running(z, state).error}
