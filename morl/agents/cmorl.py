"""C-MORL: Pareto-front discovery by constrained policy search (Liu et al., ICLR 2025).

Algorithm (research/cmorl.md §1; docs/algorithms/cmorl.md puts each step next to its code):

1. Pareto initialisation: train M policies, one per preference of a simplex grid, with
   multi-objective PPO maximising ``w . G``; every evaluated snapshot is offered to the archive.
2. Pareto extension, repeated while budget remains: select policies from the archive by
   crowding distance (extremes first, never the same policy twice); for each selected ``pi_r``
   and each objective ``l``, starting from ``pi_r`` itself, maximise ``G_l`` subject to
   ``G_j >= c_j`` (j != l) with an interior-point log barrier, where
   ``c_j = G_j(pi_r) - (1 - beta) |G_j(pi_r) - ref_j|`` is fixed when the extension starts.
   Once every archive policy has been extended, the front's widest gaps get extensions of
   their end points aimed into them, and new stage-1 policies at preferences in them, in turn.
3. ``predict(obs, w)`` acts with the archive policy maximising ``w . G``.

Independent policies (stage 1) and extensions (stage 2) are jobs run by ``morl.distributed``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np

from morl import distributed, policies, preferences, spaces, storage, tasks
from morl.agents import cmorl_gaps
from morl.agents.base import Agent, Callback
from morl.agents.cmorl_jobs import JobResult, JobSpec, run_batch
from morl.agents.moppo import MOPPOConfig
from morl.pareto import ParetoArchive
from morl.policies import ActorCritic


@dataclass
class CMORLConfig(MOPPOConfig):
    """C-MORL hyperparameters; PPO fields are inherited from :class:`MOPPOConfig`.

    Attributes:
        init_grid_step: simplex-grid step of the stage-1 preferences; None = one-hot + uniform.
        init_preferences: the stage-1 preferences themselves (overrides ``init_grid_step``); a
            preference listed twice trains two policies with different seeds, for one that
            finds its extreme only some of the time.
        init_fraction: share of the env-step budget spent in stage 1.
        eval_interval: stage-1 updates between evaluations (every snapshot goes to the archive).
        eval_episodes: episodes per evaluation.
        confirm_episodes: episodes that re-measure each job's surviving snapshots before they reach
            the archive; 0 = off. On a stochastic env the best of many noisy means is biased upwards
            (a lucky snapshot can prune the archive); a long re-measurement removes that bias.
        num_select: policies selected per extension round.
        update_iter: PPO updates per (policy, objective) extension in one round.
        beta: constraint relaxation, ``c_j = G_j(pi_r) - (1 - beta) |G_j(pi_r) - ref_j|``.
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
    init_preferences: list[list[float]] | None = None
    init_fraction: float = 0.4
    eval_interval: int = 10
    eval_episodes: int = 5
    confirm_episodes: int = 0
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


