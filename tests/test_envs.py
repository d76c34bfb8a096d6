"""Tests for ``morl.envs``: every registered env makes and steps, defaults, env specs, check_env, seeding."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import textwrap
from typing import Any, ClassVar

import gymnasium as gym
import mo_gymnasium as mo_gym
import numpy as np
import pytest

from morl import envs, metrics
from morl.builtin_envs import TreasureCorridor
from morl.envs import DEFAULTS, EnvCheckError, check_env, make, reward_dim, true_front

CORRIDOR = "morl/treasure-corridor-v0"

# Ids that need an optional extra, and the modules that extra provides. Making one of these may fail with a
# missing-dependency error only while one of those modules is absent; once they are installed the id must pass
# the normal path of ``test_every_registered_env_makes_and_steps``.
_MUJOCO = ("mujoco", "imageio")  # what `pip install "gymnasium[mujoco]"` (our `morl[mujoco]`) brings
_MUJOCO_ID = re.compile(r"^mo-(hopper|halfcheetah|ant|walker2d|swimmer|humanoid|reacher)(-[0-9a-z]+)?-v\d+$")


def needed_extras(env_id: str) -> tuple[str, ...]:
    """Modules an id needs beyond our dependencies; () for ids that must always work."""
    if _MUJOCO_ID.match(env_id):
        return _MUJOCO
    if env_id.startswith("mo-highway"):
        return ("highway_env",)
    if env_id == "mo-supermario-v0":
        return ("gym_super_mario_bros",)
    return ()


# Broken upstream (mo-gymnasium 1.3.2): see test_breakable_bottles_is_broken_upstream.
UPSTREAM_BROKEN = {"breakable-bottles-v0"}
# 480x480 RGB observations: one copy is enough to prove the id works.
_HEAVY = {"minecart-rgb-v0": 1}


def _ids_to_step() -> list[str]:
    return [env_id for env_id in envs.registered_ids() if env_id not in UPSTREAM_BROKEN]


def _missing(modules: tuple[str, ...]) -> list[str]:
    return [name for name in modules if importlib.util.find_spec(name) is None]


# --- every registered env ---------------------------------------------------------------------


def test_registered_ids_cover_mo_gymnasium_and_ours():
    ids = envs.registered_ids()
    assert CORRIDOR in ids
    assert {"deep-sea-treasure-v0", "minecart-v0", "mo-mountaincar-v0", "breakable-bottles-v0"} <= set(ids)
    assert ids == sorted(ids)
    assert set(DEFAULTS) <= set(ids), f"DEFAULTS names unregistered ids: {set(DEFAULTS) - set(ids)}"


@pytest.mark.parametrize("env_id", _ids_to_step())
def test_every_registered_env_makes_and_steps(env_id):
    num_envs = _HEAVY.get(env_id, 2)
    try:
        vec = make(env_id, num_envs=num_envs, seed=0)
    except (gym.error.DependencyNotInstalled, ModuleNotFoundError) as err:
        missing = _missing(needed_extras(env_id))
        assert missing, f"{env_id} failed with {err!r} although it needs no extra, or its extra is installed"
        return
    try:
        m = reward_dim(vec)
        assert m >= 2
        vec.reset(seed=0)
        for _ in range(3):
            _, reward, terminated, truncated, _ = vec.step(vec.action_space.sample())
            assert reward.shape == (num_envs, m)
            assert np.issubdtype(reward.dtype, np.floating)
            assert np.all(np.isfinite(reward))
            assert terminated.shape == truncated.shape == (num_envs,)
    finally:
        vec.close()


def test_breakable_bottles_is_broken_upstream():
    # mo-gymnasium 1.3.2's BreakableBottles.step returns its reward as a Python list ([-1, 0, 0]), not a numpy
    # array, against MO-Gymnasium's own contract. (MOSyncVectorEnv happens to copy it into an array, but anything
    # that reads `reward.dtype` on the single env fails with "'list' object has no attribute 'dtype'".)
    # check_env therefore rejects it and `make` refuses it. When this test fails, upstream has fixed the env:
    # remove it from UPSTREAM_BROKEN so the parametrized test covers it.
    env = mo_gym.make("breakable-bottles-v0")
    env.reset(seed=0)
    _, reward, *_ = env.step(0)
    assert type(reward) is list and reward == [-1, 0, 0]
    with pytest.raises(EnvCheckError, match=r"BreakableBottles\.step returned a reward of type list"):
        make("breakable-bottles-v0")


# --- defaults and known fronts ----------------------------------------------------------------


@pytest.mark.parametrize("env_id", sorted(DEFAULTS))
def test_defaults_have_ref_point_of_reward_dim_and_fronts_dominate_it(env_id):
    defaults = DEFAULTS[env_id]
    assert envs.defaults_for(env_id) is defaults
    assert 0.0 < defaults.gamma <= 1.0 and defaults.source
    try:
        env = envs.make_env(env_id)
    except (gym.error.DependencyNotInstalled, ModuleNotFoundError):
        assert _missing(needed_extras(env_id)), f"{env_id} cannot be made although its extra is installed"
        return
    try:
        m = reward_dim(env)
        ref = np.asarray(defaults.ref_point)
        assert ref.shape == (m,)
        assert (true_front(env) is not None) == defaults.has_true_front
        if not defaults.has_true_front:
            return
        for gamma in (1.0, defaults.gamma):
            front = true_front(env, gamma=gamma)
            assert front is not None and front.ndim == 2 and front.shape[1] == m and len(front) >= 1
            assert np.all(front > ref), f"{env_id}: true front (gamma={gamma}) does not strictly dominate {ref}"
    finally:
        env.close()


def test_deep_sea_treasure_front_hypervolume():
    env = envs.make_env("deep-sea-treasure-v0")
    front = true_front(env, gamma=1.0)
    assert front.shape == (10, 2)
    assert metrics.hypervolume(front, DEFAULTS["deep-sea-treasure-v0"].ref_point) == pytest.approx(401.8)


def test_treasure_corridor_front_is_exact():
    env = envs.make_env(CORRIDOR)
    np.testing.assert_array_equal(true_front(env), [(1, -1), (3, -2), (4, -3), (7, -4), (8, -5)])
    # Discounted at 0.5, cells 2-4 are worth (1, -1.75), (0.875, -1.875), (0.5, -1.9375): all dominated.
    np.testing.assert_allclose(true_front(env, gamma=0.5), [(1, -1), (1.5, -1.5)])


def test_defaults_for_unregistered_envs():
    # A registered id with a time limit gets a worst-case point: reward lower bound x horizon, minus 1.
    register_id = "test-envs/corridor-limited-v0"
    if register_id not in gym.registry:
        corridor = "morl.builtin_envs.treasure_corridor:TreasureCorridor"
        gym.register(register_id, entry_point=corridor, max_episode_steps=7)
    computed = envs.defaults_for(register_id)
    assert computed.ref_point == (-1.0, -8.0) and computed.has_true_front
    # Without a time limit the horizon is the longest of a few seeded random episodes (the corridor: 5 steps).
    derived = envs.defaults_for(TreasureCorridor)
    assert derived.ref_point == (-1.0, -6.0)
    assert derived.source == (
        "derived: min(reward_space.low x 5 steps (longest of 5 random episodes, each cut at 1000), 0) - 1"
    )

    class Declared(TreasureCorridor):
        morl_defaults = envs.EnvDefaults((0.0, -10.0), gamma=0.9, has_true_front=True, source="test")

    assert envs.defaults_for(Declared) is Declared.morl_defaults


# --- env specs accepted by make -----------------------------------------------------------------


def _step_corridor(vec: gym.vector.VectorEnv, actions: list[int]) -> np.ndarray:
    vec.reset(seed=0)
    _, reward, *_ = vec.step(np.asarray(actions))
    return reward


def test_make_from_id_gives_reward_rows_per_env():
    vec = make(CORRIDOR, num_envs=3, seed=0)
    assert vec.num_envs == 3 and reward_dim(vec) == 2
    np.testing.assert_array_equal(_step_corridor(vec, [0, 1, 1]), [[0, -1], [1, -1], [1, -1]])


def test_make_passes_kwargs_to_id_and_callable():
    vec = make(CORRIDOR, num_envs=2, treasures=(5.0,))
    np.testing.assert_array_equal(_step_corridor(vec, [0, 1]), [[5, -1], [5, -1]])
    vec = make(TreasureCorridor, num_envs=2, treasures=(6.0,))
    np.testing.assert_array_equal(_step_corridor(vec, [0, 1]), [[6, -1], [6, -1]])


def test_make_from_callable():
    vec = make(lambda: TreasureCorridor(treasures=(2.0, 9.0)), num_envs=2, seed=1)
    np.testing.assert_array_equal(_step_corridor(vec, [1, 0]), [[2, -1], [0, -1]])


def test_make_from_instance_wraps_that_instance_only_once():
    env = TreasureCorridor()
    vec = make(env, num_envs=1, seed=0)
    assert vec.envs[0] is env
    np.testing.assert_array_equal(_step_corridor(vec, [1]), [[1, -1]])
    with pytest.raises(ValueError, match="instance cannot be copied"):
        make(TreasureCorridor(), num_envs=2)
    with pytest.raises(TypeError, match="instance cannot be copied"):
        envs.env_factory(env)


_USER_MODULE = """
import gymnasium as gym
import numpy as np


