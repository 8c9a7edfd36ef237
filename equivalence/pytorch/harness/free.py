"""Free running (HARNESS-5): the reference forward and PyTorch on the same images."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from boolnet_spec.equivalence.pytorch.harness.teacher import TeacherForced, bits_of
from boolnet_spec.reference.network import Model, forward


def free_running(model: Model, images: np.ndarray, tf: TeacherForced,
                  progress: Callable[[str], None] | None) -> dict:
    reference_logits, trace = forward(model, images, trace=True, progress=progress)
    layers = []
    for node in model.nodes:
        for name in node.outputs:
            if model.shapes[name][0] != "bits" or name in tf.derived:
                continue
            torch_values = tf.torch_value(name)
            differing = (torch_values == 0) | (bits_of(torch_values) != trace[name])
            layers.append({"layer": name, "elements": int(differing.size),
                           "differing": int(differing.sum())})
    torch_top1 = tf.logits.argmax(axis=1)
    reference_top1 = reference_logits.argmax(axis=1)
    difference = np.abs(tf.logits.astype(np.float64) - reference_logits)
    bits_equal = all(r["differing"] == 0 for r in layers)
    return {"layers": layers, "top1_agreement": float((torch_top1 == reference_top1).mean()),
            "top1_torch": torch_top1.tolist(), "top1_reference": reference_top1.tolist(),
            "logits_max_abs_diff": float(difference.max()),
            "logits_bound_max": None if tf.head_bound is None else float(tf.head_bound.max()),
            "logits_within_bound": bool((difference <= tf.head_bound).all())
            if bits_equal and tf.head_bound is not None else None}
