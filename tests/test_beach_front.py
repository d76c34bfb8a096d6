"""Tests for ``morl.multiagent.beach_front``: the fixed-start beach and the exhaustive front of ``mobeach_fixed_v0``.

The registered front is recomputed by stepping all 729 joint plans through MOMAland's env; its unsupported point
is checked with certificates that need no linear program (a dominating mixture, a witness weight per supported
point).
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from momaland.envs.beach.beach import MOBeachDomain

from morl import multiagent as ma
from morl.multiagent.beach_front import FixedStartBeach, exhaustive_front

ENV = "mobeach_fixed_v0"


def _preset_env() -> ma.MultiAgentEnv:
    defaults = ma.defaults_for(ENV)
    return ma.make_multiagent(ENV, team_reward=defaults.team_reward, **defaults.kwargs)


def _all_returns(env: ma.MultiAgentEnv) -> np.ndarray:
    """(729, 2) team returns of every one-step joint action, stepped in the env."""
    from itertools import product

    out = []
    for actions in product(range(3), repeat=env.num_agents):
        env.reset()
        out.append(env.step(np.array(actions))[2])
    return np.array(out, dtype=np.float64)


def test_registered_front_is_the_exhaustive_front():
    result = exhaustive_front(_preset_env(), horizon=1)
    assert result.n_plans == 3**6 and result.plans.shape == (4, 1, 6)
    assert np.array_equal(result.front, ma.defaults_for(ENV).true_front)  # exact: the env's float32 rewards
    assert result.supported.tolist() == [True, False, True, True]
    assert np.array_equal(result.unsupported, [ma.defaults_for(ENV).true_front[1]])


def test_unsupported_point_has_a_dominating_mixture_and_the_others_a_witness_weight():
    front = np.array(ma.defaults_for(ENV).true_front)
    a, b, c, d = front
    assert np.all(0.9 * a + 0.1 * c > b)  # a 9:1 mixture of two plans' returns beats b in both objectives
    returns = _all_returns(_preset_env())
    for point, w in ((a, [0.0, 1.0]), (c, [0.3, 0.7]), (d, [1.0, 0.0])):
        assert np.max(returns @ w) <= point @ w + 1e-12  # the point maximises w . r over every joint plan
    weights = np.stack([np.linspace(0, 1, 1001), 1 - np.linspace(0, 1, 1001)], axis=1)
    best = returns[np.argmax(returns @ weights.T, axis=0)]  # (1001, 2): what linear scalarisation returns
    assert not np.any(np.all(best == b, axis=1))
    assert {tuple(p) for p in best} == {tuple(a), tuple(c), tuple(d)}


def test_front_plans_reach_the_points_through_the_task_evaluator():
    task = ma.task(ENV)
    result = exhaustive_front(_preset_env(), horizon=1)
    for point, plan in zip(result.front, result.plans, strict=True):

        def scripted(obs, w, state=None, episode_start=None, action_masks=None, deterministic=True, plan=plan):
            return plan[0], None

        assert np.array_equal(task.evaluate(scripted, [0.5, 0.5], episodes=2, seed=0).mean_return, point)


def test_fixed_start_beach_steps_as_momalands_beach():
    """Only the start differs: MOMAland's env forced to the same start gives the same observations and rewards."""
    kwargs = {k: v for k, v in ma.defaults_for(ENV).kwargs.items() if k not in ("types", "positions")}
    kwargs["num_timesteps"] = 3
    types, positions = [0, 1, 0, 1, 1], [0, 2, 1, 2, 0]
    rng = np.random.default_rng(0)
    for _ in range(5):
        ours = FixedStartBeach(types, positions, **kwargs)
        theirs = MOBeachDomain(num_agents=5, **kwargs)
        ours.reset(seed=1)
        theirs.reset(seed=1)
        theirs._types, theirs._state = list(types), list(positions)
        for _ in range(3):
            actions = {agent: int(rng.integers(3)) for agent in ours.agents}
            obs_a, rew_a, *_ = ours.step(actions)
            obs_b, rew_b, *_ = theirs.step(actions)
            for agent in actions:
                assert np.array_equal(obs_a[agent], obs_b[agent]) and np.array_equal(rew_a[agent], rew_b[agent])
    ours.reset()  # puts everybody back where the episode started
    assert ours._types == types and ours._state == positions


def test_fixed_start_beach_rejects_bad_arguments():
    with pytest.raises(ValueError, match="equal length"):
        FixedStartBeach([0, 1], [0], sections=3)
    with pytest.raises(ValueError, match=r"types must be in \[0, 2\).*\[0, 2\]"):
        FixedStartBeach([0, 2], [0, 0], sections=3)
    with pytest.raises(ValueError, match=r"positions must be sections in \[0, 3\), got \[0, 3\]"):
        FixedStartBeach([0, 1], [0, 3], sections=3)
    with pytest.raises(ValueError, match="num_agents=3 contradicts the 2 types"):
        FixedStartBeach([0, 1], [0, 1], sections=3, num_agents=3)
    with pytest.raises(ValueError, match="position_distribution is not used"):
        FixedStartBeach([0, 1], [0, 1], sections=3, position_distribution=(1, 0, 0))


def test_exhaustive_front_refuses_wrong_horizons_large_searches_and_random_envs():
    env = _preset_env()
    with pytest.raises(ValueError, match="ended after 1 steps"):
        exhaustive_front(env, horizon=2)
    with pytest.raises(ValueError, match="horizon must be >= 1"):
        exhaustive_front(env, horizon=0)
    with pytest.raises(ValueError, match="729 joint plans exceed max_plans=100"):
        exhaustive_front(env, horizon=1, max_plans=100)
    state = random.getstate()
    try:
        random.seed(0)  # MOMAland's beach draws types and start sections from the global generator at each reset
        moving = ma.make_multiagent("mobeach_v0", reward_mode="team", num_agents=4, sections=3, capacity=1)
        with pytest.raises(ValueError, match="not deterministic"):
            exhaustive_front(moving, horizon=1)
    finally:
        random.setstate(state)
