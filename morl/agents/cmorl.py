"""C-MORL: Pareto-front discovery by constrained policy search (Liu et al., ICLR 2025).

Algorithm (research/cmorl.md §1; docs/algorithms/cmorl.md puts each step next to its code):

1. Pareto initialisation: train M policies, one per preference of a simplex grid, with
   multi-objective PPO maximising ``w . G``; every evaluated snapshot is offered to the archive.
2. Pareto extension, repeated while budget remains: select policies from the archive by
   crowding distance (extremes first, never the same policy twice); for each selected ``pi_r``
   and each objective ``l``, starting from ``pi_r`` itself, maximise ``G_l`` subject to
   ``G_j >= c_j`` (j != l) with an interior-point log barrier, where
   ``c_j = ref_j + beta * (G_j(pi_r) - ref_j)`` is fixed when the extension starts.
3. ``predict(obs, w)`` acts with the archive policy maximising ``w . G``.

Independent policies (stage 1) and extensions (stage 2) are jobs run by ``morl.distributed``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from morl import distributed, envs, preferences, storage
from morl.agents.base import Agent, Callback
from morl.agents.cmorl_jobs import JobResult, JobSpec, run_batch
from morl.agents.moppo import ActorCritic, MOPPOConfig
from morl.pareto import ParetoArchive
from morl.runs import Run

STATE_FILE = "cmorl_state.json"


@dataclass
class CMORLConfig(MOPPOConfig):
    """C-MORL hyperparameters; PPO fields are inherited from :class:`MOPPOConfig`.

    Attributes:
        init_grid_step: simplex-grid step of the stage-1 preferences; None = one-hot + uniform.
        init_fraction: share of the env-step budget spent in stage 1.
        eval_interval: stage-1 updates between evaluations (every snapshot goes to the archive).
        eval_episodes: episodes per evaluation.
        num_select: policies selected per extension round.
        update_iter: PPO updates per (policy, objective) extension in one round.
        beta: constraint relaxation, ``c_j = ref_j + beta (G_j(pi_r) - ref_j)``.
        barrier_t: barrier sharpness t; the barrier is ``(1/t) sum_j log(G_j - c_j)``.
        extension_learning_rate: constant Adam step size of stage 2 (its own, not stage 1's decayed one).
        extension_eval_interval: stage-2 updates between evaluations.
        policy_buffer: maximum archive size (pruned by crowding distance).
        executor, workers, ray_address: where jobs run (see ``morl.distributed.run_jobs``).
        policies_per_batch: jobs trained together as one batched population in one process;
            None = spread each stage's jobs evenly over the workers (all in one batch when serial).
            Results depend on the batching (shared random streams), not on the executor.
    """

    init_grid_step: float | None = None
    init_fraction: float = 0.4
    eval_interval: int = 10
    eval_episodes: int = 5
    num_select: int = 5
    update_iter: int = 20
    beta: float = 0.9
    barrier_t: float = 20.0
    extension_learning_rate: float = 3e-4
    extension_eval_interval: int = 1
    policy_buffer: int = 200
    executor: Literal["local", "serial", "ray"] = "local"
    workers: int | None = None
    ray_address: str | None = None
    policies_per_batch: int | None = None


_DISCRETE_SMALL = {"num_envs": 8, "num_steps": 32, "gamma": 0.99, "ent_coef": 0.01, "eval_interval": 5,
                   "update_iter": 10, "num_minibatches": 2}  # fmt: skip
_MUJOCO = {"num_envs": 8, "num_steps": 512, "num_minibatches": 32, "init_grid_step": 0.2, "init_fraction": 2 / 3}
PRESETS: dict[str, dict[str, Any]] = {
    # ours: DST is not in the paper; a 3-policy grid and short rollouts for its 10-point front.
    # Entropy 0.05: at 0.01 the treasure-only policy settled on the 15.1 treasure on 2 of 6 seeds
    # (and extensions could not climb from there); at 0.05 all 10 points on 12 of 12 runs
    "deep-sea-treasure-v0": {**_DISCRETE_SMALL, "init_grid_step": 0.5, "init_fraction": 0.3, "ent_coef": 0.05},
    "morl/treasure-corridor-v0": {**_DISCRETE_SMALL, "init_grid_step": 0.5, "init_fraction": 0.3},
    # resource-gathering is stochastic (enemies): 20 evaluation episodes keep lucky snapshots from
    # dominating the archive (docs/algorithms/cmorl.md, "noisy evaluations")
    "resource-gathering-v0": {**_DISCRETE_SMALL, "init_grid_step": 0.5, "num_select": 6, "eval_episodes": 20},
    # official scripts (research/cmorl.md §2)
    "minecart-v0": {"init_grid_step": 0.5, "init_fraction": 0.4, "num_select": 6, "eval_interval": 5},
    "fruit-tree-v0": {"init_grid_step": 1.0, "init_fraction": 0.2, "num_select": 6, "eval_interval": 1},
    "mo-hopper-2d-v4": {**_MUJOCO, "num_select": 5},
    "mo-hopper-2obj-v5": {**_MUJOCO, "num_select": 5},
    "mo-halfcheetah-v4": {**_MUJOCO, "num_select": 5},
    "mo-halfcheetah-v5": {**_MUJOCO, "num_select": 5},
    "mo-ant-2d-v4": {**_MUJOCO, "init_grid_step": 0.5, "num_select": 5},
    "mo-ant-2obj-v5": {**_MUJOCO, "init_grid_step": 0.5, "num_select": 5},
}


class CMORL(Agent):
    """C-MORL agent; see the module docstring for the algorithm.

    Args:
        env: env id, ``module:attr``, or a picklable callable (jobs rebuild the env in workers).
        seed: base seed; job ``k`` uses a seed derived from it.
        device: "auto", "cpu" or "cuda" (jobs train on it).
        config / **hparams: a :class:`CMORLConfig` or its fields; per-env presets in ``PRESETS``.
    """

    name: ClassVar[str] = "cmorl"
    Config: ClassVar[type] = CMORLConfig

    def __init__(self, env: envs.EnvSpec, *, seed: int = 0, device: str = "auto", config: Any = None, **hparams: Any):
        if isinstance(env, gym.Env):
            raise ValueError(
                "C-MORL trains policies in worker processes: pass an env id or a callable, not an instance"
            )
        super().__init__(env, seed=seed, device=device, config=config, **hparams)
        cfg: CMORLConfig = self.config
        self.archive = ParetoArchive(self.num_objectives, max_size=cfg.policy_buffer)
        if cfg.init_grid_step is not None:
            self.initial_preferences = preferences.simplex_grid(self.num_objectives, cfg.init_grid_step)
        else:
            m = self.num_objectives
            self.initial_preferences = np.vstack([np.eye(m), np.full((1, m), 1.0 / m)])
        defaults = envs.defaults_for(env)
        self.ref_point = None if defaults is None else np.asarray(defaults.ref_point, dtype=np.float64)
        self.stage = 1
        self.round = 0
        self.selected: list[int] = []
        self._networks: dict[int, ActorCritic] = {}

    @classmethod
    def default_hparams(cls, env: envs.EnvSpec) -> dict[str, Any]:
        return dict(PRESETS.get(env, {})) if isinstance(env, str) else {}

    # --- budget ---------------------------------------------------------------------------
    @property
    def transitions_per_update(self) -> int:
        """Env transitions of one PPO update: every step of every vector env counts."""
        return self.config.num_envs * self.config.num_steps

    def thresholds(self, start_value: np.ndarray) -> np.ndarray:
        """Constraint levels ``c`` for an extension starting at ``G(pi_r)``.

        ``c_j = ref_j + beta (G_j - ref_j)``: relative to the reference point, so beta < 1 always
        relaxes the constraint, also for negative returns (time penalties, costs). Without a
        reference point, ``c_j = G_j - (1 - beta) |G_j|`` relaxes it the same way.
        """
        beta = self.config.beta
        if self.ref_point is not None:
            return self.ref_point + beta * (start_value - self.ref_point)
        return start_value - (1.0 - beta) * np.abs(start_value)

    def _ppo(self) -> MOPPOConfig:
        values = asdict(self.config)
        return MOPPOConfig(**{f.name: values[f.name] for f in fields(MOPPOConfig)})

    def _job_seed(self, key: str) -> int:
        return (self.seed * 1_000_003 + sum(ord(c) * 31**i for i, c in enumerate(key))) % (2**31)

    def _spec(self, key: str, num_updates: int, run: Run | None, **kwargs: Any) -> JobSpec:
        cfg: CMORLConfig = self.config
        return JobSpec(
            key=key,
            env=self.env_spec,
            ppo=self._ppo(),
            seed=self._job_seed(key),
            num_updates=num_updates,
            eval_episodes=cfg.eval_episodes,
            barrier_t=cfg.barrier_t,
            checkpoint_dir=None if run is None else str(run.checkpoint_dir / "jobs"),
            device=str(self.device),
            **kwargs,
        )

    # --- training -------------------------------------------------------------------------
    def learn(
        self,
        total_timesteps: int,
        callback: Callback | None = None,
        progress_bar: bool = True,
        run: Run | None = None,
    ) -> ParetoArchive:
        """Stage 1 on ``init_fraction`` of the budget, then extension rounds until it is spent."""
        cfg: CMORLConfig = self.config
        if total_timesteps < self.transitions_per_update:
            raise ValueError(f"total_timesteps must be >= one update ({self.transitions_per_update} transitions)")
        if run is not None:
            self._restore(run)
        bar = tqdm(total=total_timesteps, initial=self.num_timesteps, desc=self.name, disable=not progress_bar)
        # one pool for every stage and round: a spawn pool costs each worker seconds of imports
        with distributed.JobPool(cfg.executor, cfg.workers, cfg.ray_address) as pool, bar:
            if self.stage == 1:
                per_policy = int(total_timesteps * cfg.init_fraction) // len(self.initial_preferences)
                updates = max(1, per_policy // self.transitions_per_update)
                specs = [
                    self._spec(f"init-{i}", updates, run, weights=w, eval_interval=cfg.eval_interval,
                               learning_rate=cfg.learning_rate, anneal_lr=cfg.anneal_lr)
                    for i, w in enumerate(self.initial_preferences)
                ]  # fmt: skip
                self._merge(self._run(specs, pool), bar, run, callback, stage="init")
                self.stage = 2
                self._checkpoint(run)
            while self.stage == 2:
                specs = self._extension_round(total_timesteps, run)
                if not specs:
                    self.stage = 3
                    self._checkpoint(run)
                    break
                stop = self._merge(self._run(specs, pool), bar, run, callback, stage=f"extend-{self.round}")
                self.round += 1
                self._checkpoint(run)
                if stop:
                    break
        return self.archive

    def _extension_round(self, total_timesteps: int, run: Run | None) -> list[JobSpec]:
        """Select policies (crowding distance, extremes first, never twice) and build their jobs."""
        cfg: CMORLConfig = self.config
        m = self.num_objectives
        remaining_updates = (total_timesteps - self.num_timesteps) // self.transitions_per_update
        chosen = self.archive.select(cfg.num_select, exclude=self.selected)
        if not chosen or remaining_updates < len(chosen) * m:
            return []
        updates = min(cfg.update_iter, remaining_updates // (len(chosen) * m))
        specs = []
        for entry in chosen:
            self.selected.append(entry.id)
            for target in range(m):
                specs.append(self._spec(
                    f"extend-{self.round}-{entry.id}-{target}", updates, run, target=target,
                    thresholds=self.thresholds(entry.value), start_value=entry.value,
                    start_state=storage.state_dict_of(entry.policy), eval_interval=cfg.extension_eval_interval,
                    learning_rate=cfg.extension_learning_rate, anneal_lr=False,
                ))  # fmt: skip
        return specs

    def _run(self, specs: list[JobSpec], pool: distributed.JobPool) -> Iterator[JobResult]:
        """Results of every job, batch by batch as the batches land."""
        for results in pool.stream(run_batch, [(batch,) for batch in self.batches(specs)]):
            yield from results

    def batches(self, specs: list[JobSpec]) -> list[list[JobSpec]]:
        """Contiguous batches of at most ``policies_per_batch`` jobs (default: one per worker)."""
        cfg: CMORLConfig = self.config
        size = cfg.policies_per_batch
        if size is None:
            workers = 1 if cfg.executor == "serial" else cfg.workers or distributed.default_workers()
            size = -(-len(specs) // workers)
        if size < 1:
            raise ValueError(f"policies_per_batch must be >= 1, got {size}")
        count = -(-len(specs) // size)
        parts = np.array_split(np.arange(len(specs)), count)  # sizes differ by at most one
        return [[specs[i] for i in part] for part in parts]

    def _merge(self, results: Iterator[JobResult], bar: tqdm, run: Run | None, callback: Callback | None,
               stage: str) -> bool:  # fmt: skip
        """Offer each job's candidates to the archive as it lands, count steps, log after each job.

        Returns True if the callback asked to stop (checked once the whole batch of jobs is in).
        """
        added = 0
        for result in results:
            self.num_timesteps += result.env_steps
            bar.update(result.env_steps)
            for cand in result.candidates:
                meta = {"job": result.key, "updates": cand.updates, "discounted_return": cand.discounted.tolist()}
                added += self.archive.add(cand.value, cand.state, meta=meta)
            if run is not None:
                run.log_front(self.archive, self.num_timesteps)
        self._networks = {k: v for k, v in self._networks.items() if k in {e.id for e in self.archive.entries}}
        info = {"env_steps": self.num_timesteps, "stage": stage, "added": added, "archive_size": len(self.archive)}
        return callback is not None and callback(self, info) is False

    # --- acting ---------------------------------------------------------------------------
    def _network(self, entry_id: int) -> ActorCritic:
        if entry_id not in self._networks:
            entry = next(e for e in self.archive.entries if e.id == entry_id)
            net = ActorCritic(self.observation_space, self.action_space, self.num_objectives, self.config.hidden)
            try:
                net.load_state_dict(storage.state_dict_of(entry.policy))
            except RuntimeError as err:
                raise storage.FormatError(f"archive entry {entry_id}: weights do not fit this policy ({err})") from None
            self._networks[entry_id] = net.to(self.device).eval()
        return self._networks[entry_id]

    def entry_actor(self, entry_id: int):
        net = self._network(entry_id)
        return lambda obs, w: net.act(obs, self.action_space, self.config.normalize_obs)

    def predict(self, obs: np.ndarray, preference: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Act with the archive policy maximising ``w . G`` (C-MORL's policy assignment)."""
        entry = self.archive.entry_for(preference)
        return self._network(entry.id).act(obs, self.action_space, self.config.normalize_obs, deterministic)

    # --- persistence ----------------------------------------------------------------------
    def _adopt_archive(self, archive: ParetoArchive) -> None:
        archive.max_size = self.config.policy_buffer
        self.archive = archive
        self._networks = {}

    def _checkpoint(self, run: Run | None) -> None:
        if run is None:
            return
        state = {"stage": self.stage, "round": self.round, "selected": self.selected,
                 "num_timesteps": self.num_timesteps}  # fmt: skip
        run.archive_dir.mkdir(parents=True, exist_ok=True)
        self.archive.save(run.archive_dir)
        storage.atomic_write_json(run.checkpoint_dir / STATE_FILE, state)
        for stale in (run.checkpoint_dir / "jobs").glob("*"):
            stale.unlink(missing_ok=True)

    def _restore(self, run: Run) -> None:
        path = run.checkpoint_dir / STATE_FILE
        if not path.exists():
            return
        state = storage.read_json(path, f"checkpoint of {run.path}")
        self.stage, self.round = int(state["stage"]), int(state["round"])
        self.selected = [int(i) for i in state["selected"]]
        self.num_timesteps = int(state["num_timesteps"])
        if (run.archive_dir / "index.json").exists():
            self._adopt_archive(ParetoArchive.load(run.archive_dir))
