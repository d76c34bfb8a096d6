"""Multi-objective PPO: vector critic, per-objective GAE, scalarised or constrained actor loss.

C-MORL trains every policy with this learner. Stage 1 maximises ``w . G`` (linear
scalarisation of per-objective advantages); stage 2 maximises one objective ``G_l`` under
``G_j >= c_j`` with an interior-point log barrier (IPO). The learner knows nothing of archives
or stages: ``update`` takes an :class:`Objective` saying what to maximise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Normal

from morl.buffers import Rollout, vector_gae
from morl.nn import RunningNorm, mlp


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
    ``state_dict`` is all an archived policy needs.
    """

    def __init__(self, obs_space: gym.Space, act_space: gym.Space, num_objectives: int, hidden: tuple[int, ...]):
        super().__init__()
        obs_dim = int(np.prod(obs_space.shape))
        self.discrete = isinstance(act_space, gym.spaces.Discrete)
        if not self.discrete and not isinstance(act_space, gym.spaces.Box):
            raise ValueError(f"MO-PPO supports Discrete and Box actions, got {act_space}")
        act_dim = int(act_space.n) if self.discrete else int(np.prod(act_space.shape))
        self.obs_norm = RunningNorm(obs_dim)
        self.return_norm = RunningNorm(num_objectives)
        self.actor = mlp(obs_dim, hidden, act_dim, out_gain=0.01)
        self.critic = mlp(obs_dim, hidden, num_objectives, out_gain=1.0)
        self.log_std = None if self.discrete else nn.Parameter(torch.zeros(act_dim))

    def features(self, obs: torch.Tensor, normalize: bool) -> torch.Tensor:
        flat = obs.reshape(obs.shape[0], -1).float()
        return self.obs_norm(flat) if normalize else flat

    def distribution(self, x: torch.Tensor) -> torch.distributions.Distribution:
        out = self.actor(x)
        if self.discrete:
            return Categorical(logits=out, validate_args=False)
        return Normal(out, self.log_std.exp().expand_as(out), validate_args=False)

    def mode(self, dist: torch.distributions.Distribution) -> torch.Tensor:
        """Most likely action: argmax for categorical, the mean for Gaussian."""
        return dist.probs.argmax(-1) if self.discrete else dist.mean

    def to_env(self, action: torch.Tensor, act_space: gym.Space) -> np.ndarray:
        """Sampled actions as the env expects them (ints, or clipped to the Box bounds)."""
        out = action.cpu().numpy()
        return out.astype(np.int64) if self.discrete else np.clip(out, act_space.low, act_space.high)

    @torch.no_grad()
    def act(self, obs: np.ndarray, act_space: gym.Space, normalize_obs: bool, deterministic: bool = True) -> np.ndarray:
        """Actions for a batch of raw observations; the mode of the policy when ``deterministic``."""
        device = self.critic[0].weight.device
        dist = self.distribution(self.features(torch.as_tensor(obs, device=device), normalize_obs))
        return self.to_env(self.mode(dist) if deterministic else dist.sample(), act_space)

    def log_prob(self, dist: torch.distributions.Distribution, actions: torch.Tensor) -> torch.Tensor:
        lp = dist.log_prob(actions)
        return lp if self.discrete else lp.sum(-1)

    def entropy(self, dist: torch.distributions.Distribution) -> torch.Tensor:
        ent = dist.entropy()
        return ent if self.discrete else ent.sum(-1)


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


def log_barrier(slack: torch.Tensor, margin: float) -> torch.Tensor:
    """``log(slack)``, continued linearly below ``margin`` so a violated constraint still pushes back.

    The official code clamps the slack, which zeroes the gradient exactly when the constraint
    is violated (research/cmorl.md §1.6 item 3); the linear continuation keeps slope 1/margin.
    """
    safe = torch.clamp(slack, min=margin)
    return torch.where(slack >= margin, torch.log(safe), math.log(margin) + (slack - margin) / margin)


