"""Layerwise equivalence harness: a PyTorch BoolNet and the folded reference, bit by bit.

The harness runs any PyTorch module whose submodules carry the authors' module paths (this
package's :class:`~boolnet_spec.equivalence.pytorch.model.BoolNet` or the authors' own classes) once, records
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
   of ``p.conv2``, the OR result is the even channels of the block output (BoolNet) or the block
   output itself (BaseNet), the carried half its odd channels (CHAN-3), and the split half the input
   of ``p.conv1``. ``ERROR_IF`` a module path is missing (:class:`~boolnet_spec.reference.errors.FormatError`).

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
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from boolnet_spec.equivalence.pytorch.bounds import (
    ETA32,
    ETA64,
    SAFETY,
    U32,
    U64,
    BNParams,
    Running,
    conv_error,
    gamma,
    layer_bound,
)
from boolnet_spec.reference.architecture import Architecture
from boolnet_spec.reference.batchnorm import BatchNorm
from boolnet_spec.reference.encoding import BIT_DTYPE
from boolnet_spec.reference.errors import FormatError, error_if
from boolnet_spec.reference.exact import exact, ge_times_sqrt
from boolnet_spec.reference.fold import ChannelFold
from boolnet_spec.reference.maxpool import real_maxpool
from boolnet_spec.reference.network import OPS, Model, forward
from boolnet_spec.reference.slices import slice_offsets, slice_quantize
from boolnet_spec.reference.stem import real_conv2d
from boolnet_spec.reference.threshold import GE
from boolnet_spec.reference.weights import weight_scale

__all__ = ["CLASSES", "Row", "Comparison", "compare", "capture", "float32_semantics",
           "torch_weight", "block_names"]

CLASSES = ("equal", "ternary", "float_ambiguous", "mismatch")


@contextlib.contextmanager
def float32_semantics():
    """NNPACK off, full-precision float32 convolutions and matrix products (HARNESS-1)."""
    import torch

    conv = torch.backends.mkldnn.conv
    old_conv, old_matmul = conv.fp32_precision, torch.get_float32_matmul_precision()
    try:
        conv.fp32_precision = "none"
        torch.set_float32_matmul_precision("highest")
        with torch.backends.nnpack.flags(enabled=False), torch.no_grad():
            yield
    finally:
        conv.fp32_precision = old_conv
        torch.set_float32_matmul_precision(old_matmul)


def block_names(model: Model) -> list[str]:
    """The block paths ``layerL.b`` of a model, in order."""
    names = []
    for node in model.nodes:
        if node.op in ("bconv", "head"):
            block = node.name.rsplit(".", 1)[0] if node.op == "bconv" else node.outputs[1]
            if block not in names:
                names.append(block)
    return names


def _bn_index(module, block: str) -> tuple[str, str]:
    """The paths of the downsample branch's BatchNorm and GhostSign (after the optional pool)."""
    import torch

    branch = module.get_submodule(f"{block}.downsample")
    pooled = isinstance(branch[1], torch.nn.MaxPool2d)
    first = 2 if pooled else 1
    return f"{block}.downsample.{first}", f"{block}.downsample.{first + 1}"


def _hooked_paths(module, model: Model) -> tuple[list[str], list[str]]:
    """Module paths whose input, and whose output, HARNESS-1 records."""
    names = dict(module.named_modules())
    inputs = ["ghostbnsign.GhostSign" if "ghostbnsign.GhostSign" in names else "ghostbnsign.1"]
    outputs = ["ghostbnsign"]
    for block in block_names(model):
        inputs += [block, f"{block}.conv1", f"{block}.conv2"]
        outputs += [block] + [f"{block}.{m}" for m in ("conv1", "conv2", "bn1", "bn2",
                                                      "ghostsign1", "ghostsign2")]
        if f"{block}.downsample" in names:
            bn, sign = _bn_index(module, block)
            outputs += [f"{block}.downsample", f"{block}.downsample.0", bn, sign]
    for path in {*inputs, *outputs}:
        error_if(path not in names, FormatError, f"module {path}",
                 "a submodule with the authors' module path", "missing", "HARNESS-1")
    return inputs, outputs


