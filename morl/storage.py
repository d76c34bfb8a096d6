"""Crash-safe files: atomic writes, and weights that load without executing code.

Archives, checkpoints and configs are written to a temporary file in the same directory and
renamed over the target, so a run killed mid-write leaves either the old file or the new one.
Weights are safetensors (pure data); JSON is the only other format read back.
"""

from __future__ import annotations

import json
import os
import stat
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


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (``/proc/self/status``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _temp_sibling(target: Path) -> tuple[int, str]:
    """A temporary file beside ``target``, with the mode a plain ``open(target, "w")`` would give.

    ``mkstemp`` creates files 0600 whatever the umask; renamed into place they would hide a
    run's results from collaborators on a shared filesystem.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~_umask())
    return fd, tmp


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary sibling file and an atomic rename."""
    target = Path(path)
    fd, tmp = _temp_sibling(target)
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
    fd, tmp = _temp_sibling(Path(path))
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    os.close(fd)
    try:
        cpu = {k: v.detach().to("cpu").clone().contiguous() for k, v in tensors.items()}
        save_file(cpu, tmp, metadata={k: str(v) for k, v in (metadata or {}).items()})
        os.chmod(tmp, mode)  # safetensors writes a file of its own, 0600
        os.replace(tmp, path)
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


def load_weights_into(module: torch.nn.Module, weights: Any, what: str) -> torch.nn.Module:
    """Load stored ``weights`` into ``module``; weights of another shape raise :class:`FormatError` naming ``what``."""
    try:
        module.load_state_dict(state_dict_of(weights))
    except RuntimeError as err:
        raise FormatError(f"{what}: weights do not fit this network ({err})") from None
    return module


def _split_tensors(state: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """``state`` with every tensor replaced by ``{"__tensor__": key}`` and collected in ``tensors``."""
    if isinstance(state, torch.Tensor):
        tensors[prefix] = state
        return {"__tensor__": prefix}
    if isinstance(state, Mapping):
        return {str(k): _split_tensors(v, f"{prefix}.{k}" if prefix else str(k), tensors) for k, v in state.items()}
    if isinstance(state, list | tuple):
        return [_split_tensors(v, f"{prefix}.{i}", tensors) for i, v in enumerate(state)]
    return to_jsonable(state)


def _join_tensors(record: Any, tensors: Mapping[str, torch.Tensor], what: str) -> Any:
    if isinstance(record, dict):
        if set(record) == {"__tensor__"}:
            try:
                return tensors[record["__tensor__"]]
            except KeyError:
                raise FormatError(f"{what}: tensor {record['__tensor__']!r} is missing from its weights file") from None
        return {k: _join_tensors(v, tensors, what) for k, v in record.items()}
    if isinstance(record, list):
        return [_join_tensors(v, tensors, what) for v in record]
    return record


def save_state(stem: str | os.PathLike, state: Mapping[str, Any]) -> None:
    """Write a nested state (JSON values and torch tensors) as ``stem.json`` + ``stem.<gen>.safetensors``.

    The tensors go to a new generation's file first, then the JSON that names that file is
    renamed into place, then older generations are removed: a kill at any moment leaves a
    consistent pair on disk.
    """
    stem = Path(stem)
    tensors: dict[str, torch.Tensor] = {}
    record = _split_tensors(dict(state), "", tensors)
    previous = read_json(stem.with_suffix(".json"), "state") if stem.with_suffix(".json").exists() else {}
    generation = int(previous.get("generation", 0)) + 1 if isinstance(previous, dict) else 1
    weights = f"{stem.name}.{generation}.safetensors" if tensors else None
    if weights is not None:
        save_tensors(stem.parent / weights, tensors)
    atomic_write_json(stem.with_suffix(".json"), {"generation": generation, "weights": weights, "state": record})
    for stale in stem.parent.glob(f"{stem.name}.*.safetensors"):
        if stale.name != weights:
            stale.unlink(missing_ok=True)


def load_state(stem: str | os.PathLike) -> dict[str, Any] | None:
    """The state written by :func:`save_state`, or None if there is none; damage raises :class:`FormatError`."""
    stem = Path(stem)
    what = f"checkpoint {stem}"
    if not stem.with_suffix(".json").exists():
        return None
    record = read_json(stem.with_suffix(".json"), what)
    if not isinstance(record, dict) or not {"weights", "state"} <= set(record):
        raise FormatError(f"{what}: {stem.with_suffix('.json')} is not a morl checkpoint")
    if record["weights"] is None:
        return _join_tensors(record["state"], {}, what)
    if Path(record["weights"]).name != record["weights"]:
        raise FormatError(f"{what}: weights name {record['weights']!r} points outside the checkpoint")
    tensors = load_tensors(stem.parent / record["weights"], what)
    return _join_tensors(record["state"], tensors, what)


def to_cpu(value: Any) -> Any:
    """Tensors (also inside dicts and lists) detached, on the CPU and contiguous: ready to save."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().contiguous()
    if isinstance(value, dict):
        return {k: to_cpu(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_cpu(v) for v in value]
    return value


def optimizer_state(optim: torch.optim.Optimizer) -> dict[str, Any]:
    """An optimiser's state with JSON-safe keys (parameter indices as strings)."""
    state = optim.state_dict()
    return {"state": {str(k): v for k, v in state["state"].items()}, "param_groups": state["param_groups"]}


def load_optimizer_state(optim: torch.optim.Optimizer, saved: dict[str, Any]) -> None:
    """Restore :func:`optimizer_state` (JSON turned the parameter indices into strings)."""
    optim.load_state_dict({"state": {int(k): dict(v) for k, v in saved["state"].items()},
                           "param_groups": [dict(g) for g in saved["param_groups"]]})  # fmt: skip
