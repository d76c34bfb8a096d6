"""PC-SAC's networks: a preference-conditioned squashed-Gaussian actor and twin Q-vector critics."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from morl.nn import StackedLinear

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # SAC's clamp
TANH_EPS = 1e-6


def _mlp(in_dim: int, hidden: tuple[int, ...], out_dim: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_dim, width), nn.ReLU()]
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


class Actor(nn.Module):
    """``pi(a | s, w)``: a tanh-squashed diagonal Gaussian on ``[-1, 1]^A``."""

    def __init__(self, obs_dim: int, num_objectives: int, action_dim: int, net_arch: tuple[int, ...]) -> None:
        super().__init__()
        self.net = _mlp(obs_dim + num_objectives, net_arch, 2 * action_dim)

    def forward(self, obs: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(torch.cat([obs, w], dim=-1)).chunk(2, dim=-1)
        return mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)

    def sample(self, obs: torch.Tensor, w: torch.Tensor,
               generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """A reparameterised action (B, A) and its log-probability per action dimension (B, A), tanh included."""
        mean, log_std = self(obs, w)
        noise = torch.randn(mean.shape, device=mean.device, generator=generator)
        pre_tanh = mean + log_std.exp() * noise
        action = torch.tanh(pre_tanh)
        log_prob = -0.5 * noise.pow(2) - log_std - 0.5 * np.log(2 * np.pi) - torch.log1p(TANH_EPS - action.pow(2))
        return action, log_prob

    def act(self, obs: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """The deterministic action ``tanh(mean)``."""
        return torch.tanh(self(obs, w)[0])


class TwinCritic(nn.Module):
    """Two Q-vector networks ``Q_i(s, a, w) in R^m`` evaluated as one batched matmul per layer: -> (2, B, m)."""

    def __init__(self, obs_dim: int, num_objectives: int, action_dim: int, net_arch: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        last = obs_dim + action_dim + num_objectives
        for width in net_arch:
            layers += [StackedLinear(2, last, width, float(np.sqrt(2))), nn.ReLU()]
            last = width
        layers.append(StackedLinear(2, last, num_objectives, 1.0))
        self.net = nn.Sequential(*layers)

    def forward(self, obs: torch.Tensor, action: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = torch.cat([obs, action, w], dim=-1)
        return self.net(x.unsqueeze(0).expand(2, *x.shape))
