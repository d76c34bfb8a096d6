"""What offline agents that act through one conditioned policy share: the loop, evaluation, acting.

OPPO (conditioned on a learned context z*_w) and the behaviour-cloning baselines (conditioned on
nothing, on the preference, or on the preference and a target return) all train by gradient steps on
a dataset, and measure ``pi(. | s, c_w)`` by rollouts over an equally spaced preference grid in the
env the data came from. Each evaluation registers one policy snapshot; its entries carry their
preference and their condition ``c_w``.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import numpy as np
import torch

from morl import envs, metrics, preferences, spaces, storage, tasks
from morl.agents.base import Agent, Callback
from morl.agents.oppo_nets import ContextPolicy
from morl.evaluation import evaluate_groups
from morl.nn import one_torch_thread
from morl.pareto import ParetoArchive


class OfflinePolicyAgent(Agent):
    """Base class: a subclass builds ``self.policy`` (a :class:`ContextPolicy`) and implements
    :meth:`_update` (one gradient step) and :meth:`conditions` (the condition of every grid preference).

    Its config needs ``num_preferences``, ``net_arch``, ``eval_interval`` and ``eval_episodes``.
    """

    task_kinds: ClassVar[tuple[str, ...]] = ("offline",)
    budget_unit: ClassVar[str] = "gradient_steps"
    observation_kinds: ClassVar[tuple[str, ...]] = ("Box", "Discrete")
    action_kinds: ClassVar[tuple[str, ...]] = ("Discrete", "Box")
    policy: ContextPolicy
    condition_dim: int

    def __init__(self, env: tasks.Task | Any, *, seed: int = 0, device: str = "auto", config: Any = None,
                 **hparams: Any):  # fmt: skip
        super().__init__(env, seed=seed, device=device, config=config, **hparams)
        cfg = self.config
        for key in ("num_preferences", "eval_interval", "eval_episodes"):
            if getattr(cfg, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(cfg, key)}")
        self.dataset = self.task.source
        if self.dataset.env_id is None:
            raise ValueError(f"{self.name} measures its policy by rollouts: dataset {self.dataset.name!r} names no env")
        space = self.action_space
        self.discrete = hasattr(space, "n")
        self.action_dim = int(space.n) if self.discrete else int(np.prod(space.shape))
        self.obs_dim = spaces.flat_dim(self.observation_space)
        m = self.num_objectives
        self.grid = preferences.equally_spaced(cfg.num_preferences, m) if m > 1 else np.ones((1, 1))  # (P, m)
        self._grid = torch.as_tensor(self.grid, dtype=torch.float32, device=self.device)
        self.next_eval = cfg.eval_interval
        self.generator = torch.Generator(device=self.device)  # every sample of data, so a resumed run repeats
        self.generator.manual_seed(seed)
        self._eval_env: Any = None
        self.grid_returns: np.ndarray | None = None  # mean return per grid preference at the last evaluation
        self._policies: dict[str, ContextPolicy] = {}
        self._stats: dict[str, list[torch.Tensor]] = {}

    @abc.abstractmethod
    def _update(self) -> None:
        """One gradient step (it counts ``self.gradient_steps``)."""

    @abc.abstractmethod
    def conditions(self) -> torch.Tensor:
        """The policy's condition for every grid preference, (P, condition_dim)."""

    def _new_policy(self) -> ContextPolicy:
        return ContextPolicy(self.obs_dim, self.condition_dim, self.action_dim, self.config.net_arch, self.discrete)

    def _record(self, **values: torch.Tensor) -> None:
        for key, value in values.items():
            self._stats.setdefault(key, []).append(value.detach())

    # --- training -----------------------------------------------------------------------------
    def learn(self, total_timesteps: int, callback: Callback | None = None, progress_bar: bool = True) -> ParetoArchive:
        """Take ``total_timesteps`` gradient steps, evaluating (and checkpointing) every ``eval_interval``."""
        if total_timesteps < 1:
            raise ValueError(f"total_timesteps must be >= 1, got {total_timesteps}")
        with one_torch_thread(self.device), self.progress(total_timesteps, progress_bar) as advance:
            while self.gradient_steps < total_timesteps:
                self._update()
                advance(1)
                if self.gradient_steps >= self.next_eval or self.gradient_steps >= total_timesteps:
                    while self.next_eval <= self.gradient_steps:
                        self.next_eval += self.config.eval_interval
                    self.evaluate()
                    self.checkpoint()
                    info = {"gradient_steps": self.gradient_steps, "archive_size": len(self.archive)}
                    if callback is not None and callback(self, info) is False:
                        break
        return self.archive

    # --- evaluation ---------------------------------------------------------------------------
    def _to_env(self, action: torch.Tensor) -> np.ndarray:
        """Policy outputs as env actions: indices shifted by the space's start, or [-1, 1] mapped to the bounds."""
        space = self.action_space
        if self.discrete:
            return action.cpu().numpy() + int(space.start)
        low, high = np.asarray(space.low).reshape(-1), np.asarray(space.high).reshape(-1)
        scaled = low + (action.cpu().numpy().astype(np.float64) + 1.0) * 0.5 * (high - low)
        return scaled.reshape(len(scaled), *space.shape).astype(space.dtype)

    @torch.no_grad()
    def evaluate(self) -> list[Any]:
        """Roll ``pi(. | s, c_w)`` out for every grid preference in one batched pass; offer the results."""
        episodes = self.config.eval_episodes
        if self._eval_env is None:
            self._eval_env = envs.make(self.dataset.env_id, num_envs=len(self.grid) * episodes,
                                       **(self.dataset.env_kwargs or {}))  # fmt: skip
        conditions = self.conditions().detach()  # (P, c)
        rows = conditions.repeat_interleave(episodes, dim=0)  # (P * episodes, c)

        def act(obs: Any) -> np.ndarray:
            return self._to_env(self.policy.act(spaces.flatten(self.observation_space, obs, self.device), rows))

        results = evaluate_groups(act, self._eval_env, len(self.grid), episodes, gamma=self.task.gamma,
                                  seed=self.seed + 10_000)  # fmt: skip
        name = f"{self.name}@{self.gradient_steps}"
        self.archive.add_network(name, {k: v.detach().cpu().clone() for k, v in self.policy.state_dict().items()})
        for w, condition, result in zip(self.grid, conditions.cpu().numpy(), results, strict=True):
            meta = {"gradient_steps": self.gradient_steps, "discounted_return": result.mean_discounted_return.tolist()}
            self.archive.add(result.mean_return, preference=w, meta=meta, network=name,
                             condition=condition if condition.size else None)  # fmt: skip
        self.archive.drop_unused_networks()
        self._policies = {k: v for k, v in self._policies.items() if k in self.archive.networks}
        stats = {key: float(torch.stack(values).mean()) for key, values in self._stats.items()}
        self._stats = {}
        mean_return = np.mean([r.mean_return for r in results], axis=0)
        self.grid_returns = np.stack([r.mean_return for r in results])  # (P, m), dominated rows included
        monotone = metrics.preference_monotonicity(self.grid, self.grid_returns)
        returns = {f"return_{j}": float(v) for j, v in enumerate(mean_return)}
        self.log_diagnostics({**stats, **returns, "monotonicity": monotone})
        self.log_front()
        return results

    # --- acting -------------------------------------------------------------------------------
    def _snapshot(self, name: str) -> ContextPolicy:
        if name not in self._policies:
            policy = storage.load_weights_into(self._new_policy(), self.archive.network(name), f"network {name!r}")
            self._policies[name] = policy.to(self.device).eval()
        return self._policies[name]

    def entry_predictor(self, entry_id: int) -> tasks.Predictor:
        """Act with the policy snapshot entry ``entry_id`` was measured with, under its own condition."""
        entry = self.entry(entry_id)
        if entry.network is None or (entry.condition is None and self.condition_dim):
            raise storage.FormatError(f"archive entry {entry_id} names no shared network and condition")
        policy = self._snapshot(entry.network)
        saved = np.zeros(0) if entry.condition is None else entry.condition
        condition = torch.as_tensor(saved, dtype=torch.float32, device=self.device)

        def predict(obs, preference, state=None, episode_start=None, action_masks=None, deterministic=True):
            with torch.no_grad():
                x = spaces.flatten(self.observation_space, obs, self.device)
                return self._to_env(policy.act(x, condition.expand(x.shape[0], -1))), state

        return predict

    # --- persistence --------------------------------------------------------------------------
    def _adopt_archive(self, archive: ParetoArchive) -> None:
        super()._adopt_archive(archive)
        self._policies = {}

    def state_dict(self) -> dict[str, Any]:
        """Counters, the policy, the sampling generator and the next evaluation; subclasses add their own."""
        state = {**super().state_dict(), "policy": self.policy.state_dict(), "generator": self.generator.get_state(),
                 "next_eval": self.next_eval}  # fmt: skip
        return {k: storage.to_cpu(v) for k, v in state.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.policy.load_state_dict(state["policy"])
        self.generator.set_state(state["generator"])
        self.next_eval = int(state["next_eval"])
