"""C-MORL's constraints, barrier units, value loss, reward scale and bookkeeping (issue 9)."""

from __future__ import annotations

import collections
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from morl import envs
from morl.agents import cmorl_jobs
from morl.agents.cmorl import CMORL
from morl.agents.cmorl_jobs import JobSpec, run_batch
from morl.agents.moppo import MOPPO, MOPPOConfig, Objective, _clipped_value_error, _Minibatch, first_order_return
from morl.pareto import ParetoArchive

CORRIDOR = "morl/treasure-corridor-v0"
SMALL = {"n_envs": 4, "n_steps": 32, "eval_interval": 5, "update_iter": 5, "eval_episodes": 1, "executor": "serial"}


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ([800.0, -400.0], [710.0, -430.0]),  # below the reference point in objective 2: relax downwards
        ([-50.0, -150.0], [-55.0, -155.0]),
        ([10.0, -90.0], [-1.0, -91.0]),  # above it: ref + beta (G - ref), as before
    ],
)
def test_thresholds_never_exceed_the_start_value(start, expected):
    agent = CMORL(CORRIDOR, **SMALL)
    agent.ref_point = np.array([-100.0, -100.0])
    c = agent.thresholds(np.array(start))
    np.testing.assert_allclose(c, expected)
    assert np.all(c <= np.array(start))


def test_selection_skips_points_below_the_reference_point():
    archive = ParetoArchive(2)
    for value in ([5.0, -200.0], [4.0, -10.0], [3.0, -5.0], [1.0, -2.0], [0.5, -1.5]):
        archive.add(np.array(value), {"w": torch.zeros(1)})
    ref = np.array([0.0, -25.0])
    picked = [tuple(e.value) for e in archive.select(2, ref_point=ref)]
    assert (5.0, -200.0) not in picked  # the extreme below the reference point is not chosen first
    assert picked == [(4.0, -10.0), (0.5, -1.5)]  # the extremes of what counts
    below = ParetoArchive(2)
    below.add(np.array([5.0, -200.0]), {"w": torch.zeros(1)})
    assert [tuple(e.value) for e in below.select(2, ref_point=ref)] == [(5.0, -200.0)]  # nothing else: fall back


def test_first_order_estimate_is_in_episode_return_units_with_a_clipped_ratio():
    current = torch.tensor([[10.0, -5.0]])
    ratio = torch.tensor([[1.1, 0.5, 3.0]])  # 0.5 and 3.0 are clipped to 0.8 and 1.2
    adv = torch.tensor([[[1.0, 2.0], [1.0, -1.0], [2.0, 0.0]]])
    weight = torch.ones(1, 3)
    horizon = torch.tensor([20.0])
    got = first_order_return(current, ratio, adv, weight, horizon, clip=0.2)
    per_step = (0.1 * adv[0, 0] - 0.2 * adv[0, 1] + 0.2 * adv[0, 2]) / 3
    torch.testing.assert_close(got, current + 20.0 * per_step.unsqueeze(0))


def test_value_loss_is_a_clipped_mean_over_objectives():
    old = torch.zeros(1, 1, 1)
    returns = torch.full((1, 1, 1), 1.0)
    mb = _Minibatch(torch.ones(1, 1), torch.zeros(1, 1), torch.zeros(1, 1), torch.zeros(1, 1, 1), returns, old)
    one = _clipped_value_error(torch.full((1, 1, 1), 0.5), mb, clip=0.2)
    six = _clipped_value_error(
        torch.full((1, 1, 6), 0.5),
        _Minibatch(mb.valid, mb.old_log_prob, mb.actor_advantage, torch.zeros(1, 1, 6), returns.expand(1, 1, 6),
                   old.expand(1, 1, 6)),
    clip=0.2)  # fmt: skip
    torch.testing.assert_close(one, six)  # the same error per objective weighs the same for 1 or 6 objectives
    # a prediction moved past the clip from where it was collected is charged at the clipped value
    torch.testing.assert_close(one, torch.tensor([[(1.0 - 0.2) ** 2]]))


def test_update_uses_the_scale_the_rewards_were_divided_by():
    """Changing the return statistics after a rollout must not change how that rollout is weighed."""
    cfg = MOPPOConfig(n_envs=2, n_steps=16, n_epochs=1, num_minibatches=1)
    vec = envs.make("deep-sea-treasure-v0", num_envs=2, seed=0)
    probe = envs.make_env("deep-sea-treasure-v0")
    losses = []
    for stretch in (1.0, 50.0):
        learner = MOPPO(probe.observation_space, probe.action_space, 2, cfg, torch.device("cpu"), seed=0)
        vec.reset(seed=[0, 1])
        rollout = learner.collect(vec)
        with torch.no_grad():
            learner.policy.return_norm.var.mul_(stretch**2)  # as if the statistics had moved since
        torch.manual_seed(1)
        losses.append(learner.update(rollout, Objective(weights=np.array([0.5, 0.5])))["policy_loss"])
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)


