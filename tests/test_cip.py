"""CIP's causal pieces: DirectLiNGAM recovers each reward's parents; weights and counterfactuals behave as defined."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from morl import cip
from morl.buffers import Transitions


def _synthetic(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear non-Gaussian (uniform) data: r0 <- s0, a0; r1 <- s1, a1; s2 and the constant s3 affect nothing."""
    rng = np.random.default_rng(seed)
    s = rng.uniform(-1, 1, (n, 4))
    s[:, 3] = 0.5
    a = rng.uniform(-1, 1, (n, 2))
    noise = rng.uniform(-0.3, 0.3, (n, 2))
    r = np.stack([2.0 * s[:, 0] + 1.5 * a[:, 0], -1.0 * s[:, 1] + 1.0 * a[:, 1]], axis=1) + noise
    return s, a, r


def test_directlingam_recovers_the_parents_of_each_reward():
    pytest.importorskip("lingam")
    s, a, r = _synthetic()
    fit = cip.fit(s, a, r, seed=0)
    truth = np.array([[2.0, 0, 0, 0, 1.5, 0], [0, -1.0, 0, 0, 0, 1.0]])
    parents = np.abs(fit.effects) > 0.1
    np.testing.assert_array_equal(parents, truth != 0)
    np.testing.assert_allclose(fit.effects[parents], truth[truth != 0], atol=0.1)
    assert fit.effects[:, 3].tolist() == [0.0, 0.0]  # the constant column was dropped, not fitted
    swap = cip.irrelevant_states(fit.state_effects, 0.05)
    assert swap.tolist() == [False, False, True, True]
    standardized = cip.fit(s, a, r, standardize=True, seed=0)
    np.testing.assert_array_equal(np.abs(standardized.effects) > 0.1, truth != 0)


def test_shuffled_fit_permutes_effects_within_states_and_within_actions():
    pytest.importorskip("lingam")
    s, a, r = _synthetic(500)
    fit = cip.fit(s, a, r, seed=0)
    shuffled = cip.fit(s, a, r, seed=0, shuffle=[0, 7])
    again = cip.fit(s, a, r, seed=0, shuffle=[0, 7])
    np.testing.assert_array_equal(shuffled.effects, again.effects)  # seeded
    for block in ("state_effects", "action_effects"):
        np.testing.assert_array_equal(np.sort(getattr(fit, block), axis=1), np.sort(getattr(shuffled, block), axis=1))
    assert not np.array_equal(fit.effects, shuffled.effects)


def test_weights_sum_to_the_dimension_and_follow_the_preference():
    effects = torch.tensor([[2.0, 0.0], [0.0, 1.0]])  # action 0 drives objective 0, action 1 objective 1
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    weights = cip.action_weights(w, effects)  # (3, 2)
    torch.testing.assert_close(weights.sum(-1), torch.full((3,), 2.0))
    assert weights[0, 0] > 1 > weights[0, 1] and weights[1, 1] > 1 > weights[1, 0]
    torch.testing.assert_close(cip.action_weights(w, torch.zeros(2, 2)), torch.ones(3, 2))  # no effect: plain SAC
    per_objective = cip.objective_weights(np.array([[2.0, 0.0, 0.0]]))
    np.testing.assert_allclose(per_objective.sum(), 3.0)
    assert per_objective[0, 0] == per_objective.max()


def test_counterfactuals_swap_only_irrelevant_dims_in_obs_and_next_obs():
    n = 6
    obs = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 3)  # row i is (i, i, i)
    batch = Transitions(obs, torch.arange(n, dtype=torch.float32)[:, None], obs[:, :2] * 10, obs + 100,
                        torch.zeros(n), -torch.arange(n, dtype=torch.float32)[:, None])  # fmt: skip
    swap = torch.tensor([False, True, False])
    out = cip.counterfactual(batch, swap, 50, torch.Generator().manual_seed(0))
    row = out.obs[:, 0]  # the row whose action and reward the counterfactual keeps
    torch.testing.assert_close(out.obs[:, 2], row)
    torch.testing.assert_close(out.actions[:, 0], row)
    torch.testing.assert_close(out.rewards, batch.rewards[row.long()])
    torch.testing.assert_close(out.log_probs[:, 0], -row)  # the behaviour's density goes with its action
    torch.testing.assert_close(out.next_obs[:, 0], row + 100)
    partner = out.obs[:, 1]
    torch.testing.assert_close(out.next_obs[:, 1], partner + 100)  # s' swapped with the same partner as s
    assert (partner != row).any()


def test_fit_rejects_mismatched_arrays():
    with pytest.raises(ValueError, match="same n"):
        cip.fit(np.zeros((5, 2)), np.zeros((4, 1)), np.zeros((5, 2)))
