"""Do an offline agent's returns move with the preference? Re-evaluates finished runs over their whole grid.

    python experiments/offline_monotonicity.py RUN_DIR [RUN_DIR ...]      # folders of runs stand for their runs
    python experiments/offline_monotonicity.py --episodes 20 RUN_DIR ...   # more episodes per preference

The archive keeps only non-dominated entries, so it cannot show a preference answered out of order.
This rebuilds each finished ``oppo`` / ``bc`` run from its last checkpoint, evaluates every grid
preference once more (the agent's own evaluation and seeds; ``--episodes`` averages more episodes than
the run did, for envs whose start state is random) and prints
``morl.metrics.preference_monotonicity`` with the returns per preference. Runs trained since the
metric was added also log it as ``monotonicity`` in ``train.csv``; this reads older runs too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from morl import agents, metrics, runs, storage  # noqa: E402
from morl.pareto import ParetoArchive  # noqa: E402
from morl.report import expand_run_dirs  # noqa: E402

OFFLINE = ("oppo", "bc")


def grid_returns(run_dir: Path, episodes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(grid preferences (P, m), mean return per preference (P, m)) of the run's final policy.

    ``episodes`` overrides the run's ``eval_episodes`` (None keeps it).
    """
    algo = runs.read_config(run_dir)["algo"]
    if algo not in OFFLINE:
        raise ValueError(f"{run_dir}: algorithm {algo!r} is not an offline agent ({', '.join(OFFLINE)})")
    agent = agents.get(algo).load(run_dir, device="cpu")
    state = storage.load_state(run_dir / "checkpoints" / runs.AGENT_STATE)
    if state is None:
        raise ValueError(f"{run_dir}: no checkpoint to rebuild the agent from")
    agent.load_state_dict(state)
    if episodes is not None:
        agent.config.eval_episodes = episodes
    agent.archive = ParetoArchive(agent.num_objectives)  # the saved one already names this snapshot's network
    agent.evaluate()
    return agent.grid, agent.grid_returns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+")
    parser.add_argument("--episodes", type=int, default=None,
                        help="episodes per preference (default: the run's own eval_episodes)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.episodes is not None and args.episodes < 1:
        parser.error("--episodes must be >= 1")
    torch.set_num_threads(1)
    print("| run | monotonicity | objective 0 of G_w, w_0 = 0 ... 1 |")
    print("|---|---|---|")
    failed = 0
    for run_dir in expand_run_dirs(args.run_dirs):
        try:
            grid, returns = grid_returns(run_dir, args.episodes)
        except (ValueError, OSError) as err:
            print(f"offline_monotonicity: {err}", file=sys.stderr)
            failed += 1
            continue
        order = np.argsort(grid[:, 0], kind="stable")
        values = ", ".join(f"{v:.4g}" for v in returns[order, 0])
        print(f"| {run_dir.name} | {metrics.preference_monotonicity(grid, returns):.2f} | {values} |", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
