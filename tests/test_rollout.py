import subprocess
import sys

import numpy as np
import torch

from morl import envs
from morl.nn import StackedLinear, mlp, stacked_mlp
from morl.policies import PopulationActorCritic
from morl.rollout import RolloutCollector, by_member

ENV = "deep-sea-treasure-v0"


def _collector(members: int, n_steps: int, seed: int = 0) -> RolloutCollector:
    probe = envs.make_env(ENV)
    torch.manual_seed(seed)
    policy = PopulationActorCritic(probe.observation_space, probe.action_space, envs.reward_dim(probe), (16,), members)
    return RolloutCollector(policy, probe.action_space, torch.device("cpu"), n_steps, gamma=0.99,
                            normalize_obs=True, normalize_returns=True)  # fmt: skip


def test_collector_fills_a_population_rollout_without_a_learner():
    collector = _collector(members=3, n_steps=12)
    vec = envs.make(ENV, num_envs=3 * 2, seed=0)
    rollout = collector.collect(vec)
    assert rollout.obs.shape == (12, 3, 2, 2) and rollout.actions.shape == (12, 3, 2)
    assert rollout.log_probs.shape == rollout.valid.shape == rollout.terminated.shape == (12, 3, 2)
    assert rollout.values.shape == rollout.rewards.shape == (12, 3, 2, 2)
    assert rollout.next_value.shape == (3, 2, 2)
    assert torch.isfinite(rollout.values).all() and rollout.valid[0].all()
    assert torch.all(collector.policy.obs_norm.count > 1.0)  # statistics folded in after the rollout
    # the env is continued, not reset: the next rollout starts from where this one stopped
    expected = collector.policy.obs_norm(torch.as_tensor(collector._obs).reshape(3, 2, -1).float())
    second = collector.collect(vec)
    torch.testing.assert_close(second.obs[0], expected, rtol=0, atol=0)
    assert second.obs.shape == rollout.obs.shape


def test_collector_does_not_need_the_ppo_module():
    code = "import sys, morl.rollout; assert 'morl.agents.moppo' not in sys.modules, sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_by_member_puts_each_members_samples_in_one_row():
    x = torch.arange(4 * 3 * 2).reshape(4, 3, 2)  # (T, P, N)
    rows = by_member(x)
    assert rows.shape == (3, 8)
    for p in range(3):
        assert rows[p].tolist() == x[:, p].reshape(-1).tolist()


def test_stacked_mlp_member_is_an_mlp():
    torch.manual_seed(0)
    stacked = stacked_mlp(3, 5, (7, 4), 2, out_gain=0.5)
    assert isinstance(stacked[0], StackedLinear)
    single = mlp(5, (7, 4), 2)
    x = torch.randn(3, 6, 5)
    out = stacked(x)
    for p in range(3):
        single.load_state_dict({k: v[p] for k, v in stacked.state_dict().items()})
        torch.testing.assert_close(single(x[p]), out[p])
    np.testing.assert_allclose(stacked[0].bias.detach().numpy(), 0.0)


def test_scaled_rewards_are_clipped_as_the_official_obj_rms():
    """An objective that has paid nothing yet has a return std near 0 (minecart's ore before the first trip
    home): unclipped, its first reward reached the critic at 10^4 scale and the value loss swamped PPO."""
    collector = _collector(members=1, n_steps=32)
    norm = collector.policy.return_norm
    norm.var.fill_(0.0)
    norm.count.fill_(1e6)  # std = sqrt(epsilon) = 1e-4 for both objectives
    rollout = collector.collect(envs.make(ENV, num_envs=4, seed=0))
    assert rollout.rewards.abs().max().item() == norm.clip  # the time penalty alone would be -1e4
