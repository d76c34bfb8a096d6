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

    def sample(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A sampled action per row of ``x`` and its log-probability.

        Written out rather than through ``torch.distributions``: acting is the inner loop of
        every rollout, and the distribution objects cost more than the small networks do.
        """
        out = self.actor(x)
        if self.discrete:
            log_p = torch.log_softmax(out, -1)
            action = torch.multinomial(log_p.exp(), 1)
            return action.squeeze(-1), log_p.gather(-1, action).squeeze(-1)
        noise = torch.randn_like(out)
        action = out + self.log_std.exp() * noise
        return action, (-0.5 * noise.pow(2) - self.log_std - _LOG_SQRT_2PI).sum(-1)

    def log_prob_entropy(self, x: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability of ``actions`` and the policy entropy, per row of ``x``."""
        out = self.actor(x)
        if self.discrete:
            log_p = torch.log_softmax(out, -1)
            entropy = -(log_p.exp() * log_p).sum(-1)
            return log_p.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1), entropy
        z = (actions - out) * torch.exp(-self.log_std)
        log_prob = (-0.5 * z.pow(2) - self.log_std - _LOG_SQRT_2PI).sum(-1)
        return log_prob, (0.5 + _LOG_SQRT_2PI + self.log_std).sum().expand(x.shape[0])

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
        # fused Adam: one kernel for all parameters, the same arithmetic as the per-tensor loop
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=config.learning_rate, eps=1e-5,
                                          fused=device.type in ("cpu", "cuda"))  # fmt: skip
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
        cfg, dev, m, policy = self.config, self.device, self.num_objectives, self.policy
        n, steps = env.num_envs, cfg.num_steps
        if self._obs is None:
            self._obs, _ = env.reset()
            self._resetting = np.zeros(n, dtype=bool)
            self._discounted = np.zeros((n, m))
        raw_obs, obs_buf, act_buf, logp_buf = [], [], [], []
        rewards = np.empty((steps, n, m))
        discounted = np.empty((steps, n, m))
        terminated_buf = np.empty((steps, n), dtype=bool)
        truncated_buf = np.empty((steps, n), dtype=bool)
        valid_buf = np.empty((steps, n), dtype=bool)
        for t in range(steps):
            raw = torch.as_tensor(self._obs, device=dev).reshape(n, -1).float()
            x = policy.obs_norm(raw) if cfg.normalize_obs else raw
            action, log_prob = policy.sample(x)
            next_obs, reward, terminated, truncated, _ = env.step(self._to_env(action))
            reward = np.asarray(reward, dtype=np.float64).reshape(n, m)
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
        raw = torch.as_tensor(self._obs, device=dev).reshape(n, -1).float()
        obs = torch.stack(obs_buf)
        valid = torch.as_tensor(valid_buf, device=dev)
        scale = policy.return_norm.std.cpu().numpy() if cfg.normalize_returns else np.ones(m)
        rollout = Rollout(
            obs=obs,
            actions=torch.stack(act_buf),
            log_probs=torch.stack(logp_buf),
            values=policy.critic(obs),  # the critic is not needed to act: one batched pass
            rewards=torch.as_tensor(rewards / scale, dtype=torch.float32, device=dev),
            terminated=torch.as_tensor(terminated_buf & valid_buf, device=dev),
            truncated=torch.as_tensor(truncated_buf & valid_buf, device=dev),
            valid=valid,
            next_value=policy.critic(policy.obs_norm(raw) if cfg.normalize_obs else raw),
        )
        if cfg.normalize_obs:
            policy.obs_norm.update(torch.stack(raw_obs)[valid])
        if cfg.normalize_returns:
            policy.return_norm.update(torch.as_tensor(discounted[valid_buf]))
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
        batch, m = obs.shape[0], self.num_objectives
        minibatch = max(1, batch // cfg.num_minibatches)
        # one gather per minibatch instead of four: [old log-prob | actor advantage | A (m) | return (m)]
        targets = torch.cat([old_logp[:, None], actor_adv[:, None], raw_adv, ret], dim=1)
        params = list(self.policy.parameters())
        history = []
        for _ in range(cfg.update_epochs):
            order = torch.randperm(batch, device=obs.device)
            for start in range(0, batch, minibatch):
                idx = order[start : start + minibatch]
                x, mb = obs[idx], targets[idx]
                log_prob, entropy = self.policy.log_prob_entropy(x, actions[idx])
                ratio = (log_prob - mb[:, 0]).exp()
                a = mb[:, 1]
                surrogate = torch.min(ratio * a, ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef) * a).mean()
                barrier = self._barrier(ratio, mb[:, 2 : 2 + m], objective)
                value_loss = 0.5 * (self.policy.critic(x) - mb[:, 2 + m :]).pow(2).sum(-1).mean()
                entropy = entropy.mean()
                loss = -(surrogate + barrier) + cfg.vf_coef * value_loss - cfg.ent_coef * entropy
                self.optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(params, cfg.max_grad_norm, foreach=True)
                self.optimizer.step()
                history.append(torch.stack([-surrogate, value_loss, entropy, barrier]).detach())
        means = torch.stack(history).mean(0).tolist()
        return dict(zip(("policy_loss", "value_loss", "entropy", "barrier"), means, strict=True))

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
