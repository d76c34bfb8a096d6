"""Our exact resource-gathering front, which replaces MO-Gymnasium's (it misses the safe path to both resources)."""

from __future__ import annotations

import numpy as np
import pytest

from morl import envs
from morl.exact_fronts import resource_gathering_front
from morl.points import non_dominated_mask

UP, DOWN, LEFT, RIGHT = 0, 1, 2, 3
# home (4, 2) -> gem (1, 4) -> round both enemies by the left -> gold (0, 2) -> home, never on an enemy cell
SAFE_BOTH = [UP, UP, RIGHT, RIGHT, UP, DOWN, LEFT, LEFT, LEFT, UP, UP, RIGHT, LEFT, DOWN, DOWN, DOWN, DOWN, RIGHT]


@pytest.fixture(scope="module")
def env():
    return envs.make_env("resource-gathering-v0")


def test_the_safe_path_brings_both_resources_home_every_time(env):
    for seed in range(50):
        env.reset(seed=seed)
        total, steps = np.zeros(3), 0
        for action in SAFE_BOTH:
            _, reward, terminated, truncated, _ = env.step(action)
            total, steps = total + reward, steps + 1
            if terminated or truncated:
                break
        assert steps == len(SAFE_BOTH) and terminated
        np.testing.assert_array_equal(total, [0.0, 1.0, 1.0])


def test_undiscounted_front_is_that_path_alone_and_true_front_uses_it(env):
    np.testing.assert_array_equal(resource_gathering_front(env, 1.0), [[0.0, 1.0, 1.0]])
    np.testing.assert_array_equal(envs.true_front(env), [[0.0, 1.0, 1.0]])
    own = np.asarray(env.unwrapped.pareto_front(gamma=1.0))
    assert not np.any(np.all(np.isclose(own, [0.0, 1.0, 1.0]), axis=1))  # what MO-Gymnasium's front misses


def test_discounted_front_is_the_three_shortest_safe_paths(env):
    gamma = 0.99
    front = resource_gathering_front(env, gamma)
    # rewards arrive on the last step: gem only in 10 steps, gold only in 12, both in 18
    expected = [[0.0, 0.0, gamma**9], [0.0, gamma**17, gamma**17], [0.0, gamma**11, 0.0]]
    np.testing.assert_allclose(front, expected)
    # every path MO-Gymnasium lists is dominated by (or equal to) a point of ours
    for point in np.asarray(env.unwrapped.pareto_front(gamma=gamma)):
        assert not non_dominated_mask(np.vstack([front, point]))[-1] or np.any(np.all(np.isclose(front, point), 1))


def test_a_riskier_discount_keeps_paths_through_enemies(env):
    front = resource_gathering_front(env, 0.9)  # short risky paths pay when the future is cheap
    assert np.any(front[:, 0] < 0) and np.any(front[:, 0] == 0)
    assert np.all(non_dominated_mask(front))
