"""Episodes on several multi-agent env copies at once, acting for all agents of all copies in one forward pass.

Used by MO-MIX for training (epsilon-greedy) and evaluation (greedy); the copies play in lockstep, a finished copy
waits (its later slots are padding) until the longest episode ends, so whole episodes come back for the replay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from morl.episode_buffer import Episodes
from morl.multiagent import MultiAgentEnv

# (obs (C, N, D), avail (C, N, A) bool, last actions (C, N) long, hidden) -> (actions (C, N) long, next hidden)
Policy = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class Rollout:
    """Undiscounted and discounted team returns per copy, env steps taken, and the episodes for replay."""

    returns: np.ndarray  # (C, m)
    discounted: np.ndarray  # (C, m)
    steps: int
    episodes: Episodes


@torch.no_grad()
def play(envs: list[MultiAgentEnv], policy: Policy, hidden: torch.Tensor, preference: torch.Tensor,
         seeds: list[int], gamma: float) -> Rollout:  # fmt: skip
    """One episode on every copy (reset with its seed), ``preference`` (C, m) recorded per episode.

    ``hidden`` is the policy's initial recurrent state for all agents of all copies.
    """
    c, dev, m, n = len(envs), preference.device, envs[0].reward_dim, envs[0].num_agents
    first = [env.reset(seed=s) for env, s in zip(envs, seeds, strict=True)]
    obs_t = [np.stack([o for o, _, _ in first])]  # each (C, N, D)
    state_t = [np.stack([s for _, s, _ in first])]  # each (C, S)
    avail_t = [np.stack([info["action_masks"] for _, _, info in first])]  # each (C, N, A)
    actions_t, rewards_t, done_t, filled_t = [], [], [], []
    alive = np.ones(c, dtype=bool)
    returns, discounted = np.zeros((c, m)), np.zeros((c, m))
    last = torch.full((c, n), -1, dtype=torch.long, device=dev)
    t, steps = 0, 0
    while alive.any():
        obs, avail = torch.as_tensor(obs_t[-1], device=dev), torch.as_tensor(avail_t[-1], device=dev)
        last, hidden = policy(obs, avail, last, hidden)
        acts = last.cpu().numpy()
        rew, done = np.zeros((c, m), np.float32), np.zeros(c, np.float32)
        nxt_o, nxt_s, nxt_a = obs_t[-1].copy(), state_t[-1].copy(), np.ones_like(avail_t[-1])
        for i in np.flatnonzero(alive):
            nxt_o[i], nxt_s[i], rew[i], ended, info = envs[i].step(acts[i])
            nxt_a[i], done[i] = info["action_masks"], float(ended)
        returns += rew
        discounted += gamma**t * rew
        filled_t.append(alive.copy())
        actions_t.append(np.where(alive[:, None], acts, 0))
        for seq, value in ((rewards_t, rew), (done_t, done), (obs_t, nxt_o), (state_t, nxt_s), (avail_t, nxt_a)):
            seq.append(value)
        steps += int(alive.sum())
        alive &= done == 0
        t += 1

    def stacked(seq: list[np.ndarray], dtype: torch.dtype = torch.float32) -> torch.Tensor:  # (C, T, ...)
        return torch.as_tensor(np.stack(seq, axis=1), dtype=dtype, device=dev)

    episodes = Episodes(obs=stacked(obs_t), state=stacked(state_t), avail=stacked(avail_t, torch.bool),
                        actions=stacked(actions_t, torch.long), rewards=stacked(rewards_t), terminated=stacked(done_t),
                        filled=stacked(filled_t, torch.bool), preference=preference)  # fmt: skip
    return Rollout(returns, discounted, steps, episodes)
