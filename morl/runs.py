"""Run directories, the one owner of their files: config, metrics, logs, archive, checkpoints, plots.

A run lives in ``runs/<algo>-<env>-<seed>-<timestamp>/`` (or a directory the user names)::

    config.json        algorithm, task, seed, budget and its unit, hyperparameters, versions
    metrics.csv        one row per archive evaluation, fixed columns (EVAL_COLUMNS)
    train.csv          training diagnostics, the columns the agent declares (Agent.diagnostics)
    events.out.tfevents.*   the same, for TensorBoard
    archive/           the ParetoArchive (JSON index + safetensors)
    checkpoints/       agent state (JSON + safetensors) and scratch space for in-flight jobs
    plots/             front and hypervolume figures

Everything is written atomically or appended line by line, so a killed run can be resumed, and
``morl eval``, ``morl plot`` and the benchmark (through :func:`load_run`) can read it while it is
still training. Training writes through one Stable-Baselines3 logger whose CSV outputs keep the
same columns in every row.
"""

from __future__ import annotations

import csv
import fcntl
import importlib.metadata
import io
import json
import os
import platform
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.logger import KVWriter, Logger, TensorBoardOutputFormat

from morl import metrics, storage
from morl.pareto import ArchiveEntry, ParetoArchive
from morl.tasks import Task

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
TRAIN_FILE = "train.csv"
ARCHIVE_DIR = "archive"
CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_ARCHIVE = "archive"  # checkpoints/archive: the archive as it was at the last checkpoint
LOCK_FILE = ".lock"
IDENTITY_KEYS = ("algo", "seed", "hparams", "kind", "env", "env_kwargs", "num_objectives", "ref_point")
PLACEMENT_KEYS = ("executor", "workers", "ray_address")  # where jobs run, not what is trained: may change on resume
PLOTS_DIR = "plots"
AGENT_STATE = "agent"  # checkpoints/agent.json + agent.<generation>.safetensors
EVAL_COLUMNS = (
    "env_steps",
    "gradient_steps",
    "budget_unit",
    "wall_time",
    "steps_per_second",
    "hypervolume",
    "expected_utility",
    "cardinality",
    "sparsity",
    "spacing",
)
BUDGET_UNITS = ("env_steps", "gradient_steps")
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


class _FixedColumnsCSV(KVWriter):
    """An SB3 logger output that appends the logged keys under ``prefix`` to a CSV with fixed columns.

    SB3's own CSV writer rewrites the whole file when a new key appears; here the columns are
    declared up front, missing values stay empty, and every row is flushed to disk, so a file
    read while training (or after a kill) always has one header and whole rows.
    """

    def __init__(self, path: Path, prefix: str, columns: Sequence[str]) -> None:
        self.path, self.prefix, self.columns = path, prefix, tuple(columns)
        if self.path.exists() and self.path.stat().st_size > 0:
            with self.path.open(newline="") as handle:
                header = next(csv.reader(handle), [])
            if tuple(header) != self.columns:
                raise storage.FormatError(
                    f"{self.path} has columns {header}, this run writes {list(self.columns)}: it belongs to another "
                    "version or algorithm"
                )

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0) -> None:
        row = {k[len(self.prefix) :]: v for k, v in key_values.items() if k.startswith(self.prefix)}
        if not row:
            return
        unknown = sorted(set(row) - set(self.columns))
        if unknown:
            raise ValueError(f"{self.path.name}: {unknown} are not among its declared columns {list(self.columns)}")
        new = not self.path.exists() or self.path.stat().st_size == 0
        with self.path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(self.columns))
            if new:
                writer.writeheader()
            writer.writerow(row)
            handle.flush()
            os.fsync(handle.fileno())

    def close(self) -> None:
        """Nothing stays open between rows."""


