"""The contract a user's own multi-agent env keeps, checked in one place, with one-line errors.

A custom env (``--env module:factory``) is a MOMAland / PettingZoo *parallel* env whose agents each declare a
``reward_space(agent)`` Box of one shape (m,) and return reward vectors of that shape. :func:`check_env` is the
multi-agent twin of :func:`morl.envs.check_env`: ``morl check-env`` and training both run it, so a broken env
fails the same way, by name, before anything is trained.
"""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from morl.envs import EnvCheckError

_API = ("possible_agents", "reset", "step", "observation_space", "action_space")


def _parallel_base() -> type | None:
    try:
        from pettingzoo.utils.env import ParallelEnv
    except ImportError:  # PettingZoo is optional for single-agent users
        return None
    return ParallelEnv


def is_parallel_env_class(obj: Any) -> bool:
    """True for a class deriving from PettingZoo's ``ParallelEnv`` (MOMAland's ``MOParallelEnv`` does)."""
    base = _parallel_base()
    return base is not None and isinstance(obj, type) and issubclass(obj, base)


def is_multiagent_env(obj: Any) -> bool:
    """True for a built PettingZoo-style env (parallel, or AEC so that it is refused by name): it has agents."""
    if isinstance(obj, gym.Env):
        return False
    base = _parallel_base()
    return (base is not None and isinstance(obj, base)) or hasattr(obj, "possible_agents")


def env_label(env: Any) -> str:
    """The env's ``metadata["name"]``, else its class name (how errors name it)."""
    metadata = getattr(env, "metadata", None)
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return str(name or type(getattr(env, "unwrapped", env)).__name__)


def reward_shape(env: Any) -> tuple[int, ...]:
    """The one shape (m,) every agent's ``reward_space(agent)`` declares, or :class:`EnvCheckError` saying why not."""
    name = env_label(env)
    method = getattr(env, "reward_space", None)
    if not callable(method):
        raise EnvCheckError(
            f"{name} has no reward_space(agent): define it to return gymnasium.spaces.Box(low, high, shape=(m,)) "
            "for each agent (MOMAland convention)"
        )
    shapes: dict[str, tuple[int, ...]] = {}
    for agent in env.possible_agents:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # MOParallelEnv's fallback warns before reading a dict
                space = method(agent)
        except Exception as err:  # the env's own code: any failure is a broken contract
            raise EnvCheckError(f"{name}.reward_space({agent!r}) failed: {type(err).__name__}: {err}") from None
        if not isinstance(space, spaces.Box) or len(space.shape) != 1 or space.shape[0] < 1:
            raise EnvCheckError(f"{name}.reward_space({agent!r}) must be a 1-D gymnasium.spaces.Box, got {space!r}")
        shapes[agent] = space.shape
    if len(set(shapes.values())) > 1:
        raise EnvCheckError(
            f"{name}: every agent's reward_space must have the same shape (one team of m objectives), got {shapes}"
        )
    return next(iter(shapes.values()))


def _legal_action(space: spaces.Discrete, info: Any, rng: np.random.Generator) -> int:
    """A random action of ``space``, among those an ``action_mask`` in ``info`` allows."""
    mask = info.get("action_mask") if isinstance(info, dict) else None
    choices = np.arange(space.n) if mask is None else np.flatnonzero(np.asarray(mask).ravel())
    return int(space.start + (rng.choice(choices) if len(choices) else 0))


def _state_length(env: Any) -> int | None:
    """Length of ``env.state()``, or None where the env has none (the observations are then the state)."""
    try:
        state = env.state()
    except (NotImplementedError, AttributeError):
        return None
    return None if state is None else int(np.asarray(state).size)


