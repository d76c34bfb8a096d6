"""Tests for ``morl.evaluation.evaluate``: exact returns of scripted policies on the treasure corridor."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
from mo_gymnasium.wrappers.vector import MOSyncVectorEnv

from morl.builtin_envs.treasure_corridor import DIG, MOVE
from morl.envs import make
from morl.evaluation import evaluate, evaluate_groups

CORRIDOR = "morl/treasure-corridor-v0"
W = np.array([0.5, 0.5])


def dig_at(cell: int):
    """Scripted policy: move until ``cell`` (the one-hot observation says where we are), then dig."""

    def policy(obs: np.ndarray, preference: np.ndarray) -> np.ndarray:
        position = np.argmax(obs, axis=1)
        return np.where(position == cell, DIG, MOVE)

    return policy


@pytest.mark.parametrize(("num_envs", "episodes"), [(1, 1), (1, 4), (3, 3), (3, 5), (3, 2), (4, 7)])
def test_move_move_dig_gives_exact_returns(num_envs, episodes):
    vec = make(CORRIDOR, num_envs=num_envs, seed=0)
    result = evaluate(dig_at(2), vec, W, episodes=episodes, gamma=0.9)
    assert result.returns.shape == result.discounted_returns.shape == (episodes, 2)
    np.testing.assert_array_equal(result.returns, np.tile([4.0, -3.0], (episodes, 1)))
    np.testing.assert_array_equal(result.mean_return, [4.0, -3.0])
    expected_discounted = [4.0 * 0.81, -(1.0 + 0.9 + 0.81)]
    np.testing.assert_allclose(result.discounted_returns, np.tile(expected_discounted, (episodes, 1)), rtol=1e-6)
    np.testing.assert_allclose(result.mean_discounted_return, expected_discounted, rtol=1e-6)
    assert result.mean_length == 3.0


def test_undiscounted_by_default_and_every_cell():
    vec = make(CORRIDOR, num_envs=2, seed=0)
    for cell, treasure in enumerate([1.0, 3.0, 4.0, 7.0, 8.0]):
        result = evaluate(dig_at(cell), vec, [1.0, 0.0], episodes=3)
        np.testing.assert_array_equal(result.mean_return, [treasure, -(cell + 1)])
        np.testing.assert_array_equal(result.mean_discounted_return, result.mean_return)


class FixedLength(gym.Env):
    """Every episode lasts ``length`` steps and pays ``[value, -1]`` per step; the observation is constant."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, length: int | None, value: float = 1.0) -> None:
        self.length, self.value, self.t = length, value, 0
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.reward_space = gym.spaces.Box(-10.0, 10.0, shape=(2,), dtype=np.float32)
        self.reward_dim = 2

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action: int):
        self.t += 1
        done = self.length is not None and self.t >= self.length
        return np.zeros(1, dtype=np.float32), np.array([self.value, -1.0], dtype=np.float32), done, False, {}


def zeros_policy(obs: np.ndarray, preference: np.ndarray) -> np.ndarray:
    return np.zeros(len(obs), dtype=np.int64)


def test_each_sub_env_gets_its_share_of_episodes():
    # Sub-env 0 finishes every step (then spends one step in autoreset), sub-env 1 every 4 steps: the first 4
    # finished episodes would be three short ones and one long one. The quota takes 2 of each, and the
    # autoreset steps add neither reward nor length.
    vec = MOSyncVectorEnv([lambda: FixedLength(1, value=1.0), lambda: FixedLength(4, value=2.0)])
    result = evaluate(zeros_policy, vec, W, episodes=4)
    rows = sorted(map(tuple, result.returns.tolist()))
    assert rows == [(1.0, -1.0), (1.0, -1.0), (8.0, -4.0), (8.0, -4.0)]
    np.testing.assert_array_equal(result.mean_return, [4.5, -2.5])
    assert result.mean_length == 2.5
    # An odd count gives the extra episode to sub-env 0.
    result = evaluate(zeros_policy, vec, W, episodes=3)
    assert sorted(map(tuple, result.returns.tolist())) == [(1.0, -1.0), (1.0, -1.0), (8.0, -4.0)]


