"""Every registered agent trains briefly on each device; its throughput side by side (not a test of speed).

    python experiments/gpu_check.py [--env deep-sea-treasure-v0] [--budget 20000] [--offline-budget 2000]
                                    [--devices cpu cuda]

Each agent runs ``morl.train`` with a small configuration, once per device, and the table prints its
throughput on each in the agent's budget unit: env steps/s for online agents, gradient steps/s for
offline ones, with the CUDA figure's ratio to the CPU one beside it. Where each agent trains:

- single-agent online agents on ``--env`` (agents taking only continuous actions: ``--continuous-env``),
  for ``--budget`` env steps;
- multi-agent agents (momix) on ``--multi-agent-env``, for ``--budget`` env steps;
- offline agents (oppo, bc) on one dataset of ``--dataset-episodes`` random episodes of ``--env``,
  collected and saved to a temporary directory before any timing, for ``--offline-budget`` gradient steps.

Devices that are not present are skipped with a line saying so. A CPU run of this script is part
of the test suite (``tests/test_gpu_check.py``), so every agent added to the registry must train
here; on a machine with CUDA, ``--devices cpu cuda`` is the GPU check whose figures go to
``docs/benchmarks/``.
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

from morl import agents, data, spaces, tasks, training  # noqa: E402
from morl.data import behaviour  # noqa: E402

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
    "momix": {"buffer_size": 1_000, "preference_step": 0.25, "eval_episodes": 1},  # 5 evaluation preferences
    "oppo": {"num_preferences": 5, "eval_episodes": 1},
    "bc": {"num_preferences": 5, "eval_episodes": 1},
}
# agents that cannot act in --env's action space train on --continuous-env instead (pcsac: Box actions only)
CONTINUOUS_ENV = "mo-mountaincarcontinuous-v0"
# multi-agent agents (momix) train here: MOMAland item gathering, config A (2 objectives, short episodes)
MULTI_AGENT_ENV = "moitem_gathering_2obj_v0"
# offline agents (oppo, bc) train on this many random episodes of --env (about 2,000 steps on deep-sea-treasure)
DATASET_EPISODES = 200


def check(algo: str, env: Any, budget: int, device: str) -> dict[str, Any]:
    """Train ``algo`` for ``budget`` (its budget unit) on ``device``; its steps, throughput and wall time."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = training.train(algo, env, total_timesteps=budget, device=device, out=Path(out) / "run",
                                hparams=SMALL.get(algo, {}), progress_bar=False, tensorboard=False)  # fmt: skip
        wall = time.perf_counter() - start
    agent = result.agent
    return {"env_steps": agent.num_timesteps, "gradient_steps": agent.gradient_steps, "seconds": wall,
            "rate": agent.budget_spent / wall, "unit": f"{agent.budget_unit}/s",
            "hypervolume": result.report["hypervolume"]}  # fmt: skip


def offline_dataset(env_id: str, episodes: int, directory: Path) -> data.Dataset:
    """``episodes`` random episodes of ``env_id``, saved as a Minari dataset under ``directory`` and read back."""
    collected = data.collect(env_id, behaviour.resolve("random", env_id, seed=0), episodes, seed=0)
    return data.load(data.save(collected, directory / f"gpu-check-random-{episodes}-v0"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="deep-sea-treasure-v0")
    parser.add_argument("--budget", type=int, default=20_000, help="env steps per online agent and device")
    parser.add_argument("--offline-budget", type=int, default=2_000,
                        help="gradient steps per offline agent and device")  # fmt: skip
    parser.add_argument(
        "--continuous-env",
        default=CONTINUOUS_ENV,
        help="env for agents that take only continuous actions when --env's are not",
    )
    parser.add_argument("--multi-agent-env", default=MULTI_AGENT_ENV, help="env for multi-agent agents")
    parser.add_argument("--dataset-episodes", type=int, default=DATASET_EPISODES,
                        help="random episodes of --env in the offline agents' dataset (not timed)")  # fmt: skip
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"])
    parser.add_argument("--algos", nargs="+", default=sorted(agents.REGISTRY))
    args = parser.parse_args(argv)
    devices = [d for d in args.devices if d != "cuda" or torch.cuda.is_available()]
    for missing in sorted(set(args.devices) - set(devices)):
        print(f"gpu_check: no {missing} device here: skipped")
    print(f"{'algo':12} {'device':7} {'env steps':>10} {'grad steps':>10} {'seconds':>8} {'rate':>9} "
          f"{'unit':16} {'vs cpu':>7} {'HV':>8}")  # fmt: skip
    failed = 0
    action_kind = spaces.kind(tasks.make(args.env).action_space)
    with tempfile.TemporaryDirectory() as scratch:
        dataset: Any = None
        for algo in args.algos:
            cls = agents.get(algo)
            budget = args.offline_budget if cls.budget_unit == "gradient_steps" else args.budget
            try:
                if "offline" in cls.task_kinds:
                    if dataset is None:  # once, before any offline agent's clock starts
                        dataset = offline_dataset(args.env, args.dataset_episodes, Path(scratch))
                    env = dataset
                elif "multi" in cls.task_kinds:
                    env = args.multi_agent_env
                else:
                    env = args.env if action_kind in cls.action_kinds else args.continuous_env
            except Exception as err:  # a dataset that cannot be built fails its agents, not the whole check
                failed += len(devices)
                for device in devices:
                    print(f"{algo:12} {device:7} failed: {type(err).__name__}: {err}")
                continue
            cpu_rate = None
            for device in devices:
                try:
                    row = check(algo, env, budget, device)
                except Exception as err:  # report every agent, not only the first broken one
                    failed += 1
                    print(f"{algo:12} {device:7} failed: {type(err).__name__}: {err}")
                    continue
                if device == "cpu":
                    cpu_rate = row["rate"]
                ratio = f"{row['rate'] / cpu_rate:.2f}x" if device != "cpu" and cpu_rate else "-"
                print(f"{algo:12} {device:7} {row['env_steps']:>10,} {row['gradient_steps']:>10,} "
                      f"{row['seconds']:>8.1f} {row['rate']:>9,.0f} {row['unit']:16} {ratio:>7} "
                      f"{row['hypervolume']:>8.1f}")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
