"""Offline multi-objective datasets: logged episodes with a reward vector per step.

A :class:`Dataset` is what offline agents (OPPO) learn from and what :func:`morl.tasks.make`
turns into an ``offline`` task. :func:`collect` logs one from a behaviour (a policy, a saved run's
archive, a scripted family); :func:`save` / :func:`load` are its Minari (HDF5) round trip.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from morl.points import non_dominated


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
        preferences: (N, m) the behaviour's preference at every step (constant over an episode), or
            None when the behaviour had none. Only preference-aware baselines (BC(P), MORvS(P)) read it.
        final_observations: (episodes, ...) the observation each episode ended in, or None; Minari
            stores it (T + 1 observations per episode), and without it the last one is repeated.
        path: the absolute directory :func:`load` read it from, or None for data built in memory. A run
            trained on a loaded dataset records this path, so that ``morl eval`` and resume find it again.
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
    preferences: np.ndarray | None = None
    final_observations: np.ndarray | None = None
    path: str | None = field(default=None, compare=False)

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
        if self.preferences is not None:
            self.preferences = np.asarray(self.preferences, dtype=np.float64)
            if self.preferences.shape != self.rewards.shape:
                raise ValueError(f"dataset {self.name!r}: preferences must have shape {self.rewards.shape} "
                                 f"(one per step), got {self.preferences.shape}")  # fmt: skip
        if self.final_observations is not None and len(self.final_observations) != len(self.episode_ends):
            raise ValueError(f"dataset {self.name!r}: {len(self.final_observations)} final observations for "
                             f"{len(self.episode_ends)} episodes")  # fmt: skip

    @property
    def num_objectives(self) -> int:
        return int(self.rewards.shape[1])

    @property
    def episode_ends(self) -> np.ndarray:
        """Index of the last step of every episode, in order."""
        return np.flatnonzero(self.terminals | self.truncations)

    @property
    def num_episodes(self) -> int:
        return len(self.episode_ends)

    def episode_slices(self) -> list[slice]:
        """The rows of every episode, in order."""
        ends = self.episode_ends + 1
        return [slice(int(a), int(b)) for a, b in zip(np.concatenate([[0], ends[:-1]]), ends, strict=True)]

    def front(self) -> np.ndarray:
        """The dataset's own front: the non-dominated episode returns, (k, m)."""
        return non_dominated(self.episode_returns())

    def episode_returns(self) -> np.ndarray:
        """Undiscounted return vector of every episode, (episodes, m)."""
        totals = np.cumsum(self.rewards, axis=0)[self.episode_ends]
        return np.diff(totals, axis=0, prepend=np.zeros((1, self.num_objectives)))


from morl.data.collect import collect  # noqa: E402  (they build on Dataset)
from morl.data.store import is_dataset, load, save  # noqa: E402
from morl.data.summary import DatasetSummary, summarize  # noqa: E402

__all__ = ["Dataset", "DatasetSummary", "collect", "is_dataset", "load", "save", "summarize"]
