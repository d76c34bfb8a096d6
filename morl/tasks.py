"""Tasks: what an agent is built from, whatever the source of its experience.

A task says how many objectives there are, the spaces an agent acts in, the reference point
that hypervolume is measured against (and where it comes from), the known Pareto front if
any, the preferences expected utility averages over, and how to evaluate a policy for a
preference. Three kinds exist:

- ``single``: a Gymnasium / MO-Gymnasium env (:func:`morl.envs.task`);
- ``multi``: a MOMAland / PettingZoo parallel env (:func:`morl.multiagent.task`);
- ``offline``: a logged dataset, evaluated online in the env it was collected from when it
  names one (:func:`offline_task`).

Agents never probe envs themselves: they read the task. :func:`make` turns whatever a user
passes as ``env`` (an id of either registry, ``module:Class``, a factory, an instance, a
dataset, or a task) into a task.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import gymnasium as gym
import numpy as np

from morl import preferences
from morl.evaluation import EvaluationResult
from morl.points import as_front, as_point

TaskKind = Literal["single", "multi", "offline"]
TASK_KINDS: tuple[TaskKind, ...] = ("single", "multi", "offline")


class Predictor(Protocol):
    """The acting contract of every agent and archive entry (Stable-Baselines3's recurrent ``predict``).

    Returns the actions and the next recurrent state (None for feed-forward policies).
    """

    def __call__(
        self,
        obs: np.ndarray,
        preference: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        action_masks: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]: ...


def eval_weights(num_objectives: int) -> np.ndarray:
    """Preferences expected utility averages over: a fine simplex grid for 2-3 objectives."""
    if num_objectives == 1:
        return np.ones((1, 1))
    if num_objectives == 2:
        return preferences.simplex_grid(2, 0.01)
    if num_objectives == 3:
        return preferences.simplex_grid(3, 0.05)
    return preferences.simplex_grid(num_objectives, 1.0 / max(2, 12 - 2 * num_objectives))


@dataclass
class Task:
    """Everything an agent, a metric or a plot needs to know about a problem.

    Attributes:
        kind: ``single``, ``multi`` or ``offline``.
        spec: what rebuilds the source: an env id or ``module:attr`` string (recorded in
            ``config.json`` and used on resume), or a callable / instance for in-process use.
        name: printable name (run-directory names, plot titles).
        num_objectives: length of every reward and value vector.
        observation_space, action_space: per agent for multi-agent tasks (padded to the widest).
        ref_point: hypervolume reference point; ``ref_source`` says where it comes from.
        objective_names: one name per objective (plot axes, tables), or None for "objective i".
        gamma: discount used for training and discounted returns.
        true_front: the known Pareto front of undiscounted returns, or None.
        eval_weights: preferences for expected utility, (k, m).
        env_kwargs: keyword arguments the env is built with (presets included).
        num_agents: 1 for single-agent and offline tasks.
        evaluator: ``(predict, preference, episodes, seed) -> EvaluationResult``, or None when the
            task cannot be rolled out (an offline dataset that names no env).
    """

    kind: TaskKind
    spec: Any
    name: str
    num_objectives: int
    observation_space: gym.Space
    action_space: gym.Space
    ref_point: np.ndarray
    ref_source: str
    objective_names: tuple[str, ...] | None = None
    gamma: float = 0.99
    true_front: np.ndarray | None = None
    eval_weights: np.ndarray | None = None
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    num_agents: int = 1
    evaluator: Callable[[Predictor, np.ndarray, int, int | None], EvaluationResult] | None = field(
        default=None, repr=False
    )
    source: Any = field(default=None, repr=False)  # the dataset of an offline task

    def __post_init__(self) -> None:
        if self.kind not in TASK_KINDS:
            raise ValueError(f"task kind must be one of {TASK_KINDS}, got {self.kind!r}")
        if self.num_objectives < 1:
            raise ValueError(f"a task needs at least one objective, got {self.num_objectives}")
        self.ref_point = as_point(self.ref_point, "ref_point", self.num_objectives)
        self.objective_names = _objective_names(self.objective_names, self.num_objectives, self.name)
        if self.true_front is not None:
            self.true_front = as_front(self.true_front, "true_front", self.num_objectives)
        if self.eval_weights is None:
            self.eval_weights = eval_weights(self.num_objectives)
        self.eval_weights = preferences.validate_many(self.eval_weights, self.num_objectives)

    def evaluate(
        self, predict: Predictor, preference: np.ndarray | list, episodes: int = 5, seed: int | None = None
    ) -> EvaluationResult:
        """Mean returns of ``predict`` acting for ``preference`` over ``episodes`` episodes."""
        if self.evaluator is None:
            raise ValueError(f"task {self.name!r} cannot be rolled out: it names no environment to evaluate in")
        w = preferences.validate(preference, self.num_objectives)
        return self.evaluator(predict, w, episodes, seed)

    def with_ref_point(self, ref_point: np.ndarray | list, source: str) -> Task:
        """The same task measured against another reference point (``--ref-point``)."""
        point = np.asarray(ref_point, dtype=np.float64)
        if point.shape != (self.num_objectives,):
            raise ValueError(
                f"reference point needs {self.num_objectives} values for {self.name!r}, got {point.tolist()}"
            )
        return dataclasses.replace(self, ref_point=point, ref_source=source)

    def record(self) -> dict[str, Any]:
        """What ``config.json`` keeps of the task (enough to rebuild it, and to score a run)."""
        return {
            "kind": self.kind,
            "env": self.spec if isinstance(self.spec, str) else self.name,
            "env_kwargs": self.env_kwargs,
            "num_objectives": self.num_objectives,
            "ref_point": self.ref_point,
            "ref_source": self.ref_source,
            "objective_names": None if self.objective_names is None else list(self.objective_names),
            "gamma": self.gamma,
            "true_front": self.true_front,
            "eval_weights": self.eval_weights,
        }


def _objective_names(names: Any, num_objectives: int, task_name: str) -> tuple[str, ...] | None:
    """``names`` as a tuple of ``num_objectives`` non-empty strings (or None), else a one-line ValueError."""
    if names is None:
        return None
    if isinstance(names, str) or not all(isinstance(n, str) and n.strip() for n in names):
        raise ValueError(
            f"objective_names of {task_name!r} must be a sequence of non-empty strings, got {names!r}; "
            "give one name per objective, or None"
        )
    names = tuple(names)
    if len(names) != num_objectives:
        raise ValueError(
            f"objective_names of {task_name!r} has {len(names)} names {list(names)} for {num_objectives} objectives; "
            "give one name per objective, or None"
        )
    return names


def offline_task(dataset: Any, env_task: Task | None = None, ref_point: np.ndarray | list | None = None) -> Task:
    """A task over a logged dataset; rolled out in ``env_task`` (the env it was collected in) if given.

    ``dataset`` is a :class:`morl.data.Dataset`. Without an env
    task the reference point is ``ref_point``, or else one unit below the nadir of the dataset's
    own episode returns (so every logged trajectory counts).
    """
    m = int(dataset.num_objectives)
    if env_task is not None and env_task.num_objectives != m:
        raise ValueError(
            f"dataset {dataset.name!r} has {m} objectives but its env {env_task.name!r} has {env_task.num_objectives}"
        )
    if ref_point is not None:
        ref, source = np.asarray(ref_point, dtype=np.float64), "given"
    elif env_task is not None:
        ref, source = env_task.ref_point, env_task.ref_source
    else:
        ref = np.asarray(dataset.episode_returns(), dtype=np.float64).min(axis=0) - 1.0
        source = "derived: nadir of the dataset's episode returns minus 1"
    return Task(
        kind="offline",
        spec=dataset.path or dataset.name,  # loaded from disk: where, so that resume and load find it again
        name=dataset.name,
        num_objectives=m,
        observation_space=dataset.observation_space,
        action_space=dataset.action_space,
        ref_point=ref,
        ref_source=source,
        objective_names=None if env_task is None else env_task.objective_names,
        gamma=env_task.gamma if env_task is not None else 0.99,
        true_front=None if env_task is None else env_task.true_front,
        env_kwargs={} if env_task is None else env_task.env_kwargs,
        evaluator=None if env_task is None else env_task.evaluator,
        source=dataset,
    )


def custom_env(spec: Any, **env_kwargs: Any) -> tuple[TaskKind, Any]:
    """Whether a user's ``module:attr`` path or factory makes a single- or a multi-agent env, and the env if built.

    A class deriving from ``gymnasium.Env`` or PettingZoo's ``ParallelEnv`` says which without being built. Any
    other factory (a function, a class of neither base) is called once with ``env_kwargs``: its result says which
    (it has ``possible_agents``: multi-agent), and is returned so the task is built from it, not from a second env.
    ``team_reward`` in ``env_kwargs`` is the multi-agent adapter's option, so it is not passed to the factory.
    A path naming a registered single-agent id (``"mod:ENV_ID"``) is single-agent.

    Returns:
        ``("single" | "multi", env or None)``; the env, when built, already wears the seeding wrapper its kind gets.

    Raises:
        ValueError: the module or attribute cannot be imported, or is not callable.
    """
    from morl import envs, seeding
    from morl.multiagent.check import is_multiagent_env, is_parallel_env_class

    target = envs._import_path(spec) if isinstance(spec, str) else spec
    if isinstance(target, str):
        return "single", None
    if isinstance(target, type) and issubclass(target, gym.Env):
        return "single", None
    if is_parallel_env_class(target):
        return "multi", None
    if not callable(target):
        raise ValueError(f"{spec!r} is not callable; it must be an env class or a function returning an env")
    team_reward = "team_reward" in env_kwargs  # the multi-agent adapter's option, not the factory's
    built = target(**{k: v for k, v in env_kwargs.items() if k != "team_reward"})
    if is_multiagent_env(built):
        return "multi", seeding.isolate_parallel(built)
    return ("single", None) if team_reward else ("single", seeding.isolate(built))


def _is_custom(env: Any) -> bool:
    """A ``module:attr`` path that is no registered id, or a factory (not an env instance, task or dataset)."""
    if isinstance(env, str):
        return ":" in env and env not in gym.registry
    return callable(env) and not isinstance(env, gym.Env)


def _missing_dataset(env: Any) -> bool:
    """A path-like string (``dir/name``) that names no dataset directory and no registered env id."""
    from morl import envs, multiagent

    if not isinstance(env, str) or "/" not in env or multiagent.is_multiagent_id(env):
        return False
    return env not in envs.registered_ids() and env not in gym.registry


def make(env: Any, ref_point: np.ndarray | list | None = None, **env_kwargs: Any) -> Task:
    """The task for ``env``: a task (as is), a multi-agent id, a dataset, or anything :mod:`morl.envs` takes.

    Multi-agent ids are MOMAland's (``moitem_gathering_v0``) and ours; they are looked up first,
    then single-agent ids. A user's ``module:attr`` path or factory becomes a single- or a multi-agent task by
    what it builds (:func:`custom_env`).
    """
    from morl import data, envs, multiagent
    from morl.data import Dataset

    if isinstance(env, Task):
        task = env
    elif isinstance(env, Dataset):
        env_task = None if env.env_id is None else envs.task(env.env_id, **(env.env_kwargs or {}))
        task = offline_task(env, env_task)
    elif data.is_dataset(env):  # a dataset directory: recorded by its absolute path (Dataset.path), found from anywhere
        task = make(data.load(env))
    elif _missing_dataset(env):  # a run records its dataset by path: say which directory is missing
        raise ValueError(f"{env!r} is neither a dataset directory (no dataset at {Path(env).resolve()}) nor a "
                         "registered env id; relative paths resolve against the working directory")  # fmt: skip
    elif isinstance(env, str) and multiagent.is_multiagent_id(env):
        return multiagent.task(env, ref_point=ref_point, **env_kwargs)
    elif _is_custom(env):
        kind, built = custom_env(env, **env_kwargs)
        maker = multiagent.task if kind == "multi" else envs.task
        return maker(env, ref_point=ref_point, probe=built, **env_kwargs)
    else:
        return envs.task(env, ref_point=ref_point, **env_kwargs)
    return task if ref_point is None else task.with_ref_point(ref_point, "given")
