"""Tests for the multi-agent side of ``morl.tasks``: the id registry, ``is_multiagent_id`` and ``multiagent.task``.

The evaluator is checked on a toy parallel env whose returns are known in closed form; the item-gathering preset's
registered front is re-derived here by exhaustive search.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Iterator
from itertools import product
from typing import Any

import numpy as np
import pytest
from gymnasium.spaces import Box, Discrete

from morl import multiagent as ma
from morl import tasks
from morl.multiagent import MOMALAND_PARALLEL_ENVS, MultiAgentDefaults

H = 3  # toy horizon


class ToyParallelEnv:
    """Two agents, actions {0, 1, 2}; each agent acting ``a`` earns ``scale * (a, 2 - a)``; ends after ``horizon``.

    With the team mean and constant joint action (a0, a1), an episode returns ``horizon * scale * (m, 2 - m)``,
    m = (a0 + a1) / 2. Agent ``a1`` may never take action 1 (reported as an ``action_mask`` in infos). Like
    MOMAland, ``reset(seed)`` re-seeds the global RNGs. ``extra_objective`` adds a third reward component; ``wide``
    gives ``a1`` a 4-dim observation in [1, 5] (so ``a0``'s row is zero-padded).
    """

    metadata = {"name": "toy_team_v0"}  # noqa: RUF012
    instances: list[ToyParallelEnv] = []  # noqa: RUF012

    def __init__(self, horizon: int = H, scale: float = 1.0, extra_objective: bool = False, wide: bool = False) -> None:
        self.possible_agents = ["a0", "a1"]
        self.agents: list[str] = []
        self.horizon, self.scale, self.extra, self.wide = horizon, scale, extra_objective, wide
        self.t = 0
        self.reset_seeds: list[int | None] = []
        ToyParallelEnv.instances.append(self)

    def observation_space(self, agent: str) -> Box:
        return Box(1, 5, shape=(4,)) if self.wide and agent == "a1" else Box(0, 100, shape=(2,))

    def action_space(self, agent: str) -> Discrete:
        return Discrete(3)

    def reward_space(self, agent: str) -> Box:
        return Box(0, 2, shape=(3 if self.extra else 2,))

    def _obs(self) -> dict[str, np.ndarray]:
        obs = {a: np.array([self.t, i], dtype=np.float32) for i, a in enumerate(self.agents)}
        if self.wide and "a1" in obs:
            obs["a1"] = np.array([1 + self.t, 2, 3, 4], dtype=np.float32)
        return obs

    def _infos(self) -> dict[str, dict]:
        return {"a0": {"action_mask": np.array([1, 1, 1])}, "a1": {"action_mask": np.array([1, 0, 1])}}

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        self.reset_seeds.append(seed)
        if seed is not None:
            np.random.seed(seed)
            random.seed(seed)
        self.agents = list(self.possible_agents)
        self.t = 0
        return self._obs(), self._infos()

    def step(self, actions: dict[str, int]) -> tuple[dict, dict, dict, dict, dict]:
        self.t += 1
        rewards = {}
        for a, act in actions.items():
            vec = [act, 2 - act] + ([1.0] if self.extra else [])
            rewards[a] = self.scale * np.array(vec, dtype=float)
        ended = self.t >= self.horizon
        obs, infos = self._obs(), self._infos()
        flags = {a: ended for a in self.agents}
        if ended:
            self.agents = []
        return obs, rewards, {a: False for a in flags}, flags, infos


TOY = MultiAgentDefaults(
    module=f"{__name__}:ToyParallelEnv",
    kwargs={"horizon": H},
    ref_point=(-1.0, -1.0),
    ref_source="test: returns are >= 0",
    gamma=0.5,
    true_front=tuple((x / 2, 6 - x / 2) for x in range(13)),  # every split of 6 over the two objectives
    ref_depends_on=("scale",),
)


@pytest.fixture
def toy_id() -> Iterator[str]:
    """Register the toy env in a private copy of the registry (removed after the test)."""
    saved = dict(ma.DEFAULTS)
    ToyParallelEnv.instances.clear()
    ma.register("toy_team_v0", TOY)
    yield "toy_team_v0"
    ma.DEFAULTS.clear()
    ma.DEFAULTS.update(saved)


def constant(a0: int, a1: int) -> Any:
    """Feed-forward scripted predictor: the same joint action every step."""
    return lambda obs, w, state=None, episode_start=None, action_masks=None, deterministic=True: (
        np.array([a0, a1]),
        None,
    )


class RecurrentProbe:
    """Recurrent predictor recording what the evaluator passes: its state is the number of earlier calls."""

    def __init__(self) -> None:
        self.starts: list[bool] = []
        self.states: list[Any] = []
        self.obs_t: list[float] = []

    def __call__(self, obs, preference, state=None, episode_start=None, action_masks=None, deterministic=True):
        assert obs.shape == (2, 2) and obs.dtype == np.float32
        assert episode_start.shape == (1,) and episode_start.dtype == bool
        assert action_masks.shape == (2, 3) and action_masks[0].all() and action_masks[1].tolist() == [1, 0, 1]
        self.starts.append(bool(episode_start[0]))
        self.states.append(state)
        self.obs_t.append(float(obs[0, 0]))
        a = 2 if preference[0] >= 0.5 else 0
        return np.array([a, a]), len(self.states)


# ---------------------------------------------------------------------------------------------- is_multiagent_id
@pytest.mark.parametrize(
    "name",
    [
        "moitem_gathering_v0",
        "mobeach_v0",
        "mopistonball_v0",
        "catch_v0",  # a MOMAland parallel id without defaults: task() then explains what is missing
        "momaland.envs.item_gathering.moitem_gathering_v0",  # dotted module path
    ],
)
def test_is_multiagent_id_true(name: str) -> None:
    assert ma.is_multiagent_id(name)


@pytest.mark.parametrize(
    "name",
    [
        "deep-sea-treasure-v0",
        "mo-hopper-v4",
        "morl/treasure-corridor-v0",
        "my_envs:Factory",
        "momaland.envs.beach.mobeach_v0:parallel_env",  # module:attr is the single-agent form
        "moconnect4_v0",  # AEC-only
        "no_such_package_xyz.env",
        "foo.bar-v0",
        "",
        None,
        3,
        ToyParallelEnv,
    ],
)
def test_is_multiagent_id_false(name: Any) -> None:
    assert not ma.is_multiagent_id(name)


def test_is_multiagent_id_is_cheap(monkeypatch: pytest.MonkeyPatch, toy_id: str) -> None:
    """Registered and MOMAland ids are answered from the tables: nothing is imported, no env is built."""

    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("is_multiagent_id imported something")

    monkeypatch.setattr(importlib, "import_module", boom)
    monkeypatch.setattr(importlib.util, "find_spec", boom)
    for name in (toy_id, "moitem_gathering_v0", "catch_v0", "momaland.envs.beach.mobeach_v0"):
        assert ma.is_multiagent_id(name)
    for name in ("deep-sea-treasure-v0", "pkg.mod:Env", "foo.bar-v0"):
        assert not ma.is_multiagent_id(name)
    assert ToyParallelEnv.instances == []


# ---------------------------------------------------------------------------------------------- registry
def test_registry_consistent_with_momaland_table() -> None:
    ids = ma.registered_ids()
    assert {"moitem_gathering_v0", "mobeach_v0", "mopistonball_v0"} <= set(ids) and ids == sorted(ids)
    for env_id in ids:
        d = ma.defaults_for(env_id)
        assert d is ma.DEFAULTS[env_id]
        if env_id in MOMALAND_PARALLEL_ENVS:
            assert d.module == MOMALAND_PARALLEL_ENVS[env_id]
        assert len(d.ref_point) >= 1 and d.ref_source
        assert d.true_front is None or all(len(p) == len(d.ref_point) for p in d.true_front)
    assert ma.defaults_for("catch_v0") is None and ma.defaults_for("deep-sea-treasure-v0") is None


def test_register_and_defaults_validation(toy_id: str) -> None:
    assert toy_id in ma.registered_ids() and ma.defaults_for(toy_id) is TOY
    with pytest.raises(ValueError, match="already registered"):
        ma.register(toy_id, TOY)
    ma.register(toy_id, TOY, overwrite=True)
    with pytest.raises(ValueError, match="':'"):
        ma.register("pkg.mod:Env", TOY)
    with pytest.raises(TypeError, match="MultiAgentDefaults"):
        ma.register("other_v0", {"module": "x"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="team_reward"):
        MultiAgentDefaults(module="m", ref_point=(0.0,), ref_source="s", team_reward="max")
    with pytest.raises(ValueError, match="true_front rows must have 2"):
        MultiAgentDefaults(module="m", ref_point=(0.0, 0.0), ref_source="s", true_front=((1.0, 2.0, 3.0),))
    with pytest.raises(ValueError, match="ref_point"):
        MultiAgentDefaults(module="m", ref_point=(float("nan"),), ref_source="s")


# ---------------------------------------------------------------------------------------------- task(): real envs
def test_item_gathering_task() -> None:
    task = ma.task("moitem_gathering_v0")
    assert task.kind == "multi" and task.spec == "moitem_gathering_v0" and task.name == "moitem_gathering_v0"
    assert task.num_objectives == 3 and task.num_agents == 2
    assert isinstance(task.observation_space, Box) and task.observation_space.shape == (66,)
    assert task.observation_space.dtype == np.float32
    assert np.all(task.observation_space.low[:2] == 0) and np.all(task.observation_space.high[:2] == 1)  # one-hot id
    assert task.action_space == Discrete(5)
    assert np.array_equal(task.ref_point, [0.0, 0.0, 0.0]) and "reward bounds" in task.ref_source
    assert task.env_kwargs == {"reward_mode": "team", "num_timesteps": 8} and task.gamma == 0.99
    assert {tuple(p) for p in task.true_front} == {(2, 3, 2), (3, 2, 2), (3, 3, 1)}
    assert task.record()["env"] == "moitem_gathering_v0"

    via_make = tasks.make("moitem_gathering_v0")  # the routing morl.tasks.make does
    assert via_make.kind == "multi" and np.array_equal(via_make.true_front, task.true_front)
    given = tasks.make("moitem_gathering_v0", ref_point=[-1, -1, -1])
    assert given.ref_source == "given" and np.array_equal(given.ref_point, [-1, -1, -1])


def test_user_kwargs_win_and_drop_the_preset_front() -> None:
    task = ma.task("moitem_gathering_v0", num_timesteps=6)
    assert task.env_kwargs == {"reward_mode": "team", "num_timesteps": 6}
    assert task.true_front is None  # the front belongs to the 8-step preset
    assert np.array_equal(task.ref_point, [0, 0, 0])  # rewards are >= 0 whatever the horizon
    same = ma.task("moitem_gathering_v0", num_timesteps=8, render_mode=None)
    assert same.true_front is not None  # restating the preset, or a cosmetic kwarg, keeps it
    summed = ma.task("moitem_gathering_v0", team_reward="sum")
    assert summed.true_front is None and summed.env_kwargs["team_reward"] == "sum"


def relaxed_front(initial_map: np.ndarray, horizon: int) -> set[tuple[float, ...]]:
    """Pareto front of team item counts over every pair of paths, collisions relaxed to 'stay' (a superset)."""
    from morl.points import non_dominated

    grid = np.array(initial_map)
    starts = tuple(tuple(int(v) for v in p) for p in np.argwhere(grid == 1))
    grid[grid == 1] = 0
    kinds = sorted(set(grid[grid > 0].tolist()))
    items = [tuple(int(v) for v in p) for p in np.argwhere(grid > 0)]
    bit = {p: 1 << i for i, p in enumerate(items)}

    def moves(p: tuple[int, int]) -> set[tuple[int, int]]:
        out = set()
        for d in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)):
            q = (p[0] + d[0], p[1] + d[1])
            out.add(q if 0 <= q[0] < grid.shape[0] and 0 <= q[1] < grid.shape[1] else p)
        return out

    states = {(starts, 0)}
    for _ in range(horizon):
        states = {
            (pos, mask | sum(bit.get(q, 0) for q in set(pos)))
            for positions, mask in states
            for pos in product(*(moves(p) for p in positions))
        }
    counts = [
        [sum(1 for i, p in enumerate(items) if mask >> i & 1 and grid[p] == k) for k in kinds] for _, mask in states
    ]
    return {tuple(p) for p in non_dominated(np.array(counts, dtype=float))}


def test_item_gathering_registered_front_is_exact() -> None:
    """Re-derive the registered front, then reach each point through the task's own evaluator."""
    from momaland.envs.item_gathering.map_utils import DEFAULT_MAP

    task = ma.task("moitem_gathering_v0")
    assert relaxed_front(DEFAULT_MAP, 8) == {tuple(p) for p in task.true_front}
    plans = {  # collision-free joint plans (agent_0, agent_1); 0 stay, 1 up, 2 down, 3 left, 4 right
        (3, 3, 1): ([0, 0, 2, 2, 3, 3, 2, 3], [1, 1, 4, 4, 4, 1, 1, 3]),
        (3, 2, 2): ([0, 2, 2, 3, 3, 2, 2, 2], [1, 1, 4, 4, 4, 1, 1, 3]),
        (2, 3, 2): ([2, 2, 3, 3, 2, 3, 3, 3], [0, 1, 1, 4, 4, 4, 4, 4]),
    }
    for target, plan in plans.items():

        def open_loop(obs, w, state=None, episode_start=None, action_masks=None, deterministic=True, plan=plan):
            t = 0 if episode_start[0] else state
            return np.array([plan[0][t], plan[1][t]]), t + 1

        ev = task.evaluate(open_loop, [1 / 3, 1 / 3, 1 / 3], episodes=2, seed=0)
        assert np.array_equal(ev.mean_return, target) and ev.mean_length == 8


def test_item_gathering_config_a_is_momalands_map_and_its_registered_front_is_exact() -> None:
    """Config A (research/momix.md §5.1): MOMAland's 2-objective map, front re-derived, each point reached."""
    from momaland.envs.item_gathering.map_utils import generate_map

    saved = np.random.get_state()
    try:
        assert np.array_equal(generate_map(8, 8, (4, 6), 2, seed=1), ma.registry.ITEM_GATHERING_MAP_A)
    finally:
        np.random.set_state(saved)  # generate_map re-seeds the global generator
    task = ma.task("moitem_gathering_2obj_v0")
    assert task.num_objectives == 2 and np.array_equal(task.ref_point, [0, 0])
    assert relaxed_front(np.array(ma.registry.ITEM_GATHERING_MAP_A), 8) == {tuple(p) for p in task.true_front}
    plans = {  # collision-free joint plans (agent_0, agent_1); 0 stay, 1 up, 2 down, 3 left, 4 right
        (1, 6): ([2, 2, 3, 3, 2, 2, 3, 1], [1, 1, 4, 4, 1, 1, 1, 4]),
        (3, 5): ([2, 2, 3, 3, 2, 2, 3, 1], [1, 1, 4, 4, 1, 4, 1, 1]),
        (4, 4): ([2, 2, 3, 3, 2, 2, 3, 2], [1, 1, 4, 4, 1, 4, 1, 1]),
    }
    for target, plan in plans.items():

        def open_loop(obs, w, state=None, episode_start=None, action_masks=None, deterministic=True, plan=plan):
            t = 0 if episode_start[0] else state
            return np.array([plan[0][t], plan[1][t]]), t + 1

        assert np.array_equal(task.evaluate(open_loop, [0.5, 0.5], episodes=2, seed=0).mean_return, target)


def test_mo_spread_task_returns_coverage_and_collision_vectors() -> None:
    pytest.importorskip("mpe2")
    task = ma.task("mo_spread_v0")
    assert task.num_agents == 3 and task.num_objectives == 2 and task.action_space == Discrete(5)
    assert task.objective_names == ("coverage", "collisions") and np.array_equal(task.ref_point, [-300, -75])
    stay = lambda obs, w, state=None, episode_start=None, action_masks=None, deterministic=True: (  # noqa: E731
        np.zeros(3, dtype=int),
        None,
    )
    ev = task.evaluate(stay, [0.5, 0.5], episodes=2, seed=0)
    assert ev.mean_length == 25 and np.all(ev.returns[:, 0] < 0) and np.all(ev.returns[:, 1] <= 0)
    assert np.all(ev.returns > task.ref_point)


def test_beach_and_pistonball_tasks() -> None:
    beach = ma.task("mobeach_v0")
    assert beach.num_objectives == 2 and beach.num_agents == 10 and beach.true_front is None
    assert beach.observation_space.shape == (5,) and beach.action_space == Discrete(3)
    assert np.array_equal(beach.ref_point, [0, 0])
    stay = lambda obs, w, state=None, episode_start=None, action_masks=None, deterministic=True: (  # noqa: E731
        np.ones(10, dtype=int),
        None,
    )
    ev = beach.evaluate(stay, [0.5, 0.5], episodes=2, seed=0)
    assert ev.mean_length == 5 and np.all(ev.returns >= beach.ref_point)
    with pytest.raises(ValueError, match="expected 10 actions"):
        beach.evaluate(constant(1, 1), [0.5, 0.5], episodes=1, seed=0)

    piston = ma.task("mopistonball_v0")
    assert piston.num_objectives == 2 and piston.num_agents == 10 and piston.action_space == Discrete(3)
    assert piston.observation_space.shape == (457 * 120 * 3,) and np.array_equal(piston.ref_point, [-25, -13])
    with pytest.raises(ValueError, match=r"changed \['n_pistons'\]"):
        ma.task("mopistonball_v0", n_pistons=4)  # the ball bound depends on the width


# ---------------------------------------------------------------------------------------------- task(): toy env
def test_toy_task_spaces_and_registry_values(toy_id: str) -> None:
    task = ma.task(toy_id)
    assert task.kind == "multi" and task.spec == toy_id and task.num_objectives == 2 and task.num_agents == 2
    assert task.observation_space == Box(0, 100, shape=(2,)) and task.action_space == Discrete(3)
    assert np.array_equal(task.ref_point, [-1, -1]) and task.ref_source == "test: returns are >= 0"
    assert task.gamma == 0.5 and len(task.true_front) == 13 and task.env_kwargs == {"horizon": H}
    assert tasks.make(toy_id).kind == "multi"


def test_padded_observation_space_and_rows(toy_id: str) -> None:
    task = ma.task(toy_id, wide=True)
    assert task.observation_space.shape == (4,) and task.observation_space.dtype == np.float32
    assert task.observation_space.low.tolist() == [0, 0, 0, 0]  # a0's padding columns are always 0
    assert task.observation_space.high.tolist() == [100, 100, 5, 5]
    seen = []

    def record(obs, w, state=None, episode_start=None, action_masks=None, deterministic=True):
        seen.append(obs.copy())
        return np.array([0, 0]), None

    task.evaluate(record, [0.5, 0.5], episodes=1)
    assert seen[0].tolist() == [[0, 0, 0, 0], [1, 2, 3, 4]]
    assert all(task.observation_space.contains(row) for obs in seen for row in obs)


@pytest.mark.parametrize(
    ("a0", "a1", "expected"),
    [(2, 2, [6.0, 0.0]), (0, 0, [0.0, 6.0]), (2, 0, [3.0, 3.0]), (1, 2, [4.5, 1.5])],
)
def test_toy_evaluator_returns_known_values(toy_id: str, a0: int, a1: int, expected: list[float]) -> None:
    task = ma.task(toy_id)
    ev = task.evaluate(constant(a0, a1), [0.5, 0.5], episodes=3, seed=10)
    per_step = np.array(expected) / H
    assert np.array_equal(ev.mean_return, expected)
    assert ev.returns.shape == (3, 2) and np.array_equal(ev.returns, np.tile(expected, (3, 1)))
    assert np.allclose(ev.mean_discounted_return, per_step * (1 + 0.5 + 0.25))  # the registered gamma
    assert ev.discounted_returns.shape == (3, 2) and ev.mean_length == H
    env = ToyParallelEnv.instances[-1]  # the evaluator's own env: probe reset, then seed + i per episode
    assert env.reset_seeds == [None, 10, 11, 12]


def test_toy_recurrent_predictor_sees_episode_starts_and_its_state(toy_id: str) -> None:
    task = ma.task(toy_id)
    probe = RecurrentProbe()
    ev = task.evaluate(probe, [1.0, 0.0], episodes=4, seed=None)
    assert probe.starts == [True, False, False] * 4
    assert probe.states == [None, *range(1, 12)]  # each call gets what the previous one returned
    assert probe.obs_t == [0.0, 1.0, 2.0] * 4  # the observation of the current step, not a stale one
    assert np.array_equal(ev.mean_return, [6.0, 0.0])
    assert ToyParallelEnv.instances[-1].reset_seeds == [None] * 5


def test_seeded_evaluation_leaves_global_rngs_alone(toy_id: str) -> None:
    task = ma.task(toy_id)
    np.random.seed(123)
    random.seed(123)
    before = (np.random.get_state()[1].copy(), random.getstate())
    task.evaluate(constant(0, 0), [0.5, 0.5], episodes=2, seed=7)  # the toy, like MOMAland, re-seeds them
    assert np.array_equal(np.random.get_state()[1], before[0]) and random.getstate() == before[1]


def test_evaluation_step_bound_and_bad_episodes(toy_id: str) -> None:
    env = ma.make_multiagent(toy_id, horizon=50)
    with pytest.raises(RuntimeError, match="did not end within 10 steps"):
        ma.evaluate(env, constant(0, 0), np.array([0.5, 0.5]), episodes=1, max_steps=10)
    assert ma.evaluate(env, constant(0, 0), np.array([0.5, 0.5]), episodes=1, max_steps=50).mean_length == 50
    with pytest.raises(ValueError, match="episodes must be >= 1"):
        ma.evaluate(env, constant(0, 0), np.array([0.5, 0.5]), episodes=0)
    with pytest.raises(ValueError, match=r"\(actions, state\)"):
        ma.evaluate(env, lambda *args: np.array([0, 0]), np.array([0.5, 0.5]), episodes=1)


def test_toy_kwargs_override_preset_ref_and_front(toy_id: str) -> None:
    longer = ma.task(toy_id, horizon=4)
    assert longer.env_kwargs == {"horizon": 4} and longer.true_front is None
    assert np.array_equal(longer.ref_point, [-1, -1])  # horizon is not in ref_depends_on
    assert ma.task(toy_id, horizon=4).evaluate(constant(2, 2), [1, 0], episodes=1).mean_length == 4
    with pytest.raises(ValueError, match=r"changed \['scale'\]: pass ref_point"):
        ma.task(toy_id, scale=2.0)
    scaled = ma.task(toy_id, scale=2.0, ref_point=[-2, -2])
    assert scaled.ref_source == "given" and np.array_equal(scaled.ref_point, [-2, -2])
    with pytest.raises(ValueError, match=r"registered reference point of 'toy_team_v0' has 2 values.*3 objectives"):
        ma.task(toy_id, extra_objective=True)


def test_factory_task_derives_its_ref_point_or_takes_one() -> None:
    derived = ma.task(ToyParallelEnv)  # reward_space low 0: every return is >= 0, as for a single-agent custom env
    assert np.array_equal(derived.ref_point, [-1, -1]) and derived.ref_source.startswith("derived: reward_space.low")
    task = ma.task(ToyParallelEnv, ref_point=[0, 0], horizon=2)
    assert task.spec is ToyParallelEnv and task.name == "toy_team_v0" and task.ref_source == "given"
    assert task.gamma == 0.99 and task.true_front is None and task.env_kwargs == {"horizon": 2}
    assert np.array_equal(task.evaluate(constant(2, 0), [0.5, 0.5], episodes=2).mean_return, [2.0, 2.0])


# ---------------------------------------------------------------------------------------------- bad inputs
def test_bad_inputs_raise_value_errors_naming_the_problem() -> None:
    with pytest.raises(ValueError, match=r"unknown multi-agent env id 'no_such_env_v0'.*moitem_gathering_v0"):
        ma.task("no_such_env_v0")
    with pytest.raises(ValueError, match="unknown multi-agent env id 'deep-sea-treasure-v0'"):
        ma.task("deep-sea-treasure-v0")
    with pytest.raises(ValueError, match=r"ref_point has shape \(2,\) but 'moitem_gathering_v0' has 3 objectives"):
        ma.task("moitem_gathering_v0", ref_point=[0, 0])
    with pytest.raises(ValueError, match="ref_point"):
        ma.task("moitem_gathering_v0", ref_point=[0, 0, float("nan")])
    with pytest.raises(ValueError, match="Discrete"):
        ma.task("catch_v0")  # continuous actions: no task, and the reason
    with pytest.raises(TypeError):
        ma.task(42)  # type: ignore[arg-type]
