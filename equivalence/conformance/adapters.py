"""The plug-in points (KIT-4, KIT-5): an implementation in Python, or a command in any language.

Both turn one case into ``{output name: array}`` or say the case was not run; the runner compares.
"""

from __future__ import annotations

import importlib
import os
import shlex
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from boolnet_spec.equivalence.conformance.case import Case
from boolnet_spec.reference.errors import FormatError, SpecError, UsageError

__all__ = ["NotRun", "ImplementationFailed", "PythonAdapter", "CommandAdapter", "adapter_from",
           "build_object", "as_outputs", "ENV_IMPL", "ENV_IMPL_CMD", "SKIP_STATUS",
           "DEFAULT_TIMEOUT"]

ENV_IMPL = "BOOLNET_SPEC_IMPL"
ENV_IMPL_CMD = "BOOLNET_SPEC_IMPL_CMD"
SKIP_STATUS = 77
"""A command's exit status for "this case's function is not implemented" (automake's SKIP)."""
DEFAULT_TIMEOUT = 60.0


class NotRun(Exception):
    """The implementation does not provide this case's function (KIT-3)."""


class ImplementationFailed(Exception):
    """The implementation raised, crashed, timed out or wrote something unreadable (KIT-3)."""


def build_object(case: Case, name: str):
    """A composite argument of a reference function, from the case's arrays and attributes."""
    from boolnet_spec.reference.batchnorm import BatchNorm
    from boolnet_spec.reference.threshold import ThresholdUnits

    spec = case.objects[name]
    arrays = {role: case.array(member) for role, member in spec.get("arrays", {}).items()}
    if spec.get("type") == "ThresholdUnits":
        return ThresholdUnits(arrays["polarity"], arrays["threshold"], int(spec["n"]))
    if spec.get("type") == "BatchNorm":
        return BatchNorm(arrays["weight"], arrays["bias"], arrays["running_mean"],
                         arrays["running_var"], eps=float(spec["eps"]), name=name)
    raise FormatError(f"{case.directory / 'desc.json'} field objects.{name}.type",
                      "ThresholdUnits or BatchNorm", repr(spec.get("type")), "KIT-1")


def as_outputs(names: list[str], result) -> dict[str, object]:
    """A function's result by output name: units give ``polarity`` and ``threshold``, a tuple
    its outputs in order, an array the one output."""
    if hasattr(result, "polarity") and hasattr(result, "threshold"):
        return {"polarity": result.polarity, "threshold": result.threshold}
    if isinstance(result, dict):
        return result
    if isinstance(result, (tuple, list)):
        return dict(zip(names, result, strict=False))
    return {names[0]: result}


class PythonAdapter:
    """An object with reference-named functions and/or ``run(model_path, images)`` (KIT-4)."""

    def __init__(self, implementation: object, name: str = ""):
        self.implementation = implementation
        self.name = name or type(implementation).__name__

    def outputs(self, case: Case) -> dict[str, object]:
        if case.kind == "network":
            run = getattr(self.implementation, "run", None)
            if run is None:
                raise NotRun("the implementation has no run(model_path, images)")
            call = lambda: run(case.directory / "model.bsm", case.array("images"))  # noqa: E731
        else:
            function = getattr(self.implementation, case.function, None)
            if function is None:
                raise NotRun(f"the implementation has no {case.function}")
            kwargs = {}
            for arg in case.args:
                if arg in case.inputs:
                    kwargs[arg] = case.array(arg)
                elif arg in case.objects:
                    kwargs[arg] = build_object(case, arg)
                else:
                    kwargs[arg] = case.attrs[arg]
            call = lambda: function(**kwargs)  # noqa: E731
        try:
            return as_outputs([output.name for output in case.outputs], call())
        except NotRun:
            raise
        except Exception as error:  # the implementation under test may raise anything
            raise ImplementationFailed(f"raised {type(error).__name__}: {error}") from None


class CommandAdapter:
    """A command run once per case, ``{case}`` and ``{out}`` substituted (KIT-5)."""

    def __init__(self, template: str, timeout: float = DEFAULT_TIMEOUT, packed: bool = False):
        argv = shlex.split(template)
        if not argv or not any("{out}" in part for part in argv):
            raise UsageError("--boolnet-impl-cmd", "a command line with {case} and {out}",
                             repr(template), "KIT-5")
        self.argv, self.timeout, self.packed = argv, timeout, packed
        self.name = template

    def outputs(self, case: Case) -> dict[str, object]:
        from boolnet_spec.reference.safe_io import read_npy

        with tempfile.TemporaryDirectory(prefix="boolnet-out-") as out:
            argv = [part.replace("{case}", str(case.directory)).replace("{out}", out)
                    for part in self.argv]
            try:
                done = subprocess.run(argv, capture_output=True, timeout=self.timeout,
                                      check=False, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                raise ImplementationFailed(f"timed out after {self.timeout:g} s") from None
            except OSError as error:
                raise ImplementationFailed(f"could not start: {error}") from None
            if done.returncode == SKIP_STATUS:
                raise NotRun(f"the command exited {SKIP_STATUS} (not implemented)")
            if done.returncode != 0:
                tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
                raise ImplementationFailed(f"exited {done.returncode}: {' '.join(tail)}")
            found = {}
            for path in Path(out).glob("*.npy"):
                try:
                    found[path.name[:-4]] = read_npy(path, f"output {path.name}")
                except SpecError as error:
                    found[path.name[:-4]] = ImplementationFailed(str(error))
            return self._unpacked(case, found)

    def _unpacked(self, case: Case, found: dict) -> dict:
        if not self.packed:
            return found
        from boolnet_spec.equivalence.datapath.layout import PackedBits, unpack_activations

        for output in case.outputs:
            value = found.get(output.name)
            if isinstance(value, np.ndarray) and value.dtype == np.uint64 \
                    and len(output.shape) == 5:
                try:
                    found[output.name] = unpack_activations(
                        PackedBits(value, output.shape[2]), output.name)
                except SpecError as error:
                    found[output.name] = ImplementationFailed(str(error))
        return found


def adapter_from(impl: str | None = None, impl_cmd: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, packed: bool = False):
    """The adapter named by the arguments, else by ``BOOLNET_SPEC_IMPL`` or
    ``BOOLNET_SPEC_IMPL_CMD`` (KIT-4, KIT-5)."""
    impl = impl or (None if impl_cmd else os.environ.get(ENV_IMPL))
    impl_cmd = impl_cmd or (None if impl else os.environ.get(ENV_IMPL_CMD))
    if bool(impl) == bool(impl_cmd):
        raise UsageError("--impl/--impl-cmd", f"exactly one implementation (or {ENV_IMPL} or "
                         f"{ENV_IMPL_CMD})", "both" if impl else "none", "KIT-4")
    if impl_cmd:
        return CommandAdapter(impl_cmd, timeout, packed)
    module_name, _, factory_name = impl.partition(":")
    if not module_name or not factory_name.isidentifier():
        raise UsageError("--impl", "pkg.module:factory", repr(impl), "KIT-4")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UsageError("--impl", "an importable module", f"{module_name}: {error}",
                         "KIT-4") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise UsageError("--impl", f"a callable {factory_name} in {module_name}",
                         repr(factory), "KIT-4")
    return PythonAdapter(factory(), impl)

