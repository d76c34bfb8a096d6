"""Speed-up of C-MORL's parallel batches from 1 to N workers (not a test: timings vary).

    python experiments/bench_workers.py [--env deep-sea-treasure-v0] [--budget 500000] [--workers 2]

Three trainings with the same seed:

1. 1 worker, default batching: every job of a stage in one batched population (the best use
   of one core);
2. 1 worker, the N-worker batching (N batches one after the other): the same work as 3;
3. N workers, one batch each, in parallel.

2 and 3 give the same front, so 2/3 is the speed-up of parallelism alone; 1/3 is what a user
gains by adding cores. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from morl.agents.cmorl import CMORL


def timed(env: str, budget: int, executor: str, workers: int, per_batch: int | None) -> tuple[float, int, np.ndarray]:
    agent = CMORL(env, seed=0, executor=executor, workers=workers, policies_per_batch=per_batch)
    start = time.perf_counter()
    archive = agent.learn(budget, progress_bar=False)
    return time.perf_counter() - start, agent.num_timesteps, np.sort(archive.values, axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="deep-sea-treasure-v0")
    parser.add_argument("--budget", type=int, default=500_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the serial runs get one core, as each pool worker does
    stage1_jobs = len(CMORL(args.env).initial_preferences)
    per_batch = -(-stage1_jobs // args.workers)  # what the pool uses for stage 1
    runs = {
        "1 worker, 1 batch per stage": timed(args.env, args.budget, "serial", 1, None),
        f"1 worker, batches of {per_batch}": timed(args.env, args.budget, "serial", 1, per_batch),
        f"{args.workers} workers, batches of {per_batch}": timed(args.env, args.budget, "local", args.workers,
                                                                  per_batch),
    }  # fmt: skip
    print(f"env {args.env}, budget {args.budget}, {stage1_jobs} stage-1 jobs")
    for name, (wall, steps, _) in runs.items():
        print(f"{name:32s} {wall:7.1f} s  {steps:9d} env steps  {steps / wall:8.0f} env steps/s")
    (one, _, _), (same_batches, _, front_a), (pool, _, front_b) = runs.values()
    print(f"identical fronts at equal batching: {np.array_equal(front_a, front_b)}")
    print(f"speed-up of parallelism alone (equal batching): {same_batches / pool:.2f}x")
    print(f"speed-up over the best 1-worker run: {one / pool:.2f}x")


if __name__ == "__main__":
    main()