class CMORL(Agent):
    """C-MORL agent; see the module docstring for the algorithm.

    Observations: vectors, Dict / Tuple / discrete spaces (flattened) and images (a NatureCNN
    encoder, frames resized to ``image_size``); actions: Discrete, MultiDiscrete, MultiBinary and
    Box (:mod:`morl.policies`). Other spaces are refused in one line before training.

    Args:
        env: env id, ``module:attr``, or a picklable callable (jobs rebuild the env in workers).
        seed: base seed; job ``k`` uses a seed derived from it.
        device: "auto", "cpu" or "cuda" (jobs train on it).
        config / **hparams: a :class:`CMORLConfig` or its fields; per-env presets in
            ``agents/presets/cmorl.yaml``.
    """

    name: ClassVar[str] = "cmorl"
    Config: ClassVar[type] = CMORLConfig
    observation_kinds: ClassVar[tuple[str, ...]] = policies.OBSERVATION_KINDS
    action_kinds: ClassVar[tuple[str, ...]] = policies.ACTION_KINDS

    def __init__(self, env: tasks.Task | Any, *, seed: int = 0, device: str = "auto", config: Any = None,
                 **hparams: Any):  # fmt: skip
        super().__init__(env, seed=seed, device=device, config=config, **hparams)
        if isinstance(self.task.spec, gym.Env):
            raise ValueError(
                "C-MORL trains policies in worker processes: pass an env id or a callable, not an instance"
            )
        cfg: CMORLConfig = self.config
        if cfg.confirm_episodes < 0:
            raise ValueError(f"confirm_episodes must be >= 0 (0 = off), got {cfg.confirm_episodes}")
        if cfg.one_hot_int_obs:
            try:  # refused here, in one line, rather than in every worker's first job
                spaces.one_hot_integers(self.observation_space)
            except ValueError as err:
                raise ValueError(f"one_hot_int_obs on {self.task.name!r}: {err}") from None
        self.archive = ParetoArchive(self.num_objectives, max_size=cfg.policy_buffer)
        if cfg.init_preferences is not None:
            try:
                self.initial_preferences = preferences.validate_many(cfg.init_preferences, self.num_objectives)
            except ValueError as err:
                raise ValueError(f"init_preferences: {err}") from None
        elif cfg.init_grid_step is not None:
            self.initial_preferences = preferences.simplex_grid(self.num_objectives, cfg.init_grid_step)
        else:
            m = self.num_objectives
            self.initial_preferences = np.vstack([np.eye(m), np.full((1, m), 1.0 / m)])
        self.ref_point = self.task.ref_point
        self.stage = 1
        self.round = 0
        self.selected: list[int] = []
        self.gap_preferences: list[list[float]] = []  # stage-1 preferences added to fill gaps
        self.gap_pairs: list[list[int]] = []  # (from id, towards id) of the gap extensions run so far
        self.fill_rounds = 0  # rounds run once no policy was left to extend (gap extensions and stage 1 alternate)
        self._networks: dict[int, ActorCritic] = {}

    @property
    def diagnostics(self) -> tuple[str, ...]:  # type: ignore[override]
        """``train.csv`` columns: the PPO losses of each batch and the latest returns per objective."""
        returns = tuple(f"return_{j}" for j in range(self.num_objectives))
        return ("policy_loss", "value_loss", "entropy", "approx_kl", "barrier", "learning_rate", *returns)

    # --- budget ---------------------------------------------------------------------------
    @property
    def transitions_per_update(self) -> int:
        """Env transitions of one PPO update: every step of every vector env counts."""
        return self.config.n_envs * self.config.n_steps

    def thresholds(self, start_value: np.ndarray) -> np.ndarray:
        """Constraint levels ``c`` for an extension starting at ``G(pi_r)``.

        ``c_j = G_j - (1 - beta) |G_j - ref_j|``: a relaxation by ``1 - beta`` of the distance to
        the reference point, so ``c_j <= G_j`` for any sign of the returns and on either side of
        the reference point (the paper's ``beta G_j`` is above ``G_j`` for negative returns, and
        ``ref + beta (G - ref)`` is above ``G`` below the reference point). The extension
        therefore starts feasible. Above the reference point it equals ``ref + beta (G - ref)``.
        """
        return start_value - (1.0 - self.config.beta) * np.abs(start_value - self.ref_point)

    def _ppo(self) -> MOPPOConfig:
        values = asdict(self.config)
        return MOPPOConfig(**{f.name: values[f.name] for f in fields(MOPPOConfig)})

    def _job_seed(self, key: str) -> int:
        return (self.seed * 1_000_003 + sum(ord(c) * 31**i for i, c in enumerate(key))) % (2**31)

    def _spec(self, key: str, num_updates: int, **kwargs: Any) -> JobSpec:
        cfg: CMORLConfig = self.config
        scratch = self.scratch_dir
        return JobSpec(
            key=key,
            env=self.task.spec,
            env_kwargs=self.task.env_kwargs,
            ppo=self._ppo(),
            seed=self._job_seed(key),
            num_updates=num_updates,
            eval_episodes=cfg.eval_episodes,
            confirm_episodes=cfg.confirm_episodes,
            barrier_t=cfg.barrier_t,
            checkpoint_dir=None if scratch is None else str(scratch),
            device=str(self.device),
            **kwargs,
        )

    # --- training -------------------------------------------------------------------------
    def learn(self, total_timesteps: int, callback: Callback | None = None, progress_bar: bool = True) -> ParetoArchive:
        """Stage 1 on ``init_fraction`` of the budget, then extension rounds until it is spent."""
        cfg: CMORLConfig = self.config
        if total_timesteps < self.transitions_per_update:
            raise ValueError(f"total_timesteps must be >= one update ({self.transitions_per_update} transitions)")
        if self.stage == 3 and self._remaining_updates(total_timesteps) > 0:
            self.stage = 2  # a larger budget than the one this run finished: more rounds
        # one pool for every stage and round: a spawn pool costs each worker seconds of imports
        with distributed.JobPool(cfg.executor, cfg.workers, cfg.ray_address) as pool, \
                self.progress(total_timesteps, progress_bar) as advance:  # fmt: skip
            if self.stage == 1:
                updates = self._init_updates(total_timesteps)
                specs = [
                    self._spec(f"init-{i}", updates, weights=w, eval_interval=cfg.eval_interval,
                               learning_rate=cfg.learning_rate, anneal_lr=cfg.anneal_lr)
                    for i, w in enumerate(self.initial_preferences)
                ]  # fmt: skip
                self._merge(self._run(specs, pool), advance, callback, stage="init")
                self.stage = 2
                self.checkpoint()
            while self.stage == 2:
                specs = self._extension_round(total_timesteps) or self._fill_round(total_timesteps)
                if not specs:
                    self.stage = 3
                    self.checkpoint()
                    break
                stop = self._merge(self._run(specs, pool), advance, callback, stage=f"extend-{self.round}")
                self.round += 1
                self.checkpoint()
                if stop:
                    break
        return self.archive

    def _extension_round(self, total_timesteps: int) -> list[JobSpec]:
        """Select policies (crowding distance, extremes first, never twice) and build their jobs.

        Each round re-selects from the archive as the previous rounds left it, so new points
        get extended in turn; the budget left decides how many policies and updates fit.
        """
        cfg: CMORLConfig = self.config
        m = self.num_objectives
        remaining_updates = self._remaining_updates(total_timesteps)
        chosen = self.archive.select(cfg.num_select, exclude=self.selected, ref_point=self.ref_point)
        chosen = chosen[: remaining_updates // m]  # every chosen policy gets at least one update per objective
        if not chosen:
            return []
        updates = min(cfg.update_iter, remaining_updates // (len(chosen) * m))
        specs = []
        for entry in chosen:
            self.selected.append(entry.id)
            for target in range(m):
                specs.append(self._spec(
                    f"extend-{self.round}-{entry.id}-{target}", updates, target=target,
                    thresholds=self.thresholds(entry.value), start_value=entry.value,
                    start_length=entry.meta.get("episode_length"),
                    start_state=storage.state_dict_of(entry.policy), eval_interval=cfg.extension_eval_interval,
                    learning_rate=cfg.extension_learning_rate, anneal_lr=False, checkpoint_interval=updates,
                ))  # fmt: skip
        return specs

    def _fill_round(self, total_timesteps: int) -> list[JobSpec]:
        """Once no policy is left to extend: gap extensions and new stage-1 policies, in turn.

        Gap extensions are cheap (``update_iter`` updates) and reach unsupported points; stage-1
        policies cost a stage-1 share of the budget and find supported points that no extension
        of the current front leads to. Alternating keeps either from starving the other.
        """
        rounds = (self._gap_extension_round, self._gap_round)
        first = self.fill_rounds % 2
        self.fill_rounds += 1
        return rounds[first](total_timesteps) or rounds[1 - first](total_timesteps)

    def gap_pairs_for(self, count: int) -> list[tuple[Any, Any]]:
        """Up to ``count`` (from, towards) entries across the gaps, least tried first (:func:`cmorl_gaps.gap_pairs`)."""
        tried = [(int(p), int(q)) for p, q in self.gap_pairs]
        return cmorl_gaps.gap_pairs(self.archive.entries, self.ref_point, tried, count)

    def gap_thresholds(self, start: np.ndarray, towards: np.ndarray, target: int) -> np.ndarray:
        """Halfway into the gap where ``towards`` is worse, ``beta``'s relaxation elsewhere (:mod:`cmorl_gaps`)."""
        return cmorl_gaps.gap_thresholds(self.thresholds(start), start, towards, target)

    def _gap_extension_round(self, total_timesteps: int) -> list[JobSpec]:
        """Extensions from the end points of the front's widest gaps into them, maximising the objective
        the other end is best ahead in (range-normalised), under :meth:`gap_thresholds`."""
        cfg: CMORLConfig = self.config
        remaining_updates = self._remaining_updates(total_timesteps)
        pairs = self.gap_pairs_for(min(2 * cfg.num_select, remaining_updates))
        if not pairs:
            return []
        updates = min(cfg.update_iter, remaining_updates // len(pairs))
        span = np.ptp(self.archive.values, axis=0)
        specs = []
        for start, towards in pairs:
            self.gap_pairs.append([start.id, towards.id])
            target = cmorl_gaps.gap_target(start.value, towards.value, span)
            specs.append(self._spec(
                f"gap-extend-{self.round}-{start.id}-{towards.id}", updates, target=target,
                thresholds=self.gap_thresholds(start.value, towards.value, target), start_value=start.value,
                start_length=start.meta.get("episode_length"), start_state=storage.state_dict_of(start.policy),
                eval_interval=cfg.extension_eval_interval, learning_rate=cfg.extension_learning_rate,
                anneal_lr=False, checkpoint_interval=updates,
            ))  # fmt: skip
        return specs

    def _gap_round(self, total_timesteps: int) -> list[JobSpec]:
        """New stage-1 policies at preferences in the front's largest gaps, once no policy is left to extend.

        Each gets a stage-1 policy's number of updates (fewer if the budget left is short).
        Unsupported points are not their business (linear scalarisation cannot reach them):
        extensions of what they find are.
        """
        cfg: CMORLConfig = self.config
        remaining_updates = self._remaining_updates(total_timesteps)
        per_policy = self._init_updates(total_timesteps)
        count = min(cfg.num_select, max(1, remaining_updates // per_policy)) if remaining_updates else 0
        prefs = self.gap_preferences_for(count)
        if not prefs:
            return []
        updates = min(per_policy, remaining_updates // len(prefs))
        self.gap_preferences.extend(w.tolist() for w in prefs)
        return [
            self._spec(f"gap-{self.round}-{i}", updates, weights=w, eval_interval=cfg.eval_interval,
                       learning_rate=cfg.learning_rate, anneal_lr=cfg.anneal_lr)
            for i, w in enumerate(prefs)
        ]  # fmt: skip

    def gap_preferences_for(self, count: int) -> list[np.ndarray]:
        """Up to ``count`` new stage-1 preferences aimed at the front's gaps (:func:`cmorl_gaps.gap_preferences`)."""
        used = [np.asarray(w, dtype=np.float64) for w in (*self.initial_preferences, *self.gap_preferences)]
        return cmorl_gaps.gap_preferences(self.archive.values, self.ref_point, used, count)

    def _remaining_updates(self, total_timesteps: int) -> int:
        return max(0, total_timesteps - self.num_timesteps) // self.transitions_per_update

    def _init_updates(self, total_timesteps: int) -> int:
        """PPO updates of one stage-1 policy: its share of ``init_fraction`` of the budget."""
        per_policy = int(total_timesteps * self.config.init_fraction) // len(self.initial_preferences)
        return max(1, per_policy // self.transitions_per_update)

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

    def _merge(self, results: Iterator[JobResult], advance: Callable[[int], None], callback: Callback | None,
               stage: str) -> bool:  # fmt: skip
        """Offer each job's candidates to the archive as it lands, count steps, log after each job.

        Stage-1 candidates record the preference their job trained for; extensions have none
        (they maximise one objective under constraints), their ``meta`` names the target.
        Returns True if the callback asked to stop (checked once the whole batch of jobs is in).
        """
        added = 0
        for result in results:
            self.num_timesteps += result.env_steps
            self.gradient_steps += result.gradient_steps
            advance(result.env_steps)
            for cand in result.candidates:
                meta = {"job": result.key, "updates": cand.updates, "discounted_return": cand.discounted.tolist(),
                        "episode_length": cand.length}  # fmt: skip
                if result.target is not None:
                    meta["target"] = result.target
                added += self.archive.add(cand.value, cand.state, preference=result.preference, meta=meta)
            returns = result.candidates[-1].value if result.candidates else []
            self.log_diagnostics({**result.diagnostics, **{f"return_{j}": float(v) for j, v in enumerate(returns)}})
            self.log_front()
        self._networks = {k: v for k, v in self._networks.items() if k in {e.id for e in self.archive.entries}}
        info = {"env_steps": self.num_timesteps, "stage": stage, "added": added, "archive_size": len(self.archive)}
        return callback is not None and callback(self, info) is False

    # --- acting ---------------------------------------------------------------------------
    def _network(self, entry_id: int) -> ActorCritic:
        if entry_id not in self._networks:
            obs_space = self.observation_space
            if self.config.one_hot_int_obs:
                obs_space = spaces.one_hot_integers(obs_space)
            net = ActorCritic(obs_space, self.action_space, self.num_objectives, self.config.net_arch,
                              self.config.image_size)  # fmt: skip
            storage.load_weights_into(net, self.entry(entry_id).policy, f"archive entry {entry_id}")
            self._networks[entry_id] = net.to(self.device).eval()
        return self._networks[entry_id]

    def entry_predictor(self, entry_id: int) -> tasks.Predictor:
        """Act with archive policy ``entry_id`` whatever the preference (C-MORL's policies are not conditioned)."""
        net = self._network(entry_id)

        def predict(obs, preference, state=None, episode_start=None, action_masks=None, deterministic=True):
            return net.act(obs, self.action_space, self.config.normalize_obs, deterministic), state

        return predict

    # --- persistence ----------------------------------------------------------------------
    def _adopt_archive(self, archive: ParetoArchive) -> None:
        archive.max_size = self.config.policy_buffer
        self.archive = archive
        self._networks = {}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "stage": self.stage, "round": self.round, "selected": self.selected,
                "gap_preferences": self.gap_preferences, "gap_pairs": self.gap_pairs,
                "fill_rounds": self.fill_rounds}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.stage, self.round = int(state["stage"]), int(state["round"])
        self.selected = [int(i) for i in state["selected"]]
        self.gap_preferences = [[float(x) for x in w] for w in state.get("gap_preferences", [])]
        self.gap_pairs = [[int(i) for i in pair] for pair in state.get("gap_pairs", [])]
        self.fill_rounds = int(state.get("fill_rounds", 0))