@dataclass
class Run:
    """An open run directory: the logger, the archive and the checkpoints of one training.

    Agents never see it: the base class calls :meth:`log_front`, :meth:`log_diagnostics`,
    :meth:`save_checkpoint` and :meth:`load_checkpoint` (``morl.train`` attaches the run).
    """

    path: Path
    task: Task
    budget_unit: str = "env_steps"
    diagnostics: tuple[str, ...] = ()
    use_tensorboard: bool = True
    _logger: Logger | None = field(default=None, init=False, repr=False)
    _lock: Any = field(default=None, init=False, repr=False)
    _start: float = field(default_factory=time.perf_counter, init=False)
    _elapsed_before: float = field(default=0.0, init=False)

    @property
    def archive_dir(self) -> Path:
        return self.path / ARCHIVE_DIR

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT_DIR

    @property
    def plots_dir(self) -> Path:
        return self.path / PLOTS_DIR

    @property
    def scratch_dir(self) -> Path:
        """Where an agent's in-flight jobs keep their own progress (cleared at each checkpoint)."""
        return self.checkpoint_dir / "jobs"

    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        task: Task,
        budget_unit: str = "env_steps",
        diagnostics: Sequence[str] = (),
        use_tensorboard: bool = True,
    ) -> Run:
        """Create (or reopen, to resume) a run directory and hold it until :meth:`close`.

        A directory is held by one process at a time (:class:`RunInUse` otherwise); the lock of
        a process that died is taken over.
        """
        if budget_unit not in BUDGET_UNITS:
            raise ValueError(f"budget_unit must be one of {BUDGET_UNITS}, got {budget_unit!r}")
        run = cls(Path(path), task, budget_unit, tuple(diagnostics), use_tensorboard)
        run.path.mkdir(parents=True, exist_ok=True)
        run._lock = _hold(run.path / LOCK_FILE)
        for sub in (run.archive_dir, run.checkpoint_dir, run.plots_dir):
            sub.mkdir(parents=True, exist_ok=True)
        rows = read_metrics(run.path)
        if len(rows.get("wall_time", [])):
            run._elapsed_before = float(rows["wall_time"][-1])
        return run

    def write_config(self, record: dict[str, Any]) -> None:
        """Write ``config.json``: the caller's record plus the task's, the budget unit and package versions."""
        full = {**record, **self.task.record(), "budget_unit": self.budget_unit, "versions": package_versions()}
        storage.atomic_write_json(self.path / CONFIG_FILE, full)

    def bind(self, identity: Mapping[str, Any]) -> None:
        """Tie this directory to one training: write its config, or refuse a different one.

        ``identity`` is the agent's algorithm, seed and hyperparameters; the task's record is
        added. Reopening a directory with any of them changed would mix two trainings in one
        archive and one metrics file, so it fails in one line naming what differs.
        """
        record = {**identity, **self.task.record()}
        if not (self.path / CONFIG_FILE).exists():
            self.write_config({**identity, "budget": None})
            return
        saved = read_config(self.path)
        changed = [key for key in IDENTITY_KEYS if _comparable(key, saved.get(key)) != _comparable(key, record[key])]
        differ = [key for key in changed if key in saved]
        if differ:
            detail = "; ".join(_difference(key, saved[key], record[key]) for key in differ)
            raise ValueError(
                f"run directory {self.path} holds another training ({detail}); resume it unchanged "
                "(a larger budget is allowed) or train into a new directory"
            )

    def record_budget(self, budget: int, spent: int) -> None:
        """Record the budget a ``learn`` call aims at; a larger one than before extends the run.

        Each extension is appended to ``budget_history`` in ``config.json``. A budget below what
        the run already recorded is refused: the run has spent (or planned) more than that.
        """
        config = read_config(self.path)
        previous = config.get("budget")
        if previous is not None and budget < int(previous):
            raise ValueError(
                f"run directory {self.path} has a budget of {int(previous):,} {self.budget_unit} ({spent:,} spent); "
                f"give total_timesteps >= {int(previous):,} to continue it, or train into a new directory"
            )
        if previous is not None and budget == int(previous):
            return
        config["budget"] = int(budget)
        if previous is not None:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
            extension = {"from": int(previous), "to": int(budget), "spent": int(spent), "time": stamp}
            config.setdefault("budget_history", []).append(extension)
        storage.atomic_write_json(self.path / CONFIG_FILE, config)

    def rewind(self, spent: int) -> None:
        """Drop metric and diagnostic rows logged after the checkpoint being resumed (``spent`` budget).

        A killed run may have logged beyond its last checkpoint; the resumed run logs that stretch
        again, so without the rewind those rows would appear twice.
        """
        for name in (METRICS_FILE, TRAIN_FILE):
            _truncate_rows(self.path / name, self.budget_unit, spent)
        rows = read_metrics(self.path)
        self._elapsed_before = float(rows["wall_time"][-1]) if len(rows.get("wall_time", [])) else 0.0
        self._start = time.perf_counter()

    @property
    def wall_time(self) -> float:
        """Seconds of training so far, including before a resume."""
        return self._elapsed_before + time.perf_counter() - self._start

    def _log(self) -> Logger:
        if self._logger is None:
            formats: list[KVWriter] = [
                _FixedColumnsCSV(self.path / METRICS_FILE, "eval/", EVAL_COLUMNS),
                _FixedColumnsCSV(self.path / TRAIN_FILE, "train/", ("env_steps", "gradient_steps", *self.diagnostics)),
            ]
            if self.use_tensorboard:
                formats.append(TensorBoardOutputFormat(str(self.path)))
            self._logger = Logger(str(self.path), formats)
        return self._logger

    def log_front(self, archive: ParetoArchive, env_steps: int, gradient_steps: int = 0) -> dict[str, Any]:
        """Score the archive, write one ``metrics.csv`` row and TensorBoard scalars, save the archive."""
        front = archive.values
        wall = self.wall_time
        spent = env_steps if self.budget_unit == "env_steps" else gradient_steps
        row: dict[str, Any] = {
            "env_steps": int(env_steps),
            "gradient_steps": int(gradient_steps),
            "budget_unit": self.budget_unit,
            "wall_time": round(wall, 3),
            "steps_per_second": round(spent / wall, 1) if wall > 0 else 0.0,
            "hypervolume": metrics.hypervolume(front, self.task.ref_point) if len(front) else 0.0,
            "expected_utility": metrics.expected_utility(front, self.task.eval_weights) if len(front) else float("nan"),
            "cardinality": metrics.cardinality(front) if len(front) else 0,
            "sparsity": metrics.sparsity(front) if len(front) else 0.0,
            "spacing": metrics.spacing(front) if len(front) else 0.0,
        }
        logger = self._log()
        for key, value in row.items():
            logger.record(f"eval/{key}", value, exclude="tensorboard" if isinstance(value, str) else None)
        logger.dump(int(spent))
        archive.save(self.archive_dir)
        return row

    def log_diagnostics(self, values: Mapping[str, float], env_steps: int, gradient_steps: int = 0) -> None:
        """Training diagnostics (losses, entropy, KL, learning rate, barrier terms) to ``train.csv`` and TensorBoard."""
        logger = self._log()
        logger.record("train/env_steps", int(env_steps), exclude="tensorboard")
        logger.record("train/gradient_steps", int(gradient_steps), exclude="tensorboard")
        for key, value in values.items():
            logger.record(f"train/{key}", float(value))
        logger.dump(int(env_steps if self.budget_unit == "env_steps" else gradient_steps))

    def save_checkpoint(self, archive: ParetoArchive, state: dict[str, Any]) -> None:
        """Archive first, then the agent's state, each atomically; then clear the jobs' scratch space.

        The checkpoint keeps its own copy of the archive (``checkpoints/archive``): ``archive/``
        follows every evaluation, so after a kill it may be ahead of the agent's state.
        """
        archive.save(self.archive_dir)
        archive.save(self.checkpoint_dir / CHECKPOINT_ARCHIVE)
        storage.save_state(self.checkpoint_dir / AGENT_STATE, state)
        if self.scratch_dir.exists():
            for stale in self.scratch_dir.iterdir():
                stale.unlink(missing_ok=True)

    def load_checkpoint(self) -> tuple[ParetoArchive | None, dict[str, Any] | None]:
        """The saved archive and agent state, or None for what this run has not written yet."""
        state = storage.load_state(self.checkpoint_dir / AGENT_STATE)
        if state is None:  # killed before its first checkpoint: it starts again, whatever archive/ holds
            return None, None
        saved = self.checkpoint_dir / CHECKPOINT_ARCHIVE
        if not (saved / "index.json").exists():
            saved = self.archive_dir  # a run written before checkpoints kept their own copy
        archive = ParetoArchive.load(saved) if (saved / "index.json").exists() else None
        return archive, state

    def close(self) -> None:
        """Flush the logs and let another process take the directory."""
        if self._logger is not None:
            self._logger.close()
            self._logger = None
        if self._lock is not None:
            self._lock.seek(0)
            self._lock.truncate()
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None