class Coin(gym.Env):
    def __init__(self, value=3.0):
        self.value = value
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.reward_space = gym.spaces.Box(-1.0, 10.0, shape=(2,), dtype=np.float32)
        self.reward_dim = 2

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        reward = np.array([self.value * int(action), -1.0], dtype=np.float32)
        return np.zeros(1, dtype=np.float32), reward, True, False, {}


def make_coin():
    return Coin(value=7.0)


NOT_CALLABLE = 42
REGISTERED = "morl/treasure-corridor-v0"
"""


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module ``<name>.py`` in a fresh current directory, as a user's ``my_envs.py`` would be."""
    name = f"user_envs_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(_USER_MODULE))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # make() adds the cwd; undo that afterwards
    yield name
    sys.modules.pop(name, None)


def test_make_from_module_class_and_function(user_module):
    vec = make(f"{user_module}:Coin", num_envs=2, seed=0)
    np.testing.assert_array_equal(_step_corridor(vec, [1, 0]), [[3, -1], [0, -1]])
    vec = make(f"{user_module}:make_coin", num_envs=2, seed=0)
    np.testing.assert_array_equal(_step_corridor(vec, [1, 1]), [[7, -1], [7, -1]])
    vec = make(f"{user_module}:REGISTERED", num_envs=1, seed=0)  # a string attribute naming a registered id
    np.testing.assert_array_equal(_step_corridor(vec, [1]), [[1, -1]])


