"""Linear-scalarisation baseline: one Stable-Baselines3 model per preference of a grid.

Each model is trained on ``w . r`` through MO-Gymnasium's ``LinearReward`` wrapper, then
evaluated on the vector reward and offered to the archive. It is the floor every MORL method
should beat: it only reaches points on the convex hull of the front.
"""

from __future__ import annotations

from collections.abc import Callable
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
from stable_baselines3.common.logger import KVWriter, Logger
from stable_baselines3.common.policies import BasePolicy

from morl import envs, preferences, spaces, storage, tasks
from morl.agents.base import Agent, Callback
from morl.nn import one_torch_thread
from morl.pareto import ParetoArchive

_ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "sac": SAC}
# SB3's own training diagnostics (its ``train/`` keys) forwarded to our train.csv
_DIAGNOSTICS = {
    "ppo": ("policy_gradient_loss", "value_loss", "entropy_loss", "approx_kl", "clip_fraction", "learning_rate"),
    "sac": ("actor_loss", "critic_loss", "ent_coef", "ent_coef_loss", "learning_rate"),
}


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
        image_size: image observations are resized to at most this many pixels a side (channels
            first) before SB3's NatureCNN, so large frames (minecart-rgb's 480 x 480) stay cheap.
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
    image_size: int = 84


class _Progress(BaseCallback):
    """Moves the agent's progress bar as SB3 collects transitions."""

    def __init__(self, advance: Callable[[int], None]) -> None:
        super().__init__()
        self.advance = advance

    def _on_step(self) -> bool:
        self.advance(self.training_env.num_envs)
        return True


class _Forward(KVWriter):
    """An SB3 logger output handing SB3's ``train/`` diagnostics to the agent's own logger."""

    def __init__(self, keys: tuple[str, ...], sink: Callable[[dict[str, float]], None]) -> None:
        self.keys, self.sink = keys, sink

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0) -> None:
        values = {k[6:]: float(v) for k, v in key_values.items() if k.startswith("train/") and k[6:] in self.keys}
        if values:
            self.sink(values)

    def close(self) -> None:
        """Nothing to release."""


class _SB3View:
    """What an SB3 policy sees of an observation space: its policy name, its space, and the batched conversion.

    Images are made channels first and resized (:class:`morl.spaces.ObsEncoding`) for ``CnnPolicy``;
    Dict and Tuple observations without images are flattened for ``MlpPolicy`` (SB3 takes no Tuple
    and no nested Dict); a Dict holding images goes to ``MultiInputPolicy`` as it is.
    """

    def __init__(self, space: gym.Space, image_size: int) -> None:
        kind = spaces.kind(space)
        self.convert: spaces.ObsEncoding | None = None
        self.space, self.policy = space, "MlpPolicy"
        if kind == "image":
            self.convert = spaces.ObsEncoding(space, image_size)
            self.space, self.policy = self.convert.image_space, "CnnPolicy"
        elif kind in ("Dict", "Tuple"):
            self.convert = spaces.ObsEncoding(space)
            self.space = gym.spaces.Box(-np.inf, np.inf, self.convert.shape, dtype=np.float32)
        elif kind == "Dict with images":
            self.policy = "MultiInputPolicy"

    def batch(self, obs: Any) -> Any:
        """A batch of raw observations as the SB3 policy takes them."""
        return obs if self.convert is None else self.convert.numpy(obs)

    def wrap(self, env: gym.Env) -> gym.Env:
        """``env`` returning observations as the SB3 policy takes them."""
        return env if self.convert is None else _Converted(env, self)


class _Converted(gym.ObservationWrapper):
    """An env whose observations go through an :class:`_SB3View`'s conversion."""

    def __init__(self, env: gym.Env, view: _SB3View) -> None:
        super().__init__(env)
        self.observation_space = view.space
        self.view = view

    def observation(self, observation: Any) -> Any:
        return self.view.batch(spaces.batch_of_one(observation))[0]


