"""Crash-safe files: atomic writes, and weights that load without executing code.

Archives, checkpoints and configs are written to a temporary file in the same directory and
renamed over the target, so a run killed mid-write leaves either the old file or the new one.
Weights are safetensors (pure data); JSON is the only other format read back.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file


class FormatError(ValueError):
    """A file is corrupt, truncated, of another format, or from an incompatible version."""


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary sibling file and an atomic rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and paths so ``json.dumps`` accepts them."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Serialise ``obj`` as indented JSON and write it atomically."""
    try:
        text = json.dumps(to_jsonable(obj), indent=2, sort_keys=False, allow_nan=True)
    except TypeError as err:
        raise TypeError(f"cannot write {path}: value is not JSON-serialisable ({err})") from None
    atomic_write_bytes(path, (text + "\n").encode())


def read_json(path: str | os.PathLike, what: str) -> Any:
    """Read JSON written by :func:`atomic_write_json`; any damage raises :class:`FormatError`."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FormatError(f"{what}: {path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FormatError(f"{what}: {path} is not valid JSON ({err}); the file is corrupt or foreign") from None


def save_tensors(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor], metadata: dict | None = None) -> None:
    """Write a name -> tensor mapping as safetensors, atomically."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        cpu = {k: v.detach().to("cpu").clone().contiguous() for k, v in tensors.items()}
        save_file(cpu, tmp, metadata={k: str(v) for k, v in (metadata or {}).items()})
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_tensors(path: str | os.PathLike, what: str) -> dict[str, torch.Tensor]:
    """Load safetensors weights; a missing, truncated or foreign file raises :class:`FormatError`."""
    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise FormatError(f"{what}: weights file {path} does not exist") from None
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise FormatError(f"{what}: {path} is not a valid safetensors file ({err})") from None


def state_dict_of(policy: Any) -> dict[str, torch.Tensor]:
    """Tensors that describe ``policy``: a module's state dict, or a mapping of tensors as is."""
    if isinstance(policy, torch.nn.Module) or hasattr(policy, "state_dict"):
        state = policy.state_dict()
    elif isinstance(policy, Mapping):
        state = dict(policy)
    else:
        raise TypeError(f"cannot store a policy of type {type(policy).__name__}: give an nn.Module or a tensor dict")
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise TypeError(f"policy state has non-tensor entries {bad[:5]}; only tensors can be stored as safetensors")
    return state