class MOPPO:
    """One policy and its optimiser; ``collect`` a rollout, then ``update`` for an :class:`Objective`."""

    def __init__(
        self,
        obs_space: gym.Space,
        act_space: gym.Space,
        num_objectives: int,
        config: MOPPOConfig,
        device: torch.device,
        seed: int = 0,
    ) -> None:
        torch.manual_seed(seed)
        self.config = config
        self.device = device
        self.num_objectives = num_objectives
        self.act_space = act_space
        self.policy = ActorCritic(obs_space, act_space, num_objectives, config.hidden).to(device)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=config.learning_rate, eps=1e-5, foreach=True)
        self._obs: np.ndarray | None = None
        self._resetting: np.ndarray | None = None
        self._discounted: np.ndarray | None = None  # running discounted return per env

    # --- acting ---------------------------------------------------------------------------
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Actions for a batch of raw observations (mode of the policy when deterministic)."""
        return self.policy.act(obs, self.act_space, self.config.normalize_obs, deterministic)

    def _to_env(self, action: torch.Tensor) -> np.ndarray:
        return self.policy.to_env(action, self.act_space)

    # --- collecting -----------------------------------------------------------------------
    @torch.no_grad()
    def collect(self, env: gym.vector.VectorEnv) -> Rollout:
        """``num_steps`` steps of every sub-env; the env keeps its state between rollouts.

        The rollout stores the *normalised* policy inputs, so the update sees exactly what the
        policy saw when acting (probability ratios start at 1). Normalisation statistics are
        folded in once per rollout, after it; rewards are divided by the running std of each
        objective's discounted return (VecNormalize-style scaling, per objective).
        """
        cfg, dev, m = self.config, self.device, self.num_objectives
        n = env.num_envs
        if self._obs is None:
            self._obs, _ = env.reset()
            self._resetting = np.zeros(n, dtype=bool)
            self._discounted = np.zeros((n, m))
        raw_obs, obs_buf, act_buf, logp_buf, val_buf = [], [], [], [], []
        rew_buf, disc_buf, term_buf, trunc_buf, valid_buf = [], [], [], [], []
        scale = self.policy.return_norm.std.cpu().numpy() if cfg.normalize_returns else np.ones(m)
        for _ in range(cfg.num_steps):
            obs_t = torch.as_tensor(self._obs, device=dev)
            valid = ~self._resetting
            x = self.policy.features(obs_t, cfg.normalize_obs)
            dist = self.policy.distribution(x)
            action = dist.sample()
            next_obs, reward, terminated, truncated, _ = env.step(self._to_env(action))
            reward = np.asarray(reward, dtype=np.float64).reshape(n, m)
            if not np.all(np.isfinite(reward)):
                raise ValueError(f"environment returned a non-finite reward {reward[~np.isfinite(reward).all(1)][0]}")
            reward = np.where(valid[:, None], reward, 0.0)
            self._discounted = self._discounted * cfg.gamma + reward
            raw_obs.append(obs_t.reshape(n, -1)[torch.as_tensor(valid, device=dev)])
            disc_buf.append(self._discounted[valid])
            self._discounted[(terminated | truncated) & valid] = 0.0
            obs_buf.append(x)
            act_buf.append(action)
            logp_buf.append(self.policy.log_prob(dist, action))
            val_buf.append(self.policy.critic(x))
            rew_buf.append(reward / scale)
            term_buf.append(terminated & valid)
            trunc_buf.append(truncated & valid)
            valid_buf.append(valid)
            self._resetting = (terminated | truncated) & valid
            self._obs = next_obs
        x_last = self.policy.features(torch.as_tensor(self._obs, device=dev), cfg.normalize_obs)
        rollout = Rollout(
            obs=torch.stack(obs_buf),
            actions=torch.stack(act_buf),
            log_probs=torch.stack(logp_buf),
            values=torch.stack(val_buf),
            rewards=torch.as_tensor(np.stack(rew_buf), dtype=torch.float32, device=dev),
            terminated=torch.as_tensor(np.stack(term_buf), device=dev),
            truncated=torch.as_tensor(np.stack(trunc_buf), device=dev),
            valid=torch.as_tensor(np.stack(valid_buf), device=dev),
            next_value=self.policy.critic(x_last),
        )
        if cfg.normalize_obs:
            self.policy.obs_norm.update(torch.cat(raw_obs))
        if cfg.normalize_returns:
            self.policy.return_norm.update(torch.as_tensor(np.concatenate(disc_buf)))
        return rollout

    # --- updating -------------------------------------------------------------------------
    def set_learning_rate(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def update(self, rollout: Rollout, objective: Objective) -> dict[str, float]:
        """PPO epochs on ``rollout`` for ``objective``; returns mean losses for logging."""
        cfg = self.config
        advantages, returns = vector_gae(rollout, cfg.gamma, cfg.gae_lambda)  # (T, N, m)
        mask = rollout.valid.reshape(-1)
        obs = rollout.obs.reshape(-1, *rollout.obs.shape[2:])[mask]
        actions = rollout.actions.reshape(-1, *rollout.actions.shape[2:])[mask]
        old_logp = rollout.log_probs.reshape(-1)[mask]
        adv = advantages.reshape(-1, self.num_objectives)[mask]  # (B, m) normalised units
        ret = returns.reshape(-1, self.num_objectives)[mask]
        scale = self.policy.return_norm.std.float() if cfg.normalize_returns else torch.ones(self.num_objectives)
        raw_adv = adv * scale.to(adv.device)  # (B, m) in reward units
        actor_adv = self._actor_advantage(raw_adv, objective)
        batch = obs.shape[0]
        minibatch = max(1, batch // cfg.num_minibatches)
        stats = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "barrier": 0.0}
        updates = 0
        for _ in range(cfg.update_epochs):
            order = torch.randperm(batch, device=obs.device)
            for start in range(0, batch, minibatch):
                idx = order[start : start + minibatch]
                x = obs[idx]
                dist = self.policy.distribution(x)
                ratio = (self.policy.log_prob(dist, actions[idx]) - old_logp[idx]).exp()
                a = actor_adv[idx]
                surrogate = torch.min(ratio * a, ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef) * a).mean()
                barrier = self._barrier(ratio, raw_adv[idx], objective)
                values = self.policy.critic(x)
                value_loss = 0.5 * (values - ret[idx]).pow(2).sum(-1).mean()
                entropy = self.policy.entropy(dist).mean()
                loss = -(surrogate + barrier) + cfg.vf_coef * value_loss - cfg.ent_coef * entropy
                self.optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.max_grad_norm, foreach=True)
                self.optimizer.step()
                stats["policy_loss"] += float(-surrogate.detach())
                stats["value_loss"] += float(value_loss.detach())
                stats["entropy"] += float(entropy.detach())
                stats["barrier"] += float(barrier.detach())
                updates += 1
        return {k: v / max(updates, 1) for k, v in stats.items()}

    def _actor_advantage(self, raw_adv: torch.Tensor, objective: Objective) -> torch.Tensor:
        """``w . A`` (stage 1) or ``A_l`` (stage 2), standardised over the batch."""
        if objective.weights is not None:
            w = torch.as_tensor(objective.weights, dtype=raw_adv.dtype, device=raw_adv.device)
            a = raw_adv @ w
        elif objective.target is not None:
            a = raw_adv[:, objective.target]
        else:
            raise ValueError("objective needs weights (stage 1) or a target objective (stage 2)")
        return (a - a.mean()) / (a.std() + 1e-8)

    def _barrier(self, ratio: torch.Tensor, raw_adv: torch.Tensor, objective: Objective) -> torch.Tensor:
        """``(1/t) sum_{j != l} log(G_j(pi) - c_j)`` with a first-order estimate of ``G_j(pi)``.

        ``G_j(pi) ~= G_j(current) + E[(ratio - 1) A_j] / (1 - gamma)``: the policy-improvement
        estimate used by TRPO/CPO/IPO, so the barrier's gradient flows through the ratio.
        """
        if objective.target is None or objective.thresholds is None:
            return torch.zeros((), device=ratio.device)
        current = torch.as_tensor(objective.current, dtype=raw_adv.dtype, device=raw_adv.device)
        thresholds = torch.as_tensor(objective.thresholds, dtype=raw_adv.dtype, device=raw_adv.device)
        estimate = current + ((ratio - 1.0).unsqueeze(-1) * raw_adv).mean(0) / (1.0 - self.config.gamma)
        keep = torch.ones(len(current), dtype=torch.bool, device=ratio.device)
        keep[objective.target] = False
        slack = (estimate - thresholds)[keep]
        return log_barrier(slack, objective.barrier_margin).sum() / objective.barrier_t