def test_make_module_path_errors_name_the_problem(user_module):
    with pytest.raises(ValueError, match="cannot import module 'no_such_module_xyz'"):
        make("no_such_module_xyz:Env")
    with pytest.raises(ValueError, match=f"module '{user_module}' has no attribute 'Missing'"):
        make(f"{user_module}:Missing")
    with pytest.raises(ValueError, match="is not callable"):
        make(f"{user_module}:NOT_CALLABLE")


def test_make_async_vectorization():
    vec = make(CORRIDOR, num_envs=2, seed=0, vectorization="async")
    try:
        assert isinstance(vec, gym.vector.AsyncVectorEnv)
        np.testing.assert_array_equal(_step_corridor(vec, [0, 1]), [[0, -1], [1, -1]])
    finally:
        vec.close()


def test_make_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"unknown env 'no-such-env-v0'; registered ids: .*deep-sea-treasure-v0"):
        make("no-such-env-v0")
    with pytest.raises(ValueError, match=re.escape(CORRIDOR)):
        make("no-such-env-v0")
    with pytest.raises(ValueError, match="num_envs must be >= 1, got 0"):
        make(CORRIDOR, num_envs=0)
    with pytest.raises(ValueError, match="vectorization must be 'sync' or 'async', got 'threads'"):
        make(CORRIDOR, vectorization="threads")
    with pytest.raises(TypeError, match="got int"):
        envs.env_factory(3)


