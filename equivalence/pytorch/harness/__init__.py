"""Layerwise equivalence harness: a PyTorch BoolNet and the folded reference, bit by bit.

The harness runs any PyTorch module whose submodules carry the authors' module paths (this
package's :class:`~boolnet_spec.equivalence.pytorch.model.BoolNet` or the authors' own classes)
once, records
the tensors its forward hooks see, and checks every node of the exported reference model
(EXPORT-1) against them.

.. req:: HARNESS-1

   Capture. The module runs in eval mode under ``torch.no_grad()``, with NNPACK disabled and float32
   convolutions and matrix products at full precision (BOUND-1); its mode and settings are
   restored afterwards. Forward hooks record, by module path: the output of ``ghostbnsign`` and
   the input of its quantizer (``ghostbnsign.GhostSign`` or ``ghostbnsign.1``); per block ``p``
   its input and output, the input and output of ``p.conv1`` and ``p.conv2``, the outputs of
   ``p.bn1``, ``p.bn2``, ``p.ghostsign1``, ``p.ghostsign2``, ``p.downsample`` and of the
   downsample's convolution and BatchNorm; and the logits. The logic
   shortcuts are functions in the authors' code, so no hook sees them: the XNOR result is the input
   of ``p.conv2``, the OR result is the channels of the block output that do not hold the carried
   half (BoolNet; the even channels of CHAN-3 unless the interleave is swapped, HARNESS-10) or
   the block output itself (BaseNet), and the split half the input of ``p.conv1``. ``ERROR_IF`` a
   module path is missing (:class:`~boolnet_spec.reference.errors.FormatError`).

.. req:: HARNESS-2

   Teacher forcing. Each node of the reference model runs on the bits of the tensors PyTorch fed
   to the corresponding module; a torch value ``v`` becomes the bit ``[v >= 0]`` (ENC-2), so a
   ternary 0 becomes bit 1 and is counted. Each output is compared element by element with what
   PyTorch produced, so a disagreement is localised to one node.

.. req:: HARNESS-3

   Classes of an element of a bit tensor. ``ternary``: PyTorch produced 0, or PyTorch disagrees and
   a ternary 0 in the element's inputs (or a zero weight sign) changed what it computed, and its
   value is what PyTorch's own formula gives on those inputs (for a binary layer: its bit is the
   sign of ``y*_j`` at PyTorch's own accumulator, or that value lies within ``B``). ``equal``: the
   bits agree. ``float_ambiguous``: they disagree and ``|y*_j(s)| <= B(s)`` (BOUND-4), decided
   exactly (EXACT-2), or, for the stem, the reference pre-activation lies within its running bound
   (BOUND-5) of ``-o_j``. ``mismatch``: every other disagreement, and every value that is not -1,
   0 or +1: a bug, not rounding.

.. req:: HARNESS-4

   Real tensors. A binary convolution's float output is ``equal`` when it lies within ``E`` of
   ``alpha_t*s + b`` (BOUND-1) at PyTorch's exact accumulator ``s`` and that accumulator equals the
   reference's, ``ternary`` when they differ because of a ternary input or a zero weight sign,
   else ``mismatch``. The head's real output and the logits are ``equal`` when they lie within
   their running bound (BOUND-5) of the reference's, ``ternary`` when a ternary 0 (an input or a
   weight sign) entered them and they lie within the same bound of PyTorch's own formula
   evaluated on its ternary values, else ``mismatch``.

.. req:: HARNESS-5

   Free running. The reference forward pass (NET-7) and PyTorch's run on the same images; the
   report gives, per bit tensor, the number of elements whose bits differ (a torch 0 counts), the
   largest logit difference and the largest bound, and the top-1 agreement: the fraction of
   images whose arg-max logits are equal. Free-running differences propagate, so they are counted,
   not classified.

.. req:: HARNESS-6

   Report: a summary with the counts per class (``mismatch``, ``ternary``, ``float_ambiguous``,
   ``equal``) and ``top1_agreement``; one row per compared tensor with its elements, counts and
   smallest margin (the least ``|y*_j(s)|`` over its elements, in binary64); and the first
   disagreements, each with its tensor, index, accumulator ``s`` (and PyTorch's own), threshold
   unit, PyTorch's conv, BatchNorm and pre-sign values, the exact value ``y*_j(s)`` (binary64),
   the bound and the class. The comparison passes exactly when there is no ``mismatch``.

.. req:: HARNESS-7

   Supplied folds. When the implementation supplies its own folded model (``model=``, or
   ``--model=FILE`` of ``compare`` and ``certify``), every
   threshold unit of it is compared with the exact fold (FOLD-2, EXACT-2) of the module's own
   BatchNorm parameters, weights and biases (the export, EXPORT-1): a ``units`` row per binary
   layer (``<node>.units``, one element per unit ``[slice, channel]``) counts a ``mismatch`` for
   every unit that differs, naming the channel, the slice, the supplied unit and the exact one,
   and for every unit that is not canonical (THR-2). Teacher forcing still runs the supplied
   model, but a disagreeing element whose reference bit is not the exact fold's bit at its
   accumulator is a ``mismatch``, never ``float_ambiguous``: only differences the float bounds
   of BOUND-4 can cause are ``float_ambiguous``. Certification does the same for every layer
   (CERT-3). Loading a model file as the reference keeps the loader's errors (MODEL-1, THR-4).

.. req:: HARNESS-8

   Strict ternary. With ``ternary="error"`` (``compare --ternary=error``), or when any binary
   module of the implementation declares ``sign_mode = "spec"`` (it promises ENC-2, which has no
   0), every torch 0 in a bit tensor is a ``mismatch`` at that tensor, listed with the reason
   "a torch 0 in a bit tensor"; a 0 that propagates (through XNOR, say) is a ``mismatch`` again
   at every bit tensor it reaches, and the first such tensor in node order, listed first, is
   where it appeared. Disagreements a 0 explains in real tensors keep their class. The default,
   ``ternary="count"``, classifies and counts a 0 as ``ternary`` (HARNESS-3). ``ERROR_IF`` another
   mode (:class:`~boolnet_spec.reference.errors.DomainError`). The report's settings give the
   mode in force.

.. req:: HARNESS-9

   Classification cost. Disagreements are classified as whole arrays, never element by element:
   the class of a disagreeing element of a binary layer depends only on its channel, slice,
   accumulators ``s`` and PyTorch's ``s``, and the two bits, so each distinct combination is
   decided once, exactly (EXACT-2), and the class is broadcast to its elements; the stem is
   decided in binary64 except where the distance and the bound lie within a relative ``2**-50``
   of each other, which are decided exactly; report entries are built only for the listed
   disagreements (``limit``). The classes are those of HARNESS-3, unchanged. A gross bug (every
   element of every binary layer disagreeing) then costs at most twice a clean run.

.. req:: HARNESS-10

   Localisation and structure. Split, XNOR, OR and shuffle are each checked at their own tensor:
   the OR result is read from the parity of the block output's channels that does not hold the
   carried half (which its own hook gives), so a swapped interleave is a ``mismatch`` at the
   shuffle (the block output) and not at the OR. The downsample branch must be ``(binary conv,
   MaxPool2d, BatchNorm2d, sign)`` where the model pools (POOL-2) and ``(binary conv,
   BatchNorm2d, sign)`` where it does not; ``(binary conv, BatchNorm2d, sign, MaxPool2d)``, a
   wrong order of operations, is accepted and every disagreeing bit of the downsample output is
   a ``mismatch`` there, with the reason. Any other branch, or pooling where the model has none,
   is refused before PyTorch runs: ``ERROR_IF``
   (:class:`~boolnet_spec.reference.errors.FormatError`, naming the node, what was expected and
   the module types found), never a NumPy or attribute error.

.. req:: HARNESS-11

   Module maps. ``compare(..., module_map=M)`` and ``certify(..., module_map=M)`` take a map
   ``M`` from the authors' module-path prefixes to the implementation's (a dict, or a JSON or TOML
   file holding it at top level or under ``paths``; ``""`` is the root, so ``{"": "net"}``
   unwraps a wrapper). Each module path and state-dict key is translated by its longest mapped
   prefix of whole dotted components, both ways; the module's own forward runs unchanged, and
   every rule of HARNESS-1 to HARNESS-10 then applies under the authors' paths. The authors' own
   modules need no map. ``ERROR_IF`` the map is not a table of strings or its file cannot be
   read (:class:`~boolnet_spec.reference.errors.FormatError`); a path still missing after the
   translation is HARNESS-1's error.

.. req:: HARNESS-12

   Training conformance. ``compare_training(port, ours, images, labels, module_map=None,
   tolerance=0.0)`` runs copies of a port and of this package's BoolNet (TORCH-1 to TORCH-4),
   holding the same parameters, in train mode on the same images, takes the cross-entropy loss
   of ``labels`` and back-propagates. It reports the largest difference of the train-mode
   logits and, for every parameter of ours (under the authors' names, HARNESS-11), the largest
   difference of its gradient; a parameter is ``equal`` when that difference is at most
   ``tolerance`` (0, bit for bit, on the CPU, where the computation is deterministic) and the
   first differing parameter, in parameter order, is where a port's surrogate, straight-through
   estimator or temperature departs from ours. NNPACK is off. The modules are not changed.

   Ours against the authors. This package's BoolNet reproduces the authors' training-mode
   modules (hpi-xnor/BoolNet at commit 2231bd0, the four experiment folders: ``binarize`` with
   progressive ``hardtanh(W / T)``, its straight-through gradient and the non-detached mean,
   ``GhostSign`` with ``torch.sign`` zeros, ``MultiBConv``, ``BConv`` with bias, replication
   padding, the logic shortcuts, split and shuffle, the downsample branch, the stem with local
   adaptive shifting and the head) bit for bit: loaded with one state dict and run in train mode
   on the same images, the logits, the cross-entropy loss and the gradient of every parameter
   are equal with ``tolerance = 0``, at ``T = 1`` and after every step of the authors' schedule
   (``set_temperature_imagenet``: before iteration ``i``, when ``i != 0`` and ``i % every == 0``,
   every binary module's ``T`` is multiplied by 0.965 in float32), whose temperature buffers ours
   reproduce exactly (TORCH-1). No bound is needed: the operation order is the authors'.

.. req:: HARNESS-13

   Structure. Before PyTorch runs, every module the harness reads is checked under the authors'
   paths (after HARNESS-11's translation): the stem's ``conv1`` (``torch.nn.Conv2d``), its
   BatchNorms (``maxpool.0``; BoolNet ``ghostbnsign.bn1``, ``ghostbnsign.bn2`` and
   ``ghostbnsign.adaptive_zero_points.1``, whose ``.0`` is a ``Conv2d``; BaseNet
   ``ghostbnsign.0``) and its sign module; per block ``conv1`` and ``conv2`` (a binary
   convolution: a rank-4 ``weight`` and a ``temperature``), ``bn1`` and ``bn2``
   (``torch.nn.BatchNorm2d`` with affine parameters and running statistics), ``ghostsign1`` and,
   except in the last block, ``ghostsign2`` (a sign module: not ``Identity``, a BatchNorm, a
   convolution, ``Linear``, ``MaxPool2d`` or ``Sequential``), ``bn3`` in the last block, the
   downsample branch where the architecture has one (HARNESS-10, then its convolution,
   BatchNorm and sign; for a fused node, HARNESS-14, its module replaces the BatchNorm, the
   sign and the downsample's pooling); ``prelu2`` (``PReLU``) and ``fc`` (``Linear``).
   ``ERROR_IF`` one is missing or of another kind
   (:class:`~boolnet_spec.reference.errors.FormatError` naming the module path, the
   implementation's own path under a map, what was expected with the node it serves, and the
   type found), never a NumPy, attribute or PyTorch error. ``certify`` checks the same.

.. req:: HARNESS-14

   Fused threshold modules. A module map (HARNESS-11) may hold, beside its ``paths``, a table
   ``fused`` from a block's binary layer (``layerL.b.conv1``, ``layerL.b.conv2`` or
   ``layerL.b.downsample``) to ``{module, threshold, polarity}``: the implementation's path of
   a module that replaces that layer's BatchNorm and sign, reading the convolution's output and
   returning the layer's bits ``[N, S, C, H, W]``, and the names (default ``threshold`` and
   ``polarity``) of its ``[S, C]`` attributes: integer or float thresholds ``t`` on the
   accumulator ``s`` and polarities (1: ``s >= t``, 0: ``s <= t``). For the downsample branch
   the module replaces its max pooling too: it reads the 1x1 convolution's output (bias
   included) and applies each unit to the window's largest accumulator (POOL-2: the OR of the
   window's bits for polarity 1, the AND for polarity 0); its convolution keeps the authors'
   path ``layerL.b.downsample.0``. It needs the float state dict in the authors' layout
   (``state_dict=``, ``--state-dict``), from which the reference model is built. Each held
   threshold is read at its exact value (EXACT-1), the function it computes on ``D_n`` is taken
   to its canonical unit (THR-2) and compared with the exact fold (FOLD-2, EXACT-2) of the state
   dict's BatchNorm, weights and (downsample) bias, the BatchNorm being ``bnK`` or the
   downsample's ``downsample.1`` (``downsample.2`` after its pooling): a ``<node>.units`` row
   counts a ``mismatch`` per differing unit, naming the channel, the slice, the held threshold,
   the unit it computes and the exact one (as HARNESS-7). The module's output is that node's
   bit tensor (``layerL.b.ghostsignK`` or ``layerL.b.downsample``), teacher-forced as
   HARNESS-2; a disagreement there is a ``mismatch`` unless a ternary 0 moved PyTorch's
   accumulator and the module's own unit gives its bit (``ternary``): a threshold on the
   accumulator leaves no float32 ambiguity. A downsample mismatch whose bit is the OR over the
   window of the module's per-position bits is reported with that reason (pooling after the
   threshold). The stem cannot be fused: its BatchNorm-sign acts on real convolution and
   pooling outputs, not on an integer accumulator, so it has no threshold unit; nor can the
   last block's ``conv2``, which feeds the real-valued head. ``ERROR_IF`` the map's file
   exceeds 1 MiB or 4096 entries, a path exceeds 1000 characters
   (:class:`~boolnet_spec.reference.errors.BoundError`), a table, node, field or value is not as
   above, or a fused node is not a thresholded binary layer of the architecture (the stem, the
   head's ``conv2``, a downsample the block does not have;
   :class:`~boolnet_spec.reference.errors.FormatError`, naming the file, the field and the
   value), fused modules come without a state dict
   (:class:`~boolnet_spec.reference.errors.UsageError`), a held attribute is missing, not
   ``[S, C]``, not finite or a polarity not 0 or 1 (typed, naming the module and attribute);
   all before PyTorch runs. ``certify`` refuses fused modules (CERT-4).
"""

