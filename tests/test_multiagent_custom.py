"""A user's own MOMAland / PettingZoo parallel env plugs in as ``--env module:factory``, like a single-agent one.

The envs live in ``tests/ma_custom_envs.py`` (importable as ``tests.ma_custom_envs:...`` from the repository root,
as a user's module is from their working directory). ``TwoSwitches`` is a two-agent, two-step cooperative env whose
team returns lie on x + y = 2; the broken variants each break one clause of the multi-agent contract.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from morl import cli, envs, tasks
from morl.multiagent import MultiAgentEnv
from morl.multiagent.check import check_env

ROOT = Path(__file__).resolve().parent.parent
MODULE = "tests.ma_custom_envs"
FACTORY = f"{MODULE}:factory"
TINY = ["n_envs=2", "batch_size=4", "buffer_size=50", "rnn_hidden_dim=16", "mixing_embed_dim=8", "hypernet_embed=16",
        "eval_interval=200", "preference_step=0.5"]  # fmt: skip

BROKEN = [
    ("scalar_rewards", r"two_switches_v0\.step returned a scalar reward 1\.0 for agent 'left'; a multi-objective env "
                       r"returns a vector of shape \(2,\)"),
    ("NoRewardSpace", r"two_switches_v0 has no reward_space\(agent\): define it"),
    ("wrong_shape", r"two_switches_v0\.step returned a reward of shape \(3,\) for agent 'left'; "
                    r"reward_space has \(2,\)"),
]  # fmt: skip


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from the repository root, where ``tests.ma_custom_envs`` imports; torch on one thread (busy cores)."""
    monkeypatch.chdir(ROOT)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _helpers():
    return importlib.import_module(MODULE)


def test_module_factory_becomes_a_multiagent_task_with_a_derived_reference_point() -> None:
    task = tasks.make(FACTORY)
    assert task.kind == "multi" and task.num_agents == 2 and task.num_objectives == 2
    assert task.spec == FACTORY and task.record()["env"] == FACTORY  # what config.json keeps, to rebuild it
    np.testing.assert_array_equal(task.ref_point, [-1.0, -1.0])  # rewards >= 0
    assert task.ref_source.startswith("derived: reward_space.low >= 0")
    always_one = lambda obs, w, state=None, start=None, masks=None: (np.ones(2, dtype=np.int64), None)  # noqa: E731
    np.testing.assert_array_equal(task.evaluate(always_one, [0.5, 0.5], episodes=1).mean_return, [2.0, 0.0])
    # Negative lows: team low per step (-1, -1) x horizon 2, minus 1; a given point wins.
    penalised = tasks.make(f"{MODULE}:Penalised")
    np.testing.assert_array_equal(penalised.ref_point, [-3.0, -3.0])
    assert "x 2 steps" in penalised.ref_source
    summed = tasks.make(f"{MODULE}:penalised", team_reward="sum")  # team low per step (-2, -2): both agents
    np.testing.assert_array_equal(summed.ref_point, [-5.0, -5.0])
    assert summed.env_kwargs == {"team_reward": "sum"}
    assert tasks.make(FACTORY, ref_point=[-2, -2]).ref_source == "given"
    # The same routing for a factory passed in-process, and a single-agent module:Class still goes its own way.
    assert tasks.make(_helpers().TwoSwitches, horizon=3).env_kwargs == {"horizon": 3}
    assert tasks.make("tests.test_spaces:MultiBinaryActions").kind == "single"


def test_a_function_factory_is_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    helpers, built = _helpers(), []
    monkeypatch.setattr(helpers.TwoSwitches, "__init__", lambda self, horizon=2: (
        built.append(self), setattr(self, "possible_agents", ["left", "right"]), setattr(self, "agents", []),
        setattr(self, "horizon", horizon), setattr(self, "t", 0))[-1])  # fmt: skip
    tasks.make(FACTORY)
    assert len(built) == 1  # probed, checked, and the task derived from one env


def test_check_env_accepts_it_and_names_momix(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check-env", FACTORY]) == 0
    out = capsys.readouterr().out
    assert f"{FACTORY}: OK (2 objectives, 2 agents" in out and "global state env.state(), 2 values" in out
    assert "agents that take it: momix" in out


@pytest.mark.parametrize(("attr", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_envs_get_one_line_from_check_env_and_train(attr, message, tmp_path, capsys) -> None:
    with pytest.raises(envs.EnvCheckError, match=message):
        check_env(getattr(_helpers(), attr)())
    spec = f"{MODULE}:{attr}"
    assert cli.main(["check-env", spec]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err)
    argv = ["train", "momix", "--env", spec, "--total-timesteps", "50", "--out", str(tmp_path / "run"), "--no-progress"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err)


def test_state_that_empties_after_the_last_step_repeats_the_last_one() -> None:
    env = MultiAgentEnv(_helpers().EmptyStateAtEnd())
    _, state, _ = env.reset()
    _, state, _, done, _ = env.step([0, 0])
    assert not done and state.tolist() == [1.0, 1.0]
    _, last, _, done, _ = env.step([0, 0])
    assert done and last.tolist() == [1.0, 1.0]  # env.state() is empty now: the last state again


def test_state_that_changes_length_mid_episode_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    env = MultiAgentEnv(_helpers().TwoSwitches(horizon=3))
    env.reset()
    monkeypatch.setattr(env.env, "state", lambda: np.zeros(5, dtype=np.float32))
    with pytest.raises(ValueError, match="global state changed length from 2 to 5 at step 1"):
        env.step([0, 0])


def test_trains_with_momix_from_the_cli_and_rerolls(tmp_path, capsys) -> None:
    run_dir = tmp_path / "run"
    argv = ["train", "momix", "--env", FACTORY, "--total-timesteps", "400", "--out", str(run_dir), "--no-progress",
            "--set", *TINY]  # fmt: skip
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "reference point: [-1.0, -1.0] (derived" in out
    config = json.loads((run_dir / "config.json").read_text())
    assert config["env"] == FACTORY and config["algo"] == "momix"
    assert cli.main(["eval", str(run_dir), "--episodes", "1"]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"entry \d+: stored (\[.*?\]) measured (\[.*?\])", out)
    assert rows, out
    for stored, measured in rows:  # a deterministic env: re-rolled returns are the stored ones
        assert json.loads(stored) == json.loads(measured)
        assert sum(json.loads(measured)) == pytest.approx(2.0)  # every team return lies on x + y = 2
    assert "hypervolume:" in out
