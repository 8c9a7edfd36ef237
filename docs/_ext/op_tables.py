"""Argument tables of the graph ops and the model-file layout, generated from the op registry.

The names come from :data:`boolnet_spec.reference.ops.OPS` (inputs, outputs, attributes and their
JSON types, array roles, BatchNorm roles) and :class:`~boolnet_spec.reference.ops.BlockTensors`;
only the meaning of each name (dtype, symbolic shape, range, rule) is written here, in
:data:`ROLES` and :data:`ATTRS`. At build time a small model of each family is built by the
reference and every stored array is checked against this text: a role of the registry with no
description, a description of a role the registry does not have, or a dtype or rank that differs
from what the reference writes is a warning, so the ``-W`` build fails before the tables drift.

``.. op-table:: bconv``
   the argument table of one op: its tensors, attributes and arrays.
``.. modelfile-arrays::``
   every op's arrays, with dtype, shape and an example member name, for a reader of model files.
``.. block-tensors:: boolnet``
   the tensors of a block in execution order, with the node and op that produce them.
"""

from __future__ import annotations

from functools import cache

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from boolnet_spec.reference.ops import BN_FIELDS, OPS, BlockTensors

logger = logging.getLogger(__name__)

#: Tensor kinds (NET-1): dtype and shape, batch axis ``N`` first.
KINDS = {
    "image": ("float32", "[N, 3, H, W]", "finite (STEM-1)"),
    "bits": ("uint8", "[N, S, C, H, W]", "0 or 1 (ENC-1)"),
    "acc": ("int16", "[N, C, H, W]", "D_n: -n..n, parity of n (ACC-3)"),
    "real": ("float64", "[N, C, H, W]", "finite"),
    "logits": ("float64", "[N, K]", "finite"),
}

_CONV = {
    "stride": ("1 or 2", "the convolution's stride (CONV-2)"),
    "padding": ("0, 1 or 2", "``p`` rows and columns added on each side (PAD-1 to PAD-3)"),
    "dilation": ("1 or 2", "the kernel's dilation (CONV-2)"),
    "groups": ("1 or S", "convolution groups; ``S`` reads one slice per group (CONV-4)"),
    "pad_mode": ("``replicate``, ``one``, ``none``", "padding mode (PAD-1 to PAD-3)"),
}
#: Attribute -> (range, meaning), per op; the JSON type comes from the registry.
ATTRS = {
    "stem": {
        "variant": ("``basenet`` or ``boolnet``", "STEM-4 or STEM-5 (NET-2)"),
        "eps": ("object: BatchNorm role -> number > 0",
                "each BatchNorm's ``eps``, read as binary64 (BN-1, MODEL-2)"),
    },
    "bconv": {
        **_CONV,
        "read": ("``slices`` or ``all``",
                 "``slices``: per CONV-4; ``all``: the ``S*C`` channels flattened (CHAN-1)"),
        "pool": ("0 or 2", "0: threshold units (THR-5); ``k``: k x k max pooling first (POOL-2)"),
    },
    "head": {
        **_CONV,
        "eps": ("object: BatchNorm role -> number > 0", "``eps`` of ``bn2`` and ``bn3`` (BN-1)"),
    },
}
#: Array role -> (dtype, shape, range, meaning), per op. BatchNorm roles are added from BN_FIELDS.
ROLES = {
    "stem": {
        "conv1.weight": ("float32", "[C0, 3, 7, 7]", "finite", "the stem's real conv (STEM-2)"),
        "offsets": ("float32", "[S]", "finite", "slice offsets ``o_j`` (SLICE-1)"),
        "las.weight": ("float32", "[C0, 1, 3, 3]", "finite",
                       "depthwise conv of local adaptive shifting (STEM-5; ``boolnet`` only)"),
    },
    "bconv": {
        "weight": ("uint8", "[Cout, Cin, kh, kw]", "0 or 1",
                   "weight bits (WB-1); ``Cin`` = channels one group reads"),
        "polarity": ("uint8", "[S, Cout]", "0 or 1", "threshold-unit polarity (THR-1)"),
        "threshold": ("int16", "[S, Cout]", "canonical for ``n`` (THR-2, THR-4)",
                      "threshold-unit threshold (THR-1)"),
    },
    "head": {
        "weight": ("uint8", "[C, C, 3, 3]", "0 or 1", "weight bits of the last conv (WB-1)"),
        "alpha": ("float32", "[C]", "> 0, finite", "its weight scale (WB-2, HEAD-1)"),
        "prelu.weight": ("float32", "[C]", "finite", "PReLU slopes (HEAD-2)"),
        "fc.weight": ("float32", "[K, C]", "finite", "classifier weight (HEAD-3)"),
        "fc.bias": ("float32", "[K]", "finite", "classifier bias (HEAD-3)"),
    },
}
BN_MEANING = {"weight": "gamma", "bias": "beta", "running_mean": "mean",
              "running_var": "var (>= 0)"}