def test_extensions_never_pick_a_policy_twice_and_the_budget_is_spent():
    budget = 40_000
    agent = CMORL("deep-sea-treasure-v0", seed=0, **{**SMALL, "num_select": 2})
    agent.learn(budget, progress_bar=False)
    assert len(agent.selected) == len(set(agent.selected))
    rounds = collections.defaultdict(set)
    for entry in agent.archive.entries:
        job = entry.meta["job"]
        if job.startswith("extend"):
            _, round_index, start_id, _ = job.split("-")
            rounds[int(start_id)].add(int(round_index))
    assert all(len(r) == 1 for r in rounds.values()), rounds
    assert budget - agent.transitions_per_update < agent.num_timesteps <= budget  # all of it, and no more


def test_gap_preferences_aim_between_neighbours_and_are_new():
    agent = CMORL(CORRIDOR, **SMALL)
    agent.ref_point = np.array([-1.0, -10.0])
    for value in ([1.0, -1.0], [6.0, -5.0]):
        agent.archive.add(np.array(value), {"w": torch.zeros(1)})
    first = agent.gap_preferences_for(1)[0]
    np.testing.assert_allclose(first @ np.array([1.0, -1.0]), first @ np.array([6.0, -5.0]))  # equally good there
    agent.gap_preferences.append(first.tolist())
    more = agent.gap_preferences_for(3)
    assert len(more) == 3
    used = [*agent.initial_preferences, first]
    assert all(min(np.abs(w - u).sum() for u in used) > 1e-3 for w in more)


def test_state_keeps_the_selected_policies_and_gap_preferences():
    agent = CMORL(CORRIDOR, **SMALL)
    agent.selected, agent.gap_preferences, agent.stage, agent.round = [3, 7], [[0.3, 0.7]], 2, 4
    agent.gap_pairs, agent.fill_rounds = [[1, 2]], 3
    other = CMORL(CORRIDOR, **SMALL)
    other.load_state_dict(agent.state_dict())
    assert (other.selected, other.gap_preferences, other.stage, other.round) == ([3, 7], [[0.3, 0.7]], 2, 4)
    assert (other.gap_pairs, other.fill_rounds) == ([[1, 2]], 3)


def _front(agent: CMORL, *values: list[float]) -> None:
    for value in values:
        agent.archive.add(np.array(value), {"w": torch.zeros(1)}, meta={"episode_length": 5.0})


def test_gap_pairs_are_the_widest_gaps_first_both_ways_and_the_least_tried():
    agent = CMORL(CORRIDOR, **SMALL)
    agent.ref_point = np.array([0.0, -25.0])
    _front(agent, [1.0, -1.0], [2.0, -2.0], [100.0, -20.0], [5.0, -30.0])  # the last is below the reference point
    ids = {tuple(e.value): e.id for e in agent.archive.entries}
    pairs = [(tuple(p.value), tuple(q.value)) for p, q in agent.gap_pairs_for(3)]
    assert pairs == [((2.0, -2.0), (100.0, -20.0)), ((100.0, -20.0), (2.0, -2.0)), ((1.0, -1.0), (2.0, -2.0))]
    agent.gap_pairs = [[ids[(2.0, -2.0)], ids[(100.0, -20.0)]]]
    assert [(tuple(p.value), tuple(q.value)) for p, q in agent.gap_pairs_for(1)] == [((100.0, -20.0), (2.0, -2.0))]
    agent.gap_pairs += [[ids[a], ids[b]] for a, b in (((100.0, -20.0), (2.0, -2.0)), ((1.0, -1.0), (2.0, -2.0)))]
    again = [(tuple(p.value), tuple(q.value)) for p, q in agent.gap_pairs_for(2)]
    assert again == [((2.0, -2.0), (1.0, -1.0)), ((2.0, -2.0), (100.0, -20.0))]  # untried, then the widest again


def test_gap_thresholds_keep_the_extension_inside_the_gap():
    agent = CMORL(CORRIDOR, **SMALL)
    agent.ref_point = np.array([0.0, -25.0])
    start, towards = np.array([2.0, -2.0]), np.array([100.0, -20.0])
    c = agent.gap_thresholds(start, towards, target=0)
    assert c[1] == pytest.approx(-11.0)  # halfway to the other end: the extension bisects the gap
    assert c[1] < start[1]  # the start is feasible
    three = CMORL("minecart-deterministic-v0", **SMALL)
    three.ref_point = np.array([-1.0, -1.0, -10.0])
    c3 = three.gap_thresholds(np.array([1.0, 0.0, -2.0]), np.array([0.0, 1.0, -1.0]), target=1)
    np.testing.assert_allclose(c3, [0.5, -0.1, -2.8])  # halfway in ore 1; beta's relaxation in fuel, better there


