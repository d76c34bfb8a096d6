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

The policies (:mod:`morl.policies`) and the rollout collector (:mod:`morl.rollout`) are shared
with other learners; this module holds only what is PPO's: the update, the barrier, the optimiser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from morl import spaces
from morl.buffers import Rollout, vector_gae
from morl.policies import PopulationActorCritic
from morl.rollout import RolloutCollector, by_member


@dataclass
class MOPPOConfig:
    """PPO hyperparameters (defaults: C-MORL official code, research/cmorl.md §2).

    Attributes:
        n_envs: parallel envs per policy; every one of their transitions counts.
        n_steps: steps per env per rollout (rollout = n_envs * n_steps transitions).
        learning_rate: Adam step size; decays linearly to 0 over a job when ``anneal_lr``.
        gamma, gae_lambda: discount and GAE parameter, used per objective.
        num_minibatches, n_epochs, clip_coef: PPO update.
        ent_coef, vf_coef, max_grad_norm: loss weights and gradient clipping.
        net_arch: hidden sizes of the separate actor and critic MLPs (tanh).
        normalize_obs: running observation normalisation (saved with the policy).
        normalize_returns: per-objective reward scaling by the std of discounted returns.
        image_size: image observations are resized to at most this many pixels a side before
            the NatureCNN encoder (84, as SB3's Atari preprocessing), so large frames stay cheap.
        one_hot_int_obs: one-hot encode each entry of a bounded integer ``Box`` observation (grid cells,
            tree nodes; :func:`morl.spaces.one_hot_integers`). A tanh MLP over raw indices draws only
            smooth boundaries: on fruit-tree it could reach just the leaves whose paths turn at most twice.
    """

    n_envs: int = 8
    n_steps: int = 128
    learning_rate: float = 3e-4
    anneal_lr: bool = True
    gamma: float = 0.995
    gae_lambda: float = 0.95
    num_minibatches: int = 4
    n_epochs: int = 10
    clip_coef: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    net_arch: tuple[int, ...] = (64, 64)
    normalize_obs: bool = True
    normalize_returns: bool = True
    image_size: int = 84
    one_hot_int_obs: bool = False


@dataclass
class Objective:
    """What one update maximises.

    Either a preference ``weights`` (stage 1: ``w . G``), or a ``target`` objective with
    ``thresholds`` c (stage 2: ``G_l`` subject to ``G_j >= c_j`` for ``j != l``), where
    ``current`` is the latest measured value vector of the policy being updated (undiscounted
    mean episode returns) and ``horizon`` the mean length of those episodes: what turns a
    per-step advantage into a change of ``G`` (None: ``1 / (1 - gamma)``, for discounted values).
    """

    weights: np.ndarray | None = None
    target: int | None = None
    thresholds: np.ndarray | None = None
    current: np.ndarray | None = None
    horizon: float | None = None
    barrier_t: float = 20.0
    barrier_margin: float = 1e-2


