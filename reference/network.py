"""Network: a model graph, the operations its nodes apply, and the forward pass.

A model is a list of nodes. Each node applies one operation to named tensors and produces named
tensors; the names are the authors' module paths, so a trace of a forward pass can be read beside
the authors' model.

.. req:: NET-1

   Tensor kinds: ``image`` (float32 ``[N, 3, H, W]``), ``bits`` (uint8 ``[N, S, C, H, W]``, ENC-1),
   ``acc`` (int16 ``[N, C, H, W]``, ACC-3), ``real`` (binary64 ``[N, C, H, W]``) and ``logits``
   (binary64 ``[N, K]``). The graph's input is the tensor ``image``, its output ``logits``.

.. req:: NET-2

   ``stem`` (``image`` to ``bits``): STEM-3 then STEM-4 (``variant = basenet``) or STEM-5
   (``variant = boolnet``), with the stored slice offsets (SLICE-1) and BatchNorm ``eps`` values.
   The stem's geometry is fixed, not stored: the node's ``attrs`` hold only ``variant`` and the
   ``eps`` values, and ``conv1`` is 7x7 (the kernel size also follows from its weight's shape) with
   stride 2 and padding 3, the depthwise convolution 3x3 with stride 1, padding 1 and
   ``groups = C`` (STEM-2), the pooling ``MaxPool2d(3, 2, 1)`` (STEM-3).

.. req:: NET-3

   ``bconv`` (``bits`` to ``acc`` and ``bits``): a binary convolution whose input is read per
   CONV-4 (``read = slices``, the authors' ``MultiBConv``) or flattened (CHAN-1, ``read = all``,
   the authors' ``BConv``), producing ``s`` (CONV-1); then, with ``pool = 0``, the threshold
   units (THR-5), or with ``pool = k`` a ``k x k`` stride-``k`` max pooling before BatchNorm-sign
   (POOL-2).
   The first output is ``s`` before pooling, the second the bits.

.. req:: NET-4

   ``split`` (CHAN-2), ``xnor`` (LOGIC-1), ``or`` (LOGIC-2) and ``shuffle`` (CHAN-3) on bits.

.. req:: NET-5

   ``head`` (``bits`` to ``acc``, ``real`` and ``logits``): the last block's second convolution
   (read per CONV-4), HEAD-1 on its accumulators and its input bits, then HEAD-2 and HEAD-3. The
   convolution keeps the input's channels and size (``ERROR_IF`` not,
   :class:`~boolnet_spec.reference.errors.ShapeError`).
   The ``real`` output (the tensor ``p`` of BUILD-1) is ``z`` of HEAD-1, before the PReLU of
   HEAD-2; HEAD-1's ``x`` is the node's whole input, all ``S`` slices, whichever slices the
   convolution reads.

.. req:: NET-6

   Validation before any work: every node's name is unique and its operation is known, its inputs
   are defined by the graph input or an earlier node, its outputs are new, distinct names, the
   kinds and shapes of its inputs and arrays agree (shape inference from the image size), bit
   arrays hold bits, threshold units are canonical for their ``n`` (THR-4), ``n`` is within ACC-3,
   real parameters are finite float32 (BN-2), every stored array is used by exactly one node and
   ``logits`` is produced, with the architecture's number of classes.
   A node's ``n`` is not stored: a ``bconv`` node's units and ACC-3 bound use
   ``n = (Cin/groups) * kh * kw`` of its weight's shape (BUILD-2), ``Cin`` the channels the
   convolution reads. "Before any work" means before any result: an implementation that streams the
   graph checks the structure and the use of the arrays before the first node runs, and may check a
   node's shapes, dtypes and units when that node runs; an error then ends the run with no result,
   and outputs already written are void (ERR-3: exit 2).

.. req:: NET-7

   Forward pass: nodes run in their stored order on a float32 image batch of the architecture's
   size (``ERROR_IF`` another size, :class:`~boolnet_spec.reference.errors.ShapeError`); the result
   is the
   ``logits`` tensor, and the trace is every named tensor the nodes produce.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from boolnet_spec.reference.architecture import Architecture, stem_output_size
from boolnet_spec.reference.batchnorm import BatchNorm, check_float32
from boolnet_spec.reference.bconv import (
    ConvWeights,
    binary_conv2d,
    conv_output_size,
    multi_slice_conv2d,
)
from boolnet_spec.reference.channels import flatten_slices, shuffle_channels, split_channels
from boolnet_spec.reference.encoding import BIT_DTYPE, check_bits, ops_own_bits
from boolnet_spec.reference.errors import DomainError, FormatError, ShapeError, SpecError, error_if
from boolnet_spec.reference.head import average_pool, fc_columns, last_block_real, linear, prelu
from boolnet_spec.reference.limits import (
    MAX_BATCH_ELEMENTS,
    MAX_CONV_ATTR,
    MAX_IMAGES,
    check_limit,
)
from boolnet_spec.reference.logic import logic_or, logic_xnor
from boolnet_spec.reference.maxpool import threshold_maxpool
from boolnet_spec.reference.ops import BN_FIELDS, OPS, dispatch_table, lookup, op_spec
from boolnet_spec.reference.padding import check_padding
from boolnet_spec.reference.stem import basenet_stem, boolnet_stem, check_image, stem_features
from boolnet_spec.reference.threads import run_parts, session, workers
from boolnet_spec.reference.threshold import ThresholdUnits, threshold_slices

__all__ = ["Node", "Model", "KERNELS", "forward", "run_graph", "run_node"]


@dataclass
class Node:
    """One operation of a model graph."""

    name: str
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict = field(default_factory=dict)
    arrays: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"name": self.name, "op": self.op, "inputs": self.inputs, "outputs": self.outputs,
                "attrs": self.attrs, "arrays": self.arrays}


Shape = tuple  # (kind, *dims) without the batch axis


class _Context:
    """The arrays of one node, fetched by role, with errors that name the stored member."""

    def __init__(self, node: Node, arrays: dict[str, np.ndarray]):
        self.node = node
        self.store = arrays

    def member(self, role: str) -> str:
        error_if(role not in self.node.arrays, FormatError, f"node {self.node.name}",
                 f"an array for role {role!r}", lambda: sorted(self.node.arrays), "NET-6")
        return self.node.arrays[role]

    def array(self, role: str) -> np.ndarray:
        member = self.member(role)
        error_if(member not in self.store, FormatError, member, "a stored array", "missing",
                 "NET-6")
        return self.store[member]

    def bits(self, role: str) -> np.ndarray:
        return check_bits(self.array(role), self.member(role))

    def float32(self, role: str, shape: tuple[int, ...]) -> np.ndarray:
        return check_float32(self.array(role), self.member(role), shape, "NET-6")

    def batchnorm(self, role: str, channels: int) -> BatchNorm:
        table = self.node.attrs.get("eps", {})
        error_if(not isinstance(table, dict), FormatError, f"node {self.node.name} attrs.eps",
                 "an object of binary64 numbers by BatchNorm role", repr(table)[:80], "NET-6")
        eps = table.get(role)
        error_if(not isinstance(eps, (int, float)) or isinstance(eps, bool), FormatError,
                 f"node {self.node.name} attrs.eps.{role}", "a binary64 number", repr(eps),
                 "NET-6")
        params = [self.float32(f"{role}.{f}", (channels,)) for f in BN_FIELDS]
        return BatchNorm(*params, eps=float(eps), name=self.member(f"{role}.weight")[:-7])

    def attr(self, key: str, kinds: type | tuple[type, ...] = int):
        value = self.node.attrs.get(key)
        error_if(not isinstance(value, kinds) or isinstance(value, bool), FormatError,
                 f"node {self.node.name} attrs.{key}", f"a value of type {kinds}", repr(value),
                 "NET-6")
        if key in ("stride", "padding", "dilation", "pool"):  # before any loop uses them
            check_limit(value, MAX_CONV_ATTR, f"node {self.node.name} attrs.{key}")
        return value


def _expect(shape: Shape, kind: str, node: Node, index: int) -> Shape:
    error_if(shape[0] != kind, ShapeError, f"node {node.name} input {node.inputs[index]}",
             f"a {kind} tensor", f"a {shape[0]} tensor", "NET-6")
    return shape


def _conv_geometry(ctx: _Context, weight: np.ndarray, channels: int, size: tuple[int, int]):
    """n and the output size of a node's binary convolution, checked (CONV-2, CONV-3)."""
    node = ctx.node
    stride, padding, dilation = ctx.attr("stride"), ctx.attr("padding"), ctx.attr("dilation")
    groups, pad_mode = ctx.attr("groups"), ctx.attr("pad_mode", str)
    check_padding(padding, pad_mode)
    for value, what in ((stride, "stride"), (dilation, "dilation"), (groups, "groups")):
        error_if(value < 1, DomainError, f"node {node.name} attrs.{what}", "an integer >= 1",
                 value, "CONV-3")
    error_if(weight.ndim != 4 or weight.shape[1] * groups != channels
             or weight.shape[0] % groups, ShapeError, ctx.member("weight"),
             f"[Cout, Cin/groups = {channels // groups}, kh, kw] with groups = {groups}",
             list(weight.shape), "CONV-3")
    n = weight.shape[1] * weight.shape[2] * weight.shape[3]
    out = tuple(conv_output_size(s, k, stride, padding, dilation)
                for s, k in zip(size, weight.shape[2:], strict=True))
    error_if(min(out) < 1, ShapeError, f"node {node.name} output", "Ho >= 1 and Wo >= 1",
             list(out), "CONV-2")
    return n, out


