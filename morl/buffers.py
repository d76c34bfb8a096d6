"""Rollout storage with vector rewards, and per-objective GAE.

Gymnasium vector envs reset a finished sub-env on the *next* ``step`` call (next-step
autoreset). That step's transition (final obs -> reset obs, reward 0) is not real experience:
``valid`` marks it False, it gets no advantage, and it breaks the GAE chain.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Rollout:
    """One rollout of ``T`` steps with ``m`` objectives (tensors on one device).

    ``E`` below is the env index: ``(N,)`` envs, or ``(P, N)`` for a population of P policies
    with N envs each; GAE is elementwise over it.
    """

    obs: torch.Tensor  # (T, *E, D) policy inputs (flattened, normalised as the policy saw them)
    actions: torch.Tensor  # (T, *E, *act_shape)
    log_probs: torch.Tensor  # (T, *E)
    values: torch.Tensor  # (T, *E, m) critic output, normalised return units
    rewards: torch.Tensor  # (T, *E, m) normalised rewards
    terminated: torch.Tensor  # (T, *E) bool
    truncated: torch.Tensor  # (T, *E) bool
    valid: torch.Tensor  # (T, *E) bool: False on autoreset steps
    next_value: torch.Tensor  # (*E, m) critic value of the observation after the last step

    @property
    def num_transitions(self) -> int:
        return int(self.valid.sum().item())


def vector_gae(rollout: Rollout, gamma: float, gae_lambda: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates per objective, and the matching return targets.

    Returns ``(advantages, returns)``, both (T, *E, m). A terminated step does not bootstrap; a
    truncated one bootstraps from the value of its final observation, which is the input
    observation of the following (autoreset) step.
    """
    values, rewards = rollout.values, rollout.rewards
    steps = values.shape[0]
    next_values = torch.cat([values[1:], rollout.next_value.unsqueeze(0)], dim=0)  # (T, *E, m)
    not_terminal = (~rollout.terminated).unsqueeze(-1).to(values.dtype)
    episode_goes_on = (~(rollout.terminated | rollout.truncated)).unsqueeze(-1).to(values.dtype)
    valid = rollout.valid.unsqueeze(-1).to(values.dtype)
    advantages = torch.zeros_like(values)
    last = torch.zeros_like(values[0])
    for t in reversed(range(steps)):
        delta = rewards[t] + gamma * not_terminal[t] * next_values[t] - values[t]
        last = valid[t] * (delta + gamma * gae_lambda * episode_goes_on[t] * last)
        advantages[t] = last
    return advantages, advantages + values
