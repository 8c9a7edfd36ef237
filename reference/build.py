"""Build: a folded model graph from the authors' float parameters.

.. req:: BUILD-1

   A configuration (ARCH-1) and a state dict that passes SD-2 give one model graph (NET-1 to NET-5)
   in the authors' execution order, with tensors named by the authors' module paths, and the results
   of the functional parts of their forward (split, XNOR, OR) by the block's path and a suffix: the
   stem ``ghostbnsign``; per block ``p`` (``layerL.b``) the nodes ``p.split`` (outputs ``p.x``,
   ``p.carry``), ``p.downsample`` (outputs ``p.downsample.0``, ``p.downsample``), ``p.conv1``
   (outputs ``p.conv1``, ``p.ghostsign1``), ``p.xnor``, ``p.conv2`` (outputs ``p.conv2``,
   ``p.ghostsign2``), ``p.or`` and, in BoolNet, ``p.shuffle``; the block output is the tensor ``p``.
   The last block's node ``head`` outputs ``p.conv2``, ``p`` (the real ``z`` of HEAD-1) and
   ``logits``.

.. req:: BUILD-2

   Every binary convolution stores its weight bits (WB-1) and, with ``alpha`` from WB-2, its
   BatchNorm, the conv bias of the downsample branch and the slice offsets of SLICE-1, its folded
   threshold units (FOLD-1 to FOLD-8) for ``n = (Cin/groups) * kh * kw``. The stem and the head keep
   their float32 parameters; the head also stores ``alpha`` of its convolution.

.. req:: BUILD-3

   ``ERROR_IF`` a temperature buffer is not in ``(0, 1]``
   (:class:`~boolnet_spec.reference.errors.DomainError`,
   ARCH-7). Values of ``num_batches_tracked``, of the
   temperatures and of the unused ``bn3`` and ``ghostsign2`` of the other blocks do not enter the
   model.

.. req:: BUILD-4

   A random model (``--random --seed``): float parameters drawn from the seed (about a quarter of
   the BatchNorm weights negative), then the running statistics of every BatchNorm calibrated, in
   execution order, to the mean and unbiased variance of its real input on a batch of random
   normal images, the folded layers before it already in place. The result is a state dict in the
   authors' layout, so the same parameters can be loaded by the authors' code.
"""

from __future__ import annotations

import numpy as np

from boolnet_spec.reference.architecture import (
    Architecture,
    BlockPlan,
    block_plans,
    state_dict_layout,
)
from boolnet_spec.reference.batchnorm import DEFAULT_EPS, BatchNorm
from boolnet_spec.reference.bconv import multi_slice_conv2d
from boolnet_spec.reference.encoding import to_pm1
from boolnet_spec.reference.errors import DomainError, error_if
from boolnet_spec.reference.fold import fold_bn_sign
from boolnet_spec.reference.maxpool import real_maxpool
from boolnet_spec.reference.network import Model, Node, run_node
from boolnet_spec.reference.ops import BN_FIELDS, BlockTensors
from boolnet_spec.reference.slices import slice_offsets
from boolnet_spec.reference.statedict import check_state_dict
from boolnet_spec.reference.stem import real_conv2d
from boolnet_spec.reference.threshold import ThresholdUnits
from boolnet_spec.reference.weights import weight_bits, weight_scale

__all__ = ["build_model", "random_state_dict"]


