"""Machine, an independent re-implementation: a model file executed node by node on packed words.

The binary nodes of NET-3 to NET-5 run on the units of this package: every binary tensor lives
in the packed layout (PACK-2) and is transformed by the units of this package; only the
real-valued stem (STEM-3 to STEM-5) and the real part of the head (HEAD-1 to HEAD-3) call the
reference, and the model is loaded and validated by the reference (NET-6).

.. req:: MACH-1

   Execution. A :class:`~boolnet_spec.reference.network.Model` (validated, NET-6) runs in its
   stored node order
   on a float32 image batch of the architecture's size (``ERROR_IF`` another shape, STEM-1 and
   NET-7). ``stem``: the reference's stem, then packing (PACK-2). ``bconv``: the convolution input
   (PERM-4), the line buffer (LB-1, LB-2), the matrix-vector unit (MVU-1, MVU-3) with its
   accumulator (ACCW-1), the threshold unit (THU-1 to THU-3) and, with ``pool = k``, the pooling
   unit (POOLU-2). ``split`` and ``shuffle``: PERM-2, PERM-3. ``xnor`` and ``or``: LOGU-1,
   LOGU-2. ``head``: the matrix-vector unit for its convolution, then the reference's HEAD-1 on
   ``s2 = n - 2d`` and the unpacked input bits, HEAD-2 and HEAD-3.

.. req:: MACH-2

   Trace. With ``trace`` the machine returns every named tensor the nodes produce, under the
   reference's names, in the reference's unpacked form (NET-1): bits as uint8 ``[N, S, C, H, W]``
   (the inverse of PACK-2) and accumulators as int16 ``s = n - 2d`` ``[N, C, H, W]`` (MVU-2). A
   conforming datapath's trace equals the reference's ``forward(model, image, trace=True)``
   tensor for tensor, dtype and shape included, compared with ``np.array_equal``. With
   ``packed`` the trace holds the tensors as the datapath stores them instead: bits as
   :class:`~boolnet_spec.equivalence.datapath.layout.PackedBits` (PACK-2) and accumulators as the
   mismatch
   counts ``d[N, Ho, Wo, Cout]`` (MVU-2), for memory images and traffic counts.

.. req:: MACH-3

   Configuration: ``pe``, ``simd``, ``acc_bits`` and ``acc_signed`` of MVU-3, ACCW-1 and ACCW-3,
   checked when the machine is built, before any image is read
   (:class:`~boolnet_spec.reference.errors.DomainError`), together with the static width of
   every layer (ACCW-4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from boolnet_spec.equivalence.datapath.layout import (
    PackedBits,
    pack_activations,
    pack_weights,
    unpack_activations,
)
from boolnet_spec.equivalence.datapath.line_buffer import output_size, pad_pixels, windows
from boolnet_spec.equivalence.datapath.logic_unit import logic_or, xnor
from boolnet_spec.equivalence.datapath.mvu import (
    MVUConfig,
    check_widths,
    matrix_vector,
    minimal_width,
    mismatches_to_accumulator,
)
from boolnet_spec.equivalence.datapath.permute import select_groups, shuffle, split
from boolnet_spec.equivalence.datapath.pool_unit import threshold_pool
from boolnet_spec.equivalence.datapath.threshold_unit import ThresholdUnit
from boolnet_spec.reference.head import classifier, last_block_real, prelu
from boolnet_spec.reference.network import Model, Node, run_graph
from boolnet_spec.reference.ops import OPS, dispatch_table, lookup
from boolnet_spec.reference.stem import basenet_stem, boolnet_stem, stem_features

__all__ = ["ConvLayer", "Datapath"]


@dataclass(frozen=True)
class ConvLayer:
    """A binary convolution compiled for the matrix-vector unit."""

    name: str
    rows: np.ndarray            # [K, G, Cout/G] words: PACK-4 rows, word-major for the folds
    n: int
    groups: int
    read: str
    kernel: tuple[int, int]
    stride: int
    padding: int
    dilation: int
    pad_mode: str
    group_channels: int         # Cin_g
    out_channels: int
    units: ThresholdUnit | None
    pool: int
    polarity_words: np.ndarray | None

    @classmethod
    def compile(cls, node: Node, state: dict) -> ConvLayer:
        weight = state["weight"]
        cout, cin_group, kh, kw = weight.shape
        groups = node.attrs["groups"]
        packed = pack_weights(weight, f"{node.name}.weight")          # [Cout, taps, Kg]
        rows = packed.reshape(groups, cout // groups, -1).transpose(2, 0, 1)
        n = cin_group * kh * kw
        units = state.get("units")
        unit = None if units is None else ThresholdUnit.from_canonical(
            units.polarity, units.threshold, n, f"{node.name} threshold")
        pool = node.attrs.get("pool", 0)
        return cls(node.name, np.ascontiguousarray(rows), n, groups,
                   node.attrs.get("read", "slices"), (kh, kw), node.attrs["stride"],
                   node.attrs["padding"], node.attrs["dilation"], node.attrs["pad_mode"],
                   cin_group, cout, unit, pool,
                   None if unit is None or not pool else unit.polarity_words())

    @property
    def min_acc_bits(self) -> int:
        return minimal_width(self.n)

    def mismatches(self, x: PackedBits, config: MVUConfig) -> tuple[np.ndarray, tuple]:
        """``d[N*Ho*Wo, Cout]`` and ``(N, Ho, Wo)`` (PERM-4, LB-1, LB-2, MVU-1, ACCW-1)."""
        x.checked(f"{self.name} input")
        vectors = select_groups(x, self.groups, self.read, self.name)
        padded = pad_pixels(vectors, self.padding, self.pad_mode, self.group_channels, self.name)
        size = tuple(output_size(s, k, self.stride, self.padding, self.dilation)
                     for s, k in zip(x.words.shape[1:3], self.kernel, strict=True))
        win = windows(padded, self.kernel, self.stride, self.dilation, size)
        return matrix_vector(win, self.rows, self.n, config, self.name), (x.words.shape[0], *size)

    def accumulator(self, d: np.ndarray, pixels: tuple) -> np.ndarray:
        """The reference's view of ``d``: int16 ``s[N, Cout, Ho, Wo]`` (MVU-2)."""
        s = mismatches_to_accumulator(d, self.n).reshape(*pixels, self.out_channels)
        return np.ascontiguousarray(s.transpose(0, 3, 1, 2))

    def run(self, x: PackedBits, config: MVUConfig) -> tuple[np.ndarray, tuple, PackedBits]:
        """``d``, its pixel shape and the output bits of a ``bconv`` node (THU, POOLU-2)."""
        d, pixels = self.mismatches(x, config)
        bits = self.units.apply(d, pixels)
        if self.pool:
            bits = threshold_pool(bits, self.polarity_words, self.pool, self.pool, self.name)
        return d, pixels, bits


