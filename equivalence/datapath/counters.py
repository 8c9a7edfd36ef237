"""Counters, an independent re-implementation: cycles, traffic, operations and energy.

Per layer and per model, every count is derived here from the layer shapes of a validated
model (NET-6) and the datapath's layout (PACK-2, PACK-4) and folding (MVU-3); nothing is measured
by running the reference. Counts are per image.

.. req:: COST-1

   BOPs. A binary MAC is one term of the sum of CONV-1. A binary convolution with
   ``n = Cin_g*kh*kw`` and accumulators ``[Cout, Ho, Wo]`` costs ``Cout*Ho*Wo*n`` BOPs: every
   output channel reads the ``Cin_g`` channels of its own group (one slice for ``read = slices``),
   never all ``S`` slices. The downsample branch's 1x1 convolution counts at its full resolution,
   since it pools after the convolution (ARCH-5); the head's binary convolution counts too. Gates,
   comparisons and permutations are not BOPs; they are counted as ``logic_ops`` (one per output
   bit of a gate, ``k*k - 1`` per output bit of a ``k x k`` pooling) and ``threshold_ops`` (one per
   threshold unit evaluation, and one per slice bit of the stem's quantizer).

.. req:: COST-2

   FLOPs are the real-valued operations of the authors' float graph at inference, one per
   multiply-accumulate of a real convolution or linear layer and one per output element of an
   element-wise layer: the stem's 7x7 convolution (``C*Ho*Wo*3*49``), its BatchNorm, its max
   pooling (per output element) and, in BaseNet, its BatchNorm before the quantizer; in BoolNet the
   three BatchNorms of local adaptive shifting, the depthwise 3x3 convolution (``9`` per element)
   and the addition; for every binary convolution the BatchNorm that its threshold units replace
   (per element after pooling), and for the downsample branch also its conv bias (per element
   before pooling) and its max pooling (per output element); in the head BN2, BN3, the addition,
   PReLU and the global average pooling (per element of ``[C, H, W]``), the mean over slices
   (``S`` per element) and the classifier (``K*C`` MACs and ``K`` bias additions). The weight
   scale ``alpha`` and the slice offsets are not counted: they are folded into the weights and
   thresholds of the float graph's operations. The datapath itself executes only the stem's and
   the head's FLOPs; the others are the folded BatchNorms, counted so that the totals compare
   with the paper's.

.. req:: COST-3

   ``OPs = FLOPs + BOPs / 64``, the paper's definition (its section on operations, :doc:`/citing`).

.. req:: COST-4

   Cycles with ``PE`` rows and ``SIMD`` bits (MVU-3): a binary convolution takes
   ``Ho*Wo*ceil(Cout/PE)*ceil(64*K/SIMD)`` cycles with ``K = kh*kw*ceil(Cin_g/64)``; the threshold
   and pooling units are pipelined behind the matrix-vector unit and add none. Gates and
   permutations stream one pixel (all its words) per cycle: ``H*W`` cycles of their output. The
   real-valued stem and the real part of the head are not modelled in cycles (0); their cost is
   their FLOPs. The count is of issue slots: pipeline latency (filling and draining, a few
   clocks a layer, not a few per pixel) is not part of it.

.. req:: COST-5

   Memory traffic in bits, per memory. ``weights`` (PE-local): a binary convolution reads its whole
   packed matrix for every output pixel, ``Ho*Wo*Cout*64*K``. ``thresholds`` (PE-local): every
   threshold unit once per accumulator, ``Ho*Wo*S*Cout*17`` (int16 threshold and polarity bit).
   ``activations`` (on-chip SRAM): a layer reads every word of its packed inputs once (the line
   buffer keeps the rows it re-reads, LB-3; a convolution reads only the slices it selects,
   PERM-4) and writes every word of its packed outputs once; the stem reads the float32 image and
   the head writes float32 logits. ``dram``: every parameter is loaded once, packed binary weights
   as stored (``Cout*64*K``), thresholds as 17 bits, real parameters as 32 bits. Permutations are
   counted as a stand-alone unit that reads and writes its words; a design that wires them into
   the next unit's address generator saves that traffic.

.. req:: COST-6

   Table 3 memory of a convolution block: ``weights + input activations + 2 * output feature
   maps``, from the layer's shapes: ``Cout*Cin_g*kh*kw + S*C*H*W + 2*S'*Cout*Ho*Wo`` bits for an
   input ``[S, C, H, W]`` and an output ``[S', Cout, Ho, Wo]`` (the conv output and the shortcut);
   for the 32-bit-shortcut baseline the input is one binary slice and both feature maps are 32-bit:
   ``Cout*Cin_g*kh*kw + C*H*W + 2*32*Cout*Ho*Wo``. For ``layer1.0.conv1`` this is 638,976 bits
   (``basenet-k1``), 2,445,312 (``basenet-k4``, ``boolnet-k4``) and 13,082,624 (baseline), the
   paper's Table 3.

.. req:: COST-7

   Energy. ``E = sum over memories of bits * e_bit(memory) + BOPs*e_bop + FLOPs*e_real +
   threshold_ops*e_threshold + logic_ops*e_logic``, per layer and per model, with the constants of
   one :class:`EnergyTable` (:data:`HOROWITZ_45NM` unless replaced). A block (COST-6) costs its
   Table 3 bits at ``e_sram`` plus its BOPs, plus per output bit one threshold and one gate
   (BaseNet, BoolNet), or per output element a 32-bit BatchNorm (multiply and add), a 32-bit
   shortcut addition and a 32-bit sign (the baseline).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from boolnet_spec.equivalence.datapath.layout import WORD_BITS, words_for
from boolnet_spec.equivalence.datapath.mvu import (
    MVUConfig,
    minimal_width,
    neuron_folds,
    synapse_folds,
)
from boolnet_spec.reference.errors import DomainError, FormatError, error_if
from boolnet_spec.reference.network import Model, Node
from boolnet_spec.reference.ops import dispatch_table, lookup

__all__ = ["EnergyTable", "HOROWITZ_45NM", "PAPER", "PAPER_TABLE3", "THRESHOLD_BITS", "layer_costs",
           "model_costs", "table3_bits", "block_energy", "block_comparison"]

#: Bits of one threshold unit in memory: an int16 threshold and a polarity bit (THR-1).
THRESHOLD_BITS = 17
REAL_BITS = 32


@dataclass(frozen=True)
class EnergyTable:
    """Energy per bit accessed and per operation, in picojoules (COST-7).

    The default, :data:`HOROWITZ_45NM`, takes the 45 nm, 0.9 V figures of M. Horowitz,
    "Computing's energy problem (and what we can do about it)", ISSCC 2014, in the 32-bit form
    tabulated by Han et al., "Learning both weights and connections for efficient neural
    networks", NeurIPS 2015, Table 1: 32-bit SRAM access 5 pJ (half of Horowitz's 10 pJ for a
    64-bit access to an 8 kB cache), 32-bit DRAM access 640 pJ, 32-bit register file 1 pJ, 32-bit
    int add 0.1 pJ, 32-bit float add 0.9 pJ, 32-bit float multiply 3.7 pJ; and from Horowitz's
    table 8-bit int add 0.03 pJ and multiply 0.2 pJ. The datapath's memories map to them as:
    activations to SRAM (``sram_bit``), the PE-local weight and threshold memories to register
    files (``local_bit``), the first load of every parameter to DRAM (``dram_bit``). The 1-bit and
    16-bit figures are derived by this model (assumptions, not measurements): a 1-bit gate costs one
    bit of a 32-bit ripple adder, ``0.1/32`` pJ; a binary MAC an XNOR gate plus one full-adder bit
    of the popcount tree, twice that; a 16-bit comparison a 16-bit subtraction, ``0.1/2`` pJ; a
    bit of a memory a 32nd of its 32-bit access. A real FLOP of the stem and head costs an 8-bit
    multiply-accumulate, 0.23 pJ, as in the paper's hardware (Int8 stem convolution and
    BatchNorm). The 32-bit-shortcut baseline block uses the 32-bit figures.
    """

    source: str
    sram_bit: float
    local_bit: float
    dram_bit: float
    bop: float
    logic: float
    threshold: float
    real_op: float
    fp32_mult: float
    fp32_add: float
    int32_add: float

    def __post_init__(self):
        for item in fields(self)[1:]:
            value = getattr(self, item.name)
            error_if(not isinstance(value, (int, float)) or isinstance(value, bool)
                     or not math.isfinite(value) or value < 0, DomainError,
                     f"energy.{item.name}", "a finite number of picojoules >= 0", repr(value),
                     "COST-7")

    def bit_energy(self, memory: str) -> float:
        return {"weights": self.local_bit, "thresholds": self.local_bit,
                "activations": self.sram_bit, "dram": self.dram_bit}[memory]

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, path: str | Path) -> EnergyTable:
        """A replacement table: a JSON object with every field of :data:`HOROWITZ_45NM`."""
        from boolnet_spec.reference.safe_io import loads_json, read_text

        data = loads_json(read_text(path, f"energy table {path}", "COST-7"),
                          f"energy table {path}", "COST-7")
        names = [item.name for item in fields(cls)]
        error_if(not isinstance(data, dict) or sorted(data) != sorted(names), FormatError,
                 "energy table", f"a JSON object with exactly the keys {names}",
                 lambda: sorted(data) if isinstance(data, dict) else type(data).__name__, "COST-7")
        return cls(**data)


_ADD32, _SRAM32, _DRAM32, _RF32 = 0.1, 5.0, 640.0, 1.0
#: The default energy constants (45 nm), see :class:`EnergyTable`.
HOROWITZ_45NM = EnergyTable(
    source="Horowitz, ISSCC 2014, 45 nm 0.9 V (32-bit figures as tabulated by Han et al., "
           "NeurIPS 2015); 1-bit and 16-bit operations derived by this model",
    sram_bit=_SRAM32 / 32, local_bit=_RF32 / 32, dram_bit=_DRAM32 / 32, bop=2 * _ADD32 / 32,
    logic=_ADD32 / 32, threshold=_ADD32 / 2, real_op=0.2 + 0.03, fp32_mult=3.7, fp32_add=0.9,
    int32_add=_ADD32)

#: The paper's numbers (its main table, :doc:`/citing`) by configuration; ``boolnet-k1`` is its
#: ablation "BoolNet with logic shortcuts, k = 1" and ``bi-realnet`` its 32-bit-shortcut baseline.
PAPER = {
    "basenet-k1": {"flops": 1.23e8, "bops": 1.76e9, "ops": 1.51e8, "energy_mj": 0.61},
    "basenet-k4": {"ops": 1.54e8, "energy_mj": 0.74},
    "boolnet-k4": {"flops": 1.26e8, "bops": 2.50e9, "ops": 1.64e8, "energy_mj": 0.84},
    "boolnet-star-k4": {"ops": 1.76e8, "energy_mj": 1.18},
    "boolnet-k1": {"flops": 1.23e8, "bops": 2.01e9, "ops": 1.55e8},
    "bi-realnet": {"ops": 1.63e8, "energy_mj": 3.90},
}
#: The paper's Table 3: minimum memory bits of a stage-1 block.
PAPER_TABLE3 = {"k=1": 638_976, "k=4": 2_445_312, "32-bit": 13_082_624}


def _bits(shape) -> tuple[int, int, int, int]:
    _, slices, channels, height, width = shape
    return slices, channels, height, width


def _packed_bits(shape) -> int:
    """Bits of a packed activation tensor, unused bits included (PACK-2)."""
    slices, channels, height, width = _bits(shape)
    return height * width * slices * words_for(channels) * WORD_BITS


def _row(node: Node, **counts) -> dict:
    reads = counts.pop("reads", {})
    writes = counts.pop("writes", {})
    row = {"layer": node.name, "op": node.op, "n": 0, "min_acc_bits": 0, "bops": 0, "flops": 0,
           "logic_ops": 0, "threshold_ops": 0, "cycles": 0}
    row.update(counts)
    row["reads"] = {m: int(reads.get(m, 0)) for m in ("weights", "thresholds", "activations",
                                                       "dram")}
    row["writes"] = {"activations": int(writes.get("activations", 0))}
    return row


def _conv_counts(model: Model, node: Node, config: MVUConfig) -> dict:
    """BOPs, cycles and weight traffic of a binary convolution (COST-1, COST-4, COST-5)."""
    state = model.states[node.name]
    cout, cin_group, kh, kw = state["weight"].shape
    _, _, out_h, out_w = model.shapes[node.outputs[0]]
    slices, channels, height, width = _bits(model.shapes[node.inputs[0]])
    groups, read = node.attrs["groups"], node.attrs.get("read", "slices")
    words = kh * kw * words_for(cin_group)
    n = cin_group * kh * kw
    read_slices = slices if read == "all" else groups
    pixels = out_h * out_w
    return {"n": n, "min_acc_bits": minimal_width(n), "bops": cout * pixels * n,
            "cycles": pixels * neuron_folds(cout, config.pe) * synapse_folds(words, config.simd),
            "reads": {"weights": pixels * cout * WORD_BITS * words,
                      "activations": height * width * read_slices * words_for(channels)
                      * WORD_BITS,
                      "dram": cout * WORD_BITS * words},
            "pixels": pixels, "cout": cout}


def _bconv(model: Model, node: Node, config: MVUConfig) -> dict:
    counts = _conv_counts(model, node, config)
    pixels, cout = counts.pop("pixels"), counts.pop("cout")
    out = model.shapes[node.outputs[1]]
    slices, _, out_h, out_w = _bits(out)
    pool = node.attrs.get("pool", 0)
    flops = cout * out_h * out_w                      # the folded BatchNorm
    if node.attrs.get("read") == "all":
        flops += cout * pixels                        # the BConv's bias
    if pool:
        flops += cout * out_h * out_w                 # its max pooling
    counts["reads"]["thresholds"] = pixels * slices * cout * THRESHOLD_BITS
    counts["reads"]["dram"] += slices * cout * THRESHOLD_BITS
    return _row(node, **counts, flops=flops, threshold_ops=pixels * slices * cout,
                logic_ops=slices * cout * out_h * out_w * (pool * pool - 1) if pool else 0,
                writes={"activations": _packed_bits(out)})


def _head(model: Model, node: Node, config: MVUConfig) -> dict:
    counts = _conv_counts(model, node, config)
    counts.pop("pixels")
    slices, channels, height, width = _bits(model.shapes[node.inputs[0]])
    classes = model.shapes[node.outputs[2]][1]
    elements = channels * height * width
    # BN2, BN3, the addition, PReLU, average pooling; the slice mean; the classifier.
    flops = 5 * elements + slices * elements + classes * channels + classes
    params = channels * (1 + 4 + 4 + 1) + classes * channels + classes
    counts.pop("cout")
    counts["reads"]["dram"] += REAL_BITS * params
    return _row(node, **counts, flops=flops, writes={"activations": REAL_BITS * classes})


def _stem(model: Model, node: Node) -> dict:
    image = model.shapes[node.inputs[0]]
    out = model.shapes[node.outputs[0]]
    slices, channels, height, width = _bits(out)
    conv = (image[2] + 2 * 3 - 7) // 2 + 1, (image[3] + 2 * 3 - 7) // 2 + 1
    conv_elements = channels * conv[0] * conv[1]
    elements = channels * height * width
    flops = conv_elements * 3 * 49 + conv_elements + elements      # conv1, BN0, max pooling
    params = channels * 3 * 49 + 4 * channels + slices
    if node.attrs["variant"] == "basenet":
        flops += elements
        params += 4 * channels
    else:
        flops += 3 * elements + 9 * elements + elements            # three BNs, dwconv, add
        params += 3 * 4 * channels + 9 * channels
    return _row(node, flops=flops, threshold_ops=slices * elements,
                reads={"activations": REAL_BITS * int(math.prod(image[1:])),
                       "dram": REAL_BITS * params},
                writes={"activations": _packed_bits(out)})


def _stream(model: Model, node: Node) -> dict:
    """Gates and permutations (COST-1, COST-4, COST-5)."""
    ins = [model.shapes[name] for name in node.inputs]
    outs = [model.shapes[name] for name in node.outputs]
    slices, channels, height, width = _bits(outs[0])
    logic = slices * channels * height * width if node.op in LOGIC_GATES else 0
    return _row(node, logic_ops=logic, cycles=height * width,
                reads={"activations": sum(_packed_bits(s) for s in ins)},
                writes={"activations": sum(_packed_bits(s) for s in outs)})


LOGIC_GATES = ("xnor", "or")
"""The ops that evaluate a gate per bit (COST-1); split and shuffle only move bits."""

# The counter of each op of the registry.
COUNTERS = dispatch_table("the cost counters", {
    "stem": lambda model, node, config: _stem(model, node),
    "bconv": _bconv,
    "head": _head,
    **{op: (lambda model, node, config: _stream(model, node))
       for op in ("split", "xnor", "or", "shuffle")},
})


def _energy(row: dict, table: EnergyTable) -> float:
    memory = sum(bits * table.bit_energy(m) for m, bits in row["reads"].items())
    memory += row["writes"]["activations"] * table.sram_bit
    return (memory + row["bops"] * table.bop + row["flops"] * table.real_op
            + row["threshold_ops"] * table.threshold + row["logic_ops"] * table.logic)


def layer_costs(model: Model, config: MVUConfig | None = None,
                table: EnergyTable = HOROWITZ_45NM) -> list[dict]:
    """One row per node, per image (COST-1 to COST-5, COST-7)."""
    config = config or MVUConfig()
    rows = []
    for node in model.nodes:
        row = lookup(COUNTERS, node.op, f"node {node.name}")(model, node, config)
        row["ops"] = row["flops"] + row["bops"] / 64
        row["bits_read"] = sum(row["reads"].values())
        row["bits_written"] = row["writes"]["activations"]
        row["energy_pj"] = _energy(row, table)
        rows.append(row)
    return rows


def model_costs(model: Model, config: MVUConfig | None = None,
                table: EnergyTable = HOROWITZ_45NM) -> dict:
    """``{"layers": [...], "total": {...}}`` per image (COST-3 to COST-5, COST-7)."""
    layers = layer_costs(model, config, table)
    total = {key: sum(row[key] for row in layers)
             for key in ("bops", "flops", "logic_ops", "threshold_ops", "cycles", "bits_read",
                         "bits_written", "energy_pj")}
    total["ops"] = total["flops"] + total["bops"] / 64
    total["reads"] = {m: sum(row["reads"][m] for row in layers) for m in layers[0]["reads"]}
    total["writes"] = {"activations": total["bits_written"]}
    return {"layers": layers, "total": total}


def table3_bits(model: Model, conv: str = "layer1.0.conv1", baseline: bool = False) -> int:
    """Table 3's minimum memory bits of the block around binary convolution ``conv`` (COST-6)."""
    node = next((node for node in model.nodes if node.name == conv and node.op == "bconv"),
                None)
    error_if(node is None, DomainError, "conv", "the name of a bconv node", repr(conv), "COST-6")
    weight = model.states[conv]["weight"]
    slices, channels, height, width = _bits(model.shapes[node.inputs[0]])
    out_slices, cout, out_h, out_w = _bits(model.shapes[node.outputs[1]])
    if baseline:
        return weight.size + channels * height * width + 2 * REAL_BITS * cout * out_h * out_w
    return weight.size + slices * channels * height * width + 2 * out_slices * cout * out_h * out_w


