"""C-MORL's independent jobs: train one policy for a preference, or extend one for an objective.

Jobs are trained in batches (populations stacked in one :class:`MOPPO`) by a module-level
function of picklable specs, so that ``morl.distributed`` can run batches in worker processes or
on Ray. A batch checkpoints itself (weights, optimiser, progress) every evaluation, so a killed
run resumes each batch where it stopped, not from its start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from morl import envs, evaluation, storage
from morl.agents.moppo import MOPPO, MOPPOConfig, Objective
from morl.nn import one_torch_thread
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


BATCH_FIELDS = ("env", "ppo", "num_updates", "eval_interval", "eval_episodes", "learning_rate", "anneal_lr",
                "checkpoint_dir", "device")  # fmt: skip


def batch_key(specs: list[JobSpec]) -> str:
    """Name of a batch of jobs (its checkpoint file stem): first key and size."""
    return specs[0].key if len(specs) == 1 else f"{specs[0].key}+{len(specs) - 1}"


def _checkpoint_paths(specs: list[JobSpec]) -> tuple[Path, Path] | None:
    if specs[0].checkpoint_dir is None:
        return None
    root, key = Path(specs[0].checkpoint_dir), batch_key(specs)
    return root / f"{key}.safetensors", root / f"{key}.json"


def _save_batch(specs: list[JobSpec], learner: MOPPO, done: int, steps: int, candidates: list[list[Candidate]],
                current: list[np.ndarray | None]) -> None:  # fmt: skip
    paths = _checkpoint_paths(specs)
    if paths is None:
        return
    tensors = {f"policy.{k}": v for k, v in learner.policy.state_dict().items()}
    opt = learner.optimizer.state_dict()
    for index, state in opt["state"].items():
        for name, value in state.items():
            tensors[f"optim.{index}.{name}"] = torch.as_tensor(value)
    for p, member in enumerate(candidates):
        for i, cand in enumerate(member):
            tensors.update({f"cand{p}_{i}.{k}": v for k, v in cand.state.items()})
    storage.save_tensors(paths[0], tensors)
    record = {
        "jobs": [spec.key for spec in specs],
        "updates_done": done,
        "env_steps": steps,
        "current": [None if value is None else np.asarray(value).tolist() for value in current],
        "optim_groups": opt["param_groups"],
        "candidates": [
            [{"value": c.value.tolist(), "discounted": c.discounted.tolist(), "updates": c.updates} for c in member]
            for member in candidates
        ],
    }
    storage.atomic_write_json(paths[1], record)


def _load_batch(
    specs: list[JobSpec], learner: MOPPO
) -> tuple[int, int, list[list[Candidate]], list[np.ndarray | None]]:
    """Progress, snapshots and latest evaluations of a batch's checkpoint (nothing done if there is none)."""
    empty: list[list[Candidate]] = [[] for _ in specs]
    start = [spec.start_value for spec in specs]
    paths = _checkpoint_paths(specs)
    if paths is None or not paths[1].exists() or not paths[0].exists():
        return 0, 0, empty, start
    name = f"job checkpoint {batch_key(specs)}"
    record = storage.read_json(paths[1], name)
    if record.get("jobs") != [spec.key for spec in specs]:
        raise storage.FormatError(f"{name} holds jobs {record.get('jobs')}, not {[s.key for s in specs]}")
    tensors = storage.load_tensors(paths[0], name)
    learner.policy.load_state_dict({k[7:]: v for k, v in tensors.items() if k.startswith("policy.")})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, field_name = key.split(".", 2)
            state.setdefault(int(index), {})[field_name] = value
    learner.optimizer.load_state_dict({"state": state, "param_groups": record["optim_groups"]})
    for p, member in enumerate(record["candidates"]):
        for i, cand in enumerate(member):
            prefix = f"cand{p}_{i}."
            weights = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            empty[p].append(Candidate(np.asarray(cand["value"]), np.asarray(cand["discounted"]), weights,
                                      int(cand["updates"])))  # fmt: skip
    current = [None if value is None else np.asarray(value) for value in record["current"]]
    return int(record["updates_done"]), int(record["env_steps"]), empty, current


def run_batch(specs: list[JobSpec]) -> list[JobResult]:
    """Train the jobs of ``specs`` together as one batched population (see :class:`MOPPO`).

    Every job runs ``num_updates`` PPO updates for its own objective on its own sub-envs and is
    evaluated every ``eval_interval`` updates and at the end; each evaluated snapshot is a
    candidate. The jobs must agree on everything but their objective, start policy and seed.
    """
    with one_torch_thread(torch.device(specs[0].device)):
        return _train_batch(specs)


def _train_batch(specs: list[JobSpec]) -> list[JobResult]:
    first = specs[0]
    for spec in specs[1:]:
        for name in BATCH_FIELDS:
            if getattr(spec, name) != getattr(first, name):
                raise ValueError(f"jobs {first.key} and {spec.key} differ in {name}: they cannot share a batch")
    device, pop, cfg = torch.device(first.device), len(specs), first.ppo
    probe = envs.make_env(first.env)
    m = envs.reward_dim(probe)
    learner = MOPPO(probe.observation_space, probe.action_space, m, cfg, device, seed=first.seed, members=pop)
    for p, spec in enumerate(specs):
        if spec.start_state is not None:
            learner.policy.load_member(p, spec.start_state)
    done, steps, candidates, current = _load_batch(specs, learner)
    seeds = [spec.seed + 7919 * (done + 1) + i for spec in specs for i in range(cfg.num_envs)]
    train_env = envs.make(first.env, num_envs=pop * cfg.num_envs, seed=seeds)
    # one sub-env per episode (up to MAX_EVAL_ENVS): an evaluation lasts one episode, not several
    eval_envs = min(first.eval_episodes, MAX_EVAL_ENVS)
    eval_env = envs.make(first.env, num_envs=pop * eval_envs)
    try:
        for update in range(done, first.num_updates):
            frac = 1.0 - update / first.num_updates if first.anneal_lr else 1.0
            learner.set_learning_rate(first.learning_rate * frac)
            rollout = learner.collect(train_env)
            steps += cfg.num_envs * cfg.num_steps
            objectives = [Objective(weights=spec.weights, target=spec.target, thresholds=spec.thresholds,
                                    current=value, barrier_t=spec.barrier_t)
                          for spec, value in zip(specs, current, strict=True)]  # fmt: skip
            learner.update(rollout, objectives)
            if update + 1 == first.num_updates or (update + 1) % first.eval_interval == 0:
                results = evaluation.evaluate_groups(learner.act, eval_env, pop, first.eval_episodes,
                                                     gamma=cfg.gamma, seed=first.seed)  # fmt: skip
                current = [result.mean_return for result in results]
                for p, result in enumerate(results):
                    snapshot = Candidate(result.mean_return, result.mean_discounted_return,
                                         learner.policy.member_state(p), update + 1)  # fmt: skip
                    candidates[p] = _keep_non_dominated([*candidates[p], snapshot])
                _save_batch(specs, learner, update + 1, steps, candidates, current)
    finally:
        train_env.close()
        eval_env.close()
    return [JobResult(spec.key, member, steps) for spec, member in zip(specs, candidates, strict=True)]


def _keep_non_dominated(candidates: list[Candidate]) -> list[Candidate]:
    """Only snapshots that could enter the archive are worth carrying back (and checkpointing)."""
    mask = non_dominated_mask(np.stack([c.value for c in candidates]))
    return [c for c, keep in zip(candidates, mask, strict=True) if keep]
