"""CIP's causality-aware empowerment (Cao et al., ICLR 2025; research/cip.md §4 (d)): the inverse-dynamics model.

``q(a | s, s', w)`` is a tanh-squashed diagonal Gaussian over the squashed action ``a in [-1, 1]^A``,
the same family as the actor ``pi(a | s, w)``, so ``log q - log pi`` is a log-density ratio on one
space (their tanh corrections cancel). It is trained by maximum likelihood on replay transitions;
``E[log q(a | s, s') - log pi(a | s)]`` is then the standard variational lower bound on the
empowerment ``I(a; s' | s)``, which the actor is paid to raise. CIP weights each action
dimension's log-probability with the causal action weights ``|A| softmax(w . B_a)``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

TANH_EPS = 1e-6  # as the actor's tanh correction
ACTION_CLIP = 1.0 - 1e-6  # replay actions of exactly +-1 have no finite pre-tanh value


class InverseDynamics(nn.Module):
    """``q(a | s, s', w)``: which action took ``s`` to ``s'``, for preference ``w``.

    Args:
        obs_dim: flattened observation size S.
        num_objectives: m (the preference's size).
        action_dim: A.
        net_arch: hidden layers (ReLU).
        log_std_bounds: clamp of the log standard deviation (the actor's).
    """

    def __init__(self, obs_dim: int, num_objectives: int, action_dim: int, net_arch: tuple[int, ...],
                 log_std_bounds: tuple[float, float]) -> None:  # fmt: skip
        super().__init__()
        layers: list[nn.Module] = []
        last = 2 * obs_dim + num_objectives
        for width in net_arch:
            layers += [nn.Linear(last, width), nn.ReLU()]
            last = width
        layers.append(nn.Linear(last, 2 * action_dim))
        self.net = nn.Sequential(*layers)
        self.log_std_bounds = log_std_bounds

    def log_prob(self, obs: torch.Tensor, next_obs: torch.Tensor, w: torch.Tensor, action: torch.Tensor,
                 pre_tanh: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        """``log q(a_i | s, s', w)`` per action dimension, (B, A), tanh correction included.

        ``pre_tanh`` is ``atanh(action)`` when the caller has it (the actor's sample); otherwise it
        is recovered from the (clipped) action.
        """
        mean, log_std = self.net(torch.cat([obs, next_obs, w], dim=-1)).chunk(2, dim=-1)  # (B, A) each
        log_std = log_std.clamp(*self.log_std_bounds)
        if pre_tanh is None:
            pre_tanh = torch.atanh(action.clamp(-ACTION_CLIP, ACTION_CLIP))
        z = (pre_tanh - mean) / log_std.exp()
        return -0.5 * z.pow(2) - log_std - 0.5 * np.log(2 * np.pi) - torch.log1p(TANH_EPS - action.pow(2))

    def nll(self, obs: torch.Tensor, next_obs: torch.Tensor, w: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Maximum-likelihood loss on transitions: ``-mean_B sum_i log q(a_i | s, s', w)``."""
        return -self.log_prob(obs, next_obs, w, action).sum(-1).mean()
