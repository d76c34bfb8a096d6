"""CIP's causality-aware empowerment (Cao et al., ICLR 2025; research/cip.md §4 (d)): the inverse-dynamics model.

``q(u | s, s', w)`` is a diagonal Gaussian over the actor's pre-tanh action ``u = atanh(a)``, trained
by maximum likelihood on replay transitions. Since tanh is a bijection, ``I(a; s' | s) = H(u | s) -
H(u | s, s')``, and ``E[log q(u | s, s')]`` bounds ``-H(u | s, s')`` from below: the part of the
empowerment that SAC's entropy term does not already pay for. PC-SAC adds it, weighted per action
dimension by CIP's causal action weights ``|A| softmax(w . B_a)``, to the reward of each replay
transition (docs/algorithms/cip.md, "Empowerment as a reward"). The standard deviation has a floor, so
the bonus is bounded where the dynamics are deterministic and ``H(u | s, s')`` has no lower bound.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

LOG_STD_BOUNDS = (-5.0, 2.0)  # the floor bounds the bonus: at most 5 - log(2 pi) / 2 = 4.1 per action dimension
ACTION_CLIP = 1.0 - 1e-6  # replay actions of exactly +-1 have no finite pre-tanh value


class InverseDynamics(nn.Module):
    """``q(u | s, s', w)``: which (pre-tanh) action took ``s`` to ``s'``, for preference ``w``.

    Args:
        obs_dim: flattened observation size S.
        num_objectives: m (the preference's size).
        action_dim: A.
        net_arch: hidden layers (ReLU).
        log_std_bounds: clamp of the log standard deviation.
    """

    def __init__(self, obs_dim: int, num_objectives: int, action_dim: int, net_arch: tuple[int, ...],
                 log_std_bounds: tuple[float, float] = LOG_STD_BOUNDS) -> None:  # fmt: skip
        super().__init__()
        layers: list[nn.Module] = []
        last = 2 * obs_dim + num_objectives
        for width in net_arch:
            layers += [nn.Linear(last, width), nn.ReLU()]
            last = width
        layers.append(nn.Linear(last, 2 * action_dim))
        self.net = nn.Sequential(*layers)
        self.log_std_bounds = log_std_bounds

    def log_prob(self, obs: torch.Tensor, next_obs: torch.Tensor, w: torch.Tensor,
                 action: torch.Tensor) -> torch.Tensor:  # fmt: skip
        """``log q(u_i | s, s', w)`` per action dimension, (B, A), for the squashed ``action`` (``u = atanh(a)``).

        A density on ``u``, not on ``a``: the tanh Jacobian does not depend on q, so maximum likelihood
        is the same, and the bonus does not pay for saturated actions, where the Jacobian explodes.
        """
        mean, log_std = self.net(torch.cat([obs, next_obs, w], dim=-1)).chunk(2, dim=-1)  # (B, A) each
        log_std = log_std.clamp(*self.log_std_bounds)
        z = (torch.atanh(action.clamp(-ACTION_CLIP, ACTION_CLIP)) - mean) / log_std.exp()
        return -0.5 * z.pow(2) - log_std - 0.5 * np.log(2 * np.pi)

    def nll(self, obs: torch.Tensor, next_obs: torch.Tensor, w: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Maximum-likelihood loss on transitions: ``-mean_B sum_i log q(u_i | s, s', w)``."""
        return -self.log_prob(obs, next_obs, w, action).sum(-1).mean()
