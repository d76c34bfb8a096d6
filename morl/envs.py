"""Multi-objective environments: resolve, make (vectorised), check, and per-env defaults.

An environment may be named by a registered id (``"deep-sea-treasure-v0"``), by an import
path relative to the current directory (``"my_envs:Factory"`` or ``"pkg.mod:make_env"``), given
as a callable returning an env, or as an env instance. Whatever the form, ``make`` returns an
MO-Gymnasium vector env whose rewards have shape ``(num_envs, m)``.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import gymnasium as gym
import mo_gymnasium as mo_gym
import numpy as np
from gymnasium.vector.utils import create_empty_array
from mo_gymnasium.wrappers.vector import MOAsyncVectorEnv, MOSyncVectorEnv
from mo_gymnasium.wrappers.vector.wrappers import _mo_async_worker

from morl.points import as_front

if TYPE_CHECKING:
    from morl.tasks import Task

# Gymnasium warns whenever an env declares float64 Box bounds (MO-Gymnasium's grid worlds do):
# nothing a user can act on, printed once per process, so every worker would repeat it.
warnings.filterwarnings("ignore", message=".*precision lowered by casting to float32.*", category=UserWarning)

EnvSpec = str | Callable[[], gym.Env] | gym.Env
Vectorization = Literal["sync", "async"]


class EnvCheckError(ValueError):
    """An environment breaks the multi-objective Gymnasium contract; the message says how."""


@dataclass(frozen=True)
class EnvDefaults:
    """What a fair evaluation of an environment needs besides the env itself.

    ``ref_point`` bounds hypervolume from below; ``gamma`` is the discount used for training
    and discounted returns; ``has_true_front`` says ``env.unwrapped.pareto_front(gamma)`` exists.
    ``source`` says where the reference point comes from.
    """

    ref_point: tuple[float, ...]
    gamma: float = 0.99
    has_true_front: bool = False
    source: str = ""


_MORLB = "MORL-Baselines examples/tests (research/morlbaselines.md §1.3)"
_CMORL = "C-MORL official scripts (research/cmorl.md §2)"
_OURS = "ours: a lower bound on any return (reward bounds x episode length)"

DEFAULTS: dict[str, EnvDefaults] = {
    "morl/treasure-corridor-v0": EnvDefaults((0.0, -6.0), 0.99, True, "ours: no treasure, longer than any episode"),
    "deep-sea-treasure-v0": EnvDefaults((0.0, -25.0), 0.99, True, _MORLB),
    "deep-sea-treasure-concave-v0": EnvDefaults((0.0, -25.0), 0.99, True, _MORLB),
    "deep-sea-treasure-mirrored-v0": EnvDefaults((0.0, -25.0), 0.99, True, _MORLB),
    "resource-gathering-v0": EnvDefaults((-1.0, -1.0, -1.0), 0.99, True, "ours: one enemy hit, no gold, no gem"),
    "fruit-tree-v0": EnvDefaults((0.0,) * 6, 0.99, True, _MORLB),
    "minecart-v0": EnvDefaults((-1.0, -1.0, -200.0), 0.98, True, _CMORL),
    "minecart-deterministic-v0": EnvDefaults((-1.0, -1.0, -200.0), 0.98, True, _CMORL),
    "minecart-rgb-v0": EnvDefaults((-1.0, -1.0, -200.0), 0.98, True, _CMORL),
    "four-room-v0": EnvDefaults((-1.0, -1.0, -1.0), 0.99, False, "ours: items collected are >= 0"),
    "mo-mountaincar-v0": EnvDefaults((-201.0, -201.0, -201.0), 0.99, False, _OURS),
    "mo-mountaincar-3d-v0": EnvDefaults((-201.0, -201.0, -201.0), 0.99, False, _OURS),
    "mo-mountaincar-timemove-v0": EnvDefaults((-201.0, -201.0), 0.99, False, _OURS),
    "mo-mountaincar-timespeed-v0": EnvDefaults((-201.0, -201.0), 0.99, False, _OURS),
    "mo-mountaincarcontinuous-v0": EnvDefaults((-110.0, -110.0), 0.99, False, "ours: 100 goal bonus lower bound"),
    "mo-lunar-lander-v3": EnvDefaults((-101.0, -1001.0, -101.0, -101.0), 0.99, False, _MORLB),
    "mo-lunar-lander-continuous-v3": EnvDefaults((-101.0, -1001.0, -101.0, -101.0), 0.99, False, _MORLB),
    "mo-halfcheetah-v4": EnvDefaults((-100.0, -100.0), 0.99, False, _MORLB),
    "mo-halfcheetah-v5": EnvDefaults((-100.0, -100.0), 0.99, False, _MORLB),
    "mo-hopper-2d-v4": EnvDefaults((-100.0, -100.0), 0.99, False, _CMORL),
    "mo-hopper-2obj-v5": EnvDefaults((-100.0, -100.0), 0.99, False, _CMORL),
    "mo-hopper-v4": EnvDefaults((-100.0, -100.0, -100.0), 0.99, False, _CMORL),
    "mo-hopper-v5": EnvDefaults((-100.0, -100.0, -100.0), 0.99, False, _CMORL),
    "mo-ant-2d-v4": EnvDefaults((-100.0, -100.0), 0.99, False, _CMORL),
    "mo-ant-2obj-v5": EnvDefaults((-100.0, -100.0), 0.99, False, _CMORL),
    "mo-ant-v4": EnvDefaults((-100.0, -100.0, -100.0), 0.99, False, _CMORL),
    "mo-ant-v5": EnvDefaults((-100.0, -100.0, -100.0), 0.99, False, _CMORL),
    "mo-humanoid-v4": EnvDefaults((-100.0, -100.0), 0.99, False, _CMORL),
    "mo-humanoid-v5": EnvDefaults((-100.0, -100.0), 0.99, False, _CMORL),
    "mo-walker2d-v4": EnvDefaults((-100.0, -100.0), 0.99, False, "ours, as for the other 2-objective MuJoCo envs"),
    "mo-walker2d-v5": EnvDefaults((-100.0, -100.0), 0.99, False, "ours, as for the other 2-objective MuJoCo envs"),
    "mo-swimmer-v4": EnvDefaults((-100.0, -100.0), 0.99, False, "ours, as for the other 2-objective MuJoCo envs"),
    "mo-swimmer-v5": EnvDefaults((-100.0, -100.0), 0.99, False, "ours, as for the other 2-objective MuJoCo envs"),
}


def _async_worker(index, env_fn, pipe, parent_pipe, shared_memory, error_queue, autoreset_mode, semaphore=None):
    """mo-gymnasium 1.3.2's worker, accepting the ``semaphore`` argument Gymnasium 1.4 passes.

    We never set ``max_concurrency``, so the semaphore is always None and can be dropped.
    """
    _mo_async_worker(index, env_fn, pipe, parent_pipe, shared_memory, error_queue, autoreset_mode)


class _MOAsyncVectorEnv(MOAsyncVectorEnv):
    """``MOAsyncVectorEnv`` with a worker compatible with Gymnasium >= 1.4 (8-argument workers)."""

    def __init__(self, env_fns: list[Callable[[], gym.Env]], **kwargs: Any) -> None:
        gym.vector.AsyncVectorEnv.__init__(self, env_fns=env_fns, worker=_async_worker, **kwargs)
        probe = env_fns[0]()
        self.reward_space = probe.unwrapped.reward_space
        probe.close()
        self.rewards = create_empty_array(self.reward_space, n=self.num_envs, fn=np.zeros)


def registered_ids() -> list[str]:
    """Ids of every registered multi-objective env (MO-Gymnasium's and ours under ``morl/``)."""
    import envs  # noqa: F401  (registers the morl/ namespace)

    return sorted(
        env_id
        for env_id, spec in gym.registry.items()
        if "mo_gymnasium" in str(spec.entry_point) or env_id.startswith("morl/")
    )


def _import_path(path: str) -> Any:
    """``module:attr`` imported from the current directory first, leaving ``sys.path`` as it was."""
    module_name, _, attr = path.partition(":")
    added = os.getcwd() not in sys.path
    if added:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"cannot import module {module_name!r} for env {path!r}: {err}") from None
    finally:
        if added:
            sys.path.remove(os.getcwd())
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no attribute {attr!r} (env {path!r})") from None