from __future__ import annotations

import sys

import numpy as np

from boolnet_spec.equivalence.pytorch.bounds import U32
from boolnet_spec.equivalence.pytorch.harness.capture import (
    block_names,
    capture,
    downsample_paths,
    float32_semantics,
    functional_tensors,
    torch_weight,
)
from boolnet_spec.equivalence.pytorch.harness.folds import check_supplied_units
from boolnet_spec.equivalence.pytorch.harness.free import free_running
from boolnet_spec.equivalence.pytorch.harness.fused import check_fused_units, require_state_dict
from boolnet_spec.equivalence.pytorch.harness.mapping import mapped
from boolnet_spec.equivalence.pytorch.harness.report import CLASSES, Comparison, Row
from boolnet_spec.equivalence.pytorch.harness.structure import check_structure
from boolnet_spec.equivalence.pytorch.harness.teacher import TeacherForced, within_bound
from boolnet_spec.equivalence.pytorch.harness.training import compare_training
from boolnet_spec.reference.architecture import Architecture
from boolnet_spec.reference.errors import DomainError, error_if
from boolnet_spec.reference.network import Model

__all__ = ["compare_training", "TERNARY_MODES", "CLASSES", "Row", "Comparison", "compare",
           "capture", "float32_semantics", "torch_weight", "block_names", "functional_tensors",
           "downsample_paths", "within_bound"]


