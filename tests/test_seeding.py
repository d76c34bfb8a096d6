"""Tests for ``morl.seeding``: every registered env, single- and multi-agent, repeats under a seed."""

from __future__ import annotations

import importlib.util
import random

import gymnasium as gym
import numpy as np
import pytest

from morl import envs, multiagent, seeding
from morl.envs import make

# Broken upstream (mo-gymnasium 1.3.2, see tests/test_envs.py::test_breakable_bottles_is_broken_upstream).
UPSTREAM_BROKEN = {"breakable-bottles-v0"}
# Deterministic given the actions: the same trajectory whatever the seed.
DETERMINISTIC = {
    "deep-sea-treasure-v0",
    "deep-sea-treasure-concave-v0",
    "deep-sea-treasure-mirrored-v0",
    "four-room-v0",  # its default maze has one start cell (random.choice draws it: another maze has several)
    "fruit-tree-v0",
    "minecart-deterministic-v0",  # its ore distributions have standard deviation 0
    "morl/treasure-corridor-v0",
}
STEPS = 100
# Steps and copies per id where one step is slow (480x480 images): enough to cross a reset or a draw.
_LIGHTER = {"minecart-rgb-v0": (40, 1)}
_MUJOCO = {"hopper", "halfcheetah", "ant", "walker2d", "swimmer", "humanoid", "reacher"}


def _skip_reason(env_id: str) -> str | None:
    """Why ``env_id`` cannot be tried here (an optional dependency is missing), or None."""
    if env_id.startswith("mo-highway"):
        module = "highway_env"
    elif env_id == "mo-supermario-v0":
        module = "gym_super_mario_bros"
    elif env_id.split("-")[1:2] and env_id.split("-")[1] in _MUJOCO:
        module = "mujoco"
    else:
        return None
    return None if importlib.util.find_spec(module) else f"{env_id} needs {module}, which is not installed"


def _single_ids() -> list[str]:
    return [env_id for env_id in envs.registered_ids() if env_id not in UPSTREAM_BROKEN]