def env_factory(spec: EnvSpec, **kwargs: Any) -> Callable[[], gym.Env]:
    """A zero-argument callable building a fresh env for ``spec`` (id, ``module:attr`` or callable)."""
    if isinstance(spec, gym.Env):
        raise TypeError("an env instance cannot be copied; pass an id or a callable to build several")
    if callable(spec):
        return lambda: spec(**kwargs)
    if not isinstance(spec, str):
        raise TypeError(f"env must be an id, 'module:attr', a callable or a gymnasium.Env, got {type(spec).__name__}")
    import envs  # noqa: F401  (registers the morl/ namespace)

    if spec in gym.registry:
        return lambda: mo_gym.make(spec, **kwargs)
    if ":" in spec:
        target = _import_path(spec)
        if isinstance(target, str) and target in gym.registry:
            return lambda: mo_gym.make(target, **kwargs)
        if not callable(target):
            raise ValueError(f"{spec!r} is not callable; it must be an env class or a function returning an env")
        return lambda: target(**kwargs)
    raise ValueError(f"unknown env {spec!r}; registered ids: {', '.join(registered_ids())} (or give 'module:Class')")


def env_name(spec: EnvSpec) -> str:
    """A short printable name for ``spec`` (used in run-directory names)."""
    if isinstance(spec, str):
        return spec.replace("/", "_").replace(":", ".")
    if isinstance(spec, gym.Env):
        return spec.spec.id.replace("/", "_") if spec.spec else type(spec.unwrapped).__name__
    return getattr(spec, "__name__", type(spec).__name__)


