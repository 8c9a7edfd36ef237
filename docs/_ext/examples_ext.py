"""Worked examples, computed by the reference when the site is built: none is typed by hand.

``.. worked-example:: fold/tie-gamma-negative`` runs the case of that id (``op/case``, the naming
of the conformance kit's vectors) through the reference functions and renders its inputs and
outputs, with the case id as the anchor ``example-fold-tie-gamma-negative``. A case is a function
of :data:`CASES` that returns its inputs, its outputs and one sentence on what it shows; the
values are whatever the reference returns, so an example cannot drift from the reference.
Float32 values are shown with their bit pattern, so a reader can reproduce them exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np
from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from boolnet_spec.reference import (
    accumulator,
    batchnorm,
    bconv,
    channels,
    encoding,
    fold,
    logic,
    maxpool,
    padding,
    slices,
    threshold,
    weights,
)

logger = logging.getLogger(__name__)

Values = list[tuple[str, object]]
Case = Callable[[], tuple[Values, Values, str]]
CASES: dict[str, Case] = {}


def case(case_id: str):
    def register(function: Case) -> Case:
        CASES[case_id] = function
        return function
    return register


def f32(*values: float) -> np.ndarray:
    return np.array(values, np.float32)


def bits(rows) -> np.ndarray:
    return np.array(rows, np.uint8)


# Encoding, accumulator, padding, convolution, channels, logic, pooling.

@case("encoding/bits-to-pm1")
def _encoding():
    b = bits([1, 0, 1, 1, 0])
    y = np.array([-0.5, 0.0, 0.25, -0.0, 3.0])
    return ([("bits", b), ("y", y)],
            [("to_pm1(bits)", encoding.to_pm1(b)), ("sign_bit(y)", encoding.sign_bit(y))],
            "Bit 1 is +1, bit 0 is -1 (ENC-1); sign(0) and sign(-0) are bit 1 (ENC-2).")


@case("accumulator/xnor-popcount")
def _accumulator():
    a, w = bits([1, 0, 1, 1, 0, 0, 1, 0]), bits([1, 1, 0, 1, 0, 1, 1, 1])
    xnor = (a == w).astype(np.uint8)
    popcount = np.array([int(xnor.sum())])
    s = accumulator.popcount_to_accumulator(popcount, len(a))
    direct = int(np.dot(encoding.to_pm1(a).astype(int), encoding.to_pm1(w).astype(int)))
    return ([("a_bits", a), ("w_bits", w), ("n", len(a))],
            [("XNOR(a, w)", xnor), ("popcount", popcount), ("s = 2*popcount - n", s),
             ("sum(a[i]*w[i]) on +-1", direct)],
            "The accumulator equals the +-1 dot product (ACC-1) and lies in D_8 (ACC-2).")


@case("padding/replicate")
def _padding():
    x = bits([[[[1, 0, 1], [0, 0, 1]]]])
    return ([("x [1, 1, 2, 3]", x), ("padding", 1), ("mode", "replicate")],
            [("pad_bits(x, 1, 'replicate')", padding.pad_bits(x, 1, "replicate")),
             ("pad_bits(x, 1, 'one')", padding.pad_bits(x, 1, "one"))],
            "Replication repeats the edge bits (PAD-1); ``one`` pads with bit 1 (PAD-2).")


@case("bconv/3x3-replicate")
def _bconv():
    x = bits([[[[1, 0, 1, 1], [0, 0, 1, 0], [1, 1, 1, 0], [0, 1, 0, 0]]]])
    w = bits([[[[1, 0, 1], [1, 1, 0], [0, 1, 1]]]])
    return ([("x [1, 1, 4, 4]", x), ("weight [1, 1, 3, 3]", w), ("padding", 1),
             ("pad_mode", "replicate")],
            [("binary_conv2d(x, weight, padding=1)", bconv.binary_conv2d(x, w, padding=1))],
            "Each output is the accumulator of a 3x3 window, n = 9, odd values in -9..9 "
            "(CONV-1).")


@case("channels/split-shuffle")
def _channels():
    x = bits([[[[[1]], [[1]], [[0]], [[0]]]]])
    first, second = channels.split_channels(x)
    return ([("x [1, 1, 4, 1, 1] (channels 1, 1, 0, 0)", x.ravel())],
            [("split: first half", first.ravel()), ("split: second half", second.ravel()),
             ("shuffle(first, second)", channels.shuffle_channels(first, second).ravel())],
            "Split halves the channels (CHAN-2); shuffle interleaves them, channel 2c from the "
            "first input and 2c+1 from the second (CHAN-3).")


@case("logic/truth-table")
def _logic():
    x, r = bits([0, 0, 1, 1]), bits([0, 1, 0, 1])
    return ([("x", x), ("r", r)],
            [("logic_xnor(x, r)", logic.logic_xnor(x, r)),
             ("logic_or(x, r)", logic.logic_or(x, r))],
            "On bits, the shortcuts are the XNOR and OR gates (LOGIC-1, LOGIC-2).")


@case("maxpool/binary-2x2")
def _maxpool():
    x = bits([[[[[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 1], [0, 0, 1, 0]]]]])
    return ([("x [1, 1, 1, 4, 4], its 4x4 plane", x[0, 0, 0]), ("kernel, stride", "2, 2")],
            [("binary_maxpool(x, 2, 2), its 2x2 plane", maxpool.binary_maxpool(x, 2, 2)[0, 0, 0])],
            "Max pooling on bits is the OR of each window (POOL-1).")


# Slices, thresholds, BatchNorm, weights.

@case("slices/k4")
def _slices():
    offsets = slices.slice_offsets(4)
    z = np.array([-0.5, 0.0, 0.5]).reshape(1, 1, 3, 1, 1)[:, 0]
    return ([("slices", 4), ("z (three pixels)", z.ravel())],
            [("slice_offsets(4)", offsets),
             ("slice_quantize(z, offsets) [S, pixel]",
              slices.slice_quantize(z, offsets)[0, :, 0, :, 0])],
            "Slice j is sign(z + o_j) (SLICE-2): a thermometer code of z.")


@case("threshold/canonical-units")
def _threshold():
    n = 9
    rows = [("s >= 3.5", (threshold.GE, Fraction(7, 2))), ("s >= -20", (threshold.GE, -20)),
            ("s <= 9", (threshold.LE, 9)), ("s <= -10", (threshold.LE, -10)),
            ("s <= 2", (threshold.LE, 2))]
    return ([("n", n), ("D_n", accumulator.domain(n))],
            [(f"canonical unit of {text}", threshold.canonical_unit(*unit, n))
             for text, unit in rows],
            "THR-3 rounds a real threshold to D_n; constants are (1, -n) and (1, n + 2) (THR-2).")


@case("batchnorm/two-channels")
def _batchnorm():
    bn = batchnorm.BatchNorm(f32(1, -2), f32(0, 0.5), f32(0.5, 1), f32(1, 4))
    x = np.array([1.0, 2.0]).reshape(1, 2, 1, 1)
    return ([("gamma", bn.gamma), ("beta", bn.beta), ("mean", bn.mean), ("var", bn.var),
             ("eps", bn.eps), ("x (channels 0, 1)", x.ravel())],
            [("BN(x)", bn(x).ravel())],
            "``gamma * (x - mean) / sqrt(var + eps) + beta`` per channel (BN-1).")


@case("weights/bits-and-scale")
def _weights():
    w = f32(0.5, -0.25, 0.0, -1.0).reshape(1, 1, 2, 2)
    return ([("W [1, 1, 2, 2]", w)],
            [("weight_bits(W)", weights.weight_bits(w)),
             ("weight_scale(W)", weights.weight_scale(w))],
            "Bits are sign(W) with sign(0) = +1 (WB-1); the scale is mean|W| per output channel "
            "(WB-2).")


# The fold: one channel, one slice, n = 9 unless stated.

def _fold_case(gamma, beta, mean, var, n=9, alpha=1.0, bias=0.0, offset=0.0, eps=1e-5):
    bn = batchnorm.BatchNorm(f32(gamma), f32(beta), f32(mean), f32(var), eps=eps)
    units = fold.fold_bn_sign(bn, n, alpha=f32(alpha), bias=f32(bias), offsets=f32(offset))
    domain = accumulator.domain(n)
    folded = threshold.threshold_slices(domain.reshape(n + 1, 1, 1, 1).astype(np.int16), units)
    direct = fold.bn_sign_exact(bn, domain, alpha=f32(alpha), bias=f32(bias), offsets=f32(offset))
    if not np.array_equal(folded.reshape(-1), direct.reshape(-1)):
        raise AssertionError("the folded unit differs from FOLD-2 on D_n")
    inputs = [("gamma", bn.gamma[0]), ("beta", bn.beta[0]), ("mean", bn.mean[0]),
              ("var", bn.var[0]), ("eps (binary64)", bn.eps), ("alpha", np.float32(alpha)),
              ("conv bias b", np.float32(bias)), ("slice offset o", np.float32(offset)),
              ("n", n)]
    outputs = [("s in D_n", domain), ("bit [y(s) >= 0] (FOLD-2)", direct.reshape(-1)),
               ("canonical unit (polarity, t)",
                (int(units.polarity[0, 0]), int(units.threshold[0, 0])))]
    return bn, units, inputs, outputs


@case("fold/tie-gamma-positive")
def _tie_positive():
    *_, inputs, outputs = _fold_case(gamma=1.5, beta=0.0, mean=3.0, var=1.0)
    return (inputs, outputs, "y(3) = 0 exactly: the tie gives bit 1 (FOLD-6), so the unit is "
            "s >= 3 (FOLD-3).")


@case("fold/tie-gamma-negative")
def _tie_negative():
    *_, inputs, outputs = _fold_case(gamma=-1.5, beta=0.0, mean=3.0, var=1.0)
    return (inputs, outputs, "EEV: y(3) = 0 exactly with gamma < 0, so s = 3 gives bit 1 and "
            "the unit is s <= 3 (FOLD-4, FOLD-6). The published fold "
            "``C = floor(b/k) + [gamma < 0]`` compares s <= 2 here and is wrong at s = 3.")


@case("fold/gamma-zero")
def _gamma_zero():
    *_, inputs, outputs = _fold_case(gamma=0.0, beta=-0.25, mean=1.0, var=1.0,
                                     offset=float(slices.slice_offsets(4)[2]))
    return (inputs, outputs, "gamma = 0: y = beta + o = -0.25 + 1/3 > 0 for every s, so the "
            "unit is constant 1, (1, -n) (FOLD-5).")


@case("fold/constant-channel")
def _constant():
    *_, inputs, outputs = _fold_case(gamma=1.0, beta=0.0, mean=40.0, var=4.0)
    return (inputs, outputs, "The root t* = 40 lies above n = 9: every bit is 0, the canonical "
            "constant 0 is (1, n + 2) (FOLD-7, THR-2).")


@case("fold/float32-near-tie")
def _near_tie():
    beta = -(2.0 ** -30)
    bn, _, inputs, outputs = _fold_case(gamma=-1.0, beta=beta, mean=1.0, var=1.0)
    root = fold.ChannelFold(bn, 0, np.float32(1), np.float32(0)).root_estimate(Fraction(0))
    outputs.insert(2, ("t* rounded to float32", np.float32(root)))
    return (inputs, outputs, "y(1) = beta = -2**-30 < 0, so s = 1 gives bit 0 and the unit is "
            "s <= -1 (FOLD-4). t* = 1 - 2**-30 * sqrt(1 + eps) is below 1 by less than half a "
            "float32 ulp: a fold that rounds t* to float32 gets 1.0 and the wrong unit (0, 1).")


def exact_text(value: float) -> str:
    """A float with its exact binary value: ``0.1 (float32 0x3dcccccd)``."""
    if isinstance(value, np.float32):
        pattern = int(np.array(value).view(np.uint32))
        return f"{float(value)!r} (float32 0x{pattern:08x})"
    if isinstance(value, float):
        return f"{value!r} (binary64 {value.hex()})"
    return str(value)


def render_value(value) -> str:
    if isinstance(value, np.ndarray):
        if value.dtype == np.float32 and value.size <= 4:
            return "[" + ", ".join(exact_text(v) for v in value.reshape(-1)) + "]" + \
                (f" shape {list(value.shape)}" if value.ndim > 1 else "")
        text = np.array2string(value, separator=", ", max_line_width=60)
        return f"{text}  ({value.dtype})"
    if isinstance(value, np.floating | float):
        return exact_text(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(str(int(v)) if isinstance(v, np.integer) else str(v)
                               for v in value) + ")"
    return str(value)


def example_anchor(case_id: str) -> str:
    return "example-" + case_id.replace("/", "-")


class WorkedExampleDirective(SphinxDirective):
    """One worked example: its case id, inputs and the reference's outputs."""

    required_arguments = 1

    def run(self):
        case_id = self.arguments[0]
        if case_id not in CASES:
            logger.warning("worked-example: unknown case %s", case_id, location=self.get_location())
            return []
        self.env.note_dependency(__file__)
        inputs, outputs, note = CASES[case_id]()
        box = nodes.container(classes=["worked-example"], ids=[example_anchor(case_id)])
        title = nodes.paragraph(classes=["worked-example-title"])
        title += [nodes.Text("Example "), nodes.literal(text=case_id)]
        box += title
        parsed, messages = self.parse_inline(note)
        box += [nodes.paragraph("", "", *parsed), *messages]
        body = nodes.tbody()
        for part, values in (("input", inputs), ("output", outputs)):
            for name, value in values:
                row = nodes.row(classes=[f"example-{part}"])
                row += nodes.entry("", nodes.paragraph(text=part))
                row += nodes.entry("", nodes.paragraph("", "", nodes.literal(text=name)))
                text = render_value(value)
                row += nodes.entry("", nodes.literal_block(text, text, classes=["example-value"])
                                   if "\n" in text else
                                   nodes.paragraph("", "", nodes.literal(text=text)))
                body += row
        group = nodes.tgroup("", *(nodes.colspec(colwidth=w) for w in (11, 31, 58)),
                             nodes.thead("", self.header()), body, cols=3)
        box += nodes.table("", group, classes=["worked-example-table", "colwidths-given"])
        return [box]

    @staticmethod
    def header() -> nodes.row:
        row = nodes.row()
        for text in ("", "Name", "Value (computed by the reference)"):
            row += nodes.entry("", nodes.paragraph(text=text))
        return row


def setup(app):
    app.add_directive("worked-example", WorkedExampleDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

