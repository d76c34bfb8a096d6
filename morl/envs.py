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

from morl import exact_fronts, seeding
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
    ``source`` says where the reference point comes from. ``names`` names the objectives (plot
    axes, tables), one per entry of the reward vector, or is None.
    """

    ref_point: tuple[float, ...]
    gamma: float = 0.99
    has_true_front: bool = False
    source: str = ""
    names: tuple[str, ...] | None = None


_MORLB = "MORL-Baselines examples/tests (research/morlbaselines.md §1.3)"
_CMORL = "C-MORL official scripts (research/cmorl.md §2)"
_OURS = "ours: a lower bound on any return (reward bounds x episode length)"
# Sources of points above reward bounds x horizon say "tighter than" and why, or what scores nothing there
# (tests/test_envs.py::test_registered_reference_points_are_bounds_or_say_why checks it).
_DST = (
    f"{_MORLB}; tighter than reward bounds x horizon (0, -100): an episode longer than 24 steps scores nothing "
    "(random play takes up to 100); the true front's longest takes 19"
)
_MINECART = (
    f"{_CMORL}, also MORL-Baselines' PCN and Envelope; tighter than reward bounds x horizon (0, 0, -1000): fuel "
    "is >= -0.22 per step (mining), -220 in 1000 steps, so only a cart that never comes home spends over 200 "
    "(random play: about -40)"
)
_MUJOCO_SPEED = "a velocity of -100 is beaten by standing still"
_TREASURE, _TIME = "treasure", "time"
_VEL_COST = ("velocity", "control cost")

DEFAULTS: dict[str, EnvDefaults] = {
    "morl/treasure-corridor-v0": EnvDefaults(
        (0.0, -6.0),
        0.99,
        True,
        "ours: no treasure; tighter than reward bounds x horizon (0, -20): no episode lasts more than 5 steps",
        (_TREASURE, _TIME),
    ),
    "deep-sea-treasure-v0": EnvDefaults((0.0, -25.0), 0.99, True, _DST, (_TREASURE, _TIME)),
    "deep-sea-treasure-concave-v0": EnvDefaults((0.0, -25.0), 0.99, True, _DST, (_TREASURE, _TIME)),
    "deep-sea-treasure-mirrored-v0": EnvDefaults((0.0, -25.0), 0.99, True, _DST, (_TREASURE, _TIME)),
    "resource-gathering-v0": EnvDefaults(
        (-1.0, -1.0, -1.0),
        0.99,
        True,
        "ours: one enemy hit, no gold, no gem; tighter than reward bounds x horizon (-100, 0, 0): a hit ends the "
        "episode, so no return is below -1",
        ("enemy", "gold", "gem"),
    ),
    "fruit-tree-v0": EnvDefaults(
        (0.0,) * 6,
        0.99,
        True,
        f"{_MORLB}: nutrients are >= 0",
        ("protein", "carbs", "fats", "vitamins", "minerals", "water"),
    ),
    "minecart-v0": EnvDefaults((-1.0, -1.0, -200.0), 0.98, True, _MINECART, ("ore 1", "ore 2", "fuel")),
    "minecart-deterministic-v0": EnvDefaults((-1.0, -1.0, -200.0), 0.98, True, _MINECART, ("ore 1", "ore 2", "fuel")),
    "minecart-rgb-v0": EnvDefaults((-1.0, -1.0, -200.0), 0.98, True, _MINECART, ("ore 1", "ore 2", "fuel")),
    "four-room-v0": EnvDefaults(
        (-1.0, -1.0, -1.0),
        0.99,
        False,
        "ours: items collected are >= 0",
        ("blue square", "green triangle", "red circle"),
    ),
    "mo-mountaincar-v0": EnvDefaults((-201.0, -201.0, -201.0), 0.99, False, _OURS, ("time", "reverse", "forward")),
    "mo-mountaincar-3d-v0": EnvDefaults((-201.0, -201.0, -201.0), 0.99, False, _OURS, ("time", "move", "speed")),
    "mo-mountaincar-timemove-v0": EnvDefaults((-201.0, -201.0), 0.99, False, _OURS, ("time", "move")),
    "mo-mountaincar-timespeed-v0": EnvDefaults((-201.0, -201.0), 0.99, False, _OURS, ("time", "speed")),
    # Was (-110, -110) ("100 goal bonus"): but MO-Gymnasium's version has no goal bonus, time is -1 a step until
    # the goal and fuel -a^2 >= -1, so any episode over 110 steps scored nothing.
    "mo-mountaincarcontinuous-v0": EnvDefaults(
        (-1000.0, -1000.0), 0.99, False, f"{_OURS}: -1 and -a^2 >= -1 per step, 999 steps, minus 1", ("time", "fuel")
    ),
    "mo-lunar-lander-v3": EnvDefaults(
        (-101.0, -1001.0, -101.0, -101.0),
        0.99,
        False,
        _MORLB,
        ("landing", "shaping", "main engine fuel", "side engine fuel"),
    ),
    "mo-lunar-lander-continuous-v3": EnvDefaults(
        (-101.0, -1001.0, -101.0, -101.0),
        0.99,
        False,
        _MORLB,
        ("landing", "shaping", "main engine fuel", "side engine fuel"),
    ),
    # v4 control cost is 0.1 x sum(a^2) <= 0.6 a step: MORL-Baselines' -100 would score nothing past 0.1 a step.
    "mo-halfcheetah-v4": EnvDefaults(
        (-100.0, -601.0),
        0.99,
        False,
        f"ours: velocity {_MORLB} ({_MUJOCO_SPEED}); control cost 0.1 x sum(a^2) <= 0.6 per step x 1000 steps, "
        "minus 1 (MORL-Baselines' -100 scores nothing above 0.1 per step; random play spends 0.2)",
        _VEL_COST,
    ),
    "mo-halfcheetah-v5": EnvDefaults(
        (-100.0, -6001.0),
        0.99,
        False,
        f"ours: velocity as MORL-Baselines' v4 ({_MUJOCO_SPEED}); v5's control cost is sum(a^2) <= 6 per step x "
        "1000 steps, minus 1",
        _VEL_COST,
    ),
    "mo-hopper-2d-v4": EnvDefaults((-100.0, -100.0), 0.99, False, _CMORL, ("velocity", "height")),
    "mo-hopper-2obj-v5": EnvDefaults(
        (-100.0, -100.0), 0.99, False, f"ours: {_CMORL}' v4 value, same objectives in v5", ("velocity", "height")
    ),
    "mo-hopper-v4": EnvDefaults(
        (-100.0, -100.0, -2001.0),
        0.99,
        False,
        f"ours: velocity and height {_CMORL}; control cost 1 - sum(a^2) >= -2 per step (3 joints) x 1000 steps, "
        "minus 1 (C-MORL's -100 scores nothing for a hopper that lives and acts hard)",
        ("velocity", "height", "control cost"),
    ),
    "mo-hopper-v5": EnvDefaults(
        (-100.0, -100.0, -2001.0),
        0.99,
        False,
        f"ours: velocity and height {_CMORL}' v4 value; control cost 1 - sum(a^2) >= -2 per step (3 joints) x "
        "1000 steps, minus 1",
        ("velocity", "height", "control cost"),
    ),
    "mo-ant-2d-v4": EnvDefaults((-100.0, -100.0), 0.99, False, _CMORL, ("x velocity", "y velocity")),
    "mo-ant-2obj-v5": EnvDefaults(
        (-100.0, -100.0), 0.99, False, f"ours: {_CMORL}' v4 value, same objectives in v5", ("x velocity", "y velocity")
    ),
    "mo-ant-v4": EnvDefaults(
        (-100.0, -100.0, -7001.0),
        0.99,
        False,
        f"ours: velocities {_CMORL}; control cost 1 - sum(a^2) >= -7 per step (8 joints) x 1000 steps, minus 1 "
        "(C-MORL's -100 scores nothing for an ant that lives past ~60 random steps)",
        ("x velocity", "y velocity", "control cost"),
    ),
    "mo-ant-v5": EnvDefaults(
        (-100.0, -100.0, -7101.0),
        0.99,
        False,
        f"ours: velocities {_CMORL}' v4 value; control cost 1 - sum(a^2) >= -7 per step (8 joints), less v5's "
        "contact cost (<= 5e-4 x 84 clipped forces, 0.042), x 1000 steps, rounded down",
        ("x velocity", "y velocity", "control cost"),
    ),
    "mo-humanoid-v4": EnvDefaults((-100.0, -100.0), 0.99, False, _CMORL, _VEL_COST),
    "mo-humanoid-v5": EnvDefaults(
        (-100.0, -100.0), 0.99, False, f"ours: {_CMORL}' v4 value, same objectives in v5", _VEL_COST
    ),
    "mo-walker2d-v4": EnvDefaults(
        (-100.0, -5001.0),
        0.99,
        False,
        f"ours: velocity ({_MUJOCO_SPEED}); control cost 1 - sum(a^2) >= -5 per step (6 joints) x 1000 steps, minus 1",
        _VEL_COST,
    ),
    "mo-walker2d-v5": EnvDefaults(
        (-100.0, -5001.0),
        0.99,
        False,
        f"ours: velocity ({_MUJOCO_SPEED}); control cost 1 - sum(a^2) >= -5 per step (6 joints) x 1000 steps, minus 1",
        _VEL_COST,
    ),
    "mo-swimmer-v4": EnvDefaults(
        (-100.0, -2001.0),
        0.99,
        False,
        f"ours: velocity ({_MUJOCO_SPEED}); control cost sum(a^2) <= 2 per step x 1000 steps, minus 1",
        _VEL_COST,
    ),
    "mo-swimmer-v5": EnvDefaults(
        (-100.0, -2001.0),
        0.99,
        False,
        f"ours: velocity ({_MUJOCO_SPEED}); control cost sum(a^2) <= 2 per step x 1000 steps, minus 1",
        _VEL_COST,
    ),
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
    import morl.builtin_envs  # noqa: F401  (the repo's envs/: registers the morl/ namespace)

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
    """A zero-argument callable building a fresh env for ``spec`` (id, ``module:attr`` or callable).

    An env that draws from NumPy's or Python's process-wide generator gets its own, seeded by its
    ``reset(seed=...)`` (:func:`morl.seeding.isolate`).
    """
    if isinstance(spec, gym.Env):
        raise TypeError("an env instance cannot be copied; pass an id or a callable to build several")
    if callable(spec):
        return lambda: seeding.isolate(spec(**kwargs))
    if not isinstance(spec, str):
        raise TypeError(f"env must be an id, 'module:attr', a callable or a gymnasium.Env, got {type(spec).__name__}")
    import morl.builtin_envs  # noqa: F401  (the repo's envs/: registers the morl/ namespace)

    if spec in gym.registry:
        return lambda: seeding.isolate(mo_gym.make(spec, **kwargs))
    if ":" in spec:
        target = _import_path(spec)
        if isinstance(target, str) and target in gym.registry:
            return lambda: seeding.isolate(mo_gym.make(target, **kwargs))
        if not callable(target):
            raise ValueError(f"{spec!r} is not callable; it must be an env class or a function returning an env")
        return lambda: seeding.isolate(target(**kwargs))
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
    sequence, so runs with the same seed repeat, in this process or another: envs that draw from
    a process-wide generator get their own (:mod:`morl.seeding`).
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
    """Registered defaults for ``spec``, or a worst-case reference point from reward bounds, or None.

    The worst case is ``min(reward_space.low x horizon, 0) - 1`` per objective, for finite
    ``reward_space.low``. The horizon is the time limit (``max_episode_steps``) or, without one,
    the longest of a few seeded random-policy episodes: the same env always gets the same point,
    and its ``source`` says which horizon it used. None when ``reward_space.low`` is not finite.
    """
    if isinstance(spec, str) and spec in DEFAULTS:
        return DEFAULTS[spec]
    env = env if env is not None else make_env(spec)
    registered = getattr(env.unwrapped, "morl_defaults", None)
    if isinstance(registered, EnvDefaults):
        return registered
    space = env.unwrapped.reward_space
    if not np.all(np.isfinite(space.low)):
        return None
    horizon = env.spec.max_episode_steps if env.spec is not None else None
    if horizon:
        how = f"{horizon} steps (time limit)"
    else:
        _, lengths = _random_episodes(env)
        horizon = int(lengths.max())
        how = f"{horizon} steps (longest of {len(lengths)} random episodes, each cut at {_ROLLOUT_STEPS})"
    lower = np.minimum(space.low.astype(np.float64) * horizon, 0.0) - 1.0
    source = f"derived: min(reward_space.low x {how}, 0) - 1"
    return EnvDefaults(tuple(lower.tolist()), 0.99, hasattr(env.unwrapped, "pareto_front"), source)


def true_front(env: gym.Env, gamma: float = 1.0) -> np.ndarray | None:
    """The env's exact Pareto front of returns (``unwrapped.pareto_front(gamma)``), if it provides a usable one.

    Where that front is known to be wrong, our own exact one replaces it (:mod:`morl.exact_fronts`).
    A ``pareto_front()`` without a ``gamma`` parameter is taken as the undiscounted front (so it
    answers ``gamma == 1`` only). A user env's front that fails or is not an (n, m) array of
    finite numbers is skipped with one warning: a quirk of the env never stops a training.
    """
    corrected = exact_fronts.corrected_front(env, gamma)
    if corrected is not None:
        return corrected
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


_ROLLOUT_EPISODES, _ROLLOUT_STEPS = 5, 1000


def _random_episodes(
    env: gym.Env, episodes: int = _ROLLOUT_EPISODES, max_steps: int = _ROLLOUT_STEPS
) -> tuple[np.ndarray, np.ndarray]:
    """Returns ``(episodes, m)`` and lengths ``(episodes,)`` of random-policy episodes, seeded 0, 1, ...

    Episodes cut at ``max_steps`` count with their partial return and length ``max_steps``.
    """
    returns = np.zeros((episodes, reward_dim(env)))
    lengths = np.zeros(episodes, dtype=np.int64)
    env.action_space.seed(0)
    for episode in range(episodes):
        env.reset(seed=episode)
        for _ in range(max_steps):
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            returns[episode] += np.asarray(reward, dtype=np.float64)
            lengths[episode] += 1
            if terminated or truncated:
                break
    return returns, lengths


def _random_nadir(env: gym.Env) -> tuple[np.ndarray, str]:
    """A reference point below what a random policy gets: the nadir of its episode returns minus 1.

    The last resort for an env with neither a registered reference point nor finite reward bounds.
    """
    returns, _ = _random_episodes(env)
    source = f"derived: nadir of {len(returns)} random-policy episodes (<= {_ROLLOUT_STEPS} steps) minus 1"
    return returns.min(axis=0) - 1.0, source


def task(
    spec: EnvSpec, ref_point: Sequence[float] | np.ndarray | None = None, *, probe: gym.Env | None = None, **kwargs: Any
) -> Task:
    """The :class:`~morl.tasks.Task` of a single-agent env: spaces, reference point, known front, evaluator.

    ``kwargs`` go to the env's constructor. ``ref_point`` replaces the registered one. ``probe`` is an env
    already built from ``spec`` and ``kwargs`` (:func:`morl.tasks.custom_env`), used instead of building one.

    An env with no registered reference point gets one derived from its reward bounds and
    horizon, or else from random rollouts (:func:`defaults_for`); the task's ``ref_source``
    says which. Objective names come from the env (``unwrapped.objective_names``) or from its
    registered defaults.

    Raises:
        ValueError: the env cannot be built.
        EnvCheckError: the env breaks the multi-objective Gymnasium contract.
    """
    from morl import evaluation
    from morl.tasks import Task

    probe = probe if probe is not None else make_env(spec, **kwargs)
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
    names = getattr(probe.unwrapped, "objective_names", None)
    if names is None and defaults is not None and defaults.names is not None and len(defaults.names) == m:
        names = defaults.names  # registered names fit the preset; kwargs that change m drop them
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
        objective_names=names,
        gamma=gamma,
        true_front=true_front(probe, gamma=1.0) if defaults is None or defaults.has_true_front else None,
        env_kwargs=dict(kwargs),
        evaluator=evaluator,
    )
