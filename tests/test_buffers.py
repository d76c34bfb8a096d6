import pytest
import torch

from morl.buffers import Rollout, vector_gae


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