def check_env(env: Any, steps: int = 50) -> None:
    """Raise :class:`~morl.envs.EnvCheckError` naming the first way ``env`` breaks the multi-agent contract.

    Checks: the PettingZoo parallel API (not AEC), at least one agent, ``reward_space(agent)`` a 1-D Box of the same
    shape for every agent, ``Discrete`` action spaces (value-based CTDE agents such as ``momix`` pick an index per
    agent), ``reset`` returning ``(obs dict, infos dict)``, ``step`` returning a 5-tuple whose rewards are finite
    vectors of the declared shape, and a ``state()`` of one length while the episode runs (an env without
    ``state()`` is fine: the concatenated observations stand in). The env is reset with seed 0 and stepped with
    random legal actions for up to ``steps`` steps.
    """
    name = env_label(env)
    for attr in _API:
        if not hasattr(env, attr):
            raise EnvCheckError(f"{name} is not a PettingZoo parallel env: it has no {attr!r}")
    if hasattr(env, "agent_selection") or hasattr(env, "last"):
        raise EnvCheckError(
            f"{name} is a PettingZoo AEC env; return a parallel env (`module.parallel_env(...)`, or "
            "pettingzoo.utils.aec_to_parallel(env))"
        )
    agents = list(env.possible_agents)
    if not agents:
        raise EnvCheckError(f"{name}.possible_agents is empty; a multi-agent env needs at least one agent")
    shape = reward_shape(env)
    for agent in agents:
        space = env.action_space(agent)
        if not isinstance(space, spaces.Discrete):
            raise EnvCheckError(
                f"{name}.action_space({agent!r}) is {space}; multi-agent agents (momix) need Discrete actions"
            )
    out = env.reset(seed=0)
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], dict) and isinstance(out[1], dict)):
        raise EnvCheckError(f"{name}.reset must return (observations dict, infos dict), got {out!r:.80}")
    infos = out[1]
    state_len = _state_length(env)
    rng = np.random.default_rng(0)
    for t in range(steps):
        live = list(getattr(env, "agents", agents))
        actions = {a: _legal_action(env.action_space(a), infos.get(a), rng) for a in live}
        result = env.step(actions)
        if not (isinstance(result, tuple) and len(result) == 5):
            got = f"{len(result)} items" if isinstance(result, tuple) else type(result).__name__
            raise EnvCheckError(
                f"{name}.step must return (observations, rewards, terminations, truncations, infos), got {got}"
            )
        _, rewards, flags_a, flags_b, infos = result
        if not isinstance(rewards, dict):
            got = type(rewards).__name__
            raise EnvCheckError(
                f"{name}.step returned rewards of type {got}; return a dict of reward vectors per agent"
            )
        for agent, reward in rewards.items():
            if np.ndim(reward) == 0:
                raise EnvCheckError(
                    f"{name}.step returned a scalar reward {reward!r} for agent {agent!r}; a multi-objective env "
                    f"returns a vector of shape {shape} (its reward_space)"
                )
            vec = np.asarray(reward, dtype=np.float64)
            if vec.shape != shape:
                raise EnvCheckError(
                    f"{name}.step returned a reward of shape {vec.shape} for agent {agent!r}; reward_space has {shape}"
                )
            if not np.all(np.isfinite(vec)):
                raise EnvCheckError(
                    f"{name}.step returned a non-finite reward {vec.tolist()} for agent {agent!r} at step {t}"
                )
        infos = infos if isinstance(infos, dict) else {}
        left = getattr(env, "agents", None)
        done = all(bool(flags_a.get(a, False)) or bool(flags_b.get(a, False)) for a in live) or left == []
        if done:  # after the last step a state may be empty (MOMAland's beach): MultiAgentEnv repeats the last one
            _, infos = env.reset()
            continue
        if state_len is not None and _state_length(env) != state_len:
            raise EnvCheckError(
                f"{name}.state() changed length from {state_len} to {_state_length(env)} at step {t}; the global "
                "state must keep one length while the episode runs"
            )


def reward_lows(env: Any) -> np.ndarray | None:
    """Every agent's ``reward_space(agent).low``, (n_agents, m) in ``possible_agents`` order, or None if undeclared."""
    method = getattr(env, "reward_space", None)
    if not callable(method):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lows = [np.asarray(method(agent).low, dtype=np.float64).ravel() for agent in env.possible_agents]
    except (AttributeError, KeyError, NotImplementedError):
        return None
    return np.stack(lows) if len({low.shape for low in lows}) == 1 else None
