import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from morl import agents, cli
from morl.pareto import ParetoArchive
from morl.runs import read_metrics

CORRIDOR = "morl/treasure-corridor-v0"
TINY = ["--set", "num_preferences=3", "n_steps=32", "n_envs=2", "eval_episodes=1", "n_epochs=2", "batch_size=32"]


def run_cli(*argv):
    return cli.main([str(a) for a in argv])


def test_unknown_algorithm_env_and_option_give_one_line(capsys):
    assert run_cli("train", "nope") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"valid choices: {', '.join(sorted(agents.REGISTRY))}" in err

    assert run_cli("train", "scalarized", "--env", "no-such-env-v0") == 2
    err = capsys.readouterr().err.strip()
    assert "unknown env 'no-such-env-v0'" in err and "deep-sea-treasure-v0" in err

    with pytest.raises(SystemExit) as exc:
        run_cli("train", "scalarized", "--bogus")
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--bogus" in err and "--total-timesteps" in err

    assert run_cli("train", "scalarized", "--env", CORRIDOR, "--set", "learning_rat=1") == 2
    assert "valid: algorithm" in capsys.readouterr().err


def test_envs_lists_ids_dims_and_reference_points(capsys):
    assert run_cli("envs") == 0
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if row.startswith("deep-sea-treasure-v0 "))
    assert " single  2 " in line and "[0.0, -25.0]" in line and " yes " in line and "MORL-Baselines" in line
    assert CORRIDOR in out
    multi = next(row for row in out.splitlines() if row.startswith("moitem_gathering_v0 "))
    assert " multi " in multi


def test_check_env_accepts_id_and_module_path(tmp_path, monkeypatch, capsys):
    assert run_cli("check-env", "deep-sea-treasure-v0") == 0
    assert "OK (2 objectives" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    (tmp_path / "user_envs.py").write_text(
        textwrap.dedent(
            """
            import gymnasium as gym
            import numpy as np

            class ScalarEnv(gym.Env):
                observation_space = gym.spaces.Box(0, 1, (1,))
                action_space = gym.spaces.Discrete(2)
                reward_space = gym.spaces.Box(0, 1, (2,))
                def reset(self, *, seed=None, options=None):
                    return np.zeros(1, dtype=np.float32), {}
                def step(self, action):
                    return np.zeros(1, dtype=np.float32), 1.0, True, False, {}
            """
        )
    )
    assert run_cli("check-env", "user_envs:ScalarEnv") == 2
    assert "scalar reward" in capsys.readouterr().err
    assert run_cli("check-env", "user_envs:Missing") == 2
    assert "has no attribute 'Missing'" in capsys.readouterr().err


def test_train_writes_complete_run_directory_then_eval_and_plot(tmp_path, capsys):
    out = tmp_path / "run"
    cfg = tmp_path / "hp.yaml"
    cfg.write_text("learning_rate: 0.001\nnet_arch: [32, 32]\n")
    code = run_cli(
        "train", "scalarized", "--env", CORRIDOR, "--total-timesteps", 3000, "--seed", 3,
        "--out", out, "--config", cfg, "--no-progress", *TINY,
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "hypervolume:" in printed and "true_hypervolume:" in printed

    config = json.loads((out / "config.json").read_text())
    assert config["algo"] == "scalarized" and config["seed"] == 3 and config["env"] == CORRIDOR
    assert config["hparams"]["learning_rate"] == 0.001 and config["hparams"]["net_arch"] == [32, 32]
    assert config["hparams"]["num_preferences"] == 3
    assert config["versions"]["torch"] and config["ref_point"] == [0.0, -6.0]
    rows = read_metrics(out)
    assert len(rows["env_steps"]) == 3 and np.all(np.diff(rows["env_steps"]) > 0)
    assert rows["hypervolume"][-1] > 0 and rows["steps_per_second"][-1] > 0
    assert list(out.glob("events.out.tfevents.*"))
    diagnostics = read_metrics(out, "train.csv")  # SB3's own losses, then each model's returns
    assert {"value_loss", "approx_kl", "learning_rate", "return_0", "return_1"} <= set(diagnostics)
    assert np.isfinite(diagnostics["value_loss"]).any() and np.isfinite(diagnostics["return_1"]).sum() == 3
    archive = ParetoArchive.load(out / "archive")
    assert len(archive) >= 1 and archive.hypervolume([0, -6]) == pytest.approx(rows["hypervolume"][-1])
    for name in ("front.png", "front.svg", "hypervolume.png"):
        assert (out / "plots" / name).stat().st_size > 0

    assert run_cli("eval", out, "--episodes", 2) == 0
    evaluated = capsys.readouterr().out
    assert evaluated.count("measured") == len(archive)

    assert run_cli("train", "scalarized", "--env", CORRIDOR, "--out", out) == 2
    assert "--resume" in capsys.readouterr().err

    assert run_cli("plot", out, out, "--out", tmp_path / "cmp") == 0
    assert (tmp_path / "cmp" / "front.png").exists()


def test_killed_run_resumes_to_a_valid_archive(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "morl.cli", "train", "scalarized", "--env", CORRIDOR, "--total-timesteps", "3000",
           "--out", str(out), "--no-progress", *TINY]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = out / "checkpoints" / "agent.json"
    deadline = time.time() + 120
    while time.time() < deadline and not state.exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert state.exists(), "the run never reached its first checkpoint"
    done_before = json.loads(state.read_text())["state"]["completed"]
    assert len(done_before) in (1, 2)

    assert run_cli("train", "--resume", out, "--no-progress") == 0
    final = json.loads(state.read_text())["state"]
    assert sorted(final["completed"]) == [0, 1, 2]
    assert final["completed"][: len(done_before)] == done_before  # finished work was not redone
    archive = ParetoArchive.load(out / "archive")
    assert len(archive) >= 2
    assert (out / "agent.json").exists() and (out / "plots" / "front.png").exists()


def test_eval_scores_runs_of_external_algorithms_without_policies(tmp_path, capsys):
    from morl import tasks
    from morl.runs import write_external_run

    task = tasks.make("deep-sea-treasure-v0", ref_point=[0.0, 0.0])
    archive = ParetoArchive(2)
    archive.add([1.0, 2.0])
    archive.add([2.0, 1.0])
    write_external_run(tmp_path, task, {"algo": "pgmorl", "seed": 0}, archive, env_steps=1000, wall_time=3.0)
    assert run_cli("eval", tmp_path) == 0
    assert "hypervolume: 3" in capsys.readouterr().out
    assert run_cli("eval", tmp_path, "--episodes", 2) == 2
    assert "not re-rolled" in capsys.readouterr().err


def test_envs_names_this_packages_extra_for_missing_dependencies(monkeypatch, capsys):
    import gymnasium as gym

    from morl import envs

    real = envs.make_env

    def make_env(spec, **kwargs):
        if "hopper" in str(spec):
            raise gym.error.DependencyNotInstalled('MuJoCo is not installed, run `pip install "gymnasium[mujoco]"`')
        return real(spec, **kwargs)

    monkeypatch.setattr(envs, "make_env", make_env)
    assert run_cli("envs") == 0
    line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith("mo-hopper-v5 "))
    assert "pip install 'morl[mujoco]'" in line and "gymnasium[mujoco]" not in line
