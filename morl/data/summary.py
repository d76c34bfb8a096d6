"""What a dataset holds, in numbers: episodes, steps, its own front and that front's hypervolume.

``morl data info`` prints it; the benchmark records it beside every dataset it collects, so a
report can set an offline agent's hypervolume against the behaviour data's (PEDA's tables).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class DatasetSummary:
    """A dataset's size and front.

    Attributes:
        name, env_id, env_kwargs: as stored with the data.
        episodes, steps, num_objectives: its size.
        has_preferences: whether the behaviour's preference is logged per step.
        ref_point, ref_source: the env's reference point (or the one given) and where it comes from.
        front: (k, m) the non-dominated undiscounted episode returns, sorted lexicographically.
        hypervolume: of ``front`` at ``ref_point``.
    """

    name: str
    env_id: str | None
    env_kwargs: dict[str, Any]
    episodes: int
    steps: int
    num_objectives: int
    has_preferences: bool
    ref_point: np.ndarray
    ref_source: str
    front: np.ndarray
    hypervolume: float

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types (lists for the arrays)."""
        return {
            "name": self.name, "env_id": self.env_id, "env_kwargs": self.env_kwargs, "episodes": self.episodes,
            "steps": self.steps, "num_objectives": self.num_objectives, "has_preferences": self.has_preferences,
            "ref_point": self.ref_point.tolist(), "ref_source": self.ref_source, "front": self.front.tolist(),
            "hypervolume": self.hypervolume,
        }  # fmt: skip


def summarize(dataset: Any, ref_point: np.ndarray | list | None = None) -> DatasetSummary:
    """Summarise a :class:`morl.data.Dataset`, its front scored at its env's reference point (or ``ref_point``)."""
    from morl import metrics, tasks

    task = tasks.make(dataset, ref_point=ref_point)
    front = dataset.front()
    front = front[np.lexsort(front.T[::-1])]  # (k, m)
    return DatasetSummary(
        name=dataset.name,
        env_id=dataset.env_id,
        env_kwargs=dict(dataset.env_kwargs or {}),
        episodes=dataset.num_episodes,
        steps=len(dataset.rewards),
        num_objectives=dataset.num_objectives,
        has_preferences=dataset.preferences is not None,
        ref_point=np.asarray(task.ref_point, dtype=np.float64),
        ref_source=task.ref_source,
        front=front,
        hypervolume=float(metrics.hypervolume(front, task.ref_point)),
    )
