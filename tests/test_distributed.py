import os

import numpy as np
import pytest

from morl import distributed, preferences
from morl.agents.cmorl import CMORL


@pytest.mark.parametrize("executor", ["serial", "local", "ray"])
def test_results_come_back_in_order(executor):
    # a library function: Ray workers cannot import functions defined in test modules
    results = distributed.run_jobs(preferences.extremes, [(d,) for d in range(1, 6)], executor=executor, workers=2)
    assert [r.shape for r in results] == [(d, d) for d in range(1, 6)]


def test_unknown_executor_lists_choices():
    with pytest.raises(ValueError, match="local, ray, serial"):
        distributed.run_jobs(preferences.extremes, [(1,), (2,)], executor="dask", workers=2)


def test_cmorl_on_ray_matches_serial():
    # few rounds: each is a round trip to Ray
    hp = {"n_envs": 2, "n_steps": 32, "eval_interval": 5, "update_iter": 10, "eval_episodes": 1,
          "policies_per_batch": 2}  # fmt: skip
    serial = CMORL("morl/treasure-corridor-v0", seed=5, executor="serial", **hp).learn(4_000, progress_bar=False)
    on_ray = CMORL("morl/treasure-corridor-v0", seed=5, executor="ray", **hp).learn(4_000, progress_bar=False)
    np.testing.assert_array_equal(np.sort(serial.values, axis=0), np.sort(on_ray.values, axis=0))


def test_job_pool_keeps_its_workers_across_batches():
    with distributed.JobPool("local", workers=2) as pool:
        first = set(pool.stream(os.getpid, [()] * 4))
        second = set(pool.stream(os.getpid, [()] * 4))
    assert os.getpid() not in first | second
    assert len(first | second) <= 2  # the same two processes served both batches


def test_pool_workers_end_when_their_parent_is_killed(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = tmp_path / "parent.py"
    script.write_text(
        "import os, time\n"
        "from morl.distributed import JobPool\n"
        "if __name__ == '__main__':\n"
        "    with JobPool('local', 1, isolate=True) as pool:\n"
        "        print(next(pool.stream(os.getpid, [()])), flush=True)\n"
        "        next(pool.stream(time.sleep, [(120,)]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    worker = int(parent.stdout.readline())
    time.sleep(0.5)  # the worker is now inside time.sleep(120)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 15
    while time.time() < deadline and Path(f"/proc/{worker}").exists():
        time.sleep(0.1)
    alive = Path(f"/proc/{worker}").exists() and "Z" not in Path(f"/proc/{worker}/stat").read_text().split()[2]
    if alive:
        os.kill(worker, signal.SIGKILL)
    assert not alive, "the pool worker outlived its killed parent"