def _conv_kwargs(node: Node) -> dict:
    return {key: node.attrs[key] for key in ("stride", "padding", "dilation", "groups",
                                             "pad_mode")} | {"name": node.name}


def _infer_stem(ctx: _Context, image: Shape) -> tuple[list[Shape], dict]:
    _expect(image, "image", ctx.node, 0)
    variant = ctx.attr("variant", str)
    error_if(variant not in ("basenet", "boolnet"), FormatError, f"node {ctx.node.name}",
             "variant basenet or boolnet", repr(variant), "NET-2")
    weight = ctx.array("conv1.weight")
    channels = weight.shape[0] if weight.ndim == 4 else -1
    state = {"conv": ctx.float32("conv1.weight", (channels, 3, 7, 7)),
             "bn0": ctx.batchnorm("bn0", channels)}
    offsets = ctx.array("offsets")
    error_if(offsets.ndim != 1 or offsets.shape[0] < 1, ShapeError, ctx.member("offsets"),
             "shape [S] with S >= 1", list(offsets.shape), "NET-2")
    state["offsets"] = ctx.float32("offsets", offsets.shape)
    if variant == "basenet":
        state["bn"] = ctx.batchnorm("bn", channels)
    else:
        state |= {"bn1": ctx.batchnorm("bn1", channels), "bn2": ctx.batchnorm("bn2", channels),
                  "las": ctx.float32("las.weight", (channels, 1, 3, 3)),
                  "bn_las": ctx.batchnorm("bn_las", channels)}
    size = [stem_output_size(s) for s in image[2:]]
    error_if(min(size) < 1, ShapeError, "image", "an image large enough for the stem",
             list(image[2:]), "NET-2")
    return [("bits", len(offsets), channels, *size)], state


