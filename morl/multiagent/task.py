"""Multi-agent tasks: :func:`task` builds a :class:`morl.tasks.Task` from a registered id or a factory,
with :func:`evaluate` (episodes of a recurrent predictor) as its evaluator.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from gymnasium import spaces

from morl.multiagent.env import MultiAgentEnv, _inner_obs_space, make_multiagent
from morl.multiagent.registry import _COSMETIC_KWARGS, defaults_for, is_multiagent_id, registered_ids

if TYPE_CHECKING:
    from morl.evaluation import EvaluationResult
    from morl.tasks import Task

MAX_EPISODE_STEPS = 100_000  # an episode longer than this is taken to be a policy or env that never ends


def evaluate(
    env: MultiAgentEnv,
    predict: Callable[..., tuple[Any, Any]],
    preference: np.ndarray,
    episodes: int = 5,
    seed: int | None = None,
    gamma: float = 0.99,
    max_steps: int = MAX_EPISODE_STEPS,
) -> EvaluationResult:
    """Team returns of ``predict`` over ``episodes`` complete episodes of ``env`` (the multi-agent evaluator).

    Every step calls ``predict(obs (n_agents, obs_dim), preference, state, episode_start (1,) bool,
    action_masks (n_agents, n_actions))`` and threads the returned state into the next call, as Stable-Baselines3's
    recurrent ``evaluate_policy`` does: ``episode_start`` is True on the first step of each episode so a recurrent
    policy resets there. Episode ``i`` is reset with ``seed + i`` when ``seed`` is given; MOMAland's reset then
    re-seeds the global ``random`` / ``np.random``, so their states are restored afterwards to keep a seeded
    evaluation from changing the caller's randomness.

    Raises:
        ValueError: ``episodes < 1`` or ``predict`` breaks the acting contract.
        RuntimeError: an episode runs past ``max_steps`` steps.
    """
    from morl.evaluation import EvaluationResult

    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    saved = (random.getstate(), np.random.get_state()) if seed is not None else None
    m = env.reward_dim
    returns = np.zeros((episodes, m))
    discounted = np.zeros((episodes, m))
    lengths = np.zeros(episodes)
    state: Any = None
    try:
        for i in range(episodes):
            obs, _, info = env.reset(seed=None if seed is None else seed + i)
            masks = info["action_masks"]
            start = np.ones(1, dtype=bool)
            discount, t, done = 1.0, 0, False
            while not done:
                if t >= max_steps:
                    raise RuntimeError(
                        f"episode {i} of {env!r} did not end within {max_steps} steps; "
                        "the env needs a time limit (or the policy never finishes)"
                    )
                out = predict(obs, preference, state, start, masks)
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise ValueError(
                        f"predict must return (actions, state) as Stable-Baselines3's predict does, got {type(out)}"
                    )
                actions, state = out
                obs, _, reward, done, info = env.step(actions)
                returns[i] += reward
                discounted[i] += discount * reward
                discount *= gamma
                masks = info["action_masks"]
                start = np.zeros(1, dtype=bool)
                t += 1
            lengths[i] = t
    finally:
        if saved is not None:
            random.setstate(saved[0])
            np.random.set_state(saved[1])
    return EvaluationResult(
        mean_return=returns.mean(axis=0),
        mean_discounted_return=discounted.mean(axis=0),
        returns=returns,
        discounted_returns=discounted,
        mean_length=float(lengths.mean()),
    )


def _factory(env_id_or_factory: str | Callable[..., Any]) -> Callable[..., Any]:
    """What builds a raw parallel env for a ``module:factory`` path or a factory (as :func:`make_multiagent` does)."""
    from morl.multiagent.registry import env_factory

    return env_factory(env_id_or_factory) if isinstance(env_id_or_factory, str) else env_id_or_factory


def _same(a: Any, b: Any) -> bool:
    """Equality that also works for numpy arrays (an ``initial_map``) and tuple-vs-list (kwargs read from JSON)."""
    try:
        return bool(np.array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object)))
    except (ValueError, TypeError):
        return a == b


def _padded_observation_space(env: MultiAgentEnv) -> spaces.Box:
    """Box of the adapter's per-agent rows: each agent's flattened bounds, zero in its padding columns."""
    low = np.full(env.obs_dim, np.inf)
    high = np.full(env.obs_dim, -np.inf)
    for space, dim in zip(env.observation_spaces, env.obs_dims, strict=True):
        flat = spaces.flatten_space(_inner_obs_space(space))
        lo, hi = np.zeros(env.obs_dim), np.zeros(env.obs_dim)
        lo[:dim] = np.asarray(flat.low, dtype=np.float64).ravel()
        hi[:dim] = np.asarray(flat.high, dtype=np.float64).ravel()
        low, high = np.minimum(low, lo), np.maximum(high, hi)
    return spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)


_ROLLOUT_EPISODES, _ROLLOUT_STEPS = 5, 1000


def _random_episodes(env: MultiAgentEnv) -> tuple[np.ndarray, np.ndarray]:
    """Team returns ``(episodes, m)`` and lengths of random legal play, reset with seeds 0, 1, ...; global RNGs kept.

    Episodes cut at ``_ROLLOUT_STEPS`` count with their partial return and that length.
    """
    saved = (random.getstate(), np.random.get_state())
    rng = np.random.default_rng(0)
    returns = np.zeros((_ROLLOUT_EPISODES, env.reward_dim))
    lengths = np.zeros(_ROLLOUT_EPISODES, dtype=np.int64)
    try:
        for episode in range(_ROLLOUT_EPISODES):
            _, _, info = env.reset(seed=episode)
            done = False
            while not done and lengths[episode] < _ROLLOUT_STEPS:
                actions = [rng.choice(np.flatnonzero(row)) if row.any() else 0 for row in info["action_masks"]]
                _, _, reward, done, info = env.step(actions)
                returns[episode] += reward
                lengths[episode] += 1
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
    return returns, lengths


def derived_ref_point(env: MultiAgentEnv) -> tuple[np.ndarray, str]:
    """A reference point for an env with no registered one, and where it comes from; as single-agent envs get theirs.

    With finite ``reward_space(agent).low`` for every agent: ``min(team low x horizon, 0) - 1`` per objective, where
    the team reward per step is at least the lowest agent's low (``mean``, ``first``) or the sum of the agents'
    negative lows (``sum``), and the horizon is the longest of a few seeded random episodes (skipped when every low
    is >= 0). Otherwise: the nadir of those random episodes' team returns minus 1 (:func:`morl.envs.task`'s last
    resort).
    """
    from morl.multiagent.check import reward_lows

    lows = reward_lows(env.unwrapped)  # (n_agents, m) or None
    if lows is not None and np.all(np.isfinite(lows)):
        per_step = np.minimum(lows, 0.0).sum(axis=0) if env.team_reward == "sum" else lows.min(axis=0)
        if np.all(per_step >= 0):
            return np.full(env.reward_dim, -1.0), "derived: reward_space.low >= 0, so every return is >= 0; minus 1"
        _, lengths = _random_episodes(env)
        horizon = int(lengths.max())
        lower = np.minimum(per_step * horizon, 0.0) - 1.0
        how = f"{horizon} steps (longest of {len(lengths)} random episodes, each cut at {_ROLLOUT_STEPS})"
        return lower, f"derived: min(team reward_space.low ({env.team_reward}) x {how}, 0) - 1"
    returns, _ = _random_episodes(env)
    source = f"derived: nadir of {len(returns)} random-policy episodes (<= {_ROLLOUT_STEPS} steps) minus 1"
    return returns.min(axis=0) - 1.0, source


def task(
    env_id_or_factory: str | Callable[..., Any],
    ref_point: Sequence[float] | np.ndarray | None = None,
    *,
    probe: Any = None,
    **kwargs: Any,
) -> Task:
    """The :class:`~morl.tasks.Task` of a multi-agent env: padded spaces, reference point, known front, evaluator.

    ``env_id_or_factory`` is a registered or MOMAland id, a dotted module path with ``parallel_env``, a user's
    ``"module:factory"`` path, or the factory itself (a class or function returning a parallel env).
    ``kwargs`` go to the env constructor on top of the registered preset (user values win); ``team_reward`` among
    them picks the :class:`MultiAgentEnv` mode instead and is kept in ``env_kwargs`` so a resumed run rebuilds the
    same task. The registered front is reported only for the unchanged preset, and the registered reference point
    only while no kwarg it depends on changed. A user's env (``module:factory`` or a factory) is checked with
    :func:`morl.multiagent.check.check_env` first, and without ``ref_point`` gets one derived from its reward bounds
    (:func:`derived_ref_point`). ``probe`` is that env already built with ``kwargs`` (so it is not built twice).

    Raises:
        ValueError: an unknown id, no reference point for a registered configuration (pass ``ref_point``), or a
            ``ref_point`` of the wrong length.
        EnvCheckError: a user's env breaks the multi-agent contract.
    """
    from morl.multiagent.check import check_env
    from morl.points import as_point
    from morl.tasks import Task

    team_reward = kwargs.pop("team_reward", None)
    custom = callable(env_id_or_factory) or (isinstance(env_id_or_factory, str) and ":" in env_id_or_factory)
    if isinstance(env_id_or_factory, str) and ":" in env_id_or_factory:
        defaults = None
    elif isinstance(env_id_or_factory, str):
        if not is_multiagent_id(env_id_or_factory):
            raise ValueError(
                f"unknown multi-agent env id {env_id_or_factory!r}; registered ids: {', '.join(registered_ids())} "
                "(MOMAland parallel ids and dotted module paths with parallel_env also work)"
            )
        defaults = defaults_for(env_id_or_factory)
    elif callable(env_id_or_factory):
        defaults = None
    else:
        raise TypeError(f"expected a multi-agent env id or a factory, got {type(env_id_or_factory).__name__}")

    preset = dict(defaults.kwargs) if defaults is not None else {}
    env_kwargs = {**preset, **kwargs}
    mode = team_reward if team_reward is not None else (defaults.team_reward if defaults is not None else "mean")
    if custom:
        raw = probe if probe is not None else _factory(env_id_or_factory)(**env_kwargs)
        check_env(raw)
        probe = MultiAgentEnv(raw, team_reward=mode)
    else:
        probe = make_multiagent(env_id_or_factory, team_reward=mode, **env_kwargs)
    m = probe.reward_dim
    if isinstance(env_id_or_factory, str):
        name = env_id_or_factory.replace(":", ".")  # as single-agent module:attr envs: it names run directories
    else:
        name = getattr(probe.unwrapped, "metadata", {}).get("name") or getattr(
            env_id_or_factory, "__name__", type(env_id_or_factory).__name__
        )

    changed = {k for k, v in kwargs.items() if k not in _COSMETIC_KWARGS and not (k in preset and _same(preset[k], v))}
    if defaults is not None and mode != defaults.team_reward:
        changed.add("team_reward")

    if ref_point is not None:
        given = np.asarray(ref_point, dtype=np.float64)
        if given.ndim != 1 or given.shape[0] != m:
            raise ValueError(f"ref_point has shape {given.shape} but {name!r} has {m} objectives: give {m} values")
        ref, source = as_point(given, "ref_point", m), "given"
    elif defaults is None:
        ref, source = derived_ref_point(probe)
    elif len(defaults.ref_point) != m:
        raise ValueError(
            f"the registered reference point of {name!r} has {len(defaults.ref_point)} values but this configuration "
            f"has {m} objectives: pass ref_point=[...] ({m} values)"
        )
    elif changed & set(defaults.ref_depends_on):
        raise ValueError(
            f"the registered reference point of {name!r} holds only for its preset {preset} and you changed "
            f"{sorted(changed & set(defaults.ref_depends_on))}: pass ref_point=[...] ({m} values)"
        )
    else:
        ref, source = np.asarray(defaults.ref_point, dtype=np.float64), defaults.ref_source
    probe.close()

    true_front = None
    if defaults is not None and defaults.true_front is not None and not changed:
        true_front = np.asarray(defaults.true_front, dtype=np.float64)
    gamma = defaults.gamma if defaults is not None else 0.99

    def evaluator(predict: Any, preference: np.ndarray, episodes: int, seed: int | None) -> EvaluationResult:
        env = make_multiagent(env_id_or_factory, team_reward=mode, **env_kwargs)
        try:
            return evaluate(env, predict, preference, episodes=episodes, seed=seed, gamma=gamma)
        finally:
            env.close()

    return Task(
        kind="multi",
        spec=env_id_or_factory,
        name=str(name),
        num_objectives=m,
        observation_space=_padded_observation_space(probe),
        action_space=spaces.Discrete(probe.n_actions),
        ref_point=ref,
        ref_source=source,
        gamma=gamma,
        true_front=true_front,
        env_kwargs=env_kwargs if team_reward is None else {**env_kwargs, "team_reward": team_reward},
        num_agents=probe.num_agents,
        evaluator=evaluator,
        objective_names=None if defaults is None else defaults.objective_names,
    )