def make_env(spec: EnvSpec, **kwargs: Any) -> gym.Env:
    """One env for ``spec`` (an instance is returned as is)."""
    if isinstance(spec, gym.Env):
        return spec
    return env_factory(spec, **kwargs)()


def make(
    env: EnvSpec,
    num_envs: int = 1,
    seed: int | Sequence[int] | None = None,
    vectorization: Vectorization = "sync",
    **kwargs: Any,
) -> gym.vector.VectorEnv:
    """A vector env of ``num_envs`` copies whose ``step`` rewards have shape ``(num_envs, m)``.

    Env ``i`` is seeded with ``seed + i`` (first reset), or with ``seed[i]`` when ``seed`` is a
    sequence, so runs with the same seed repeat, except for envs that draw from NumPy's global
    generator (minecart in mo-gymnasium 1.3.2).
    The env is checked with :func:`check_env` first, so a broken env fails here, by name.
    """
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    if vectorization not in ("sync", "async"):
        raise ValueError(f"vectorization must be 'sync' or 'async', got {vectorization!r}")
    if isinstance(env, gym.Env):
        if num_envs != 1:
            raise ValueError("an env instance cannot be copied: pass an id or a callable to get num_envs > 1")
        check_env(env)
        fns = [lambda: env]
        vectorization = "sync"
    else:
        factory = env_factory(env, **kwargs)
        probe = factory()
        try:
            check_env(probe)
        finally:
            probe.close()
        fns = [factory] * num_envs
    vec = MOSyncVectorEnv(fns) if vectorization == "sync" else _MOAsyncVectorEnv(fns)
    if seed is not None:
        seeds = [seed + i for i in range(num_envs)] if isinstance(seed, int | np.integer) else [int(s) for s in seed]
        if len(seeds) != num_envs:
            raise ValueError(f"got {len(seeds)} seeds for {num_envs} envs")
        vec.reset(seed=seeds)
        vec.action_space.seed(seeds[0])
    return vec