def _run_stem(node: Node, state: dict, image: np.ndarray) -> list[np.ndarray]:
    features = stem_features(image, state["conv"], state["bn0"])
    if node.attrs["variant"] == "basenet":
        return [basenet_stem(features, state["bn"], state["offsets"])]
    return [boolnet_stem(features, state["bn1"], state["bn2"], state["las"], state["bn_las"],
                         state["offsets"])]


def _infer_bconv(ctx: _Context, x: Shape) -> tuple[list[Shape], dict]:
    _, slices, channels, height, width = _expect(x, "bits", ctx.node, 0)
    read, pool = ctx.attr("read", str), ctx.attr("pool")
    groups = ctx.attr("groups")
    error_if(read not in ("slices", "all"), FormatError, f"node {ctx.node.name} attrs.read",
             "slices or all", repr(read), "NET-3")
    if read == "slices":
        error_if(not 1 <= groups <= slices, DomainError, f"node {ctx.node.name} attrs.groups",
                 f"1 <= groups <= S = {slices}", groups, "CONV-4")
        channels_read = groups * channels
    else:
        channels_read = slices * channels
    weight = ctx.bits("weight")
    n, (out_h, out_w) = _conv_geometry(ctx, weight, channels_read, (height, width))
    polarity, threshold = ctx.array("polarity"), ctx.array("threshold")
    try:
        units = ThresholdUnits(polarity, threshold, n)
    except SpecError as error:  # name the stored layer, not only the unit's generic fields
        raise type(error)(f"{ctx.member('threshold')} ({error.tensor})", error.bound,
                          error.value, error.label) from None
    error_if(units.channels != weight.shape[0], ShapeError, ctx.member("polarity"),
             f"[S, Cout = {weight.shape[0]}]", list(units.polarity.shape), "NET-3")
    acc = ("acc", weight.shape[0], out_h, out_w)
    if pool:
        error_if(pool < 0 or min(out_h, out_w) < pool, ShapeError,
                 f"node {ctx.node.name} attrs.pool", f"0 <= pool <= {min(out_h, out_w)}", pool,
                 "NET-3")
        out_h, out_w = (out_h - pool) // pool + 1, (out_w - pool) // pool + 1
    bits = (units.slices, weight.shape[0], out_h, out_w)
    return [acc, ("bits", *bits)], {"weight": weight, "units": units, "bits": bits}


