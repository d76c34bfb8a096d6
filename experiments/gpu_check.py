"""Every registered agent trains briefly on each device; env steps/s side by side (not a test of speed).

    python experiments/gpu_check.py [--env deep-sea-treasure-v0] [--budget 20000] [--devices cpu cuda]

Each agent runs ``morl.train`` with a small configuration on the same env (agents taking only continuous
actions: ``--continuous-env``) and budget, once per
device, and the table prints its throughput on each. Devices that are not present are skipped
with a line saying so. A CPU run of this script is part of the test suite
(``tests/test_gpu_check.py``), so every agent added to the registry must train here; on a machine
with CUDA, ``--devices cpu cuda`` is the GPU check whose figures go to ``docs/benchmarks/``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from morl import agents, spaces, tasks, training  # noqa: E402

# Small, quick configurations per algorithm (single process: the check is about the device)
SMALL: dict[str, dict[str, Any]] = {
    "cmorl": {"executor": "serial", "eval_episodes": 1},
    "scalarized": {"num_preferences": 2, "n_envs": 2, "n_steps": 64, "n_epochs": 2, "eval_episodes": 1},
    "pcsac": {
        "learning_starts": 2000,
        "batch_size": 64,
        "net_arch": (64, 64),
        "eval_preferences": 2,
        "eval_episodes": 1,
        "buffer_size": 10_000,
    },
}
# agents that cannot act in --env's action space train on --continuous-env instead (pcsac: Box actions only)
CONTINUOUS_ENV = "mo-mountaincarcontinuous-v0"


def check(algo: str, env: str, budget: int, device: str) -> dict[str, Any]:
    """Train ``algo`` for ``budget`` on ``device``; its env steps, gradient steps and wall time."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = training.train(algo, env, total_timesteps=budget, device=device, out=Path(out) / "run",
                                hparams=SMALL.get(algo, {}), progress_bar=False, tensorboard=False)  # fmt: skip
        wall = time.perf_counter() - start
    agent = result.agent
    return {"env_steps": agent.num_timesteps, "gradient_steps": agent.gradient_steps, "seconds": wall,
            "hypervolume": result.report["hypervolume"]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="deep-sea-treasure-v0")
    parser.add_argument("--budget", type=int, default=20_000, help="budget per agent and device")
    parser.add_argument(
        "--continuous-env",
        default=CONTINUOUS_ENV,
        help="env for agents that take only continuous actions when --env's are not",
    )
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"])
    parser.add_argument("--algos", nargs="+", default=sorted(agents.REGISTRY))
    args = parser.parse_args(argv)
    devices = [d for d in args.devices if d != "cuda" or torch.cuda.is_available()]
    for missing in sorted(set(args.devices) - set(devices)):
        print(f"gpu_check: no {missing} device here: skipped")
    print(f"{'algo':12} {'device':7} {'env steps':>10} {'grad steps':>10} {'seconds':>8} {'steps/s':>9} {'HV':>8}")
    failed = 0
    action_kind = spaces.kind(tasks.make(args.env).action_space)
    for algo in args.algos:
        env = args.env if action_kind in agents.get(algo).action_kinds else args.continuous_env
        for device in devices:
            try:
                row = check(algo, env, args.budget, device)
            except Exception as err:  # report every agent, not only the first broken one
                failed += 1
                print(f"{algo:12} {device:7} failed: {type(err).__name__}: {err}")
                continue
            rate = row["env_steps"] / row["seconds"]
            print(f"{algo:12} {device:7} {row['env_steps']:>10,} {row['gradient_steps']:>10,} "
                  f"{row['seconds']:>8.1f} {rate:>9,.0f} {row['hypervolume']:>8.1f}")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
