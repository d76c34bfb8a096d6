"""What do C-MORL's stage-1 policies learn, preference by preference, while they train?

The archive keeps only the non-dominated snapshots of a run, so it cannot say which stage-1
preference failed, or how. This trains one batched population of PPO members (the C-MORL
learner, :class:`morl.agents.moppo.MOPPO`), member ``p`` for preference ``--prefs[p]``, and
prints the mean return of each member's last 20 finished training episodes eight times along
the way, then each member's deterministic (greedy) return, which is what C-MORL evaluates and
archives. Repeat a preference to see how often it finds what it should (members differ in their
initialisation and random streams).

    python experiments/stage1_probe.py --env minecart-deterministic-v0 --steps 50000 \\
        --prefs 1,0,0 1,0,0 0,1,0 0,1,0 --set n_envs=4 n_steps=128 learning_rate=0.001

``--set`` takes :class:`MOPPOConfig` fields (JSON values); ``--steps`` counts env steps per member.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from morl import envs, evaluation, preferences
from morl.agents.moppo import MOPPO, MOPPOConfig, Objective

RECENT = 20  # episodes per member in each printed mean


class EpisodeLog(gym.Wrapper):
    """Keeps each finished episode's return vector in ``episodes``."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.episodes: list[np.ndarray] = []
        self.total = None

    def reset(self, **kwargs: Any):
        self.total = None
        return self.env.reset(**kwargs)

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        reward = np.asarray(reward, dtype=np.float64)
        self.total = reward if self.total is None else self.total + reward
        if terminated or truncated:
            self.episodes.append(self.total)
            self.total = None
        return obs, reward, terminated, truncated, info


def probe(env_id: str, prefs: np.ndarray, steps: int, config: MOPPOConfig, seed: int, eval_episodes: int = 20
          ) -> list[str]:  # fmt: skip
    """Train one member per preference for ``steps`` env steps each; returns the printed lines."""
    m = envs.reward_dim(envs.make_env(env_id))
    prefs = preferences.validate_many(prefs, m)  # one clear error for a wrong length or a point off the simplex
    pop = len(prefs)
    vec = envs.make(lambda: EpisodeLog(envs.make_env(env_id)), num_envs=pop * config.n_envs, seed=seed)
    log = [sub.get_wrapper_attr("episodes") for sub in vec.envs]  # sub-env k's finished episodes
    learner = MOPPO(vec.single_observation_space, vec.single_action_space, m, config, torch.device("cpu"), seed=seed,
                    members=pop)  # fmt: skip
    updates = max(1, steps // (config.n_envs * config.n_steps))
    objectives = [Objective(weights=w) for w in prefs]
    lines = []
    for update in range(updates):
        if config.anneal_lr:
            learner.set_learning_rate(config.learning_rate * (1 - update / updates))
        stats = learner.update(learner.collect(vec), objectives)
        if (update + 1) % max(1, updates // 8) and update + 1 < updates:
            continue
        parts = []
        for p, w in enumerate(prefs):
            episodes = [g for k in range(p * config.n_envs, (p + 1) * config.n_envs) for g in log[k]]
            recent = np.mean(episodes[-RECENT:], axis=0) if episodes else np.full(m, np.nan)
            parts.append(f"w={np.round(w, 2).tolist()} episodes={len(episodes)} G={np.round(recent, 2).tolist()}")
        lines.append(f"[{(update + 1) * config.n_envs * config.n_steps}] entropy={stats['entropy']:.2f} | "
                     + " | ".join(parts))  # fmt: skip
        print(lines[-1], flush=True)
    vec.close()
    eval_env = envs.make(env_id, num_envs=pop * min(eval_episodes, 16))
    greedy = evaluation.evaluate_groups(learner.act, eval_env, pop, eval_episodes, seed=seed)
    eval_env.close()
    lines.append("greedy | " + " | ".join(f"w={np.round(w, 2).tolist()} G={np.round(r.mean_return, 2).tolist()}"
                                        for w, r in zip(prefs, greedy, strict=True)))  # fmt: skip
    print(lines[-1], flush=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True)
    parser.add_argument("--prefs", nargs="+", required=True, help="one comma-separated preference per member")
    parser.add_argument("--steps", type=int, default=50_000, help="env steps per member")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-episodes", type=int, default=20, help="episodes of the final greedy evaluation")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="MOPPOConfig fields")
    args = parser.parse_args(argv)
    try:
        prefs = np.array([[float(x) for x in p.split(",")] for p in args.prefs])
    except ValueError as err:
        parser.error(f"--prefs: every preference is comma-separated numbers of one length ({err})")
    overrides = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.set)}
    torch.set_num_threads(1)
    start = time.perf_counter()
    probe(args.env, prefs, args.steps, MOPPOConfig(**overrides), args.seed, args.eval_episodes)
    print(f"wall {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