def test_make_checks_the_env_it_builds():
    with pytest.raises(EnvCheckError, match="scalar reward"):
        make(lambda: FakeEnv(reward=1.0), num_envs=2)


# --- check_env ----------------------------------------------------------------------------------


class FakeEnv(gym.Env):
    """A two-objective env whose reward, reward_space and API can be broken on purpose."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, reward: Any = None, reward_space: Any = "default", bad_from_step: int = 0) -> None:
        self.observation_space = gym.spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        if isinstance(reward_space, str):
            reward_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        if reward_space is not None:
            self.reward_space = reward_space
        self.reward = reward
        self.bad_from_step = bad_from_step
        self.t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        return np.zeros(3, dtype=np.float32), {}

    def step(self, action: int):
        self.t += 1
        good = np.array([0.5, -0.5], dtype=np.float32)
        reward = self.reward if self.reward is not None and self.t > self.bad_from_step else good
        return np.zeros(3, dtype=np.float32), reward, False, False, {}


class OldResetEnv(FakeEnv):
    def reset(self, *, seed: int | None = None, options: dict | None = None):  # gym < 0.26: obs only
        super().reset(seed=seed)
        return np.zeros(3, dtype=np.float32)


class OldStepEnv(FakeEnv):
    def step(self, action: int):  # gym < 0.26: (obs, reward, done, info)
        obs, reward, terminated, _, info = super().step(action)
        return obs, reward, terminated, info


class NotAnEnv:
    reward_space = gym.spaces.Box(-1.0, 1.0, shape=(2,))

    def reset(self, seed=None):
        return np.zeros(1), {}


def test_check_env_accepts_good_envs():
    check_env(FakeEnv())
    check_env(TreasureCorridor())
    check_env(envs.make_env("deep-sea-treasure-v0"))  # through Gymnasium's wrappers
    check_env(FakeEnv(reward=np.array([1, 0], dtype=np.int64)))  # ints cast safely to a float space
    check_env(FakeEnv(reward=np.array([0.25, 0.5], dtype=np.float64)))  # float64 into float32 is same kind


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (FakeEnv(reward=1.0), r"FakeEnv\.step returned a scalar reward 1\.0; .*vector of shape \(2,\)"),
        (FakeEnv(reward=np.float32(1.0)), "scalar reward"),
        (FakeEnv(reward=np.array(1.0)), "scalar reward"),
        (FakeEnv(reward=[0.5, 0.5]), "reward of type list; return a numpy array"),
        (FakeEnv(reward=np.zeros(3, dtype=np.float32)), r"reward of shape \(3,\); reward_space has \(2,\)"),
        (FakeEnv(reward=np.zeros((1, 2), dtype=np.float32)), r"reward of shape \(1, 2\); reward_space has \(2,\)"),
        (FakeEnv(reward=np.zeros(2, dtype=np.complex64)), "reward dtype complex64; reward_space has float32"),
        (
            FakeEnv(reward=np.array([0.5, 1.5]), reward_space=gym.spaces.Box(-5, 5, shape=(2,), dtype=np.int64)),
            "reward dtype float64; reward_space has int64",
        ),
        (FakeEnv(reward=np.array(["a", "b"])), "reward dtype <U1; reward_space has float32"),
        (FakeEnv(reward_space=None), "FakeEnv has no reward_space: set self.reward_space"),
        (FakeEnv(reward_space=gym.spaces.Discrete(2)), "reward_space must be a 1-D gymnasium.spaces.Box"),
        (FakeEnv(reward_space=gym.spaces.Box(-1, 1, shape=(2, 2))), "reward_space must be a 1-D"),
        (FakeEnv(reward=np.array([np.nan, 0.0], dtype=np.float32)), r"non-finite reward \[nan, 0\.0\] at step 0"),
        (
            FakeEnv(reward=np.array([0.0, np.inf], dtype=np.float32), bad_from_step=5),
            r"non-finite reward \[0\.0, inf\] at step 5",
        ),
        (FakeEnv(reward=np.array([-np.inf, 0.0], dtype=np.float32)), "non-finite reward"),
        (OldResetEnv(), r"OldResetEnv\.reset must return \(observation, info dict\) as in Gymnasium >= 0\.26"),
        (OldStepEnv(), r"OldStepEnv\.step must return \(obs, reward, terminated, truncated, info\), got 4 items"),
        (NotAnEnv(), "NotAnEnv is not a Gymnasium env: it has no 'step'"),
    ],
)
def test_check_env_names_the_problem(env, message):
    with pytest.raises(EnvCheckError, match=message):
        check_env(env)


def test_env_check_error_is_a_value_error():
    assert issubclass(EnvCheckError, ValueError)
    with pytest.raises(EnvCheckError, match="has no reward_space"):
        reward_dim(FakeEnv(reward_space=None))


# --- determinism --------------------------------------------------------------------------------


def _rollout(env_id: str, seed: int, steps: int = 150) -> tuple[np.ndarray, np.ndarray]:
    vec = make(env_id, num_envs=2, seed=seed)
    try:
        first, _ = vec.reset()
        actions = np.random.default_rng(123).integers(vec.single_action_space.n, size=(steps, 2))
        observations, rewards = [first], []
        for action in actions:
            obs, reward, *_ = vec.step(action)
            observations.append(obs)
            rewards.append(reward)
        return np.asarray(observations), np.asarray(rewards)
    finally:
        vec.close()


@pytest.mark.parametrize("env_id", ["resource-gathering-v0", "fishwood-v0"])
def test_same_seed_gives_same_trajectory(env_id):
    obs_a, rewards_a = _rollout(env_id, seed=0)
    obs_b, rewards_b = _rollout(env_id, seed=0)
    np.testing.assert_array_equal(obs_a[0], obs_b[0])
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(rewards_a, rewards_b)
    # Both envs are stochastic, so the check is not vacuous: another seed changes the trajectory.
    obs_c, rewards_c = _rollout(env_id, seed=1)
    assert not (np.array_equal(obs_a, obs_c) and np.array_equal(rewards_a, rewards_c))


@pytest.fixture
def restore_global_numpy_rng():
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def test_minecart_ignores_the_seed_upstream(restore_global_numpy_rng):
    # mo-gymnasium 1.3.2's Minecart draws ore with scipy.stats `rvs()`, i.e. from NumPy's *global* RNG, not from
    # the env's seeded `np_random`. `make` gives it its own generator (morl.seeding): the global one no longer
    # matters. When the raw half fails, upstream honours the seed and the GLOBAL_DRAWS entry can go.
    def raw(global_seed):
        vec = mo_gym.wrappers.vector.MOSyncVectorEnv([lambda: mo_gym.make("minecart-v0")] * 2)
        vec.reset(seed=[0, 1])
        np.random.seed(global_seed)
        actions = np.random.default_rng(123).integers(6, size=(150, 2))
        return np.asarray([vec.step(action)[0] for action in actions])

    assert not np.array_equal(raw(1), raw(2))
    np.random.seed(1)
    obs_a, _ = _rollout("minecart-v0", seed=0)
    np.random.seed(2)
    obs_b, _ = _rollout("minecart-v0", seed=0)
    np.testing.assert_array_equal(obs_a, obs_b)


def test_make_takes_one_seed_per_sub_env():
    first = make("resource-gathering-v0", num_envs=3, seed=[4, 9, 4])
    draws = [first.envs[i].unwrapped.np_random.integers(1 << 30) for i in range(3)]
    assert draws[0] == draws[2] != draws[1]  # equal seeds, equal streams
    with pytest.raises(ValueError, match="2 seeds for 3 envs"):
        make("resource-gathering-v0", num_envs=3, seed=[1, 2])


_QUIRKY_ENVS = """
import gymnasium as gym
import numpy as np


