"""A run directory's life: one holder at a time, one training per directory, exact resume, clean interrupts."""

from __future__ import annotations

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
import torch

import morl
from morl import runs, tasks
from morl.agents import cmorl_jobs
from morl.agents.base import resolve_device
from morl.agents.cmorl import CMORL
from morl.pareto import ParetoArchive
from morl.training import Interrupted

REPO = Path(__file__).resolve().parents[1]
CORRIDOR = "morl/treasure-corridor-v0"
SMALL = {"n_envs": 4, "n_steps": 32, "eval_interval": 5, "update_iter": 5, "eval_episodes": 1, "executor": "serial"}
BUDGET = 20_000


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _train(out: Path, **kwargs):
    hparams = {**SMALL, **kwargs.pop("hparams", {})}
    return morl.train("cmorl", CORRIDOR, total_timesteps=kwargs.pop("budget", BUDGET), seed=1, out=out,
                      hparams=hparams, progress_bar=False, tensorboard=False, **kwargs)  # fmt: skip


def _same_run(a: Path, b: Path) -> None:
    """Same archive (ids, values, preferences) and the same metrics rows."""
    first, second = ParetoArchive.load(a / "archive"), ParetoArchive.load(b / "archive")
    assert [e.id for e in first.entries] == [e.id for e in second.entries]
    np.testing.assert_array_equal(first.values, second.values)
    rows_a, rows_b = runs.read_metrics(a), runs.read_metrics(b)
    np.testing.assert_array_equal(rows_a["env_steps"], rows_b["env_steps"])
    np.testing.assert_array_equal(rows_a["hypervolume"], rows_b["hypervolume"])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "run"
    _train(out, hparams={"policies_per_batch": 1})
    return out


def test_interrupt_in_stage_two_resumes_to_the_uninterrupted_archive(tmp_path, monkeypatch, uninterrupted):
    """Ctrl-C after some of an extension round's jobs were merged (and logged) but before its checkpoint."""
    out = tmp_path / "run"
    original, calls = runs.Run.log_front, []

    def interrupt_mid_round(self, archive, env_steps, gradient_steps=0):
        calls.append(env_steps)
        if len(calls) == 6:  # 3 stage-1 jobs, then the 3rd job of the first extension round
            raise KeyboardInterrupt
        return original(self, archive, env_steps, gradient_steps)

    monkeypatch.setattr(runs.Run, "log_front", interrupt_mid_round)
    with pytest.raises(Interrupted, match="resume with morl train --resume"):
        _train(out, hparams={"policies_per_batch": 1})
    monkeypatch.undo()
    assert json.loads((out / "checkpoints" / "agent.json").read_text())["state"]["stage"] == 2
    _train(None, resume=out)
    _same_run(out, uninterrupted)


def test_kill_inside_a_batch_resumes_from_its_checkpoint_with_the_same_numbers(tmp_path, monkeypatch):
    """A batch resumed from its own checkpoint repeats the numbers of one that was never stopped."""
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    _train(whole)
    original, saves = cmorl_jobs._save_batch, []

    def stop_after_second_save(*args, **kwargs):
        original(*args, **kwargs)
        saves.append(1)
        if len(saves) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(cmorl_jobs, "_save_batch", stop_after_second_save)
    with pytest.raises(Interrupted):
        _train(cut)
    monkeypatch.undo()
    job_checkpoint = next((cut / "checkpoints" / "jobs").glob("init-*.json"))
    assert json.loads(job_checkpoint.read_text())["state"]["updates_done"] == 10
    _train(None, resume=cut)
    _same_run(cut, whole)


def test_a_second_trainer_is_refused_and_a_dead_holders_lock_is_taken_over(tmp_path):
    task = tasks.make(CORRIDOR)
    run = runs.Run.open(tmp_path, task)
    code = f"from morl import runs, tasks; runs.Run.open({str(tmp_path)!r}, tasks.make({CORRIDOR!r}))"
    try:
        proc = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True)
        assert proc.returncode != 0 and f"is in use by pid {os.getpid()}" in proc.stderr
    finally:
        run.close()
    (tmp_path / runs.LOCK_FILE).write_text("pid 999999999 on elsewhere since long ago\n")  # holder died
    runs.Run.open(tmp_path, task).close()


def test_cli_refuses_a_second_trainer_in_one_line(uninterrupted):
    run = runs.Run.open(uninterrupted, tasks.make(CORRIDOR))
    try:
        proc = subprocess.run([sys.executable, "-m", "morl.cli", "train", "--resume", str(uninterrupted)],
                              env=_env(), capture_output=True, text=True)  # fmt: skip
    finally:
        run.close()
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "is in use by pid" in proc.stderr


