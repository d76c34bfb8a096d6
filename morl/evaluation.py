"""Roll out a policy for a preference on a vector env and measure its value vector.

The value vector of a solution is the mean episode return per objective. Both the raw
(undiscounted) and the discounted return are reported: fronts, hypervolume and known true
fronts use the raw return; training objectives use the discounted one.
"""

from __future__ import annotations

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
    """Accept a callable ``policy(obs, w)`` or an agent with ``predict(obs, preference, deterministic)``."""
    if hasattr(policy, "predict"):
        return lambda obs, w: policy.predict(obs, w, deterministic=True)
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
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    m = int(env.reward_space.shape[-1])
    w = preferences.validate(preference, m)
    act = as_policy(policy)
    n = env.num_envs
    quota = np.full(n, episodes // n) + (np.arange(n) < episodes % n)
    obs, _ = env.reset(seed=seed)
    running = np.zeros((n, m))
    running_disc = np.zeros((n, m))
    discount = np.ones(n)
    length = np.zeros(n, dtype=np.int64)
    resetting = np.zeros(n, dtype=bool)
    returns, disc_returns, lengths = [], [], []
    done_count = np.zeros(n, dtype=np.int64)
    for _ in range(max_steps):
        with torch.no_grad():
            actions = act(obs, w)
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
                returns.append(running[i].copy())
                disc_returns.append(running_disc[i].copy())
                lengths.append(length[i])
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
    raw = np.asarray(returns)
    disc = np.asarray(disc_returns)
    return EvaluationResult(raw.mean(axis=0), disc.mean(axis=0), raw, disc, float(np.mean(lengths)))
