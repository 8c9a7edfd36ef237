"""Module-path maps (HARNESS-11): a PyTorch implementation with other module names or wrappers,
seen under the authors' module paths."""

from __future__ import annotations

import json
import os
from pathlib import Path

from boolnet_spec.reference.errors import BoundError, FormatError, error_if

__all__ = ["ModuleView", "load_map", "load_module_map", "mapped"]


MAX_MAP_BYTES = 1 << 20
MAX_MAP_ENTRIES = 4096
MAX_PATH_CHARS = 1000


def _read(source) -> tuple[object, str]:
    """The parsed map and its name for messages; a file is bounded before it is parsed."""
    if not isinstance(source, (str, os.PathLike)):
        return source, "module map"
    path = Path(source)
    name = f"module map {path}"
    try:
        size = path.stat().st_size
        error_if(size > MAX_MAP_BYTES, BoundError, name, f"at most {MAX_MAP_BYTES} bytes",
                 f"{size} bytes", "HARNESS-11")
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".toml":
            import tomllib

            return tomllib.loads(text), name
        return json.loads(text), name
    except (OSError, ValueError) as exc:
        if isinstance(exc, BoundError):
            raise
        raise FormatError(name, "a readable JSON or TOML file", type(exc).__name__,
                          "HARNESS-11") from None


def load_map(source) -> tuple[dict[str, str], dict]:
    """``(paths, fused)``: the prefix map ``{authors' path prefix: implementation's prefix}``
    and the fused threshold modules (HARNESS-14) of a dict or a JSON or TOML file holding
    ``paths`` and ``fused`` tables, or the prefix map alone at top level (HARNESS-11)."""
    from boolnet_spec.equivalence.pytorch.harness.fused import parse_fused

    data, name = _read(source)
    fused: dict = {}
    if isinstance(data, dict) and ("paths" in data or "fused" in data):
        unknown = sorted(set(data) - {"paths", "fused"})
        error_if(bool(unknown), FormatError, name, "only the tables paths and fused",
                 lambda: repr(unknown[0])[:80], "HARNESS-11")
        fused = parse_fused(data.get("fused", {}), name)
        data = data.get("paths", {})
    error_if(not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()), FormatError,
        f"{name}: paths", "a table of strings {authors' path: implementation's path}",
        type(data).__name__, "HARNESS-11")
    error_if(len(data) + len(fused) > MAX_MAP_ENTRIES, BoundError, name,
             f"at most {MAX_MAP_ENTRIES} entries", len(data) + len(fused), "HARNESS-11")
    long = [k for k, v in data.items() if max(len(k), len(v)) > MAX_PATH_CHARS]
    error_if(bool(long), BoundError, f"{name}: paths",
             f"paths of at most {MAX_PATH_CHARS} characters",
             lambda: f"{long[0][:80]!r}... ({len(long[0])} characters)", "HARNESS-11")
    return dict(data), fused


def load_module_map(source) -> dict[str, str]:
    """The prefix map of :func:`load_map` (HARNESS-11)."""
    return load_map(source)[0]


def _replace_prefix(path: str, table: dict[str, str]) -> str:
    """``path`` with its longest mapped prefix (whole dotted components) replaced."""
    parts = path.split(".") if path else []
    for cut in range(len(parts), -1, -1):
        prefix = ".".join(parts[:cut])
        if prefix in table:
            rest = ".".join(parts[cut:])
            head = table[prefix]
            return f"{head}.{rest}" if head and rest else head or rest
    return path


class ModuleView:
    """The module under the authors' paths: ``named_modules``, ``get_submodule`` and
    ``state_dict`` translated by the map, everything else the module's own (HARNESS-11)."""

    def __init__(self, module, table: dict[str, str], fused: dict | None = None):
        from dataclasses import replace

        self.module = module
        self.table = table
        self.inverse = {v: k for k, v in table.items()}
        # fused modules are named by the implementation's paths; hooks see the authors'
        self.fused = {node: replace(spec, module=self.canonical(spec.module))
                      for node, spec in (fused or {}).items()}

    def canonical(self, path: str) -> str:
        return _replace_prefix(path, self.inverse)

    def actual(self, path: str) -> str:
        return _replace_prefix(path, self.table)

    def named_modules(self):
        for name, module in self.module.named_modules():
            yield self.canonical(name), module

    def modules(self):
        return self.module.modules()

    def named_parameters(self):
        for name, parameter in self.module.named_parameters():
            yield self.canonical(name), parameter

    def get_submodule(self, path: str):
        return self.module.get_submodule(self.actual(path))

    def state_dict(self):
        return {self.canonical(key): value for key, value in self.module.state_dict().items()}

    @property
    def training(self) -> bool:
        return self.module.training

    def eval(self):
        self.module.eval()
        return self

    def train(self, mode: bool = True):
        self.module.train(mode)
        return self

    def __call__(self, *args, **kwargs):
        return self.module(*args, **kwargs)


def mapped(module, module_map):
    """``module`` itself without a map, else its :class:`ModuleView`."""
    if module_map is None:
        return module
    return ModuleView(module, *load_map(module_map))
