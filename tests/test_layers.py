"""One namespace, layers that point one way, one op registry, and the exit-code rules (issue 9)."""

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import boolnet_spec.cli as cli
from boolnet_spec.cli import main
from boolnet_spec.reference.errors import (
    EXIT_FINDING,
    EXIT_INPUT,
    EXIT_INTERNAL,
    DomainError,
    FormatError,
    UsageError,
    error_if,
)
from boolnet_spec.reference.ops import OP_NAMES, OPS, BlockTensors, dispatch_table, lookup

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"reference": 0, "spec": 1, "equivalence": 2, "boolnet_spec": 3}
FOLDERS = {"boolnet_spec.reference": "reference", "boolnet_spec.spec": "spec",
           "boolnet_spec.equivalence": "equivalence", "boolnet_spec": "boolnet_spec"}


def package_folders() -> dict[str, Path]:
    """Every package folder of the distribution, by its installed name."""
    found = {}
    for name, folder in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found[".".join((name, *rel))] = init.parent
    return found


def module_imports(top_level: bool = False) -> dict[str, set[str]]:
    """The boolnet_spec modules each module imports: at module level only with ``top_level``,
    else inside functions too."""
    graph = {}
    for package, folder in package_folders().items():
        for path in folder.glob("*.py"):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            targets = set()
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in (tree.body if top_level else ast.walk(tree)):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    targets.add(node.module)
                elif isinstance(node, ast.Import):
                    targets.update(alias.name for alias in node.names)
            graph[name] = {t for t in targets if t.split(".")[0] == "boolnet_spec"}
    return graph


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1]] if len(parts) > 1 and parts[1] in LAYERS else LAYERS["boolnet_spec"]


def test_the_distribution_lists_every_package_folder():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert sorted(config["tool"]["setuptools"]["packages"]) == sorted(package_folders())


def test_layers_point_one_way_reference_spec_equivalence_cli():
    graph = module_imports()
    upward = [(a, b) for a, targets in graph.items() for b in targets
              if b in graph and layer(b) > layer(a)]
    assert upward == []
    reference = {b for a, targets in graph.items() if layer(a) == 0 for b in targets}
    assert all(b.startswith("boolnet_spec.reference") for b in reference)


def test_the_import_graph_has_no_cycle():
    # Imports deferred into functions (heavy or mutual helpers) cannot form an import cycle.
    graph = module_imports(top_level=True)
    done, stack = set(), []

    def visit(module):
        if module in stack:
            raise AssertionError(f"import cycle: {' -> '.join([*stack, module])}")
        if module in done or module not in graph:
            return
        stack.append(module)
        for target in sorted(graph[module]):
            # A package's __init__ re-exports its submodules: that edge is not a cycle.
            if target != module and not target.startswith(module + "."):
                visit(target)
        stack.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


# The variant loader puts the variant file's folder first while that file runs, as Python does for
# a script (PROVE-2), and restores sys.path after: the one sanctioned change.
SYS_PATH_ALLOWED = {"spec/prove_cli.py"}


