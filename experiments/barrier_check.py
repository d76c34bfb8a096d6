"""Does the barrier's first-order estimate of ``G_j`` predict what an update does to ``G_j``?

C-MORL's barrier needs ``G_j`` of the policy being updated, estimated during the update as
``G_j(old) + k * E[(clip(ratio) - 1) A_j]``. With ``G`` an undiscounted episode return, ``k``
should be the episode length; the code used to take ``1 / (1 - gamma)``. This script trains one
policy for a preference, then, update by update, compares for each objective:

- predicted: ``k * E[(clip(ratio) - 1) A_j]`` over the update's rollout, with the final ratios,
  for ``k`` = mean episode length (ours) and ``k = 1 / (1 - gamma)`` (before);
- measured: the change of the stochastic policy's mean episode return, over ``--episodes``
  evaluation episodes before and after the update.

    python experiments/barrier_check.py --env mo-hopper-2d-v4 --warmup 15 --updates 12

Prints one JSON line per update and objective, then a summary per ``k``: the least-squares
slope of measured on predicted (1 is right) and the correlation.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from morl import envs, evaluation
from morl.agents.cmorl import CMORL
from morl.agents.moppo import MOPPO, MOPPOConfig, Objective
from morl.buffers import vector_gae
from morl.rollout import by_member


def predicted_change(learner: MOPPO, rollout, clip: float) -> np.ndarray:
    """Per objective, ``E[(clip(ratio) - 1) A_j]`` over the rollout, with the learner's current policy."""
    advantages, _ = vector_gae(rollout, learner.config.gamma, learner.config.gae_lambda)
    scale = rollout.reward_scale if rollout.reward_scale is not None else 1.0
    adv = by_member(advantages) * scale.unsqueeze(1)  # (1, B, m) reward units
    with torch.no_grad():
        features = learner.policy.encode(by_member(rollout.obs))
        log_prob, _ = learner.policy.log_prob_entropy(features, by_member(rollout.actions))
    ratio = (log_prob - by_member(rollout.log_probs)).exp()
    weight = by_member(rollout.valid).float()
    change = ((ratio.clamp(1 - clip, 1 + clip) - 1.0) * weight).unsqueeze(-1) * adv
    return (change.sum(1) / weight.sum(1, keepdim=True)).squeeze(0).numpy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="mo-hopper-2d-v4")
    parser.add_argument("--warmup", type=int, default=15, help="stage-1 updates before the checks")
    parser.add_argument("--updates", type=int, default=12, help="extension updates checked")
    parser.add_argument("--episodes", type=int, default=32, help="evaluation episodes before and after each update")
    parser.add_argument("--target", type=int, default=0, help="the objective the extension maximises")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    agent = CMORL(args.env, seed=args.seed, executor="serial")
    cfg = MOPPOConfig(**{k: getattr(agent.config, k) for k in MOPPOConfig.__dataclass_fields__})
    probe = envs.make_env(args.env)
    m = envs.reward_dim(probe)
    learner = MOPPO(probe.observation_space, probe.action_space, m, cfg, torch.device("cpu"), seed=args.seed)
    train = envs.make(args.env, num_envs=cfg.n_envs, seed=args.seed)
    evaluator = envs.make(args.env, num_envs=min(args.episodes, 16))

    def stochastic_return() -> tuple[np.ndarray, float]:
        result = evaluation.evaluate_groups(lambda obs: learner.act(obs, deterministic=False), evaluator, 1,
                                            args.episodes, seed=args.seed + 1)[0]  # fmt: skip
        return result.mean_return, float(result.mean_length)

    weights = np.full(m, 1.0 / m)
    for _ in range(args.warmup):
        learner.update(learner.collect(train), Objective(weights=weights))
    start, _ = stochastic_return()
    thresholds = agent.thresholds(start)
    rows = []
    for update in range(args.updates):
        before, length = stochastic_return()
        rollout = learner.collect(train)
        objective = Objective(target=args.target, thresholds=thresholds, current=before, horizon=length)
        learner.update(rollout, objective)
        per_step = predicted_change(learner, rollout, cfg.clip_coef)
        after, _ = stochastic_return()
        for j in range(m):
            row = {"update": update, "objective": j, "episode_length": round(length, 1),
                   "measured": float(after[j] - before[j]), "predicted_length": float(per_step[j] * length),
                   "predicted_discount": float(per_step[j] / (1.0 - cfg.gamma))}  # fmt: skip
            rows.append(row)
            print(json.dumps(row), flush=True)
    measured = np.array([r["measured"] for r in rows])
    for key in ("predicted_length", "predicted_discount"):
        predicted = np.array([r[key] for r in rows])
        slope = float(predicted @ measured / max(predicted @ predicted, 1e-12))
        corr = float(np.corrcoef(predicted, measured)[0, 1]) if np.std(predicted) > 0 else float("nan")
        ratio = float(np.mean(np.abs(predicted)) / max(np.mean(np.abs(measured)), 1e-12))
        summary = {"estimate": key, "slope_measured_on_predicted": slope, "correlation": corr,
                   "mean_abs_predicted_over_measured": ratio}  # fmt: skip
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
