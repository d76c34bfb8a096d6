"""Multi-objective PPO: vector critic, per-objective GAE, scalarised or constrained actor loss.

C-MORL trains every policy with this learner. Stage 1 maximises ``w . G`` (linear
scalarisation of per-objective advantages); stage 2 maximises one objective ``G_l`` under
``G_j >= c_j`` with an interior-point log barrier (IPO). The learner knows nothing of archives
or stages: ``update`` takes one :class:`Objective` per member saying what to maximise.

The learner trains a *population* of independent policies at once: every weight has a leading
member dimension and each layer is one batched matmul, so P small policies cost about what one
does in kernel launches (the point on a GPU, and a large saving on CPU too, where these networks
are overhead-bound). Members share nothing but the tensors they are stacked in: each has its own
weights, normalisers, advantages, loss, gradient clipping and (elementwise) Adam state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from morl.buffers import Rollout, vector_gae
from morl.nn import RunningNorm, mlp

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


@dataclass
class MOPPOConfig:
    """PPO hyperparameters (defaults: C-MORL official code, research/cmorl.md §2).

    Attributes:
        num_envs: parallel envs per policy; every one of their transitions counts.
        num_steps: steps per env per rollout (rollout = num_envs * num_steps transitions).
        learning_rate: Adam step size; decays linearly to 0 over a job when ``anneal_lr``.
        gamma, gae_lambda: discount and GAE parameter, used per objective.
        num_minibatches, update_epochs, clip_coef: PPO update.
        ent_coef, vf_coef, max_grad_norm: loss weights and gradient clipping.
        hidden: hidden sizes of the separate actor and critic MLPs (tanh).
        normalize_obs: running observation normalisation (saved with the policy).
        normalize_returns: per-objective reward scaling by the std of discounted returns.
    """

    num_envs: int = 8
    num_steps: int = 128
    learning_rate: float = 3e-4
    anneal_lr: bool = True
    gamma: float = 0.995
    gae_lambda: float = 0.95
    num_minibatches: int = 4
    update_epochs: int = 10
    clip_coef: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden: tuple[int, ...] = (64, 64)
    normalize_obs: bool = True
    normalize_returns: bool = True


class ActorCritic(nn.Module):
    """Separate actor and vector critic MLPs; Gaussian (state-independent std) or categorical actor.

    The module holds its own observation normaliser and per-objective return scale, so one
    ``state_dict`` is all an archived policy needs. :class:`PopulationActorCritic` has the same
    state-dict keys with a leading member dimension, so member ``p`` of a population is
    ``{k: v[p]}``.
    """

    batch_dims = 1  # leading dims before the features: (B, D)

    def __init__(self, obs_space: gym.Space, act_space: gym.Space, num_objectives: int, hidden: tuple[int, ...]):
        super().__init__()
        obs_dim, act_dim = self._dims(obs_space, act_space)
        self.obs_norm = RunningNorm(obs_dim)
        self.return_norm = RunningNorm(num_objectives)
        self.actor = mlp(obs_dim, hidden, act_dim, out_gain=0.01)
        self.critic = mlp(obs_dim, hidden, num_objectives, out_gain=1.0)
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


class StackedLinear(nn.Module):
    """``members`` independent linear layers applied as one batched matmul: (P, B, in) -> (P, B, out).

    ``weight`` is (P, out, in) and ``bias`` (P, out), so slice ``p`` is an ``nn.Linear``'s state.
    """

    def __init__(self, members: int, in_dim: int, out_dim: int, gain: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(members, out_dim, in_dim))
        self.bias = nn.Parameter(torch.zeros(members, out_dim))
        for member in self.weight.data:
            nn.init.orthogonal_(member, gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))


def stacked_mlp(members: int, in_dim: int, hidden: tuple[int, ...], out_dim: int, out_gain: float) -> nn.Sequential:
    """:func:`morl.nn.mlp` for a population: same layout, init and state-dict keys, stacked."""
    layers: list[nn.Module] = []
    last = in_dim
    for width in hidden:
        layers += [StackedLinear(members, last, width, float(np.sqrt(2))), nn.Tanh()]
        last = width
    layers.append(StackedLinear(members, last, out_dim, out_gain))
    return nn.Sequential(*layers)


class PopulationActorCritic(ActorCritic):
    """``members`` independent :class:`ActorCritic` policies stacked for batched training."""

    batch_dims = 2  # (P, B, D)

    def __init__(self, obs_space: gym.Space, act_space: gym.Space, num_objectives: int, hidden: tuple[int, ...],
                 members: int):  # fmt: skip
        nn.Module.__init__(self)
        obs_dim, act_dim = self._dims(obs_space, act_space)
        self.members = members
        self.obs_norm = RunningNorm(obs_dim, members=members)
        self.return_norm = RunningNorm(num_objectives, members=members)
        self.actor = stacked_mlp(members, obs_dim, hidden, act_dim, out_gain=0.01)
        self.critic = stacked_mlp(members, obs_dim, hidden, num_objectives, out_gain=1.0)
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


@dataclass
class Objective:
    """What one update maximises.

    Either a preference ``weights`` (stage 1: ``w . G``), or a ``target`` objective with
    ``thresholds`` c (stage 2: ``G_l`` subject to ``G_j >= c_j`` for ``j != l``), where
    ``current`` is the latest measured value vector of the policy being updated.
    """

    weights: np.ndarray | None = None
    target: int | None = None
    thresholds: np.ndarray | None = None
    current: np.ndarray | None = None
    barrier_t: float = 20.0
    barrier_margin: float = 1e-2


def log_barrier(slack: torch.Tensor, margin: float | torch.Tensor) -> torch.Tensor:
    """``log(slack)``, continued linearly below ``margin`` so a violated constraint still pushes back.

    The official code clamps the slack, which zeroes the gradient exactly when the constraint
    is violated (research/cmorl.md §1.6 item 3); the linear continuation keeps slope 1/margin.
    """
    margin = torch.as_tensor(margin, dtype=slack.dtype, device=slack.device)
    safe = torch.maximum(slack, margin)
    return torch.where(slack >= margin, torch.log(safe), torch.log(margin) + (slack - margin) / margin)


class MOPPO:
    """A population of ``members`` policies and their optimiser; ``collect`` then ``update``.

    Member ``p`` acts in sub-envs ``[p * num_envs, (p + 1) * num_envs)`` of the vector env it
    is given, so that env has ``members * num_envs`` sub-envs.
    """

    def __init__(
        self,
        obs_space: gym.Space,
        act_space: gym.Space,
        num_objectives: int,
        config: MOPPOConfig,
        device: torch.device,
        seed: int = 0,
        members: int = 1,
    ) -> None:
        torch.manual_seed(seed)
        self.config = config
        self.device = device
        self.members = members
        self.num_objectives = num_objectives
        self.act_space = act_space
        self.policy = PopulationActorCritic(obs_space, act_space, num_objectives, config.hidden, members).to(device)
        # fused Adam: one kernel for all parameters, the same elementwise arithmetic per member
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=config.learning_rate, eps=1e-5,
                                          fused=device.type in ("cpu", "cuda"))  # fmt: skip
        self._obs: np.ndarray | None = None
        self._resetting: np.ndarray | None = None
        self._discounted: np.ndarray | None = None  # running discounted return per sub-env

    # --- acting ---------------------------------------------------------------------------
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Actions for raw observations ``(members * n, ...)``: rows ``[p * n, (p + 1) * n)`` are member ``p``'s."""
        obs = np.asarray(obs)
        if obs.shape[0] % self.members:
            raise ValueError(f"{obs.shape[0]} observations cannot be split among {self.members} members")
        grouped = obs.reshape(self.members, obs.shape[0] // self.members, *obs.shape[1:])
        actions = self.policy.act(grouped, self.act_space, self.config.normalize_obs, deterministic)
        return actions.reshape(obs.shape[0], *actions.shape[2:])

    def _to_env(self, action: torch.Tensor) -> np.ndarray:
        return self.policy.to_env(action.reshape(-1, *action.shape[2:]), self.act_space)

    # --- collecting -----------------------------------------------------------------------
    @torch.no_grad()
    def collect(self, env: gym.vector.VectorEnv) -> Rollout:
        """``num_steps`` steps of every sub-env; the env keeps its state between rollouts.

        The rollout (shapes ``(T, P, N, ...)``) stores the *normalised* policy inputs, so the
        update sees exactly what the policy saw when acting (probability ratios start at 1).
        Normalisation statistics are folded in once per rollout, after it; rewards are divided
        by the running std of each objective's discounted return (per member and objective).
        """
        cfg, dev, m, policy, pop = self.config, self.device, self.num_objectives, self.policy, self.members
        total, steps = env.num_envs, cfg.num_steps
        if total % pop:
            raise ValueError(f"a vector env of {total} sub-envs cannot be split among {pop} members")
        n = total // pop
        if self._obs is None:
            self._obs, _ = env.reset()
            self._resetting = np.zeros(total, dtype=bool)
            self._discounted = np.zeros((total, m))
        raw_obs, obs_buf, act_buf, logp_buf = [], [], [], []
        rewards = np.empty((steps, total, m))
        discounted = np.empty((steps, total, m))
        terminated_buf = np.empty((steps, total), dtype=bool)
        truncated_buf = np.empty((steps, total), dtype=bool)
        valid_buf = np.empty((steps, total), dtype=bool)
        for t in range(steps):
            raw = torch.as_tensor(self._obs, device=dev).reshape(pop, n, -1).float()
            x = policy.obs_norm(raw) if cfg.normalize_obs else raw
            action, log_prob = policy.sample(x)
            next_obs, reward, terminated, truncated, _ = env.step(self._to_env(action))
            reward = np.asarray(reward, dtype=np.float64).reshape(total, m)
            if not np.isfinite(reward).all():
                raise ValueError(f"environment returned a non-finite reward {reward[~np.isfinite(reward).all(1)][0]}")
            valid = ~self._resetting
            reward = np.where(valid[:, None], reward, 0.0)
            self._discounted = self._discounted * cfg.gamma + reward
            discounted[t] = self._discounted
            ended = (terminated | truncated) & valid
            self._discounted[ended] = 0.0
            raw_obs.append(raw)
            obs_buf.append(x)
            act_buf.append(action)
            logp_buf.append(log_prob)
            rewards[t], terminated_buf[t], truncated_buf[t], valid_buf[t] = reward, terminated, truncated, valid
            self._resetting = ended
            self._obs = next_obs
        raw = torch.as_tensor(self._obs, device=dev).reshape(pop, n, -1).float()
        obs = torch.stack(obs_buf)  # (T, P, N, D)
        valid = torch.as_tensor(valid_buf, device=dev).reshape(steps, pop, n)
        scale = policy.return_norm.std.cpu().numpy() if cfg.normalize_returns else np.ones((pop, m))
        values = policy.critic(_by_member(obs)).reshape(pop, steps, n, m).transpose(0, 1)  # one batched pass
        rewards = rewards.reshape(steps, pop, n, m) / scale[:, None]
        rollout = Rollout(
            obs=obs,
            actions=torch.stack(act_buf),
            log_probs=torch.stack(logp_buf),
            values=values,
            rewards=torch.as_tensor(rewards, dtype=torch.float32, device=dev),
            terminated=torch.as_tensor((terminated_buf & valid_buf).reshape(steps, pop, n), device=dev),
            truncated=torch.as_tensor((truncated_buf & valid_buf).reshape(steps, pop, n), device=dev),
            valid=valid,
            next_value=policy.critic(policy.obs_norm(raw) if cfg.normalize_obs else raw),
        )
        by_member = valid.transpose(0, 1).reshape(pop, -1)
        if cfg.normalize_obs:
            policy.obs_norm.update(_by_member(torch.stack(raw_obs)), by_member)
        if cfg.normalize_returns:
            stacked = torch.as_tensor(discounted.reshape(steps, pop, n, m), device=dev)
            policy.return_norm.update(_by_member(stacked), by_member)
        return rollout

    # --- updating -------------------------------------------------------------------------
    def set_learning_rate(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def update(self, rollout: Rollout, objectives: Objective | list[Objective]) -> dict[str, float]:
        """PPO epochs on ``rollout``, member ``p`` for ``objectives[p]``; returns mean losses for logging.

        Each member's batch is its own ``T * N`` samples; autoreset steps are masked out of every
        mean rather than removed, so all members keep the same tensor shapes.
        """
        cfg, pop, m = self.config, self.members, self.num_objectives
        objectives = [objectives] * pop if isinstance(objectives, Objective) else list(objectives)
        if len(objectives) != pop:
            raise ValueError(f"update needs one objective per member ({pop}), got {len(objectives)}")
        advantages, returns = vector_gae(rollout, cfg.gamma, cfg.gae_lambda)  # (T, P, N, m)
        obs = _by_member(rollout.obs)  # (P, B, D)
        actions = _by_member(rollout.actions)
        valid = _by_member(rollout.valid).float()  # (P, B)
        scale = self.policy.return_norm.std.float() if cfg.normalize_returns else torch.ones(pop, m)
        raw_adv = _by_member(advantages) * scale.to(obs.device).unsqueeze(1)  # (P, B, m) reward units
        goals = _Goals.of(objectives, m, obs.device)
        actor_adv = _standardise((raw_adv * goals.weights.unsqueeze(1)).sum(-1), valid)
        batch = obs.shape[1]
        minibatch = max(1, batch // cfg.num_minibatches)
        # one gather per minibatch: [valid | old log-prob | actor advantage | A (m) | return (m)]
        targets = torch.cat([valid[..., None], _by_member(rollout.log_probs)[..., None], actor_adv[..., None],
                             raw_adv, _by_member(returns)], dim=-1)  # fmt: skip
        params = list(self.policy.parameters())
        history = []
        for _ in range(cfg.update_epochs):
            order = torch.rand(pop, batch, device=obs.device).argsort(dim=1)
            for start in range(0, batch, minibatch):
                idx = order[:, start : start + minibatch]
                x = torch.take_along_dim(obs, idx.unsqueeze(-1), dim=1)
                mb = torch.take_along_dim(targets, idx.unsqueeze(-1), dim=1)
                act = torch.take_along_dim(actions, idx.reshape(*idx.shape, *[1] * (actions.dim() - 2)), dim=1)
                weight = mb[..., 0]
                count = weight.sum(1).clamp(min=1.0)
                log_prob, entropy = self.policy.log_prob_entropy(x, act)
                ratio = (log_prob - mb[..., 1]).exp()
                a = mb[..., 2]
                clipped = torch.min(ratio * a, ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef) * a)
                surrogate = (clipped * weight).sum(1) / count  # (P,)
                barrier = self._barrier(ratio, mb[..., 3 : 3 + m], weight, count, goals)
                value_err = (self.policy.critic(x) - mb[..., 3 + m :]).pow(2).sum(-1)
                value_loss = 0.5 * (value_err * weight).sum(1) / count
                entropy = (entropy * weight).sum(1) / count
                loss = (-(surrogate + barrier) + cfg.vf_coef * value_loss - cfg.ent_coef * entropy).sum()
                self.optimizer.zero_grad()
                loss.backward()
                _clip_grad_norm_per_member(params, cfg.max_grad_norm)
                self.optimizer.step()
                history.append(torch.stack([-surrogate, value_loss, entropy, barrier]).detach())
        means = torch.stack(history).mean(dim=(0, 2)).tolist()
        return dict(zip(("policy_loss", "value_loss", "entropy", "barrier"), means, strict=True))

    def _barrier(self, ratio: torch.Tensor, raw_adv: torch.Tensor, weight: torch.Tensor, count: torch.Tensor,
                 goals: _Goals) -> torch.Tensor:  # fmt: skip
        """``(1/t) sum_{j != l} log(G_j(pi) - c_j)`` per member, with a first-order estimate of ``G_j(pi)``.

        ``G_j(pi) ~= G_j(current) + E[(ratio - 1) A_j] / (1 - gamma)``: the policy-improvement
        estimate used by TRPO/CPO/IPO, so the barrier's gradient flows through the ratio.
        Members without constraints (stage 1) get 0.
        """
        if not goals.any_constrained:
            return torch.zeros(ratio.shape[0], device=ratio.device)
        change = ((ratio - 1.0) * weight).unsqueeze(-1) * raw_adv  # (P, mb, m)
        estimate = goals.current + change.sum(1) / count.unsqueeze(-1) / (1.0 - self.config.gamma)
        terms = log_barrier(estimate - goals.thresholds, goals.margin.unsqueeze(-1)) * goals.constrained
        return terms.sum(-1) / goals.barrier_t


@dataclass
class _Goals:
    """The members' objectives as tensors: scalarisation weights and barrier terms, (P, m) each."""

    weights: torch.Tensor
    constrained: torch.Tensor  # 1.0 where ``G_j >= c_j`` is enforced
    current: torch.Tensor
    thresholds: torch.Tensor
    barrier_t: torch.Tensor  # (P,)
    margin: torch.Tensor  # (P,)
    any_constrained: bool

    @classmethod
    def of(cls, objectives: list[Objective], m: int, device: torch.device) -> _Goals:
        pop = len(objectives)
        weights, constrained = np.zeros((pop, m)), np.zeros((pop, m))
        current, thresholds = np.zeros((pop, m)), np.zeros((pop, m))
        for p, objective in enumerate(objectives):
            if objective.weights is not None:
                weights[p] = objective.weights  # stage 1: w . A
            elif objective.target is not None:
                weights[p, objective.target] = 1.0  # stage 2: A_l
                if objective.thresholds is not None:
                    constrained[p] = 1.0
                    constrained[p, objective.target] = 0.0
                    current[p], thresholds[p] = objective.current, objective.thresholds
            else:
                raise ValueError("objective needs weights (stage 1) or a target objective (stage 2)")

        def tensor(values: Any) -> torch.Tensor:
            return torch.as_tensor(np.asarray(values), dtype=torch.float32, device=device)

        return cls(tensor(weights), tensor(constrained), tensor(current), tensor(thresholds),
                   tensor([o.barrier_t for o in objectives]), tensor([o.barrier_margin for o in objectives]),
                   bool(constrained.any()))  # fmt: skip


def _by_member(x: torch.Tensor) -> torch.Tensor:
    """(T, P, N, ...) rollout tensor -> (P, T * N, ...), each member's samples in one row."""
    return x.transpose(0, 1).reshape(x.shape[1], x.shape[0] * x.shape[2], *x.shape[3:])


def _standardise(a: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Per-member ``(a - mean) / (std + 1e-8)`` over the samples with weight 1 (unbiased std)."""
    count = weight.sum(1, keepdim=True)
    mean = (a * weight).sum(1, keepdim=True) / count.clamp(min=1.0)
    var = ((a - mean).pow(2) * weight).sum(1, keepdim=True) / (count - 1.0).clamp(min=1.0)
    return (a - mean) / (var.sqrt() + 1e-8)


def _clip_grad_norm_per_member(params: list[nn.Parameter], max_norm: float) -> None:
    """``clip_grad_norm_`` applied to each member separately (every parameter's dim 0 is the member)."""
    grads = [p.grad for p in params if p.grad is not None]
    squares = torch.stack([g.pow(2).reshape(g.shape[0], -1).sum(1) for g in grads]).sum(0)
    coef = (max_norm / (squares.sqrt() + 1e-6)).clamp(max=1.0)
    torch._foreach_mul_(grads, [coef.reshape(-1, *[1] * (g.dim() - 1)) for g in grads])