TERNARY_MODES = ("count", "error")


def compare(module, arch: Architecture, images: np.ndarray, model: Model | None = None,
            limit: int = 20, progress: bool = True, ternary: str = "count",
            module_map=None, state_dict: dict | None = None) -> Comparison:
    """Teacher-forced and free-running comparison of ``module`` with its export (HARNESS-1 to 8).

    ``ternary="error"`` makes every torch 0 in a bit tensor a ``mismatch`` (HARNESS-8);
    ``module_map`` (a dict, or a JSON or TOML file) maps the authors' module paths to the
    implementation's (HARNESS-11) and names fused threshold modules, whose thresholds are
    checked against the exact fold of ``state_dict`` (HARNESS-14); the reference model is then
    built from ``state_dict``. The structure is checked before PyTorch runs (HARNESS-13).
    """
    module = mapped(module, module_map)
    import torch
    from tqdm import tqdm

    from boolnet_spec.equivalence.pytorch.export import export_model
    from boolnet_spec.reference.build import build_model

    error_if(ternary not in TERNARY_MODES, DomainError, "ternary",
             f"one of {', '.join(TERNARY_MODES)}", repr(ternary), "HARNESS-8")
    fused = getattr(module, "fused", {})
    require_state_dict(fused, state_dict)
    check_structure(module, arch, fused)
    if state_dict is not None:
        state_dict = {k: v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)
                      for k, v in state_dict.items()}
    supplied = model is not None or state_dict is not None
    if model is None:
        model = export_model(module, arch) if state_dict is None else \
            build_model(arch, state_dict)
    fused_rows, fused_findings, realised = check_fused_units(
        lambda spec: lambda name: getattr(module.get_submodule(spec.module), name, None),
        fused, state_dict, model) if fused else ([], [], {})
    images = np.ascontiguousarray(images, dtype=np.float32)
    logits, seen_in, seen_out = capture(module, model, images)
    sign_modes = sorted({getattr(m, "sign_mode", "official") for m in module.modules()
                         if hasattr(m, "temperature")})
    strict = ternary == "error" or "spec" in sign_modes
    tf = TeacherForced(module, model, images, seen_in, seen_out, logits, limit, strict)
    tf.supplied = supplied
    tf.state_dict, tf.fused_units = state_dict, realised
    tf.rows += fused_rows
    for entry in fused_findings:
        tf.record(entry)
    if supplied and not fused:
        rows, findings = check_supplied_units(module, model)
        tf.rows += rows
        for entry in findings:
            tf.record(entry)
    with tqdm(total=2 * len(model.nodes), desc="compare", unit="node", disable=None if progress
              else True, file=sys.stderr) as bar:
        for node in model.nodes:
            tf.run(node)
            bar.update()
        free = free_running(model, images, tf, lambda name: bar.update())
    settings = {"torch": torch.__version__, "images": int(images.shape[0]),
                "architecture": model.architecture.to_json(), "nnpack": False,
                "unit_roundoff": U32,
                "sign_mode": sign_modes, "ternary": "error" if strict else "count"}
    return Comparison(tf.rows, tf.disagreements, free, settings)
