"""Rollout storage with vector rewards, per-objective GAE, and a replay buffer of vector-reward transitions.

Gymnasium vector envs reset a finished sub-env on the *next* ``step`` call (next-step
autoreset). That step's transition (final obs -> reset obs, reward 0) is not real experience:
``valid`` marks it False, it gets no advantage, and it breaks the GAE chain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

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
    reward_scale: torch.Tensor | None = None  # (P, m) what ``rewards`` were divided by (None: 1)

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


@dataclass
class Transitions:
    """A batch of ``B`` single-step transitions with vector rewards (tensors on one device)."""

    obs: torch.Tensor  # (B, D)
    actions: torch.Tensor  # (B, A)
    rewards: torch.Tensor  # (B, m)
    next_obs: torch.Tensor  # (B, D) the real next observation (the final one for a truncated step)
    terminated: torch.Tensor  # (B,) float: 1.0 where the episode ended in a terminal state (no bootstrap)
    log_probs: torch.Tensor  # (B, A) the acting policy's log-density of each pre-tanh action dimension (0: unrecorded)

    def __len__(self) -> int:
        return int(self.obs.shape[0])

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Transitions:
        """The same fields, each transformed by ``fn`` (indexing, repeating: one rule for every field)."""
        return Transitions(*(fn(getattr(self, f.name)) for f in fields(self)))


class ReplayBuffer:
    """Fixed-capacity ring of transitions with vector rewards, kept on ``device``.

    :meth:`add` takes one vector-env step of ``N`` sub-envs and a ``valid`` mask: with
    Gymnasium's next-step autoreset, the step after a terminated or truncated one only resets
    the sub-env (final obs -> first obs, reward 0); it is no transition and must not be stored.
    The truncating step itself keeps its real final observation as ``next_obs`` and is stored
    with ``terminated = 0``, so it bootstraps. The oldest transitions are overwritten once full.
    """

    def __init__(self, capacity: int, obs_dim: int, action_dim: int, num_objectives: int,
                 device: torch.device | str = "cpu") -> None:  # fmt: skip
        if capacity < 1:
            raise ValueError(f"buffer capacity must be >= 1, got {capacity}")
        self.capacity, self.device = int(capacity), torch.device(device)
        self.obs = torch.zeros(capacity, obs_dim, device=self.device)
        self.actions = torch.zeros(capacity, action_dim, device=self.device)
        self.rewards = torch.zeros(capacity, num_objectives, device=self.device)
        self.next_obs = torch.zeros(capacity, obs_dim, device=self.device)
        self.terminated = torch.zeros(capacity, device=self.device)
        self.log_probs = torch.zeros(capacity, action_dim, device=self.device)
        self.pos = 0  # next row to write
        self.size = 0  # rows holding transitions
        self.added = 0  # transitions ever stored (the ring's age; newest is row (pos - 1) % capacity)

    def __len__(self) -> int:
        return self.size

    def add(self, obs: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor, next_obs: torch.Tensor,
            terminated: torch.Tensor, valid: torch.Tensor, log_probs: torch.Tensor | None = None) -> int:  # fmt: skip
        """Store the rows of one vector step where ``valid`` (all ``(N, ...)``); return how many.

        ``log_probs`` (N, A), the acting policy's pre-tanh log-density per action dimension, is kept for
        bonuses that need the behaviour's density (CIP's pointwise empowerment); None stores zeros.
        """
        keep = valid.to(self.device, torch.bool)
        rows = int(keep.sum())
        if rows == 0:
            return 0
        if rows > self.capacity:
            raise ValueError(f"{rows} transitions in one step do not fit a buffer of capacity {self.capacity}")
        index = (self.pos + torch.arange(rows, device=self.device)) % self.capacity
        self.obs[index] = obs[keep]
        self.actions[index] = actions[keep]
        self.rewards[index] = rewards[keep].to(self.rewards.dtype)
        self.next_obs[index] = next_obs[keep]
        self.terminated[index] = terminated.to(self.device)[keep].to(self.terminated.dtype)
        self.log_probs[index] = 0.0 if log_probs is None else log_probs[keep].to(self.log_probs.dtype)
        self.pos = (self.pos + rows) % self.capacity
        self.size = min(self.size + rows, self.capacity)
        self.added += rows
        return rows

    def _take(self, index: torch.Tensor) -> Transitions:
        return Transitions(self.obs[index], self.actions[index], self.rewards[index], self.next_obs[index],
                           self.terminated[index], self.log_probs[index])  # fmt: skip

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Transitions:
        """``batch_size`` transitions drawn uniformly with replacement."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        index = torch.randint(self.size, (batch_size,), device=self.device, generator=generator)
        return self._take(index)

    def latest(self, count: int) -> Transitions:
        """The newest ``min(count, len(self))`` transitions, oldest first."""
        count = min(count, self.size)
        return self._take((self.pos - count + torch.arange(count, device=self.device)) % self.capacity)

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        """The filled rows in ring order (rows ``[0, len)``: the ring fills from row 0) and the counters."""
        rows = slice(0, self.size)
        return {"obs": self.obs[rows].cpu(), "actions": self.actions[rows].cpu(), "rewards": self.rewards[rows].cpu(),
                "next_obs": self.next_obs[rows].cpu(), "terminated": self.terminated[rows].cpu(),
                "log_probs": self.log_probs[rows].cpu(), "pos": self.pos, "added": self.added}  # fmt: skip

    def load_state_dict(self, state: dict[str, torch.Tensor | int]) -> None:
        """Restore :meth:`state_dict`: the same rows at the same places, so sampling continues as before."""
        rows = int(state["obs"].shape[0])
        if rows > self.capacity or tuple(state["obs"].shape[1:]) != tuple(self.obs.shape[1:]):
            raise ValueError(f"saved replay of {tuple(state['obs'].shape)} does not fit a buffer of "
                             f"{(self.capacity, *self.obs.shape[1:])}")  # fmt: skip
        for name in ("obs", "actions", "rewards", "next_obs", "terminated", "log_probs"):
            getattr(self, name).zero_()
            if name in state:  # replays saved before log_probs was kept restore without it (zeros)
                getattr(self, name)[:rows] = state[name].to(self.device)
        self.size, self.pos, self.added = rows, int(state["pos"]), int(state["added"])