class _Builder:
    """Emits the nodes of one model; with calibration images it also runs them (BUILD-4)."""

    def __init__(self, arch: Architecture, state_dict: dict[str, np.ndarray],
                 calibration: np.ndarray | None = None):
        self.arch = arch
        self.sd = state_dict
        self.offsets = slice_offsets(arch.slices)
        self.nodes: list[Node] = []
        self.arrays: dict[str, np.ndarray] = {}
        self.env = None if calibration is None else {"image": calibration}

    def batchnorm(self, prefix: str) -> BatchNorm:
        return BatchNorm(*(self.sd[f"{prefix}.{f}"] for f in BN_FIELDS), eps=DEFAULT_EPS,
                         name=prefix)

    def calibrate(self, prefix: str, real: np.ndarray) -> None:
        """Running statistics of ``prefix`` from its real input ``[N, C, H, W]`` (BUILD-4)."""
        if self.env is None:
            return
        values = real.transpose(1, 0, 2, 3).reshape(real.shape[1], -1)
        self.sd[f"{prefix}.running_mean"] = values.mean(axis=1).astype(np.float32)
        self.sd[f"{prefix}.running_var"] = values.var(axis=1, ddof=1).astype(np.float32)

    def add(self, node: Node, arrays: dict[str, np.ndarray]) -> None:
        self.nodes.append(node)
        self.arrays.update(arrays)
        if self.env is not None:
            outputs = run_node(node, self.arrays, *[self.env[name] for name in node.inputs])
            self.env.update(zip(node.outputs, outputs, strict=True))

    def bn_arrays(self, role: str, prefix: str) -> tuple[dict[str, str], dict[str, np.ndarray]]:
        roles = {f"{role}.{f}": f"{prefix}.{f}" for f in BN_FIELDS}
        return roles, {member: self.sd[member] for member in roles.values()}

    def stem(self) -> str:
        roles, arrays = {"conv1.weight": "conv1.weight", "offsets": "ghostbnsign.offsets"}, {
            "conv1.weight": self.sd["conv1.weight"], "ghostbnsign.offsets": self.offsets}
        eps = {}
        if self.env is not None:
            conv = real_conv2d(self.env["image"], self.sd["conv1.weight"], 2, 3)
            self.calibrate("maxpool.0", conv)
            features = real_maxpool(self.batchnorm("maxpool.0")(conv), 3, 2, 1)
        if self.arch.family == "basenet":
            bns = {"bn0": "maxpool.0", "bn": "ghostbnsign.0"}
            if self.env is not None:
                self.calibrate("ghostbnsign.0", features)
        else:
            bns = {"bn0": "maxpool.0", "bn1": "ghostbnsign.bn1", "bn2": "ghostbnsign.bn2",
                   "bn_las": "ghostbnsign.adaptive_zero_points.1"}
            las = "ghostbnsign.adaptive_zero_points.0.weight"
            roles["las.weight"], arrays[las] = las, self.sd[las]
            if self.env is not None:
                self.calibrate("ghostbnsign.bn1", features)
                self.calibrate("ghostbnsign.bn2", features)
                shifted = self.batchnorm("ghostbnsign.bn2")(features)
                self.calibrate(bns["bn_las"], real_conv2d(shifted, self.sd[las], 1, 1,
                                                          groups=features.shape[1]))
        for role, prefix in bns.items():
            more_roles, more_arrays = self.bn_arrays(role, prefix)
            roles |= more_roles
            arrays |= more_arrays
            eps[role] = DEFAULT_EPS
        variant = self.arch.family
        self.add(Node("stem", "stem", ["image"], ["ghostbnsign"],
                      {"variant": variant, "eps": eps}, roles), arrays)
        return "ghostbnsign"

    def bconv(self, name: str, x: str, weight_key: str, bn_prefix: str, outputs: list[str],
              attrs: dict, bias_key: str | None = None) -> str:
        """One binary convolution with its folded BatchNorm-sign (BUILD-2)."""
        weight = self.sd[weight_key]
        bits, alpha = weight_bits(weight, weight_key), weight_scale(weight, weight_key)
        bias = None if bias_key is None else self.sd[bias_key]
        n = bits.shape[1] * bits.shape[2] * bits.shape[3]
        roles = {"weight": f"{weight_key}.bits", "polarity": f"{name}.polarity",
                 "threshold": f"{name}.threshold"}
        node = Node(name, "bconv", [x], outputs, attrs, roles)
        arrays = {roles["weight"]: bits}
        if self.env is not None:
            # Any canonical units give the accumulators; the real ones need the statistics.
            constant = ThresholdUnits(np.ones((1, bits.shape[0]), np.uint8),
                                      np.full((1, bits.shape[0]), -n, np.int16), n)
            probe = {**arrays, roles["polarity"]: constant.polarity,
                     roles["threshold"]: constant.threshold}
            s = run_node(node, probe, self.env[x])[0]
            real = alpha[None, :, None, None].astype(np.float64) * s
            if bias is not None:
                real = real + bias[None, :, None, None]
            if attrs["pool"]:
                real = real_maxpool(real, attrs["pool"], attrs["pool"], 0)
            self.calibrate(bn_prefix, real)
        units = fold_bn_sign(self.batchnorm(bn_prefix), n, alpha, bias, self.offsets)
        arrays |= {roles["polarity"]: units.polarity, roles["threshold"]: units.threshold}
        self.add(node, arrays)
        return outputs[1]

    def block(self, plan: BlockPlan, block_input: str) -> str:
        b, s = BlockTensors(plan.name), self.arch.slices
        conv = {"stride": plan.stride, "padding": plan.padding, "dilation": plan.dilation,
                "groups": s, "pad_mode": "replicate", "read": "slices", "pool": 0}
        x = residual = carry = block_input
        if plan.split:
            self.add(Node(b.node("split"), "split", [block_input], [b.x, b.carry]), {})
            x = residual = b.x
            carry = b.carry
        if plan.downsample:
            pool = 2 if plan.pool else 0
            down = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "pad_mode": "none",
                    "read": "all", "pool": pool}
            residual = self.bconv(b.node("downsample"), block_input, f"{b.downsample_acc}.weight",
                                  f"{b.downsample}.{b.downsample_bn(pool)}",
                                  [b.downsample_acc, b.downsample], down,
                                  bias_key=f"{b.downsample_acc}.bias")
            carry = residual
        bits = self.bconv(b.node("conv1"), x, f"{b.conv1}.weight", f"{b.p}.bn1",
                          [b.conv1, b.ghostsign1], conv)
        self.add(Node(b.node("xnor"), "xnor", [bits, residual], [b.xnor]), {})
        if plan.last:
            return self.head(plan, b.xnor, conv)
        bits = self.bconv(b.node("conv2"), b.xnor, f"{b.conv2}.weight", f"{b.p}.bn2",
                          [b.conv2, b.ghostsign2], {**conv, "stride": 1})
        if self.arch.family == "basenet":
            self.add(Node(b.node("or"), "or", [bits, residual], [b.output]), {})
            return b.output
        self.add(Node(b.node("or"), "or", [bits, residual], [b.logic_or]), {})
        self.add(Node(b.node("shuffle"), "shuffle", [b.logic_or, carry], [b.output]), {})
        return b.output

    def head(self, plan: BlockPlan, x: str, conv: dict) -> str:
        p = plan.name
        weight_key = f"{p}.conv2.weight"
        weight = self.sd[weight_key]
        alpha = weight_scale(weight, weight_key)
        attrs = {key: conv[key] for key in ("padding", "dilation", "groups", "pad_mode")}
        attrs |= {"stride": 1, "eps": {"bn2": DEFAULT_EPS, "bn3": DEFAULT_EPS}}
        roles = {"weight": f"{weight_key}.bits", "alpha": f"{p}.conv2.alpha",
                 "prelu.weight": "prelu2.weight", "fc.weight": "fc.weight", "fc.bias": "fc.bias"}
        arrays = {roles["weight"]: weight_bits(weight, weight_key), roles["alpha"]: alpha,
                  "prelu2.weight": self.sd["prelu2.weight"], "fc.weight": self.sd["fc.weight"],
                  "fc.bias": self.sd["fc.bias"]}
        if self.env is not None:
            s2 = multi_slice_conv2d(self.env[x], arrays[roles["weight"]],
                                    **{k: attrs[k] for k in ("stride", "padding", "dilation",
                                                             "groups", "pad_mode")})
            self.calibrate(f"{p}.bn2", alpha[None, :, None, None].astype(np.float64) * s2)
            self.calibrate(f"{p}.bn3", to_pm1(self.env[x]).astype(np.float64).mean(axis=1))
        for role in ("bn2", "bn3"):
            more_roles, more_arrays = self.bn_arrays(role, f"{p}.{role}")
            roles |= more_roles
            arrays |= more_arrays
        b = BlockTensors(p)
        self.add(Node("head", "head", [x], [b.conv2, b.output, "logits"], attrs, roles), arrays)
        return "logits"

    def build(self) -> Model:
        tensor = self.stem()
        for plan in block_plans(self.arch):
            tensor = self.block(plan, tensor)
        return Model(self.arch, self.nodes, self.arrays)


