"""Module-path maps (HARNESS-11): a PyTorch implementation with other module names or wrappers,
seen under the authors' module paths."""

from __future__ import annotations

import json
import os
from pathlib import Path

from boolnet_spec.reference.errors import FormatError, error_if

__all__ = ["ModuleView", "load_module_map", "mapped"]


def load_module_map(source) -> dict[str, str]:
    """A map ``{authors' path prefix: implementation's path prefix}`` from a dict, or a JSON or
    TOML file holding it (at top level or under ``paths``) (HARNESS-11)."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
            if path.suffix.lower() == ".toml":
                import tomllib

                data = tomllib.loads(text)
            else:
                data = json.loads(text)
        except (OSError, ValueError) as exc:
            raise FormatError(f"module map {path}", "a readable JSON or TOML file",
                              type(exc).__name__, "HARNESS-11") from None
    else:
        data = source
    if isinstance(data, dict) and isinstance(data.get("paths"), dict):
        data = data["paths"]
    error_if(not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()), FormatError,
        "module map", "a table of strings {authors' path: implementation's path}",
        type(data).__name__, "HARNESS-11")
    return dict(data)


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

    def __init__(self, module, table: dict[str, str]):
        self.module = module
        self.table = table
        self.inverse = {v: k for k, v in table.items()}

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
    return module if module_map is None else ModuleView(module, load_module_map(module_map))
