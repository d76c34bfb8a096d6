"""C-MORL's independent jobs: train one policy for a preference, or extend one for an objective.

Jobs are module-level functions of picklable specs so that ``morl.distributed`` can run them in
worker processes or on Ray. A job checkpoints itself (weights, optimiser, progress) every
evaluation, so a killed run resumes each job where it stopped, not from its start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from morl import envs, evaluation, storage
from morl.agents.moppo import MOPPO, MOPPOConfig, Objective
from morl.pareto import non_dominated_mask

MAX_EVAL_ENVS = 16


@dataclass
class Candidate:
    """An evaluated policy snapshot offered to the archive."""

    value: np.ndarray  # (m,) mean undiscounted return
    discounted: np.ndarray  # (m,)
    state: dict[str, torch.Tensor]  # policy state_dict on CPU
    updates: int


@dataclass
class JobSpec:
    """Everything a worker needs to run one job, with no reference to the parent process."""

    key: str  # unique name, also the checkpoint file stem
    env: Any  # env id, module:attr string or picklable callable
    ppo: MOPPOConfig
    seed: int
    num_updates: int
    eval_interval: int
    eval_episodes: int
    learning_rate: float
    anneal_lr: bool
    weights: np.ndarray | None = None  # stage 1
    target: int | None = None  # stage 2
    thresholds: np.ndarray | None = None  # stage 2, fixed for the whole extension
    start_value: np.ndarray | None = None  # stage 2: G(pi_r)
    start_state: dict[str, torch.Tensor] | None = None  # stage 2: weights of pi_r
    barrier_t: float = 20.0
    checkpoint_dir: str | None = None
    device: str = "cpu"


@dataclass
class JobResult:
    key: str
    candidates: list[Candidate] = field(default_factory=list)
    env_steps: int = 0


def _checkpoint_paths(spec: JobSpec) -> tuple[Path, Path] | None:
    if spec.checkpoint_dir is None:
        return None
    root = Path(spec.checkpoint_dir)
    return root / f"{spec.key}.safetensors", root / f"{spec.key}.json"


def _save_job(spec: JobSpec, learner: MOPPO, done: int, steps: int, candidates: list[Candidate]) -> None:
    paths = _checkpoint_paths(spec)
    if paths is None:
        return
    tensors = {f"policy.{k}": v for k, v in learner.policy.state_dict().items()}
    opt = learner.optimizer.state_dict()
    for index, state in opt["state"].items():
        for name, value in state.items():
            tensors[f"optim.{index}.{name}"] = torch.as_tensor(value)
    for i, cand in enumerate(candidates):
        tensors.update({f"cand{i}.{k}": v for k, v in cand.state.items()})
    storage.save_tensors(paths[0], tensors)
    record = {
        "updates_done": done,
        "env_steps": steps,
        "optim_groups": opt["param_groups"],
        "candidates": [
            {"value": c.value.tolist(), "discounted": c.discounted.tolist(), "updates": c.updates} for c in candidates
        ],
    }
    storage.atomic_write_json(paths[1], record)


def _load_job(spec: JobSpec, learner: MOPPO) -> tuple[int, int, list[Candidate]]:
    paths = _checkpoint_paths(spec)
    if paths is None or not paths[1].exists() or not paths[0].exists():
        return 0, 0, []
    record = storage.read_json(paths[1], f"job checkpoint {spec.key}")
    tensors = storage.load_tensors(paths[0], f"job checkpoint {spec.key}")
    learner.policy.load_state_dict({k[7:]: v for k, v in tensors.items() if k.startswith("policy.")})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    learner.optimizer.load_state_dict({"state": state, "param_groups": record["optim_groups"]})
    candidates = []
    for i, cand in enumerate(record["candidates"]):
        prefix = f"cand{i}."
        weights = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        candidates.append(Candidate(np.asarray(cand["value"]), np.asarray(cand["discounted"]), weights,
                                    int(cand["updates"])))  # fmt: skip
    return int(record["updates_done"]), int(record["env_steps"]), candidates


def run_job(spec: JobSpec) -> JobResult:
    """Train for ``spec.num_updates`` PPO updates, evaluating every ``eval_interval`` updates and at the end."""
    device = torch.device(spec.device)
    probe = envs.make_env(spec.env)
    m = envs.reward_dim(probe)
    learner = MOPPO(probe.observation_space, probe.action_space, m, spec.ppo, device, seed=spec.seed)
    if spec.start_state is not None:
        learner.policy.load_state_dict(spec.start_state)
    done, steps, candidates = _load_job(spec, learner)
    train_env = envs.make(spec.env, num_envs=spec.ppo.num_envs, seed=spec.seed + 7919 * (done + 1))
    # one sub-env per episode (up to MAX_EVAL_ENVS): an evaluation lasts one episode, not several
    eval_env = envs.make(spec.env, num_envs=min(spec.eval_episodes, MAX_EVAL_ENVS))
    current = spec.start_value
    pref = spec.weights if spec.weights is not None else np.eye(m)[spec.target]
    try:
        for update in range(done, spec.num_updates):
            frac = 1.0 - update / spec.num_updates if spec.anneal_lr else 1.0
            learner.set_learning_rate(spec.learning_rate * frac)
            rollout = learner.collect(train_env)
            steps += spec.ppo.num_envs * spec.ppo.num_steps
            objective = Objective(weights=spec.weights, target=spec.target, thresholds=spec.thresholds,
                                  current=current, barrier_t=spec.barrier_t)  # fmt: skip
            learner.update(rollout, objective)
            last = update + 1 == spec.num_updates
            if last or (update + 1) % spec.eval_interval == 0:
                result = evaluation.evaluate(lambda obs, w: learner.act(obs), eval_env, pref, spec.eval_episodes,
                                             gamma=spec.ppo.gamma, seed=spec.seed)  # fmt: skip
                current = result.mean_return
                state = {k: v.detach().cpu().clone() for k, v in learner.policy.state_dict().items()}
                candidates.append(Candidate(result.mean_return, result.mean_discounted_return, state, update + 1))
                candidates = _keep_non_dominated(candidates)
                _save_job(spec, learner, update + 1, steps, candidates)
    finally:
        train_env.close()
        eval_env.close()
    return JobResult(spec.key, candidates, steps)


def _keep_non_dominated(candidates: list[Candidate]) -> list[Candidate]:
    """Only snapshots that could enter the archive are worth carrying back (and checkpointing)."""
    mask = non_dominated_mask(np.stack([c.value for c in candidates]))
    return [c for c, keep in zip(candidates, mask, strict=True) if keep]