BN_CHANNELS = {"stem": "[C0]", "head": "[C]"}


def array_roles(op: str) -> dict[str, tuple[str, str, str, str]]:
    """Every array role of ``op`` with its description, BatchNorm fields included."""
    roles = dict(ROLES.get(op, {}))
    for bn in OPS[op].batchnorms:
        for field in BN_FIELDS:
            roles[f"{bn}.{field}"] = ("float32", BN_CHANNELS.get(op, "[C]"),
                                      "finite" + (", >= 0" if field == "running_var" else ""),
                                      f"BatchNorm ``{bn}``: {BN_MEANING[field]} (BN-1)")
    return roles


@cache
def sample_models():
    """One small model per family, built by the reference: the source of example names."""
    from boolnet_spec.reference.architecture import architecture
    from boolnet_spec.reference.build import build_model, random_state_dict

    models = {}
    for name in ("boolnet-k4", "basenet-k1"):
        arch = architecture(name).scaled(widths=(8, 16, 32, 64), blocks=(2, 1, 1, 1),
                                         image_size=32, classes=10)
        models[name] = build_model(arch, random_state_dict(arch, 0))
    return models


@cache
def stored_arrays() -> dict[tuple[str, str], tuple[str, str, tuple[int, ...]]]:
    """(op, role) -> (example member name, dtype, shape) as the reference writes them."""
    found = {}
    for model in sample_models().values():
        for node in model.nodes:
            for role, member in node.arrays.items():
                array = model.arrays[member]
                found.setdefault((node.op, role), (member, str(array.dtype), array.shape))
    return found


def check_against_reference(location) -> None:
    """Warn where this text and the registry or the reference's stored arrays disagree."""
    for op, spec in OPS.items():
        described = array_roles(op)
        for role in set(spec.arrays) - set(ROLES.get(op, {})):
            logger.warning("op %s: array role %s of the registry has no description", op, role,
                           location=location)
        for role in set(ROLES.get(op, {})) - set(spec.arrays):
            logger.warning("op %s: described array role %s is not in the registry", op, role,
                           location=location)
        for attr in set(spec.attrs) ^ set(ATTRS.get(op, {})):
            logger.warning("op %s: attribute %s is not both in the registry and described", op,
                           attr, location=location)
        for (stored_op, role), (member, dtype, shape) in stored_arrays().items():
            if stored_op != op:
                continue
            if role not in described:
                logger.warning("op %s: the reference stores role %s (%s), not described", op,
                               role, member, location=location)
                continue
            want_dtype, want_shape = described[role][:2]
            if dtype != want_dtype or len(shape) != want_shape.count(",") + 1:
                logger.warning("op %s role %s: described as %s %s, the reference stores %s %s",
                               op, role, want_dtype, want_shape, dtype, list(shape),
                               location=location)


def table(headers: list[str], widths: list[int], rows: list[list], classes=()) -> nodes.table:
    body = nodes.tbody()
    for cells in rows:
        body += row(cells)
    group = nodes.tgroup("", *(nodes.colspec(colwidth=w) for w in widths),
                         nodes.thead("", row(headers)), body, cols=len(headers))
    return nodes.table("", group, classes=["op-table", "colwidths-auto", *classes])


def row(cells: list) -> nodes.row:
    result = nodes.row()
    for cell in cells:
        result += nodes.entry("", *cell) if isinstance(cell, list) else \
            nodes.entry("", nodes.paragraph(text=str(cell)))
    return result


class _TableDirective(SphinxDirective):
    def inline(self, text: str) -> list[nodes.Node]:
        parsed, messages = self.parse_inline(text)
        return [nodes.paragraph("", "", *parsed), *messages]

    def code(self, text: str) -> list[nodes.Node]:
        return [nodes.paragraph("", "", nodes.literal(text=text))]


class OpTableDirective(_TableDirective):
    """The argument table of one graph op."""

    required_arguments = 1

    def run(self):
        op = self.arguments[0]
        if op not in OPS:
            logger.warning("op-table: unknown op %s", op, location=self.get_location())
            return []
        spec, rows = OPS[op], []
        stored = stored_arrays()
        for index, kind in enumerate(spec.inputs):
            dtype, shape, values = KINDS[kind]
            rows.append([self.code(f"inputs[{index}]"), f"input ({kind})", self.code(dtype),
                         self.code(shape), self.inline(values), self.inline("node ``inputs``")])
        for index, kind in enumerate(spec.outputs):
            dtype, shape, values = KINDS[kind]
            rows.append([self.code(f"outputs[{index}]"), f"output ({kind})", self.code(dtype),
                         self.code(shape), self.inline(values), self.inline("node ``outputs``")])
        for attr, json_type in spec.attrs.items():
            values, meaning = ATTRS[op][attr]
            kind = {int: "integer", str: "string", dict: "object"}[json_type]
            rows.append([self.code(attr), self.inline("attribute: " + meaning.split(" (")[0]),
                         self.code(f"JSON {kind}"), "", self.inline(values),
                         self.inline(f"``attrs.{attr}``")])
        for role, (dtype, shape, values, meaning) in array_roles(op).items():
            member = stored.get((op, role), ("",))[0]
            rows.append([self.code(role), self.inline("array: " + meaning), self.code(dtype),
                         self.code(shape), self.inline(values),
                         self.inline(f"``arrays.{role}``" + (f", e.g. ``{member}``"
                                                              if member else ""))])
        title = nodes.paragraph("", "", nodes.strong(text="Arguments of the op "),
                                nodes.literal(text=op),
                                nodes.Text(f" ({spec.label}; registry: "),
                                nodes.literal(text=f"OPS[{op!r}]"), nodes.Text(")"))
        return [title, table(["Name", "Kind", "Dtype", "Shape", "Range", "Model file"],
                             [14, 26, 10, 16, 16, 18], rows)]