def _trajectories(env_id: str, seeds: tuple[int, int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Two vector envs seeded with ``seeds``, stepped in turn (one step each) with the same seeded actions."""
    steps, num_envs = _LIGHTER.get(env_id, (STEPS, 2))
    vecs = [make(env_id, num_envs=num_envs, seed=seed) for seed in seeds]
    try:
        space = vecs[0].single_action_space
        space.seed(123)
        actions = [np.stack([space.sample() for _ in range(num_envs)]) for _ in range(steps)]
        logs: list[tuple[list, list]] = [([], []) for _ in vecs]
        for action in actions:  # interleaved: any stream the two share shows up as a difference
            for vec, (observations, rewards) in zip(vecs, logs, strict=True):
                obs, reward, *_ = vec.step(action)  # sub-envs reset themselves at the end of an episode
                observations.append(np.asarray(obs))
                rewards.append(np.asarray(reward))
        return [(np.asarray(o), np.asarray(r)) for o, r in logs]
    finally:
        for vec in vecs:
            vec.close()


@pytest.mark.parametrize("env_id", _single_ids())
def test_every_registered_env_repeats_under_a_seed(env_id):
    reason = _skip_reason(env_id)
    if reason:
        pytest.skip(reason)
    (obs_a, rew_a), (obs_b, rew_b) = _trajectories(env_id, (0, 0))
    np.testing.assert_array_equal(obs_a, obs_b, err_msg=f"{env_id}: same seed, different observations")
    np.testing.assert_array_equal(rew_a, rew_b, err_msg=f"{env_id}: same seed, different rewards")
    if env_id in DETERMINISTIC:
        return
    (obs_c, rew_c), _ = _trajectories(env_id, (1, 1))
    assert not (np.array_equal(obs_a, obs_c) and np.array_equal(rew_a, rew_c)), f"{env_id} ignores its seed"


def test_minecart_leaves_the_process_generators_alone():
    vec = make("minecart-v0", num_envs=2, seed=0)
    np.random.seed(7)
    state = np.random.get_state()[1].copy()
    rng = np.random.default_rng(0)
    for _ in range(200):
        vec.step(rng.integers(6, size=2))
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    vec.close()


def test_minecart_repeats_across_processes():
    # Async workers are separate processes: their draws must equal the in-process (sync) ones.
    def run(vectorization):
        vec = make("minecart-v0", num_envs=2, seed=3, vectorization=vectorization)
        rng = np.random.default_rng(0)
        try:
            return np.asarray([vec.step(rng.integers(6, size=2))[1] for _ in range(300)])
        finally:
            vec.close()

    rewards = run("sync")
    assert np.any(rewards[:, :, :2] > 0), "no ore sold in 300 random steps: the test proves nothing"
    np.testing.assert_array_equal(rewards, run("async"))


def test_unseeded_env_draws_from_the_process_generators():
    env = envs.make_env("four-room-v0")
    random.seed(5)
    first, _ = env.reset()
    random.seed(5)
    again, _ = env.reset()
    np.testing.assert_array_equal(first, again)  # as upstream: nothing private until a seed is given
    assert not env.generators.seeded


def test_private_generators_reject_bad_seeds():
    with pytest.raises(ValueError, match=r"seed must be a non-negative int, got -1"):
        seeding.PrivateGenerators().seed(-1)


def test_isolate_wraps_only_envs_that_draw_from_process_generators():
    assert isinstance(envs.make_env("minecart-v0"), seeding.OwnGlobalGenerators)
    assert not isinstance(envs.make_env("resource-gathering-v0"), seeding.OwnGlobalGenerators)
    assert isinstance(envs.make_env("deep-sea-treasure-v0"), gym.Env)


# --- multi-agent ids ------------------------------------------------------------------------------


def _multi_rollout(env_id: str, seed: int, steps: int = STEPS) -> tuple[np.ndarray, np.ndarray]:
    """Two envs of ``env_id`` (its preset), reset with ``seed``, stepped in turn with the same random actions."""
    defaults = multiagent.defaults_for(env_id)
    pair = [multiagent.make_multiagent(env_id, team_reward=defaults.team_reward, **defaults.kwargs) for _ in "ab"]
    rng = np.random.default_rng(123)
    logs: list[list] = [[], []]
    starts = [env.reset(seed=seed)[0] for env in pair]
    for log, obs in zip(logs, starts, strict=True):
        log.append(np.asarray(obs, dtype=np.float64).ravel())
    episode = 0
    for _ in range(steps):
        masks = pair[0].action_masks()
        actions = [int(rng.choice(np.flatnonzero(row))) if row.any() else 0 for row in masks]
        done = False
        for env, log in zip(pair, logs, strict=True):
            obs, _, reward, done, _ = env.step(actions)
            log.append(np.concatenate([np.asarray(obs, dtype=np.float64).ravel(), np.asarray(reward).ravel()]))
        if done:
            episode += 1
            for env, log in zip(pair, logs, strict=True):
                log.append(np.asarray(env.reset(seed=seed + episode)[0], dtype=np.float64).ravel())
    for env in pair:
        env.close()
    return np.concatenate(logs[0]), np.concatenate(logs[1])


# Presets whose random play draws nothing here (item gathering configs B and A): a fixed map, pick-up probability 1,
# and only collisions draw (random.choice), which 100 random steps do not meet; test_item_gathering_... covers them.
# The fixed-start beach draws nothing at all: its types and start sections are given (its exact front needs that).
MULTI_DETERMINISTIC = {"moitem_gathering_v0", "moitem_gathering_2obj_v0", "mobeach_fixed_v0"}


@pytest.mark.parametrize("env_id", multiagent.registered_ids())
def test_every_multiagent_id_repeats_under_a_seed(env_id):
    module = multiagent.defaults_for(env_id).module.partition(":")[0]
    try:
        found = importlib.util.find_spec(module) is not None
    except ImportError:
        found = False
    if not found:
        pytest.skip(f"{env_id} needs {module}, which is not installed")
    steps = 30 if env_id == "mopistonball_v0" else STEPS  # physics and images: slow steps
    a, b = _multi_rollout(env_id, 0, steps)
    np.testing.assert_array_equal(a, b, err_msg=f"{env_id}: same seed, different trajectories")
    if env_id not in MULTI_DETERMINISTIC:
        c, _ = _multi_rollout(env_id, 1, steps)
        assert not np.array_equal(a, c), f"{env_id} ignores its seed"


def test_item_gathering_draws_from_its_own_generators():
    # A randomised map is drawn from np.random at every reset: two envs stepped in turn must not share it, and
    # MOMAland's reset(seed), which re-seeds np.random and random, must leave the process's generators alone.
    kwargs = {**multiagent.defaults_for("moitem_gathering_v0").kwargs, "randomise": True}
    pair = [multiagent.make_multiagent("moitem_gathering_v0", **kwargs) for _ in "ab"]
    state = np.random.get_state()[1].copy(), random.getstate()
    starts = [[env.reset(seed=seed)[0] for env in pair] for seed in (0, None, 1)]  # None: the stream goes on
    np.testing.assert_array_equal(starts[0][0], starts[0][1])
    np.testing.assert_array_equal(starts[1][0], starts[1][1])  # the second episode too, though interleaved
    assert not np.array_equal(starts[0][0], starts[2][0]), "another seed, the same randomised map"
    np.testing.assert_array_equal(np.random.get_state()[1], state[0])
    assert random.getstate() == state[1]
