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
from morl.points import non_dominated_mask

MAX_EVAL_ENVS = 16


@dataclass
class Candidate:
    """An evaluated policy snapshot offered to the archive."""

    value: np.ndarray  # (m,) mean undiscounted return
    discounted: np.ndarray  # (m,)
    state: dict[str, torch.Tensor]  # policy state_dict on CPU
    updates: int
    length: float | None = None  # mean episode length of the evaluation


@dataclass
class JobSpec:
    """Everything a worker needs to run one job, with no reference to the parent process."""

    key: str  # unique name, also the checkpoint file stem
    env: Any  # env id, module:attr string or picklable callable
    env_kwargs: dict[str, Any]
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
    start_length: float | None = None  # stage 2: mean episode length of pi_r's evaluation (the barrier's horizon)
    start_state: dict[str, torch.Tensor] | None = None  # stage 2: weights of pi_r
    barrier_t: float = 20.0
    confirm_episodes: int = 0  # re-measure the surviving snapshots with this many episodes (0: off)
    checkpoint_dir: str | None = None
    device: str = "cpu"
    checkpoint_interval: int | None = None  # updates between saved progress (None: every evaluation)


@dataclass
class JobResult:
    """A job's snapshots worth archiving, what it spent, and its batch's mean training diagnostics."""

    key: str
    candidates: list[Candidate] = field(default_factory=list)
    env_steps: int = 0
    gradient_steps: int = 0
    preference: np.ndarray | None = None  # stage 1: the preference it trained for
    target: int | None = None  # stage 2: the objective it maximised
    diagnostics: dict[str, float] = field(default_factory=dict)


BATCH_FIELDS = ("env", "env_kwargs", "ppo", "num_updates", "eval_interval", "eval_episodes", "confirm_episodes",
                "learning_rate", "anneal_lr", "checkpoint_dir", "device", "checkpoint_interval")  # fmt: skip


def batch_key(specs: list[JobSpec]) -> str:
    """Name of a batch of jobs (its checkpoint file stem): first key and size."""
    return specs[0].key if len(specs) == 1 else f"{specs[0].key}+{len(specs) - 1}"


def _checkpoint_stem(specs: list[JobSpec]) -> Path | None:
    return None if specs[0].checkpoint_dir is None else Path(specs[0].checkpoint_dir) / batch_key(specs)


def _save_batch(specs: list[JobSpec], learner: MOPPO, progress: dict[str, Any], candidates: list[list[Candidate]],
                current: list[np.ndarray | None], lengths: list[float | None]) -> None:  # fmt: skip
    """The batch's weights, optimiser, snapshots and latest evaluations, so a killed batch resumes here."""
    stem = _checkpoint_stem(specs)
    if stem is None:
        return
    state = {
        "jobs": [spec.key for spec in specs],
        **progress,
        "policy": learner.policy.state_dict(),
        "optimizer": learner.optimizer.state_dict(),
        "current": [None if value is None else np.asarray(value).tolist() for value in current],
        "lengths": lengths,
        "candidates": [
            [{"value": c.value.tolist(), "discounted": c.discounted.tolist(), "updates": c.updates, "state": c.state,
              "length": c.length}
             for c in member]
            for member in candidates
        ],
    }  # fmt: skip
    storage.save_state(stem, state)


