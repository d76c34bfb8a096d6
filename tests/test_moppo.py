import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from mo_gymnasium.wrappers.vector import MOSyncVectorEnv

from morl import envs, evaluation
from morl.agents.moppo import MOPPO, MOPPOConfig, Objective, log_barrier


class VectorCartPoleEnv(CartPoleEnv):
    """CartPole with its reward as a 2-vector [r, 0]: an ordinary task seen by a 2-objective learner."""

    def __init__(self):
        super().__init__()
        self.reward_space = gym.spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float32)

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, np.array([reward, 0.0], dtype=np.float32), terminated, truncated, info


def VectorCartPole():
    return gym.wrappers.TimeLimit(VectorCartPoleEnv(), max_episode_steps=500)


def test_log_barrier_is_log_above_margin_and_pushes_back_below():
    slack = torch.tensor([0.5, 2.0, 0.001, -1.0], requires_grad=True)
    value = log_barrier(slack, margin=0.01)
    assert value[:2].tolist() == pytest.approx(np.log([0.5, 2.0]).tolist())
    value.sum().backward()
    grads = slack.grad.tolist()
    assert grads[0] == pytest.approx(2.0) and grads[1] == pytest.approx(0.5)
    # violated or nearly violated constraints keep a strong restoring gradient (no clamp to zero)
    assert grads[2] == pytest.approx(100.0) and grads[3] == pytest.approx(100.0)


def _learner(env_spec, config):
    probe = envs.make_env(env_spec)
    return MOPPO(probe.observation_space, probe.action_space, envs.reward_dim(probe), config, torch.device("cpu"))


def test_one_hot_preference_learns_cartpole():
    torch.set_num_threads(1)
    config = MOPPOConfig(num_envs=8, num_steps=128, gamma=0.99, num_minibatches=4, update_epochs=4)
    learner = _learner(VectorCartPole, config)
    vec = envs.make(VectorCartPole, num_envs=config.num_envs, seed=0)
    evaluator = envs.make(VectorCartPole, num_envs=2)
    before = evaluation.evaluate(lambda o, w: learner.act(o), evaluator, [1.0, 0.0], 4, seed=1).mean_return[0]
    for _ in range(40):  # 40,960 transitions
        learner.update(learner.collect(vec), Objective(weights=np.array([1.0, 0.0])))
    after = evaluation.evaluate(lambda o, w: learner.act(o), evaluator, [1.0, 0.0], 4, seed=1).mean_return[0]
    assert after > 200 and after > 3 * before


def test_continuous_actions_are_clipped_and_rollouts_have_consistent_shapes():
    config = MOPPOConfig(num_envs=2, num_steps=16, update_epochs=1, num_minibatches=2)
    learner = _learner("mo-mountaincarcontinuous-v0", config)
    vec = envs.make("mo-mountaincarcontinuous-v0", num_envs=2, seed=0)
    rollout = learner.collect(vec)
    assert rollout.rewards.shape == (16, 2, 2) and rollout.values.shape == (16, 2, 2)
    assert rollout.obs.shape == (16, 2, 2) and rollout.actions.shape == (16, 2, 1)
    stats = learner.update(rollout, Objective(target=0, thresholds=np.array([-50.0, -50.0]),
                                              current=np.array([-10.0, -10.0])))  # fmt: skip
    assert np.isfinite(list(stats.values())).all() and stats["barrier"] != 0.0
    actions = learner.act(np.zeros((3, 2), dtype=np.float32) + 100.0)
    assert actions.shape == (3, 1) and np.all(np.abs(actions) <= 1.0)


def test_non_finite_rewards_are_reported():
    class NanEnv(VectorCartPoleEnv):
        def step(self, action):
            obs, _, terminated, truncated, info = super().step(action)
            return obs, np.array([np.nan, 0.0], dtype=np.float32), terminated, truncated, info

    learner = _learner(VectorCartPole, MOPPOConfig(num_envs=1, num_steps=4))
    vec = MOSyncVectorEnv([NanEnv])
    with pytest.raises(ValueError, match="non-finite reward"):
        learner.collect(vec)