class ModelFileArraysDirective(_TableDirective):
    """Every op's attributes and arrays: what a reader of model files must accept."""

    def run(self):
        check_against_reference(self.get_location())
        stored = stored_arrays()
        result = []
        for op, spec in OPS.items():
            section = nodes.paragraph("", "", nodes.strong(text="Op "),
                                      nodes.literal(text=op),
                                      nodes.Text(f" ({spec.label}): inputs "
                                                 f"{', '.join(spec.inputs)}; outputs "
                                                 f"{', '.join(spec.outputs)}."))
            result.append(section)
            rows = []
            for attr, json_type in spec.attrs.items():
                values, meaning = ATTRS[op][attr]
                kind = {int: "integer", str: "string", dict: "object"}[json_type]
                rows.append([self.code(f"attrs.{attr}"), self.code(f"JSON {kind}"), "",
                             self.inline(values), self.inline(meaning), ""])
            for role, (dtype, shape, values, meaning) in array_roles(op).items():
                member = stored.get((op, role), ("",))[0]
                rows.append([self.code(f"arrays.{role}"), self.code(dtype), self.code(shape),
                             self.inline(values), self.inline(meaning),
                             self.code(member) if member else ""])
            if rows:
                result.append(table(["Key", "Dtype", "Shape", "Range", "Meaning",
                                     "Member (example)"], [16, 10, 16, 16, 24, 18], rows,
                                    classes=["modelfile", f"modelfile-{op}"]))
            else:
                result.append(nodes.paragraph(text="No attributes and no arrays."))
        return result


class BlockTensorsDirective(_TableDirective):
    """The tensors of a block in execution order, from a model the reference built."""

    required_arguments = 2  # family, block path

    def run(self):
        family, block = self.arguments
        model = sample_models()["boolnet-k4" if family == "boolnet" else "basenet-k1"]
        names = BlockTensors(block)
        rows, order = [], 0
        for node in model.nodes:
            if not node.name.startswith(block + ".") and node.name != block:
                continue
            for tensor in node.outputs:
                order += 1
                kind, *dims = model.shapes[tensor]
                rows.append([str(order), self.code(tensor), self.code(node.name),
                             self.code(node.op),
                             self.code(f"{kind} {list(dims)}"),
                             self.code(", ".join(node.inputs))])
        if not rows:
            logger.warning("block-tensors: no block %s in the sample %s model", block, family,
                           location=self.get_location())
        caption = nodes.paragraph(
            "", "", nodes.strong(text=f"Tensors of block {block} ({family})"),
            nodes.Text(", in execution order, from a model the reference builds (widths 8, 16, 32, "
                       "64; 32x32 images; shapes without the batch axis). Output: "),
            nodes.literal(text=names.output), nodes.Text("."))
        return [caption, table(["#", "Tensor", "Node", "Op", "Kind and shape", "Inputs"],
                               [4, 22, 20, 8, 22, 24], rows, classes=["block-tensors"])]


class HeaderExampleDirective(SphinxDirective):
    """The JSON header of a small model the reference builds, first nodes only."""

    def run(self):
        import json

        from boolnet_spec.reference import SPEC_VERSION
        from boolnet_spec.reference.modelfile import FORMAT, FORMAT_VERSION

        model = sample_models()["boolnet-k4"]
        header = {"format": FORMAT, "format_version": FORMAT_VERSION,
                  "spec_version": SPEC_VERSION,
                  "architecture": model.architecture.to_json(),
                  "nodes": [node.to_json() for node in model.nodes[1:4]]}
        text = json.dumps(header, indent=1)
        text = text.replace('"nodes": [', '"nodes": [  // the stem and later nodes omitted', 1)
        block = nodes.literal_block(text, text, language="text")
        return [block]


def setup(app):
    app.add_directive("modelfile-header-example", HeaderExampleDirective)
    app.add_directive("op-table", OpTableDirective)
    app.add_directive("modelfile-arrays", ModelFileArraysDirective)
    app.add_directive("block-tensors", BlockTensorsDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