def test_a_finished_run_refuses_other_settings(uninterrupted):
    out = uninterrupted
    with pytest.raises(ValueError, match=r"hparams\.learning_rate: 0\.0003 there, 0\.001 now"):
        _train(None, resume=out, hparams={"learning_rate": 1e-3})
    with pytest.raises(ValueError, match="seed 1, not 2"):
        morl.train(resume=out, seed=2, progress_bar=False)
    with pytest.raises(ValueError, match="give total_timesteps >= 20,000"):
        _train(None, resume=out, budget=4_000)
    # the library path: a finished directory reopened by an agent built with other hyperparameters
    agent = CMORL(CORRIDOR, seed=1, **{**SMALL, "policies_per_batch": 1, "beta": 0.5})
    run = runs.Run.open(out, agent.task)
    try:
        with pytest.raises(ValueError, match=r"hparams\.beta: 0\.9 there, 0\.5 now"):
            agent.attach(run)
    finally:
        run.close()


def test_resume_with_a_larger_budget_extends_the_run_and_records_it(tmp_path):
    out, hparams = tmp_path / "run", {"executor": "serial", "eval_episodes": 1}
    first = morl.train("cmorl", "deep-sea-treasure-v0", total_timesteps=20_000, seed=1, out=out, hparams=hparams,
                       progress_bar=False, tensorboard=False)  # fmt: skip
    spent = first.agent.num_timesteps
    second = morl.train(resume=out, total_timesteps=30_000, hparams={"executor": "local"}, progress_bar=False,
                        tensorboard=False)  # where jobs run may change: it is not what is trained  # fmt: skip
    config = json.loads((out / "config.json").read_text())
    assert config["budget"] == 30_000
    extension = config["budget_history"]
    assert len(extension) == 1
    assert (extension[0]["from"], extension[0]["to"], extension[0]["spent"]) == (20_000, 30_000, spent)
    assert spent < second.agent.num_timesteps <= 30_000


def test_device_without_cuda_is_one_line_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"CUDA is not available .* use --device cpu or auto"):
        resolve_device("cuda")
    if torch.cuda.is_available():
        return
    proc = subprocess.run([sys.executable, "-m", "morl.cli", "train", "cmorl", "--device", "cuda", "--out",
                           str(tmp_path / "run")], env=_env(), capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "CUDA is not available" in proc.stderr
    assert not (tmp_path / "run").exists()


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def test_ctrl_c_prints_one_line_and_leaves_no_worker(tmp_path):
    out = tmp_path / "run"
    sets = [f"{k}={v}" for k, v in {**SMALL, "executor": "local", "workers": 2}.items()]
    # a budget it cannot finish first
    cmd = [sys.executable, "-m", "morl.cli", "train", "cmorl", "--env", CORRIDOR, "--total-timesteps", "5000000",
           "--out", str(out), "--no-progress", "--set", *sets]  # fmt: skip
    # as from a terminal: SIGINT at its default (a test runner's worker may ignore it, and an ignored
    # signal stays ignored across exec, so Python would never raise KeyboardInterrupt)
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    jobs, deadline, workers = out / "checkpoints" / "jobs", time.time() + 120, set()
    while time.time() < deadline and not list(jobs.glob("*.json")):
        workers |= _children(proc.pid)
        time.sleep(0.05)
    workers |= _children(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the whole process group
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-2000:]
    assert stderr.strip().count("\n") == 0, stderr
    assert f"resume with morl train --resume {out}" in stderr
    assert workers
    deadline = time.time() + 10
    while time.time() < deadline and _alive(workers):
        time.sleep(0.1)
    assert not _alive(workers), [Path(f"/proc/{pid}/cmdline").read_bytes()[:200] for pid in _alive(workers)]


def _alive(pids: set[int]) -> list[int]:
    """Those of ``pids`` still running (a zombie counts as gone)."""
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive


SCRIPT = """
import morl
{env_line}
morl.train("cmorl", ENV, total_timesteps=6000, out={out!r}, progress_bar=False, tensorboard=False,
           hparams={hparams!r})
print("trained")
"""


@pytest.mark.parametrize(
    "env_line",
    ["ENV = " + repr(CORRIDOR), "ENV = lambda: morl.envs.make_env(" + repr(CORRIDOR) + ")"],
    ids=["no-main-guard", "lambda-env"],
)
def test_a_script_that_cannot_use_worker_processes_falls_back_with_one_notice(tmp_path, env_line):
    hparams = {**SMALL, "executor": "local", "workers": 2}
    script = tmp_path / "experiment.py"
    script.write_text(textwrap.dedent(SCRIPT.format(env_line=env_line, out=str(tmp_path / "run"),
                                                    hparams=hparams)))  # fmt: skip
    proc = subprocess.run([sys.executable, str(script)], env=_env(), capture_output=True, text=True, cwd=tmp_path,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "trained" in proc.stdout
    assert "running jobs in this process" in proc.stderr and "Traceback" not in proc.stderr
    hint = "__main__" if "lambda" not in env_line else "module level"
    assert hint in proc.stderr