def first_order_return(current: torch.Tensor, ratio: torch.Tensor, advantages: torch.Tensor, weight: torch.Tensor,
                       horizon: torch.Tensor, clip: float) -> torch.Tensor:  # fmt: skip
    """``G(pi_new) ~= G(pi_old) + H * E[(clip(ratio) - 1) A]`` per member and objective, (P, m).

    ``current`` (P, m) are undiscounted episode returns, ``advantages`` (P, mb, m) per-step
    advantages in reward units, ``horizon`` (P,) the episode length that turns a per-step mean
    into a change of the episode return, ``weight`` (P, mb) which samples count.
    """
    count = weight.sum(1).clamp(min=1.0).unsqueeze(-1)
    change = ((ratio.clamp(1 - clip, 1 + clip) - 1.0) * weight).unsqueeze(-1) * advantages
    return current + change.sum(1) / count * horizon.unsqueeze(-1)


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

    Member ``p`` acts in sub-envs ``[p * n_envs, (p + 1) * n_envs)`` of the vector env it
    is given, so that env has ``members * n_envs`` sub-envs.
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
        policy_space = spaces.one_hot_integers(obs_space) if config.one_hot_int_obs else obs_space
        self.policy = PopulationActorCritic(policy_space, act_space, num_objectives, config.net_arch, members,
                                            config.image_size).to(device)  # fmt: skip
        # fused Adam: one kernel for all parameters, the same elementwise arithmetic per member
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=config.learning_rate, eps=1e-5,
                                          fused=device.type in ("cpu", "cuda"))  # fmt: skip
        self.collector = RolloutCollector(self.policy, act_space, device, config.n_steps, config.gamma,
                                          config.normalize_obs, config.normalize_returns)  # fmt: skip

    # --- acting ---------------------------------------------------------------------------
    def act(self, obs: Any, deterministic: bool = True) -> np.ndarray:
        """Actions for raw observations ``(members * n, ...)``: rows ``[p * n, (p + 1) * n)`` are member ``p``'s.

        ``obs`` is what a vector env returns: an array, or a dict / tuple of arrays.
        """
        return self.policy.act(obs, self.act_space, self.config.normalize_obs, deterministic)

    # --- collecting -----------------------------------------------------------------------
    def collect(self, env: gym.vector.VectorEnv) -> Rollout:
        """``n_steps`` steps of every sub-env (see :meth:`RolloutCollector.collect`)."""
        return self.collector.collect(env)

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
        obs = by_member(rollout.obs)  # (P, B, D) vectors or (P, B, C, H, W) uint8 images
        actions = by_member(rollout.actions)
        valid = by_member(rollout.valid).float()  # (P, B)
        # back to reward units with the scale the rewards were divided by (the one before this
        # rollout's statistics update), so every objective keeps the weight its preference gives it
        scale = rollout.reward_scale if rollout.reward_scale is not None else torch.ones(pop, m)
        raw_adv = by_member(advantages) * scale.to(obs.device).unsqueeze(1)  # (P, B, m) reward units
        goals = _Goals.of(objectives, m, obs.device, cfg.gamma)
        actor_adv = _standardise((raw_adv * goals.weights.unsqueeze(1)).sum(-1), valid)
        batch = obs.shape[1]
        minibatch = max(1, batch // cfg.num_minibatches)
        targets = _Targets.pack(valid, by_member(rollout.log_probs), actor_adv, raw_adv, by_member(returns),
                                by_member(rollout.values))  # fmt: skip
        params = list(self.policy.parameters())
        history = []
        for _ in range(cfg.n_epochs):
            order = torch.rand(pop, batch, device=obs.device).argsort(dim=1)
            for start in range(0, batch, minibatch):
                idx = order[:, start : start + minibatch]
                x = torch.take_along_dim(obs, idx.reshape(*idx.shape, *[1] * (obs.dim() - 2)), dim=1)
                mb = targets.take(idx, m)
                act = torch.take_along_dim(actions, idx.reshape(*idx.shape, *[1] * (actions.dim() - 2)), dim=1)
                weight = mb.valid
                count = weight.sum(1).clamp(min=1.0)
                features = self.policy.encode(x)  # x itself for vectors; shared CNN features for images
                log_prob, entropy = self.policy.log_prob_entropy(features, act)
                log_ratio = log_prob - mb.old_log_prob
                ratio = log_ratio.exp()
                a = mb.actor_advantage
                clipped = torch.min(ratio * a, ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef) * a)
                surrogate = (clipped * weight).sum(1) / count  # (P,)
                barrier = self._barrier(ratio, mb.advantages, weight, goals)
                value_loss = 0.5 * (_clipped_value_error(self.policy.critic(features), mb, cfg.clip_coef) * weight
                                    ).sum(1) / count  # fmt: skip
                entropy = (entropy * weight).sum(1) / count
                loss = (-(surrogate + barrier) + cfg.vf_coef * value_loss - cfg.ent_coef * entropy).sum()
                self.optimizer.zero_grad()
                loss.backward()
                _clip_grad_norm_per_member(params, cfg.max_grad_norm)
                self.optimizer.step()
                with torch.no_grad():  # Schulman's k3 estimator of KL(old || new), for logging
                    approx_kl = (((ratio - 1.0) - log_ratio) * weight).sum(1) / count
                history.append(torch.stack([-surrogate, value_loss, entropy, barrier, approx_kl]).detach())
        means = torch.stack(history).mean(dim=(0, 2)).tolist()
        return dict(zip(("policy_loss", "value_loss", "entropy", "barrier", "approx_kl"), means, strict=True))

    def _barrier(self, ratio: torch.Tensor, raw_adv: torch.Tensor, weight: torch.Tensor, goals: _Goals) -> torch.Tensor:
        """``(1/t) sum_{j != l} log(G_j(pi) - c_j)`` per member, with a first-order estimate of ``G_j(pi)``.

        ``G_j(pi) ~= G_j(current) + H * E[(clip(ratio) - 1) A_j]``: the policy-improvement
        estimate of TRPO/CPO/IPO, so the barrier's gradient flows through the ratio. ``G`` is an
        undiscounted episode return, so the per-step mean is scaled by the episode length ``H``
        (not ``1 / (1 - gamma)``, which belongs to discounted values); the ratio is clipped as
        in the surrogate (and the official code). Members without constraints (stage 1) get 0.
        """
        if not goals.any_constrained:
            return torch.zeros(ratio.shape[0], device=ratio.device)
        estimate = first_order_return(goals.current, ratio, raw_adv, weight, goals.horizon, self.config.clip_coef)
        terms = log_barrier(estimate - goals.thresholds, goals.margin.unsqueeze(-1)) * goals.constrained
        return terms.sum(-1) / goals.barrier_t


