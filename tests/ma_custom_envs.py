"""User-style multi-agent envs for tests/test_multiagent_custom.py, importable as ``tests.ma_custom_envs:factory``.

``TwoSwitches``: two agents each pick 0 or 1 every step for 2 steps; the team earns ``(a0 + a1, 2 - a0 - a1) / 2``
per agent per step, so the team (mean) returns lie on the line x + y = 2 from (0, 2) to (2, 0). It has a global
``state()`` and derives from PettingZoo's ``ParallelEnv`` like MOMAland envs. The broken variants each break one
clause of the contract ``morl check-env`` checks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.spaces import Box, Discrete
from pettingzoo.utils.env import ParallelEnv

HORIZON = 2


class TwoSwitches(ParallelEnv):
    """A cooperative two-agent parallel env with reward vectors of 2 objectives."""

    metadata = {"name": "two_switches_v0"}  # noqa: RUF012

    def __init__(self, horizon: int = HORIZON) -> None:
        self.possible_agents = ["left", "right"]
        self.agents: list[str] = []
        self.horizon, self.t = horizon, 0

    def observation_space(self, agent: str) -> Box:
        return Box(0.0, float(self.horizon), shape=(1,), dtype=np.float32)

    def action_space(self, agent: str) -> Discrete:
        return Discrete(2)

    def reward_space(self, agent: str) -> Box:
        return Box(0.0, 1.0, shape=(2,), dtype=np.float32)

    def state(self) -> np.ndarray:
        return np.array([self.t, self.horizon - self.t], dtype=np.float32)

    def _obs(self) -> dict[str, np.ndarray]:
        return {a: np.array([self.t], dtype=np.float32) for a in self.agents}

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        self.agents, self.t = list(self.possible_agents), 0
        return self._obs(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, int]) -> tuple[dict, dict, dict, dict, dict]:
        self.t += 1
        share = sum(int(a) for a in actions.values()) / 2.0
        rewards = {a: self._reward(share) for a in self.agents}
        ended = self.t >= self.horizon
        terminations = {a: ended for a in self.agents}
        truncations = {a: False for a in self.agents}
        obs, infos = self._obs(), {a: {} for a in self.agents}
        if ended:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def _reward(self, share: float) -> Any:
        return np.array([share, 1.0 - share], dtype=np.float32)


def factory(**kwargs: Any) -> TwoSwitches:
    """What a user passes as ``--env tests.ma_custom_envs:factory`` (a function, not the class)."""
    return TwoSwitches(**kwargs)


class ScalarRewards(TwoSwitches):
    def _reward(self, share: float) -> Any:
        return float(share)


class NoRewardSpace(TwoSwitches):
    reward_space = None  # type: ignore[assignment]


class WrongShape(TwoSwitches):
    def _reward(self, share: float) -> Any:
        return np.array([share, 1.0 - share, 0.0], dtype=np.float32)


def scalar_rewards() -> ScalarRewards:
    return ScalarRewards()


def no_reward_space() -> NoRewardSpace:
    return NoRewardSpace()


def wrong_shape() -> WrongShape:
    return WrongShape()


class Penalised(TwoSwitches):
    """Rewards ``(share, share - 1)`` in [-1, 1]: the derived reference point must use the horizon."""

    def reward_space(self, agent: str) -> Box:
        return Box(-1.0, 1.0, shape=(2,), dtype=np.float32)

    def _reward(self, share: float) -> Any:
        return np.array([share, share - 1.0], dtype=np.float32)


def penalised() -> Penalised:
    return Penalised()


class EmptyStateAtEnd(TwoSwitches):
    """Like MOMAland's mobeach_v0: ``state()`` is empty once the episode is over."""

    def state(self) -> np.ndarray:
        return np.zeros(0, dtype=np.float32) if self.t >= self.horizon else super().state()
