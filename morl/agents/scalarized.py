"""Linear-scalarisation baseline: one Stable-Baselines3 model per preference of a grid.

Each model is trained on ``w . r`` through MO-Gymnasium's ``LinearReward`` wrapper, then
evaluated on the vector reward and offered to the archive. It is the floor every MORL method
should beat: it only reaches points on the convex hull of the front.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
import torch
from mo_gymnasium.wrappers import LinearReward
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.policies import BasePolicy
from tqdm.auto import tqdm

from morl import envs, evaluation, preferences, storage
from morl.agents.base import Agent, Callback
from morl.nn import one_torch_thread
from morl.pareto import ParetoArchive
from morl.runs import Run

STATE_FILE = "scalarized_state.json"
_ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "sac": SAC}


@dataclass
class ScalarizedConfig:
    """Hyperparameters of the scalarised baseline (SB3 defaults unless noted).

    Attributes:
        algorithm: "ppo" (any action space) or "sac" (continuous actions only).
        num_preferences: equally spaced preferences, extremes included; None = max(5, m + 1).
        grid_step: if set, use the exact simplex grid with this step instead of ``num_preferences``.
        n_envs: parallel envs per SB3 model.
        gamma: discount; None takes the env's registered default.
        learning_rate, n_steps, batch_size, n_epochs, ent_coef: PPO settings (n_steps per env).
        net_arch: hidden layer sizes of actor and critic.
        eval_episodes: episodes per evaluation on the vector reward.
    """

    algorithm: Literal["ppo", "sac"] = "ppo"
    num_preferences: int | None = None
    grid_step: float | None = None
    n_envs: int = 4
    gamma: float | None = None
    learning_rate: float = 3e-4
    n_steps: int = 128
    batch_size: int = 64
    n_epochs: int = 10
    ent_coef: float = 0.01
    net_arch: tuple[int, ...] = (64, 64)
    eval_episodes: int = 5


class _Progress(BaseCallback):
    """Moves a shared tqdm bar as SB3 collects transitions."""

    def __init__(self, bar: tqdm | None) -> None:
        super().__init__()
        self.bar = bar

    def _on_step(self) -> bool:
        if self.bar is not None:
            self.bar.update(self.training_env.num_envs)
        return True


class Scalarized(Agent):
    """Outer-loop linear scalarisation with SB3 PPO (or SAC), one model per preference.

    Args:
        env: env id, ``module:attr``, callable or instance (see :mod:`morl.envs`).
        seed: seeds every model (model ``i`` uses ``seed + i``) and the evaluation envs.
        device: "auto", "cpu" or "cuda".
        config / **hparams: a :class:`ScalarizedConfig` or its fields as keywords.
    """

    name: ClassVar[str] = "scalarized"
    Config: ClassVar[type] = ScalarizedConfig

    def __init__(self, env: envs.EnvSpec, *, seed: int = 0, device: str = "auto", config: Any = None, **hparams: Any):
        super().__init__(env, seed=seed, device=device, config=config, **hparams)
        cfg: ScalarizedConfig = self.config
        if cfg.algorithm == "sac" and not isinstance(self.action_space, gym.spaces.Box):
            raise ValueError(f"algorithm 'sac' needs continuous (Box) actions, this env has {self.action_space}")
        if cfg.grid_step is not None:
            self.preferences = preferences.simplex_grid(self.num_objectives, cfg.grid_step)
        else:
            count = cfg.num_preferences or max(5, self.num_objectives + 1)
            self.preferences = preferences.equally_spaced(count, self.num_objectives)
        defaults = envs.defaults_for(env) if not isinstance(env, gym.Env) else None
        self.gamma = cfg.gamma if cfg.gamma is not None else (defaults.gamma if defaults else 0.99)
        self.completed: list[int] = []
        self._policies: dict[int, BasePolicy] = {}

    # --- training --------------------------------------------------------------------------
    def _model(self, index: int, weight: np.ndarray) -> BaseAlgorithm:
        cfg: ScalarizedConfig = self.config
        factory = (lambda: self.env_spec) if isinstance(self.env_spec, gym.Env) else envs.env_factory(self.env_spec)
        scalar_weight = weight.astype(np.float32)
        vec = make_vec_env(
            lambda: LinearReward(factory(), weight=scalar_weight),
            n_envs=1 if isinstance(self.env_spec, gym.Env) else cfg.n_envs,
            seed=self.seed + index,
        )
        common = {
            "learning_rate": cfg.learning_rate,
            "gamma": self.gamma,
            "seed": self.seed + index,
            "device": self.device,
            "verbose": 0,
            "policy_kwargs": {"net_arch": list(cfg.net_arch)},
        }
        if cfg.algorithm == "ppo":
            return PPO(
                "MlpPolicy",
                vec,
                n_steps=cfg.n_steps,
                batch_size=cfg.batch_size,
                n_epochs=cfg.n_epochs,
                ent_coef=cfg.ent_coef,
                **common,
            )
        return SAC("MlpPolicy", vec, batch_size=cfg.batch_size, **common)

    def _evaluate(self, policy: BasePolicy, weight: np.ndarray) -> evaluation.EvaluationResult:
        cfg: ScalarizedConfig = self.config
        num_envs = 1 if isinstance(self.env_spec, gym.Env) else min(cfg.eval_episodes, 4)
        vec = envs.make(self.env_spec, num_envs=num_envs)
        try:
            act = lambda obs, w: policy.predict(obs, deterministic=True)[0]  # noqa: E731
            return evaluation.evaluate(act, vec, weight, cfg.eval_episodes, gamma=self.gamma, seed=self.seed + 10_000)
        finally:
            if not isinstance(self.env_spec, gym.Env):
                vec.close()

    def learn(
        self,
        total_timesteps: int,
        callback: Callback | None = None,
        progress_bar: bool = True,
        run: Run | None = None,
    ) -> ParetoArchive:
        """Train one model per preference on ``total_timesteps / len(preferences)`` steps each.

        With ``run``, each finished preference is logged, the archive saved and a checkpoint
        written; preferences already completed in that run (after a crash) are skipped.
        """
        if total_timesteps < 1:
            raise ValueError(f"total_timesteps must be >= 1, got {total_timesteps}")
        if run is not None:
            self._restore(run)
        per_preference = max(1, total_timesteps // len(self.preferences))
        todo = [i for i in range(len(self.preferences)) if i not in self.completed]
        bar = tqdm(total=per_preference * len(todo), desc=self.name, disable=not progress_bar, unit="step")
        try:
            with one_torch_thread(self.device):
                for index in todo:
                    weight = self.preferences[index]
                    model = self._model(index, weight)
                    model.learn(per_preference, callback=_Progress(bar))
                    self.num_timesteps += model.num_timesteps
                    result = self._evaluate(model.policy, weight)
                    model.env.close()
                    discounted = result.mean_discounted_return.tolist()
                    meta = {"algorithm": self.config.algorithm, "discounted_return": discounted}
                    if self.archive.add(result.mean_return, model.policy, weight, meta):
                        self._policies[self.archive.entries[-1].id] = model.policy
                    self.completed.append(index)
                    info = {"env_steps": self.num_timesteps, "value": result.mean_return, "preference": weight}
                    if run is not None:
                        run.log_front(self.archive, self.num_timesteps)
                        self._checkpoint(run)
                    if callback is not None and callback(self, info) is False:
                        break
        finally:
            bar.close()
        return self.archive

    # --- acting ---------------------------------------------------------------------------
    def _policy_for_entry(self, entry_id: int, state: dict[str, torch.Tensor]) -> BasePolicy:
        algo = _ALGORITHMS[self.config.algorithm]
        policy_class = algo.policy_aliases["MlpPolicy"]
        policy = policy_class(
            self.observation_space, self.action_space, lambda _: 0.0, net_arch=list(self.config.net_arch)
        ).to(self.device)
        try:
            policy.load_state_dict(state)
        except RuntimeError as err:
            raise storage.FormatError(
                f"archive entry {entry_id}: weights do not fit this agent's policy ({err})"
            ) from None
        policy.set_training_mode(False)
        return policy

    def _adopt_archive(self, archive: ParetoArchive) -> None:
        self.archive = archive
        self._policies = {}
        for entry in archive.entries:
            if isinstance(entry.policy, dict):
                entry.policy = self._policy_for_entry(entry.id, entry.policy)
            self._policies[entry.id] = entry.policy

    def predict(self, obs: np.ndarray, preference: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Actions from the archive policy with the best ``w . value`` for ``preference``."""
        entry = self.archive.entry_for(preference)
        actions, _ = self._policies[entry.id].predict(obs, deterministic=deterministic)
        return actions

    def entry_actor(self, entry_id: int):
        policy = self._policies[entry_id]
        return lambda obs, w: policy.predict(obs, deterministic=True)[0]

    # --- persistence ----------------------------------------------------------------------
    def _checkpoint(self, run: Run) -> None:
        state = {"completed": self.completed, "num_timesteps": self.num_timesteps}
        storage.atomic_write_json(run.checkpoint_dir / STATE_FILE, state)

    def _restore(self, run: Run) -> None:
        state_path = run.checkpoint_dir / STATE_FILE
        if not state_path.exists():
            return
        state = storage.read_json(state_path, f"checkpoint of {run.path}")
        self.completed = [int(i) for i in state["completed"]]
        self.num_timesteps = int(state["num_timesteps"])
        if (run.archive_dir / "index.json").exists():
            self._adopt_archive(ParetoArchive.load(run.archive_dir))
