"""``morl.train``: the one entry point that the CLI, the benchmark and user scripts call.

It builds the task and the agent, opens (or reopens) the run directory, attaches it to the
agent so that logging, checkpoints and resume happen through the base class, trains, saves the
agent and scores the final front. Nothing else in the package creates a run directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from morl import agents, metrics, runs, tasks
from morl import config as config_lib
from morl.agents.base import Agent, Callback

DEFAULT_ALGO = "cmorl"
DEFAULT_ENV = "deep-sea-treasure-v0"
DEFAULT_BUDGET = 100_000


@dataclass
class TrainResult:
    """What a training produced: where it is on disk, the trained agent, and the final metrics."""

    run_dir: Path
    agent: Agent
    report: dict[str, float]


class Interrupted(KeyboardInterrupt):
    """Training was interrupted (Ctrl-C); the run directory holds its last checkpoint."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(f"interrupted; {run_dir} keeps its last checkpoint: resume with morl train --resume {run_dir}")
        self.run_dir = run_dir


def train(
    algo: str | None = None,
    env: Any = DEFAULT_ENV,
    *,
    total_timesteps: int | None = None,
    seed: int | None = None,
    device: str | None = None,
    out: str | os.PathLike | None = None,
    hparams: dict[str, Any] | None = None,
    ref_point: list[float] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    resume: str | os.PathLike | None = None,
    progress_bar: bool = True,
    callback: Callback | None = None,
    tensorboard: bool = True,
    announce: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train ``algo`` on ``env`` for ``total_timesteps`` (its budget unit) and write a run directory.

    Args:
        algo: a registered algorithm name (``morl.agents.REGISTRY``); default ``cmorl``, or the
            resumed run's.
        env: a task, an env id of either registry, ``module:Class``, a factory or a dataset.
        total_timesteps: the budget, in env steps (online agents) or gradient steps (offline);
            default 100k. On resume, a larger budget than the run's extends it (recorded in
            ``config.json``'s ``budget_history``).
        seed, device: as for every agent (seed default 0, ``device`` default ``"auto"``).
        out: the run directory (default ``runs/<algo>-<env>-<seed>-<timestamp>``); must be empty.
        hparams: hyperparameters on top of the algorithm's per-env presets.
        ref_point: replaces the task's reference point.
        env_kwargs: keyword arguments for the env's constructor.
        resume: continue the run in this directory from its last checkpoint; the rest is read
            from its ``config.json`` (``env`` only for envs that are not ids, ``device`` may
            change); a different algorithm, seed, reference point or hyperparameter is refused.
        progress_bar, callback, tensorboard: as named.
        announce: called with one line on the reference point before training (the CLI prints it).

    Raises:
        ValueError: an unknown algorithm, a bad hyperparameter, a non-empty ``out``, a task the
            algorithm cannot train on, a run directory in use or of another training, and every
            other user mistake, with a message saying which.
        Interrupted: on Ctrl-C, once the run directory is flushed and released.
    """
    if resume is not None:
        run_path = Path(resume)
        saved = runs.read_config(run_path)
        _refuse_changes(run_path, saved, algo=algo, seed=seed, ref_point=ref_point)
        algo, seed = saved["algo"], int(saved["seed"])
        recorded = saved.get("budget", saved.get("total_timesteps"))
        budget = int(total_timesteps if total_timesteps is not None else recorded or DEFAULT_BUDGET)
        hparams, device = {**saved["hparams"], **(hparams or {})}, device or saved.get("device", "auto")
        spec = env if env is not None and not isinstance(env, str) else saved["env"]
        task = tasks.make(spec, ref_point=saved["ref_point"], **saved.get("env_kwargs", {}))
    else:
        algo = algo or DEFAULT_ALGO
        agents.get(algo)
        seed = 0 if seed is None else seed
        task = tasks.make(env, ref_point=ref_point, **(env_kwargs or {}))
        budget = DEFAULT_BUDGET if total_timesteps is None else int(total_timesteps)
        device = device or "auto"
        run_path = Path(out) if out is not None else runs.default_run_dir(algo, task.name, seed)
        if run_path.exists() and any(run_path.iterdir()):
            raise ValueError(f"run directory {run_path} is not empty; resume it with --resume {run_path}")
    if budget < 1:
        raise ValueError(f"total_timesteps must be >= 1, got {budget}")
    agent_cls = agents.get(algo)
    merged = {**agent_cls.default_hparams(task), **(hparams or {})}
    agent = agent_cls(task, seed=seed, device=device, config=config_lib.build(agent_cls.Config, merged))
    if announce is not None:
        announce(f"reference point: {task.ref_point.tolist()} ({task.ref_source})")
    run = runs.Run.open(run_path, task, agent.budget_unit, agent.diagnostics, use_tensorboard=tensorboard)
    try:
        agent.attach(run)
        agent.learn(budget, callback=callback, progress_bar=progress_bar)
    except KeyboardInterrupt:
        run.close()
        raise Interrupted(run_path) from None
    finally:
        run.close()
    agent.save(run_path)
    report = metrics.evaluate_front(agent.archive.values, task.ref_point, task.eval_weights, task.true_front)
    return TrainResult(run_path, agent, report)


def _refuse_changes(run_path: Path, saved: dict[str, Any], **given: Any) -> None:
    """On resume, an algorithm, seed or reference point other than the run's is a mistake: say which."""
    for key, value in given.items():
        if value is not None and runs.canonical(value) != runs.canonical(saved.get(key)):
            raise ValueError(
                f"run directory {run_path} was trained with {key} {saved.get(key)!r}, not {value!r}; resume it "
                "unchanged (a larger --total-timesteps is allowed) or train into a new directory"
            )