class Datapath:
    """The accelerator model of a validated reference model (MACH-1 to MACH-3)."""

    def __init__(self, model: Model, pe: int = 64, simd: int = 64, acc_bits: int = 16,
                 acc_signed: bool = False, static_check: bool = True):
        self.model = model
        self.config = MVUConfig(pe, simd, acc_bits, acc_signed)
        self.layers = {node.name: ConvLayer.compile(node, model.states[node.name])
                       for node in model.nodes if OPS[node.op].has_binary_conv}
        if static_check:
            check_widths({name: layer.n for name, layer in self.layers.items()}, self.config)

    def min_acc_bits(self) -> dict[str, int]:
        """ACCW-2 per binary convolution, for this machine's register kind (ACCW-3)."""
        return {name: self.config.required_width(layer.n) for name, layer in self.layers.items()}

    def _stem(self, node: Node, image: np.ndarray) -> list:
        state = self.model.states[node.name]
        features = stem_features(image, state["conv"], state["bn0"])
        if node.attrs["variant"] == "basenet":
            bits = basenet_stem(features, state["bn"], state["offsets"])
        else:
            bits = boolnet_stem(features, state["bn1"], state["bn2"], state["las"],
                                state["bn_las"], state["offsets"])
        return [pack_activations(bits, node.outputs[0])]

    def _head(self, node: Node, x: PackedBits) -> list:
        state = self.model.states[node.name]
        layer = self.layers[node.name]
        d, pixels = layer.mismatches(x, self.config)
        s2 = layer.accumulator(d, pixels)
        z = last_block_real(s2, state["alpha"], state["bn2"],
                            unpack_activations(x, node.inputs[0]), state["bn3"])
        return [s2, z, classifier(prelu(z, state["prelu"]), state["fc.weight"],
                                  state["fc.bias"])]

    def _bconv(self, node: Node, x: PackedBits, trace: str | None) -> list:
        layer = self.layers[node.name]
        d, pixels, bits = layer.run(x, self.config)
        if trace == "packed":
            return [d.reshape(*pixels, layer.out_channels), bits]
        return [layer.accumulator(d, pixels) if trace else None, bits]

    def _node(self, node: Node, inputs: list, trace: str | None) -> list:
        return lookup(UNITS, node.op, f"node {node.name}")(self, node, inputs, trace)

    def run(self, image: np.ndarray, trace: bool = False,
            progress: Callable[[str], None] | None = None,
            packed: bool = False) -> tuple[np.ndarray, dict]:
        """``(logits, trace)`` for a float32 image batch (MACH-1, MACH-2); the trace is empty
        unless asked, and in the datapath's own form with ``packed``."""
        mode = ("packed" if packed else "unpacked") if trace else None

        def unpacked(name: str, value):
            return unpack_activations(value, name) if isinstance(value, PackedBits) else value

        return run_graph(self.model, image, lambda node, inputs: self._node(node, inputs, mode),
                         trace, progress, (lambda name, value: value) if packed else unpacked,
                         label="MACH-1")


# Which unit of the machine runs each op of the registry (MACH-1).
UNITS = dispatch_table("the datapath machine", {
    "stem": lambda machine, node, inputs, trace: machine._stem(node, inputs[0]),
    "bconv": lambda machine, node, inputs, trace: machine._bconv(node, inputs[0], trace),
    "split": lambda machine, node, inputs, trace: list(split(inputs[0], node.name)),
    "xnor": lambda machine, node, inputs, trace: [xnor(*inputs)],
    "or": lambda machine, node, inputs, trace: [logic_or(*inputs)],
    "shuffle": lambda machine, node, inputs, trace: [shuffle(*inputs, name=node.name)],
    "head": lambda machine, node, inputs, trace: machine._head(node, inputs[0]),
})
