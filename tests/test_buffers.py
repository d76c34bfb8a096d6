import pytest
import torch

from morl.buffers import ReplayBuffer, Rollout, vector_gae


def _rollout(terminated: bool, truncated: bool) -> Rollout:
    # one env, three steps; step 1 ends the episode, step 2 is the autoreset step (not real)
    rewards = torch.tensor([[[1.0, -1.0]], [[2.0, 0.0]], [[0.0, 0.0]]])  # (T=3, N=1, m=2)
    values = torch.tensor([[[0.5, 0.1]], [[0.5, 0.2]], [[0.7, 0.3]]])
    flags = torch.tensor([[False], [True], [False]])
    return Rollout(
        obs=torch.zeros(3, 1, 1),
        actions=torch.zeros(3, 1),
        log_probs=torch.zeros(3, 1),
        values=values,
        rewards=rewards,
        terminated=flags & terminated,
        truncated=flags & truncated,
        valid=torch.tensor([[True], [True], [False]]),
        next_value=torch.tensor([[0.3, 0.4]]),
    )


def test_gae_terminated_does_not_bootstrap_and_autoreset_step_is_ignored():
    adv, ret = vector_gae(_rollout(terminated=True, truncated=False), gamma=0.9, gae_lambda=0.8)
    # objective 0: A1 = 2 - 0.5; A0 = (1 + 0.9*0.5 - 0.5) + 0.72*A1
    assert adv[1, 0, 0].item() == pytest.approx(1.5)
    assert adv[0, 0, 0].item() == pytest.approx(0.95 + 0.72 * 1.5)
    # objective 1 computed independently: A1 = 0 - 0.2; A0 = (-1 + 0.9*0.2 - 0.1) + 0.72*A1
    assert adv[1, 0, 1].item() == pytest.approx(-0.2)
    assert adv[0, 0, 1].item() == pytest.approx(-0.92 + 0.72 * -0.2)
    assert torch.all(adv[2] == 0)
    torch.testing.assert_close(ret, adv + _rollout(True, False).values)


def test_gae_truncated_bootstraps_from_final_observation_value():
    adv, _ = vector_gae(_rollout(terminated=False, truncated=True), gamma=0.9, gae_lambda=0.8)
    a1 = 2.0 + 0.9 * 0.7 - 0.5  # V(final obs) is the value stored at the autoreset step
    assert adv[1, 0, 0].item() == pytest.approx(a1)
    assert adv[0, 0, 0].item() == pytest.approx(0.95 + 0.72 * a1)


def test_gae_bootstraps_last_step_from_next_value():
    r = _rollout(terminated=False, truncated=False)
    r.valid[:] = True
    adv, _ = vector_gae(r, gamma=0.9, gae_lambda=1.0)
    assert adv[2, 0, 0].item() == pytest.approx(0.0 + 0.9 * 0.3 - 0.7)


def _step(buffer, start: float, valid: list[bool]):
    n = len(valid)
    obs = torch.arange(start, start + n, dtype=torch.float32)[:, None].repeat(1, 2)  # (N, D=2)
    return buffer.add(obs, obs[:, :1] * 2, obs * 3, obs + 0.5, torch.zeros(n, dtype=torch.bool), torch.tensor(valid),
                      -obs[:, :1])  # fmt: skip


def test_replay_stores_only_valid_rows_and_overwrites_the_oldest():
    buffer = ReplayBuffer(capacity=5, obs_dim=2, action_dim=1, num_objectives=2)
    assert _step(buffer, 0, [True, False, True]) == 2  # the autoreset row (1) is no transition
    assert buffer.obs[:2, 0].tolist() == [0.0, 2.0] and len(buffer) == 2
    _step(buffer, 10, [True, True, True])
    _step(buffer, 20, [True, True, False])  # 7 stored into 5 rows: the two oldest are gone
    assert len(buffer) == 5 and buffer.added == 7
    assert buffer.latest(5).obs[:, 0].tolist() == [10.0, 11.0, 12.0, 20.0, 21.0]
    batch = buffer.sample(64, torch.Generator().manual_seed(0))
    torch.testing.assert_close(batch.rewards, batch.obs * 3)  # rows stay together
    torch.testing.assert_close(batch.next_obs, batch.obs + 0.5)


def test_replay_state_round_trips_so_sampling_continues_identically():
    buffer = ReplayBuffer(capacity=5, obs_dim=2, action_dim=1, num_objectives=2)
    for start in (0, 10, 20):
        _step(buffer, start, [True, True, True])
    copy = ReplayBuffer(capacity=5, obs_dim=2, action_dim=1, num_objectives=2)
    copy.load_state_dict(buffer.state_dict())
    assert (copy.pos, copy.size, copy.added) == (buffer.pos, buffer.size, buffer.added)
    a = buffer.sample(16, torch.Generator().manual_seed(1))
    b = copy.sample(16, torch.Generator().manual_seed(1))
    torch.testing.assert_close(a.obs, b.obs)
    torch.testing.assert_close(a.log_probs, b.log_probs)
    torch.testing.assert_close(a.log_probs, -a.obs[:, :1])
    old_format = {k: v for k, v in buffer.state_dict().items() if k != "log_probs"}  # saved before it was kept
    copy.load_state_dict(old_format)
    torch.testing.assert_close(copy.sample(16, torch.Generator().manual_seed(1)).obs, a.obs)
    assert not copy.log_probs.any()
    small = ReplayBuffer(capacity=3, obs_dim=2, action_dim=1, num_objectives=2)
    with pytest.raises(ValueError, match="does not fit"):
        small.load_state_dict(buffer.state_dict())
