"""Checking a whole trace (KIT-9): every named tensor in node order, the first divergence, and
whether that node is wrong on its own inputs or an earlier divergence propagated."""

from __future__ import annotations

from boolnet_spec.equivalence.conformance.compare import compare_output

__all__ = ["check_trace"]


def check_trace(model_path, input_path, trace_path) -> dict:
    """The KIT-9 report of the trace in ``trace_path`` of ``model_path`` on ``input_path``."""
    from boolnet_spec.equivalence.conformance.bounds import float_bounds
    from boolnet_spec.reference.modelfile import load_model
    from boolnet_spec.reference.network import KERNELS, forward
    from boolnet_spec.reference.safe_io import read_npy, read_npz

    model = load_model(model_path)
    images = read_npy(input_path, "--input")
    theirs = read_npz(trace_path, "--trace")
    logits, expected = forward(model, images, trace=True)
    expected["logits"] = logits
    bounds = float_bounds(model, images, expected)
    rows, first = [], None
    for node in model.nodes:
        for tensor in node.outputs:
            row = {"tensor": tensor, "node": node.name,
                   "mode": "bounded" if tensor in bounds else "exact",
                   "elements": int(expected[tensor].size), "differing": None}
            rows.append(row)
            if tensor not in theirs:
                row["status"] = "not_run"
                continue
            difference = compare_output(theirs[tensor], expected[tensor], row["mode"],
                                        bounds.get(tensor))
            row["status"] = "equal" if difference is None else "differs"
            row["differing"] = 0 if difference is None else difference.count
            if difference is not None:
                row["reason"] = str(difference)
                if first is None:
                    first = {"tensor": tensor, "node": node.name, **difference.to_json(),
                             "verdict": _rerun(node, model, images, theirs, tensor,
                                               KERNELS, row["mode"], bounds.get(tensor))}
    return {"tensors": rows, "first_divergence": first,
            "unknown_tensors": sorted(set(theirs) - set(expected)),
            "ok": first is None and "logits" in theirs}


def _rerun(node, model, images, theirs, tensor, kernels, mode: str, bound) -> str:
    """Run the reference node on the implementation's own inputs (KIT-9)."""
    inputs = []
    for name in node.inputs:
        if name == "image":
            inputs.append(images)
        elif name in theirs:
            inputs.append(theirs[name])
        else:
            return f"cannot tell: the trace lacks the node's input {name}"
    try:
        outputs = kernels[node.op].run(node, model.states[node.name], *inputs)
    except Exception as error:  # their inputs may not even be valid bits
        return f"this node's inputs are invalid ({type(error).__name__}: {error})"
    mine = dict(zip(node.outputs, outputs, strict=True))[tensor]
    if compare_output(theirs[tensor], mine, mode, bound) is None:
        return "the node is right on its own inputs: an earlier divergence propagated"
    return "this node is wrong: the reference on the same inputs gives another result"
