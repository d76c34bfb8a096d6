"""Actor-critic policies, single and stacked into a population.

Kept apart from the learners so that every learner (MO-PPO's update, and off-policy or
multi-agent learners to come) and the archive share one policy layout: an archived
:class:`ActorCritic` state dict is member ``p`` of a :class:`PopulationActorCritic`, whoever trained it.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from morl.nn import RunningNorm, mlp, stacked_mlp

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class ActorCritic(nn.Module):
    """Separate actor and vector critic MLPs; Gaussian (state-independent std) or categorical actor.

    The module holds its own observation normaliser and per-objective return scale, so one
    ``state_dict`` is all an archived policy needs. :class:`PopulationActorCritic` has the same
    state-dict keys with a leading member dimension, so member ``p`` of a population is
    ``{k: v[p]}``.
    """

    batch_dims = 1  # leading dims before the features: (B, D)

    def __init__(self, obs_space: gym.Space, act_space: gym.Space, num_objectives: int, net_arch: tuple[int, ...]):
        super().__init__()
        obs_dim, act_dim = self._dims(obs_space, act_space)
        self.obs_norm = RunningNorm(obs_dim)
        self.return_norm = RunningNorm(num_objectives)
        self.actor = mlp(obs_dim, net_arch, act_dim, out_gain=0.01)
        self.critic = mlp(obs_dim, net_arch, num_objectives, out_gain=1.0)
        self.log_std = None if self.discrete else nn.Parameter(torch.zeros(act_dim))

    def _dims(self, obs_space: gym.Space, act_space: gym.Space) -> tuple[int, int]:
        self.discrete = isinstance(act_space, gym.spaces.Discrete)
        if not self.discrete and not isinstance(act_space, gym.spaces.Box):
            raise ValueError(f"MO-PPO supports Discrete and Box actions, got {act_space}")
        return int(np.prod(obs_space.shape)), int(act_space.n) if self.discrete else int(np.prod(act_space.shape))

    def _log_std(self) -> torch.Tensor:
        """``log_std`` shaped to broadcast against the actor output."""
        return self.log_std

    def features(self, obs: torch.Tensor, normalize: bool) -> torch.Tensor:
        flat = obs.reshape(*obs.shape[: self.batch_dims], -1).float()
        return self.obs_norm(flat) if normalize else flat

    def sample(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A sampled action per row of ``x`` and its log-probability.

        Written out rather than through ``torch.distributions``: acting is the inner loop of
        every rollout, and the distribution objects cost more than the small networks do.
        """
        out = self.actor(x)
        if self.discrete:
            log_p = torch.log_softmax(out, -1)
            action = torch.multinomial(log_p.exp().reshape(-1, out.shape[-1]), 1).reshape(*out.shape[:-1], 1)
            return action.squeeze(-1), log_p.gather(-1, action).squeeze(-1)
        log_std = self._log_std()
        noise = torch.randn_like(out)
        action = out + log_std.exp() * noise
        return action, (-0.5 * noise.pow(2) - log_std - _LOG_SQRT_2PI).sum(-1)

    def log_prob_entropy(self, x: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability of ``actions`` and the policy entropy, per row of ``x``."""
        out = self.actor(x)
        if self.discrete:
            log_p = torch.log_softmax(out, -1)
            entropy = -(log_p.exp() * log_p).sum(-1)
            return log_p.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1), entropy
        log_std = self._log_std()
        z = (actions - out) * torch.exp(-log_std)
        log_prob = (-0.5 * z.pow(2) - log_std - _LOG_SQRT_2PI).sum(-1)
        return log_prob, (0.5 + _LOG_SQRT_2PI + log_std).sum(-1).expand(out.shape[:-1])

    def mode(self, x: torch.Tensor) -> torch.Tensor:
        """Most likely action: argmax for categorical, the mean for Gaussian."""
        out = self.actor(x)
        return out.argmax(-1) if self.discrete else out

    def to_env(self, action: torch.Tensor, act_space: gym.Space) -> np.ndarray:
        """Sampled actions as the env expects them (ints, or clipped to the Box bounds)."""
        out = action.cpu().numpy()
        return out.astype(np.int64) if self.discrete else np.clip(out, act_space.low, act_space.high)

    @torch.no_grad()
    def act(self, obs: np.ndarray, act_space: gym.Space, normalize_obs: bool, deterministic: bool = True) -> np.ndarray:
        """Actions for a batch of raw observations; the mode of the policy when ``deterministic``."""
        x = self.features(torch.as_tensor(obs, device=self.critic[0].weight.device), normalize_obs)
        return self.to_env(self.mode(x) if deterministic else self.sample(x)[0], act_space)


class PopulationActorCritic(ActorCritic):
    """``members`` independent :class:`ActorCritic` policies stacked for batched training."""

    batch_dims = 2  # (P, B, D)

    def __init__(self, obs_space: gym.Space, act_space: gym.Space, num_objectives: int, net_arch: tuple[int, ...],
                 members: int):  # fmt: skip
        nn.Module.__init__(self)
        obs_dim, act_dim = self._dims(obs_space, act_space)
        self.members = members
        self.obs_norm = RunningNorm(obs_dim, members=members)
        self.return_norm = RunningNorm(num_objectives, members=members)
        self.actor = stacked_mlp(members, obs_dim, net_arch, act_dim, out_gain=0.01)
        self.critic = stacked_mlp(members, obs_dim, net_arch, num_objectives, out_gain=1.0)
        self.log_std = None if self.discrete else nn.Parameter(torch.zeros(members, act_dim))

    def _log_std(self) -> torch.Tensor:
        return self.log_std.unsqueeze(1)

    def member_state(self, member: int) -> dict[str, torch.Tensor]:
        """Member ``member`` as an :class:`ActorCritic` state dict (a CPU copy)."""
        return {k: v[member].detach().cpu().clone() for k, v in self.state_dict().items()}

    @torch.no_grad()
    def load_member(self, member: int, state: dict[str, torch.Tensor]) -> None:
        """Overwrite member ``member`` with an :class:`ActorCritic` state dict."""
        own = self.state_dict()
        if set(state) != set(own):
            raise ValueError(f"policy state keys {sorted(state)} do not match {sorted(own)}")
        for key, value in state.items():
            if own[key][member].shape != value.shape:
                raise ValueError(f"policy state {key!r} has shape {tuple(value.shape)}, "
                                 f"expected {tuple(own[key][member].shape)}")  # fmt: skip
            own[key][member].copy_(value)
