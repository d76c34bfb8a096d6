"""``morl eval`` and ``morl plot`` as a user runs them: other directories, saved measurements, safe output."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from morl import cli
from morl.pareto import ParetoArchive

MODULE = "evalcli_user_env"  # a name no other test imports
USER_ENV = textwrap.dedent(
    """
    import gymnasium as gym
    import numpy as np


    class TwoSteps(gym.Env):
        '''Two steps; action 0 earns (1, 0) and action 1 earns (0, 1) per step.'''

        observation_space = gym.spaces.Box(0.0, 1.0, (1,), dtype=np.float32)
        action_space = gym.spaces.Discrete(2)
        reward_space = gym.spaces.Box(0.0, 1.0, (2,), dtype=np.float32)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.t = 0
            return np.zeros(1, dtype=np.float32), {}

        def step(self, action):
            self.t += 1
            reward = np.array([1.0, 0.0] if int(action) == 0 else [0.0, 1.0], dtype=np.float32)
            return np.full(1, self.t / 2, dtype=np.float32), reward, self.t >= 2, False, {}
    """
)
TINY = ["--set", "num_preferences=2", "n_steps=32", "n_envs=2", "eval_episodes=1", "n_epochs=1", "batch_size=32"]


def run_cli(*argv: object) -> int:
    return cli.main([str(a) for a in argv])


@pytest.fixture(scope="module")
def user_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(directory holding the user's env module, run directory trained on it from there); ~3 s."""
    root = tmp_path_factory.mktemp("user")
    env_dir, run_dir = root / "project", root / "runs" / "run"
    env_dir.mkdir()
    (env_dir / f"{MODULE}.py").write_text(USER_ENV)
    cwd = Path.cwd()
    os.chdir(env_dir)
    try:
        code = run_cli(
            "train", "scalarized", "--env", f"{MODULE}:TwoSteps", "--total-timesteps", 256, "--ref-point", 0, 0,
            "--out", run_dir, "--no-progress", *TINY,
        )  # fmt: skip
    finally:
        os.chdir(cwd)
        sys.modules.pop(MODULE, None)  # as in a fresh `morl eval` process
    assert code == 0
    yield env_dir, run_dir
    sys.modules.pop(MODULE, None)


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("morl: error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def test_eval_scores_a_custom_env_run_from_another_directory_without_importing_it(
    user_run, tmp_path, monkeypatch, capsys
):
    _, run_dir = user_run
    monkeypatch.chdir(tmp_path)
    assert run_cli("eval", run_dir) == 0
    assert MODULE not in sys.modules
    stored = capsys.readouterr().out
    assert "hypervolume:" in stored and "expected_utility:" in stored

    # --ref-point replaces the stored one for this scoring, and says so
    assert run_cli("eval", run_dir, "--ref-point", -1, -1) == 0
    out = capsys.readouterr().out
    assert "reference point: [-1.0, -1.0] (--ref-point, replacing the run's stored [0.0, 0.0])" in out
    archive = ParetoArchive.load(run_dir / "archive", load_policies=False)
    hv = float(next(line for line in out.splitlines() if line.startswith("hypervolume:")).split()[1])
    assert hv == pytest.approx(archive.hypervolume([-1.0, -1.0]), rel=1e-5)
    assert json.loads((run_dir / "config.json").read_text())["ref_point"] == [0.0, 0.0]  # the run is not changed

    assert run_cli("eval", run_dir, "--ref-point", 0, 0, 0) == 2
    err = one_line_error(capsys)
    assert "--ref-point has 3 values" in err and "2 objectives: give 2 values" in err
    assert MODULE not in sys.modules


def test_eval_episodes_without_the_env_module_says_where_to_run_from(user_run, tmp_path, monkeypatch, capsys):
    _, run_dir = user_run
    monkeypatch.chdir(tmp_path)
    assert run_cli("eval", run_dir, "--episodes", 1) == 2
    err = one_line_error(capsys)
    assert f"cannot import module {MODULE!r}" in err
    assert "from the directory that holds" in err and "PYTHONPATH" in err and "without --episodes" in err


def test_eval_episodes_out_saves_stored_and_measured_returns(user_run, tmp_path, monkeypatch, capsys):
    env_dir, run_dir = user_run
    monkeypatch.chdir(env_dir)
    target = tmp_path / "results" / "eval.json"
    try:
        assert run_cli("eval", run_dir, "--episodes", 2, "--seed", 7, "--out", target) == 0
    finally:
        sys.modules.pop(MODULE, None)
    out = capsys.readouterr().out
    assert f"wrote {target}" in out
    saved = json.loads(target.read_text())
    archive = ParetoArchive.load(run_dir / "archive", load_policies=False)
    assert saved["episodes"] == 2 and saved["seed"] == 7 and saved["env"] == f"{MODULE}:TwoSteps"
    assert saved["ref_point"] == [0.0, 0.0] and len(saved["entries"]) == len(archive) >= 1
    for row, entry in zip(saved["entries"], archive.entries, strict=True):
        assert row["id"] == entry.id and row["stored"] == pytest.approx(entry.value.tolist())
        assert len(row["preference"]) == 2 and row["episodes"] == 2 and row["seed"] == 7
        assert len(row["episode_returns"]) == 2
        np.testing.assert_allclose(np.mean(row["episode_returns"], axis=0), row["measured"])
        assert sum(row["measured"]) == pytest.approx(2.0)  # two steps, one unit of reward each
        assert f"entry {entry.id}: stored" in out
    measured = np.array([row["measured"] for row in saved["entries"]])
    from morl import metrics

    assert saved["report"]["hypervolume"] == pytest.approx(metrics.hypervolume(measured, [0.0, 0.0]))
    assert not [p for p in target.parent.iterdir() if p != target]  # no temporary file left behind