def _run_bconv(node: Node, state: dict, x: np.ndarray) -> list[np.ndarray]:
    if "conv_weights" not in state:  # the weights' evaluation layout, made on the first batch
        state["conv_weights"] = ConvWeights(state["weight"], node.attrs["stride"],
                                            node.attrs["dilation"], node.attrs["groups"],
                                            node.name)
    units, pool = state["units"], node.attrs["pool"]
    bits = np.empty((x.shape[0], *state["bits"]), BIT_DTYPE)
    block_units = state.setdefault("block_units", {})

    def then(s: np.ndarray, images: slice, channels: slice) -> None:
        # THR-1 and POOL-2 act on each (image, channel) alone: a block's bits are its own.
        if channels.start not in block_units:  # dict writes are atomic: a race only repeats work
            block_units[channels.start] = units.select(channels)
        block, target = s[images, channels], bits[images, :, channels]
        if pool:
            threshold_maxpool(block, block_units[channels.start], pool, pool, out=target)
        else:
            threshold_slices(block, block_units[channels.start], out=target)

    if node.attrs["read"] == "slices":
        s = multi_slice_conv2d(x, state["conv_weights"], **_conv_kwargs(node), then=then)
    else:
        s = binary_conv2d(flatten_slices(x), state["conv_weights"], **_conv_kwargs(node),
                          then=then)
    return [s, bits]


