"""Offline multi-objective datasets: logged episodes with a reward vector per step.

A :class:`Dataset` is what offline agents (OPPO) learn from and what :func:`morl.tasks.make`
turns into an ``offline`` task. Collecting datasets and their Minari (HDF5) round trip build on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np


@dataclass
class Dataset:
    """Logged transitions of whole episodes, flat over time: row ``t`` is one step.

    Attributes:
        name: printable name (run directories, reports).
        observations: (N, ...) observations the actions were taken in.
        actions: (N, ...) actions taken.
        rewards: (N, m) reward vectors.
        terminals, truncations: (N,) bool; every episode ends with one of them set.
        observation_space, action_space: the spaces of the env the data comes from.
        env_id: the env to evaluate policies in (None: the dataset can train but not be rolled out).
        env_kwargs: keyword arguments that env was built with.
    """

    name: str
    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminals: np.ndarray
    truncations: np.ndarray
    observation_space: gym.Space
    action_space: gym.Space
    env_id: str | None = None
    env_kwargs: dict | None = None

    def __post_init__(self) -> None:
        self.rewards = np.asarray(self.rewards, dtype=np.float64)
        n = len(self.rewards)
        if self.rewards.ndim != 2 or self.rewards.shape[1] < 1:
            raise ValueError(f"dataset {self.name!r}: rewards must have shape (N, m), got {self.rewards.shape}")
        if not np.all(np.isfinite(self.rewards)):
            raise ValueError(f"dataset {self.name!r}: rewards contain NaN or infinite values")
        self.terminals = np.asarray(self.terminals, dtype=bool)
        self.truncations = np.asarray(self.truncations, dtype=bool)
        for field_name in ("observations", "actions", "terminals", "truncations"):
            if len(getattr(self, field_name)) != n:
                raise ValueError(
                    f"dataset {self.name!r}: {field_name} has {len(getattr(self, field_name))} rows, rewards have {n}"
                )
        if n == 0 or not (self.terminals[-1] or self.truncations[-1]):
            raise ValueError(f"dataset {self.name!r}: its last step must end an episode (terminal or truncated)")

    @property
    def num_objectives(self) -> int:
        return int(self.rewards.shape[1])

    @property
    def episode_ends(self) -> np.ndarray:
        """Index of the last step of every episode, in order."""
        return np.flatnonzero(self.terminals | self.truncations)

    def episode_returns(self) -> np.ndarray:
        """Undiscounted return vector of every episode, (episodes, m)."""
        totals = np.cumsum(self.rewards, axis=0)[self.episode_ends]
        return np.diff(totals, axis=0, prepend=np.zeros((1, self.num_objectives)))