def test_eval_out_without_episodes_saves_the_stored_scoring(user_run, tmp_path, capsys):
    _, run_dir = user_run
    target = tmp_path / "scored.json"
    assert run_cli("eval", run_dir, "--out", target) == 0
    saved = json.loads(target.read_text())
    assert saved["episodes"] == 0 and saved["report"]["cardinality"] >= 1
    assert all("measured" not in row for row in saved["entries"])
    assert run_cli("eval", run_dir, "--out", tmp_path) == 2
    assert "is a directory" in one_line_error(capsys)
    assert run_cli("eval", run_dir, "--episodes", -1) == 2
    assert "--episodes must be 0" in one_line_error(capsys)


# --- morl plot -----------------------------------------------------------------------------------
def make_run(root: Path, name: str, env: str, values: list[list[float]], **config: object) -> Path:
    run = root / name
    run.mkdir(parents=True)
    record = {"algo": "cmorl", "env": env, "seed": 0, "ref_point": [0.0] * len(values[0]), **config}
    (run / "config.json").write_text(json.dumps(record))
    archive = ParetoArchive()
    for v in values:
        archive.add(v)
    archive.save(run / "archive")
    return run


def test_plot_refuses_to_overwrite_an_output_directory_unless_forced(tmp_path, monkeypatch, capsys):
    a = make_run(tmp_path, "a", "deep-sea-treasure-v0", [[1.0, 2.0]])
    b = make_run(tmp_path, "b", "deep-sea-treasure-v0", [[2.0, 1.0]], seed=1)
    monkeypatch.chdir(tmp_path)
    assert run_cli("plot", a, b) == 0  # default ./plots for several runs
    front = tmp_path / "plots" / "front.png"
    before = front.read_bytes()
    capsys.readouterr()
    assert run_cli("plot", a) == 0 and run_cli("plot", b) == 0  # a single run refreshes its own plots/
    capsys.readouterr()

    assert run_cli("plot", b, a) == 2
    err = one_line_error(capsys)
    assert f"output directory {tmp_path / 'plots'} already holds plots (front.png, front.svg)" in err
    assert "--force" in err and "--out" in err
    assert front.read_bytes() == before

    out = tmp_path / "cmp"
    assert run_cli("plot", a, b, "--out", out) == 0
    assert run_cli("plot", a, b, "--out", out) == 2
    one_line_error(capsys)
    assert run_cli("plot", a, b, "--out", out, "--force") == 0
    assert run_cli("plot", a, "--out", a / "plots") == 0  # the run's own plots dir, named explicitly
    assert run_cli("plot", a, "--out", out) == 2  # but not another directory


def test_plot_help_documents_env_grouping_and_force(capsys):
    with pytest.raises(SystemExit):
        run_cli("plot", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert "--force" in text and "never overlaid" in text and "front-<env>.png" in text and "refused" in text


def test_plot_gives_runs_of_different_envs_their_own_figures(tmp_path, capsys):
    dst = make_run(tmp_path, "dst", "deep-sea-treasure-v0", [[1.0, -2.0]], objective_names=["treasure", "time"])
    corridor = make_run(tmp_path, "cor", "morl/treasure-corridor-v0", [[3.0, -4.0]])
    assert run_cli("plot", dst, corridor, "--out", tmp_path / "out") == 0
    printed = capsys.readouterr().out
    svgs = {p.name: p.read_text() for p in (tmp_path / "out").glob("*.svg")}
    assert set(svgs) == {"front-deep-sea-treasure-v0.svg", "front-morl_treasure-corridor-v0.svg"}
    assert "front-deep-sea-treasure-v0.png" in printed
    one, other = svgs["front-deep-sea-treasure-v0.svg"], svgs["front-morl_treasure-corridor-v0.svg"]
    assert "cmorl-deep-sea-treasure-v0-0" in one and "cmorl-morl/treasure-corridor-v0-0" not in one
    assert "cmorl-morl/treasure-corridor-v0-0" in other and "cmorl-deep-sea-treasure-v0-0" not in other
    assert "<!-- treasure -->" in one and "<!-- time -->" in one and "objective 1" not in one  # the env's names
    assert "<!-- objective 1 -->" in other and "<!-- treasure -->" not in other
