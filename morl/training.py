"""``morl.train``: the one entry point that the CLI, the benchmark and user scripts call.

It builds the task and the agent, opens (or reopens) the run directory, attaches it to the
agent so that logging, checkpoints and resume happen through the base class, trains, saves the
agent and scores the final front. Nothing else in the package creates a run directory.
"""

from __future__ import annotations

import os
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


def train(
    algo: str | None = DEFAULT_ALGO,
    env: Any = DEFAULT_ENV,
    *,
    total_timesteps: int | None = None,
    seed: int = 0,
    device: str | None = None,
    out: str | os.PathLike | None = None,
    hparams: dict[str, Any] | None = None,
    ref_point: list[float] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    resume: str | os.PathLike | None = None,
    progress_bar: bool = True,
    callback: Callback | None = None,
    tensorboard: bool = True,
) -> TrainResult:
    """Train ``algo`` on ``env`` for ``total_timesteps`` (its budget unit) and write a run directory.

    Args:
        algo: a registered algorithm name (``morl.agents.REGISTRY``).
        env: a task, an env id of either registry, ``module:Class``, a factory or a dataset.
        total_timesteps: the budget, in env steps (online agents) or gradient steps (offline);
            default 100k.
        seed, device: as for every agent (``device`` default ``"auto"``).
        out: the run directory (default ``runs/<algo>-<env>-<seed>-<timestamp>``); must be empty.
        hparams: hyperparameters on top of the algorithm's per-env presets.
        ref_point: replaces the task's reference point.
        env_kwargs: keyword arguments for the env's constructor.
        resume: continue the run in this directory from its last checkpoint; everything else is
            read from its ``config.json`` (``env`` only for envs that are not ids, ``device`` may change).
        progress_bar, callback, tensorboard: as named.

    Raises:
        ValueError: an unknown algorithm, a bad hyperparameter, a non-empty ``out``, a task the
            algorithm cannot train on, and every other user mistake, with a message saying which.
    """
    if resume is not None:
        run_path = Path(resume)
        saved = runs.read_config(run_path)
        algo, seed = saved["algo"], int(saved["seed"])
        budget = int(saved.get("budget", saved.get("total_timesteps", 0)))
        hparams, device = saved["hparams"], device or saved.get("device", "auto")
        spec = env if env is not None and not isinstance(env, str) else saved["env"]
        task = tasks.make(spec, ref_point=saved["ref_point"], **saved.get("env_kwargs", {}))
    else:
        if not algo:
            raise ValueError(f"train needs an algorithm; valid choices: {', '.join(sorted(agents.REGISTRY))}")
        agents.get(algo)
        task = tasks.make(env, ref_point=ref_point, **(env_kwargs or {}))
        budget = DEFAULT_BUDGET if total_timesteps is None else int(total_timesteps)
        if budget < 1:
            raise ValueError(f"total_timesteps must be >= 1, got {budget}")
        device = device or "auto"
        run_path = Path(out) if out is not None else runs.default_run_dir(algo, task.name, seed)
        if run_path.exists() and any(run_path.iterdir()):
            raise ValueError(f"run directory {run_path} is not empty; resume it with --resume {run_path}")
    agent_cls = agents.get(algo)
    merged = {**agent_cls.default_hparams(task), **(hparams or {})}
    agent = agent_cls(task, seed=seed, device=device, config=config_lib.build(agent_cls.Config, merged))
    run = runs.Run.open(run_path, task, agent.budget_unit, agent.diagnostics, use_tensorboard=tensorboard)
    if resume is None:
        run.write_config(
            {
                "algo": algo,
                "seed": seed,
                "budget": budget,
                "device": device,
                "hparams": config_lib.to_dict(agent.config),
            }
        )
    try:
        agent.attach(run)
        agent.learn(budget, callback=callback, progress_bar=progress_bar)
    finally:
        run.close()
    agent.save(run_path)
    report = metrics.evaluate_front(agent.archive.values, task.ref_point, task.eval_weights, task.true_front)
    return TrainResult(run_path, agent, report)