def reward_dim(env: gym.Env | gym.vector.VectorEnv) -> int:
    """Number of objectives of a single or vector env."""
    space = getattr(env, "reward_space", None) or getattr(env.unwrapped, "reward_space", None)
    if space is None:
        raise EnvCheckError(f"{type(env.unwrapped).__name__} has no reward_space")
    return int(space.shape[-1])


def check_env(env: Any, steps: int = 50) -> None:
    """Raise :class:`EnvCheckError` naming the first way ``env`` breaks the MO-Gymnasium contract.

    Checks: the Gymnasium 5-tuple API, a 1-D ``reward_space`` on the unwrapped env, vector
    rewards (not scalars) whose shape and dtype match ``reward_space``, and finite rewards.
    The env is reset with seed 0 and stepped with random actions for up to ``steps`` steps.
    """
    name = type(getattr(env, "unwrapped", env)).__name__
    for attr in ("reset", "step", "action_space", "observation_space"):
        if not hasattr(env, attr):
            raise EnvCheckError(f"{name} is not a Gymnasium env: it has no {attr!r}")
    space = getattr(env.unwrapped, "reward_space", None) if hasattr(env, "unwrapped") else None
    if space is None:
        raise EnvCheckError(
            f"{name} has no reward_space: set self.reward_space = gymnasium.spaces.Box(low, high, shape=(m,)) "
            "in __init__ (MO-Gymnasium convention)"
        )
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1 or space.shape[0] < 1:
        raise EnvCheckError(f"{name}.reward_space must be a 1-D gymnasium.spaces.Box, got {space!r}")
    out = env.reset(seed=0)
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict)):
        raise EnvCheckError(
            f"{name}.reset must return (observation, info dict) as in Gymnasium >= 0.26, got {out!r:.80}"
        )
    env.action_space.seed(0)
    for t in range(steps):
        result = env.step(env.action_space.sample())
        if not (isinstance(result, tuple) and len(result) == 5):
            raise EnvCheckError(
                f"{name}.step must return (obs, reward, terminated, truncated, info), got {len(result)} items"
                if isinstance(result, tuple)
                else f"{name}.step must return a 5-tuple, got {type(result).__name__}"
            )
        reward = result[1]
        if np.isscalar(reward) or np.ndim(reward) == 0:
            raise EnvCheckError(
                f"{name}.step returned a scalar reward {reward!r}; a multi-objective env returns a vector of "
                f"shape {space.shape}"
            )
        if not isinstance(reward, np.ndarray):
            raise EnvCheckError(f"{name}.step returned a reward of type {type(reward).__name__}; return a numpy array")
        if reward.shape != space.shape:
            raise EnvCheckError(
                f"{name}.step returned a reward of shape {reward.shape}; reward_space has {space.shape}"
            )
        if not np.can_cast(reward.dtype, space.dtype, casting="same_kind"):
            raise EnvCheckError(f"{name}.step returned reward dtype {reward.dtype}; reward_space has {space.dtype}")
        if not np.all(np.isfinite(reward)):
            raise EnvCheckError(f"{name}.step returned a non-finite reward {reward.tolist()} at step {t}")
        if result[2] or result[3]:
            env.reset()


def defaults_for(spec: EnvSpec, env: gym.Env | None = None) -> EnvDefaults | None:
    """Registered defaults for ``spec``, or a worst-case reference point from reward bounds, or None."""
    if isinstance(spec, str) and spec in DEFAULTS:
        return DEFAULTS[spec]
    env = env if env is not None else make_env(spec)
    registered = getattr(env.unwrapped, "morl_defaults", None)
    if isinstance(registered, EnvDefaults):
        return registered
    space = env.unwrapped.reward_space
    horizon = env.spec.max_episode_steps if env.spec is not None else None
    if horizon and np.all(np.isfinite(space.low)):
        lower = np.minimum(space.low.astype(np.float64) * horizon, 0.0) - 1.0
        return EnvDefaults(tuple(lower.tolist()), 0.99, hasattr(env.unwrapped, "pareto_front"), _OURS)
    return None


