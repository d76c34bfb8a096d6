"""Fixed-length trajectory segments of a dataset, gathered on the device in one indexing op per field.

OPPO's encoder reads segments of ``length`` steps, and its scripted teacher scores a segment by the
return over ``lookahead`` steps from its start (research/oppo.md §1.4: K = 20, look-ahead 200),
never past its episode's end. Segments that run past their episode's end are padded and masked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from morl import spaces


@dataclass
class SegmentBatch:
    """A batch of segments. ``obs`` (B, K, D) flat; ``actions`` (B, K) long or (B, K, A) in [-1, 1]; ``mask`` (B, K)."""

    obs: torch.Tensor
    actions: torch.Tensor
    mask: torch.Tensor


class Segments:
    """Every segment start of a :class:`~morl.data.Dataset`, with its episode's end and look-ahead returns.

    Continuous actions are rescaled from the action space's bounds into [-1, 1] (the tanh range
    the policy predicts); discrete actions are kept as indices.
    """

    def __init__(self, dataset, length: int, lookahead: int, device: torch.device) -> None:
        space = dataset.action_space
        self.discrete = hasattr(space, "n")
        ends = dataset.episode_ends  # (E,)
        episode = np.searchsorted(ends, np.arange(len(dataset.rewards)))  # (N,) episode of each row
        self.length = int(min(length, np.diff(np.concatenate([[-1], ends])).max()))
        self.lookahead = int(lookahead)
        self.device = device
        self.obs = spaces.flatten(dataset.observation_space, dataset.observations, device)  # (N, D)
        if self.discrete:
            self.actions = torch.as_tensor(np.asarray(dataset.actions) - int(space.start), device=device).long()
        else:
            low, high = np.asarray(space.low, np.float64).reshape(-1), np.asarray(space.high, np.float64).reshape(-1)
            flat = np.asarray(dataset.actions, np.float64).reshape(len(dataset.rewards), -1)
            scaled = np.clip(2.0 * (flat - low) / (high - low) - 1.0, -1.0, 1.0)
            self.actions = torch.as_tensor(scaled, dtype=torch.float32, device=device)  # (N, A)
        self.episode_end = torch.as_tensor(ends[episode], device=device)  # (N,) last row of each row's episode
        starts = np.concatenate([[0], ends[:-1] + 1])
        self.episode_start = torch.as_tensor(starts[episode], device=device)  # (N,) first row of each row's episode
        self.cumulative = torch.as_tensor(
            np.concatenate([np.zeros((1, dataset.num_objectives)), np.cumsum(dataset.rewards, axis=0)]),
            dtype=torch.float64,
            device=device,
        )  # (N + 1, m)
        self.size = len(dataset.rewards)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` segment starts (rows), uniform over every step of the data."""
        return torch.randint(self.size, (n,), device=self.device, generator=generator)

    def gather(self, starts: torch.Tensor) -> SegmentBatch:
        """The segments starting at ``starts`` (B,), padded with their last step and masked beyond their episode."""
        steps = starts.unsqueeze(1) + torch.arange(self.length, device=self.device)  # (B, K)
        end = self.episode_end[starts].unsqueeze(1)  # (B, 1)
        mask = steps <= end
        rows = torch.minimum(steps, end)
        return SegmentBatch(self.obs[rows], self.actions[rows], mask)

    def returns(self, starts: torch.Tensor) -> torch.Tensor:
        """The return vector over ``lookahead`` steps from each start, cut at its episode's end: (B, m)."""
        stop = torch.minimum(starts + self.lookahead, self.episode_end[starts] + 1)
        return (self.cumulative[stop] - self.cumulative[starts]).float()

    def episode_returns(self, starts: torch.Tensor) -> torch.Tensor:
        """The return vector of the whole episode each start lies in: (B, m)."""
        return (self.cumulative[self.episode_end[starts] + 1] - self.cumulative[self.episode_start[starts]]).float()
