"""Teacher forcing (HARNESS-2 to HARNESS-4): each node of the reference runs on PyTorch's own
inputs, and every disagreeing element is classified."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np

from boolnet_spec.equivalence.pytorch.bounds import (
    U32,
    U64,
    BNParams,
    Running,
    conv_error,
    layer_bound,
)
from boolnet_spec.equivalence.pytorch.harness.capture import (
    POOL_AFTER_SIGN,
    downsample_layout,
    downsample_paths,
    functional_tensors,
    torch_weight,
)
from boolnet_spec.equivalence.pytorch.harness.report import CLASSES, Row
from boolnet_spec.equivalence.pytorch.harness.running import classifier_running, stem_running
from boolnet_spec.reference.accumulator import ACC_DTYPE
from boolnet_spec.reference.batchnorm import DEFAULT_EPS, BatchNorm
from boolnet_spec.reference.encoding import BIT_DTYPE
from boolnet_spec.reference.errors import InternalError
from boolnet_spec.reference.exact import exact, ge_times_sqrt
from boolnet_spec.reference.fold import ChannelFold
from boolnet_spec.reference.maxpool import binary_maxpool, real_maxpool
from boolnet_spec.reference.network import KERNELS, Model
from boolnet_spec.reference.ops import BlockTensors, dispatch_table, lookup
from boolnet_spec.reference.slices import slice_offsets, slice_quantize
from boolnet_spec.reference.threshold import GE, threshold_slices
from boolnet_spec.reference.weights import weight_scale


def bits_of(values: np.ndarray) -> np.ndarray:
    """HARNESS-2: ``[v >= 0]``; a ternary 0 becomes bit 1."""
    return (values >= 0).astype(BIT_DTYPE)


def unravel(flat: int, shape: tuple[int, ...]) -> list[int]:
    return [int(i) for i in np.unravel_index(flat, shape)]


def within_bound(fold: ChannelFold, s: int, offset: Fraction, bound: Fraction) -> bool:
    """``|y*_j(s)| <= bound`` decided exactly (BOUND-4, EXACT-2)."""
    lhs = fold.gamma * (fold.alpha * s + fold.shift)
    return ge_times_sqrt(lhs, -(fold.beta + offset + bound), fold.variance) and \
        ge_times_sqrt(-lhs, fold.beta + offset - bound, fold.variance)


class TeacherForced:
    """Runs every node of ``model`` on PyTorch's tensors and classifies the outputs."""

    def __init__(self, module, model: Model, images: np.ndarray, seen_in: dict, seen_out: dict,
                 logits: np.ndarray, limit: int, strict: bool = False):
        self.module = module
        self.strict = strict
        self.supplied = True  # the reference's units may differ from the exact fold (HARNESS-7)
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
        self.functional = functional_tensors(model)
        self.fused = getattr(module, "fused", {})
        self.fused_units: dict = {}    # node -> the units its fused module computes (HARNESS-14)
        self.state_dict: dict | None = None

    # -- torch tensors by reference name ---------------------------------------------------
    def torch_value(self, name: str) -> np.ndarray:
        """PyTorch's tensor for a reference tensor name (HARNESS-1)."""
        if name == "image":
            return self.images
        if name in self.derived:
            return self.derived[name]
        shape = self.model.shapes[name]
        seen, path = self.functional.get(name, ("output", name))
        if name == "logits":
            value = self.logits
        elif seen == "input":
            value = self.seen_in[path]
        elif seen == "even":
            value = self.or_channels(path)
        else:
            value = self.seen_out[path]
        if shape[0] in ("bits",):
            value = value.reshape((-1, *shape[1:]))
        return value

    def or_channels(self, block: str) -> np.ndarray:
        """HARNESS-10: the OR result inside a BoolNet block's output. The carried half is known
        from its own hook, so the parity of channels that holds it is found, and the OR result
        is the other parity: a swapped interleave is then the shuffle's fault, not the OR's."""
        output = self.seen_out[block]
        carried = next((node.inputs[1] for node in self.model.nodes
                        if node.op == "shuffle" and node.outputs[0] == block), None)
        if carried is None:
            return output[:, :, 0::2]
        carry = self.torch_value(carried)
        even, odd = output[:, :, 0::2], output[:, :, 1::2]
        if carry.shape != odd.shape:
            return even
        swapped = int((even == carry).sum()) > int((odd == carry).sum())
        return odd if swapped else even

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
        differ = ~wrong & ~zero & (bits_of(torch_values) != reference)
        row.counts["mismatch" if self.strict else "ternary"] += int(zero.sum())
        row.counts["mismatch"] += int(wrong.sum())
        if self.strict:
            for flat in np.flatnonzero(zero)[:self.limit]:
                self.record({"layer": row.layer, "index": unravel(flat, reference.shape),
                             "class": "mismatch", "torch_value": 0.0,
                             "reference_bit": int(reference.flat[flat]),
                             "reason": "a torch 0 in a bit tensor (strict ternary, HARNESS-8)"})
        row.counts["equal"] += int((~wrong & ~zero & ~differ).sum())
        for flat in np.flatnonzero(wrong)[:self.limit]:
            entry = {"layer": row.layer, "index": unravel(flat, reference.shape),
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
        lookup(NODE_CHECKS, node.op, f"node {node.name}")(self, node)

    def reference_outputs(self, node, *values: np.ndarray) -> list[np.ndarray]:
        inputs = [bits_of(v) if self.model.shapes[name][0] == "bits" else v
                  for name, v in zip(node.inputs, values, strict=True)]
        return KERNELS[node.op].run(node, self.model.states[node.name], *inputs)

    def node_stem(self, node) -> None:
        state = self.model.states[node.name]
        offsets = state["offsets"]
        z = stem_running(node, state, self.images,
                         lambda path: BNParams.of(self.module.get_submodule(path)))
        reference = slice_quantize(z.value, offsets)
        if not np.array_equal(reference, self.reference_outputs(node, self.images)[0]):
            raise InternalError("the stem bound does not replicate the reference stem")
        torch_values = self.torch_value(node.outputs[0])
        row = Row(node.outputs[0], node.name, "bits")
        margins = np.abs(z.value[:, None] + offsets.astype(np.float64)[None, :, None, None, None])
        row.smallest_margin = float(margins.min())

        def explain(flats):
            ns, js, cs, hs, ws = np.unravel_index(flats, reference.shape)
            value, bound = z.value[ns, cs, hs, ws], z.error[ns, cs, hs, ws]
            offset = offsets.astype(np.float64)[js]
            # HARNESS-9: binary64 decides all but the elements within 2**-50 of the bound (the
            # sum's rounding); those are decided exactly.
            distance = np.abs(value + offset)
            ambiguous = distance <= bound
            close = np.flatnonzero(np.abs(distance - bound) <= (distance + bound) * 2.0 ** -50)
            for k in close:
                ambiguous[k] = abs(exact(value[k]) + exact(offsets[js[k]])) <= exact(bound[k])
            classes = np.where(ambiguous, "float_ambiguous", "mismatch")
            entries = [{"index": [int(v[k]) for v in (ns, js, cs, hs, ws)],
                        "class": str(classes[k]),
                        "torch_value": float(torch_values[ns[k], js[k], cs[k], hs[k], ws[k]]),
                        "reference_preactivation": float(value[k] + offset[k]),
                        "bound": float(bound[k]), "margin": float(distance[k])}
                       for k in range(min(len(flats), self.limit))]
            return classes, entries

        sign_path = "ghostbnsign.GhostSign" if node.attrs["variant"] == "boolnet" else \
            "ghostbnsign.1"
        presign = self.seen_in[sign_path].astype(np.float64)[:, None] \
            + offsets.astype(np.float64)[None, :, None, None, None]
        self.classify_bits(row, torch_values, reference, explain, presign)
        self.rows.append(row)

    def conv_parts(self, node, block: str):
        """PyTorch's conv module, BatchNorm and GhostSign paths of a bconv/head node."""
        part = BlockTensors.of_node(node.name)[1] if node.op == "bconv" else "conv2"
        if part == "downsample" and node.name in self.fused:  # the state dict's BN (HARNESS-14)
            return BlockTensors(block).downsample_acc, self.fused[node.name].bn_path(
                node.attrs.get("pool", 0))
        if part == "downsample":
            bn, _ = downsample_paths(self.module, block)
            return BlockTensors(block).downsample_acc, bn
        return f"{block}.{part}", f"{block}.bn{part[-1]}"

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
            n, c, h, w = unravel(flat, v.shape)
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
        fused = self.fused_units.get(node.name)
        if fused is None:
            bn_module = self.modules[bn_path]
            bn, eps = BNParams.of(bn_module), float(bn_module.eps)
        else:  # HARNESS-14: the BatchNorm the fused thresholds fold, from the state dict
            bn, eps = BNParams(*(self.state_dict[f"{bn_path}.{f}"] for f in (
                "weight", "bias", "running_mean", "running_var")), DEFAULT_EPS), DEFAULT_EPS
        reference_bn = BatchNorm(bn.gamma, bn.beta, bn.mean, bn.var, eps=eps, name=bn_path)
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
        bn_out = None if fused is not None else self.seen_out[bn_path]
        if pool:
            conv_out = real_maxpool(conv_out.astype(np.float64), pool, pool, 0)
        folds: dict[int, ChannelFold] = {}
        zeros_pooled = real_maxpool(zeros.astype(np.float64), pool, pool, 0) > 0 if pool \
            else zeros

        def fold_of(c: int) -> ChannelFold:
            if c not in folds:
                folds[c] = ChannelFold(reference_bn, c, alpha[c],
                                       np.float32(0) if bias is None else bias[c])
            return folds[c]

        def explain(flats):
            # HARNESS-9: an element's class depends only on (c, j, s, s_torch, both bits), so
            # each distinct key is decided once, exactly, and the classes are broadcast.
            ns, js, cs, hs, ws = np.unravel_index(flats, reference.shape)
            s_r = s_bits[ns, cs, hs, ws]
            s_t = s_bits_torch[ns, cs, hs, ws]
            torch_bit = torch_values[ns, js, cs, hs, ws] > 0
            ref_bit = reference[ns, js, cs, hs, ws].astype(bool)
            keys, inverse = np.unique(np.stack([cs, js, s_r, s_t, torch_bit, ref_bit], axis=1),
                                      axis=0, return_inverse=True)
            kc, ks_r, ks_t = keys[:, 0], keys[:, 2], keys[:, 3]
            kb_r = layer_bound(bn, ks_r[:, None], n, alpha, alpha_t, bias,
                               axis=1)[np.arange(len(kc)), kc]
            kb_t = layer_bound(bn, ks_t[:, None], n, alpha, alpha_t, bias,
                               axis=1)[np.arange(len(kc)), kc]
            decided = []  # per key: "ternary" (if a 0 entered), "float_ambiguous" or "mismatch"
            for (c, j, sr, st, tb, rb), br, bt in zip(keys.tolist(), kb_r, kb_t, strict=True):
                fold, offset = fold_of(c), exact(slice_offsets_[j])
                if fused is not None:  # exact on the accumulator: only a ternary 0 explains
                    own = (fused.polarity[j, c] == GE and st >= fused.threshold[j, c]) or \
                        (fused.polarity[j, c] != GE and st <= fused.threshold[j, c])
                    decided.append("ternary" if st != sr and own == bool(tb) else "mismatch")
                elif st != sr:
                    consistent = fold.bit(st, offset) == bool(tb) or within_bound(
                        fold, st, offset, Fraction(float(bt)))
                    decided.append("ternary" if consistent else "mismatch")
                elif self.supplied and fold.bit(sr, offset) != bool(rb):
                    decided.append("mismatch")  # the reference's unit is not the exact fold
                else:
                    decided.append("float_ambiguous" if within_bound(
                        fold, sr, offset, Fraction(float(br))) else "mismatch")
            decided = np.array(decided)[inverse.reshape(-1)]
            classes = np.where((decided == "ternary") & ~zeros_pooled[ns, cs, hs, ws],
                               "mismatch", decided)
            bounds_r = kb_r[inverse.reshape(-1)]
            entries = []
            for k in range(min(len(flats), self.limit)):
                bn_i, j, c, h, w = (int(v[k]) for v in (ns, js, cs, hs, ws))
                cmp, t = (">=" if units.polarity[j, c] == GE else "<="), \
                    int(units.threshold[j, c])
                entries.append({
                    "index": [bn_i, j, c, h, w], "class": str(classes[k]),
                    "s": int(s_r[k]), "s_torch": int(s_t[k]), "unit": {"cmp": cmp, "t": t},
                    "reference_bit": int(reference[bn_i, j, c, h, w]),
                    "torch_value": float(torch_values[bn_i, j, c, h, w]),
                    "torch_conv": float(conv_out[bn_i, c, h, w]),
                    "torch_bn": None if bn_out is None else float(bn_out[bn_i, c, h, w]),
                    "torch_preactivation": None if bn_out is None else float(
                        np.float32(bn_out[bn_i, c, h, w]) + slice_offsets_[j]),
                    "exact_preactivation": float(pre[bn_i, c, h, w] + slice_offsets_[j]),
                    "bound": float(bounds_r[k]),
                    "margin": float(margins[bn_i, j, c, h, w])})
            return classes, entries

        if pool and fused is not None:
            # per-position bits OR'd over the window: what pooling after the threshold gives
            after = binary_maxpool(threshold_slices(np.clip(s_torch, -n, n).astype(ACC_DTYPE),
                                                    fused), pool, pool)
            classify = explain

            def explain(flats):
                classes, entries = classify(flats)
                for entry, flat in zip(entries, flats, strict=False):
                    if entry["class"] == "mismatch" and \
                            after.flat[flat] == bits_of(torch_values.flat[flat]):
                        entry["reason"] = "the fused module's bit is its units' bits OR'd over " \
                            "the window (pooling after the threshold); POOL-2 applies the unit " \
                            "to the window's largest accumulator (HARNESS-14)"
                return classes, entries
        elif pool and downsample_layout(self.module, block) == POOL_AFTER_SIGN:
            # HARNESS-10: PyTorch pooled the bits, not the accumulator: its BatchNorm and sign
            # saw other values, so every disagreement is this order's finding.
            def explain(flats):
                classes = np.full(len(flats), "mismatch")
                entries = [{"index": unravel(f, reference.shape), "class": "mismatch",
                            "torch_value": float(torch_values.flat[f]),
                            "reference_bit": int(reference.flat[f]),
                            "reason": "max pooling after BatchNorm-sign; POOL-2 pools the "
                                      "accumulator before BatchNorm (HARNESS-10)"}
                           for f in flats[:self.limit]]
                return classes, entries

            self.classify_bits(row, torch_values, reference, explain)
            self.rows.append(row)
            return
        presign = None if bn_out is None else bn_out.astype(np.float64)[:, None] \
            + slice_offsets_.astype(np.float64)[None, :, None, None, None]
        self.classify_bits(row, torch_values, reference, explain, presign)
        self.rows.append(row)

    def node_logic(self, node) -> None:
        values = [self.torch_value(name) for name in node.inputs]
        reference = self.reference_outputs(node, *values)
        expected = torch_logic(node.op, *values)
        for k, name in enumerate(node.outputs):
            if node.op == "split" and k == 1:
                self.derived[name] = expected[k]  # the carried half: checked by the shuffle
                continue
            torch_values = self.torch_value(name)
            row = Row(name, node.name, "bits")
            operand_zero = torch_logic_zero(node.op, *values)[k]

            def explain(flats, torch_values=torch_values, expected=expected[k],
                        operand_zero=operand_zero, reference=reference[k]):
                same = torch_values.flat[flats] == expected.flat[flats]
                classes = np.where(same & operand_zero.flat[flats], "ternary", "mismatch")
                entries = [{"index": unravel(f, reference.shape), "class": str(cls),
                            "torch_value": float(torch_values.flat[f]),
                            "reference_bit": int(reference.flat[f]),
                            "torch_formula": float(expected.flat[f])}
                           for f, cls in zip(flats[:self.limit], classes, strict=False)]
                return classes, entries

            self.classify_bits(row, torch_values, reference[k], explain)
            self.rows.append(row)

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
            return z, classifier_running(z, state)

        z, logits = head_value(s_ref, np.where(bits_of(x_torch) == 1, 1.0, -1.0))
        if not (np.array_equal(z.value, z_ref) and np.array_equal(logits.value, logits_ref)):
            raise InternalError("the head bound does not replicate the reference head")
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
            self.record({"layer": name, "index": unravel(flat, outside.shape),
                         "class": str(classes.flat[flat]),
                         "torch_value": float(torch_values.flat[flat]),
                         "reference_value": float(value.value.flat[flat]),
                         "bound": float(value.error.flat[flat])})
        self.rows.append(row)


NODE_CHECKS = dispatch_table("the PyTorch harness", {
    "stem": TeacherForced.node_stem, "bconv": TeacherForced.node_bconv,
    "split": TeacherForced.node_logic, "xnor": TeacherForced.node_logic,
    "or": TeacherForced.node_logic, "shuffle": TeacherForced.node_logic,
    "head": TeacherForced.node_head})


def torch_logic(op: str, *values: np.ndarray) -> list[np.ndarray]:
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


def torch_logic_zero(op: str, *values: np.ndarray) -> list[np.ndarray]:
    """Where an operand of the element is a ternary 0."""
    if op in ("split", "shuffle"):
        return [z > 0 for z in torch_logic(op, *[(v == 0).astype(np.float64) for v in values])]
    return [np.logical_or(*[(v == 0) for v in values])]
