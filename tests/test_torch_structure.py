"""HARNESS-13: a module whose structure no map explains is refused before PyTorch runs, with a
typed error naming the module, the node it serves, what was expected and what was found."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from test_torch_harness import setup

from boolnet_spec.equivalence.pytorch.certify import certify
from boolnet_spec.equivalence.pytorch.harness import compare
from boolnet_spec.reference.errors import FormatError


class Wrapper(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.inner = net

    def forward(self, x):
        return self.inner(x)


def missing_conv2(net):
    del net.layer1[1].conv2
    return net, None


def bn_identity(net):
    net.layer1[0].bn1 = torch.nn.Identity()
    return net, None


def plain_conv(net):
    conv = net.layer2[0].conv1
    net.layer2[0].conv1 = torch.nn.Conv2d(conv.weight.shape[1], conv.weight.shape[0], 3)
    return net, None


def relu_for_conv(net):
    net.layer1[0].conv2 = torch.nn.ReLU()
    return net, None


def sign_identity(net):
    net.layer1[0].ghostsign2 = torch.nn.Identity()
    return net, None


def wrapper_without_inner(net):
    return Wrapper(net), {"": "body"}                 # the map names body, the wrapper inner


def stem_linear(net):
    net.conv1 = torch.nn.Linear(3, 8)
    return net, None


def missing_fc(net):
    del net.fc
    return net, None


def missing_downsample(net):
    net.layer2[0].downsample = None
    return net, None


def bn_without_statistics(net):
    net.ghostbnsign.bn2 = torch.nn.BatchNorm2d(8, track_running_stats=False)
    return net, None


HOSTILE = {
    missing_conv2: r"module layer1\.1\.conv2: expected a binary convolution .*node layer1\.1"
                   r"\.conv2.*got missing",
    bn_identity: r"module layer1\.0\.bn1: expected torch\.nn\.BatchNorm2d.*BatchNorm of node "
                 r"layer1\.0\.conv1.*got torch\.nn\.modules\.linear\.Identity",
    plain_conv: r"module layer2\.0\.conv1: expected a binary convolution.*got "
                r"torch\.nn\.modules\.conv\.Conv2d",
    relu_for_conv: r"module layer1\.0\.conv2: expected a binary convolution.*ReLU",
    sign_identity: r"module layer1\.0\.ghostsign2: expected a sign module.*Identity",
    wrapper_without_inner: r"module conv1 \(the implementation's body\.conv1\): expected "
                           r"torch\.nn\.Conv2d.*got missing",
    stem_linear: r"module conv1: expected torch\.nn\.Conv2d \(stem convolution\).*Linear",
    missing_fc: r"module fc: expected torch\.nn\.Linear \(classifier\), got missing",
    missing_downsample: r"module layer2\.0\.downsample: expected the downsample branch",
    bn_without_statistics: r"module ghostbnsign\.bn2: expected torch\.nn\.BatchNorm2d with "
                           r"affine parameters and running statistics",
}


@pytest.mark.req("HARNESS-13")
@pytest.mark.parametrize("hostile", list(HOSTILE), ids=lambda f: f.__name__)
def test_a_module_no_map_explains_is_refused_naming_the_node(hostile):
    arch, _, net, images = setup("boolnet-k4")
    module, module_map = hostile(net)
    calls = []
    module.register_forward_pre_hook(lambda *_: calls.append(1))
    with pytest.raises(FormatError) as error:
        compare(module, arch, images, progress=False, module_map=module_map)
    assert type(error.value) is FormatError
    assert str(error.value).endswith("[HARNESS-13]"), str(error.value)
    assert error.match(HOSTILE[hostile])
    assert calls == []                                           # PyTorch never ran
    with pytest.raises(FormatError, match=r"\[HARNESS-13\]$"):
        certify(module, arch, progress=False, module_map=module_map)


@pytest.mark.req("HARNESS-13")
@pytest.mark.parametrize("config", ["basenet-k1", "boolnet-star-k4"])
def test_clean_models_and_a_wrapped_port_pass_the_structure_check(config):
    from boolnet_spec.equivalence.pytorch.harness.structure import check_structure, expected_modules

    arch, _, net, images = setup(config)
    check_structure(net, arch)
    paths = [path for path, _, _ in expected_modules(net, arch, {})]  # a generator
    assert "layer2.0.downsample.0" in paths and "fc" in paths and len(paths) == len(set(paths))
    result = compare(Wrapper(net), arch, images, progress=False, module_map={"": "inner"})
    assert result.summary["mismatch"] == 0
