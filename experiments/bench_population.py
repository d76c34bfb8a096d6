"""Throughput of the batched MO-PPO population against its size (not a test: timings vary).

    python experiments/bench_population.py [--env mo-hopper-2obj-v5] [--sizes 1 2 6 12] [--device auto]

For each population size P, trains P policies together for a few updates with C-MORL's preset
for the env (stage-1 objectives) and prints env transitions per second for the rollout
(env + acting), for the PPO update alone, and for both. The same script is the GPU check:
``--device cuda`` shows what batching buys when kernels, not Python, are the cost.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import fields

import numpy as np
import torch

from morl import envs
from morl.agents.cmorl import CMORLConfig
from morl.agents.moppo import MOPPO, MOPPOConfig, Objective
from morl.config import preset


def measure(env_id: str, members: int, device: torch.device, updates: int) -> tuple[float, float]:
    """Seconds per update spent collecting and updating, after one warm-up update."""
    config = CMORLConfig(**preset("cmorl", env_id))
    ppo = MOPPOConfig(**{f.name: getattr(config, f.name) for f in fields(MOPPOConfig)})
    probe = envs.make_env(env_id)
    m = envs.reward_dim(probe)
    learner = MOPPO(probe.observation_space, probe.action_space, m, ppo, device, seed=0, members=members)
    vec = envs.make(env_id, num_envs=members * ppo.n_envs, seed=0)
    weights = np.random.default_rng(0).dirichlet(np.ones(m), size=members)
    objectives = [Objective(weights=w) for w in weights]
    collect = update = 0.0
    for i in range(updates + 1):
        start = time.perf_counter()
        rollout = learner.collect(vec)
        middle = time.perf_counter()
        learner.update(rollout, objectives)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:  # the first update warms up allocators and kernels
            collect += middle - start
            update += time.perf_counter() - middle
    vec.close()
    return collect / updates, update / updates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="mo-hopper-2obj-v5")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 6, 12])
    parser.add_argument("--updates", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)  # fmt: skip
    if device.type == "cpu":
        torch.set_num_threads(1)
    config = CMORLConfig(**preset("cmorl", args.env))
    per_member = config.n_envs * config.n_steps
    print(f"env {args.env}, device {device}, {per_member} transitions per member per update")
    print(f"{'P':>3} {'collect steps/s':>16} {'update steps/s':>15} {'total steps/s':>14}")
    for members in args.sizes:
        collect, update = measure(args.env, members, device, args.updates)
        steps = members * per_member
        print(f"{members:3d} {steps / collect:16.0f} {steps / update:15.0f} {steps / (collect + update):14.0f}")


if __name__ == "__main__":
    main()
