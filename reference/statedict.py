"""State dicts: reading the authors' float parameters and checking them against a configuration.

.. req:: SD-1

   A state-dict file is read by its extension: ``.pth`` or ``.pt`` with
   ``torch.load(weights_only=True)`` (torch is needed for these only), ``.safetensors`` with the
   ``safetensors`` NumPy reader, ``.npz`` with ``np.load(allow_pickle=False)``. Nothing in a file is
   ever executed: a pickle that ``weights_only`` refuses, an object array, a truncated or
   unreadable file, another extension, or a content that is not a flat mapping from string keys
   to tensors is rejected (:class:`~boolnet_spec.reference.errors.FormatError`). A tensor whose
   dtype NumPy
   cannot hold (bfloat16, float8, quantized) is a
   :class:`~boolnet_spec.reference.errors.DTypeError` naming its
   key in a ``.pth``; the ``safetensors`` reader refuses the whole file
   (:class:`~boolnet_spec.reference.errors.FormatError`). A ``.pth`` may hold the state dict under
   the key
   ``network`` (the authors' training checkpoints), ``state_dict`` or ``model``, and keys that all
   start with ``module.`` (``DataParallel``) lose that prefix.

.. req:: SD-2

   The state dict must hold exactly the keys of the configuration's layout (ARCH-7), each with the
   layout's shape and dtype: a missing or an extra key is a
   :class:`~boolnet_spec.reference.errors.FormatError`, a wrong shape a
   :class:`~boolnet_spec.reference.errors.ShapeError`
   and a wrong dtype a :class:`~boolnet_spec.reference.errors.DTypeError`, each naming the key. The
   checks run
   before any folding.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from boolnet_spec.reference.architecture import Architecture, state_dict_layout
from boolnet_spec.reference.errors import DTypeError, FormatError, ShapeError, error_if
from boolnet_spec.reference.limits import MAX_INPUT_BYTES
from boolnet_spec.reference.safe_io import (
    READ_ERRORS,
    check_input_file,
    check_zip_sizes,
    read_npz,
)

__all__ = ["load_state_dict", "check_state_dict", "NESTED_KEYS"]

#: The keys under which a ``.pth`` checkpoint may hold its state dict (SD-1).
NESTED_KEYS = ("network", "state_dict", "model")


def _from_torch(path: Path) -> dict:
    try:
        import torch
    except ImportError:
        raise FormatError(str(path), "torch installed to read .pth files (pip install torch)",
                          "no torch", "SD-1") from None
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise FormatError(str(path), "a state dict loadable with torch.load(weights_only=True)",
                          f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:200]}",
                          "SD-1") from None
    if isinstance(content, dict):
        nested = [content[key] for key in NESTED_KEYS if isinstance(content.get(key), dict)]
        content = nested[0] if nested else content
    error_if(not isinstance(content, dict), FormatError, str(path),
             "a flat mapping of key to tensor", type(content).__name__, "SD-1")
    if content and all(isinstance(k, str) and k.startswith("module.") for k in content):
        content = {k[len("module."):]: v for k, v in content.items()}
    arrays = {}
    for key, value in content.items():
        error_if(not isinstance(key, str) or not isinstance(value, torch.Tensor), FormatError,
                 str(key), "a string key with a tensor value", type(value).__name__, "SD-1")
        error_if(value.layout != torch.strided or value.is_meta, FormatError, key,
                 "a dense tensor holding data", f"{value.layout} on {value.device}", "SD-1")
        try:
            arrays[key] = value.detach().cpu().numpy().copy()
        except TypeError:  # bfloat16, float8, quantized: no NumPy dtype
            raise DTypeError(key, "a NumPy-representable dtype", str(value.dtype),
                             "SD-1") from None
    return arrays


def _from_safetensors(path: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file
    try:
        return load_file(path)
    except (SafetensorError, *READ_ERRORS, TypeError, RuntimeError) as error:
        raise FormatError(str(path), "a safetensors file", str(error)[:200], "SD-1") from None


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a state-dict file (SD-1)."""
    path = check_input_file(path, "state dict", label="SD-1")
    suffix = path.suffix.lower()
    if suffix in (".pth", ".pt"):
        # A .pth is a ZIP archive (or, in torch's legacy format, uncompressed): its size once
        # inflated is capped before torch reads it (LIMIT-2).
        check_zip_sizes(path, "state dict")
        check_input_file(path, "state dict", MAX_INPUT_BYTES, "SD-1")
        return _from_torch(path)
    if suffix == ".safetensors":
        check_input_file(path, "state dict", MAX_INPUT_BYTES, "SD-1")
        return _from_safetensors(path)
    error_if(suffix != ".npz", FormatError, "state dict", "a .pth, .pt, .safetensors or .npz file",
             str(path), "SD-1")
    return read_npz(path, "state dict")


def check_state_dict(arch: Architecture, state_dict: dict[str, np.ndarray]) -> None:
    """Exactly the layout's keys, shapes and dtypes (SD-2)."""
    layout = state_dict_layout(arch)
    expected = {key for key, _, _ in layout}
    for key in state_dict:
        error_if(key not in expected, FormatError, key, f"a key of the {arch.name} layout",
                 "an extra key", "SD-2")
    for key, shape, dtype in layout:
        error_if(key not in state_dict, FormatError, key, f"present (a key of {arch.name})",
                 "missing", "SD-2")
        value = np.asarray(state_dict[key])
        error_if(value.shape != shape, ShapeError, key, f"shape {list(shape)}",
                 list(value.shape), "SD-2")
        error_if(value.dtype != np.dtype(dtype), DTypeError, key, f"dtype {dtype}", value.dtype,
                 "SD-2")
