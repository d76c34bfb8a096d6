"""Actor-critic policies, single and stacked into a population.

Kept apart from the learners so that every learner (MO-PPO's update, and off-policy or
multi-agent learners to come) and the archive share one policy layout: an archived
:class:`ActorCritic` state dict is member ``p`` of a :class:`PopulationActorCritic`, whoever trained it.

Observations (:mod:`morl.spaces`): vectors, and Dict / Tuple / discrete observations flattened
into one, go to separate actor and critic MLPs through a running normaliser; images go through
a NatureCNN encoder (Stable-Baselines3's design) shared by actor and critic, as SB3's
``CnnPolicy`` does. Actions: categorical (``Discrete``), one categorical per component
(``MultiDiscrete``), one Bernoulli per bit (``MultiBinary``) or a Gaussian (``Box``), as SB3's PPO.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces as gs
from torch import nn
from torch.nn import functional as F

from morl import spaces
from morl.nn import RunningNorm, StackedNatureCNN, mlp, nature_cnn, stacked_mlp

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
CNN_FEATURES = 512  # NatureCNN's output width


# --- action distributions ------------------------------------------------------------------------
# Written out rather than through ``torch.distributions``: acting is the inner loop of every
# rollout, and the distribution objects cost more than the small networks do.
class _Head(nn.Module):
    """How the actor's output becomes actions, their log-probability and the entropy, for one action space."""

    out_dim: int
    continuous = False

    def sample(self, out: torch.Tensor, log_std: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def log_prob_entropy(self, out: torch.Tensor, actions: torch.Tensor,
                         log_std: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        raise NotImplementedError

    def mode(self, out: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def to_env(self, actions: np.ndarray, space: gym.Space) -> np.ndarray:
        raise NotImplementedError


class _Categorical(_Head):
    """``Discrete(n)``: one categorical; actions (...,)."""

    def __init__(self, space: gs.Discrete) -> None:
        super().__init__()
        self.out_dim, self.start = int(space.n), int(space.start)

    def sample(self, out, log_std):
        log_p = torch.log_softmax(out, -1)
        action = torch.multinomial(log_p.exp().reshape(-1, out.shape[-1]), 1).reshape(*out.shape[:-1], 1)
        return action.squeeze(-1), log_p.gather(-1, action).squeeze(-1)

    def log_prob_entropy(self, out, actions, log_std):
        log_p = torch.log_softmax(out, -1)
        entropy = -(log_p.exp() * log_p).sum(-1)
        return log_p.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1), entropy

    def mode(self, out):
        return out.argmax(-1)

    def to_env(self, actions, space):
        return actions.astype(np.int64) + self.start


class _FactorisedCategorical(_Head):
    """``MultiDiscrete(nvec)``: one independent categorical per component; actions (..., K).

    The components' logits are laid out in a padded (K, max n) grid, masked to -inf past each
    ``n_k``, so every component is sampled and scored in the same batched op.
    """

    def __init__(self, space: gs.MultiDiscrete) -> None:
        super().__init__()
        nvec = space.nvec.reshape(-1).astype(np.int64)
        self.out_dim, width = int(nvec.sum()), int(nvec.max())
        offsets = np.concatenate([[0], np.cumsum(nvec)[:-1]])
        grid = np.arange(width)[None, :]
        valid = grid < nvec[:, None]  # (K, max n)
        self.register_buffer("index", torch.as_tensor(np.where(valid, offsets[:, None] + grid, 0)), persistent=False)
        self.register_buffer("valid", torch.as_tensor(valid), persistent=False)
        self.start = space.start.reshape(-1).astype(np.int64)

    def _log_p(self, out: torch.Tensor) -> torch.Tensor:
        logits = out[..., self.index].masked_fill(~self.valid, -math.inf)  # (..., K, max n)
        return torch.log_softmax(logits, -1)

    def sample(self, out, log_std):
        log_p = self._log_p(out)
        action = torch.multinomial(log_p.exp().reshape(-1, log_p.shape[-1]), 1).reshape(*log_p.shape[:-1], 1)
        return action.squeeze(-1), log_p.gather(-1, action).squeeze(-1).sum(-1)

    def log_prob_entropy(self, out, actions, log_std):
        log_p = self._log_p(out)
        entropy = -(log_p.exp() * log_p.masked_fill(~self.valid, 0.0)).sum((-1, -2))
        return log_p.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1).sum(-1), entropy

    def mode(self, out):
        return self._log_p(out).argmax(-1)

    def to_env(self, actions, space):
        return (actions.astype(np.int64) + self.start).reshape(-1, *space.shape).astype(space.dtype)


class _Bernoulli(_Head):
    """``MultiBinary(n)``: one Bernoulli per bit, the actor's output being its logit; actions (..., n) in {0, 1}."""

    def __init__(self, space: gs.MultiBinary) -> None:
        super().__init__()
        self.out_dim = int(np.prod(space.shape))

    @staticmethod
    def _log_prob(out: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return (actions * F.logsigmoid(out) + (1.0 - actions) * F.logsigmoid(-out)).sum(-1)

    def sample(self, out, log_std):
        action = torch.bernoulli(torch.sigmoid(out))
        return action, self._log_prob(out, action)

    def log_prob_entropy(self, out, actions, log_std):
        return self._log_prob(out, actions.float()), -self._log_prob(out, torch.sigmoid(out))

    def mode(self, out):
        return (out > 0).float()

    def to_env(self, actions, space):
        return actions.reshape(-1, *space.shape).astype(space.dtype)


class _Gaussian(_Head):
    """``Box``: a Gaussian with a state-independent std; actions (..., dim), clipped to the bounds for the env."""

    continuous = True

    def __init__(self, space: gs.Box) -> None:
        super().__init__()
        self.out_dim = int(np.prod(space.shape))

    def sample(self, out, log_std):
        noise = torch.randn_like(out)
        action = out + log_std.exp() * noise
        return action, (-0.5 * noise.pow(2) - log_std - _LOG_SQRT_2PI).sum(-1)

    def log_prob_entropy(self, out, actions, log_std):
        z = (actions - out) * torch.exp(-log_std)
        log_prob = (-0.5 * z.pow(2) - log_std - _LOG_SQRT_2PI).sum(-1)
        return log_prob, (0.5 + _LOG_SQRT_2PI + log_std).sum(-1).expand(out.shape[:-1])

    def mode(self, out):
        return out

    def to_env(self, actions, space):
        return np.clip(actions.reshape(-1, *space.shape), space.low, space.high)


_HEADS: dict[str, type[_Head]] = {"Discrete": _Categorical, "MultiDiscrete": _FactorisedCategorical,
                                  "MultiBinary": _Bernoulli, "Box": _Gaussian}  # fmt: skip
ACTION_KINDS = tuple(_HEADS)
OBSERVATION_KINDS = ("Box", "image", "Discrete", "MultiDiscrete", "MultiBinary", "Dict", "Tuple")


def _head(space: gym.Space) -> _Head:
    kind = spaces.kind(space)
    if kind not in _HEADS:
        raise ValueError(f"actor-critic policies act in {', '.join(ACTION_KINDS)} spaces, got {space}")
    return _HEADS[kind](space)


class ActorCritic(nn.Module):
    """Actor and vector critic; Gaussian, categorical, factorised categorical or Bernoulli actor.

    The module holds its own observation normaliser (vector observations) and per-objective
    return scale, so one ``state_dict`` is all an archived policy needs. Vector observations go
    to separate actor and critic MLPs; images to a NatureCNN ``encoder`` shared by both heads.
    :class:`PopulationActorCritic` has the same state-dict keys with a leading member dimension,
    so member ``p`` of a population is ``{k: v[p]}``.

    Acting and training go in three steps: :meth:`preprocess` (raw env observations -> the
    tensor a rollout stores: normalised vectors or uint8 images), :meth:`encode` (-> features)
    and the heads (:meth:`sample`, :meth:`log_prob_entropy`, :meth:`mode`, ``critic``).
    """

    batch_dims = 1  # leading dims before the features: (B, D)

    def __init__(self, obs_space: gym.Space, act_space: gym.Space, num_objectives: int, net_arch: tuple[int, ...],
                 image_size: int = spaces.DEFAULT_IMAGE_SIZE):  # fmt: skip
        super().__init__()
        self._build(obs_space, act_space, num_objectives, net_arch, image_size, None)

    def _build(self, obs_space: gym.Space, act_space: gym.Space, num_objectives: int, net_arch: tuple[int, ...],
               image_size: int, members: int | None) -> None:  # fmt: skip
        kind = spaces.kind(obs_space)
        if kind not in OBSERVATION_KINDS:
            raise ValueError(f"actor-critic policies take {', '.join(OBSERVATION_KINDS)} observations, got {obs_space}")
        self.encoding = spaces.ObsEncoding(obs_space, image_size)
        self.head = _head(act_space)
        self.discrete = not self.head.continuous
        stacked = members is not None
        if self.encoding.is_image:
            self.obs_norm = None
            self.encoder = (StackedNatureCNN(members, self.encoding.shape, CNN_FEATURES) if stacked
                            else nature_cnn(self.encoding.shape, CNN_FEATURES))  # fmt: skip
            in_dim = CNN_FEATURES
        else:
            in_dim = self.encoding.shape[0]
            self.obs_norm = RunningNorm(in_dim, members=members)
            self.encoder = None
        self.return_norm = RunningNorm(num_objectives, members=members)
        if stacked:
            self.actor = stacked_mlp(members, in_dim, net_arch, self.head.out_dim, out_gain=0.01)
            self.critic = stacked_mlp(members, in_dim, net_arch, num_objectives, out_gain=1.0)
        else:
            self.actor = mlp(in_dim, net_arch, self.head.out_dim, out_gain=0.01)
            self.critic = mlp(in_dim, net_arch, num_objectives, out_gain=1.0)
        lead = () if members is None else (members,)
        self.log_std = nn.Parameter(torch.zeros(*lead, self.head.out_dim)) if self.head.continuous else None

    def _log_std(self) -> torch.Tensor | None:
        """``log_std`` shaped to broadcast against the actor output."""
        return self.log_std

    @property
    def _device(self) -> torch.device:
        return self.return_norm.mean.device

    def preprocess(self, obs: Any, normalize: bool) -> torch.Tensor:
        """Raw env observations (an array, or a vector env's dict / tuple of arrays) as the policy input:
        (B, D) normalised vectors (when ``normalize``) or (B, C, H, W) uint8 images."""
        return self.normalize(self.encoding(obs, self._device), normalize)

    def normalize(self, raw: torch.Tensor, normalize: bool) -> torch.Tensor:
        """Standardise vector observations with the running statistics; images pass as they are."""
        return self.obs_norm(raw) if normalize and self.obs_norm is not None else raw

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Features the actor and critic read: the input itself for vectors, NatureCNN features for images."""
        if self.encoder is None:
            return x
        lead = x.shape[: self.batch_dims]
        return self.encoder(x.float() / 255.0).reshape(*lead, -1)

    def sample(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A sampled action per row of ``features`` and its log-probability."""
        return self.head.sample(self.actor(features), self._log_std())

    def log_prob_entropy(self, features: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability of ``actions`` and the policy entropy, per row of ``features``."""
        return self.head.log_prob_entropy(self.actor(features), actions, self._log_std())

    def mode(self, features: torch.Tensor) -> torch.Tensor:
        """Most likely action: argmax per categorical, the sign of each Bernoulli logit, the Gaussian mean."""
        return self.head.mode(self.actor(features))

    def to_env(self, action: torch.Tensor, act_space: gym.Space) -> np.ndarray:
        """A batch of sampled actions ``(B, ...)`` as the env expects them (offset ints, bits, clipped floats)."""
        return self.head.to_env(action.cpu().numpy(), act_space)

    @torch.no_grad()
    def act(self, obs: Any, act_space: gym.Space, normalize_obs: bool, deterministic: bool = True) -> np.ndarray:
        """Actions for a batch of raw observations; the mode of the policy when ``deterministic``."""
        features = self.encode(self.preprocess(obs, normalize_obs))
        action = self.mode(features) if deterministic else self.sample(features)[0]
        return self.to_env(action.reshape(-1, *action.shape[self.batch_dims :]), act_space)


class PopulationActorCritic(ActorCritic):
    """``members`` independent :class:`ActorCritic` policies stacked for batched training.

    Batches of raw observations hold ``members`` equal contiguous blocks, block ``p`` being member ``p``'s.
    """

    batch_dims = 2  # (P, B, D)

    def __init__(self, obs_space: gym.Space, act_space: gym.Space, num_objectives: int, net_arch: tuple[int, ...],
                 members: int, image_size: int = spaces.DEFAULT_IMAGE_SIZE):  # fmt: skip
        nn.Module.__init__(self)
        self.members = members
        self._build(obs_space, act_space, num_objectives, net_arch, image_size, members)

    def _log_std(self) -> torch.Tensor | None:
        return None if self.log_std is None else self.log_std.unsqueeze(1)

    def preprocess(self, obs: Any, normalize: bool) -> torch.Tensor:
        """:meth:`ActorCritic.preprocess` of ``members * n`` observations, as (P, n, ...)."""
        raw = self.encoding(obs, self._device)
        if raw.shape[0] % self.members:
            raise ValueError(f"{raw.shape[0]} observations cannot be split among {self.members} members")
        return self.normalize(raw.reshape(self.members, -1, *raw.shape[1:]), normalize)

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
