"""What learning costs on top of simulation for MO-MIX: env steps/s of training against raw stepping.

    python experiments/momix_throughput.py [--envs moitem_gathering_2obj_v0 mo_spread_v0] [--steps 20000]
                                           [--n-envs 8] [--threads 1]

For each env, on the same ``n_envs`` env copies that MO-MIX trains on, three rates in env steps per second:

- **raw**: whole episodes with uniformly random available actions, the copies stepped in lockstep by the same
  rollout code (no network): what simulation alone costs;
- **acting**: the same episodes with MO-MIX's epsilon-greedy policy (one batched forward pass of the recurrent
  agent network per step for every agent of every copy), no learning;
- **training**: ``learn`` for ``--steps`` env steps with the env's preset (acting, replay, gradient steps,
  target updates; evaluation only once, at the end, which is included).

One torch thread by default, as the benchmarks. Speed on a shared machine drifts: compare rates of one run only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from morl.agents.momix import MOMIX  # noqa: E402
from morl.agents.momix_rollout import play  # noqa: E402


def random_policy(generator: torch.Generator):
    """Uniform over each agent's available actions; the hidden state passes through untouched."""

    def policy(obs: torch.Tensor, avail: torch.Tensor, last: torch.Tensor, hidden: torch.Tensor):
        c, n, a = avail.shape
        probs = avail.reshape(c * n, a).float()
        return torch.multinomial(probs, 1, generator=generator).reshape(c, n), hidden

    return policy


def episodes_rate(run_round, min_steps: int) -> float:
    """Env steps per second of repeated rounds of episodes until at least ``min_steps`` steps."""
    steps, start = 0, time.perf_counter()
    while steps < min_steps:
        steps += run_round()
    return steps / (time.perf_counter() - start)


def measure(env_id: str, steps: int, n_envs: int, seed: int) -> dict[str, float]:
    agent = MOMIX(env_id, seed=seed, device="cpu", n_envs=n_envs, eval_interval=10 * steps)
    envs = agent._train_envs  # the copies training steps; measured as they are, not rebuilt
    generator = torch.Generator().manual_seed(seed)
    counter = iter(range(10**9))
    pref = torch.full((n_envs, agent.num_objectives), 1.0 / agent.num_objectives)
    hidden = torch.zeros(n_envs * agent.n_agents, agent.net.hidden_dim)

    def raw_round() -> int:
        seeds = [next(counter) for _ in range(n_envs)]
        return play(envs, random_policy(generator), hidden, pref, seeds, agent.gamma).steps

    def acting_round() -> int:
        seeds = [next(counter) for _ in range(n_envs)]
        return agent._play(envs, agent._training_preferences(n_envs), seeds, agent.epsilon).steps

    sample = steps // 2  # raw and acting: half the training steps each
    raw = episodes_rate(raw_round, sample)
    acting = episodes_rate(acting_round, sample)
    start = time.perf_counter()
    agent.learn(steps, progress_bar=False)
    training = agent.num_timesteps / (time.perf_counter() - start)
    return {"raw": raw, "acting": acting, "training": training, "agents": agent.n_agents}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["moitem_gathering_2obj_v0", "mo_spread_v0"])
    parser.add_argument("--steps", type=int, default=20_000, help="env steps of training per env")
    parser.add_argument("--n-envs", type=int, default=8, help="env copies (MO-MIX's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print("| env | agents | raw random steps/s | acting steps/s | training steps/s | training / raw |")
    print("|---|---|---|---|---|---|")
    for env_id in args.envs:
        rates = measure(env_id, args.steps, args.n_envs, args.seed)
        print(f"| {env_id} | {rates['agents']} | {rates['raw']:,.0f} | {rates['acting']:,.0f} | "
              f"{rates['training']:,.0f} | {rates['training'] / rates['raw']:.2f} |", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
