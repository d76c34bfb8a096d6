"""Tests for ``morl.multiagent``: the MOMAland parallel-env adapter used by MO-MIX.

The item-gathering settings and their exact Pareto fronts are configurations A and B of
``shared/research/momix.md`` §5.1 (found there by exhaustive search; B re-checked for this test file).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from gymnasium.spaces import Box, Discrete

from morl.multiagent import MOMALAND_PARALLEL_ENVS, MultiAgentEnv, make_multiagent

FRONT_B = np.array([(2, 3, 2), (3, 2, 2), (3, 3, 1)], dtype=float)
FRONT_A = np.array([(1, 6), (3, 5), (4, 4)], dtype=float)

# Collision-free joint plans (agent_0, agent_1) on the default map with num_timesteps=8 that reach each point of
# FRONT_B exactly. Actions: 0 stay, 1 up, 2 down, 3 left, 4 right. agent_0 starts at (0, 7), agent_1 at (7, 0).
PLANS_B = {
    (3, 3, 1): ([0, 0, 2, 2, 3, 3, 2, 3], [1, 1, 4, 4, 4, 1, 1, 3]),
    (3, 2, 2): ([0, 2, 2, 3, 3, 2, 2, 2], [1, 1, 4, 4, 4, 1, 1, 3]),
    (2, 3, 2): ([2, 2, 3, 3, 2, 3, 3, 3], [0, 1, 1, 4, 4, 4, 4, 4]),
}


def config_b(num_timesteps: int = 8, team_reward: str = "mean") -> MultiAgentEnv:
    return make_multiagent(
        "moitem_gathering_v0", team_reward=team_reward, reward_mode="team", num_timesteps=num_timesteps
    )


def weakly_dominated_by_front(point: np.ndarray, front: np.ndarray) -> bool:
    return bool(np.any(np.all(front >= point - 1e-9, axis=1)))


def random_returns(env: MultiAgentEnv, episodes: int, seed: int) -> np.ndarray:
    """Undiscounted team returns of uniformly random joint actions; env seeds come from the same Generator."""
    rng = np.random.default_rng(seed)
    returns = []
    for _ in range(episodes):
        env.reset(seed=int(rng.integers(2**31)))
        ret = np.zeros(env.reward_dim)
        done = False
        while not done:
            _, _, reward, done, _ = env.step(rng.integers(0, env.n_actions, size=env.num_agents))
            ret += reward
        returns.append(ret)
    return np.array(returns)


# ---------------------------------------------------------------------------- item gathering (real MOMAland)
def test_item_gathering_shapes_and_properties() -> None:
    env = config_b()
    assert env.agents == ["agent_0", "agent_1"]
    assert env.num_agents == 2
    assert env.reward_dim == 3
    assert env.obs_dims == [66, 66]  # one-hot agent id (2) + flattened 8x8 map
    assert env.obs_dim == 66
    assert env.state_dim == 64 and env.has_env_state  # env.state() is the 8x8 map
    assert env.n_actions == 5 and len(env.action_spaces) == 2 and len(env.observation_spaces) == 2

    obs, state, info = env.reset(seed=0)
    assert obs.shape == (2, 66) and obs.dtype == np.float32
    assert state.shape == (64,) and state.dtype == np.float32
    assert info["action_masks"].shape == (2, 5) and info["action_masks"].all()
    assert not env.has_action_masks  # item gathering reports no masks
    assert np.array_equal(obs[:, :2], np.eye(2)[::-1])  # ids -1, -2 one-hot against Discrete(2, start=-2)

    obs, state, reward, done, info = env.step(np.array([0, 0]))
    assert obs.shape == (2, 66) and state.shape == (64,)
    assert reward.shape == (3,) and reward.dtype == np.float32
    assert isinstance(done, bool) and not done
    assert info["agent_rewards"].shape == (2, 3)
    assert info["action_masks"].shape == (2, 5)
    assert env.action_masks().shape == (2, 5)


def test_momaland_flags_are_swapped_in_0_2_0() -> None:
    """Documents the pitfall the adapter guards against: at the time limit the *third* slot is True."""
    from momaland.envs.item_gathering import moitem_gathering_v0

    raw = moitem_gathering_v0.parallel_env(reward_mode="team", num_timesteps=2)
    raw.reset(seed=0)
    raw.step({"agent_0": 0, "agent_1": 0})
    _, _, third, fourth, _ = raw.step({"agent_0": 0, "agent_1": 0})
    # Truncation (time limit) arrives in the "terminations" slot; the adapter only uses their OR anyway.
    assert all(third.values()) and not any(fourth.values())


@pytest.mark.parametrize("horizon", [1, 3, 8])
def test_episode_ends_exactly_at_horizon(horizon: int) -> None:
    env = config_b(num_timesteps=horizon)
    env.reset(seed=1)
    for t in range(1, horizon + 1):
        _, _, _, done, info = env.step([0, 0])  # standing still collects nothing, so only the time limit ends it
        assert done == (t == horizon)
        assert info["t"] == t
    assert info["agent_dones"].all() and not info["alive"].any()
    with pytest.raises(RuntimeError, match="reset"):
        env.step([0, 0])
    env.reset(seed=1)  # and the episode can be restarted
    assert env.step([0, 0])[3] == (horizon == 1)


def test_random_rollouts_in_bounds_and_dominated_by_known_front_b() -> None:
    env = config_b()
    returns = random_returns(env, episodes=300, seed=0)
    assert returns.shape == (300, 3)
    assert np.all(returns >= 0) and np.all(returns <= np.array([3, 3, 2]))  # item counts of the default map
    for ret in returns:
        assert weakly_dominated_by_front(ret, FRONT_B), ret
    assert returns.sum() > 0  # random play does collect something


def test_scripted_plans_reach_every_point_of_front_b() -> None:
    env = config_b()
    for target, (plan0, plan1) in PLANS_B.items():
        for seed in (0, 7):  # collision-free plans: no dependence on the global RNG
            env.reset(seed=seed)
            ret = np.zeros(3)
            done = False
            for a0, a1 in zip(plan0, plan1, strict=True):
                assert not done
                _, _, reward, done, info = env.step([a0, a1])
                ret += reward
                # team mode: every agent already receives the summed team vector
                assert np.array_equal(info["agent_rewards"][0], info["agent_rewards"][1])
            assert done
            assert tuple(ret) == target
            assert np.array_equal(info["episode_return"], ret)


def test_team_reward_modes() -> None:
    plan0, plan1 = PLANS_B[(3, 3, 1)]
    totals = {}
    for mode in ("mean", "sum", "first"):
        env = config_b(team_reward=mode)
        env.reset(seed=0)
        ret = np.zeros(3)
        for a0, a1 in zip(plan0, plan1, strict=True):
            ret += env.step([a0, a1])[2]
        totals[mode] = ret
    assert np.array_equal(totals["mean"], [3, 3, 1])
    assert np.array_equal(totals["first"], totals["mean"])
    assert np.array_equal(totals["sum"], 2 * totals["mean"])  # team vector counted once per agent


def test_config_a_two_objectives_dominated_by_known_front() -> None:
    from momaland.envs.item_gathering.map_utils import generate_map

    initial_map = generate_map(8, 8, (4, 6), 2, seed=1)  # MOMAland's own 2-objective map (reseeds np.random)
    env = make_multiagent("moitem_gathering_v0", reward_mode="team", num_timesteps=8, initial_map=initial_map)
    assert env.reward_dim == 2
    for ret in random_returns(env, episodes=150, seed=1):
        assert weakly_dominated_by_front(ret, FRONT_A), ret


def test_seeded_rollouts_are_reproducible() -> None:
    a = random_returns(config_b(), episodes=20, seed=3)
    b = random_returns(config_b(), episodes=20, seed=3)
    assert np.array_equal(a, b)


def test_action_validation() -> None:
    env = config_b()
    with pytest.raises(RuntimeError, match="reset"):
        env.step([0, 0])
    env.reset(seed=0)
    with pytest.raises(ValueError, match="expected 2 actions"):
        env.step([0])
    with pytest.raises(ValueError, match="out of range"):
        env.step([0, 5])
    with pytest.raises(ValueError, match="integer"):
        env.step([0.5, 0])


# ---------------------------------------------------------------------------- make_multiagent
def test_make_multiagent_unknown_id_lists_valid_ids() -> None:
    with pytest.raises(ValueError, match="moitem_gathering_v0") as err:
        make_multiagent("no_such_env_v0")
    assert "unknown environment id" in str(err.value)


def test_make_multiagent_rejects_aec_only_and_bad_args() -> None:
    with pytest.raises(ValueError, match="parallel_env"):
        make_multiagent("moconnect4_v0")
    with pytest.raises(TypeError):
        make_multiagent(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="team_reward"):
        make_multiagent("moitem_gathering_v0", team_reward="max")


def test_registry_ids_match_installed_momaland() -> None:
    from momaland.utils.all_modules import all_environments

    assert set(MOMALAND_PARALLEL_ENVS) <= set(all_environments)
    for env_id, module_path in MOMALAND_PARALLEL_ENVS.items():
        assert all_environments[env_id].__name__ == module_path
        assert hasattr(all_environments[env_id], "parallel_env")


def test_make_multiagent_with_factory_and_module_path() -> None:
    env = make_multiagent(lambda **kw: FakeParallelEnv(**kw), horizon=2)
    assert env.num_agents == 2 and env.reward_dim == 2
    env2 = make_multiagent("momaland.envs.item_gathering.moitem_gathering_v0", reward_mode="team")
    assert env2.reward_dim == 3


def test_rejects_aec_env_and_continuous_actions() -> None:
    from momaland.envs.item_gathering import moitem_gathering_v0

    with pytest.raises(TypeError, match="parallel"):
        MultiAgentEnv(moitem_gathering_v0.env())
    with pytest.raises(ValueError, match="Discrete"):
        MultiAgentEnv(FakeParallelEnv(continuous=True))


# ---------------------------------------------------------------------------- fake parallel env
class FakeParallelEnv:
    """Minimal parallel env: 2 objectives, obs Box(3), Discrete actions; knobs for the failure modes under test."""

    metadata = {"name": "fake_v0"}  # noqa: RUF012

    def __init__(
        self,
        reward: Any = (1.0, 0.5),
        nan_agent: str | None = None,
        n_agents: int = 2,
        horizon: int = 3,
        declare_reward_space: bool = True,
        has_state: bool = True,
        masks: bool = False,
        stagger: bool = False,
        action_start: int = 0,
        continuous: bool = False,
    ) -> None:
        self.possible_agents = [f"a{i}" for i in range(n_agents)]
        self.agents: list[str] = []
        self.reward, self.nan_agent, self.horizon = reward, nan_agent, horizon
        self.has_state, self.masks, self.stagger = has_state, masks, stagger
        self.action_start, self.continuous = action_start, continuous
        self.received: list[dict[str, int]] = []
        self.t = 0
        if declare_reward_space:
            self.reward_space = lambda agent: Box(-1, 1, shape=np.shape(self.reward))

    def observation_space(self, agent: str) -> Box:
        return Box(-10, 10, shape=(3,))

    def action_space(self, agent: str) -> Discrete | Box:
        return Box(-1, 1, shape=(2,)) if self.continuous else Discrete(4, start=self.action_start)

    def state(self) -> np.ndarray:
        if not self.has_state:
            raise NotImplementedError
        return np.full(5, float(self.t))

    def _obs(self) -> dict[str, np.ndarray]:
        return {a: np.full(3, float(self.t + int(a[1:])), dtype=np.float32) for a in self.agents}

    def _infos(self) -> dict[str, dict]:
        if not self.masks:
            return {a: {} for a in self.agents}
        return {a: {"action_mask": np.array([1, 0, 1, 0], dtype=np.int8)} for a in self.agents}

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        self.agents = list(self.possible_agents)
        self.t = 0
        return self._obs(), self._infos()

    def step(self, actions: dict[str, int]) -> tuple[dict, dict, dict, dict, dict]:
        self.received.append(dict(actions))
        self.t += 1
        rewards = {}
        for a in self.agents:
            r = np.array(self.reward, dtype=float) * (1 + int(a[1:]))
            if a == self.nan_agent:
                r = r * np.nan
            rewards[a] = r if np.ndim(self.reward) else float(self.reward)
        # with stagger, agent i finishes after i + 1 steps and leaves env.agents (standard PettingZoo flag order)
        terms = {a: self.stagger and self.t >= int(a[1:]) + 1 for a in self.agents}
        truncs = {a: self.t >= self.horizon for a in self.agents}
        obs, infos = self._obs(), self._infos()
        self.agents = [a for a in self.agents if not (terms[a] or truncs[a])]
        return obs, rewards, terms, truncs, infos


def test_fake_nan_reward_raises_naming_agent() -> None:
    env = MultiAgentEnv(FakeParallelEnv(nan_agent="a1"))
    env.reset()
    with pytest.raises(ValueError, match=r"'a1'.*non-finite"):
        env.step([0, 0])


def test_fake_inf_reward_raises() -> None:
    env = MultiAgentEnv(FakeParallelEnv(reward=(np.inf, 0.0)))
    env.reset()
    with pytest.raises(ValueError, match="non-finite"):
        env.step([0, 0])


def test_fake_scalar_reward_raises() -> None:
    with pytest.raises(ValueError, match="vectors"):  # caught at the probe step (no reward space declared)
        MultiAgentEnv(FakeParallelEnv(reward=1.0, declare_reward_space=False))
    with pytest.raises(ValueError, match="vectors"):  # caught from the declared reward space
        MultiAgentEnv(FakeParallelEnv(reward=1.0))


def test_fake_reward_length_mismatch_raises() -> None:
    env = MultiAgentEnv(FakeParallelEnv())
    env.reset()
    env.env.reward = (1.0, 2.0, 3.0)
    with pytest.raises(ValueError, match="length 3, expected 2"):
        env.step([0, 0])


def test_fake_reward_dim_from_first_step_and_state_fallback() -> None:
    env = MultiAgentEnv(FakeParallelEnv(declare_reward_space=False, has_state=False), team_reward="sum")
    assert env.reward_dim == 2
    assert not env.has_env_state and env.state_dim == 6  # two agents' 3-dim observations concatenated
    obs, state, _ = env.reset()
    assert np.array_equal(state, obs.ravel())
    _, state, reward, _, info = env.step([1, 1])
    assert np.array_equal(state, np.array([1, 1, 1, 2, 2, 2], dtype=np.float32))
    assert np.allclose(reward, [3.0, 1.5])  # (1, .5) + 2 * (1, .5)
    assert np.allclose(info["agent_rewards"], [[1.0, 0.5], [2.0, 1.0]])


def test_fake_env_state_and_team_modes() -> None:
    for mode, expected in (("mean", [1.5, 0.75]), ("first", [1.0, 0.5]), ("sum", [3.0, 1.5])):
        env = MultiAgentEnv(FakeParallelEnv(), team_reward=mode)
        _, state, _ = env.reset()
        assert env.has_env_state and state.shape == (5,)
        _, state, reward, _, _ = env.step([0, 0])
        assert np.allclose(state, 1.0)
        assert np.allclose(reward, expected), mode


def test_fake_action_masks_and_action_start() -> None:
    fake = FakeParallelEnv(masks=True, action_start=2)
    env = MultiAgentEnv(fake)
    _, _, info = env.reset()
    assert env.has_action_masks
    assert np.array_equal(info["action_masks"], [[True, False, True, False]] * 2)
    assert np.array_equal(env.action_masks(), info["action_masks"])
    env.step([0, 2])
    assert fake.received[-1] == {"a0": 2, "a1": 4}  # indices shifted by Discrete.start


def test_fake_staggered_agents_done_only_when_all_done() -> None:
    fake = FakeParallelEnv(stagger=True, horizon=10, masks=True)
    env = MultiAgentEnv(fake)
    env.reset()
    _, _, reward, done, info = env.step([0, 0])
    assert not done and info["alive"].tolist() == [False, True]
    assert info["action_masks"][0].all()  # finished agent: all-True row, its action is ignored
    obs, _, reward, done, info = env.step([3, 1])
    assert fake.received[-1] == {"a1": 1}  # no action sent for the finished agent
    assert not obs[0].any()  # finished agent's observation row is zero
    assert np.allclose(info["agent_rewards"][0], 0.0)
    assert np.allclose(reward, [2.0, 1.0])  # mean over agents that were rewarded this step
    assert done and info["agent_dones"].all()
