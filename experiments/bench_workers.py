"""Speed-up of C-MORL's parallel jobs from 1 to N workers (not a test: timings vary).

    python experiments/bench_workers.py [--env deep-sea-treasure-v0] [--budget 500000] [--workers 2]

Runs the same C-MORL training (same seed, so the same jobs and the same front) with the serial
executor and with a local pool of N workers, and prints wall time, env steps/s and the speed-up.
Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from morl.agents.cmorl import CMORL


def timed(env: str, budget: int, executor: str, workers: int) -> tuple[float, int, np.ndarray]:
    agent = CMORL(env, seed=0, executor=executor, workers=workers)
    start = time.perf_counter()
    archive = agent.learn(budget, progress_bar=False)
    return time.perf_counter() - start, agent.num_timesteps, np.sort(archive.values, axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="deep-sea-treasure-v0")
    parser.add_argument("--budget", type=int, default=500_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the serial run gets one core, as each pool worker does
    serial_time, steps, serial_front = timed(args.env, args.budget, "serial", 1)
    pool_time, pool_steps, pool_front = timed(args.env, args.budget, "local", args.workers)
    same = steps == pool_steps and np.array_equal(serial_front, pool_front)
    print(f"env {args.env}, budget {args.budget}, env steps used {steps}, identical fronts: {same}")
    print(f"1 worker:  {serial_time:7.1f} s  {steps / serial_time:8.0f} env steps/s")
    print(f"{args.workers} workers: {pool_time:7.1f} s  {pool_steps / pool_time:8.0f} env steps/s")
    print(f"speed-up: {serial_time / pool_time:.2f}x")


if __name__ == "__main__":
    main()
