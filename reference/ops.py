"""Ops: the one registry of the graph operations, their attributes, their arrays, and the tensor
names a block produces.

Every engine that runs or inspects a model graph (the reference interpreter, the PyTorch harness,
the certifier, the datapath machine, its cost counters, the exporter and the conformance kit)
reads the set of ops from ``OPS`` and dispatches through :func:`dispatch_table`, so that an
op added here is missing nowhere without a test failing, and an unknown op is the same typed
error everywhere.

.. req:: OPS-1

   The graph ops are exactly ``stem``, ``bconv``, ``split``, ``xnor``, ``or``, ``shuffle`` and
   ``head`` (NET-2 to NET-5), each with a fixed number of inputs and outputs, the kinds of those
   tensors (NET-1), its attributes with their JSON types, and its array roles. ``ERROR_IF`` a node
   names another op (:class:`~boolnet_spec.reference.errors.FormatError`), in every engine.

.. req:: OPS-2

   Tensor names of a block ``p`` (BUILD-1): the split ``p.x`` and ``p.carry``; the downsample's
   accumulator ``p.downsample.0`` and bits ``p.downsample``; ``p.conv1`` and ``p.ghostsign1``;
   ``p.xnor``; ``p.conv2`` and ``p.ghostsign2``; ``p.or``; the block output ``p``. The
   downsample's BatchNorm is the authors' module ``p.downsample.1``, or ``p.downsample.2`` when
   the branch pools first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from boolnet_spec.reference.errors import FormatError

__all__ = ["OpSpec", "OPS", "OP_NAMES", "BN_FIELDS", "BlockTensors", "op_spec",
           "dispatch_table", "lookup"]

BN_FIELDS = ("weight", "bias", "running_mean", "running_var")
"""The four arrays of a BatchNorm role ``r``: ``r.weight``, ``r.bias``, ``r.running_mean``,
``r.running_var`` (float32 ``[C]``)."""

_CONV_ATTRS = {"stride": int, "padding": int, "dilation": int, "groups": int, "pad_mode": str}


@dataclass(frozen=True)
class OpSpec:
    """One graph op: its tensors, attributes and arrays (OPS-1)."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, type]
    arrays: tuple[str, ...]
    batchnorms: tuple[str, ...] = ()
    label: str = ""

    @property
    def arity(self) -> int:
        return len(self.inputs)

    @property
    def has_threshold_units(self) -> bool:
        return "threshold" in self.arrays

    @property
    def has_binary_conv(self) -> bool:
        return "weight" in self.arrays and "bits" in self.inputs[:1]


#: The graph ops by name (OPS-1); the model-file tables of the specification are generated from it.
OPS: dict[str, OpSpec] = {spec.name: spec for spec in (
    OpSpec("stem", ("image",), ("bits",), {"variant": str, "eps": dict},
           ("conv1.weight", "offsets", "las.weight"), ("bn0", "bn", "bn1", "bn2", "bn_las"),
           "NET-2"),
    OpSpec("bconv", ("bits",), ("acc", "bits"), {**_CONV_ATTRS, "read": str, "pool": int},
           ("weight", "polarity", "threshold"), (), "NET-3"),
    OpSpec("split", ("bits",), ("bits", "bits"), {}, (), (), "NET-4"),
    OpSpec("xnor", ("bits", "bits"), ("bits",), {}, (), (), "NET-4"),
    OpSpec("or", ("bits", "bits"), ("bits",), {}, (), (), "NET-4"),
    OpSpec("shuffle", ("bits", "bits"), ("bits",), {}, (), (), "NET-4"),
    OpSpec("head", ("bits",), ("acc", "real", "logits"), {**_CONV_ATTRS, "eps": dict},
           ("weight", "alpha", "prelu.weight", "fc.weight", "fc.bias"), ("bn2", "bn3"),
           "NET-5"),
)}
OP_NAMES = tuple(OPS)


def op_spec(op: object, where: str) -> OpSpec:
    """The registry entry of ``op``; ``ERROR_IF`` it is not an op (OPS-1)."""
    spec = OPS.get(op) if isinstance(op, str) else None
    if spec is None:
        raise FormatError(where, f"an op in {list(OP_NAMES)}", repr(op), "OPS-1")
    return spec


def dispatch_table(consumer: str, handlers: Mapping[str, object]) -> dict[str, object]:
    """A consumer's handlers, one per op of the registry, checked when the consumer is imported:
    a missing or extra op is a bug of that consumer, found before any model is read."""
    missing, extra = set(OPS) - set(handlers), set(handlers) - set(OPS)
    if missing or extra:
        raise TypeError(f"{consumer} handles {sorted(handlers)}, not the ops {list(OP_NAMES)} "
                        f"(missing {sorted(missing)}, extra {sorted(extra)})")
    return dict(handlers)


def lookup(table: Mapping[str, object], op: object, where: str):
    """The handler of ``op`` in a dispatch table; an unknown op is OPS-1's typed error."""
    op_spec(op, where)
    return table[op]


@dataclass(frozen=True)
class BlockTensors:
    """The tensor and node names of block ``p`` (OPS-2, BUILD-1)."""

    p: str

    @property
    def x(self) -> str:
        return f"{self.p}.x"

    @property
    def carry(self) -> str:
        return f"{self.p}.carry"

    @property
    def downsample_acc(self) -> str:
        return f"{self.p}.downsample.0"

    @property
    def downsample(self) -> str:
        return f"{self.p}.downsample"

    @property
    def conv1(self) -> str:
        return f"{self.p}.conv1"

    @property
    def ghostsign1(self) -> str:
        return f"{self.p}.ghostsign1"

    @property
    def xnor(self) -> str:
        return f"{self.p}.xnor"

    @property
    def conv2(self) -> str:
        return f"{self.p}.conv2"

    @property
    def ghostsign2(self) -> str:
        return f"{self.p}.ghostsign2"

    @property
    def logic_or(self) -> str:
        return f"{self.p}.or"

    @property
    def output(self) -> str:
        return self.p

    def node(self, part: str) -> str:
        """The node name of ``part``: ``split``, ``downsample``, ``conv1``, ``xnor``,
        ``conv2``, ``or`` or ``shuffle``."""
        return f"{self.p}.{part}"

    @staticmethod
    def downsample_bn(pool: int) -> str:
        """The authors' index of the downsample's BatchNorm (``downsample.1`` or ``.2``)."""
        return "2" if pool else "1"

    @staticmethod
    def of_node(name: str) -> tuple[BlockTensors, str]:
        """The block and part of a block node's name ``layerL.b.part``."""
        p, _, part = name.rpartition(".")
        return BlockTensors(p), part