def block_energy(model: Model, conv: str = "layer1.0.conv1", baseline: bool = False,
                 table: EnergyTable = HOROWITZ_45NM) -> dict:
    """Energy of the Table 3 block around ``conv`` (COST-6, COST-7), in picojoules."""
    node = next(node for node in model.nodes if node.name == conv)
    bits = table3_bits(model, conv, baseline)
    counts = _conv_counts(model, node, MVUConfig())
    out_slices, cout, out_h, out_w = _bits(model.shapes[node.outputs[1]])
    if baseline:
        per_output = cout * out_h * out_w * (table.fp32_mult + 2 * table.fp32_add
                                             + table.int32_add)
    else:
        per_output = out_slices * cout * out_h * out_w * (table.threshold + table.logic)
    compute = counts["bops"] * table.bop + per_output
    memory = bits * table.sram_bit
    return {"memory_bits": bits, "memory_pj": memory, "compute_pj": compute,
            "energy_pj": memory + compute}


def block_comparison(models: dict[str, Model], table: EnergyTable = HOROWITZ_45NM,
                     conv: str = "layer1.0.conv1") -> dict:
    """Each model's block against the 32-bit-shortcut baseline block of the first model's
    shapes, as ratios, beside the paper's ratios (COST-6, COST-7)."""
    first = next(iter(models.values()))
    baseline = block_energy(first, conv, True, table)
    rows = {"baseline-32bit": {**baseline, "memory_ratio": 1.0, "energy_ratio": 1.0}}
    bireal = PAPER["bi-realnet"]["energy_mj"]
    for name, model in models.items():
        block = block_energy(model, conv, False, table)
        slices = model.architecture.slices
        paper = {"paper_memory_ratio": PAPER_TABLE3[f"k={slices}"] / PAPER_TABLE3["32-bit"]}
        if "energy_mj" in PAPER.get(name, {}):
            paper["paper_network_energy_ratio_vs_bi_real"] = PAPER[name]["energy_mj"] / bireal
        rows[name] = {**block, "memory_ratio": block["memory_bits"] / baseline["memory_bits"],
                      "energy_ratio": block["energy_pj"] / baseline["energy_pj"]
                      if baseline["energy_pj"] else None, **paper}
    return rows