def capture(module, model: Model, images: np.ndarray) -> tuple[np.ndarray, dict, dict]:
    """``(logits, inputs, outputs)``: the float32 tensors the hooks saw (HARNESS-1)."""
    import torch

    want_in, want_out = _hooked_paths(module, model)
    names = dict(module.named_modules())
    seen_in, seen_out = {}, {}
    handles = []

    def hook(path: str):
        def record(_, args, output):
            if path in want_in:
                seen_in[path] = args[0].detach().cpu().numpy()
            if path in want_out:
                seen_out[path] = output.detach().cpu().numpy()
        return record

    for path in {*want_in, *want_out}:
        handles.append(names[path].register_forward_hook(hook(path)))
    was_training = module.training
    try:
        module.eval()
        with float32_semantics():
            logits = module(torch.from_numpy(np.ascontiguousarray(images))).detach().numpy()
    finally:
        module.train(was_training)
        for handle in handles:
            handle.remove()
    return logits, seen_in, seen_out


def torch_weight(conv) -> tuple[np.ndarray, np.ndarray]:
    """``(signs, alpha_t)`` of a binary convolution as the authors' ``binarize`` computes them in
    eval mode: ``sign(hardtanh(W / T))`` (-1, 0 or +1) and the nested float32 mean of ``|W|``."""
    import torch
    import torch.nn.functional as F

    from boolnet_spec.equivalence.pytorch.model import binary_sign

    with torch.no_grad():
        weight = conv.weight.detach().cpu()
        binary = F.hardtanh(weight / conv.temperature.detach().cpu())
        signs = binary_sign(binary, getattr(conv, "sign_mode", "official"))
        alpha = weight.abs().mean(-1, keepdim=True).mean(-2, keepdim=True).mean(-3, keepdim=True)
    return signs.numpy(), alpha.reshape(-1).numpy()


@dataclass
class Row:
    """One compared tensor: its element counts per class (HARNESS-6)."""

    layer: str
    node: str
    kind: str
    elements: int = 0
    counts: dict = field(default_factory=lambda: dict.fromkeys(CLASSES, 0))
    smallest_margin: float | None = None

    def to_json(self) -> dict:
        return {"layer": self.layer, "node": self.node, "kind": self.kind,
                "elements": self.elements, **self.counts,
                "smallest_margin": self.smallest_margin}


@dataclass
class Comparison:
    """The result of :func:`compare` (HARNESS-6)."""

    rows: list[Row]
    disagreements: list[dict]
    free_running: dict
    settings: dict

    @property
    def summary(self) -> dict:
        totals = {c: sum(r.counts[c] for r in self.rows) for c in CLASSES}
        return {"mismatch": totals["mismatch"], "ternary": totals["ternary"],
                "float_ambiguous": totals["float_ambiguous"], "equal": totals["equal"],
                "elements": sum(r.elements for r in self.rows),
                "top1_agreement": self.free_running["top1_agreement"],
                "logits_max_abs_diff": self.free_running["logits_max_abs_diff"],
                "free_running_bit_differences": sum(
                    r["differing"] for r in self.free_running["layers"]),
                "passed": totals["mismatch"] == 0}

    def to_json(self, limit: int | None = None) -> dict:
        return {"summary": self.summary, "settings": self.settings,
                "layers": [r.to_json() for r in self.rows],
                "free_running": self.free_running,
                "first_disagreements": self.disagreements[:limit]}


def _bits_of(values: np.ndarray) -> np.ndarray:
    """HARNESS-2: ``[v >= 0]``; a ternary 0 becomes bit 1."""
    return (values >= 0).astype(BIT_DTYPE)


def _index(flat: int, shape: tuple[int, ...]) -> list[int]:
    return [int(i) for i in np.unravel_index(flat, shape)]


def _within(fold: ChannelFold, s: int, offset: Fraction, bound: Fraction) -> bool:
    """``|y*_j(s)| <= bound`` decided exactly (BOUND-4, EXACT-2)."""
    lhs = fold.gamma * (fold.alpha * s + fold.shift)
    return ge_times_sqrt(lhs, -(fold.beta + offset + bound), fold.variance) and \
        ge_times_sqrt(-lhs, fold.beta + offset - bound, fold.variance)