@dataclass
class _Minibatch:
    """The per-sample targets of one minibatch, by name; each (P, mb) or (P, mb, m)."""

    valid: torch.Tensor  # 1.0 for samples that count (not an autoreset step)
    old_log_prob: torch.Tensor
    actor_advantage: torch.Tensor  # standardised scalarised (stage 1) or target-objective (stage 2) advantage
    advantages: torch.Tensor  # (P, mb, m) per-objective GAE in reward units
    returns: torch.Tensor  # (P, mb, m) critic targets
    old_values: torch.Tensor  # (P, mb, m) critic outputs when the rollout was collected


@dataclass
class _Targets:
    """Every sample's targets packed in one (P, B, 3 + 2m) tensor, so a minibatch is one gather."""

    packed: torch.Tensor

    @classmethod
    def pack(cls, valid: torch.Tensor, old_log_prob: torch.Tensor, actor_advantage: torch.Tensor,
             advantages: torch.Tensor, returns: torch.Tensor, old_values: torch.Tensor) -> _Targets:  # fmt: skip
        columns = [valid[..., None], old_log_prob[..., None], actor_advantage[..., None], advantages, returns,
                   old_values]  # fmt: skip
        return cls(torch.cat(columns, dim=-1))

    def take(self, idx: torch.Tensor, m: int) -> _Minibatch:
        """The samples ``idx`` (P, mb) of every member, as named fields."""
        mb = torch.take_along_dim(self.packed, idx.unsqueeze(-1), dim=1)
        return _Minibatch(mb[..., 0], mb[..., 1], mb[..., 2], mb[..., 3 : 3 + m], mb[..., 3 + m : 3 + 2 * m],
                          mb[..., 3 + 2 * m :])  # fmt: skip


@dataclass
class _Goals:
    """The members' objectives as tensors: scalarisation weights and barrier terms, (P, m) each."""

    weights: torch.Tensor
    constrained: torch.Tensor  # 1.0 where ``G_j >= c_j`` is enforced
    current: torch.Tensor
    thresholds: torch.Tensor
    horizon: torch.Tensor  # (P,) steps per episode: per-step advantage -> change of the episode return
    barrier_t: torch.Tensor  # (P,)
    margin: torch.Tensor  # (P,)
    any_constrained: bool

    @classmethod
    def of(cls, objectives: list[Objective], m: int, device: torch.device, gamma: float) -> _Goals:
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

        horizon = [o.horizon if o.horizon is not None else 1.0 / (1.0 - gamma) for o in objectives]
        return cls(tensor(weights), tensor(constrained), tensor(current), tensor(thresholds), tensor(horizon),
                   tensor([o.barrier_t for o in objectives]), tensor([o.barrier_margin for o in objectives]),
                   bool(constrained.any()))  # fmt: skip


def _clipped_value_error(values: torch.Tensor, mb: _Minibatch, clip: float) -> torch.Tensor:
    """PPO's clipped value error, averaged over objectives (P, mb).

    The mean (not the sum) keeps the critic's weight in the joint loss, and so its share of the
    clipped gradient, the same for 2 objectives or 6; the clip (the official code's, as in
    PPO2) keeps one rollout from moving the value far from where it was collected.
    """
    clipped = mb.old_values + (values - mb.old_values).clamp(-clip, clip)
    return torch.maximum((values - mb.returns).pow(2), (clipped - mb.returns).pow(2)).mean(-1)


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
