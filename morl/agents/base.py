"""The agent contract every algorithm follows (Stable-Baselines3 names, plus a preference).

An agent is built from a :class:`~morl.tasks.Task`, trains with ``learn(budget)``, fills
``self.archive`` and acts with ``predict``. What is common to every algorithm lives here once:
building from a task, the progress bar, logging the front and diagnostics, checkpointing and
resuming (through ``state_dict`` / ``load_state_dict``), saving and loading. An algorithm's
module holds its loss, its update and its loop, and never opens a file of the run directory.
"""

from __future__ import annotations

import abc
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
import torch
from tqdm.auto import tqdm

from morl import config as config_lib
from morl import spaces, storage, tasks
from morl.pareto import ArchiveEntry, ParetoArchive

if TYPE_CHECKING:
    from morl.runs import Run

AGENT_FILE = "agent.json"
AGENT_FORMAT = "morl.agent"

Callback = Callable[["Agent", dict[str, Any]], bool | None]
A = TypeVar("A", bound="Agent")


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` picks CUDA when available, else CPU; other strings are passed to torch.

    A device this torch cannot use fails here, in one line, before any work starts (not later
    in a worker process with torch's own assertion).
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"invalid device {device!r}: {err}; use 'auto', 'cpu' or 'cuda[:N]'") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else f"a CUDA {torch.version.cuda} build"
            raise ValueError(
                f"device {str(device)!r}: CUDA is not available (torch {torch.__version__} is {build}, "
                f"{torch.cuda.device_count()} GPUs visible); use --device cpu or auto, or install a CUDA build of torch"
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {str(device)!r}: only {torch.cuda.device_count()} CUDA devices are visible "
                f"(cuda:0..cuda:{torch.cuda.device_count() - 1})"
            )
    elif resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {str(device)!r}: MPS is not available on this machine; use --device cpu or auto")
    return resolved


class Agent(abc.ABC):
    """Base class: ``learn`` fills ``self.archive``; ``predict`` acts for any preference.

    Subclasses set ``name``, ``Config`` (a hyperparameter dataclass), ``task_kinds`` (which
    tasks they train on), ``budget_unit`` and ``diagnostics`` (the columns of ``train.csv``),
    and implement ``learn``, ``predict``, ``entry_predictor`` and, when they keep progress
    beyond the archive, ``state_dict`` / ``load_state_dict``.

    Inside ``learn`` an algorithm calls :meth:`log_front` when the archive changed,
    :meth:`log_diagnostics` after an update and :meth:`checkpoint` at safe points; without a run
    attached (plain library use) these do nothing.
    """

    name: ClassVar[str]
    Config: ClassVar[type]
    task_kinds: ClassVar[tuple[str, ...]] = ("single",)
    budget_unit: ClassVar[str] = "env_steps"
    diagnostics: ClassVar[tuple[str, ...]] = ()
    # what the agent can take (``morl.spaces.kind`` names); others are refused in one line before training
    observation_kinds: ClassVar[tuple[str, ...]] = ("Box",)
    action_kinds: ClassVar[tuple[str, ...]] = ("Discrete", "Box")

    def __init__(
        self,
        task: tasks.Task | Any,
        *,
        seed: int = 0,
        device: str = "auto",
        config: Any = None,
        **hparams: Any,
    ) -> None:
        if config is not None and hparams:
            raise ValueError("give either config or keyword hyperparameters, not both")
        self.task = tasks.make(task)
        if self.task.kind not in self.task_kinds:
            raise ValueError(
                f"{self.name} trains on {' or '.join(self.task_kinds)} tasks; {self.task.name!r} is a "
                f"{self.task.kind} task"
            )
        spaces.require(self.name, self.task, self.observation_kinds, self.action_kinds)
        if config is None:
            config = config_lib.build(self.Config, {**self.default_hparams(self.task), **hparams})
        self.config = config
        self.seed = seed
        self.device = resolve_device(device)
        self.num_objectives = self.task.num_objectives
        self.observation_space = self.task.observation_space
        self.action_space = self.task.action_space
        self.archive = ParetoArchive(self.num_objectives)
        self.num_timesteps = 0
        self.gradient_steps = 0
        self._attached: Run | None = None

    @classmethod
    def default_hparams(cls, task: tasks.Task) -> dict[str, Any]:
        """Per-env presets from ``agents/presets/<name>.yaml`` (e.g. a paper's scripts); user values override them."""
        return config_lib.preset(cls.name, task.spec)

    # --- training ---------------------------------------------------------------------------
    @abc.abstractmethod
    def learn(self, total_timesteps: int, callback: Callback | None = None, progress_bar: bool = True) -> ParetoArchive:
        """Train until ``total_timesteps`` of :attr:`budget_unit` are spent (all vector envs counted)."""

    @property
    def budget_spent(self) -> int:
        """Budget used so far, in :attr:`budget_unit`."""
        return self.num_timesteps if self.budget_unit == "env_steps" else self.gradient_steps

    @contextmanager
    def progress(self, total: int, enabled: bool) -> Iterator[Callable[[int], None]]:
        """A progress bar over the budget; the ``advance(n)`` it yields never moves it past ``total``.

        Every ``learn`` opens one, so this is also where an attached run records the budget
        (a larger one than before extends the run).
        """
        if self._attached is not None:
            self._attached.record_budget(total, self.budget_spent)
        bar = tqdm(total=total, initial=min(self.budget_spent, total), desc=self.name, disable=not enabled,
                   unit=self.budget_unit.replace("_", " "))  # fmt: skip

        def advance(n: int) -> None:
            bar.update(max(0, min(n, total - bar.n)))

        try:
            yield advance
        except BaseException:
            bar.close()  # interrupted or failed: the caller says so, not the bar
            raise
        if enabled and bar.n < total:
            bar.write(
                f"{self.name}: done at {bar.n:,} of {total:,} {bar.unit} (it stopped before the budget)",
                file=sys.stderr,
            )
        bar.close()

    def attach(self, run: Run | None) -> None:
        """Log, checkpoint and resume through ``run`` (``morl.train`` does this); restore its checkpoint.

        A run directory belongs to one training: reopening it with another algorithm, seed,
        task or hyperparameters fails in one line. Rows logged after the restored checkpoint
        are dropped, since training repeats that stretch.
        """
        self._attached = run
        if run is None:
            return
        run.bind(self.identity())
        archive, state = run.load_checkpoint()
        if archive is not None:
            self._adopt_archive(archive)
        if state is not None:
            self.load_state_dict(state)
        run.rewind(self.budget_spent)

    def identity(self) -> dict[str, Any]:
        """What ties a run directory to this training (``config.json``): algorithm, seed, hyperparameters, device."""
        return {"algo": self.name, "seed": self.seed, "device": str(self.device),
                "hparams": config_lib.to_dict(self.config)}  # fmt: skip

    @property
    def scratch_dir(self) -> Path | None:
        """A directory for in-flight jobs to keep their progress between checkpoints (None without a run)."""
        return None if self._attached is None else self._attached.scratch_dir

    def log_front(self) -> None:
        """Score and record the archive as it is now (no-op without a run)."""
        if self._attached is not None:
            self._attached.log_front(self.archive, self.num_timesteps, self.gradient_steps)

    def log_diagnostics(self, values: dict[str, float]) -> None:
        """Record training diagnostics, keys among :attr:`diagnostics` (no-op without a run)."""
        if self._attached is not None:
            self._attached.log_diagnostics(values, self.num_timesteps, self.gradient_steps)

    def checkpoint(self) -> None:
        """Save the archive and :meth:`state_dict` so a killed run resumes from here (no-op without a run)."""
        if self._attached is not None:
            self._attached.save_checkpoint(self.archive, self.state_dict())

    def state_dict(self) -> dict[str, Any]:
        """Progress beyond the archive: JSON values and torch tensors (optimiser state, counters)."""
        return {"num_timesteps": self.num_timesteps, "gradient_steps": self.gradient_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.num_timesteps = int(state["num_timesteps"])
        self.gradient_steps = int(state.get("gradient_steps", 0))

    # --- acting -----------------------------------------------------------------------------
    def predict(
        self,
        obs: np.ndarray,
        preference: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        action_masks: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """Actions for a batch of observations under ``preference``, and the next recurrent state.

        The signature of Stable-Baselines3's recurrent policies: feed-forward agents return
        ``state`` unchanged (None). The default acts with the archive entry of the best linear
        utility for ``preference``.
        """
        entry = self.archive.entry_for(preference)
        return self.entry_predictor(entry.id)(obs, preference, state, episode_start, action_masks, deterministic)

    @abc.abstractmethod
    def entry_predictor(self, entry_id: int) -> tasks.Predictor:
        """A :class:`~morl.tasks.Predictor` acting with archive entry ``entry_id`` itself.

        ``predict`` picks the best entry for a preference; this re-rolls one given entry, which
        is what re-measuring a stored value vector needs.
        """

    def entry(self, entry_id: int) -> ArchiveEntry:
        """The archive entry with id ``entry_id``."""
        for entry in self.archive.entries:
            if entry.id == entry_id:
                return entry
        raise KeyError(f"archive has no entry {entry_id}; ids: {[e.id for e in self.archive.entries]}")

    def _adopt_archive(self, archive: ParetoArchive) -> None:
        """Take over a loaded archive whose policies are tensor dicts (networks are rebuilt lazily)."""
        archive.max_size = self.archive.max_size
        self.archive = archive

    # --- persistence ------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write ``agent.json`` (algorithm, task, seed, hyperparameters, progress) and ``archive/``."""
        root = Path(path)
        self.archive.save(root / "archive")
        record = {
            "format": AGENT_FORMAT,
            "algo": self.name,
            "env": self.task.record()["env"],
            "env_kwargs": self.task.env_kwargs,
            "seed": self.seed,
            "hparams": config_lib.to_dict(self.config),
            "num_timesteps": self.num_timesteps,
            "gradient_steps": self.gradient_steps,
        }
        storage.atomic_write_json(root / AGENT_FILE, record)

    @classmethod
    def load(cls: type[A], path: str | os.PathLike, env: Any = None, device: str = "auto") -> A:
        """Rebuild an agent written by :meth:`save`; never unpickles. Pass ``env`` (or a task) for a non-id env."""
        root = Path(path)
        record = storage.read_json(root / AGENT_FILE, f"agent at {root}")
        if not isinstance(record, dict) or record.get("format") != AGENT_FORMAT or record.get("algo") != cls.name:
            raise storage.FormatError(f"agent at {root}: {AGENT_FILE} is not a saved '{cls.name}' agent")
        task = tasks.make(env if env is not None else record["env"], **record.get("env_kwargs", {}))
        agent = cls(task, seed=record["seed"], device=device, config=config_lib.build(cls.Config, record["hparams"]))
        agent.num_timesteps = int(record.get("num_timesteps", 0))
        agent.gradient_steps = int(record.get("gradient_steps", 0))
        agent._adopt_archive(ParetoArchive.load(root / "archive"))
        return agent
