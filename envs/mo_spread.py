"""Cooperative spread with two objectives: MPE's ``simple_spread`` (``mpe2``) returning [coverage, -collisions].

``simple_spread`` mixes a team reward (minus the summed distance from each landmark to its closest agent) and a
per-agent collision penalty into one scalar through ``local_ratio``. Here the two are kept apart as a team reward
vector, the same for every agent, so the trade-off ``local_ratio`` hides becomes a Pareto front: rushing to the
landmarks covers them sooner but bumps agents into each other. This is close to the MPE setting of MO-MIX's paper
(research/momix.md §5.2), though not confirmed to be its design; its front is not known.

``mpe2`` is imported only when the env is built, so ``morl`` does not need it otherwise (extra ``mpe``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces


class MOSpread:
    """PettingZoo *parallel* env: N agents cover N landmarks; Discrete(5) actions; reward [coverage, -collisions].

    Per step and for every agent: ``coverage = -sum_l min_i |p_i - l|`` (MPE's ``global_reward``) and
    ``collisions`` = the number of agent pairs in contact. Episodes last ``max_cycles`` steps.
    """

    metadata: ClassVar[dict[str, Any]] = {"name": "mo_spread_v0", "render_modes": []}

    def __init__(self, N: int = 3, max_cycles: int = 25) -> None:
        try:
            from mpe2 import simple_spread_v3
        except ImportError as err:
            raise ImportError(f"mo_spread needs mpe2 ({err}): pip install 'morl[mpe]' or pip install mpe2") from None
        if N < 2 or max_cycles < 1:
            raise ValueError(f"mo_spread needs N >= 2 agents and max_cycles >= 1, got N={N}, max_cycles={max_cycles}")
        self._env = simple_spread_v3.parallel_env(N=N, max_cycles=max_cycles, continuous_actions=False)
        self._raw = self._env.unwrapped
        self.possible_agents = list(self._env.possible_agents)
        # pairs in contact per step is at most N (N - 1) / 2; coverage has no finite bound (agents may wander off)
        low = np.array([-np.inf, -N * (N - 1) / 2], dtype=np.float32)
        self._reward_space = spaces.Box(low, np.zeros(2, dtype=np.float32), dtype=np.float32)

    @property
    def agents(self) -> list[str]:
        return self._env.agents

    def observation_space(self, agent: str) -> spaces.Space:
        return self._env.observation_space(agent)

    def action_space(self, agent: str) -> spaces.Space:
        return self._env.action_space(agent)

    def reward_space(self, agent: str) -> spaces.Box:
        return self._reward_space

    def state(self) -> np.ndarray:
        return self._env.state()

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        return self._env.reset(seed=seed, options=options)

    def _reward(self) -> np.ndarray:
        world, scenario = self._raw.world, self._raw.scenario
        agents = world.agents
        collisions = sum(scenario.is_collision(a, b) for i, a in enumerate(agents) for b in agents[i + 1 :])
        return np.array([scenario.global_reward(world), -float(collisions)], dtype=np.float32)

    def step(self, actions: dict[str, int]) -> tuple[dict, dict, dict, dict, dict]:
        obs, scalar, terminations, truncations, infos = self._env.step(actions)
        reward = self._reward()
        return obs, {agent: reward.copy() for agent in scalar}, terminations, truncations, infos

    def close(self) -> None:
        self._env.close()


def parallel_env(**kwargs: Any) -> MOSpread:
    """MOMAland-style constructor (what the multi-agent registry calls)."""
    return MOSpread(**kwargs)
