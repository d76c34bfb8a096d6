"""The agent contract: every kind of task builds an agent through one path, and runs are owned by ``morl.train``.

A stub agent (no learning, deterministic values) stands in for MO-MIX, PC-SAC and OPPO, which will
follow this contract: a gym env, a toy multi-agent env and a toy dataset all go through
``morl.train`` -> ``tasks.make`` -> ``Agent(task)`` -> archive -> run directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
import torch

import morl
from morl import agents, multiagent, preferences, runs, tasks
from morl.agents import base
from morl.agents.base import Agent
from morl.agents.cmorl import CMORL
from morl.data import Dataset
from morl.pareto import ParetoArchive


@dataclass
class StubConfig:
    chunk: int = 100
    scale: float = 1.0


class Stub(Agent):
    """One preference-conditioned 'network' per chunk of budget, its entries sharing it."""

    name: ClassVar[str] = "stub"
    Config: ClassVar[type] = StubConfig
    task_kinds: ClassVar[tuple[str, ...]] = ("single", "multi", "offline")
    diagnostics: ClassVar[tuple[str, ...]] = ("loss",)

    def learn(self, total_timesteps: int, callback: Any = None, progress_bar: bool = True) -> ParetoArchive:
        weights = preferences.simplex_grid(self.num_objectives, 0.5)
        with self.progress(total_timesteps, progress_bar) as advance:
            while self.budget_spent < total_timesteps:
                step = min(self.config.chunk * 3, total_timesteps - self.budget_spent)
                self.num_timesteps += step if self.budget_unit == "env_steps" else 0
                self.gradient_steps += step
                advance(step * 2)  # an agent that over-reports must not move the bar past the budget
                name = f"stub@{self.budget_spent}"
                self.archive.add_network(name, {"scale": torch.tensor([self.config.scale * self.budget_spent])})
                for w in weights:
                    self.archive.add(w * self.budget_spent, network=name, preference=w)
                self.log_diagnostics({"loss": 1.0 / self.budget_spent})
                self.log_front()
                self.checkpoint()
                if callback is not None and callback(self, {}) is False:
                    break
        return self.archive

    def entry_predictor(self, entry_id: int) -> tasks.Predictor:
        def predict(obs, preference, state=None, episode_start=None, action_masks=None, deterministic=True):
            count = 0 if state is None else state
            return np.zeros(len(obs), dtype=np.int64), count + 1

        return predict


class OfflineStub(Stub):
    name: ClassVar[str] = "offline-stub"
    budget_unit: ClassVar[str] = "gradient_steps"


class PairEnv:
    """A 2-agent parallel env of 3 steps: each step rewards the team (1, 0) or (0, 1) by agent 0's action."""

    metadata: ClassVar[dict] = {"name": "pair_v0"}
    possible_agents: ClassVar[list[str]] = ["a", "b"]

    def __init__(self) -> None:
        self.agents: list[str] = []
        self.t = 0

    def observation_space(self, agent: str) -> gym.Space:
        return gym.spaces.Box(0, 3, (1,))

    def action_space(self, agent: str) -> gym.Space:
        return gym.spaces.Discrete(2)

    def reward_space(self, agent: str) -> gym.Space:
        return gym.spaces.Box(0, 1, (2,))

    def reset(self, seed=None, options=None):
        self.agents, self.t = list(self.possible_agents), 0
        return {a: np.array([0.0], dtype=np.float32) for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions):
        self.t += 1
        reward = np.array([1.0, 0.0]) if actions["a"] == 0 else np.array([0.0, 1.0])
        done = self.t >= 3
        obs = {a: np.array([self.t], dtype=np.float32) for a in self.agents}
        flags = {a: done for a in self.agents}
        infos = {a: {} for a in self.agents}
        rewards = {a: reward.copy() for a in self.agents}
        if done:
            self.agents = []
        return obs, rewards, flags, {a: False for a in flags}, infos


def toy_dataset(env_id: str | None = None) -> Dataset:
    rng = np.random.default_rng(0)
    rewards = rng.uniform(0, 1, size=(12, 2))
    ends = np.zeros(12, dtype=bool)
    ends[[3, 7, 11]] = True
    return Dataset(
        "toy-dataset", rng.normal(size=(12, 4)).astype(np.float32), rng.integers(0, 2, 12), rewards,
        ends, np.zeros(12, dtype=bool), gym.spaces.Box(-5, 5, (4,)), gym.spaces.Discrete(2), env_id,
    )  # fmt: skip


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(agents.REGISTRY, "stub", Stub)
    monkeypatch.setitem(agents.REGISTRY, "offline-stub", OfflineStub)


