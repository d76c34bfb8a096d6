"""OPPO's networks: the segment encoder I_theta, the context-conditioned policy pi(a | s, z), and their losses.

The official code uses a BERT encoder and a GPT-2 policy (research/oppo.md §1.2); on our small
envs a GRU encoder and an MLP policy carry the same information (a segment's (s, a) sequence in,
one context out; a state and a context in, an action out) at a fraction of the cost.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from morl.data.segments import SegmentBatch


def _mlp(in_dim: int, hidden: tuple[int, ...], out_dim: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_dim, width), nn.ReLU()]
        in_dim = width
    return nn.Sequential(*layers, nn.Linear(in_dim, out_dim))


class SegmentEncoder(nn.Module):
    """``z = I_theta(tau)``: a GRU over (s_t, a_t) read up to each segment's last valid step, then linear to z."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: int, z_dim: int, discrete: bool) -> None:
        super().__init__()
        self.action_dim, self.discrete = action_dim, discrete
        self.embed = nn.Linear(obs_dim + action_dim, hidden)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, z_dim)

    def forward(self, batch: SegmentBatch) -> torch.Tensor:
        actions = F.one_hot(batch.actions, self.action_dim).float() if self.discrete else batch.actions
        x = torch.relu(self.embed(torch.cat([batch.obs, actions], dim=-1)))  # (B, K, H)
        states, _ = self.gru(x)  # (B, K, H)
        last = batch.mask.sum(1) - 1  # (B,) every segment holds at least its first step
        return self.out(states[torch.arange(len(last), device=last.device), last])  # (B, z)


class ContextPolicy(nn.Module):
    """``pi(a | s, z)``: logits over discrete actions, or a tanh mean in [-1, 1] for continuous ones."""

    def __init__(self, obs_dim: int, z_dim: int, action_dim: int, net_arch: tuple[int, ...], discrete: bool) -> None:
        super().__init__()
        self.discrete = discrete
        self.net = _mlp(obs_dim + z_dim, net_arch, action_dim)

    def forward(self, obs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        out = self.net(torch.cat([obs, z], dim=-1))
        return out if self.discrete else torch.tanh(out)

    def act(self, obs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The deterministic action: the most likely index, or the tanh mean."""
        out = self(obs, z)
        return out.argmax(-1) if self.discrete else out

    def imitation_loss(self, batch: SegmentBatch, z: torch.Tensor) -> torch.Tensor:
        """Hindsight information matching: BC of the segment's actions given its own context z (B, z_dim)."""
        steps = batch.obs.shape[1]
        out = self(batch.obs, z.unsqueeze(1).expand(-1, steps, -1))  # (B, K, A)
        mask = batch.mask
        if self.discrete:
            return F.cross_entropy(out[mask], batch.actions[mask])
        return F.mse_loss(out[mask], batch.actions[mask])


class ContextTable(nn.Module):
    """The official optimal contexts: one free vector z*_w per grid preference, nothing tying neighbours together."""

    def __init__(self, num_preferences: int, z_dim: int, init_std: float) -> None:
        super().__init__()
        self.z = nn.Parameter(torch.randn(num_preferences, z_dim) * init_std)  # (P, z)

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        return self.z


class ContextMap(nn.Module):
    """Ours: z*_w = f(w), one MLP over the preference, so that neighbouring preferences get neighbouring contexts.

    The table learns each z*_w from its own triplets only; on mountain car its returns then wander between
    neighbouring preferences while BC(P), a smooth function of w, moves with w (docs/algorithms/oppo.md).
    """

    def __init__(self, num_objectives: int, z_dim: int, hidden: tuple[int, ...] = (64, 64)) -> None:
        super().__init__()
        self.net = _mlp(num_objectives, hidden, z_dim)

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        return self.net(grid)


def preference_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float,
                    valid: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """OPPO's triplet loss: the optimal context nearer the preferred segment's embedding than the other's.

    ``valid`` (B,) drops tied pairs (the official scripted teacher drops them too).
    """
    losses = F.triplet_margin_loss(anchor, positive, negative, margin=margin, p=2, reduction="none")  # (B,)
    return (losses * valid).sum() / valid.sum().clamp(min=1)


def norm_loss(z: torch.Tensor) -> torch.Tensor:
    """The official regulariser ``MSE(||z||, 1)``: keeps embeddings on a common scale for the triplet margin."""
    return F.mse_loss(z.norm(dim=-1), torch.ones(len(z), device=z.device))
