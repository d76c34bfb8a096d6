"""The agent contract every algorithm follows (Stable-Baselines3 names, plus a preference)."""

from __future__ import annotations

import abc
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch

from morl import config as config_lib
from morl import envs, storage
from morl.pareto import ParetoArchive
from morl.runs import Run

AGENT_FILE = "agent.json"
AGENT_FORMAT = "morl.agent"

Callback = Callable[["Agent", dict[str, Any]], bool | None]


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` picks CUDA when available, else CPU; other strings are passed to torch."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"invalid device {device!r}: {err}; use 'auto', 'cpu' or 'cuda[:N]'") from None


class Agent(abc.ABC):
    """Base class: ``learn`` fills ``self.archive``; ``predict`` acts for any preference.

    Subclasses set ``name`` and ``Config`` (a hyperparameter dataclass) and implement
    ``learn``, ``predict``, ``save`` and ``load``. ``learn`` may take a :class:`~morl.runs.Run`
    to log metrics, write the archive and checkpoint as it goes.
    """

    name: ClassVar[str]
    Config: ClassVar[type]

    def __init__(
        self,
        env: envs.EnvSpec,
        *,
        seed: int = 0,
        device: str = "auto",
        config: Any = None,
        **hparams: Any,
    ) -> None:
        if config is not None and hparams:
            raise ValueError("give either config or keyword hyperparameters, not both")
        if config is None:
            config = config_lib.build(self.Config, {**self.default_hparams(env), **hparams})
        self.config = config
        self.env_spec = env
        self.seed = seed
        self.device = resolve_device(device)
        probe = envs.make_env(env)
        envs.check_env(probe)
        self.num_objectives = envs.reward_dim(probe)
        self.observation_space = probe.observation_space
        self.action_space = probe.action_space
        self.archive = ParetoArchive(self.num_objectives)
        self.num_timesteps = 0

    @classmethod
    def default_hparams(cls, env: envs.EnvSpec) -> dict[str, Any]:
        """Per-env hyperparameter presets (e.g. from a paper's scripts); user values override them."""
        return {}

    @abc.abstractmethod
    def learn(
        self,
        total_timesteps: int,
        callback: Callback | None = None,
        progress_bar: bool = True,
        run: Run | None = None,
    ) -> ParetoArchive:
        """Train for ``total_timesteps`` env transitions (all vector envs counted); return the archive."""

    @abc.abstractmethod
    def predict(self, obs: np.ndarray, preference: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Actions for a batch of observations under ``preference``."""

    def entry_actor(self, entry_id: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """A policy ``(obs, preference) -> actions`` acting with archive entry ``entry_id`` itself.

        ``predict`` picks the best entry for a preference; this re-rolls one given entry, which
        is what re-measuring a stored value vector needs.
        """
        raise NotImplementedError(f"{type(self).__name__} does not expose individual archive policies")

    @abc.abstractmethod
    def _adopt_archive(self, archive: ParetoArchive) -> None:
        """Take over a loaded archive whose policies are tensor dicts (rebuild the networks)."""

    def save(self, path: str | os.PathLike) -> None:
        """Write ``agent.json`` (algorithm, env, seed, hyperparameters) and ``archive/`` (safetensors)."""
        root = Path(path)
        self.archive.save(root / "archive")
        record = {
            "format": AGENT_FORMAT,
            "algo": self.name,
            "env": self.env_spec if isinstance(self.env_spec, str) else envs.env_name(self.env_spec),
            "seed": self.seed,
            "hparams": config_lib.to_dict(self.config),
            "num_timesteps": self.num_timesteps,
        }
        storage.atomic_write_json(root / AGENT_FILE, record)

    @classmethod
    def load(cls, path: str | os.PathLike, env: envs.EnvSpec | None = None, device: str = "auto") -> Self:
        """Rebuild an agent written by :meth:`save`; never unpickles. Pass ``env`` for a non-id env."""
        root = Path(path)
        record = storage.read_json(root / AGENT_FILE, f"agent at {root}")
        if not isinstance(record, dict) or record.get("format") != AGENT_FORMAT or record.get("algo") != cls.name:
            raise storage.FormatError(f"agent at {root}: {AGENT_FILE} is not a saved '{cls.name}' agent")
        agent = cls(
            env if env is not None else record["env"],
            seed=record["seed"],
            device=device,
            config=config_lib.build(cls.Config, record["hparams"]),
        )
        agent.num_timesteps = int(record.get("num_timesteps", 0))
        agent._adopt_archive(ParetoArchive.load(root / "archive"))
        return agent