def test_gym_multiagent_and_dataset_tasks_build_agents_through_one_path(tmp_path, registered):
    gym_task = tasks.make("morl/treasure-corridor-v0")
    multi_task = multiagent.task(PairEnv, ref_point=[-1.0, -1.0])
    data_task = tasks.make(toy_dataset())
    assert (gym_task.kind, multi_task.kind, data_task.kind) == ("single", "multi", "offline")
    assert multi_task.num_agents == 2 and data_task.num_objectives == 2
    for algo, task, unit in [("stub", gym_task, "env_steps"), ("stub", multi_task, "env_steps"),
                             ("offline-stub", data_task, "gradient_steps")]:  # fmt: skip
        out = tmp_path / task.kind
        result = morl.train(algo, task, total_timesteps=1000, out=out, progress_bar=False)
        assert result.agent.task is task and result.agent.budget_spent == 1000
        config = runs.read_config(out)
        assert config["kind"] == task.kind and config["budget_unit"] == unit and config["budget"] == 1000
        run = runs.load_run(out)
        assert run.budget_unit == unit and run.metrics[unit][-1] == 1000
        assert run.report()["hypervolume"] == pytest.approx(result.report["hypervolume"])
        assert result.report["hypervolume"] > 0


def test_agents_refuse_tasks_of_another_kind_by_name():
    with pytest.raises(ValueError, match="cmorl trains on single tasks; 'pair_v0' is a multi task"):
        CMORL(multiagent.task(PairEnv, ref_point=[-1.0, -1.0]))
    with pytest.raises(ValueError, match="is a offline task"):
        CMORL(toy_dataset())


def test_multiagent_task_evaluates_a_recurrent_predictor():
    task = multiagent.task(PairEnv, ref_point=[-1.0, -1.0])
    starts = []

    def predict(obs, preference, state=None, episode_start=None, action_masks=None, deterministic=True):
        starts.append((bool(episode_start[0]), state))
        return np.full(len(obs), 1 if preference[1] > 0.5 else 0), (0 if episode_start[0] else state + 1)

    result = task.evaluate(predict, [0.0, 1.0], episodes=2, seed=0)
    np.testing.assert_array_equal(result.mean_return, [0.0, 3.0])
    assert [s for s, _ in starts] == [True, False, False] * 2 and [s for _, s in starts][:3] == [None, 0, 1]


def test_dataset_task_without_env_trains_but_cannot_be_rolled_out():
    task = tasks.make(toy_dataset())
    np.testing.assert_allclose(task.ref_point, toy_dataset().episode_returns().min(axis=0) - 1.0)
    with pytest.raises(ValueError, match="cannot be rolled out"):
        task.evaluate(lambda *a, **k: (0, None), [0.5, 0.5])
    with pytest.raises(ValueError, match="last step must end an episode"):
        Dataset("bad", np.zeros((2, 1)), np.zeros(2), np.zeros((2, 2)), [False, False], [False, False],
                gym.spaces.Box(0, 1, (1,)), gym.spaces.Discrete(2))  # fmt: skip


def test_dataset_naming_its_env_is_evaluated_there():
    task = tasks.make(toy_dataset("morl/treasure-corridor-v0"))
    assert task.kind == "offline" and task.true_front is not None
    result = task.evaluate(lambda obs, w, *a, **k: (np.ones(len(obs), dtype=np.int64), None), [1.0, 0.0], 1, 0)
    np.testing.assert_array_equal(result.mean_return, [1.0, -1.0])  # dig at once: the first treasure


def test_shared_network_entries_round_trip_with_weights_saved_once(tmp_path):
    archive = ParetoArchive(2)
    archive.add_network("net@1", {"w": torch.arange(3.0)})
    assert archive.add([1.0, 0.0], network="net@1", preference=[1.0, 0.0])
    assert archive.add([0.0, 1.0], network="net@1", preference=[0.0, 1.0])
    archive.add_network("ctx@1", {"w": torch.ones(2)})
    assert archive.add([0.6, 0.6], network="ctx@1", condition=[0.3, -0.2, 5.0])
    assert archive.add([2.0, -1.0], policy={"w": torch.zeros(1)}, preference=[1.0, 0.0])
    archive.save(tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.safetensors")) == [
        "network-ctx@1.safetensors", "network-net@1.safetensors", "policy-3.safetensors",
    ]  # fmt: skip
    loaded = ParetoArchive.load(tmp_path)
    by_value = {tuple(e.value): e for e in loaded.entries}
    assert by_value[(0.0, 1.0)].network == "net@1" and by_value[(0.0, 1.0)].preference.tolist() == [0.0, 1.0]
    assert by_value[(0.6, 0.6)].condition.tolist() == [0.3, -0.2, 5.0]
    torch.testing.assert_close(loaded.network("net@1")["w"], torch.arange(3.0))
    assert by_value[(2.0, -1.0)].policy["w"].tolist() == [0.0]
    # a network no entry names any more is not written again, and its file goes
    assert archive.add([5.0, 5.0], policy={"w": torch.zeros(1)})
    archive.save(tmp_path)
    assert [p.name for p in tmp_path.glob("network-*")] == []