def _by_images(op: Callable, shape: tuple[int, ...], *inputs: np.ndarray) -> list[np.ndarray]:
    """``op(*inputs, out=...)`` for an op that treats each image alone, a share of the images on
    each worker thread: the same bits on any split."""
    out = np.empty(shape, BIT_DTYPE)
    step = -(-shape[0] // workers(shape[0]))

    def work(worker: int, shares: list[slice]) -> None:
        for images in shares:
            op(*(x[images] for x in inputs), out=out[images])

    run_parts(work, [slice(low, low + step) for low in range(0, shape[0], step)])
    return [out]


def _infer_split(ctx: _Context, x: Shape) -> tuple[list[Shape], dict]:
    _, slices, channels, height, width = _expect(x, "bits", ctx.node, 0)
    error_if(channels % 2, ShapeError, f"node {ctx.node.name} input", "an even channel count",
             channels, "CHAN-2")
    half = ("bits", slices, channels // 2, height, width)
    return [half, half], {}


def _infer_pair(ctx: _Context, a: Shape, b: Shape) -> tuple[list[Shape], dict]:
    _expect(a, "bits", ctx.node, 0)
    _expect(b, "bits", ctx.node, 1)
    error_if(a != b, ShapeError, f"node {ctx.node.name} input {ctx.node.inputs[1]}",
             f"the shape of {ctx.node.inputs[0]} {list(a[1:])}", list(b[1:]), "NET-4")
    return [a], {}


def _infer_shuffle(ctx: _Context, a: Shape, b: Shape) -> tuple[list[Shape], dict]:
    _infer_pair(ctx, a, b)
    return [("bits", a[1], 2 * a[2], a[3], a[4])], {}


def _infer_head(ctx: _Context, x: Shape) -> tuple[list[Shape], dict]:
    _, slices, channels, height, width = _expect(x, "bits", ctx.node, 0)
    groups = ctx.attr("groups")
    error_if(not 1 <= groups <= slices, DomainError, f"node {ctx.node.name} attrs.groups",
             f"1 <= groups <= S = {slices}", groups, "CONV-4")
    weight = ctx.bits("weight")
    _, out = _conv_geometry(ctx, weight, groups * channels, (height, width))
    error_if(weight.shape[0] != channels or out != (height, width), ShapeError,
             f"node {ctx.node.name} conv output", f"[{channels}, {height}, {width}] (NET-5)",
             [weight.shape[0], *out], "NET-5")
    fc = ctx.array("fc.weight")
    classes = fc.shape[0] if fc.ndim == 2 else -1
    state = {"weight": weight, "alpha": ctx.float32("alpha", (channels,)),
             "bn2": ctx.batchnorm("bn2", channels), "bn3": ctx.batchnorm("bn3", channels),
             "prelu": ctx.float32("prelu.weight", (channels,)),
             "fc.weight": ctx.float32("fc.weight", (classes, channels)),
             "fc.bias": ctx.float32("fc.bias", (classes,))}
    error_if(bool((state["alpha"] <= 0).any()), DomainError, ctx.member("alpha"), "alpha > 0",
             lambda: state["alpha"].min(), "NET-5")
    return [("acc", channels, height, width), ("real", channels, height, width),
            ("logits", classes)], state


def _run_head(node: Node, state: dict, x: np.ndarray) -> list[np.ndarray]:
    if "conv_weights" not in state:  # the weights' evaluation layout, made on the first batch
        state["conv_weights"] = ConvWeights(state["weight"], node.attrs["stride"],
                                            node.attrs["dilation"], node.attrs["groups"],
                                            node.name)
    if "fc.columns" not in state:  # HEAD-3's binary64 W.T (fc.weight checked by _infer_head)
        state["fc.columns"] = fc_columns(state["fc.weight"])
    z = np.empty((x.shape[0], *x.shape[2:]))
    pooled = np.empty((x.shape[0], x.shape[2]))
    blocks = state.setdefault("blocks", {})

    def then(s2: np.ndarray, images: slice, channels: slice) -> None:
        # HEAD-1, HEAD-2 and the pooling of HEAD-3 act on each (image, channel) alone.
        if channels.start not in blocks:  # dict writes are atomic: a race only repeats work
            blocks[channels.start] = (state["alpha"][channels], state["bn2"].select(channels),
                                      state["bn3"].select(channels), state["prelu"][channels])
        alpha, bn2, bn3, slope = blocks[channels.start]
        real = last_block_real(s2[images, channels], alpha, bn2, x[images, :, channels], bn3)
        z[images, channels] = real
        pooled[images, channels] = average_pool(prelu(real, slope))

    s2 = multi_slice_conv2d(x, state["conv_weights"], **_conv_kwargs(node), then=then)
    return [s2, z, linear(pooled, state["fc.columns"], state["fc.bias"])]


@dataclass(frozen=True)
class _Kernel:
    infer: Callable
    run: Callable


KERNELS = dispatch_table("the reference interpreter", {
    "stem": _Kernel(_infer_stem, _run_stem),
    "bconv": _Kernel(_infer_bconv, _run_bconv),
    "split": _Kernel(_infer_split, lambda node, state, x: list(split_channels(x))),
    "xnor": _Kernel(_infer_pair, lambda node, state, a, b: _by_images(logic_xnor, a.shape, a, b)),
    "or": _Kernel(_infer_pair, lambda node, state, a, b: _by_images(logic_or, a.shape, a, b)),
    "shuffle": _Kernel(_infer_shuffle, lambda node, state, a, b: _by_images(
        shuffle_channels, (*a.shape[:2], 2 * a.shape[2], *a.shape[3:]), a, b)),
    "head": _Kernel(_infer_head, _run_head),
})


def _kind(tensor: np.ndarray) -> Shape:
    kinds = {(np.float32, 4): "image", (np.uint8, 5): "bits", (np.int16, 4): "acc",
             (np.float64, 4): "real"}
    kind = kinds.get((tensor.dtype.type, tensor.ndim))
    error_if(kind is None, ShapeError, "tensor", "a tensor kind of NET-1",
             f"{tensor.dtype} of rank {tensor.ndim}", "NET-1")
    return (kind, *tensor.shape[1:])


def run_node(node: Node, arrays: dict[str, np.ndarray], *inputs: np.ndarray) -> list[np.ndarray]:
    """Validate one node against concrete inputs and run it (used while a model is built)."""
    kernel = lookup(KERNELS, node.op, f"node {node.name}")
    _, state = kernel.infer(_Context(node, arrays), *[_kind(x) for x in inputs])
    return kernel.run(node, state, *inputs)


@dataclass
class Model:
    """A validated model graph (NET-6): architecture, nodes, arrays and inferred shapes."""

    architecture: Architecture
    nodes: list[Node]
    arrays: dict[str, np.ndarray]
    shapes: dict[str, Shape] = field(default_factory=dict)
    states: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self):
        size = self.architecture.image_size
        self.shapes = {"image": ("image", 3, size, size)}
        used: dict[str, str] = {}
        for node in self.nodes:
            error_if(node.name in self.states, FormatError, f"node {node.name}",
                     "a node name used once", "a repeated name", "NET-6")
            op = op_spec(node.op, f"node {node.name}")
            unknown = sorted(set(node.attrs) - set(op.attrs))
            error_if(bool(unknown), FormatError, f"node {node.name} attrs",
                     lambda: f"attributes of {node.op} in {sorted(op.attrs)}", unknown, "OPS-1")
            error_if(len(node.inputs) != op.arity or len(node.outputs) != len(op.outputs),
                     FormatError, f"node {node.name}",
                     f"{op.arity} input(s) and {len(op.outputs)} output(s)",
                     f"{len(node.inputs)} and {len(node.outputs)}", "NET-6")
            for name in node.inputs:
                error_if(name not in self.shapes, FormatError, f"node {node.name} input",
                         "a tensor defined by the image or an earlier node", repr(name), "NET-6")
            for index, name in enumerate(node.outputs):
                error_if(name in self.shapes or name in node.outputs[:index], FormatError,
                         f"node {node.name} output", "a new tensor name", repr(name), "NET-6")
            for member in node.arrays.values():
                error_if(member in used, FormatError, member, "an array used by one node",
                         f"used by {used.get(member)} and {node.name}", "NET-6")
                used[member] = node.name
            shapes, state = KERNELS[node.op].infer(_Context(node, self.arrays),
                                     *[self.shapes[name] for name in node.inputs])
            self.shapes.update(zip(node.outputs, shapes, strict=True))
            self.states[node.name] = state
        extra = sorted(set(self.arrays) - set(used))
        error_if(bool(extra), FormatError, extra[0] if extra else "", "only arrays used by a node",
                 f"{len(extra)} unused array(s): {extra[:5]}", "NET-6")
        error_if(self.shapes.get("logits", ("",))[0] != "logits", FormatError, "graph",
                 "a node producing 'logits'", lambda: sorted(self.shapes)[:5], "NET-6")
        error_if(self.shapes["logits"][1] != self.architecture.classes, ShapeError, "logits",
                 f"{self.architecture.classes} classes (the architecture's)",
                 self.shapes["logits"][1], "NET-6")

    @property
    def classes(self) -> int:
        return self.shapes["logits"][1]

    def layers(self) -> list[dict]:
        """One row per binary convolution: shapes, ``n``, accumulator range, units, bit counts."""
        rows = []
        for node in self.nodes:
            if not OPS[node.op].has_binary_conv:
                continue
            state = self.states[node.name]
            weight = state["weight"]
            n = math.prod(int(d) for d in weight.shape[1:])
            row = {"layer": node.name, "op": node.op,
                   "input": list(self.shapes[node.inputs[0]][1:]),
                   "output": list(self.shapes[node.outputs[1]][1:]),
                   "kernel": list(weight.shape[2:]), "stride": node.attrs["stride"],
                   "dilation": node.attrs["dilation"], "groups": node.attrs["groups"],
                   "read": node.attrs.get("read", "slices"), "pool": node.attrs.get("pool", 0),
                   "n": n, "accumulator_range": [-n, n], "weight_bits": int(weight.size)}
            if OPS[node.op].has_threshold_units:
                units = state["units"]
                row |= {"slices": units.slices, "threshold_units": int(units.polarity.size),
                        "constant_units": int((units.constant() >= 0).sum()),
                        "activation_bits": math.prod(int(d) for d in row["output"])}
            else:
                row |= {"slices": 0, "threshold_units": 0, "constant_units": 0,
                        "activation_bits": 0}
            rows.append(row)
        return rows


def run_graph(model: Model, image: np.ndarray,
              execute: Callable[[Node, list[np.ndarray]], list], trace: bool = False,
              progress: Callable[[str], None] | None = None,
              traced: Callable[[str, object], np.ndarray] = lambda name, value: value,
              label: str = "NET-7") -> tuple[np.ndarray, dict]:
    """Run the nodes of ``model`` in their stored order with ``execute(node, inputs)``; each tensor
    is freed after its last use, and kept (through ``traced``) when ``trace`` is asked."""
    image = check_image(image)
    expected = list(model.shapes["image"][1:])
    error_if(list(image.shape[1:]) != expected, ShapeError, "image", f"shape [N, {expected}]",
             list(image.shape), label)
    check_limit(image.shape[0], MAX_IMAGES, "image: images in the batch")
    largest = max(math.prod(shape[1:]) for shape in model.shapes.values())
    check_limit(image.shape[0] * largest, MAX_BATCH_ELEMENTS,
                f"image: elements of the largest tensor of a batch of {image.shape[0]}")
    last_use = {name: index for index, node in enumerate(model.nodes) for name in node.inputs}
    env = {"image": image}
    kept = {}
    # A batch is spread over the thread budget's workers (images are independent); one image
    # keeps the BLAS's own threads.
    with session(parallel=image.shape[0] >= 2):
        for index, node in enumerate(model.nodes):
            outputs = execute(node, [env[name] for name in node.inputs])
            env.update(zip(node.outputs, outputs, strict=True))
            if trace:
                kept.update((name, traced(name, value))
                            for name, value in zip(node.outputs, outputs, strict=True))
            for name in node.inputs:
                if last_use[name] == index and name != "image":
                    del env[name]
            if progress is not None:
                progress(node.name)
    return env["logits"], kept


def forward(model: Model, image: np.ndarray, trace: bool = False,
            progress: Callable[[str], None] | None = None) -> tuple[np.ndarray, dict]:
    """``(logits, trace)`` for a float32 image batch (NET-7); the trace is empty unless asked."""
    def execute(node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return KERNELS[node.op].run(node, model.states[node.name], *inputs)

    with ops_own_bits():  # the arrays were checked when the model was built; the rest are outputs
        return run_graph(model, image, execute, trace, progress)
