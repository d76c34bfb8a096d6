"""Roll out a policy for a preference on a vector env and measure its value vector.

The value vector of a solution is the mean episode return per objective. Both the raw
(undiscounted) and the discounted return are reported: fronts, hypervolume and known true
fronts use the raw return; training objectives use the discounted one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch

from morl import preferences


class Policy(Protocol):
    """Anything that maps a batch of observations and a preference to a batch of actions."""

    def __call__(self, obs: np.ndarray, preference: np.ndarray) -> np.ndarray: ...


@dataclass
class EvaluationResult:
    """Mean return vectors over ``episodes`` finished episodes, and their per-episode values."""

    mean_return: np.ndarray  # (m,) undiscounted
    mean_discounted_return: np.ndarray  # (m,)
    returns: np.ndarray  # (episodes, m)
    discounted_returns: np.ndarray  # (episodes, m)
    mean_length: float


def as_policy(policy: Any) -> Policy:
    """A callable ``policy(obs, w)``, or an agent whose ``predict(obs, preference, ...)`` returns (actions, state)."""
    if hasattr(policy, "predict"):
        return lambda obs, w: policy.predict(obs, w, deterministic=True)[0]
    if callable(policy):
        return policy
    raise TypeError(f"policy must be callable or have .predict, got {type(policy).__name__}")


def evaluate(
    policy: Any,
    env: gym.vector.VectorEnv,
    preference: np.ndarray | list,
    episodes: int = 5,
    gamma: float = 1.0,
    seed: int | None = None,
    max_steps: int = 100_000,
) -> EvaluationResult:
    """Run ``episodes`` complete episodes of ``policy`` for ``preference`` on a vector env.

    Each sub-env gets an equal share of the episodes, so short episodes are not favoured
    (taking the first ``episodes`` to finish would bias the mean towards them). Gymnasium's
    next-step autoreset is respected: the step that resets a finished sub-env is not counted.
    ``max_steps`` bounds the vector steps so a policy that never ends an episode fails loudly.
    """
    m = int(env.reward_space.shape[-1])
    w = preferences.validate(preference, m)
    act = as_policy(policy)
    return evaluate_groups(lambda obs: act(obs, w), env, 1, episodes, gamma, seed, max_steps)[0]


def evaluate_groups(
    act: Callable[[np.ndarray], np.ndarray],
    env: gym.vector.VectorEnv,
    groups: int,
    episodes: int = 5,
    gamma: float = 1.0,
    seed: int | None = None,
    max_steps: int = 100_000,
) -> list[EvaluationResult]:
    """:func:`evaluate` for ``groups`` policies at once, one result per group.

    The sub-envs are split into ``groups`` equal contiguous blocks and ``act`` maps the whole
    batch of observations to actions, block ``g`` being policy ``g``'s: one call per step for a
    batched population instead of one per policy.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    n = env.num_envs
    if groups < 1 or n % groups:
        raise ValueError(f"{n} sub-envs cannot be split into {groups} equal groups")
    m = int(env.reward_space.shape[-1])
    per_group = n // groups
    local = np.arange(n) % per_group
    quota = np.full(n, episodes // per_group) + (local < episodes % per_group)
    obs, _ = env.reset(seed=seed)
    running = np.zeros((n, m))
    running_disc = np.zeros((n, m))
    discount = np.ones(n)
    length = np.zeros(n, dtype=np.int64)
    resetting = np.zeros(n, dtype=bool)
    finished_episodes: list[list[tuple[np.ndarray, np.ndarray, int]]] = [[] for _ in range(groups)]
    done_count = np.zeros(n, dtype=np.int64)
    for _ in range(max_steps):
        with torch.no_grad():
            actions = act(obs)
        obs, reward, terminated, truncated, _ = env.step(actions)
        reward = np.asarray(reward, dtype=np.float64).reshape(n, m)
        live = ~resetting
        running[live] += reward[live]
        running_disc[live] += discount[live, None] * reward[live]
        discount[live] *= gamma
        length[live] += 1
        finished = live & (np.asarray(terminated) | np.asarray(truncated))
        for i in np.flatnonzero(finished):
            if done_count[i] < quota[i]:
                finished_episodes[i // per_group].append((running[i].copy(), running_disc[i].copy(), length[i]))
                done_count[i] += 1
        running[finished] = 0.0
        running_disc[finished] = 0.0
        discount[finished] = 1.0
        length[finished] = 0
        resetting = finished
        if np.all(done_count >= quota):
            break
    else:
        raise RuntimeError(f"evaluation did not finish {episodes} episodes within {max_steps} vector steps")
    results = []
    for group in finished_episodes:
        raw = np.asarray([e[0] for e in group])
        disc = np.asarray([e[1] for e in group])
        results.append(EvaluationResult(raw.mean(0), disc.mean(0), raw, disc, float(np.mean([e[2] for e in group]))))
    return results
