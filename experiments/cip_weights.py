"""Does CIP's causal fit find what drives each reward of mo-halfcheetah-v5? (issue 10, research/cip.md §4 item 4)

Collects ``--samples`` transitions of a uniform random policy (pcsac's first ``learning_starts`` steps
act the same way), fits DirectLiNGAM on ``[s | a | r_1 .. r_m]`` exactly as pcsac does
(:func:`morl.cip.fit`: rewards as sinks, constant columns dropped), and prints each objective's
state weights ``|S| softmax(B_s[k])`` and action weights ``|A| softmax(B_a[k])``. For the velocity
objective the largest state weight should sit on observation index 8, the root's x-velocity.

    .venv/bin/python experiments/cip_weights.py --samples 10000 --fits 2

Prints the table, one JSON summary line last; exits 0 whatever the answer (the figure is reported).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from morl import cip

X_VELOCITY = 8  # mo-halfcheetah-v5 observation: qpos[1:] (8 values), then qvel; qvel[0] is the root x-velocity


def collect(env_id: str, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``samples`` transitions of uniform random actions: states (n, S), actions (n, A), rewards (n, m)."""
    import mo_gymnasium as mo_gym

    env = mo_gym.make(env_id)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    states, actions, rewards = [], [], []
    while len(states) < samples:
        action = env.action_space.sample()
        next_obs, reward, terminated, truncated, _ = env.step(action)
        states.append(obs)
        actions.append(action)
        rewards.append(reward)
        obs = env.reset()[0] if terminated or truncated else next_obs
    env.close()
    return np.asarray(states), np.asarray(actions), np.asarray(rewards)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="mo-halfcheetah-v5")
    parser.add_argument("--samples", type=int, default=10_000, help="transitions per fit (CIP: 10,000)")
    parser.add_argument("--fits", type=int, default=1, help="fits on independent batches (rank stability)")
    parser.add_argument("--standardize", action="store_true", help="z-score columns first (cip_standardize)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    np.set_printoptions(precision=3, suppress=True, linewidth=160)
    summary: dict = {"env": args.env, "samples": args.samples, "standardize": args.standardize, "fits": []}
    for k in range(args.fits):
        start = time.perf_counter()
        states, actions, rewards = collect(args.env, args.samples, args.seed + k)
        collected = time.perf_counter() - start
        fit = cip.fit(states, actions, rewards, args.standardize, seed=args.seed + k)
        state_w = cip.objective_weights(fit.state_effects)  # (m, S)
        action_w = cip.objective_weights(fit.action_effects)  # (m, A)
        print(f"fit {k}: {args.samples} transitions collected in {collected:.1f} s, DirectLiNGAM fit in "
              f"{fit.seconds:.1f} s")  # fmt: skip
        for j in range(len(state_w)):
            order = np.argsort(-state_w[j])
            print(f"  objective {j}: state effects B_s  {fit.state_effects[j]}")
            print(f"               state weights      {state_w[j]}  top dims {order[:3].tolist()}")
            print(f"               action effects B_a {fit.action_effects[j]}  weights {action_w[j]}")
        top = int(np.argmax(state_w[0]))
        print(f"  velocity objective's largest state weight: obs index {top} "
              f"({'the x-velocity' if top == X_VELOCITY else f'not the x-velocity, index {X_VELOCITY}'}: "
              f"weight {state_w[0, top]:.3f} vs {state_w[0, X_VELOCITY]:.3f} on index {X_VELOCITY})")  # fmt: skip
        summary["fits"].append({"seconds": round(fit.seconds, 2), "velocity_top_state": top,
                                "velocity_top3": np.argsort(-state_w[0])[:3].tolist(),
                                "x_velocity_weight": round(float(state_w[0, X_VELOCITY]), 4),
                                "x_velocity_effect": round(float(fit.state_effects[0, X_VELOCITY]), 4)})  # fmt: skip
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