class RunInUse(ValueError):
    """Another live process holds the run directory."""


def _hold(lock_path: Path) -> Any:
    """Hold ``lock_path`` with an exclusive ``flock``, writing who holds it; the kernel frees it when we die."""
    handle = lock_path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise RunInUse(
            f"run directory {lock_path.parent} is in use by {holder}; wait for it to end (or stop it), then resume"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    handle.flush()
    return handle


def canonical(value: Any) -> Any:
    """A JSON round trip, so tuples and lists, numpy and Python numbers compare equal."""
    return json.loads(json.dumps(storage.to_jsonable(value)))


def _comparable(key: str, value: Any) -> Any:
    if key == "hparams" and isinstance(value, dict):
        value = {k: v for k, v in value.items() if k not in PLACEMENT_KEYS}
    return canonical(value)


def _difference(key: str, saved: Any, new: Any) -> str:
    if isinstance(saved, dict) and isinstance(new, dict):
        keys = sorted(
            k for k in set(saved) | set(new)
            if k not in PLACEMENT_KEYS and canonical(saved.get(k)) != canonical(new.get(k))
        )  # fmt: skip
        return ", ".join(f"{key}.{k}: {saved.get(k)!r} there, {new.get(k)!r} now" for k in keys)
    return f"{key}: {canonical(saved)!r} there, {canonical(new)!r} now"


def _truncate_rows(path: Path, unit: str, spent: int) -> None:
    """Rewrite a CSV of the run without rows whose ``unit`` column exceeds ``spent`` (atomically)."""
    if not path.is_file():
        return
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if len(rows) < 2 or unit not in rows[0]:
        return
    column = rows[0].index(unit)
    kept = [rows[0], *(row for row in rows[1:] if len(row) == len(rows[0]) and _to_float(row[column]) <= spent)]
    if len(kept) == len(rows):
        return
    text = io.StringIO()
    csv.writer(text).writerows(kept)
    storage.atomic_write_bytes(path, text.getvalue().encode())


def write_external_run(
    path: str | os.PathLike, task: Task, record: dict[str, Any], archive: ParetoArchive, env_steps: int,
    wall_time: float,
) -> dict[str, Any]:  # fmt: skip
    """Write the run directory of a training done elsewhere (an external baseline's front, no policies).

    ``config.json``, ``archive/`` and one ``metrics.csv`` row at ``env_steps``, whose wall time is
    the external training's own, so such runs are scored, tabled and plotted like ours.
    """
    run = Run.open(path, task, use_tensorboard=False)
    try:
        run.write_config(record)
        run._elapsed_before, run._start = float(wall_time), time.perf_counter()
        return run.log_front(archive, int(env_steps))
    finally:
        run.close()


# --- reading runs -----------------------------------------------------------------------------
def read_metrics(path: str | os.PathLike, file: str = METRICS_FILE) -> dict[str, np.ndarray]:
    """Columns of ``metrics.csv`` (or another CSV of the run) as float arrays ({} if absent).

    A torn last line (a run killed mid-write, or still writing) is skipped; a cell that is not
    a number (or is empty) reads as NaN.
    """
    target = Path(path) / file
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


@dataclass
class RunData:
    """What a run directory holds, read back for scoring, plotting and tables.

    Attributes:
        label: ``algo-env-seed`` (the directory name when the config lacks those keys).
        path: the run directory.
        values: value vectors of the run's archive, shape (n, m); n is 0 before the first evaluation.
        config: the parsed ``config.json``.
        metrics: ``metrics.csv`` as column name -> float array (NaN where a cell is empty or not a number);
            empty when the file does not exist yet.
        entries: the archive's entries (id, value, preference or condition, meta; no weights loaded), in the
            order of ``values``, read in the same pass so both describe one state of a run still training.
    """

    label: str
    path: Path
    values: np.ndarray
    config: dict[str, Any]
    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    entries: list[ArchiveEntry] = field(default_factory=list)

    @property
    def num_objectives(self) -> int | None:
        """Objectives of this run, from the archive or, before it exists, from the config; None if unknown."""
        if self.values.shape[1] > 0:
            return int(self.values.shape[1])
        for key in ("objective_names", "ref_point"):
            if self.config.get(key) is not None:
                return len(self.config[key])
        front = self.true_front
        return None if front is None else int(front.shape[1])

    @property
    def true_front(self) -> np.ndarray | None:
        """The environment's known Pareto front from the config, shape (k, m), or None."""
        front = self.config.get("true_front")
        return None if front is None else np.asarray(front, dtype=np.float64)

    @property
    def ref_point(self) -> np.ndarray | None:
        ref = self.config.get("ref_point")
        return None if ref is None else np.asarray(ref, dtype=np.float64)

    @property
    def eval_weights(self) -> np.ndarray | None:
        weights = self.config.get("eval_weights")
        return None if weights is None else np.asarray(weights, dtype=np.float64)

    @property
    def objective_names(self) -> list[str] | None:
        """Objective names from the config, or None."""
        names = self.config.get("objective_names")
        return None if names is None else [str(n) for n in names]

    @property
    def budget_unit(self) -> str:
        """What the run's budget counts: ``env_steps`` (online) or ``gradient_steps`` (offline)."""
        return str(self.config.get("budget_unit", "env_steps"))

    def curve(self, column: str = "hypervolume") -> tuple[np.ndarray, np.ndarray] | None:
        """(budget spent, ``column``) from the metrics, or None when there are no such rows yet."""
        steps = self.metrics.get(self.budget_unit)
        values = self.metrics.get(column)
        if steps is None or values is None or len(steps) == 0:
            return None
        return steps, values

    def hypervolume_curve(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(budget spent, hypervolume) from the metrics, or None when there are no such rows yet."""
        return self.curve("hypervolume")

    def value_at(self, column: str, budget: float) -> float | None:
        """``column`` at the last evaluation within ``budget`` (e.g. HV at 100k env steps), or None."""
        found = self.curve(column)
        if found is None:
            return None
        steps, values = found
        within = np.flatnonzero(steps <= budget)
        return None if len(within) == 0 else float(values[within[-1]])

    def report(self) -> dict[str, float]:
        """Every indicator of the final front against the run's own reference point and true front."""
        if self.ref_point is None or self.eval_weights is None:
            raise storage.FormatError(f"run directory {self.path}: config.json lacks ref_point or eval_weights")
        return metrics.evaluate_front(self.values, self.ref_point, self.eval_weights, self.true_front)


def load_run(run_dir: str | os.PathLike) -> RunData:
    """Read a run directory (config, archive values, metrics); the one reader of these files.

    A missing ``metrics.csv`` or ``archive/`` is not an error (the run may not have evaluated
    anything yet): the run then has no metrics and an empty (0, m) front.

    Raises:
        ValueError: the directory or its ``config.json`` is missing, the config is not a JSON
            object or has malformed fields, or the archive is corrupt.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise ValueError(f"run directory {path} does not exist or is not a directory")
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        raise ValueError(f"run directory {path} has no {CONFIG_FILE}; is it a morl run directory?")
    try:
        config = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{config_path} is not valid JSON ({err})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{config_path} must hold a JSON object, got {type(config).__name__}")
    _check_config(config, config_path)
    values, entries = _load_archive(path, config)
    label = _run_label(config, path)
    return RunData(label=label, path=path, values=values, config=config, metrics=read_metrics(path), entries=entries)


def _check_config(config: dict[str, Any], config_path: Path) -> None:
    """Fail early, naming the file, on config fields that scoring and plots would otherwise choke on."""
    for key in ("ref_point", "objective_names", "eval_weights"):
        if config.get(key) is not None and not isinstance(config[key], list):
            raise ValueError(f"{config_path}: {key!r} must be a list or null, got {config[key]!r:.100}")
    front = config.get("true_front")
    if front is not None:
        try:
            arr = np.asarray(front, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{config_path}: 'true_front' is not a list of numeric vectors ({err})") from None
        if arr.ndim != 2 or arr.shape[0] == 0:
            raise ValueError(f"{config_path}: 'true_front' must be a non-empty list of vectors, got shape {arr.shape}")


def _run_label(config: Mapping[str, Any], path: Path) -> str:
    """``algo-env-seed``, the label users know a run by; the directory name if any part is missing."""
    parts = [config.get(key) for key in ("algo", "env", "seed")]
    if any(part is None for part in parts):
        return path.resolve().name
    return "-".join(str(part) for part in parts)


def _load_archive(path: Path, config: Mapping[str, Any]) -> tuple[np.ndarray, list[ArchiveEntry]]:
    """Value vectors (n, m) and entries of the run's archive, without weights; (0, m) and [] before it exists."""
    archive_dir = path / ARCHIVE_DIR
    if not (archive_dir / "index.json").exists():
        hint = config.get("objective_names") or config.get("ref_point") or ()
        return np.empty((0, len(hint))), []
    try:
        archive = ParetoArchive.load(archive_dir, load_policies=False)
    except ValueError as err:  # storage.FormatError is a ValueError
        raise ValueError(f"run directory {path}: cannot read its archive: {err}") from None
    values = archive.values
    if values.shape[1] == 0 and archive.num_objectives:
        values = np.empty((0, archive.num_objectives))
    return values, archive.entries
