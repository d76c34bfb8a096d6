import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from mo_gymnasium.wrappers.vector import MOSyncVectorEnv

from morl import envs, evaluation
from morl.agents.moppo import MOPPO, MOPPOConfig, Objective, log_barrier
from morl.policies import ActorCritic


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


def _learner(env_spec, config, members=1, seed=0):
    probe = envs.make_env(env_spec)
    return MOPPO(probe.observation_space, probe.action_space, envs.reward_dim(probe), config, torch.device("cpu"),
                 seed=seed, members=members)  # fmt: skip


def test_population_member_with_a_one_hot_preference_learns_cartpole_and_the_other_does_not():
    torch.set_num_threads(1)
    config = MOPPOConfig(n_envs=8, n_steps=128, gamma=0.99, num_minibatches=4, n_epochs=4)
    learner = _learner(VectorCartPole, config, members=2)
    vec = envs.make(VectorCartPole, num_envs=2 * config.n_envs, seed=0)
    evaluator = envs.make(VectorCartPole, num_envs=4)

    def score():
        results = evaluation.evaluate_groups(learner.act, evaluator, 2, episodes=4, seed=1)
        return [r.mean_return[0] for r in results]

    before = score()
    # member 0 maximises the CartPole reward; member 1 the second objective, which is always 0
    objectives = [Objective(weights=np.array([1.0, 0.0])), Objective(weights=np.array([0.0, 1.0]))]
    snapshots = []
    for update in range(50):  # 51,200 transitions per member
        learner.update(learner.collect(vec), objectives)
        if update + 1 >= 30 and (update + 1) % 10 == 0:
            snapshots.append(score())
    after = np.max(snapshots, axis=0)  # the best snapshot, as the archive keeps it: one 4-episode score is noisy
    assert after[0] > 300 and after[0] > 3 * before[0]
    assert after[1] < 100  # nothing rewards balancing for member 1


def test_members_do_not_influence_each_other():
    """Member 0's update is the same whatever member 1's data: per-member losses, clipping and Adam."""
    config = MOPPOConfig(n_envs=2, n_steps=16, n_epochs=2, num_minibatches=2, max_grad_norm=0.01)
    vec = envs.make("mo-mountaincarcontinuous-v0", num_envs=4, seed=0)
    rollout = _learner("mo-mountaincarcontinuous-v0", config, members=2).collect(vec)
    objectives = [Objective(weights=np.array([0.5, 0.5])), Objective(weights=np.array([1.0, 0.0]))]

    def members_after(rewards_of_member1):
        learner = _learner("mo-mountaincarcontinuous-v0", config, members=2, seed=0)
        rewards = rollout.rewards.clone()
        rewards[:, 1] = rewards_of_member1
        torch.manual_seed(5)
        learner.update(dataclasses.replace(rollout, rewards=rewards), objectives)
        return learner.policy.member_state(0), learner.policy.member_state(1)

    a0, a1 = members_after(torch.randn_like(rollout.rewards[:, 1]))
    b0, b1 = members_after(100.0 * torch.randn_like(rollout.rewards[:, 1]))
    for key in a0:
        torch.testing.assert_close(a0[key], b0[key])
    assert not torch.equal(a1["actor.0.weight"], b1["actor.0.weight"])


def test_member_state_is_an_actor_critic_that_acts_like_the_member():
    config = MOPPOConfig(n_envs=2, n_steps=8, n_epochs=1)
    learner = _learner("mo-mountaincarcontinuous-v0", config, members=3)
    vec = envs.make("mo-mountaincarcontinuous-v0", num_envs=6, seed=0)
    learner.update(learner.collect(vec), Objective(weights=np.array([0.5, 0.5])))
    obs = np.random.default_rng(0).normal(size=(3 * 4, 2)).astype(np.float32)
    batched = learner.act(obs)
    single = ActorCritic(vec.single_observation_space, vec.single_action_space, 2, config.net_arch)
    for p in range(3):
        single.load_state_dict(learner.policy.member_state(p))
        alone = single.act(obs[4 * p : 4 * p + 4], vec.single_action_space, normalize_obs=True)
        np.testing.assert_allclose(alone, batched[4 * p : 4 * p + 4], rtol=1e-5, atol=1e-6)
    learner.policy.load_member(0, learner.policy.member_state(2))  # `single` holds member 2 now
    member2_on_first_rows = single.act(obs[:4], vec.single_action_space, normalize_obs=True)
    np.testing.assert_allclose(learner.act(obs)[:4], member2_on_first_rows, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="do not match"):
        learner.policy.load_member(0, {"actor.0.weight": torch.zeros(64, 2)})


def test_continuous_actions_are_clipped_and_rollouts_have_consistent_shapes():
    config = MOPPOConfig(n_envs=2, n_steps=16, n_epochs=1, num_minibatches=2)
    learner = _learner("mo-mountaincarcontinuous-v0", config, members=2)
    vec = envs.make("mo-mountaincarcontinuous-v0", num_envs=4, seed=0)
    rollout = learner.collect(vec)
    assert rollout.rewards.shape == (16, 2, 2, 2) and rollout.values.shape == (16, 2, 2, 2)
    assert rollout.obs.shape == (16, 2, 2, 2) and rollout.actions.shape == (16, 2, 2, 1)
    constrained = Objective(target=0, thresholds=np.array([-50.0, -50.0]), current=np.array([-10.0, -10.0]))
    stats = learner.update(rollout, [constrained, Objective(weights=np.array([1.0, 0.0]))])
    assert np.isfinite(list(stats.values())).all() and stats["barrier"] != 0.0
    actions = learner.act(np.zeros((6, 2), dtype=np.float32) + 100.0)
    assert actions.shape == (6, 1) and np.all(np.abs(actions) <= 1.0)
    with pytest.raises(ValueError, match="one objective per member"):
        learner.update(rollout, [constrained])
    with pytest.raises(ValueError, match="cannot be split"):
        _learner("mo-mountaincarcontinuous-v0", config, members=3).collect(vec)


def test_non_finite_rewards_are_reported():
    class NanEnv(VectorCartPoleEnv):
        def step(self, action):
            obs, _, terminated, truncated, info = super().step(action)
            return obs, np.array([np.nan, 0.0], dtype=np.float32), terminated, truncated, info

    learner = _learner(VectorCartPole, MOPPOConfig(n_envs=1, n_steps=4))
    vec = MOSyncVectorEnv([NanEnv])
    with pytest.raises(ValueError, match="non-finite reward"):
        learner.collect(vec)
