"""Capture (HARNESS-1): what a PyTorch BoolNet's forward hooks see, by module path."""

from __future__ import annotations

import contextlib

import numpy as np

from boolnet_spec.reference.errors import FormatError, error_if
from boolnet_spec.reference.network import Model
from boolnet_spec.reference.ops import OPS, BlockTensors


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
        if OPS[node.op].has_binary_conv:
            block = BlockTensors.of_node(node.name)[0].p if node.op == "bconv" \
                else node.outputs[1]
            if block not in names:
                names.append(block)
    return names


def functional_tensors(model: Model) -> dict[str, tuple[str, str]]:
    """Where the hooks see the results of the authors' functional parts (HARNESS-1): the split
    half is the input of ``conv1``, the XNOR result the input of ``conv2``, the OR result the
    even channels of the block output."""
    where = {}
    for block in block_names(model):
        b = BlockTensors(block)
        where |= {b.x: ("input", b.conv1), b.xnor: ("input", b.conv2),
                  b.logic_or: ("even", b.output)}
    return where


POOL_FIRST, POOL_AFTER_SIGN, NO_POOL = "pool-first", "pool-after-sign", "no-pool"


def downsample_layout(module, block: str, pool: int | None = None) -> str:
    """HARNESS-10: the order of the downsample branch: ``conv, pool, BatchNorm, sign``
    (``pool-first``, POOL-2), ``conv, BatchNorm, sign, pool`` (``pool-after-sign``: accepted,
    and a finding at the downsample) or ``conv, BatchNorm, sign`` (``no-pool``). ``ERROR_IF``
    the branch is none of them, or its pooling disagrees with the model's ``pool``
    (:class:`~boolnet_spec.reference.errors.FormatError`, naming the node)."""
    import torch

    branch = module.get_submodule(f"{block}.downsample")
    kinds = ["pool" if isinstance(m, torch.nn.MaxPool2d) else
             "bn" if isinstance(m, torch.nn.BatchNorm2d) else "other"
             for m in (branch if isinstance(branch, torch.nn.Sequential) else [branch])]
    layouts = {("other", "pool", "bn", "other"): POOL_FIRST,
               ("other", "bn", "other", "pool"): POOL_AFTER_SIGN,
               ("other", "bn", "other"): NO_POOL}
    layout = layouts.get(tuple(kinds))
    expected = "a Sequential (binary conv, MaxPool2d, BatchNorm2d, sign)" if pool else \
        "a Sequential (binary conv, BatchNorm2d, sign)" if pool == 0 else \
        "a Sequential (binary conv, [MaxPool2d,] BatchNorm2d, sign)"
    error_if(layout is None or (pool is not None and (layout == NO_POOL) == bool(pool)),
             FormatError, f"node {block}.downsample", expected,
             f"({', '.join(type(m).__name__ for m in branch.children()) or type(branch).__name__})",
             "HARNESS-10")
    return layout


def downsample_paths(module, block: str) -> tuple[str, str]:
    """The paths of the downsample branch's BatchNorm and GhostSign (HARNESS-10)."""
    first = 2 if downsample_layout(module, block) == POOL_FIRST else 1
    return f"{block}.downsample.{first}", f"{block}.downsample.{first + 1}"


def hooked_paths(module, model: Model) -> tuple[list[str], list[str]]:
    """Module paths whose input, and whose output, HARNESS-1 records."""
    names = dict(module.named_modules())
    fused = getattr(module, "fused", {})
    inputs = ["ghostbnsign.GhostSign" if "ghostbnsign.GhostSign" in names else "ghostbnsign.1"]
    outputs = ["ghostbnsign"]
    for block in block_names(model):
        inputs += [block, f"{block}.conv1", f"{block}.conv2"]
        # a fused node's module replaces its BatchNorm and sign (HARNESS-14)
        replaced = {p for node, spec in fused.items() if node.startswith(f"{block}.")
                    for p in (spec.bn_path(), spec.sign_path())}
        outputs += [block] + [f"{block}.{m}" for m in ("conv1", "conv2", "bn1", "bn2",
                                                      "ghostsign1", "ghostsign2")
                              if (m != "ghostsign2" or f"{block}.{m}" in names)
                              and f"{block}.{m}" not in replaced]
        if f"{block}.downsample" in fused:  # its module's output is the node's bits (HARNESS-14)
            outputs.append(f"{block}.downsample.0")
        elif f"{block}.downsample" in names:
            node = next((n for n in model.nodes if n.name == f"{block}.downsample"), None)
            downsample_layout(module, block, None if node is None else node.attrs.get("pool", 0))
            bn, sign = downsample_paths(module, block)
            outputs += [f"{block}.downsample", f"{block}.downsample.0", bn, sign]
    outputs += [spec.module for spec in fused.values()]
    for path in {*inputs, *outputs}:
        error_if(path not in names, FormatError, f"module {path}",
                 "a submodule with the authors' module path", "missing", "HARNESS-1")
    return inputs, outputs


def capture(module, model: Model, images: np.ndarray) -> tuple[np.ndarray, dict, dict]:
    """``(logits, inputs, outputs)``: the float32 tensors the hooks saw (HARNESS-1)."""
    import torch

    want_in, want_out = hooked_paths(module, model)
    names = dict(module.named_modules())
    seen_in, seen_out = {}, {}
    handles = []

    aliases = {spec.module: spec.sign_path() for spec in getattr(module, "fused", {}).values()}

    def hook(path: str):
        def record(_, args, output):
            if path in want_in:
                seen_in[path] = args[0].detach().cpu().numpy()
            if path in want_out:
                seen_out[path] = output.detach().cpu().numpy()
            if path in aliases:  # a fused module's bits are its node's bits (HARNESS-14)
                seen_out[aliases[path]] = seen_out[path]
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