def _predictor(policy: BasePolicy, view: _SB3View) -> tasks.Predictor:
    """An SB3 policy as a :class:`~morl.tasks.Predictor` (it ignores the preference it was trained for)."""

    def predict(obs, preference, state=None, episode_start=None, action_masks=None, deterministic=True):
        return policy.predict(view.batch(obs), deterministic=deterministic)[0], state

    return predict


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
    # as SB3 takes them (MlpPolicy, CnnPolicy, MultiInputPolicy), Tuple and nested Dict flattened
    observation_kinds: ClassVar[tuple[str, ...]] = ("Box", "image", "Discrete", "MultiDiscrete", "MultiBinary",
                                                    "Dict", "Tuple", "Dict with images")  # fmt: skip
    action_kinds: ClassVar[tuple[str, ...]] = spaces.ACTION_KINDS  # PPO; SAC takes Box only

    def __init__(self, env: tasks.Task | Any, *, seed: int = 0, device: str = "auto", config: Any = None,
                 **hparams: Any):  # fmt: skip
        super().__init__(env, seed=seed, device=device, config=config, **hparams)
        cfg: ScalarizedConfig = self.config
        if cfg.algorithm == "sac" and not isinstance(self.action_space, gym.spaces.Box):
            raise ValueError(f"algorithm 'sac' needs continuous (Box) actions, this env has {self.action_space}")
        self.view = _SB3View(self.observation_space, cfg.image_size)
        if self.view.policy == "MultiInputPolicy" and any(
            isinstance(sub, gym.spaces.Dict | gym.spaces.Tuple) for sub in self.observation_space.spaces.values()
        ):
            raise ValueError(f"scalarized cannot take nested Dict observations with images ({self.observation_space}) "
                             f"of {self.task.name!r}; SB3's MultiInputPolicy takes one level of keys")  # fmt: skip
        if cfg.grid_step is not None:
            self.preferences = preferences.simplex_grid(self.num_objectives, cfg.grid_step)
        else:
            count = cfg.num_preferences or max(5, self.num_objectives + 1)
            self.preferences = preferences.equally_spaced(count, self.num_objectives)
        self.gamma = cfg.gamma if cfg.gamma is not None else self.task.gamma
        self.completed: list[int] = []
        self._policies: dict[int, BasePolicy] = {}

    @property
    def diagnostics(self) -> tuple[str, ...]:  # type: ignore[override]
        """``train.csv`` columns: SB3's own training diagnostics, then each finished model's returns per objective."""
        return (*_DIAGNOSTICS[self.config.algorithm], *(f"return_{j}" for j in range(self.num_objectives)))

    @property
    def _instance(self) -> bool:
        return isinstance(self.task.spec, gym.Env)

    # --- training --------------------------------------------------------------------------
    def _model(self, index: int, weight: np.ndarray) -> BaseAlgorithm:
        cfg: ScalarizedConfig = self.config
        spec = self.task.spec
        factory = (lambda: spec) if self._instance else envs.env_factory(spec, **self.task.env_kwargs)
        scalar_weight = weight.astype(np.float32)
        vec = make_vec_env(
            lambda: LinearReward(self.view.wrap(factory()), weight=scalar_weight),
            n_envs=1 if self._instance else cfg.n_envs,
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
            model: BaseAlgorithm = PPO(
                self.view.policy,
                vec,
                n_steps=cfg.n_steps,
                batch_size=cfg.batch_size,
                n_epochs=cfg.n_epochs,
                ent_coef=cfg.ent_coef,
                **common,
            )
        else:
            model = SAC(self.view.policy, vec, batch_size=cfg.batch_size, **common)
        model.set_logger(Logger(None, [_Forward(_DIAGNOSTICS[cfg.algorithm], self.log_diagnostics)]))
        return model

    def _per_preference(self, total_timesteps: int) -> int:
        """Env steps per preference: an equal share, whole PPO rollouts, so the budget is never exceeded."""
        cfg: ScalarizedConfig = self.config
        share = max(1, total_timesteps // len(self.preferences))
        if cfg.algorithm != "ppo":
            return share
        rollout = cfg.n_steps * (1 if self._instance else cfg.n_envs)
        return max(rollout, share // rollout * rollout)

    def learn(self, total_timesteps: int, callback: Callback | None = None, progress_bar: bool = True) -> ParetoArchive:
        """Train one model per preference on an equal share of ``total_timesteps`` each.

        Each finished preference is logged and checkpointed; preferences already completed in
        a resumed run are skipped.
        """
        if total_timesteps < 1:
            raise ValueError(f"total_timesteps must be >= 1, got {total_timesteps}")
        per_preference = self._per_preference(total_timesteps)
        todo = [i for i in range(len(self.preferences)) if i not in self.completed]
        with one_torch_thread(self.device), self.progress(total_timesteps, progress_bar) as advance:
            for index in todo:
                weight = self.preferences[index]
                model = self._model(index, weight)
                model.learn(per_preference, callback=_Progress(advance))
                self.num_timesteps += model.num_timesteps
                self.gradient_steps += int(getattr(model, "_n_updates", 0))
                result = self.task.evaluate(_predictor(model.policy, self.view), weight, self.config.eval_episodes,
                                            seed=self.seed + 10_000)  # fmt: skip
                model.env.close()
                discounted = result.mean_discounted_return.tolist()
                meta = {"algorithm": self.config.algorithm, "discounted_return": discounted}
                if self.archive.add(result.mean_return, model.policy, weight, meta):
                    self._policies[self.archive.entries[-1].id] = model.policy
                self.completed.append(index)
                self.log_diagnostics({f"return_{j}": float(v) for j, v in enumerate(result.mean_return)})
                info = {"env_steps": self.num_timesteps, "value": result.mean_return, "preference": weight}
                self.log_front()
                self.checkpoint()
                if callback is not None and callback(self, info) is False:
                    break
        return self.archive

    # --- acting ---------------------------------------------------------------------------
    def _policy_for_entry(self, entry_id: int, state: dict[str, torch.Tensor]) -> BasePolicy:
        algo = _ALGORITHMS[self.config.algorithm]
        policy_class = algo.policy_aliases[self.view.policy]
        policy = policy_class(
            self.view.space, self.action_space, lambda _: 0.0, net_arch=list(self.config.net_arch)
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

    def entry_predictor(self, entry_id: int) -> tasks.Predictor:
        """Act with the SB3 policy of archive entry ``entry_id`` (rebuilt from its weights once)."""
        if entry_id not in self._policies:
            entry = self.entry(entry_id)
            policy = entry.policy
            if isinstance(policy, dict):
                policy = self._policy_for_entry(entry_id, policy)
            self._policies[entry_id] = policy
        return _predictor(self._policies[entry_id], self.view)

    # --- persistence ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "completed": self.completed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.completed = [int(i) for i in state["completed"]]
