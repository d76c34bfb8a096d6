"""MO-MIX (Hu, Luo, Yang, Huang, IEEE TPAMI 2023): multi-objective value mixing for cooperative teams, and the
outer-loop QMIX baseline in the same code.

MO-MIX trains one preference-conditioned recurrent agent network shared by all agents (Q-vector per action), one
QMIX mixer per objective whose hypernetworks read the global state and the preference, and vector TD targets with
double-Q action choice by ``argmax_a w . Q_i``. Each training episode plays one preference from a discretised
simplex, chosen by the exploration guide (:mod:`morl.agents.momix_guide`) or uniformly. Evaluation rolls the greedy
team out for every grid preference at once; the results go into the archive under one network snapshot.

``outer_loop=True`` is the baseline: ``outer_loop_preferences`` scalar QMIX runs, one after the other, each on the
reward ``w . r`` for its fixed ``w`` and an equal share of the env steps (MOMAland's ``LinearizeReward`` pattern).
Where the paper is silent the defaults are PyMARL QMIX's (docs/algorithms/momix.md lists each choice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from morl import multiagent, preferences, storage, tasks
from morl.agents import momix_guide
from morl.agents.base import Agent, Callback
from morl.agents.momix_nets import MASKED, AgentNetwork, ParallelMixer, agent_inputs, td_targets, unroll
from morl.agents.momix_rollout import Rollout, play
from morl.episode_buffer import EpisodeBuffer
from morl.multiagent import MultiAgentEnv
from morl.nn import one_torch_thread
from morl.pareto import ParetoArchive


@dataclass
class MOMIXConfig:
    """Hyperparameters of MO-MIX (PyMARL QMIX defaults where the paper gives none; SB3 names where one exists).

    Attributes:
        n_envs: env copies playing episodes at once, one batched forward for all their agents (PyMARL
            ``batch_size_run``); one round = one episode per copy.
        buffer_size: replay capacity, episodes (PyMARL 5,000).
        batch_size: episodes per gradient step (PyMARL 32); training starts once the buffer holds this many.
        gradient_steps: gradient steps per round of ``n_envs`` episodes (PyMARL: 1).
        learning_rate, optim_alpha, optim_eps: RMSprop (PyMARL 5e-4, 0.99, 1e-5).
        gamma: discount; None takes the env's registered one.
        grad_norm_clip: gradient norm clip (PyMARL 10).
        target_update_interval: episodes between hard target-network copies (PyMARL 200).
        double_q: pick the bootstrap action with the online network (PyMARL True).
        rnn_hidden_dim, mixing_embed_dim, hypernet_embed: network widths (PyMARL 64, 32, 64).
        epsilon_start, epsilon_finish, epsilon_anneal_time: linear epsilon-greedy schedule over env steps
            (PyMARL 1.0 -> 0.05 over 50,000).
        preference_step: spacing of the discretised simplex that training and evaluation preferences come from.
        exploration_guide: steer training preferences to the largest gaps of the current front (False: uniform on
            the grid, the ablation).
        guide_uniform_share: share of the guide's probability spread evenly over the grid (keeps every
            preference trained).
        eval_interval: env steps between evaluations (and checkpoints); also after training.
        eval_episodes: greedy episodes per preference and evaluation.
        outer_loop: train the outer-loop QMIX baseline instead.
        outer_loop_preferences: fixed preferences of the baseline (equally spaced), one scalar QMIX each.
    """

    n_envs: int = 8
    buffer_size: int = 5_000
    batch_size: int = 32
    gradient_steps: int = 1
    learning_rate: float = 5e-4
    optim_alpha: float = 0.99
    optim_eps: float = 1e-5
    gamma: float | None = None
    grad_norm_clip: float = 10.0
    target_update_interval: int = 200
    double_q: bool = True
    rnn_hidden_dim: int = 64
    mixing_embed_dim: int = 32
    hypernet_embed: int = 64
    epsilon_start: float = 1.0
    epsilon_finish: float = 0.05
    epsilon_anneal_time: int = 50_000
    preference_step: float = 0.1
    exploration_guide: bool = True
    guide_uniform_share: float = 0.2
    eval_interval: int = 5_000
    eval_episodes: int = 1
    outer_loop: bool = False
    outer_loop_preferences: int = 6


class MOMIX(Agent):
    """MO-MIX on a multi-agent task with discrete actions (CTDE: agents act on their own observations).

    Args:
        env: a multi-agent id (``morl envs``), a dotted module with ``parallel_env`` or a factory.
        seed: seeds networks, exploration, preference draws, replay sampling and env resets.
        device: "auto", "cpu" or "cuda": networks and replay live there.
        config / **hparams: a :class:`MOMIXConfig` or its fields.
    """

    name: ClassVar[str] = "momix"
    Config: ClassVar[type] = MOMIXConfig
    task_kinds: ClassVar[tuple[str, ...]] = ("multi",)
    observation_kinds: ClassVar[tuple[str, ...]] = ("Box",)
    action_kinds: ClassVar[tuple[str, ...]] = ("Discrete",)

    def __init__(self, env: tasks.Task | Any, *, seed: int = 0, device: str = "auto", config: Any = None,
                 **hparams: Any):  # fmt: skip
        super().__init__(env, seed=seed, device=device, config=config, **hparams)
        cfg: MOMIXConfig = self.config
        for key in ("n_envs", "buffer_size", "batch_size", "gradient_steps", "target_update_interval",
                    "rnn_hidden_dim", "mixing_embed_dim", "hypernet_embed", "eval_interval", "eval_episodes",
                    "outer_loop_preferences", "epsilon_anneal_time"):  # fmt: skip
            if getattr(cfg, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(cfg, key)}")
        if cfg.batch_size > cfg.buffer_size:
            raise ValueError(f"batch_size {cfg.batch_size} episodes exceeds buffer_size {cfg.buffer_size}")
        for key in ("epsilon_start", "epsilon_finish", "guide_uniform_share"):
            if not 0.0 <= getattr(cfg, key) <= 1.0:
                raise ValueError(f"{key} must be in [0, 1], got {getattr(cfg, key)}")
        m = self.num_objectives
        self.grid = preferences.simplex_grid(m, cfg.preference_step)  # raises on a step that does not divide 1
        self.gamma = cfg.gamma if cfg.gamma is not None else self.task.gamma
        probe = self._make_env()
        self.n_agents, self.obs_dim, self.n_actions = probe.num_agents, probe.obs_dim, probe.n_actions
        self.state_dim = probe.state_dim
        self._train_envs = [probe] + [self._make_env() for _ in range(cfg.n_envs - 1)]
        self._eval_envs: list[MultiAgentEnv] = []
        # MO-MIX: Q-vectors conditioned on w; outer loop: scalar QMIX, one per fixed preference, no w input.
        self.n_out, self.cond_dim = (1, 0) if cfg.outer_loop else (m, m)
        self.fixed = preferences.equally_spaced(cfg.outer_loop_preferences, m) if cfg.outer_loop else None
        self.phase, self.phase_start, self.phase_budget = 0, 0, 0  # outer loop: which QMIX run, since when
        self._build_learner(seed)
        self.buffer = EpisodeBuffer(cfg.buffer_size, self.device)
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator().manual_seed(seed)
        self.episodes = 0
        self.last_target_update = 0
        self.next_eval = cfg.eval_interval
        self._nets: dict[str, AgentNetwork] = {}  # archive snapshots rebuilt for acting
        self._stats: dict[str, list[torch.Tensor]] = {}

    @property
    def diagnostics(self) -> tuple[str, ...]:  # type: ignore[override]
        """``train.csv`` columns: TD loss, mean chosen joint Q, epsilon, mean grid returns per objective."""
        return ("loss", "q_taken", "epsilon", *(f"return_{j}" for j in range(self.num_objectives)))

    # --- construction --------------------------------------------------------------------------
    def _make_env(self) -> MultiAgentEnv:
        kwargs = dict(self.task.env_kwargs)
        defaults = multiagent.defaults_for(self.task.spec)
        mode = kwargs.pop("team_reward", None) or (defaults.team_reward if defaults is not None else "mean")
        return multiagent.make_multiagent(self.task.spec, team_reward=mode, **kwargs)

    def _new_agent_net(self) -> AgentNetwork:
        cfg: MOMIXConfig = self.config
        width = self.obs_dim + self.n_actions + self.n_agents + self.cond_dim
        return AgentNetwork(width, self.n_actions, self.n_out, cfg.rnn_hidden_dim)

    def _build_learner(self, seed: int) -> None:
        """Fresh networks, targets and optimiser (once for MO-MIX; once per preference for the outer loop)."""
        cfg: MOMIXConfig = self.config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = self._new_agent_net().to(self.device)
            self.mixer = ParallelMixer(self.n_agents, self.state_dim, self.cond_dim, self.n_out,
                                       cfg.mixing_embed_dim, cfg.hypernet_embed).to(self.device)  # fmt: skip
        self.target_net = self._new_agent_net().to(self.device).requires_grad_(False)
        self.target_mixer = ParallelMixer(self.n_agents, self.state_dim, self.cond_dim, self.n_out,
                                          cfg.mixing_embed_dim, cfg.hypernet_embed).to(self.device)  # fmt: skip
        self.target_mixer.requires_grad_(False)
        self._update_targets()
        self.params = [*self.net.parameters(), *self.mixer.parameters()]
        self.optim = torch.optim.RMSprop(self.params, lr=cfg.learning_rate, alpha=cfg.optim_alpha, eps=cfg.optim_eps)

    def _update_targets(self) -> None:
        self.target_net.load_state_dict(self.net.state_dict())
        self.target_mixer.load_state_dict(self.mixer.state_dict())

    # --- preferences ---------------------------------------------------------------------------
    @property
    def epsilon(self) -> float:
        """PyMARL's linear schedule over the env steps of the current run (each outer-loop QMIX starts afresh)."""
        cfg: MOMIXConfig = self.config
        frac = min(1.0, (self.num_timesteps - self.phase_start) / cfg.epsilon_anneal_time)
        return cfg.epsilon_start + frac * (cfg.epsilon_finish - cfg.epsilon_start)

    def _training_preferences(self, n: int) -> np.ndarray:
        """One preference per training episode, (n, m): the outer loop's fixed one, or a guided / uniform grid draw."""
        cfg: MOMIXConfig = self.config
        if cfg.outer_loop:
            return np.repeat(self.fixed[self.phase][None], n, axis=0)
        probs = np.full(len(self.grid), 1.0 / len(self.grid))
        if cfg.exploration_guide:
            probs = momix_guide.probabilities(self.grid, self.archive.values, cfg.preference_step,
                                              cfg.guide_uniform_share)  # fmt: skip
        return self.grid[self.rng.choice(len(self.grid), size=n, p=probs)]

    def _condition(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Network condition (B, cond_dim) and action utility weights (B, n_out) for preferences ``w`` (B, m)."""
        if self.config.outer_loop:
            return w[:, :0], torch.ones(len(w), 1, device=w.device)
        return w, w

    # --- acting --------------------------------------------------------------------------------
    def _act(self, net: AgentNetwork, obs: torch.Tensor, last: torch.Tensor, cond: torch.Tensor,
             utility: torch.Tensor, avail: torch.Tensor, hidden: torch.Tensor, epsilon: float,
             ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """Actions (C, N) by argmax of ``utility . Q`` over available actions, epsilon-greedy; next hidden state."""
        c, n = obs.shape[:2]
        q, hidden = net(agent_inputs(obs, last, cond, self.n_actions).reshape(c * n, -1), hidden)
        scores = (q.view(c, n, self.n_actions, -1) * utility[:, None, None, :]).sum(-1).masked_fill(~avail, MASKED)
        actions = scores.argmax(dim=-1)
        if epsilon > 0:
            explore = torch.as_tensor(self.rng.random((c, n)) < epsilon, device=obs.device)
            noise = torch.as_tensor(self.rng.random((c, n, self.n_actions)), dtype=torch.float32, device=obs.device)
            random_actions = noise.masked_fill(~avail, -1.0).argmax(dim=-1)  # uniform over available actions
            actions = torch.where(explore, random_actions, actions)
        return actions, hidden

    def _play(self, envs: list[MultiAgentEnv], w: np.ndarray, seeds: list[int], epsilon: float) -> Rollout:
        """One episode on every env copy at once, each for its preference ``w`` (C, m); one forward per step."""
        pref = torch.as_tensor(w, dtype=torch.float32, device=self.device)
        cond, utility = self._condition(pref)

        def policy(obs: torch.Tensor, avail: torch.Tensor, last: torch.Tensor,
                   hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
            return self._act(self.net, obs, last, cond, utility, avail, hidden, epsilon)

        hidden = torch.zeros(len(envs) * self.n_agents, self.net.hidden_dim, device=self.device)
        return play(envs, policy, hidden, pref, seeds, self.gamma)

    # --- update --------------------------------------------------------------------------------
    def _update(self) -> None:
        """One RMSprop step on the masked vector TD error of ``batch_size`` replayed episodes."""
        cfg: MOMIXConfig = self.config
        batch = self.buffer.sample(cfg.batch_size, self.generator)
        cond, utility = self._condition(batch.preference)
        rewards = batch.rewards
        if cfg.outer_loop:  # LinearizeReward: the scalar QMIX of this phase learns w . r
            w = torch.as_tensor(self.fixed[self.phase], dtype=torch.float32, device=self.device)
            rewards = (rewards * w).sum(-1, keepdim=True)
        q = unroll(self.net, batch, cond)  # (B, T + 1, N, A, n_out)
        with torch.no_grad():
            q_next = unroll(self.target_net, batch, cond)
            select = q.detach() if cfg.double_q else q_next
            targets = td_targets(batch, select, q_next, self.target_mixer, utility, rewards, cond, self.gamma)
        taken = batch.actions[..., None, None].expand(*batch.actions.shape, 1, self.n_out)
        chosen = q[:, :-1].gather(3, taken).squeeze(3)  # (B, T, N, n_out)
        q_tot = self.mixer(chosen, batch.state[:, :-1], cond.unsqueeze(1).expand(-1, batch.max_len, -1))
        mask = batch.filled.unsqueeze(-1).float()  # (B, T, 1)
        loss = (((q_tot - targets) * mask) ** 2).sum() / mask.sum()  # summed over objectives
        self.optim.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.params, cfg.grad_norm_clip)
        self.optim.step()
        self.gradient_steps += 1
        self._stats.setdefault("loss", []).append(loss.detach())  # tensors: no device sync per update
        self._stats.setdefault("q_taken", []).append((q_tot.detach() * mask).sum() / mask.sum() / self.n_out)
        if self.episodes - self.last_target_update >= cfg.target_update_interval:
            self._update_targets()
            self.last_target_update = self.episodes

    # --- evaluation ----------------------------------------------------------------------------
    def _eval_preferences(self) -> np.ndarray:
        return self.fixed[self.phase : self.phase + 1] if self.config.outer_loop else self.grid

    def evaluate(self) -> None:
        """Greedy episodes for every evaluation preference in one batched pass; offer the results to the archive."""
        cfg: MOMIXConfig = self.config
        grid = self._eval_preferences()
        copies = len(grid) * cfg.eval_episodes
        while len(self._eval_envs) < copies:
            self._eval_envs.append(self._make_env())
        seeds = [self.seed + 10_000 + i % cfg.eval_episodes for i in range(copies)]
        out = self._play(self._eval_envs[:copies], np.repeat(grid, cfg.eval_episodes, axis=0), seeds, 0.0)
        returns = out.returns.reshape(len(grid), cfg.eval_episodes, -1).mean(axis=1)
        discounted = out.discounted.reshape(len(grid), cfg.eval_episodes, -1).mean(axis=1)
        name = f"{'qmix' + str(self.phase) if cfg.outer_loop else self.name}@{self.num_timesteps}"
        self.archive.add_network(name, {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()})
        for pref, ret, disc in zip(grid, returns, discounted, strict=True):
            meta = {"env_steps": self.num_timesteps, "discounted_return": disc.tolist()}
            self.archive.add(ret, preference=pref, meta=meta, network=name)
        self.archive.drop_unused_networks()
        self._nets = {k: v for k, v in self._nets.items() if k in self.archive.networks}
        stats = {key: float(torch.stack(values).mean()) for key, values in self._stats.items()}
        self._stats = {}
        self.log_diagnostics({**stats, "epsilon": self.epsilon,
                              **{f"return_{j}": float(v) for j, v in enumerate(returns.mean(axis=0))}})  # fmt: skip
        self.log_front()

    # --- training ------------------------------------------------------------------------------
    def learn(self, total_timesteps: int, callback: Callback | None = None, progress_bar: bool = True) -> ParetoArchive:
        """Play rounds of ``n_envs`` episodes, train after each, evaluate every ``eval_interval`` env steps."""
        cfg: MOMIXConfig = self.config
        if total_timesteps < 1:
            raise ValueError(f"total_timesteps must be >= 1, got {total_timesteps}")
        if cfg.outer_loop and not self.phase_budget:
            self.phase_budget = max(1, total_timesteps // cfg.outer_loop_preferences)
        with one_torch_thread(self.device), self.progress(total_timesteps, progress_bar) as advance:
            while self.num_timesteps < total_timesteps:
                if cfg.outer_loop:
                    phase = min(cfg.outer_loop_preferences - 1, self.num_timesteps // self.phase_budget)
                    if phase != self.phase:
                        self._start_phase(phase)
                w = self._training_preferences(cfg.n_envs)
                seeds = [(self.seed * 1_000_003 + self.episodes + i) % 2**31 for i in range(cfg.n_envs)]
                out = self._play(self._train_envs, w, seeds, self.epsilon)
                self.buffer.add(out.episodes)
                self.episodes += cfg.n_envs
                self.num_timesteps += out.steps
                advance(out.steps)
                if len(self.buffer) >= cfg.batch_size:
                    for _ in range(cfg.gradient_steps):
                        self._update()
                phase_over = cfg.outer_loop and self.num_timesteps >= (self.phase + 1) * self.phase_budget
                if self.num_timesteps >= self.next_eval or self.num_timesteps >= total_timesteps or phase_over:
                    while self.next_eval <= self.num_timesteps:
                        self.next_eval += cfg.eval_interval
                    self.evaluate()
                    self.checkpoint()
                    info = {"env_steps": self.num_timesteps, "archive_size": len(self.archive)}
                    if callback is not None and callback(self, info) is False:
                        break
        return self.archive

    def _start_phase(self, phase: int) -> None:
        """Outer loop: the next preference's QMIX starts from scratch (networks, replay, epsilon)."""
        self.phase, self.phase_start = phase, self.num_timesteps
        self._build_learner(self.seed + phase)
        self.buffer = EpisodeBuffer(self.config.buffer_size, self.device)
        self.last_target_update = self.episodes

    # --- acting with archive entries -------------------------------------------------------------
    def _snapshot(self, name: str) -> AgentNetwork:
        if name not in self._nets:
            net = self._new_agent_net()
            storage.load_weights_into(net, self.archive.network(name), f"shared network {name!r}")
            self._nets[name] = net.to(self.device).eval()
        return self._nets[name]

    def entry_predictor(self, entry_id: int) -> tasks.Predictor:
        """Act with the snapshot entry ``entry_id`` was evaluated with, for its preference; state = (hidden, last)."""
        entry = self.entry(entry_id)
        if entry.network is None or entry.preference is None:
            raise storage.FormatError(f"archive entry {entry_id} names no shared network and preference")
        net = self._snapshot(entry.network)
        cond, utility = self._condition(torch.as_tensor(entry.preference[None], dtype=torch.float32,
                                                        device=self.device))  # fmt: skip

        def predict(obs, preference, state=None, episode_start=None, action_masks=None, deterministic=True):
            with torch.no_grad():
                o = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device).view(1, self.n_agents, -1)
                if state is None or (episode_start is not None and bool(np.asarray(episode_start).ravel()[0])):
                    state = (torch.zeros(self.n_agents, net.hidden_dim, device=self.device),
                             torch.full((1, self.n_agents), -1, dtype=torch.long, device=self.device))  # fmt: skip
                masks = np.ones((self.n_agents, self.n_actions), bool) if action_masks is None else action_masks
                avail = torch.as_tensor(np.asarray(masks, dtype=bool), device=self.device).view(1, self.n_agents, -1)
                eps = 0.0 if deterministic else self.config.epsilon_finish
                last, hidden = self._act(net, o, state[1], cond, utility, avail, state[0], eps)
            return last[0].cpu().numpy(), (hidden, last)

        return predict

    # --- persistence ---------------------------------------------------------------------------
    def _adopt_archive(self, archive: ParetoArchive) -> None:
        super()._adopt_archive(archive)
        self._nets = {}

    def state_dict(self) -> dict[str, Any]:
        state = {
            **super().state_dict(),
            "net": self.net.state_dict(),
            "mixer": self.mixer.state_dict(),
            "target_net": self.target_net.state_dict(),
            "target_mixer": self.target_mixer.state_dict(),
            "optim": storage.optimizer_state(self.optim),
            "buffer": self.buffer.state_dict(),
            "rng": self.rng.bit_generator.state,
            "generator": self.generator.get_state(),
            "episodes": self.episodes,
            "last_target_update": self.last_target_update,
            "next_eval": self.next_eval,
            "phase": [self.phase, self.phase_start, self.phase_budget],
        }
        return {k: storage.to_cpu(v) for k, v in state.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.phase, self.phase_start, self.phase_budget = (int(v) for v in state["phase"])
        for name in ("net", "mixer", "target_net", "target_mixer"):
            getattr(self, name).load_state_dict(state[name])
        storage.load_optimizer_state(self.optim, state["optim"])
        self.buffer.load_state_dict(state["buffer"])
        self.rng.bit_generator.state = state["rng"]
        self.generator.set_state(state["generator"])
        self.episodes, self.last_target_update = int(state["episodes"]), int(state["last_target_update"])
        self.next_eval = int(state["next_eval"])
