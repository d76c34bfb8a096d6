"""MOMAland's beach with a fixed start, and the exact Pareto front of a small team task by exhaustive search.

MOMAland's beach (``momaland.envs.beach.beach.MOBeachDomain``) draws every agent's type and start section at
random on each ``reset``, so its front changes from episode to episode. :class:`FixedStartBeach` is the same env
(same ``step``, same rewards) with the types and start sections given instead of drawn. :func:`exhaustive_front`
steps a deterministic env through every joint open-loop plan and returns the front of the team returns, one plan
reaching each point and which points linear scalarisation can reach (:func:`morl.points.supported_mask`).

Why open-loop plans are enough: with a fixed start and deterministic transitions, any deterministic policy,
decentralised or not, produces one trajectory, i.e. one joint plan; and every joint plan is produced by some
decentralised policy here, since each agent may condition on its id and its history (MO-MIX's agents see both).
So the returns of all joint plans are exactly the returns of all deterministic team policies. Stochastic policies
add convex combinations in expectation (which dominate the unsupported points); the front here is that of
deterministic policies, which is what greedy evaluation measures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
from gymnasium.utils import EzPickle
from momaland.envs.beach.beach import MOBeachDomain

from morl.multiagent.env import MultiAgentEnv
from morl.points import non_dominated_mask, supported_mask


class FixedStartBeach(MOBeachDomain):
    """MOMAland's beach (``mobeach_v0``) whose agent types and start sections are given, not drawn.

    Only ``_init_state`` is replaced; ``step``, observations and rewards are MOMAland's. ``reset(seed)`` still
    re-seeds the global generators as MOMAland does, but nothing here draws from them.

    Args:
        types: one type index per agent; fixes ``num_agents``. Each must be below ``len(type_distribution)``
            (MOMAland counts types by that length; the weights themselves are then unused).
        positions: one start section per agent, each in ``[0, sections)``.
        **kwargs: MOMAland's ``MOBeachDomain`` arguments (``sections``, ``capacity``, ``num_timesteps``,
            ``reward_mode``, ``type_distribution``, ...); ``num_agents`` may be given only if it equals
            ``len(types)``, and ``position_distribution`` not at all.
    """

    def __init__(self, types: Sequence[int], positions: Sequence[int], **kwargs: Any) -> None:
        types_, positions_ = [int(t) for t in types], [int(p) for p in positions]
        if not types_ or len(types_) != len(positions_):
            raise ValueError(
                f"types and positions must be non-empty and of equal length (one per agent), got {len(types_)} "
                f"types and {len(positions_)} positions"
            )
        n_types = len(kwargs.get("type_distribution", (0.3, 0.7)))
        if any(not 0 <= t < n_types for t in types_):
            raise ValueError(f"types must be in [0, {n_types}) (len(type_distribution)), got {types_}")
        sections = int(kwargs.get("sections", 6))
        if any(not 0 <= p < sections for p in positions_):
            raise ValueError(f"positions must be sections in [0, {sections}), got {positions_}")
        if kwargs.get("num_agents", len(types_)) != len(types_):
            raise ValueError(f"num_agents={kwargs['num_agents']} contradicts the {len(types_)} types given")
        if kwargs.get("position_distribution") is not None:
            raise ValueError("position_distribution is not used: positions gives every agent's start section")
        kwargs.pop("num_agents", None)
        self._fixed_types, self._fixed_positions = types_, positions_  # read by _init_state in super().__init__
        super().__init__(num_agents=len(types_), **kwargs)
        EzPickle.__init__(self, types_, positions_, **kwargs)  # MOMAland's call recorded its own signature

    def _init_state(self) -> tuple[list[int], list[int]]:
        return list(self._fixed_types), list(self._fixed_positions)


@dataclass(frozen=True)
class ExactFront:
    """What :func:`exhaustive_front` found.

    Attributes:
        front: (k, m) non-dominated team returns (undiscounted), sorted by the first objective.
        plans: (k, horizon, n_agents) action indices: a joint plan reaching each front point.
        supported: (k,) True where some linear scalarisation ``w . r`` (w on the simplex) is maximised by the point.
        n_plans: joint plans stepped.
    """

    front: np.ndarray
    plans: np.ndarray
    supported: np.ndarray
    n_plans: int

    @property
    def unsupported(self) -> np.ndarray:
        """(u, m) front points no linear scalarisation reaches."""
        return self.front[~self.supported]


def exhaustive_front(env: MultiAgentEnv, horizon: int, *, max_plans: int = 1_000_000) -> ExactFront:
    """Exact front of a deterministic team task: step ``env`` through every joint plan of ``horizon`` steps.

    Each plan is one episode from ``env.reset()``; the episode must end exactly after ``horizon`` steps. The env
    must be deterministic (fixed start, deterministic transitions); the plans of the front are replayed once to
    catch an env that is not. Costs ``prod(n_actions_per_agent) ** horizon`` episodes.

    Raises:
        ValueError: ``horizon`` < 1, more than ``max_plans`` plans, an episode that ends before or after
            ``horizon`` steps, or a front plan whose replay returns something else (a random env).
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    choices = [range(n) for n in env.n_actions_per_agent] * horizon
    n_plans = int(np.prod([len(c) for c in choices], dtype=object))
    if n_plans > max_plans:
        raise ValueError(f"{n_plans} joint plans exceed max_plans={max_plans}; pick a smaller task or raise it")
    plans = np.zeros((n_plans, horizon, env.num_agents), dtype=np.int64)  # (P, T, N)
    returns = np.zeros((n_plans, env.reward_dim))  # (P, m)
    for i, flat in enumerate(product(*choices)):
        plans[i] = np.reshape(flat, (horizon, env.num_agents))
        returns[i] = _play(env, plans[i])
    keep = np.flatnonzero(non_dominated_mask(returns))
    keep = keep[np.lexsort(returns[keep].T[::-1])]  # by the first objective, then the next
    for i in keep:
        again = _play(env, plans[i])
        if not np.array_equal(again, returns[i]):
            raise ValueError(
                f"plan {plans[i].tolist()} returned {returns[i].tolist()} then {again.tolist()}: the env is not "
                "deterministic (a random start or random transitions), so it has no front of joint plans"
            )
    front = returns[keep]
    return ExactFront(front=front, plans=plans[keep], supported=supported_mask(front), n_plans=n_plans)


def _play(env: MultiAgentEnv, plan: np.ndarray) -> np.ndarray:
    """Undiscounted team return of one episode of the joint ``plan`` (T, N)."""
    env.reset()
    total = np.zeros(env.reward_dim)
    for t, actions in enumerate(plan):
        _, _, reward, done, _ = env.step(actions)
        total += reward
        if done != (t == len(plan) - 1):
            ended = f"ended after {t + 1} steps" if done else f"had not ended after {len(plan)} steps"
            raise ValueError(f"the episode {ended}; horizon must be the episode length")
    return total