def test_no_sys_path_insertion_anywhere_but_the_docs_extensions():
    offenders = []
    for folder in ("reference", "spec", "equivalence", "boolnet_spec", "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            pattern = r"sys\.path\s*(\.insert|\.append|\[|\+=)"
            name = path.relative_to(ROOT).as_posix()
            if path != Path(__file__) and name not in SYS_PATH_ALLOWED \
                    and re.search(pattern, text):
                offenders.append(name)
    assert offenders == []
    conf = (ROOT / "docs" / "conf.py").read_text(encoding="utf-8")
    assert re.findall(r"sys\.path.*", conf) == ['sys.path.insert(0, str(DOCS / "_ext"))']


@pytest.mark.parametrize("folder", ["reference", "spec", "equivalence"])
def test_a_chapter_folder_cannot_be_imported_a_second_time_under_its_bare_name(folder):
    completed = subprocess.run([sys.executable, "-c", f"import {folder}"], cwd=ROOT,
                               capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode != 0
    assert f"import boolnet_spec.{folder}, not {folder}" in completed.stderr


def test_python_m_of_a_bare_cli_module_is_refused():
    completed = subprocess.run([sys.executable, "-m", "reference.cli", "--help"], cwd=ROOT,
                               capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode != 0 and "boolnet_spec.reference" in completed.stderr


def test_python_m_boolnet_spec_is_the_command():
    completed = subprocess.run([sys.executable, "-m", "boolnet_spec", "--help"], cwd=ROOT,
                               capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 0
    for command in ("fold", "build", "run", "info", "prove", "compare", "certify", "datapath",
                    "cost"):
        assert command in completed.stdout


def test_lint_bans_bare_chapter_imports(tmp_path):
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is installed by the lint and ci tox envs")
    bad = tmp_path / "bad.py"
    bad.write_text("from reference.fold import fold_bn_sign\nimport spec.variants\n"
                   "from equivalence.pytorch import model\n", encoding="utf-8")
    completed = subprocess.run([str(ruff), "check", "--config", str(ROOT / "pyproject.toml"),
                                "--select", "TID251", "--output-format", "concise", str(bad)],
                               capture_output=True, text=True, timeout=60, check=False)
    assert completed.stdout.count("TID251") == 3


# One op registry (OPS-1, OPS-2)

def consumers() -> dict[str, dict]:
    from boolnet_spec.equivalence.datapath.counters import COUNTERS
    from boolnet_spec.equivalence.datapath.machine import UNITS
    from boolnet_spec.reference.network import KERNELS

    tables = {"reference interpreter": KERNELS, "datapath machine": UNITS,
              "cost counters": COUNTERS}
    try:
        from boolnet_spec.equivalence.pytorch.harness.teacher import NODE_CHECKS
    except ImportError:  # torch is an extra; the exporter builds through BUILD-1's builder
        return tables
    return tables | {"PyTorch harness": NODE_CHECKS}


@pytest.mark.req("OPS-1")
def test_every_consumer_handles_exactly_the_registry_ops():
    assert OP_NAMES == ("stem", "bconv", "split", "xnor", "or", "shuffle", "head")
    for consumer, table in consumers().items():
        assert set(table) == set(OPS), consumer


@pytest.mark.req("OPS-1")
def test_a_consumer_that_misses_an_op_is_refused_when_it_is_built():
    handlers = dict.fromkeys(OP_NAMES[:-1], None)
    with pytest.raises(TypeError, match=r"missing \['head'\]"):
        dispatch_table("a faulty engine", handlers)
    with pytest.raises(TypeError, match=r"extra \['conv'\]"):
        dispatch_table("a faulty engine", {**dict.fromkeys(OP_NAMES), "conv": None})


@pytest.mark.req("OPS-1")
@pytest.mark.parametrize("op", ["conv", "", None, 3, "Stem", "bconv "])
def test_an_unknown_op_is_the_same_typed_error_in_every_engine(op):
    for consumer, table in consumers().items():
        with pytest.raises(FormatError, match=r"node n: expected an op in .*\[OPS-1\]"):
            lookup(table, op, "node n")
        assert consumer


@pytest.mark.req("OPS-1")
def test_an_unknown_op_in_a_model_file_is_refused_by_every_engine_before_work(tmp_path):
    from fixtures_network import scaled, state_dict

    from boolnet_spec.reference.build import build_model
    from boolnet_spec.reference.network import Model, Node

    arch = scaled("boolnet-k4")
    model = build_model(arch, state_dict(arch))
    nodes = [Node(n.name, "conv" if n.op == "xnor" else n.op, n.inputs, n.outputs, n.attrs,
                  n.arrays) for n in model.nodes]
    with pytest.raises(FormatError, match=r"\[OPS-1\]"):
        Model(arch, nodes, model.arrays)


@pytest.mark.req("OPS-1")
def test_an_attribute_no_op_declares_is_refused():
    from fixtures_network import scaled, state_dict

    from boolnet_spec.reference.build import build_model
    from boolnet_spec.reference.network import Model, Node

    arch = scaled("basenet-k1")
    model = build_model(arch, state_dict(arch))
    nodes = [Node(n.name, n.op, n.inputs, n.outputs,
                  {**n.attrs, "bias": 1} if n.op == "split" or n.op == "bconv" else n.attrs,
                  n.arrays) for n in model.nodes]
    with pytest.raises(FormatError, match=r"attrs: expected attributes of bconv .*\['bias'\]"):
        Model(arch, nodes, model.arrays)


@pytest.mark.req("OPS-2")
def test_block_tensor_names_are_the_builders_names():
    from fixtures_network import scaled, state_dict

    from boolnet_spec.reference.build import build_model

    arch = scaled("boolnet-k4")
    model = build_model(arch, state_dict(arch))
    names = {name for node in model.nodes for name in node.outputs}
    split, down = BlockTensors("layer2.1"), BlockTensors("layer2.0")
    for name in (split.x, split.carry, down.downsample_acc, down.downsample, split.conv1,
                 split.ghostsign1, split.xnor, split.conv2, split.ghostsign2, split.logic_or,
                 split.output):
        assert name in names, name
    assert split.x == "layer2.1.x" and split.logic_or == "layer2.1.or"
    assert BlockTensors.of_node("layer2.1.conv1") == (split, "conv1")
    assert (BlockTensors.downsample_bn(0), BlockTensors.downsample_bn(2)) == ("1", "2")
    assert {node.name for node in model.nodes} >= {split.node(p) for p in
                                                   ("split", "conv1", "xnor", "conv2", "or",
                                                    "shuffle")} | {down.node("downsample")}


# Errors and exit codes (ERR-3, ERR-4)

@pytest.mark.req("ERR-4")
def test_error_if_evaluates_a_lazy_message_only_when_it_raises():
    calls = []

    def expensive():
        calls.append(1)
        return "value"

    error_if(False, DomainError, "x", lambda: expensive(), lambda: expensive(), "ERR-4")
    assert calls == []
    with pytest.raises(DomainError, match=r"^x: expected value, got value \[ERR-4\]$"):
        error_if(True, DomainError, "x", lambda: expensive(), lambda: expensive(), "ERR-4")
    assert calls == [1, 1]


@pytest.mark.req("ERR-4")
def test_a_passing_bit_check_never_describes_its_tensor(monkeypatch):
    import boolnet_spec.reference.encoding as encoding

    def describe(*args):
        raise AssertionError("the message was evaluated although nothing was wrong")

    monkeypatch.setattr(encoding, "describe", describe)
    bits = np.ones((2, 3), np.uint8)
    assert encoding.check_bits(bits, "bits") is bits


@pytest.mark.req("ERR-3")
def test_exit_codes_findings_input_usage_and_internal(capsys, monkeypatch):
    assert main(["fold", "--gamma=1", "--beta=0", "--mean=0", "--var=1", "--n=9"]) == 0
    assert main(["fold", "--gamma=1", "--beta=0", "--mean=0", "--var=-2", "--eps=0",
                 "--n=9"]) == EXIT_INPUT
    assert "[BN-2]" in capsys.readouterr().err
    assert main(["fold", "--gamma=1"]) == EXIT_INPUT
    assert "missing ['--beta', '--mean', '--var', '--n']" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["fold", "--no-such-flag"])
    assert usage.value.code == EXIT_INPUT

    def broken(args):
        raise KeyError("a bug of ours")

    parser = cli.build_parser()
    args = parser.parse_args(["info", "x.bsm"])
    monkeypatch.setattr(cli, "build_parser", lambda: _Fixed(parser, args, broken))
    capsys.readouterr()
    assert main([]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "internal error: KeyError: 'a bug of ours'" in err and "please report it" in err


@pytest.mark.req("ERR-3")
def test_an_unknown_theorem_is_a_usage_error_with_exit_2(capsys):
    pytest.importorskip("z3")
    assert main(["prove", "--theorem", "PROOF-999"]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--theorem" in err and "PROOF-999" in err
    assert UsageError.__mro__[1].__name__ == "SpecError"


@pytest.mark.req("ERR-3")
def test_a_finding_exits_1(capsys, tmp_path):
    pytest.importorskip("z3")
    variant = tmp_path / "v.py"
    variant.write_text(
        "from boolnet_spec.spec.variants import Param, Variant\n"
        "def preact(s, p):\n    return (s - p.c) * (s - p.c) - 1\n"
        "V = Variant('parabola', [Param('c')], preact)\n", encoding="utf-8")
    code = main(["prove", f"--variant={variant}:V", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert (code, out["status"]) == (EXIT_FINDING, "not-foldable")


class _Fixed:
    """A parser stand-in that returns fixed arguments whose handler is ``handler``."""

    def __init__(self, parser, args, handler):
        self.args = args
        args.handler = handler

    def parse_args(self, argv):
        return self.args
