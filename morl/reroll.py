"""Re-roll a saved run's archive: measure every stored policy afresh with many episodes.

On a stochastic env an archived value is the mean of a few evaluation episodes, and the archive
keeps the best of many such means, so it is biased upwards; a fresh, long evaluation is not.
``morl eval --episodes`` and the benchmark's ``reroll_episodes`` both score runs through here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from morl import agents, runs
from morl.evaluation import EvaluationResult


@dataclass
class Reroll:
    """One archive entry re-rolled: the entry, the preference it acted for, what it measured."""

    entry: Any
    preference: np.ndarray
    result: EvaluationResult


def require_agent(run_dir: Path) -> str:
    """The run's algorithm, if its agent can be loaded; runs of external baselines can only be scored."""
    algo = runs.read_config(run_dir)["algo"]
    if algo not in agents.REGISTRY or not (run_dir / "agent.json").exists():
        raise ValueError(f"{run_dir} holds no loadable '{algo}' agent: it can be scored, not re-rolled")
    return algo


def reroll_run(run_dir: str | os.PathLike, episodes: int, seed: int | None = None, device: str = "auto",
               ids: list[int] | None = None) -> list[Reroll]:  # fmt: skip
    """Every archive entry of ``run_dir`` (or those of ``ids``) re-rolled for ``episodes`` episodes.

    An entry without a preference (one C-MORL policy per entry) acts for the first objective's
    one-hot preference; its policy ignores the preference anyway.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1 to re-roll, got {episodes}")
    path = Path(run_dir)
    agent = agents.get(require_agent(path)).load(path, device=device)
    chosen = [e for e in agent.archive.entries if ids is None or e.id in set(ids)]
    rolled = []
    for entry in chosen:
        pref = entry.preference if entry.preference is not None else np.eye(len(entry.value))[0]
        rolled.append(Reroll(entry, pref, agent.task.evaluate(agent.entry_predictor(entry.id), pref, episodes,
                                                              seed=seed)))  # fmt: skip
    return rolled