def test_shared_network_entries_are_checked():
    archive = ParetoArchive(2)
    with pytest.raises(ValueError, match="unknown shared network 'x'"):
        archive.add([1.0, 0.0], network="x", preference=[1.0, 0.0])
    archive.add_network("x", {"w": torch.zeros(1)})
    with pytest.raises(ValueError, match="needs its preference or condition"):
        archive.add([1.0, 0.0], network="x")
    with pytest.raises(ValueError, match="not both"):
        archive.add([1.0, 0.0], policy={"w": torch.zeros(1)}, network="x", preference=[1.0, 0.0])
    with pytest.raises(ValueError, match="already registered"):
        archive.add_network("x", {"w": torch.ones(1)})
    archive.add_network("x", {"w": torch.zeros(1)})  # the same snapshot again (an agent evaluated twice at one step)
    with pytest.raises(ValueError, match="network name"):
        archive.add_network("../evil", {})


def test_version_1_archives_still_load(tmp_path):
    from morl import storage

    storage.save_tensors(tmp_path / "policy-0.safetensors", {"w": torch.ones(2)})
    index = {
        "format": "morl.ParetoArchive",
        "version": 1,
        "num_objectives": 2,
        "max_size": None,
        "next_id": 2,
        "entries": [
            {
                "id": 0,
                "value": [1.0, 2.0],
                "preference": None,
                "meta": {"job": "init-0"},
                "weights": "policy-0.safetensors",
            },
            {"id": 1, "value": [2.0, 1.0], "preference": [0.5, 0.5], "meta": {}, "weights": None},
        ],
    }
    (tmp_path / "index.json").write_text(json.dumps(index))
    archive = ParetoArchive.load(tmp_path)
    assert [e.network for e in archive.entries] == [None, None] and archive.entries[0].policy["w"].tolist() == [1, 1]
    assert archive.entries[1].preference.tolist() == [0.5, 0.5]


def test_progress_bar_stops_at_the_budget(registered, monkeypatch):
    seen = []

    class Recorder:
        def __init__(self, total, initial, **kwargs):
            self.total, self.n = total, initial
            seen.append(self)

        def update(self, n):
            self.n += n

        def close(self):
            pass

    monkeypatch.setattr(base, "tqdm", Recorder)
    Stub("morl/treasure-corridor-v0").learn(1000)
    assert seen[0].n == seen[0].total == 1000


def test_diagnostics_and_metrics_keep_stable_columns_and_a_stopped_run_resumes(tmp_path, registered):
    out = tmp_path / "run"
    stop_after_two = iter([True, False])
    first = morl.train("stub", "morl/treasure-corridor-v0", total_timesteps=1500, out=out, progress_bar=False,
                       callback=lambda agent, info: next(stop_after_two))  # fmt: skip
    assert first.agent.num_timesteps == 600
    result = morl.train(resume=out, progress_bar=False)
    assert result.agent.num_timesteps == 1500  # continued from the checkpoint, not from zero
    train_rows = runs.read_metrics(out, runs.TRAIN_FILE)
    assert list(train_rows) == ["env_steps", "gradient_steps", "loss"] and len(train_rows["loss"]) == 5
    header = (out / runs.METRICS_FILE).read_text().splitlines()[0].split(",")
    assert tuple(header) == runs.EVAL_COLUMNS
    assert runs.read_metrics(out)["env_steps"].tolist() == [300, 600, 900, 1200, 1500]


def test_renamed_and_unknown_hyperparameters_say_what_to_do():
    with pytest.raises(ValueError, match="'num_envs' is now called 'n_envs'"):
        CMORL("morl/treasure-corridor-v0", num_envs=2)
    with pytest.raises(ValueError, match=r"valid: .*n_envs"):
        CMORL("morl/treasure-corridor-v0", n_env=2)
    with pytest.raises(ValueError, match=r"learning_rate: .*got 'fast'"):
        CMORL("morl/treasure-corridor-v0", learning_rate="fast")


def test_one_name_per_hyperparameter_across_agents():
    from morl.agents.cmorl import CMORLConfig
    from morl.agents.scalarized import ScalarizedConfig

    shared = {"n_envs", "n_steps", "n_epochs", "learning_rate", "net_arch", "gamma", "ent_coef"}
    for config in (CMORLConfig, ScalarizedConfig):
        assert shared <= set(config.__dataclass_fields__), config.__name__