def test_rounds_without_a_policy_to_extend_alternate_gap_extensions_and_new_policies():
    agent = CMORL(CORRIDOR, **SMALL)
    agent.ref_point = np.array([0.0, -25.0])
    _front(agent, [1.0, -1.0], [50.0, -20.0])
    agent.selected = [e.id for e in agent.archive.entries]
    budget = 10**7
    assert agent._extension_round(budget) == []
    first = agent._fill_round(budget)
    assert [s.key.split("-")[:2] for s in first] == [["gap", "extend"]] * 2
    assert sorted(s.target for s in first) == [0, 1]
    agent.round += 1  # as learn() does after each round
    second = agent._fill_round(budget)
    assert second and all(s.weights is not None for s in second)  # new stage-1 policies at gap preferences
    agent.round += 1
    third = agent._fill_round(budget)
    assert [s.key.split("-")[:2] for s in third] == [["gap", "extend"]] * 2  # the gap again, with new seeds
    assert len({s.seed for s in (*first, *third)}) == 4


def test_gaps_of_a_three_objective_front_are_between_near_points_widest_first():
    from morl.agents.cmorl_gaps import neighbours

    values = np.array([[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    pairs = neighbours(values)
    assert (0, 1) in pairs and pairs.index((0, 1)) == len(pairs) - 1  # the closest pair is the narrowest gap
    widths = [np.linalg.norm(values[i] - values[j]) for i, j in pairs]
    assert widths == sorted(widths, reverse=True)


class CoinFlips(gym.Env):
    """One-step episodes whose two rewards are fair coin flips whatever the action: every policy is worth (0.5, 0.5)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)
    reward_space = gym.spaces.Box(0.0, 1.0, (2,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        reward = self.np_random.integers(0, 2, size=2).astype(np.float32)
        return np.zeros(1, np.float32), reward, True, False, {}


def _coin_job(confirm_episodes: int, checkpoint_dir: Path | None = None) -> list:
    ppo = MOPPOConfig(n_envs=2, n_steps=4, n_epochs=1, num_minibatches=1)
    spec = JobSpec(key="init-0", env=CoinFlips, env_kwargs={}, ppo=ppo, seed=3, num_updates=12, eval_interval=1,
                   eval_episodes=1, learning_rate=3e-4, anneal_lr=False, weights=np.array([0.5, 0.5]),
                   confirm_episodes=confirm_episodes,
                   checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir))  # fmt: skip
    return run_batch([spec])[0].candidates


def test_confirmation_replaces_one_episode_values_by_long_means():
    short = _coin_job(confirm_episodes=0)
    assert short and all(set(c.value) <= {0.0, 1.0} for c in short)  # one flip per objective
    confirmed = _coin_job(confirm_episodes=400)
    assert confirmed
    for cand in confirmed:
        np.testing.assert_allclose(cand.value, [0.5, 0.5], atol=0.1)  # 4 standard errors of a 400-flip mean
        assert cand.length == 1.0


@pytest.mark.parametrize("killed_in", ["training", "confirmation"])
def test_a_killed_batch_resumes_to_the_same_confirmed_values(tmp_path, monkeypatch, killed_in):
    """Confirmation runs after the batch's last checkpoint: a resumed batch must confirm again, with the same seed."""
    whole = _coin_job(confirm_episodes=50, checkpoint_dir=tmp_path / "whole")
    target = "_save_batch" if killed_in == "training" else "_confirm"
    original, calls = getattr(cmorl_jobs, target), []

    def killed(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5 or target == "_confirm":
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(cmorl_jobs, target, killed)
    with pytest.raises(KeyboardInterrupt):
        _coin_job(confirm_episodes=50, checkpoint_dir=tmp_path / "cut")
    monkeypatch.undo()
    resumed = _coin_job(confirm_episodes=50, checkpoint_dir=tmp_path / "cut")
    assert [c.updates for c in resumed] == [c.updates for c in whole]
    np.testing.assert_array_equal([c.value for c in resumed], [c.value for c in whole])
    assert all(0.0 < v < 1.0 for c in resumed for v in c.value)  # 50-flip means, not one flip


def test_negative_confirmation_is_refused():
    with pytest.raises(ValueError, match="confirm_episodes"):
        CMORL(CORRIDOR, **{**SMALL, "confirm_episodes": -1})


def test_listed_stage1_preferences_replace_the_grid_and_repeats_train_apart():
    twice = [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    agent = CMORL(CORRIDOR, **{**SMALL, "init_grid_step": 0.5, "init_preferences": twice})
    np.testing.assert_array_equal(agent.initial_preferences, twice)
    seeds = [agent._job_seed(f"init-{i}") for i in range(len(twice))]
    assert len(set(seeds)) == len(seeds)  # the repeated preference trains two different policies
    with pytest.raises(ValueError, match="init_preferences: preference row 1"):
        CMORL(CORRIDOR, **{**SMALL, "init_preferences": [[1.0, 0.0], [0.7, 0.7]]})
    with pytest.raises(ValueError, match="init_preferences: preferences must have shape"):
        CMORL(CORRIDOR, **{**SMALL, "init_preferences": [[1.0, 0.0, 0.0]]})