def true_front(env: gym.Env, gamma: float = 1.0) -> np.ndarray | None:
    """The env's exact Pareto front of returns (``unwrapped.pareto_front(gamma)``), if it provides a usable one.

    A ``pareto_front()`` without a ``gamma`` parameter is taken as the undiscounted front (so it
    answers ``gamma == 1`` only). A user env's front that fails or is not an (n, m) array of
    finite numbers is skipped with one warning: a quirk of the env never stops a training.
    """
    fn = getattr(env.unwrapped, "pareto_front", None)
    if fn is None:
        return None
    name = type(env.unwrapped).__name__
    try:
        takes_gamma = "gamma" in inspect.signature(fn).parameters
        if not takes_gamma and gamma != 1.0:
            return None
        front = fn(gamma=gamma) if takes_gamma else fn()
        return as_front(front, f"{name}.pareto_front()", reward_dim(env))
    except Exception as err:  # the env's own code: any failure means "no known front"
        warnings.warn(f"{name}.pareto_front() is unusable, going on without a known front: {err}", stacklevel=2)
        return None


def _random_nadir(env: gym.Env, episodes: int = 5, max_steps: int = 1000) -> tuple[np.ndarray, str]:
    """A reference point below what a random policy gets: the nadir of its episode returns minus 1.

    The last resort for an env with neither a registered reference point nor finite reward
    bounds and a time limit; episodes cut at ``max_steps`` count with their partial return.
    """
    m = reward_dim(env)
    returns = np.zeros((episodes, m))
    env.action_space.seed(0)
    for episode in range(episodes):
        env.reset(seed=episode)
        for _ in range(max_steps):
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            returns[episode] += np.asarray(reward, dtype=np.float64)
            if terminated or truncated:
                break
    source = f"derived: nadir of {episodes} random-policy episodes (<= {max_steps} steps) minus 1"
    return returns.min(axis=0) - 1.0, source


def task(spec: EnvSpec, ref_point: Sequence[float] | np.ndarray | None = None, **kwargs: Any) -> Task:
    """The :class:`~morl.tasks.Task` of a single-agent env: spaces, reference point, known front, evaluator.

    ``kwargs`` go to the env's constructor. ``ref_point`` replaces the registered one.

    An env with no registered reference point (nor one derivable from its reward bounds and
    time limit) gets one derived from random rollouts; the task's ``ref_source`` says so.

    Raises:
        ValueError: the env cannot be built.
        EnvCheckError: the env breaks the multi-objective Gymnasium contract.
    """
    from morl import evaluation
    from morl.tasks import Task

    probe = make_env(spec, **kwargs)
    check_env(probe)
    m = reward_dim(probe)
    defaults = defaults_for(spec, probe)
    if ref_point is not None:
        ref, source = np.asarray(ref_point, dtype=np.float64), "given"
    elif defaults is not None:
        ref, source = np.asarray(defaults.ref_point, dtype=np.float64), defaults.source
    else:
        ref, source = _random_nadir(probe)
    gamma = defaults.gamma if defaults is not None else 0.99
    instance = isinstance(spec, gym.Env)

    def evaluator(predict: Any, preference: np.ndarray, episodes: int, seed: int | None) -> Any:
        vec = make(spec, num_envs=1 if instance else min(episodes, 4), **({} if instance else kwargs))
        try:
            act = lambda obs: predict(obs, preference)[0]  # noqa: E731
            return evaluation.evaluate_groups(act, vec, 1, episodes, gamma=gamma, seed=seed)[0]
        finally:
            if not instance:
                vec.close()

    return Task(
        kind="single",
        spec=spec,
        name=env_name(spec),
        num_objectives=m,
        observation_space=probe.observation_space,
        action_space=probe.action_space,
        ref_point=ref,
        ref_source=source,
        gamma=gamma,
        true_front=true_front(probe, gamma=1.0) if defaults is None or defaults.has_true_front else None,
        env_kwargs=dict(kwargs),
        evaluator=evaluator,
    )
