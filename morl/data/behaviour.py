"""Behaviour policies that datasets are collected from: random, scripted families, a saved run's archive.

A behaviour maps a batch of observations and one preference per row to a batch of actions:
``behaviour(obs (B, ...), preferences (B, m)) -> actions (B, ...)``. Scripted families give small
envs a known spread of trade-offs without training anything (research/oppo.md §4.3).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from morl import envs

Behaviour = Callable[[np.ndarray, np.ndarray], np.ndarray]


def random_behaviour(action_space: gym.Space, seed: int = 0) -> Behaviour:
    """Uniform random actions whatever the preference (D4MORL-style "random" data)."""
    space = action_space
    rng = np.random.default_rng(seed)

    def act(obs: np.ndarray, prefs: np.ndarray) -> np.ndarray:
        if isinstance(space, gym.spaces.Discrete):
            return rng.integers(space.start, space.start + space.n, size=len(prefs))
        low, high = np.broadcast_to(space.low, space.shape), np.broadcast_to(space.high, space.shape)
        return rng.uniform(low, high, size=(len(prefs), *space.shape)).astype(space.dtype)

    return act


def deep_sea_treasure(env: gym.Env) -> Behaviour:
    """Shortest path to the treasure of best linear utility ``w . (treasure, -steps)``: DST's whole convex front.

    Reads the treasure map of MO-Gymnasium's ``DeepSeaTreasure``; the submarine moves right along
    the surface to the treasure's column, then down (every such path is a shortest one).
    """
    sea = np.asarray(env.unwrapped.sea_map)
    rows, cols = np.nonzero(sea > 0)
    treasures = np.stack([sea[rows, cols], -(rows + cols).astype(np.float64)], axis=1)  # (k, 2) returns

    def act(obs: np.ndarray, prefs: np.ndarray) -> np.ndarray:
        target = np.argmax(prefs @ treasures.T, axis=1)  # (B,)
        col = np.asarray(obs).reshape(len(prefs), -1)[:, 1]
        return np.where(col < cols[target], 3, 1)  # 3 = right, 1 = down

    return act


def mountain_car_bang(c_min: float = 0.2, c_max: float = 1.0) -> Behaviour:
    """``a = c * sign(velocity)`` with ``c = c_min + (c_max - c_min) * w_time``: faster runs cost more energy.

    The family spans (-333, -13) at c = 0.2 to (-105, -106) at c = 1 on mo-mountaincarcontinuous-v0
    (research/oppo.md §4.3).
    """

    def act(obs: np.ndarray, prefs: np.ndarray) -> np.ndarray:
        c = c_min + (c_max - c_min) * prefs[:, 0]
        velocity = np.asarray(obs).reshape(len(prefs), -1)[:, 1]
        return (np.where(velocity >= 0, c, -c)[:, None]).astype(np.float32)

    return act


SCRIPTED: dict[str, Callable[[gym.Env], Behaviour]] = {
    "deep-sea-treasure-v0": deep_sea_treasure,
    "mo-mountaincarcontinuous-v0": lambda env: mountain_car_bang(),
}


def scripted(env_id: str, env: gym.Env) -> Behaviour:
    """The scripted family of ``env_id``; other envs fail in one line naming those that have one."""
    if env_id not in SCRIPTED:
        raise ValueError(f"no scripted behaviour family for {env_id!r}; families exist for {', '.join(SCRIPTED)}")
    return SCRIPTED[env_id](env)


def archive_behaviour(run_dir: str | os.PathLike, device: str = "cpu") -> Behaviour:
    """Act for each row's preference with the run's archive entry of best linear utility (``entry_for``).

    Rows that pick the same entry are acted on in one batch. D4MORL serves each sampled preference
    by its closest behaviour policy in the same way.
    """
    from morl import agents, runs

    run = runs.load_run(Path(run_dir))
    algo = run.config["algo"]
    if algo not in agents.REGISTRY or not (run.path / "agent.json").exists():
        raise ValueError(f"{run.path} holds no loadable '{algo}' agent to collect data with")
    agent = agents.get(algo).load(run.path, device=device)
    predictors: dict[int, Any] = {}

    def act(obs: np.ndarray, prefs: np.ndarray) -> np.ndarray:
        chosen = np.array([agent.archive.entry_for(w).id for w in prefs])
        out: np.ndarray | None = None
        for entry_id in np.unique(chosen):
            rows = np.flatnonzero(chosen == entry_id)
            predict = predictors.setdefault(int(entry_id), agent.entry_predictor(int(entry_id)))
            actions = np.asarray(predict(np.asarray(obs)[rows], prefs[rows[0]], deterministic=True)[0])
            if out is None:
                out = np.zeros((len(prefs), *actions.shape[1:]), dtype=actions.dtype)
            out[rows] = actions
        return out

    return act


def resolve(spec: str, env_id: str, seed: int = 0, device: str = "cpu", **env_kwargs: Any) -> Behaviour:
    """A behaviour by name: ``random``, ``scripted`` (the env's family) or ``run:DIR`` (a saved run's archive)."""
    if spec.startswith("run:"):
        return archive_behaviour(spec[4:], device)
    env = envs.make_env(env_id, **env_kwargs)
    try:
        if spec == "random":
            return random_behaviour(env.action_space, seed)
        if spec == "scripted":
            return scripted(env_id, env)
    finally:
        env.close()
    raise ValueError(f"unknown behaviour {spec!r}; valid: random, scripted, run:RUN_DIR")
