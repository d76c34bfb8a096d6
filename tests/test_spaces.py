"""Tests for ``morl.spaces`` and the spaces every agent takes: Dict, Tuple, image observations;
MultiDiscrete and MultiBinary actions; one-line refusals before training; ``morl check-env``."""

from __future__ import annotations

import itertools
import re
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces as gs
from stable_baselines3.common.torch_layers import NatureCNN

from morl import cli, envs, spaces
from morl.agents.cmorl import CMORL
from morl.agents.moppo import MOPPO, MOPPOConfig, Objective
from morl.agents.scalarized import Scalarized
from morl.nn import StackedNatureCNN, nature_cnn
from morl.policies import ActorCritic, PopulationActorCritic

HORIZON = 6


class _Corridor(gym.Env):
    """Six steps; objective 0 pays for the 'right' action, objective 1 for any other. Subclasses set the spaces."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}
    observation_space: gym.Space = gs.Box(0.0, 1.0, (3,), dtype=np.float32)
    action_space: gym.Space = gs.Discrete(2)

    def __init__(self) -> None:
        self.reward_space = gs.Box(0.0, 1.0, shape=(2,), dtype=np.float32)
        self.reward_dim = 2
        self._t = 0

    def _obs(self) -> Any:
        return np.full(3, self._t / HORIZON, dtype=np.float32)

    def _right(self, action: Any) -> bool:
        return int(action) == 1

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self._t = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[Any, np.ndarray, bool, bool, dict]:
        right = self._right(action)
        self._t += 1
        reward = np.array([float(right), float(not right)], dtype=np.float32)
        return self._obs(), reward, self._t >= HORIZON, False, {}


class DictObs(_Corridor):
    observation_space = gs.Dict({"time": gs.Box(0.0, 1.0, (1,), dtype=np.float32), "parity": gs.Discrete(2),
                                 "bits": gs.MultiBinary(2)})  # fmt: skip

    def _obs(self):
        return {"time": np.array([self._t / HORIZON], np.float32), "parity": self._t % 2,
                "bits": np.array([self._t % 2, 1], np.int8)}  # fmt: skip


class TupleObs(_Corridor):
    observation_space = gs.Tuple((gs.Box(0.0, 1.0, (2,), dtype=np.float32), gs.Discrete(3)))

    def _obs(self):
        return np.full(2, self._t / HORIZON, dtype=np.float32), self._t % 3


class ImageObs(_Corridor):
    observation_space = gs.Box(0, 255, (40, 40, 3), dtype=np.uint8)

    def _obs(self):
        return np.full((40, 40, 3), 40 * self._t, dtype=np.uint8)


class MultiDiscreteActions(_Corridor):
    action_space = gs.MultiDiscrete([3, 2])

    def _right(self, action):
        return tuple(np.asarray(action).tolist()) == (2, 1)


class MultiBinaryActions(_Corridor):
    action_space = gs.MultiBinary(3)

    def _right(self, action):
        return int(np.asarray(action).sum()) == 3


class TextObs(_Corridor):
    observation_space = gs.Text(5)

    def _obs(self):
        return "a" * (self._t % 5)


class DictOfImages(_Corridor):
    observation_space = gs.Dict({"frame": ImageObs.observation_space, "time": gs.Box(0.0, 1.0, (1,))})

    def _obs(self):
        return {"frame": ImageObs._obs(self), "time": np.array([self._t / HORIZON], np.float32)}


class HugeFloatFrames(_Corridor):
    observation_space = gs.Box(0.0, 1.0, (480, 480, 3), dtype=np.float32)  # an image the MLP path would take

    def _obs(self):
        return np.zeros((480, 480, 3), np.float32)


TAKEN = [DictObs, TupleObs, ImageObs, MultiDiscreteActions, MultiBinaryActions]
TINY_CMORL = {"n_envs": 2, "n_steps": 12, "n_epochs": 1, "num_minibatches": 2, "eval_interval": 1, "update_iter": 1,
              "eval_episodes": 1, "net_arch": (8,), "executor": "serial"}  # fmt: skip
TINY_SCALARIZED = {"n_envs": 1, "n_steps": 12, "batch_size": 12, "n_epochs": 1, "num_preferences": 2,
                   "eval_episodes": 1, "net_arch": (8,)}  # fmt: skip


# --- morl.spaces ------------------------------------------------------------------------------------
def test_kinds_name_what_agents_declare():
    assert spaces.kind(ImageObs.observation_space) == "image"
    assert spaces.kind(HugeFloatFrames.observation_space) == "Box"
    assert spaces.kind(DictObs.observation_space) == "Dict"
    assert spaces.kind(DictOfImages.observation_space) == "Dict with images"
    assert spaces.kind(TupleObs.observation_space) == "Tuple"
    assert spaces.kind(gs.MultiBinary(4)) == "MultiBinary" and spaces.kind(gs.Text(3)) == "Text"


@pytest.mark.parametrize(
    "space",
    [
        DictObs.observation_space,
        TupleObs.observation_space,
        gs.Discrete(4, start=2),
        gs.MultiDiscrete([[2, 3], [4, 2]], start=[[1, 0], [0, 5]]),
        gs.MultiBinary(3),
    ],
)
def test_batched_flatten_is_gymnasiums_flatten_per_row(space):
    space.seed(0)
    samples = [space.sample() for _ in range(5)]
    batch = gym.vector.utils.concatenate(space, samples, gym.vector.utils.create_empty_array(space, 5))
    flat = spaces.flatten(space, batch)
    expected = np.stack([gs.utils.flatten(space, s) for s in samples]).astype(np.float32)
    np.testing.assert_array_equal(flat.numpy(), expected)


def test_images_are_made_channels_first_and_large_frames_are_shrunk():
    big = spaces.ObsEncoding(gs.Box(0, 255, (480, 480, 3), dtype=np.uint8))
    frames = np.zeros((2, 480, 480, 3), np.uint8)
    frames[1, :240] = 200  # top half bright
    x = big(frames)
    assert big.shape == (3, 84, 84) and x.shape == (2, 3, 84, 84) and x.dtype == torch.uint8
    assert x[1, :, :42].eq(200).all() and x[1, :, 42:].eq(0).all()
    small = spaces.ObsEncoding(gs.Box(0, 255, (1, 40, 50), dtype=np.uint8))  # channels first, kept as it is
    assert small.shape == (1, 40, 50)


def test_require_refuses_in_one_line_naming_space_env_and_what_is_taken():
    seen = gym.make("CartPole-v1")
    seen.name = "my_env:Env"
    seen.action_space = gs.MultiBinary(4)
    with pytest.raises(ValueError) as err:
        spaces.require("cmorl", seen, ("Box",), ("Discrete", "MultiDiscrete", "Box"))
    assert str(err.value) == ("cmorl cannot act in MultiBinary(4) actions of 'my_env:Env'; "
                              "it takes Discrete, MultiDiscrete and Box")  # fmt: skip


# --- networks --------------------------------------------------------------------------------------------
def test_stacked_nature_cnn_member_is_sb3s_nature_cnn():
    torch.manual_seed(0)
    stacked = StackedNatureCNN(3, (3, 40, 40), features_dim=16)
    single = NatureCNN(gs.Box(0, 255, (3, 40, 40), dtype=np.uint8), features_dim=16)
    assert set(single.state_dict()) == set(stacked.state_dict())
    x = torch.rand(3, 5, 3, 40, 40)
    out = stacked(x)
    for p in range(3):
        single.load_state_dict({k: v[p] for k, v in stacked.state_dict().items()})
        torch.testing.assert_close(single(x[p]), out[p], rtol=1e-4, atol=1e-5)
    assert isinstance(nature_cnn((3, 40, 40)), NatureCNN)


@pytest.mark.parametrize("env_class", [DictObs, ImageObs, MultiDiscreteActions, MultiBinaryActions])
def test_population_member_acts_like_the_archived_single_policy(env_class):
    probe = env_class()
    config = MOPPOConfig(n_envs=2, n_steps=8, n_epochs=1, num_minibatches=2, net_arch=(8,))
    learner = MOPPO(probe.observation_space, probe.action_space, 2, config, torch.device("cpu"), members=2)
    vec = envs.make(env_class, num_envs=4, seed=0)
    learner.update(learner.collect(vec), Objective(weights=np.array([0.5, 0.5])))
    obs, _ = vec.reset(seed=3)
    batched = learner.act(obs)
    assert probe.action_space.contains(batched[0])
    single = ActorCritic(probe.observation_space, probe.action_space, 2, config.net_arch)
    single.load_state_dict(learner.policy.member_state(1))
    rows = {k: v[2:] for k, v in obs.items()} if isinstance(obs, dict) else obs[2:]
    np.testing.assert_array_equal(single.act(rows, probe.action_space, normalize_obs=True), batched[2:])


def test_factorised_categorical_and_bernoulli_log_probs_are_torch_distributions():
    from torch.distributions import Bernoulli, Categorical

    policy = PopulationActorCritic(gs.Box(0, 1, (3,)), gs.MultiDiscrete([3, 2]), 2, (8,), members=2)
    out = torch.randn(2, 5, 5)
    actions, log_prob = policy.head.sample(out, None)
    expected = Categorical(logits=out[..., :3]).log_prob(actions[..., 0]) + Categorical(
        logits=out[..., 3:]).log_prob(actions[..., 1])  # fmt: skip
    torch.testing.assert_close(log_prob, expected)
    entropy = policy.head.log_prob_entropy(out, actions, None)[1]
    torch.testing.assert_close(entropy, Categorical(logits=out[..., :3]).entropy() + Categorical(
        logits=out[..., 3:]).entropy())  # fmt: skip
    bits = PopulationActorCritic(gs.Box(0, 1, (3,)), gs.MultiBinary(4), 2, (8,), members=2).head
    logits = torch.randn(2, 5, 4)
    sampled, log_prob = bits.sample(logits, None)
    torch.testing.assert_close(log_prob, Bernoulli(logits=logits).log_prob(sampled).sum(-1))
    torch.testing.assert_close(bits.log_prob_entropy(logits, sampled, None)[1],
                               Bernoulli(logits=logits).entropy().sum(-1))  # fmt: skip


# --- agents -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("env_class", TAKEN)
def test_cmorl_trains_on_every_space_sb3_takes(env_class):
    agent = CMORL(env_class, seed=0, **TINY_CMORL)
    archive = agent.learn(100, progress_bar=False)
    assert len(archive) >= 1 and agent.num_timesteps > 0
    obs, _ = envs.make(env_class, num_envs=2).reset(seed=0)
    actions, _ = agent.predict(obs, [1.0, 0.0])
    assert len(actions) == 2 and env_class().action_space.contains(actions[0])


def test_cmorl_on_images_uses_a_cnn():
    agent = CMORL(ImageObs, seed=0, **TINY_CMORL)
    agent.learn(100, progress_bar=False)
    net = agent._network(agent.archive.entries[0].id)
    assert any(isinstance(module, torch.nn.Conv2d) for module in net.modules())


@pytest.mark.parametrize("env_class", TAKEN)
def test_scalarized_trains_on_every_space_sb3_takes(env_class):
    agent = Scalarized(env_class, seed=0, **TINY_SCALARIZED)
    archive = agent.learn(24, progress_bar=False)
    assert len(archive) >= 1
    obs, _ = envs.make(env_class, num_envs=2).reset(seed=0)
    actions, _ = agent.predict(obs, [1.0, 0.0])
    assert len(actions) == 2 and env_class().action_space.contains(actions[0])
    if env_class is ImageObs:
        assert any(isinstance(module, torch.nn.Conv2d) for module in agent._policies[0].modules())


@pytest.mark.parametrize(
    ("agent", "env_class", "message"),
    [
        (CMORL, TextObs, "cmorl cannot take Text observations (Text(1, 5, charset="),
        (Scalarized, TextObs, "scalarized cannot take Text observations"),
        (CMORL, DictOfImages, "cmorl cannot take Dict with images observations"),
        (
            CMORL,
            HugeFloatFrames,
            "cmorl would flatten the Box(0.0, 1.0, (480, 480, 3), float32) observations of "
            "'HugeFloatFrames' into 691,200 network inputs (at most 65,536): give images",
        ),
    ],
)
def test_what_an_agent_cannot_take_is_refused_in_one_line_before_training(agent, env_class, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)) as err:
        agent(env_class, **({"executor": "serial"} if agent is CMORL else {}))
    assert "\n" not in str(err.value)


def test_check_env_lists_the_agents_that_take_the_env(capsys):
    assert cli.main(["check-env", "tests.test_spaces:MultiBinaryActions"]) == 0
    assert "agents that take it: cmorl, scalarized" in capsys.readouterr().out
    assert cli.main(["check-env", "tests.test_spaces:DictOfImages"]) == 0
    out = capsys.readouterr().out
    assert "agents that take it: scalarized" in out
    assert "cmorl cannot take Dict with images observations" in out


def test_one_hot_integers_encodes_each_entry_of_an_integer_box():
    box = gs.Box(low=np.array([0, -2]), high=np.array([6, 2]), dtype=np.int32)
    view = spaces.one_hot_integers(box)
    obs = np.array([[0, -2], [6, 1]], dtype=np.int32)
    encoded = spaces.flatten(view, obs).numpy()
    assert encoded.shape == (2, 7 + 5)
    assert np.array_equal(encoded, np.stack([gs.utils.flatten(view, row) for row in obs]).astype(np.float32))
    assert np.array_equal(encoded.nonzero()[1], [0, 7, 6, 7 + 3])


@pytest.mark.parametrize(("space", "message"), [
    (gs.Box(0.0, 1.0, (2,), dtype=np.float32), "Box of integers"),
    (gs.Box(0, np.iinfo(np.int32).max, (2,), dtype=np.int32), "network inputs"),
    (gs.Discrete(3), "Box of integers"),
])  # fmt: skip
def test_one_hot_integers_refuses_what_it_cannot_encode(space, message):
    with pytest.raises(ValueError, match=message):
        spaces.one_hot_integers(space)


def test_one_hot_observations_on_a_float_box_are_refused_before_training():
    with pytest.raises(ValueError, match=r"one_hot_int_obs on 'mo-mountaincarcontinuous-v0': .*Box of integers"):
        CMORL("mo-mountaincarcontinuous-v0", one_hot_int_obs=True)


def test_one_hot_observations_reach_fruit_tree_leaves_a_raw_index_mlp_cannot():
    """Fruit-tree leaf ``k`` is reached by the actions of ``k``'s six bits. On raw (row, column) inputs the tanh
    MLP only ever reached leaves whose paths turn at most twice (31 of 64 at 1M steps, 4 runs; 9 leaves in this
    test's budget); one-hot inputs reach leaves that turn 3 or more times in stage 1 alone."""
    agent = CMORL("fruit-tree-v0", seed=0, device="cpu", one_hot_int_obs=True, init_fraction=1.0, executor="serial")
    agent.learn(60_000, progress_bar=False)
    front = np.array(envs.make_env("fruit-tree-v0").unwrapped.pareto_front(gamma=1.0))
    leaves = {int(np.argmin(np.abs(front - value).sum(axis=1))) for value in agent.archive.values}
    turns = {leaf: sum(a != b for a, b in itertools.pairwise(f"{leaf:06b}")) for leaf in leaves}
    assert sum(t >= 3 for t in turns.values()) >= 3, turns
    env = envs.make_env("fruit-tree-v0")  # archived policies act again through the same one-hot view
    for entry in agent.archive.entries[:3]:
        obs, _ = env.reset(seed=0)
        act, total, done = agent.entry_predictor(entry.id), np.zeros(6), False
        while not done:
            obs, reward, done, _, _ = env.step(int(act(obs[None], entry.preference)[0][0]))
            total += reward
        np.testing.assert_allclose(total, entry.value, atol=1e-4)
