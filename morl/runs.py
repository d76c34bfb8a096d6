"""Run directories: config, metrics CSV, TensorBoard events, archive, checkpoints, plots.

A run lives in ``runs/<algo>-<env>-<seed>-<timestamp>/`` (or a directory the user names).
Everything in it is written atomically or appended line by line, so a killed run can be
resumed from it, and ``morl eval`` / ``morl plot`` can read it while it is still training.
"""

from __future__ import annotations

import csv
import importlib.metadata
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from morl import metrics, storage
from morl.pareto import ParetoArchive

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
METRIC_COLUMNS = ("env_steps", "wall_time", "steps_per_second", "hypervolume", "expected_utility", "cardinality")
_VERSIONED = (
    "morl",
    "numpy",
    "torch",
    "gymnasium",
    "mo-gymnasium",
    "momaland",
    "stable-baselines3",
    "pymoo",
    "moocore",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that decide a run's numbers."""
    versions = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def default_run_dir(algo: str, env_name: str, seed: int, root: str | os.PathLike = "runs") -> Path:
    """``root/<algo>-<env>-<seed>-<timestamp>``; the timestamp keeps repeated runs apart."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{algo}-{env_name}-{seed}-{stamp}"


@dataclass
class EvalSettings:
    """How a run's front is scored: reference point, preference set for EU, optional true front."""

    ref_point: np.ndarray
    weights: np.ndarray
    true_front: np.ndarray | None = None


@dataclass
class Run:
    """An open run directory with its logger; pass it to ``agent.learn(..., run=run)``."""

    path: Path
    settings: EvalSettings
    use_tensorboard: bool = True
    _writer: Any = field(default=None, init=False, repr=False)
    _start: float = field(default_factory=time.perf_counter, init=False)
    _elapsed_before: float = field(default=0.0, init=False)

    @property
    def archive_dir(self) -> Path:
        return self.path / "archive"

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def plots_dir(self) -> Path:
        return self.path / "plots"

    @classmethod
    def open(cls, path: str | os.PathLike, settings: EvalSettings, use_tensorboard: bool = True) -> Run:
        """Create (or reopen, to resume) a run directory and its sub-directories."""
        run = cls(Path(path), settings, use_tensorboard)
        for sub in (run.path, run.archive_dir, run.checkpoint_dir, run.plots_dir):
            sub.mkdir(parents=True, exist_ok=True)
        rows = read_metrics(run.path)
        if len(rows.get("wall_time", [])):
            run._elapsed_before = float(rows["wall_time"][-1])
        return run

    def write_config(self, config: dict[str, Any]) -> None:
        """Write ``config.json``: resolved hyperparameters, env, seed, versions, evaluation settings."""
        full = dict(config)
        full["versions"] = package_versions()
        full["ref_point"] = self.settings.ref_point
        full["eval_weights"] = self.settings.weights
        full["true_front"] = self.settings.true_front
        storage.atomic_write_json(self.path / CONFIG_FILE, full)

    @property
    def wall_time(self) -> float:
        """Seconds of training so far, including before a resume."""
        return self._elapsed_before + time.perf_counter() - self._start

    def log_front(self, archive: ParetoArchive, env_steps: int, extra: dict[str, float] | None = None) -> dict:
        """Score the archive, append a metrics row, write TensorBoard scalars and save the archive."""
        front = archive.values
        wall = self.wall_time
        row = {
            "env_steps": int(env_steps),
            "wall_time": round(wall, 3),
            "steps_per_second": round(env_steps / wall, 1) if wall > 0 else 0.0,
            "hypervolume": metrics.hypervolume(front, self.settings.ref_point) if len(front) else 0.0,
            "expected_utility": metrics.expected_utility(front, self.settings.weights) if len(front) else float("nan"),
            "cardinality": metrics.cardinality(front) if len(front) else 0,
        }
        row.update(extra or {})
        self._append_csv(row)
        if self.use_tensorboard:
            writer = self._tensorboard()
            for key, value in row.items():
                if key != "env_steps":
                    writer.add_scalar(f"eval/{key}", float(value), int(env_steps))
            writer.flush()
        archive.save(self.archive_dir)
        return row

    def log_scalars(self, scalars: dict[str, float], env_steps: int) -> None:
        """Training diagnostics (losses, entropies) to TensorBoard only."""
        if self.use_tensorboard:
            writer = self._tensorboard()
            for key, value in scalars.items():
                writer.add_scalar(key, float(value), int(env_steps))

    def _append_csv(self, row: dict[str, Any]) -> None:
        target = self.path / METRICS_FILE
        new = not target.exists() or target.stat().st_size == 0
        with target.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
            handle.flush()
            os.fsync(handle.fileno())

    def _tensorboard(self):
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self.path))
        return self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def read_metrics(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Columns of ``metrics.csv`` as float arrays ({} if absent).

    A torn last line (a run killed mid-write, or still writing) is skipped; a cell that is not
    a number reads as NaN.
    """
    target = Path(path) / METRICS_FILE
    if not target.is_file():
        return {}
    with target.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return {}
    header = [name.strip() for name in rows[0]]
    body = [row for row in rows[1:] if len(row) == len(header)]
    return {name: np.array([_to_float(row[j]) for row in body]) for j, name in enumerate(header)}


def _to_float(cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        return float("nan")


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """``config.json`` of a run directory; a missing or damaged file raises ``storage.FormatError``."""
    config = storage.read_json(Path(path) / CONFIG_FILE, f"run directory {path}")
    if not isinstance(config, dict) or "algo" not in config or "env" not in config:
        raise storage.FormatError(f"run directory {path}: {CONFIG_FILE} is not a morl run config")
    return config
