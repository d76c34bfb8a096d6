"""Fault injection for the atomic writers: a write that fails halfway leaves the old file and no debris."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch

from morl import storage
from morl.pareto import ParetoArchive


def _disk_full(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_json_write_failing_at_fsync_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "config.json"
    storage.atomic_write_json(target, {"version": 1})
    monkeypatch.setattr(storage.os, "fsync", _disk_full)
    with pytest.raises(OSError, match="No space"):
        storage.atomic_write_json(target, {"version": 2, "payload": list(range(1000))})
    assert json.loads(target.read_text()) == {"version": 1}
    assert _leftovers(tmp_path) == []


def test_json_serialiser_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "config.json"
    storage.atomic_write_json(target, {"version": 1})
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        storage.atomic_write_json(target, {"version": 2, "bad": object()})
    assert json.loads(target.read_text()) == {"version": 1}
    assert _leftovers(tmp_path) == []


def test_tensor_write_failing_halfway_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "w.safetensors"
    storage.save_tensors(target, {"x": torch.ones(3)})

    def half_then_full(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"\x00" * 7)  # a torn file, then the disk is full
        _disk_full()

    monkeypatch.setattr(storage, "save_file", half_then_full)
    with pytest.raises(OSError):
        storage.save_tensors(target, {"x": torch.zeros(3)})
    assert torch.equal(storage.load_tensors(target, "test")["x"], torch.ones(3))
    assert _leftovers(tmp_path) == []


def test_checkpoint_failing_at_its_index_keeps_the_previous_generation(tmp_path, monkeypatch):
    stem = tmp_path / "agent"
    storage.save_state(stem, {"step": 1, "w": torch.ones(2)})
    monkeypatch.setattr(storage, "atomic_write_json", lambda *a, **k: _disk_full())
    with pytest.raises(OSError):
        storage.save_state(stem, {"step": 2, "w": torch.zeros(2)})
    monkeypatch.undo()
    state = storage.load_state(stem)
    assert state["step"] == 1 and torch.equal(state["w"], torch.ones(2))


def test_archive_save_failing_on_a_policy_keeps_the_old_archive(tmp_path, monkeypatch):
    archive = ParetoArchive(2)
    archive.add(np.array([1.0, 0.0]), {"w": torch.ones(1)})
    archive.save(tmp_path)
    archive.add(np.array([0.0, 1.0]), {"w": torch.zeros(1)})
    monkeypatch.setattr(storage, "save_file", _disk_full)
    with pytest.raises(OSError):
        archive.save(tmp_path)
    monkeypatch.undo()
    reloaded = ParetoArchive.load(tmp_path)
    np.testing.assert_array_equal(reloaded.values, [[1.0, 0.0]])
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        storage.atomic_write_json(tmp_path / "a.json", {"a": 1})
        storage.save_tensors(tmp_path / "b.safetensors", {"x": torch.ones(1)})
    finally:
        os.umask(old)
    for name in ("a.json", "b.safetensors"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name
