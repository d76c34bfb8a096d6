"""Collect a :class:`~morl.data.Dataset` by rolling a behaviour out in an env, one preference per episode.

Preferences come from D4MORL's distributions (:func:`morl.preferences.sample`). *Expert* data
takes the behaviour's actions as they are; *amateur* data perturbs them as D4MORL does
(research/oppo.md §3.1): continuous actions are kept with probability ``keep`` and otherwise
scaled by U(0.35, 1.65) and clipped; discrete actions are replaced by a uniform random one with
probability ``1 - keep``.
"""

from __future__ import annotations

from typing import Any, Literal

import gymnasium as gym
import numpy as np

from morl import envs, preferences
from morl.data.behaviour import Behaviour

Mode = Literal["expert", "amateur"]
AMATEUR_KEEP = 0.35  # D4MORL: the behaviour's own action with probability 0.35
AMATEUR_SCALE = (0.35, 1.65)


def _perturb(actions: np.ndarray, space: gym.Space, keep: float, rng: np.random.Generator) -> np.ndarray:
    """D4MORL's amateur actions: the given ones with probability ``keep``, else scaled (Box) or random (Discrete)."""
    changed = rng.uniform(size=len(actions)) >= keep  # (B,)
    if isinstance(space, gym.spaces.Discrete):
        random = rng.integers(space.start, space.start + space.n, size=len(actions))
        return np.where(changed, random, actions)
    scale = rng.uniform(*AMATEUR_SCALE, size=(len(actions), 1))
    scaled = np.clip(actions * scale.reshape(-1, *[1] * (actions.ndim - 1)), space.low, space.high)
    return np.where(changed.reshape(-1, *[1] * (actions.ndim - 1)), scaled, actions).astype(actions.dtype)


def collect(
    env_id: str,
    behaviour: Behaviour,
    episodes: int,
    *,
    distribution: str = "uniform",
    mode: Mode = "expert",
    keep: float = AMATEUR_KEEP,
    seed: int = 0,
    num_envs: int = 8,
    name: str | None = None,
    env_kwargs: dict[str, Any] | None = None,
) -> Any:
    """Roll ``behaviour`` out for ``episodes`` whole episodes of ``env_id`` and return them as a Dataset.

    Episode ``k`` acts for the ``k``-th preference drawn from ``distribution`` (seeded), whichever
    sub-env runs it, so the data do not depend on ``num_envs``'s scheduling but only on the seed.
    Returns a :class:`morl.data.Dataset` with the behaviour preference of every step.
    """
    from morl.data import Dataset

    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if mode not in ("expert", "amateur"):
        raise ValueError(f"mode must be 'expert' or 'amateur', got {mode!r}")
    kwargs = dict(env_kwargs or {})
    num_envs = max(1, min(num_envs, episodes))
    vec = envs.make(env_id, num_envs=num_envs, **kwargs)
    m = envs.reward_dim(vec)
    rng = np.random.default_rng(seed)
    prefs = preferences.sample(distribution, episodes, m, rng) if m > 1 else np.ones((episodes, 1))  # (E, m)
    quota = np.full(num_envs, episodes // num_envs) + (np.arange(num_envs) < episodes % num_envs)
    first = np.concatenate([[0], np.cumsum(quota)[:-1]])  # sub-env i runs episodes first[i] .. first[i] + quota[i] - 1
    done_count = np.zeros(num_envs, dtype=np.int64)
    logs: list[dict[str, list]] = [{} for _ in range(episodes)]
    obs, _ = vec.reset(seed=[seed + i for i in range(num_envs)])
    resetting = np.zeros(num_envs, dtype=bool)
    space = vec.single_action_space
    try:
        while np.any(done_count < quota):
            live = ~resetting & (done_count < quota)
            episode = np.minimum(first + done_count, episodes - 1)  # (N,)
            actions = np.asarray(behaviour(obs, prefs[episode]))
            if mode == "amateur":
                actions = _perturb(actions, space, keep, rng)
            next_obs, reward, terminated, truncated, _ = vec.step(actions)
            reward = np.asarray(reward, dtype=np.float64).reshape(num_envs, m)
            for i in np.flatnonzero(live):
                log = logs[episode[i]]
                for key, value in (("obs", obs[i]), ("act", actions[i]), ("rew", reward[i]),
                                   ("term", terminated[i]), ("trunc", truncated[i])):  # fmt: skip
                    log.setdefault(key, []).append(np.asarray(value))
                if terminated[i] or truncated[i]:
                    log["final"] = [np.asarray(next_obs[i])]
                    done_count[i] += 1
            resetting = np.asarray(terminated) | np.asarray(truncated)
            obs = next_obs
    finally:
        vec.close()
    rows = [len(log["rew"]) for log in logs]
    return Dataset(
        name=name or f"{env_id}-{mode}-{distribution}-{episodes}",
        observations=np.concatenate([np.stack(log["obs"]) for log in logs]),
        actions=np.concatenate([np.stack(log["act"]) for log in logs]),
        rewards=np.concatenate([np.stack(log["rew"]) for log in logs]),
        terminals=np.concatenate([np.stack(log["term"]) for log in logs]),
        truncations=np.concatenate([np.stack(log["trunc"]) for log in logs]),
        observation_space=vec.single_observation_space,
        action_space=space,
        env_id=env_id,
        env_kwargs=kwargs,
        preferences=np.repeat(prefs, rows, axis=0),
        final_observations=np.stack([log["final"][0] for log in logs]),
    )