def _load_batch(
    specs: list[JobSpec], learner: MOPPO
) -> tuple[dict[str, Any], list[list[Candidate]], list[np.ndarray | None], list[float | None]]:
    """Progress, snapshots and latest evaluations (values, episode lengths) of a batch's checkpoint."""
    empty: list[list[Candidate]] = [[] for _ in specs]
    fresh = {"updates_done": 0, "env_steps": 0, "gradient_steps": 0, "diagnostics": {}}
    stem = _checkpoint_stem(specs)
    state = None if stem is None else storage.load_state(stem)
    if state is None:
        return fresh, empty, [spec.start_value for spec in specs], [spec.start_length for spec in specs]
    if state.get("jobs") != [spec.key for spec in specs]:
        raise storage.FormatError(f"job checkpoint {stem} holds jobs {state.get('jobs')}, not {[s.key for s in specs]}")
    learner.policy.load_state_dict(state["policy"])
    optimizer = state["optimizer"]
    optimizer["state"] = {int(k): v for k, v in optimizer["state"].items()}
    learner.optimizer.load_state_dict(optimizer)
    for p, member in enumerate(state["candidates"]):
        for cand in member:
            empty[p].append(Candidate(np.asarray(cand["value"]), np.asarray(cand["discounted"]), cand["state"],
                                      int(cand["updates"]), cand.get("length")))  # fmt: skip
    current = [None if value is None else np.asarray(value) for value in state["current"]]
    lengths = state.get("lengths", [spec.start_length for spec in specs])
    progress = {key: state.get(key, fresh[key]) for key in fresh}
    return progress, empty, current, lengths


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
    probe = envs.make_env(first.env, **first.env_kwargs)
    m = envs.reward_dim(probe)
    learner = MOPPO(probe.observation_space, probe.action_space, m, cfg, device, seed=first.seed, members=pop)
    for p, spec in enumerate(specs):
        if spec.start_state is not None:
            learner.policy.load_member(p, spec.start_state)
    progress, candidates, current, lengths = _load_batch(specs, learner)
    done = progress["updates_done"]
    sums = {key: value * done for key, value in progress["diagnostics"].items()}  # running sums over updates
    train_env = envs.make(first.env, num_envs=pop * cfg.n_envs, seed=_stream_seeds(specs, done), **first.env_kwargs)
    if done:
        _reseed(specs, done)
    every = first.checkpoint_interval or first.eval_interval
    # one sub-env per episode (up to MAX_EVAL_ENVS): an evaluation lasts one episode, not several
    eval_envs = min(first.eval_episodes, MAX_EVAL_ENVS)
    eval_env = envs.make(first.env, num_envs=pop * eval_envs, **first.env_kwargs)
    try:
        for update in range(done, first.num_updates):
            frac = 1.0 - update / first.num_updates if first.anneal_lr else 1.0
            learner.set_learning_rate(first.learning_rate * frac)
            rollout = learner.collect(train_env)
            progress["env_steps"] += cfg.n_envs * cfg.n_steps
            objectives = [Objective(weights=spec.weights, target=spec.target, thresholds=spec.thresholds,
                                    current=value, horizon=length, barrier_t=spec.barrier_t)
                          for spec, value, length in zip(specs, current, lengths, strict=True)]  # fmt: skip
            stats = {**learner.update(rollout, objectives), "learning_rate": first.learning_rate * frac}
            progress["gradient_steps"] += cfg.n_epochs * cfg.num_minibatches
            for key, value in stats.items():
                sums[key] = sums.get(key, 0.0) + value
            progress["diagnostics"] = {key: value / (update + 1) for key, value in sums.items()}
            if update + 1 == first.num_updates or (update + 1) % first.eval_interval == 0:
                results = evaluation.evaluate_groups(learner.act, eval_env, pop, first.eval_episodes,
                                                     gamma=cfg.gamma, seed=first.seed)  # fmt: skip
                current = [result.mean_return for result in results]
                lengths = [float(result.mean_length) for result in results]
                for p, result in enumerate(results):
                    snapshot = Candidate(result.mean_return, result.mean_discounted_return,
                                         learner.policy.member_state(p), update + 1, lengths[p])  # fmt: skip
                    candidates[p] = _keep_non_dominated([*candidates[p], snapshot])
            if update + 1 == first.num_updates or (update + 1) % every == 0:
                # a checkpoint boundary: save, then restart the envs and random streams from seeds that
                # depend on the update count, as a resumed batch does, so resuming repeats the numbers
                progress["updates_done"] = update + 1
                _save_batch(specs, learner, progress, candidates, current, lengths)
                if update + 1 < first.num_updates:
                    train_env.reset(seed=_stream_seeds(specs, update + 1))
                    learner.collector.restart()
                    _reseed(specs, update + 1)
        if first.confirm_episodes:
            candidates = _confirm(specs, learner, candidates)
    finally:
        train_env.close()
        eval_env.close()
    return [
        JobResult(spec.key, member, progress["env_steps"], progress["gradient_steps"], spec.weights, spec.target,
                  dict(progress["diagnostics"]))
        for spec, member in zip(specs, candidates, strict=True)
    ]  # fmt: skip


def _confirm(specs: list[JobSpec], learner: MOPPO, candidates: list[list[Candidate]]) -> list[list[Candidate]]:
    """Each job's snapshots re-measured with ``confirm_episodes`` episodes, the dominated ones dropped.

    A snapshot survives training because its short evaluation was the best of many noisy ones;
    its value from fresh, longer evaluation is unbiased. Round ``k`` loads every job's ``k``-th
    snapshot into its member (a job with fewer repeats its last one) and evaluates them in one pass.
    The seed is fixed, so a resumed job confirms the same numbers.
    """
    first = specs[0]
    episodes = first.confirm_episodes
    env = envs.make(first.env, num_envs=len(specs) * min(episodes, MAX_EVAL_ENVS), **first.env_kwargs)
    confirmed: list[list[Candidate]] = [[] for _ in specs]
    try:
        for k in range(max(len(member) for member in candidates)):
            for p, member in enumerate(candidates):
                learner.policy.load_member(p, member[min(k, len(member) - 1)].state)
            results = evaluation.evaluate_groups(learner.act, env, len(specs), episodes, gamma=first.ppo.gamma,
                                                 seed=first.seed + 1)  # fmt: skip
            for p, member in enumerate(candidates):
                if k < len(member):
                    result = results[p]
                    confirmed[p].append(Candidate(result.mean_return, result.mean_discounted_return, member[k].state,
                                                  member[k].updates, float(result.mean_length)))  # fmt: skip
    finally:
        env.close()
    return [_keep_non_dominated(member) for member in confirmed]


def _stream_seeds(specs: list[JobSpec], done: int) -> list[int]:
    """Seeds of the training sub-envs from update ``done`` on (every job's ``n_envs``, in member order)."""
    return [spec.seed + 7919 * (done + 1) + i for spec in specs for i in range(spec.ppo.n_envs)]


def _reseed(specs: list[JobSpec], done: int) -> None:
    """Restart torch's generator (action sampling, minibatch order) at a checkpoint boundary."""
    torch.manual_seed(specs[0].seed + 104_729 * done)


def _keep_non_dominated(candidates: list[Candidate]) -> list[Candidate]:
    """Only snapshots that could enter the archive are worth carrying back (and checkpointing)."""
    mask = non_dominated_mask(np.stack([c.value for c in candidates]))
    return [c for c, keep in zip(candidates, mask, strict=True) if keep]