class _Base(gym.Env):
    observation_space = gym.spaces.Box(0, 1, (1,))
    action_space = gym.spaces.Discrete(2)
    reward_space = gym.spaces.Box(-1, 1, (2,))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        reward = np.array([1.0, -1.0], dtype=np.float32) if action else np.array([0.0, 0.0], dtype=np.float32)
        return np.zeros(1, dtype=np.float32), reward, self.t >= 3, False, {}


class NoGammaFront(_Base):
    def pareto_front(self):
        return [[3.0, -3.0], [0.0, 0.0]]


class BrokenFront(_Base):
    def pareto_front(self, gamma=1.0):
        raise RuntimeError("front table not generated")
"""


@pytest.fixture
def quirky_module(tmp_path, monkeypatch):
    (tmp_path / "quirky_envs.py").write_text(_QUIRKY_ENVS)
    monkeypatch.chdir(tmp_path)
    yield "quirky_envs"
    sys.modules.pop("quirky_envs", None)


def test_pareto_front_without_gamma_is_the_undiscounted_front(quirky_module):
    env = envs.make_env(f"{quirky_module}:NoGammaFront")
    np.testing.assert_array_equal(true_front(env), [[3.0, -3.0], [0.0, 0.0]])
    assert true_front(env, gamma=0.9) is None  # it cannot say what the discounted front is


def test_unusable_pareto_front_is_skipped_with_one_warning_line(quirky_module, tmp_path):
    import subprocess
    from pathlib import Path

    with pytest.warns(UserWarning, match=r"BrokenFront.pareto_front\(\) is unusable.*not generated"):
        assert true_front(envs.make_env(f"{quirky_module}:BrokenFront")) is None
    argv = [sys.executable, "-m", "morl.cli", "train", "scalarized", "--env", f"{quirky_module}:BrokenFront",
            "--ref-point", "-1", "-4", "--total-timesteps", "256", "--out", str(tmp_path / "run"), "--no-progress",
            "--set", "num_preferences=2", "n_envs=1", "n_steps=64", "eval_episodes=1"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if "pareto_front" in line]
    assert lines and all(line.startswith("morl: warning: BrokenFront.pareto_front() is unusable") for line in lines)
    assert "Traceback" not in done.stderr and "true_hypervolume" not in done.stdout


def test_module_paths_import_without_changing_sys_path(quirky_module):
    before = list(sys.path)
    envs.make_env(f"{quirky_module}:NoGammaFront")
    assert sys.path == before


# --- registered reference points (issue 8) ------------------------------------------------------


def _random_returns(env: gym.Env, episodes: int = 3, max_steps: int = 1000) -> np.ndarray:
    """Undiscounted returns of seeded random-policy episodes, (episodes, m)."""
    returns = []
    env.action_space.seed(0)
    for episode in range(episodes):
        env.reset(seed=episode)
        total = np.zeros(reward_dim(env))
        for _ in range(max_steps):
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += np.asarray(reward, dtype=np.float64)
            if terminated or truncated:
                break
        returns.append(total)
    return np.asarray(returns)


@pytest.mark.parametrize("env_id", sorted(DEFAULTS))
def test_registered_reference_points_are_bounds_or_say_why(env_id):
    # Below reward bounds x time limit, and weakly dominated by random play, or the source says "tighter than"
    # and what scores nothing. mo-mountaincarcontinuous-v0's old (-110, -110) failed: random play gets -999.
    defaults = DEFAULTS[env_id]
    try:
        env = envs.make_env(env_id)
    except (gym.error.DependencyNotInstalled, ModuleNotFoundError):
        pytest.skip(f"{env_id} needs {needed_extras(env_id)}, not installed")
    ref = np.asarray(defaults.ref_point)
    low, horizon = env.unwrapped.reward_space.low.astype(np.float64), env.spec.max_episode_steps
    explained = "tighter than" in defaults.source
    if horizon and np.all(np.isfinite(low)):
        bound = np.minimum(low * horizon, 0.0)
        assert explained or np.all(ref <= bound), f"{env_id}: {ref} is above bounds x horizon {bound}: say why"
        if defaults.source.startswith("ours: a lower bound"):
            assert np.all(ref <= bound), f"{env_id}: the source claims bounds x horizon, {bound}"
    returns = _random_returns(env)
    env.close()
    assert explained or np.all(returns >= ref), f"{env_id}: random returns {returns.min(axis=0)} fall below {ref}"


def test_mountaincar_continuous_reference_point_counts_long_episodes():
    env = envs.make_env("mo-mountaincarcontinuous-v0")
    worst = _random_returns(env, episodes=1).min(axis=0)  # a random car never reaches the goal: 999 steps
    assert worst[0] == -999.0
    assert np.all(worst > np.asarray(DEFAULTS["mo-mountaincarcontinuous-v0"].ref_point))


def test_derived_reference_point_is_deterministic_and_says_how(quirky_module):
    # No time limit, finite bounds: horizon from seeded random episodes; twice the same answer.
    first = envs.task(f"{quirky_module}:NoGammaFront")
    again = envs.task(f"{quirky_module}:NoGammaFront")
    assert first.ref_point.tolist() == again.ref_point.tolist() == [-4.0, -4.0]
    assert (
        first.ref_source
        == again.ref_source
        == ("derived: min(reward_space.low x 3 steps (longest of 5 random episodes, each cut at 1000), 0) - 1")
    )
    assert first.record()["ref_source"] == first.ref_source


# --- objective names -----------------------------------------------------------------------------


def test_objective_names_come_from_registered_defaults_and_the_env(quirky_module):
    assert envs.task("minecart-v0").objective_names == ("ore 1", "ore 2", "fuel")
    assert envs.task("deep-sea-treasure-v0").record()["objective_names"] == ["treasure", "time"]
    assert envs.task(f"{quirky_module}:NoGammaFront").objective_names is None

    class Named(TreasureCorridor):
        objective_names = ("gold", "steps")

    assert envs.task(Named).objective_names == ("gold", "steps")
    for env_id, defaults in DEFAULTS.items():
        assert defaults.names is not None and len(defaults.names) == len(defaults.ref_point), env_id


def test_objective_names_of_the_wrong_length_fail_in_one_line():
    class Misnamed(TreasureCorridor):
        objective_names = ("gold",)

    with pytest.raises(ValueError, match=r"has 1 names \['gold'\] for 2 objectives; give one name per objective"):
        envs.task(Misnamed)


# --- morl envs ---------------------------------------------------------------------------------


def test_morl_envs_into_head_is_quiet():
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    morl = Path(sys.executable).with_name("morl")
    done = subprocess.run(
        f"{morl} envs | head -3", shell=True, capture_output=True, text=True, cwd=root, executable="/bin/bash"
    )
    assert done.stderr == "", done.stderr[-2000:]
    assert len(done.stdout.splitlines()) == 3 and done.stdout.startswith("id ")
    full = subprocess.run([str(morl), "envs"], capture_output=True, text=True, cwd=root)
    assert full.returncode == 0 and full.stderr == "", full.stderr[-2000:]
    assert "mo-mountaincarcontinuous-v0" in full.stdout and "[-1000.0, -1000.0]" in full.stdout
