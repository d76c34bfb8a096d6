"""Behaviour-cloning baselines of PEDA (Zhu et al., ICLR 2023) for OPPO: BC, BC(P) and MORvS(P).

One MLP ``pi(a | s, c)`` cloned from every logged step (cross-entropy for discrete actions, MSE of a
tanh output for continuous ones), with the condition ``c``:

- ``none`` (BC): nothing; one policy for every preference.
- ``preference`` (BC(P)): the behaviour preference logged with the step; at evaluation, w.
- ``rvs`` (MORvS(P)): the behaviour preference and the average reward per step still to come in
  the episode (per objective). At evaluation, w and the average reward per step of the data's best
  episode for w (``w . G``); PEDA regresses that target from the preference instead (research/oppo.md §3.3).

The "(P)" variants need the dataset's behaviour preferences (``Dataset.preferences``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from morl import storage, tasks
from morl.agents.offline import OfflinePolicyAgent
from morl.data.segments import Segments

Condition = Literal["none", "preference", "rvs"]


@dataclass
class BCConfig:
    """Hyperparameters of the behaviour-cloning baselines (PEDA's optimiser settings; a smaller MLP).

    Attributes:
        condition: ``none`` (BC), ``preference`` (BC(P)) or ``rvs`` (MORvS(P)).
        net_arch: hidden layers of the policy MLP (PEDA: 3 x 512).
        batch_size: logged steps per gradient step (PEDA: 64).
        learning_rate, weight_decay: AdamW (PEDA: 1e-4, 1e-3).
        warmup_steps: linear learning-rate warm-up (PEDA: 10,000).
        num_preferences: equally spaced evaluation preferences.
        eval_interval: gradient steps between evaluations (and checkpoints); also after training.
        eval_episodes: episodes per preference and evaluation (deterministic actions).
    """

    condition: Condition = "preference"
    net_arch: tuple[int, ...] = (256, 256)
    batch_size: int = 64
    learning_rate: float = 1e-4
    weight_decay: float = 1e-3
    warmup_steps: int = 10_000
    num_preferences: int = 11
    eval_interval: int = 1_000
    eval_episodes: int = 1


class OfflineBC(OfflinePolicyAgent):
    """BC, BC(P) or MORvS(P) on an offline task (``condition``); the archive is rollouts over the grid.

    Args:
        env: an offline task or :class:`morl.data.Dataset` that names its env.
        seed, device: as for every agent.
        config / **hparams: a :class:`BCConfig` or its fields.
    """

    name: ClassVar[str] = "bc"
    Config: ClassVar[type] = BCConfig

    def __init__(self, env: tasks.Task | Any, *, seed: int = 0, device: str = "auto", config: Any = None,
                 **hparams: Any):  # fmt: skip
        super().__init__(env, seed=seed, device=device, config=config, **hparams)
        cfg: BCConfig = self.config
        if cfg.condition != "none" and self.dataset.preferences is None:
            raise ValueError(f"bc with condition={cfg.condition!r} needs behaviour preferences; dataset "
                             f"{self.dataset.name!r} has none (use condition='none')")  # fmt: skip
        if cfg.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {cfg.batch_size}")
        m, dev = self.num_objectives, self.device
        length = int(np.diff(np.concatenate([[-1], self.dataset.episode_ends])).max())
        self.steps = Segments(self.dataset, 1, length, dev)  # one-step segments; returns run to the episode's end
        self.condition_dim = {"none": 0, "preference": m, "rvs": 2 * m}[cfg.condition]
        if cfg.condition != "none":
            self._prefs = torch.as_tensor(self.dataset.preferences, dtype=torch.float32, device=dev)  # (N, m)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.policy = self._new_policy().to(dev)
        self.optim = torch.optim.AdamW(self.policy.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)

    @property
    def diagnostics(self) -> tuple[str, ...]:  # type: ignore[override]
        """``train.csv`` columns: the imitation loss, mean grid returns per objective, and how monotonically the
        grid's returns follow the preference (:func:`metrics.preference_monotonicity`)."""
        return ("bc_loss", *(f"return_{j}" for j in range(self.num_objectives)), "monotonicity")

    def _condition(self, rows: torch.Tensor) -> torch.Tensor:
        """The training condition of logged steps ``rows`` (B,): (B, condition_dim)."""
        cond = self.config.condition
        if cond == "none":
            return torch.zeros(len(rows), 0, device=self.device)
        if cond == "preference":
            return self._prefs[rows]
        remaining = (self.steps.episode_end[rows] - rows + 1).unsqueeze(1).float()  # (B, 1)
        return torch.cat([self._prefs[rows], self.steps.returns(rows) / remaining], dim=1)

    def _update(self) -> None:
        cfg: BCConfig = self.config
        rows = self.steps.sample(cfg.batch_size, self.generator)  # (B,)
        loss = self.policy.imitation_loss(self.steps.gather(rows), self._condition(rows))
        for group in self.optim.param_groups:  # linear warm-up
            group["lr"] = cfg.learning_rate * min(1.0, (self.gradient_steps + 1) / max(1, cfg.warmup_steps))
        self.optim.zero_grad(set_to_none=True)
        loss.backward()
        self.optim.step()
        self.gradient_steps += 1
        self._record(bc_loss=loss)

    def conditions(self) -> torch.Tensor:
        """Nothing, w, or w and the average reward per step of the data's best episode for w: (P, c)."""
        cond = self.config.condition
        if cond == "none":
            return torch.zeros(len(self.grid), 0, device=self.device)
        if cond == "preference":
            return self._grid
        returns = self.dataset.episode_returns()  # (E, m)
        lengths = np.diff(np.concatenate([[-1], self.dataset.episode_ends]))  # (E,)
        best = np.argmax(self.grid @ returns.T, axis=1)  # (P,)
        target = torch.as_tensor(returns[best] / lengths[best, None], dtype=torch.float32, device=self.device)
        return torch.cat([self._grid, target], dim=1)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "optim": storage.to_cpu(storage.optimizer_state(self.optim))}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        storage.load_optimizer_state(self.optim, state["optim"])
