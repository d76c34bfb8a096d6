"""PC-SAC: one soft actor-critic conditioned on the preference, for every preference at once (+ CIP).

The actor ``pi(a | s, w)`` is a tanh-squashed Gaussian; twin critics each give a Q-vector (one
value per objective) for ``(s, a, w)``. As in CAPQL (Lu et al., ICLR 2023), every sampled
transition is paired with a fresh preference from the simplex, the critics regress on the vector
target ``r + gamma * (Q'(s', a') - alpha * log pi(a' | s', w))`` taken from the twin whose
``w . Q'`` is smaller, and the actor maximises ``w . Q - alpha * log pi``. Each sub-env acts for
one preference per episode. ``alpha`` is tuned towards the target entropy ``-|A|`` (SAC).

With ``cip=True`` the CIP module (:mod:`morl.cip`, research/cip.md §4) refits DirectLiNGAM every
``cip_interval`` env steps, weights each action dimension's log-probability in both entropy terms by
``|A| * softmax(w . B_a)``, adds counterfactual transitions to every batch and, with
``empowerment_coef > 0``, adds CIP's empowerment bonus from an inverse-dynamics model
(:mod:`morl.empowerment`) to every transition's reward in the critic's target. With ``cip=False``
none of it runs: the numbers are plain PC-SAC's.

Envs restart (a reset with a seed derived from the step count) at every evaluation, which is
also where checkpoints are taken, so a resumed run repeats the uninterrupted one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
import torch
from torch.nn import functional as F

from morl import cip, distributed, envs, preferences, spaces, storage, tasks
from morl.agents.base import Agent, Callback
from morl.agents.pcsac_nets import TANH_EPS, Actor, TwinCritic
from morl.buffers import ReplayBuffer, Transitions
from morl.empowerment import InverseDynamics
from morl.evaluation import evaluate_groups
from morl.nn import one_torch_thread
from morl.pareto import ParetoArchive


@dataclass
class PCSACConfig:
    """Hyperparameters of PC-SAC (CAPQL's and SAC's defaults unless noted; SB3 names).

    Attributes:
        n_envs: parallel sub-envs; each acts for its own preference, drawn per episode.
        buffer_size: replay capacity, transitions.
        learning_starts: env steps of uniform random actions before the first update.
        batch_size: transitions per gradient step (CAPQL: 128).
        preferences_per_sample: preferences drawn per sampled transition; the batch holds each
            transition this many times, once per preference (CAPQL: 1).
        learning_rate: Adam, for actor, critics and the entropy coefficient.
        gamma: discount; None takes the env's registered default.
        tau: soft target update rate.
        train_freq: vector steps between rounds of gradient steps.
        gradient_steps: gradient steps per round; -1 = as many as transitions collected (one update per
            env step: CAPQL's update-to-data ratio).
        ent_coef: "auto" (tuned towards ``target_entropy``) or a fixed alpha.
        init_ent_coef: alpha at the start when tuned (SB3: 1.0).
        target_entropy: None = -|A|.
        net_arch: hidden layers of actor and critics (ReLU).
        eval_interval: env steps between evaluations (and checkpoints); also after training.
        eval_preferences: equally spaced preferences evaluated each time (extremes included).
        eval_episodes: episodes per preference and evaluation (deterministic actions).
        cip: switch the CIP module on.
        cip_interval: env steps between DirectLiNGAM fits (CIP: 10,000).
        cip_samples: newest transitions each fit uses (CIP: 10,000).
        cip_standardize: z-score the columns before the fit (ours; research/cip.md §4 (a)).
        cip_augment_ratio: counterfactual transitions per real one in every batch (CIP: 1; 0 disables).
        cip_swap_threshold: a state dimension whose effect on every objective is at most this is swapped.
        cip_shuffle_weights: a control: every fit's effects are permuted at random across the state
            dimensions and across the action dimensions (seeded), so weights and swap set keep their
            values but lose their causal meaning.
        empowerment_coef: lambda_E, CIP's causality-aware empowerment (needs ``cip``): every replay
            transition's reward gains ``lambda_E * weighted log q(u | s, s', w)`` on each objective, q an
            inverse-dynamics model over the pre-tanh action, trained by maximum likelihood on every
            batch (:mod:`morl.empowerment`). 0 (default) builds no model: the paper's value is unknown
            (research/cip.md §0, §4 (d)).
        empowerment_starts: gradient steps before the bonus enters the critic's target (the model
            trains from the first; CIP release: 2,000).
        empowerment_pointwise: pay ``log q(u | s, s', w) - log pi_b(u | s, w)`` per action dimension, the
            pointwise mutual information, with ``pi_b`` the acting policy's pre-tanh density stored in
            replay; off, ``log q`` alone (SAC's entropy is left to pay for ``H(u | s)``, which it does not
            quite: docs/algorithms/cip.md, "Empowerment as a reward").
        empowerment_centered: subtract the batch's mean bonus (a control, ours): where episodes end on
            failure, a bonus of positive mean also pays for surviving; centred, it pays only for
            transitions whose actions are easier than average to tell from their outcome.
        executor: where CIP fits run beside training: "local" (a worker process), "serial"
            (inline, deterministic), "ray".
    """

    n_envs: int = 4
    buffer_size: int = 1_000_000
    learning_starts: int = 1_000
    batch_size: int = 128
    preferences_per_sample: int = 1
    learning_rate: float = 3e-4
    gamma: float | None = None
    tau: float = 0.005
    train_freq: int = 1
    gradient_steps: int = -1
    ent_coef: Literal["auto"] | float = "auto"
    init_ent_coef: float = 1.0
    target_entropy: float | None = None
    net_arch: tuple[int, ...] = (256, 256)
    eval_interval: int = 10_000
    eval_preferences: int = 11
    eval_episodes: int = 2
    cip: bool = False
    cip_interval: int = 10_000
    cip_samples: int = 10_000
    cip_standardize: bool = False
    cip_augment_ratio: float = 1.0
    cip_swap_threshold: float = 1e-6
    cip_shuffle_weights: bool = False
    empowerment_coef: float = 0.0
    empowerment_starts: int = 2_000
    empowerment_pointwise: bool = False
    empowerment_centered: bool = False
    executor: Literal["local", "serial", "ray"] = "local"


class PCSAC(Agent):
    """Preference-conditioned SAC with vector critics (CAPQL-style), and CIP's causal prioritisation.

    Args:
        env: env id, ``module:Class`` or factory with continuous (Box) actions; Box observations.
        seed: seeds networks, sampling and envs.
        device: "auto", "cpu" or "cuda": replay, networks and batches all live there.
        config / **hparams: a :class:`PCSACConfig` or its fields; per-env presets in
            ``agents/presets/pcsac.yaml``.
    """

    name: ClassVar[str] = "pcsac"
    Config: ClassVar[type] = PCSACConfig
    observation_kinds: ClassVar[tuple[str, ...]] = ("Box",)
    action_kinds: ClassVar[tuple[str, ...]] = ("Box",)

    def __init__(self, env: tasks.Task | Any, *, seed: int = 0, device: str = "auto", config: Any = None,
                 **hparams: Any):  # fmt: skip
        super().__init__(env, seed=seed, device=device, config=config, **hparams)
        cfg: PCSACConfig = self.config
        if isinstance(self.task.spec, gym.Env):
            raise ValueError("pcsac builds its own training and evaluation envs: pass an env id, 'module:Class' "
                             "or a factory, not an env instance")  # fmt: skip
        box = self.action_space
        if not (np.all(np.isfinite(box.low)) and np.all(np.isfinite(box.high))):
            raise ValueError(f"pcsac squashes actions into the action space's bounds; {self.task.name!r} has "
                             f"unbounded actions {box}")  # fmt: skip
        for key in ("n_envs", "batch_size", "train_freq", "eval_interval", "eval_preferences", "eval_episodes",
                    "preferences_per_sample", "cip_interval", "cip_samples"):  # fmt: skip
            if getattr(cfg, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(cfg, key)}")
        if cfg.empowerment_coef < 0 or cfg.empowerment_starts < 0:
            raise ValueError(f"empowerment_coef and empowerment_starts must be >= 0, got {cfg.empowerment_coef} "
                             f"and {cfg.empowerment_starts}")  # fmt: skip
        if cfg.empowerment_coef > 0 and not cfg.cip:
            raise ValueError(f"empowerment_coef={cfg.empowerment_coef} needs the CIP module: set cip=true as well "
                             "(or empowerment_coef=0)")  # fmt: skip
        if cfg.gradient_steps < 1 and cfg.gradient_steps != -1:
            raise ValueError(f"gradient_steps must be >= 1 or -1 (one per transition), got {cfg.gradient_steps}")
        self.obs_dim = spaces.flat_dim(self.observation_space)
        self.action_dim = int(np.prod(box.shape))
        self.gamma = cfg.gamma if cfg.gamma is not None else self.task.gamma
        self.target_entropy = float(cfg.target_entropy if cfg.target_entropy is not None else -self.action_dim)
        self._low = torch.as_tensor(box.low.reshape(-1), dtype=torch.float32, device=self.device)
        self._high = torch.as_tensor(box.high.reshape(-1), dtype=torch.float32, device=self.device)
        m, dev = self.num_objectives, self.device
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.actor = Actor(self.obs_dim, m, self.action_dim, cfg.net_arch).to(dev)
            self.critic = TwinCritic(self.obs_dim, m, self.action_dim, cfg.net_arch).to(dev)
            self.inverse: InverseDynamics | None = None  # CIP's q(u | s, s', w), only with empowerment on
            if cfg.empowerment_coef > 0:
                self.inverse = InverseDynamics(self.obs_dim, m, self.action_dim, cfg.net_arch).to(dev)
        self.critic_target = TwinCritic(self.obs_dim, m, self.action_dim, cfg.net_arch).to(dev)
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.critic_target.requires_grad_(False)
        self.log_alpha = torch.tensor(float(np.log(cfg.init_ent_coef if cfg.ent_coef == "auto" else cfg.ent_coef)),
                                      device=dev, requires_grad=cfg.ent_coef == "auto")  # fmt: skip
        # fused: one kernel per optimizer step instead of ~10 small ops per tensor (a third of an update on CPU)
        adam = functools.partial(torch.optim.Adam, lr=cfg.learning_rate, fused=True)
        self.actor_optim = adam(self.actor.parameters())
        self.critic_optim = adam(self.critic.parameters())
        self.alpha_optim = adam([self.log_alpha])
        self.inverse_optim = None if self.inverse is None else adam(self.inverse.parameters())
        self.buffer = ReplayBuffer(cfg.buffer_size, self.obs_dim, self.action_dim, m, dev)
        self.generator = torch.Generator(device=dev)
        self.generator.manual_seed(seed)
        self.eval_grid = preferences.equally_spaced(cfg.eval_preferences, m) if m > 1 else np.ones((1, 1))
        self.next_eval = cfg.eval_interval
        self.next_fit = cfg.cip_interval
        self.causal: cip.CausalFit | None = None  # the newest finished fit (CIP on)
        self._action_effects: torch.Tensor | None = None  # (m, A) on the device
        self._swap: torch.Tensor | None = None  # (S,) bool
        self._pending_fit: Any = None
        self._pool: distributed.JobPool | None = None
        self._env: gym.vector.VectorEnv | None = None
        self._eval_env: gym.vector.VectorEnv | None = None
        self._obs: torch.Tensor | None = None  # (N, D) current observations; None = restart the envs
        self._w: torch.Tensor | None = None  # (N, m) each sub-env's preference for its episode
        self._resetting: np.ndarray | None = None  # (N,) sub-envs whose next step is an autoreset
        self._actors: dict[str, Actor] = {}  # archive snapshots rebuilt for acting
        self._stats: dict[str, list[torch.Tensor]] = {}

    @property
    def diagnostics(self) -> tuple[str, ...]:  # type: ignore[override]
        """``train.csv`` columns: SAC's losses, alpha, entropy, Q, mean grid returns per objective (+ CIP fits)."""
        base = ("critic_loss", "actor_loss", "ent_coef", "ent_coef_loss", "entropy", "q_value")
        returns = tuple(f"return_{j}" for j in range(self.num_objectives))
        fits = ("cip_fit_seconds", "cip_swapped_dims") if self.config.cip else ()
        empowerment = ("inverse_loss", "empowerment") if self.inverse is not None else ()
        return (*base, *returns, *fits, *empowerment)

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.detach().exp()

    # --- sampling ------------------------------------------------------------------------------
    def _simplex(self, n: int) -> torch.Tensor:
        """``n`` preferences uniform on the simplex (Dirichlet(1)), (n, m), from the agent's generator."""
        u = torch.rand(n, self.num_objectives, device=self.device, generator=self.generator)
        e = -torch.log1p(-u)  # exponential(1)
        return e / e.sum(dim=-1, keepdim=True)

    def _to_env(self, action: torch.Tensor) -> np.ndarray:
        """Squashed actions in [-1, 1] -> the env's bounds, (N, *action_shape)."""
        scaled = self._low + (action + 1.0) * 0.5 * (self._high - self._low)
        return scaled.cpu().numpy().reshape(-1, *self.action_space.shape).astype(self.action_space.dtype)

    def _entropy_log_prob(self, log_prob: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """log pi summed over action dims (B,), each weighted by CIP's |A| softmax(w . B_a) when CIP has fitted."""
        if self._action_effects is None:
            return log_prob.sum(dim=-1)
        return (cip.action_weights(w, self._action_effects) * log_prob).sum(dim=-1)

    def _training_rewards(self, batch: Transitions, w: torch.Tensor) -> torch.Tensor:
        """The batch's reward vectors (B, m), plus CIP's empowerment bonus on every objective once it is on.

        ``w . 1 = 1``, so the utility gains ``lambda_E * bonus``. Paid to the actor instead, with ``s'``
        from the replay action, the bound cloned replay actions (docs/algorithms/cip.md).
        """
        cfg: PCSACConfig = self.config
        if self.inverse is None or self.gradient_steps < cfg.empowerment_starts:
            return batch.rewards
        log_q = self.inverse.log_prob(batch.obs, batch.next_obs, w, batch.actions)  # (B, A)
        if cfg.empowerment_pointwise:
            log_q = log_q - batch.log_probs
        bonus = self._entropy_log_prob(log_q, w)
        self._stats.setdefault("empowerment", []).append(bonus.mean())
        if cfg.empowerment_centered:
            bonus = bonus - bonus.mean()
        return batch.rewards + cfg.empowerment_coef * bonus.unsqueeze(-1)

    # --- envs ----------------------------------------------------------------------------------
    def _restart_envs(self) -> None:
        """Reset every sub-env with seeds derived from (seed, env steps) and draw new preferences."""
        cfg: PCSACConfig = self.config
        if self._env is None:
            self._env = envs.make(self.task.spec, num_envs=cfg.n_envs, **self.task.env_kwargs)
        base = (self.seed * 1_000_003 + self.num_timesteps) % (2**31 - cfg.n_envs)
        obs, _ = self._env.reset(seed=[base + i for i in range(cfg.n_envs)])
        self._obs = spaces.flatten(self.observation_space, obs, self.device)
        self._w = self._simplex(cfg.n_envs)
        self._resetting = np.zeros(cfg.n_envs, dtype=bool)

    @torch.no_grad()
    def _step(self) -> int:
        """One vector step: act, store the real transitions, draw preferences for new episodes."""
        n = self.config.n_envs
        if self.num_timesteps < self.config.learning_starts:
            action = torch.rand(n, self.action_dim, device=self.device, generator=self.generator) * 2.0 - 1.0
            log_prob = torch.full_like(action, -np.log(2.0))  # uniform on [-1, 1]
        else:
            action, log_prob = self.actor.sample(self._obs, self._w, self.generator)
        log_prob_u = log_prob + torch.log1p(TANH_EPS - action.pow(2))  # the density of u = atanh(a)
        next_obs, reward, terminated, truncated, _ = self._env.step(self._to_env(action))
        next_t = spaces.flatten(self.observation_space, next_obs, self.device)
        reward_t = torch.as_tensor(np.asarray(reward, dtype=np.float32).reshape(n, -1), device=self.device)
        valid = ~self._resetting
        self.buffer.add(self._obs, action, reward_t, next_t, torch.as_tensor(terminated, device=self.device),
                        torch.as_tensor(valid, device=self.device), log_prob_u)  # fmt: skip
        ended = (np.asarray(terminated) | np.asarray(truncated)) & valid
        if ended.any():
            self._w[torch.as_tensor(ended, device=self.device)] = self._simplex(int(ended.sum()))
        self._resetting = ended
        self._obs = next_t
        return n

    # --- update --------------------------------------------------------------------------------
    def _batch(self) -> tuple[Transitions, torch.Tensor]:
        """Replay transitions (+ CIP's counterfactual ones), each with a fresh preference."""
        cfg: PCSACConfig = self.config
        batch = self.buffer.sample(cfg.batch_size, self.generator)
        if self._swap is not None and cfg.cip_augment_ratio > 0 and bool(self._swap.any()):
            extra = cip.counterfactual(batch, self._swap, round(cfg.cip_augment_ratio * len(batch)), self.generator)
            batch = cip.concat(batch, extra)
        k = cfg.preferences_per_sample
        if k > 1:
            batch = batch.map(lambda x: x.repeat_interleave(k, dim=0))
        return batch, self._simplex(len(batch))

    def _update(self) -> None:
        """One gradient step of the critics, the actor and alpha."""
        cfg: PCSACConfig = self.config
        batch, w = self._batch()  # w: (B, m)
        alpha = self.alpha
        with torch.no_grad():
            next_action, next_log_prob = self.actor.sample(batch.next_obs, w, self.generator)
            q_next = self.critic_target(batch.next_obs, next_action, w)  # (2, B, m)
            pick = (q_next * w).sum(-1).argmin(dim=0)  # (B,) the twin with the smaller w . Q
            q_min = q_next.gather(0, pick.view(1, -1, 1).expand(1, *q_next.shape[1:])).squeeze(0)  # (B, m)
            soft = q_min - alpha * self._entropy_log_prob(next_log_prob, w).unsqueeze(-1)
            rewards = self._training_rewards(batch, w)
            target = rewards + self.gamma * (1.0 - batch.terminated).unsqueeze(-1) * soft  # (B, m)
        q = self.critic(batch.obs, batch.actions, w)  # (2, B, m)
        critic_loss = F.mse_loss(q, target.unsqueeze(0).expand_as(q), reduction="none").sum(-1).mean(-1).sum()
        self.critic_optim.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optim.step()

        if self.inverse is not None:  # CIP's inverse model: maximum likelihood of the replay actions
            inverse_loss = self.inverse.nll(batch.obs, batch.next_obs, w, batch.actions)
            self.inverse_optim.zero_grad(set_to_none=True)
            inverse_loss.backward()
            self.inverse_optim.step()
            self._stats.setdefault("inverse_loss", []).append(inverse_loss.detach())

        action, log_prob = self.actor.sample(batch.obs, w, self.generator)
        log_pi = self._entropy_log_prob(log_prob, w)  # (B,)
        self.critic.requires_grad_(False)
        q_pi = (self.critic(batch.obs, action, w) * w).sum(-1).min(dim=0).values  # (B,)
        self.critic.requires_grad_(True)
        actor_loss = (alpha * log_pi - q_pi).mean()
        self.actor_optim.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_optim.step()

        alpha_loss = torch.zeros((), device=self.device)
        if cfg.ent_coef == "auto":
            alpha_loss = -(self.log_alpha * (log_pi.detach() + self.target_entropy)).mean()
            self.alpha_optim.zero_grad(set_to_none=True)
            alpha_loss.backward()
            self.alpha_optim.step()
        with torch.no_grad():
            torch._foreach_lerp_(list(self.critic_target.parameters()), list(self.critic.parameters()), cfg.tau)
        self.gradient_steps += 1
        for key, value in (("critic_loss", critic_loss), ("actor_loss", actor_loss), ("ent_coef_loss", alpha_loss),
                           ("entropy", -log_pi.mean()), ("q_value", q_pi.mean())):  # fmt: skip
            self._stats.setdefault(key, []).append(value.detach())

    # --- CIP -----------------------------------------------------------------------------------
    def _submit_fit(self) -> None:
        rows = self.buffer.latest(self.config.cip_samples)
        states, actions, rewards = rows.obs.cpu().numpy(), rows.actions.cpu().numpy(), rows.rewards.cpu().numpy()
        shuffle = [self.seed, self.num_timesteps] if self.config.cip_shuffle_weights else None
        self._pending_fit = self._pool.submit(cip.fit, states, actions, rewards, self.config.cip_standardize,
                                              self.seed, shuffle)  # fmt: skip

    def _use_fit(self, fit: cip.CausalFit | None) -> None:
        """Train with ``fit``'s weights and swap set from now on (None: none yet)."""
        self.causal, self._action_effects, self._swap = fit, None, None
        if fit is not None:
            self._action_effects = torch.as_tensor(fit.action_effects, dtype=torch.float32, device=self.device)
            self._swap = cip.irrelevant_states(fit.state_effects, self.config.cip_swap_threshold).to(self.device)

    def _adopt_fit(self, fit: cip.CausalFit) -> None:
        self._use_fit(fit)
        self.log_diagnostics({"cip_fit_seconds": fit.seconds, "cip_swapped_dims": float(self._swap.sum())})

    def _poll_fit(self) -> None:
        if self._pending_fit is not None and self._pending_fit.done():
            fit, self._pending_fit = self._pending_fit.result(), None
            self._adopt_fit(fit)

    # --- evaluation ----------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> None:
        """Roll the current actor out for every grid preference in one batched pass; offer the results."""
        cfg: PCSACConfig = self.config
        grid = self.eval_grid
        if self._eval_env is None:
            self._eval_env = envs.make(self.task.spec, num_envs=len(grid) * cfg.eval_episodes, **self.task.env_kwargs)
        w = torch.as_tensor(np.repeat(grid, cfg.eval_episodes, axis=0), dtype=torch.float32, device=self.device)
        self.actor.eval()

        def act(obs: Any) -> np.ndarray:
            return self._to_env(self.actor.act(spaces.flatten(self.observation_space, obs, self.device), w))

        results = evaluate_groups(act, self._eval_env, len(grid), cfg.eval_episodes, gamma=self.gamma,
                                  seed=self.seed + 10_000)  # fmt: skip
        self.actor.train()
        name = f"{self.name}@{self.num_timesteps}"
        self.archive.add_network(name, {k: v.detach().cpu().clone() for k, v in self.actor.state_dict().items()})
        for pref, result in zip(grid, results, strict=True):
            meta = {"env_steps": self.num_timesteps, "discounted_return": result.mean_discounted_return.tolist()}
            self.archive.add(result.mean_return, preference=pref, meta=meta, network=name)
        self.archive.drop_unused_networks()
        self._actors = {k: v for k, v in self._actors.items() if k in self.archive.networks}
        stats = {key: float(torch.stack(values).mean()) for key, values in self._stats.items()}
        self._stats = {}
        mean_return = np.mean([r.mean_return for r in results], axis=0)
        self.log_diagnostics({**stats, "ent_coef": float(self.alpha),
                              **{f"return_{j}": float(v) for j, v in enumerate(mean_return)}})  # fmt: skip
        self.log_front()

    # --- training ------------------------------------------------------------------------------
    def learn(self, total_timesteps: int, callback: Callback | None = None, progress_bar: bool = True) -> ParetoArchive:
        """Collect, update, evaluate every ``eval_interval`` env steps (checkpointing there) and at the end."""
        cfg: PCSACConfig = self.config
        if total_timesteps < 1:
            raise ValueError(f"total_timesteps must be >= 1, got {total_timesteps}")
        updates = cfg.gradient_steps if cfg.gradient_steps > 0 else cfg.n_envs * cfg.train_freq
        steps = 0
        with one_torch_thread(self.device), self.progress(total_timesteps, progress_bar) as advance, \
                distributed.JobPool(cfg.executor, 1) as pool:  # fmt: skip
            self._pool = pool
            while self.num_timesteps < total_timesteps:
                if self._obs is None:
                    self._restart_envs()
                collected = self._step()
                self.num_timesteps += collected
                advance(collected)
                steps += 1
                if self.num_timesteps >= cfg.learning_starts and len(self.buffer) and steps % cfg.train_freq == 0:
                    for _ in range(updates):
                        self._update()
                if cfg.cip:
                    self._poll_fit()
                    if self.num_timesteps >= self.next_fit:
                        self.next_fit += cfg.cip_interval * max(1, (self.num_timesteps - self.next_fit)
                                                                // cfg.cip_interval + 1)  # fmt: skip
                        if self._pending_fit is None:
                            self._submit_fit()
                            self._poll_fit()
                if self.num_timesteps >= self.next_eval or self.num_timesteps >= total_timesteps:
                    while self.next_eval <= self.num_timesteps:
                        self.next_eval += cfg.eval_interval
                    self.evaluate()
                    self._obs = None  # restart the envs here, as a resumed run does
                    self.checkpoint()
                    info = {"env_steps": self.num_timesteps, "archive_size": len(self.archive)}
                    if callback is not None and callback(self, info) is False:
                        break
            self._pool = None
        return self.archive

    # --- acting --------------------------------------------------------------------------------
    def _snapshot(self, name: str) -> Actor:
        if name not in self._actors:
            actor = Actor(self.obs_dim, self.num_objectives, self.action_dim, self.config.net_arch)
            storage.load_weights_into(actor, self.archive.network(name), f"shared network {name!r}")
            self._actors[name] = actor.to(self.device).eval()
        return self._actors[name]

    def entry_predictor(self, entry_id: int) -> tasks.Predictor:
        """Act with the actor snapshot that entry ``entry_id`` was evaluated with, conditioned on its preference."""
        entry = self.entry(entry_id)
        if entry.network is None or entry.preference is None:
            raise storage.FormatError(f"archive entry {entry_id} names no shared network and preference")
        actor = self._snapshot(entry.network)
        pref = torch.as_tensor(entry.preference, dtype=torch.float32, device=self.device)

        def predict(obs, preference, state=None, episode_start=None, action_masks=None, deterministic=True):
            with torch.no_grad():
                x = spaces.flatten(self.observation_space, obs, self.device)
                w = pref.expand(x.shape[0], -1)
                action = actor.act(x, w) if deterministic else actor.sample(x, w, None)[0]
            return self._to_env(action), state

        return predict

    # --- persistence ---------------------------------------------------------------------------
    def _adopt_archive(self, archive: ParetoArchive) -> None:
        super()._adopt_archive(archive)
        self._actors = {}

    def state_dict(self) -> dict[str, Any]:
        state = {
            **super().state_dict(),
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "log_alpha": self.log_alpha.detach().clone(),
            "actor_optim": storage.optimizer_state(self.actor_optim),
            "critic_optim": storage.optimizer_state(self.critic_optim),
            "alpha_optim": storage.optimizer_state(self.alpha_optim),
            "generator": self.generator.get_state(),
            "buffer": self.buffer.state_dict(),
            "next_eval": self.next_eval,
            "next_fit": self.next_fit,
        }
        if self.inverse is not None:
            state["inverse"] = self.inverse.state_dict()
            state["inverse_optim"] = storage.optimizer_state(self.inverse_optim)
        if self.causal is not None:
            state["causal"] = {"effects": torch.as_tensor(self.causal.effects), "state_dim": self.causal.state_dim,
                               "seconds": self.causal.seconds, "samples": self.causal.samples}  # fmt: skip
        return {k: storage.to_cpu(v) for k, v in state.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        storage.load_optimizer_state(self.actor_optim, state["actor_optim"])
        storage.load_optimizer_state(self.critic_optim, state["critic_optim"])
        storage.load_optimizer_state(self.alpha_optim, state["alpha_optim"])
        if self.inverse is not None:
            self.inverse.load_state_dict(state["inverse"])
            storage.load_optimizer_state(self.inverse_optim, state["inverse_optim"])
        self.generator.set_state(state["generator"])
        self.buffer.load_state_dict(state["buffer"])
        self.next_eval, self.next_fit = int(state["next_eval"]), int(state["next_fit"])
        c = state.get("causal")
        fit = None if c is None else cip.CausalFit(c["effects"].numpy(), int(c["state_dim"]), float(c["seconds"]),
                                                   int(c["samples"]))  # fmt: skip
        self._use_fit(fit)
        self._obs = None  # envs restart at a checkpoint