class _TeacherForced:
    """Runs every node of ``model`` on PyTorch's tensors and classifies the outputs."""

    def __init__(self, module, model: Model, images: np.ndarray, seen_in: dict, seen_out: dict,
                 logits: np.ndarray, limit: int):
        self.module = module
        self.modules = dict(module.named_modules())
        self.model = model
        self.images = images
        self.seen_in, self.seen_out = seen_in, seen_out
        self.logits = logits
        self.limit = limit
        self.rows: list[Row] = []
        self.disagreements: list[dict] = []
        self.boolnet = model.architecture.family == "boolnet"
        self.derived: dict[str, np.ndarray] = {}
        self.head_bound: np.ndarray | None = None

    # -- torch tensors by reference name ---------------------------------------------------
    def torch_value(self, name: str) -> np.ndarray:
        """PyTorch's tensor for a reference tensor name (HARNESS-1)."""
        if name == "image":
            return self.images
        if name in self.derived:
            return self.derived[name]
        shape = self.model.shapes[name]
        if name == "ghostbnsign" or name == "logits":
            value = self.logits if name == "logits" else self.seen_out[name]
        elif name.endswith(".x"):
            value = self.seen_in[name[:-2] + ".conv1"]
        elif name.endswith(".xnor"):
            value = self.seen_in[name[:-5] + ".conv2"]
        elif name.endswith(".or"):
            value = self.seen_out[name[:-3]][:, :, 0::2]
        else:
            value = self.seen_out[name]
        if shape[0] in ("bits",):
            value = value.reshape((-1, *shape[1:]))
        return value

    def record(self, entry: dict) -> None:
        if len(self.disagreements) < self.limit:
            self.disagreements.append(entry)

    # -- generic bit comparison -----------------------------------------------------------------
    def classify_bits(self, row: Row, torch_values: np.ndarray, reference: np.ndarray,
                      explain: Callable[[np.ndarray], tuple[np.ndarray, list[dict]]],
                      presign: np.ndarray | None = None) -> None:
        """Count the classes of HARNESS-3; ``explain(flat_indices)`` classifies disagreements.

        ``presign`` is PyTorch's own float argument of the sign, where a hook sees it: a value
        that is not its sign (``+1`` above 0, ``-1`` below, ``0`` or ``+1`` at 0) is a
        ``mismatch`` whatever the reference says (HARNESS-3).
        """
        row.elements += int(reference.size)
        valid = (torch_values == 1) | (torch_values == -1) | (torch_values == 0)
        wrong = ~valid
        if presign is not None:
            wrong |= ((presign > 0) & (torch_values != 1)) | \
                ((presign < 0) & (torch_values != -1)) | ((presign == 0) & (torch_values == -1))
        zero = ~wrong & (torch_values == 0)
        differ = ~wrong & ~zero & (_bits_of(torch_values) != reference)
        row.counts["ternary"] += int(zero.sum())
        row.counts["mismatch"] += int(wrong.sum())
        row.counts["equal"] += int((~wrong & ~zero & ~differ).sum())
        for flat in np.flatnonzero(wrong)[:self.limit]:
            entry = {"layer": row.layer, "index": _index(flat, reference.shape),
                     "class": "mismatch", "torch_value": float(torch_values.flat[flat]),
                     "reference_bit": int(reference.flat[flat])}
            if valid.flat[flat]:
                entry |= {"torch_preactivation": float(presign.flat[flat]),
                          "reason": "PyTorch's bit is not the sign of its own pre-activation"}
            else:
                entry["reason"] = "PyTorch's value is not -1, 0 or +1"
            self.record(entry)
        flats = np.flatnonzero(differ)
        if flats.size:
            classes, entries = explain(flats)
            for name in ("ternary", "float_ambiguous", "mismatch"):
                row.counts[name] += int((classes == name).sum())
            for entry in entries:
                self.record({"layer": row.layer, **entry})

    # -- nodes ------------------------------------------------------------------------------
    def run(self, node) -> None:
        getattr(self, f"node_{node.op}")(node)

    def reference_outputs(self, node, *values: np.ndarray) -> list[np.ndarray]:
        inputs = [_bits_of(v) if self.model.shapes[name][0] == "bits" else v
                  for name, v in zip(node.inputs, values, strict=True)]
        return OPS[node.op].run(node, self.model.states[node.name], *inputs)

    def node_stem(self, node) -> None:
        state = self.model.states[node.name]
        offsets = state["offsets"]
        z = _stem_running(node, state, self.images, self.module)
        reference = slice_quantize(z.value, offsets)
        if not np.array_equal(reference, self.reference_outputs(node, self.images)[0]):
            raise AssertionError("the stem bound does not replicate the reference stem")
        torch_values = self.torch_value(node.outputs[0])
        row = Row(node.outputs[0], node.name, "bits")
        margins = np.abs(z.value[:, None] + offsets.astype(np.float64)[None, :, None, None, None])
        row.smallest_margin = float(margins.min())

        def explain(flats):
            classes, entries = [], []
            for flat in flats:
                n, j, c, h, w = _index(flat, reference.shape)
                value, bound = z.value[n, c, h, w], z.error[n, c, h, w]
                ambiguous = abs(exact(value) + exact(offsets[j])) <= exact(bound)
                cls = "float_ambiguous" if ambiguous else "mismatch"
                classes.append(cls)
                entries.append({"index": [n, j, c, h, w], "class": cls,
                                "torch_value": float(torch_values[n, j, c, h, w]),
                                "reference_preactivation": float(value + offsets[j]),
                                "bound": float(bound), "margin": float(abs(value + offsets[j]))})
            return np.array(classes), entries

        sign_path = "ghostbnsign.GhostSign" if node.attrs["variant"] == "boolnet" else \
            "ghostbnsign.1"
        presign = self.seen_in[sign_path].astype(np.float64)[:, None] \
            + offsets.astype(np.float64)[None, :, None, None, None]
        self.classify_bits(row, torch_values, reference, explain, presign)
        self.rows.append(row)

    def conv_parts(self, node, block: str):
        """PyTorch's conv module, BatchNorm and GhostSign paths of a bconv/head node."""
        if node.name.endswith(".downsample"):
            bn, _ = _bn_index(self.module, block)
            return f"{block}.downsample.0", bn
        which = node.name.rsplit(".", 1)[1][-1] if node.op == "bconv" else "2"
        return f"{block}.conv{which}", f"{block}.bn{which}"

    def exact_accumulators(self, node, x_torch: np.ndarray, signs: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
        """PyTorch's exact integer accumulators on its own (possibly ternary) inputs and weight
        signs, and where a ternary 0 entered them."""
        import torch
        import torch.nn.functional as F

        attrs = node.attrs
        x = torch.from_numpy(np.ascontiguousarray(x_torch, dtype=np.float64))
        batch, slices, _, height, width = x.shape
        if attrs.get("read", "slices") == "all":
            x = x.reshape(batch, -1, height, width)
        else:
            groups = attrs["groups"]
            x = x[:, slices // 2:slices // 2 + 1] if groups == 1 else \
                x[:, (slices - groups) // 2:(slices + groups) // 2]
            x = x.reshape(batch, -1, height, width)
        if attrs["padding"]:
            x = F.pad(x, (attrs["padding"],) * 4, mode="replicate")
        w = torch.from_numpy(signs.astype(np.float64))
        kwargs = {"stride": attrs["stride"], "dilation": attrs["dilation"],
                  "groups": attrs["groups"]}
        with torch.no_grad():
            s = F.conv2d(x, w, **kwargs).numpy()
            zeros = F.conv2d((x == 0).double(), torch.ones_like(w), **kwargs).numpy() > 0
        zeros |= (signs == 0).reshape(signs.shape[0], -1).any(axis=1)[None, :, None, None]
        return s.astype(np.int64), zeros

    def conv_row(self, name: str, node_name: str, v: np.ndarray, s_torch: np.ndarray,
                 s_ref: np.ndarray, zeros: np.ndarray, error: np.ndarray, alpha_t: np.ndarray,
                 bias: np.ndarray | None) -> None:
        """HARNESS-4 for a binary convolution's float output."""
        row = Row(name, node_name, "conv", elements=int(v.size))
        shift = 0.0 if bias is None else bias.astype(np.float64)[None, :, None, None]
        expected = alpha_t.astype(np.float64)[None, :, None, None] * s_torch + shift
        deviation = np.abs(v.astype(np.float64) - expected)
        outside = deviation > error[None, :, None, None]
        other = s_torch != s_ref
        classes = np.where(outside | (other & ~zeros), "mismatch",
                           np.where(other, "ternary", "equal"))
        for cls in CLASSES:
            row.counts[cls] += int((classes == cls).sum())
        for flat in np.flatnonzero(classes != "equal")[:self.limit]:
            n, c, h, w = _index(flat, v.shape)
            self.record({"layer": name, "index": [n, c, h, w], "class": str(classes.flat[flat]),
                         "s": int(s_ref[n, c, h, w]), "s_torch": int(s_torch[n, c, h, w]),
                         "torch_value": float(v[n, c, h, w]),
                         "expected": float(expected[n, c, h, w]),
                         "bound": float(error[c])})
        self.rows.append(row)

    def node_bconv(self, node) -> None:
        block = node.name.rsplit(".", 1)[0]
        conv_path, bn_path = self.conv_parts(node, block)
        conv = self.modules[conv_path]
        x_torch = self.torch_value(node.inputs[0])
        s_ref, reference = self.reference_outputs(node, x_torch)
        signs, alpha_t = torch_weight(conv)
        alpha = weight_scale(conv.weight.detach().cpu().numpy())
        bias = None if getattr(conv, "bias", None) is None else \
            conv.bias.detach().cpu().numpy().astype(np.float32)
        n = int(np.prod(signs.shape[1:]))
        s_torch, zeros = self.exact_accumulators(node, x_torch, signs)
        self.conv_row(node.outputs[0], node.name, self.seen_out[conv_path], s_torch,
                      s_ref.astype(np.int64), zeros, conv_error(n, alpha_t, bias), alpha_t, bias)
        pool = node.attrs.get("pool", 0)
        s_bits, s_bits_torch = s_ref.astype(np.int64), s_torch
        if pool:
            s_bits = real_maxpool(s_bits.astype(np.float64), pool, pool, 0).astype(np.int64)
            s_bits_torch = real_maxpool(s_torch.astype(np.float64), pool, pool, 0) \
                .astype(np.int64)
        bn_module = self.modules[bn_path]
        bn = BNParams.of(bn_module)
        reference_bn = BatchNorm(bn.gamma, bn.beta, bn.mean, bn.var, eps=float(bn_module.eps),
                                 name=bn_path)
        units = self.model.states[node.name]["units"]
        slice_offsets_ = slice_offsets(units.slices)
        shift = 0.0 if bias is None else bias.astype(np.float64)[None, :, None, None]
        pre = bn.exact_value(alpha.astype(np.float64)[None, :, None, None] * s_bits + shift)
        margins = np.abs(pre[:, None] + slice_offsets_.astype(np.float64)[None, :, None, None,
                                                                            None])
        torch_values = self.torch_value(node.outputs[1])
        row = Row(node.outputs[1], node.name, "bits")
        row.smallest_margin = float(margins.min()) if margins.size else None
        conv_out = self.seen_out[conv_path]
        bn_out = self.seen_out[bn_path]
        if pool:
            conv_out = real_maxpool(conv_out.astype(np.float64), pool, pool, 0)
        folds: dict[int, ChannelFold] = {}

        def explain(flats):
            classes, entries = [], []
            index = np.array([_index(f, reference.shape) for f in flats])
            ns, _, cs, hs, ws = index.T
            s_r = s_bits[ns, cs, hs, ws]
            s_t = s_bits_torch[ns, cs, hs, ws]
            bounds_r = layer_bound(bn, s_r[:, None], n, alpha, alpha_t, bias,
                                   axis=1)[np.arange(len(cs)), cs]
            bounds_t = layer_bound(bn, s_t[:, None], n, alpha, alpha_t, bias,
                                   axis=1)[np.arange(len(cs)), cs]
            for k, (bn_i, j, c, h, w) in enumerate(index):
                fold = folds.setdefault(c, ChannelFold(reference_bn, c, alpha[c],
                                                       np.float32(0) if bias is None
                                                       else bias[c]))
                offset = exact(slice_offsets_[j])
                torch_bit = bool(torch_values[bn_i, j, c, h, w] > 0)
                if s_t[k] != s_r[k]:
                    consistent = fold.bit(int(s_t[k]), offset) == torch_bit or _within(
                        fold, int(s_t[k]), offset, Fraction(float(bounds_t[k])))
                    cls = "ternary" if consistent and zeros_at(bn_i, c, h, w) else "mismatch"
                else:
                    cls = "float_ambiguous" if _within(
                        fold, int(s_r[k]), offset, Fraction(float(bounds_r[k]))) else "mismatch"
                classes.append(cls)
                cmp, t = (">=" if units.polarity[j, c] == GE else "<="), \
                    int(units.threshold[j, c])
                entries.append({
                    "index": [int(bn_i), int(j), int(c), int(h), int(w)], "class": cls,
                    "s": int(s_r[k]), "s_torch": int(s_t[k]), "unit": {"cmp": cmp, "t": t},
                    "reference_bit": int(reference[bn_i, j, c, h, w]),
                    "torch_value": float(torch_values[bn_i, j, c, h, w]),
                    "torch_conv": float(conv_out[bn_i, c, h, w]),
                    "torch_bn": float(bn_out[bn_i, c, h, w]),
                    "torch_preactivation": float(np.float32(bn_out[bn_i, c, h, w])
                                                 + slice_offsets_[j]),
                    "exact_preactivation": float(pre[bn_i, c, h, w] + slice_offsets_[j]),
                    "bound": float(bounds_r[k]),
                    "margin": float(margins[bn_i, j, c, h, w])})
            return np.array(classes), entries

        def zeros_at(n_, c, h, w) -> bool:
            if not pool:
                return bool(zeros[n_, c, h, w])
            return bool(zeros[n_, c, h * pool:(h + 1) * pool, w * pool:(w + 1) * pool].any())

        presign = bn_out.astype(np.float64)[:, None] \
            + slice_offsets_.astype(np.float64)[None, :, None, None, None]
        self.classify_bits(row, torch_values, reference, explain, presign)
        self.rows.append(row)

    def node_logic(self, node) -> None:
        values = [self.torch_value(name) for name in node.inputs]
        reference = self.reference_outputs(node, *values)
        expected = _torch_logic(node.op, *values)
        for k, name in enumerate(node.outputs):
            if node.op == "split" and k == 1:
                self.derived[name] = expected[k]  # the carried half: checked by the shuffle
                continue
            torch_values = self.torch_value(name)
            row = Row(name, node.name, "bits")
            operand_zero = _torch_logic_zero(node.op, *values)[k]

            def explain(flats, torch_values=torch_values, expected=expected[k],
                        operand_zero=operand_zero, reference=reference[k]):
                same = torch_values.flat[flats] == expected.flat[flats]
                classes = np.where(same & operand_zero.flat[flats], "ternary", "mismatch")
                entries = [{"index": _index(f, reference.shape), "class": str(cls),
                            "torch_value": float(torch_values.flat[f]),
                            "reference_bit": int(reference.flat[f]),
                            "torch_formula": float(expected.flat[f])}
                           for f, cls in zip(flats, classes, strict=True)]
                return classes, entries

            self.classify_bits(row, torch_values, reference[k], explain)
            self.rows.append(row)

    node_xnor = node_or = node_shuffle = node_split = node_logic

    def node_head(self, node) -> None:
        block = node.outputs[1]
        conv = self.modules[f"{block}.conv2"]
        x_torch = self.torch_value(node.inputs[0])
        s_ref, z_ref, logits_ref = self.reference_outputs(node, x_torch)
        state = self.model.states[node.name]
        signs, alpha_t = torch_weight(conv)
        alpha = state["alpha"]
        n = int(np.prod(signs.shape[1:]))
        s_torch, zeros = self.exact_accumulators(node, x_torch, signs)
        error = conv_error(n, alpha_t)
        self.conv_row(node.outputs[0], node.name, self.seen_out[f"{block}.conv2"], s_torch,
                      s_ref.astype(np.int64), zeros, error, alpha_t, None)
        drift = np.abs(alpha_t.astype(np.float64) - alpha.astype(np.float64))
        bn2 = BNParams.of(self.modules[f"{block}.bn2"])
        bn3 = BNParams.of(self.modules[f"{block}.bn3"])

        def head_value(s: np.ndarray, slices: np.ndarray) -> tuple[Running, Running]:
            conv_value = Running(
                s.astype(np.float64) * alpha.astype(np.float64)[None, :, None, None],
                error[None, :, None, None] + drift[None, :, None, None] * np.abs(s))
            # A mean of S values in {-1, 0, 1}: exact for S a power of two, one rounding else.
            mean = Running(slices.astype(np.float64).mean(axis=1), U32 + U64)
            z = conv_value.batchnorm(bn2, state["bn2"]).add(mean.batchnorm(bn3, state["bn3"]))
            return z, _classifier_running(z, state)

        z, logits = head_value(s_ref, np.where(_bits_of(x_torch) == 1, 1.0, -1.0))
        if not (np.array_equal(z.value, z_ref) and np.array_equal(logits.value, logits_ref)):
            raise AssertionError("the head bound does not replicate the reference head")
        # PyTorch's own values on its ternary inputs and weight signs (HARNESS-4).
        z_own, logits_own = head_value(s_torch, x_torch)
        ternary_z = zeros | (x_torch == 0).any(axis=1)
        ternary_image = ternary_z.reshape(ternary_z.shape[0], -1).any(axis=1)
        self.real_row(block, node.name, self.seen_out[block], z, z_own, ternary_z)
        self.head_bound = logits.error
        self.real_row("logits", node.name, self.logits, logits, logits_own,
                      np.broadcast_to(ternary_image[:, None], logits.value.shape))

    def real_row(self, name: str, node_name: str, torch_values: np.ndarray, value: Running,
                 own: Running, ternary: np.ndarray) -> None:
        """HARNESS-4: within the bound of the reference, or, where a ternary 0 entered, of
        PyTorch's own formula on its ternary values."""
        row = Row(name, node_name, "real", elements=int(torch_values.size))
        torch64 = torch_values.astype(np.float64)
        outside = np.abs(torch64 - value.value) > value.error
        explained = ternary & (np.abs(torch64 - own.value) <= own.error)
        classes = np.where(outside, np.where(explained, "ternary", "mismatch"), "equal")
        for cls in CLASSES:
            row.counts[cls] += int((classes == cls).sum())
        for flat in np.flatnonzero(outside)[:self.limit]:
            self.record({"layer": name, "index": _index(flat, outside.shape),
                         "class": str(classes.flat[flat]),
                         "torch_value": float(torch_values.flat[flat]),
                         "reference_value": float(value.value.flat[flat]),
                         "bound": float(value.error.flat[flat])})
        self.rows.append(row)


def _torch_logic(op: str, *values: np.ndarray) -> list[np.ndarray]:
    """The authors' formulas on PyTorch's values, ternary 0 included (LOGIC-3)."""
    if op in ("xnor", "or"):
        import torch

        from boolnet_spec.equivalence.pytorch.model import logic_or, logic_xnor

        gate = logic_xnor if op == "xnor" else logic_or
        return [gate(*(torch.from_numpy(np.asarray(v)) for v in values)).numpy()]
    if op == "split":
        half = values[0].shape[2] // 2
        return [values[0][:, :, :half], values[0][:, :, half:]]
    stacked = np.stack(values, axis=3)
    batch, slices, channels, _, height, width = stacked.shape
    return [stacked.reshape(batch, slices, 2 * channels, height, width)]


def _torch_logic_zero(op: str, *values: np.ndarray) -> list[np.ndarray]:
    """Where an operand of the element is a ternary 0."""
    if op in ("split", "shuffle"):
        return [z > 0 for z in _torch_logic(op, *[(v == 0).astype(np.float64) for v in values])]
    return [np.logical_or(*[(v == 0) for v in values])]


def _stem_running(node, state: dict, images: np.ndarray, module) -> Running:
    """BOUND-5 for the stem: the reference pre-activation and a bound on PyTorch's distance."""
    weight = state["conv"]
    x = Running(images.astype(np.float64))
    conv = _conv_running(x, weight, 2, 3)
    features = conv.batchnorm(BNParams.of(module.get_submodule("maxpool.0")), state["bn0"])
    features = Running(real_maxpool(features.value, 3, 2, 1),
                       real_maxpool(features.error, 3, 2, 1))
    if node.attrs["variant"] == "basenet":
        return features.batchnorm(BNParams.of(module.get_submodule("ghostbnsign.0")), state["bn"])
    first = features.batchnorm(BNParams.of(module.get_submodule("ghostbnsign.bn1")),
                               state["bn1"])
    second = features.batchnorm(BNParams.of(module.get_submodule("ghostbnsign.bn2")),
                                state["bn2"])
    shifted = _conv_running(second, state["las"], 1, 1, groups=weight.shape[0])
    shifted = shifted.batchnorm(
        BNParams.of(module.get_submodule("ghostbnsign.adaptive_zero_points.1")),
        state["bn_las"])
    return first.add(shifted)


def _conv_running(x: Running, weight: np.ndarray, stride: int, padding: int,
                  groups: int = 1) -> Running:
    """A real convolution of ``m`` products in float32 (torch) and binary64 (STEM-2)."""
    m = int(np.prod(weight.shape[1:]))
    magnitude_weight = np.abs(weight.astype(np.float64))
    value = real_conv2d(x.value, weight, stride, padding, groups)
    spread = real_conv2d(x.error, magnitude_weight, stride, padding, groups)
    total = real_conv2d(x.magnitude, magnitude_weight, stride, padding, groups)
    error = spread + (gamma(m) + gamma(m, U64)) * total * (1 + gamma(m, U64)) \
        + m * (ETA32 + ETA64)
    return Running(value, error * SAFETY)


def _classifier_running(z: Running, state: dict) -> Running:
    """BOUND-5 for PReLU, global average pooling and the linear layer (HEAD-2, HEAD-3)."""
    slope = state["prelu"].astype(np.float64)[None, :, None, None]
    value = np.where(z.value >= 0, z.value, slope * z.value)
    error = np.maximum(1.0, np.abs(slope)) * z.error + (U32 + U64) * np.abs(slope) * z.magnitude \
        + ETA32 + ETA64
    activated = Running(value, error * SAFETY)
    count = z.value.shape[2] * z.value.shape[3]
    pooled = Running(activated.value.mean(axis=(2, 3)),
                     (activated.error.mean(axis=(2, 3)) + (gamma(count) + gamma(count, U64))
                      * activated.magnitude.mean(axis=(2, 3)) + ETA32 + ETA64) * SAFETY)
    weight = state["fc.weight"].astype(np.float64)
    bias = state["fc.bias"].astype(np.float64)
    terms = weight.shape[1] + 1
    logits = pooled.value @ weight.T + bias
    error = pooled.error @ np.abs(weight).T + (gamma(terms) + gamma(terms, U64)) * (
        pooled.magnitude @ np.abs(weight).T + np.abs(bias)) + terms * (ETA32 + ETA64)
    return Running(logits, error * SAFETY * (1 + gamma(terms, U64)))


def _free_running(model: Model, images: np.ndarray, tf: _TeacherForced,
                  progress: Callable[[str], None] | None) -> dict:
    reference_logits, trace = forward(model, images, trace=True, progress=progress)
    layers = []
    for node in model.nodes:
        for name in node.outputs:
            if model.shapes[name][0] != "bits" or name in tf.derived:
                continue
            torch_values = tf.torch_value(name)
            differing = (torch_values == 0) | (_bits_of(torch_values) != trace[name])
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


def compare(module, arch: Architecture, images: np.ndarray, model: Model | None = None,
            limit: int = 20, progress: bool = True) -> Comparison:
    """Teacher-forced and free-running comparison of ``module`` with its export (HARNESS-1 to 6).
    """
    import torch
    from tqdm import tqdm

    from boolnet_spec.equivalence.pytorch.export import export_model

    if model is None:
        model = export_model(module, arch)
    images = np.ascontiguousarray(images, dtype=np.float32)
    logits, seen_in, seen_out = capture(module, model, images)
    tf = _TeacherForced(module, model, images, seen_in, seen_out, logits, limit)
    with tqdm(total=2 * len(model.nodes), desc="compare", unit="node", disable=None if progress
              else True, file=__import__("sys").stderr) as bar:
        for node in model.nodes:
            tf.run(node)
            bar.update()
        free = _free_running(model, images, tf, lambda name: bar.update())
    settings = {"torch": torch.__version__, "images": int(images.shape[0]),
                "architecture": model.architecture.to_json(), "nnpack": False,
                "unit_roundoff": U32,
                "sign_mode": sorted({getattr(m, "sign_mode", "official")
                                     for m in module.modules() if hasattr(m, "temperature")})}
    return Comparison(tf.rows, tf.disagreements, free, settings)