def _check_temperatures(state_dict: dict[str, np.ndarray]) -> None:
    for key, value in state_dict.items():
        if key.endswith(".temperature"):
            bad = not ((value > 0) & (value <= 1)).all()
            error_if(bad, DomainError, key, "a temperature in (0, 1]", lambda: value.tolist(),
                     "BUILD-3")


def build_model(arch: Architecture, state_dict: dict[str, np.ndarray]) -> Model:
    """The folded model of ``arch`` with the authors' parameters ``state_dict`` (BUILD-1 to 3)."""
    check_state_dict(arch, state_dict)
    _check_temperatures(state_dict)
    return _Builder(arch, dict(state_dict)).build()


def random_state_dict(arch: Architecture, seed: int, batch: int = 2) -> dict[str, np.ndarray]:
    """Calibrated random parameters in the authors' layout (BUILD-4)."""
    rng = np.random.default_rng(seed)
    state_dict = {}
    for key, shape, dtype in state_dict_layout(arch):
        leaf = key.rsplit(".", 1)[-1]
        if dtype == "int64":
            value = np.array(10000, np.int64)
        elif leaf == "temperature":
            value = np.full(shape, 0.965 ** rng.integers(0, 200), np.float32)
        elif leaf == "running_var":
            value = np.ones(shape, np.float32)
        elif leaf == "running_mean":
            value = np.zeros(shape)
        elif leaf == "bias":
            value = rng.normal(0.0, 0.2 if len(shape) == 1 and "fc" not in key else 0.01, shape)
        elif leaf == "weight" and len(shape) == 1 and key != "prelu2.weight":
            sign = np.where(rng.random(shape) < 0.25, -1.0, 1.0)
            value = sign * np.abs(rng.normal(1.0, 0.25, shape))
        elif key == "prelu2.weight":
            value = np.full(shape, 0.25)
        elif key == "fc.weight":
            value = rng.normal(0.0, 1.0 / np.sqrt(shape[1]), shape)
        else:
            fan_out = shape[0] * int(np.prod(shape[2:])) if len(shape) == 4 else 1
            value = rng.normal(0.0, np.sqrt(2.0 / fan_out), shape)
        state_dict[key] = np.asarray(value, dtype=dtype)
    size = arch.image_size
    images = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
    _Builder(arch, state_dict, calibration=images).build()
    return state_dict