def test_fewer_episodes_than_envs():
    vec = MOSyncVectorEnv([lambda: FixedLength(1, value=1.0), lambda: FixedLength(4, value=2.0)])
    result = evaluate(zeros_policy, vec, W, episodes=1)
    np.testing.assert_array_equal(result.returns, [[1.0, -1.0]])


def test_agent_with_predict_is_accepted():
    class Agent:
        def __init__(self) -> None:
            self.calls: list[tuple[np.ndarray, bool]] = []

        def predict(self, obs: np.ndarray, preference: np.ndarray, deterministic: bool = False) -> tuple:
            self.calls.append((preference, deterministic))
            return dig_at(3)(obs, preference), None

    agent = Agent()
    result = evaluate(agent, make(CORRIDOR, num_envs=2), [0.25, 0.75], episodes=2)
    np.testing.assert_array_equal(result.mean_return, [7.0, -4.0])
    assert agent.calls and all(deterministic is True for _, deterministic in agent.calls)
    np.testing.assert_array_equal(agent.calls[0][0], [0.25, 0.75])


@pytest.mark.parametrize(
    ("preference", "message"),
    [
        ([0.5, 0.6], "must sum to 1"),
        ([1.0], "vector of length 2"),
        ([1.5, -0.5], "entries must be >= 0"),
        ([np.nan, 1.0], "must be finite"),
    ],
)
def test_invalid_preference_raises(preference, message):
    with pytest.raises(ValueError, match=message):
        evaluate(dig_at(0), make(CORRIDOR), preference, episodes=1)


def test_bad_episodes_and_policy():
    with pytest.raises(ValueError, match="episodes must be >= 1, got 0"):
        evaluate(dig_at(0), make(CORRIDOR), W, episodes=0)
    with pytest.raises(TypeError, match=r"policy must be callable or have \.predict, got int"):
        evaluate(3, make(CORRIDOR), W, episodes=1)


def test_policy_that_never_finishes_raises():
    vec = make(lambda: FixedLength(None), num_envs=2)
    with pytest.raises(RuntimeError, match="did not finish 2 episodes within 10 vector steps"):
        evaluate(zeros_policy, vec, W, episodes=2, max_steps=10)


def test_episode_ending_on_the_last_allowed_step_counts():
    # move, move, dig takes exactly 3 vector steps: max_steps=3 is enough, max_steps=2 is not.
    result = evaluate(dig_at(2), make(CORRIDOR), W, episodes=1, max_steps=3)
    np.testing.assert_array_equal(result.mean_return, [4.0, -3.0])
    with pytest.raises(RuntimeError, match="within 2 vector steps"):
        evaluate(dig_at(2), make(CORRIDOR), W, episodes=1, max_steps=2)


def test_seed_is_passed_to_reset():
    class SeedRecorder(FixedLength):
        seeds: ClassVar[list[int | None]] = []

        def reset(self, *, seed: int | None = None, options: dict | None = None):
            SeedRecorder.seeds.append(seed)
            return super().reset(seed=seed, options=options)

    vec = make(lambda: SeedRecorder(1), num_envs=2)
    SeedRecorder.seeds.clear()
    evaluate(zeros_policy, vec, W, episodes=2, seed=7)
    assert SeedRecorder.seeds[:2] == [7, 8]


@pytest.mark.parametrize(("per_group", "episodes"), [(1, 2), (2, 3), (3, 3)])
def test_groups_are_scored_separately(per_group, episodes):
    """Three scripted policies on one vector env, each on its own block of sub-envs."""
    cells = [0, 2, 4]
    vec = make(CORRIDOR, num_envs=3 * per_group, seed=0)

    def batched(obs: np.ndarray) -> np.ndarray:
        position = np.argmax(obs, axis=1)
        target = np.repeat(cells, per_group)
        return np.where(position == target, DIG, MOVE)

    results = evaluate_groups(batched, vec, groups=3, episodes=episodes)
    for cell, result in zip(cells, results, strict=True):
        alone = evaluate(dig_at(cell), make(CORRIDOR, num_envs=per_group, seed=0), W, episodes=episodes)
        assert result.returns.shape == (episodes, 2)
        np.testing.assert_array_equal(result.returns, alone.returns)
    assert len({tuple(r.mean_return) for r in results}) == 3
    with pytest.raises(ValueError, match="equal groups"):
        evaluate_groups(batched, make(CORRIDOR, num_envs=4), groups=3)
