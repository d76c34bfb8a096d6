"""Kill a C-MORL training with ``kill -9`` again and again, resume it each time, and compare.

The run killed ``--kills`` times at random moments (each time resumed with ``morl train
--resume``) must end with the archive and the metrics of one run never stopped. Each attempt
runs until it has saved new progress or for two shares of the reference run's time (whichever
comes first), then is killed within one more share. After every kill no worker process of the
killed trainer may survive ``--grace`` seconds (a worker notices its parent's death within a
second once started, or after its imports if it was still starting), and every file of the run
directory must be readable by the group (umask 022).

    python experiments/kill_loop.py --env deep-sea-treasure-v0 --total-timesteps 500000 --kills 10
    python experiments/kill_loop.py --env mo-hopper-2d-v4 --total-timesteps 400000 --kills 10 --set eval_interval=2

Prints one JSON line per kill and a summary; exits 1 if any check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from morl import runs  # noqa: E402
from morl.pareto import ParetoArchive  # noqa: E402


def _command(args: argparse.Namespace, out: Path, resume: bool) -> list[str]:
    base = [sys.executable, "-m", "morl.cli", "train"]
    if resume:
        return [*base, "--resume", str(out), "--no-progress"]
    sets = ["--set", *args.set] if args.set else []
    return [*base, "cmorl", "--env", args.env, "--total-timesteps", str(args.total_timesteps), "--seed",
            str(args.seed), "--out", str(out), "--no-progress", *sets]  # fmt: skip


def _start(command: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (read from /proc)."""
    parents: dict[int, int] = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat_file.parent.name)] = int(stat_file.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> list[int]:
    """Those of ``pids`` still running (zombies count as gone)."""
    running = []
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                running.append(pid)
        except OSError:
            continue
    return running


def progress_marker(run_dir: Path) -> list[tuple[str, int]]:
    """What the run has saved so far (checkpoint files and their times): it changes with each saved step."""
    root = run_dir / runs.CHECKPOINT_DIR
    if not root.is_dir():
        return []
    marker = []
    for path in root.rglob("*.json"):
        try:
            marker.append((str(path), path.stat().st_mtime_ns))
        except OSError:  # replaced while we looked
            continue
    return sorted(marker)


def unreadable_by_group(root: Path) -> list[str]:
    """Files and directories of ``root`` that the group cannot read (lock file aside)."""
    bad = []
    for path in [root, *root.rglob("*")]:
        if path.name == runs.LOCK_FILE:
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if not mode & stat.S_IRGRP or (path.is_dir() and not mode & stat.S_IXGRP):
            bad.append(f"{path.relative_to(root)} {oct(mode)}")
    return bad


def same_run(a: Path, b: Path) -> dict[str, object]:
    """Whether two run directories hold the same archive (ids, values) and the same metrics rows."""
    first, second = ParetoArchive.load(a / "archive"), ParetoArchive.load(b / "archive")
    rows_a, rows_b = runs.read_metrics(a), runs.read_metrics(b)
    same_rows = all(np.array_equal(rows_a[key], rows_b[key]) for key in ("env_steps", "hypervolume", "cardinality"))
    return {
        "same_archive": [e.id for e in first.entries] == [e.id for e in second.entries]
        and np.array_equal(first.values, second.values),
        "same_metrics": same_rows,
        "points": len(first),
        "reference_points": len(second),
    }


def kill_loop(args: argparse.Namespace) -> dict[str, object]:
    """Reference run, then the killed-and-resumed run; returns the summary."""
    os.umask(0o022)
    root = Path(args.out)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    reference, cut = root / "uninterrupted", root / "killed"
    began = time.perf_counter()
    proc = _start(_command(args, reference, resume=False))
    if proc.wait() != 0:
        raise SystemExit(f"the reference run failed: {proc.stderr.read()[-2000:]}")
    reference_seconds = time.perf_counter() - began
    rng = random.Random(args.seed)
    kills, orphans, resumed = [], 0, False
    for k in range(args.kills):
        before = progress_marker(cut)
        proc = _start(_command(args, cut, resume=resumed))
        started, children = time.time(), set()
        share = reference_seconds / max(1, args.kills)
        # let an attempt save new progress (or run for two shares of the reference time when its
        # checkpoints are far apart), then kill it anywhere within one more share
        while proc.poll() is None and progress_marker(cut) == before and time.time() - started < 2.0 * share:
            children |= descendants(proc.pid)
            time.sleep(0.05)
        deadline = time.time() + rng.uniform(0.0, share)
        while time.time() < deadline and proc.poll() is None:
            children |= descendants(proc.pid)
            time.sleep(0.05)
        delay = time.time() - started
        if proc.poll() is not None:  # finished before this kill: nothing left to kill
            kills.append({"kill": k, "finished_first": True})
            break
        children |= descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed_at = time.time()
        while time.time() < killed_at + args.grace and alive(children):
            time.sleep(0.1)
        exit_seconds = time.time() - killed_at
        left = alive(children)
        orphans += len(left)
        for pid in left:  # do not leave them to the next run of this script
            os.kill(pid, signal.SIGKILL)
        state = runs.storage.load_state(cut / runs.CHECKPOINT_DIR / runs.AGENT_STATE)
        resumed = (cut / runs.CONFIG_FILE).exists()
        record = {"kill": k, "after_s": round(delay, 2), "children": len(children), "orphans": len(left),
                  "children_gone_after_s": round(exit_seconds, 1),
                  "checkpoint_env_steps": None if state is None else state["num_timesteps"],
                  "checkpoint_stage": None if state is None else state.get("stage"),
                  "job_checkpoints": len(list((cut / runs.CHECKPOINT_DIR / "jobs").glob("*.json")))}  # fmt: skip
        kills.append(record)
        print(json.dumps(record), flush=True)
    proc = _start(_command(args, cut, resume=resumed))
    if proc.wait() != 0:
        raise SystemExit(f"the final resume failed: {proc.stderr.read()[-2000:]}")
    summary = {
        "env": args.env,
        "total_timesteps": args.total_timesteps,
        "kills": sum(1 for k in kills if not k.get("finished_first")),
        "orphans": orphans,
        "reference_seconds": round(reference_seconds, 1),
        **same_run(cut, reference),
        "unreadable_by_group": unreadable_by_group(cut),
    }
    return summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="deep-sea-treasure-v0")
    parser.add_argument("--total-timesteps", type=int, default=100_000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--grace", type=float, default=60.0,
        help="seconds a killed trainer's workers may take to notice (a worker still importing torch notices after)",
    )  # fmt: skip
    parser.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="hyperparameters, as for morl train")
    parser.add_argument("--out", default="runs/kill-loop")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    summary = kill_loop(parse_args(argv))
    print(json.dumps(summary))
    ok = summary["same_archive"] and summary["same_metrics"] and not summary["orphans"]
    return 0 if ok and not summary["unreadable_by_group"] else 1


if __name__ == "__main__":
    sys.exit(main())
