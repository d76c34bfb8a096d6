"""Treasure corridor: a tiny two-objective env whose Pareto front is known exactly.

The agent walks along a corridor of cells, each holding a treasure. At every step it either
moves one cell further (costing one unit of time) or digs up the treasure of its cell, which
ends the episode. Return = (treasure value, -steps taken including the dig). With treasure
values ``v`` the undiscounted Pareto front is ``{(v[i], -(i + 1))}`` for every cell whose
treasure beats all the cells before it. The default values put cell 2 in a concave part of
the front, so linear scalarisation cannot reach it, as in deep-sea-treasure but in 5 cells.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

DEFAULT_TREASURES = (1.0, 3.0, 4.0, 7.0, 8.0)
MOVE, DIG = 0, 1


class TreasureCorridor(gym.Env):
    """Corridor of treasures; actions: 0 = move on, 1 = dig (ends the episode).

    Observation: one-hot position (float32). Reward: ``[treasure, -1]`` on a dig,
    ``[0, -1]`` on a move; at the last cell a move digs. Objectives: treasure, time.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, treasures: tuple[float, ...] = DEFAULT_TREASURES) -> None:
        if len(treasures) < 1:
            raise ValueError("treasures must hold at least one value")
        self.treasures = np.asarray(treasures, dtype=np.float32)
        n = len(self.treasures)
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(n,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        low = np.array([min(0.0, float(self.treasures.min())), -1.0], dtype=np.float32)
        high = np.array([max(0.0, float(self.treasures.max())), -1.0], dtype=np.float32)
        self.reward_space = gym.spaces.Box(low, high, shape=(2,), dtype=np.float32)
        self.reward_dim = 2
        self._position = 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(len(self.treasures), dtype=np.float32)
        obs[self._position] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._position = 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, np.ndarray, bool, bool, dict]:
        dig = int(action) == DIG or self._position == len(self.treasures) - 1
        reward = np.array([0.0, -1.0], dtype=np.float32)
        if dig:
            reward[0] = self.treasures[self._position]
        else:
            self._position += 1
        return self._obs(), reward, dig, False, {}

    def pareto_front(self, gamma: float = 1.0) -> np.ndarray:
        """Exact front of (discounted) returns: dig at cell i after i moves."""
        points = []
        for i, value in enumerate(self.treasures):
            discount = gamma**i
            time = -sum(gamma**k for k in range(i + 1))
            points.append((float(value) * discount, time))
        points_arr = np.asarray(points)
        keep = [not np.any(np.all(points_arr >= p, axis=1) & np.any(points_arr > p, axis=1)) for p in points_arr]
        return points_arr[np.asarray(keep)]
