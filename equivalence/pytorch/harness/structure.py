"""Structure (HARNESS-13): every module the harness reads is what its node needs, checked before
PyTorch runs."""

from __future__ import annotations

from boolnet_spec.equivalence.pytorch.harness.capture import POOL_FIRST, downsample_layout
from boolnet_spec.reference.architecture import Architecture, block_plans
from boolnet_spec.reference.errors import FormatError, error_if

__all__ = ["KINDS", "expected_modules", "check_structure"]


def _is_binary_conv(module) -> bool:
    weight = getattr(module, "weight", None)
    return getattr(weight, "ndim", 0) == 4 and hasattr(module, "temperature")


def _is_batchnorm(module) -> bool:
    import torch

    return isinstance(module, torch.nn.BatchNorm2d) and module.affine and \
        module.running_mean is not None and module.running_var is not None


def _is_sign(module) -> bool:
    import torch

    excluded = (torch.nn.Identity, torch.nn.modules.batchnorm._BatchNorm, torch.nn.Conv2d,
                torch.nn.Linear, torch.nn.MaxPool2d, torch.nn.Sequential)
    return not isinstance(module, excluded)


def _is_type(name: str):
    def check(module) -> bool:
        import torch

        return isinstance(module, getattr(torch.nn, name))
    return check


# kind: (what is expected, in words; the test)
KINDS = {
    "conv": ("torch.nn.Conv2d", _is_type("Conv2d")),
    "bconv": ("a binary convolution (a rank-4 weight and a temperature)", _is_binary_conv),
    "bn": ("torch.nn.BatchNorm2d with affine parameters and running statistics", _is_batchnorm),
    "sign": ("a sign module (not Identity, BatchNorm, a convolution, Linear, MaxPool2d or "
             "Sequential)", _is_sign),
    "prelu": ("torch.nn.PReLU", _is_type("PReLU")),
    "linear": ("torch.nn.Linear", _is_type("Linear")),
}


def expected_modules(module, arch: Architecture, fused: dict):
    """``(path, kind, role)`` of every module the harness reads, under the authors' paths, in
    node order; the BatchNorm and sign of a ``fused`` node are replaced by its module. A
    generator: a downsample branch's layout (HARNESS-10) is checked when it is reached."""
    yield "conv1", "conv", "stem convolution"
    yield "maxpool.0", "bn", "stem BatchNorm"
    if arch.family == "boolnet":
        yield from [("ghostbnsign.bn1", "bn", "stem BN1"), ("ghostbnsign.bn2", "bn", "stem BN2"),
                    ("ghostbnsign.adaptive_zero_points.0", "conv", "local adaptive shifting"),
                    ("ghostbnsign.adaptive_zero_points.1", "bn", "local adaptive shifting BN"),
                    ("ghostbnsign.GhostSign", "sign", "stem quantizer")]
    else:
        yield from [("ghostbnsign.0", "bn", "stem BatchNorm"),
                    ("ghostbnsign.1", "sign", "stem quantizer")]
    for plan in block_plans(arch):
        block = plan.name
        for part in ("1", "2"):
            node = f"{block}.conv{part}"
            yield node, "bconv", f"binary convolution of node {node}"
            if node in fused:
                yield fused[node].module, "fused", f"fused threshold of node {node}"
                continue
            yield f"{block}.bn{part}", "bn", f"BatchNorm of node {node}"
            if part == "1" or not plan.last:
                yield f"{block}.ghostsign{part}", "sign", f"sign of node {node}"
        if plan.last:
            yield f"{block}.bn3", "bn", "head BN3 (mean over slices)"
        if plan.downsample and f"{block}.downsample" in fused:
            # HARNESS-14: the fused module pools (POOL-2) and thresholds the conv's output
            node = f"{block}.downsample"
            yield f"{node}.0", "bconv", f"binary convolution of node {node}"
            yield fused[node].module, "fused", f"fused pooling and threshold of node {node}"
        elif plan.downsample:
            error_if(f"{block}.downsample" not in dict(module.named_modules()), FormatError,
                     f"module {block}.downsample", "the downsample branch of the block",
                     "missing", "HARNESS-13")
            first = 2 if downsample_layout(module, block, int(plan.pool)) == POOL_FIRST else 1
            role = f"of node {block}.downsample"
            yield from [(f"{block}.downsample.0", "bconv", f"binary convolution {role}"),
                        (f"{block}.downsample.{first}", "bn", f"BatchNorm {role}"),
                        (f"{block}.downsample.{first + 1}", "sign", f"sign {role}")]
    yield "prelu2", "prelu", "head PReLU"
    yield "fc", "linear", "classifier"


def check_structure(module, arch: Architecture, fused: dict | None = None) -> None:
    """HARNESS-13: ``ERROR_IF`` a module the harness reads is missing or not of its kind
    (:class:`~boolnet_spec.reference.errors.FormatError`, naming the node, the module path,
    what was expected and what was found)."""
    from boolnet_spec.equivalence.pytorch.harness.fused import check_fused_nodes

    fused = fused or {}
    check_fused_nodes(fused, arch)
    names = dict(module.named_modules())
    actual = getattr(module, "actual", lambda path: path)
    for path, kind, role in expected_modules(module, arch, fused):
        where = path if actual(path) == path else f"{path} (the implementation's {actual(path)})"
        found = names.get(path)
        if kind == "fused":
            error_if(found is None, FormatError, f"module {where}", f"a module ({role})",
                     "missing", "HARNESS-14")
            continue
        bound, test = KINDS[kind]
        error_if(found is None, FormatError, f"module {where}", f"{bound} ({role})",
                 "missing", "HARNESS-13")
        error_if(not test(found), FormatError, f"module {where}", f"{bound} ({role})",
                 f"{type(found).__module__}.{type(found).__name__}", "HARNESS-13")
