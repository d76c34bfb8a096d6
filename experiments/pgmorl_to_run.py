"""Turn a ``pgmorl_result.json`` (written by ``experiments/pgmorl_cell.py``) into a morl run directory.

Why this exists: PGMORL runs in a separate venv with morl-baselines, which must not become a
dependency of ``morl``; only its front comes back, as JSON. This script (run with the project's
venv) writes, into the same directory, what our tools read from any run, so PGMORL is scored exactly
like C-MORL:

* ``config.json``: algo ``pgmorl``, env, seed, total_timesteps, device ``cpu``, PGMORL's hparams,
  plus the reference point and evaluation preferences our CLI would use for the env;
* ``archive/``: a ``morl.pareto.ParetoArchive`` of the front's value vectors (no policies; dominated
  points are dropped by the archive);
* ``metrics.csv``: one final row at PGMORL's counted env steps, whose ``wall_time`` and
  ``steps_per_second`` are PGMORL's measured training time, not this script's.

There is no ``agent.json``: the policies stay in the other venv, so ``morl eval --episodes`` cannot
re-roll them.

Usage::

    .venv-pgmorl/bin/python experiments/pgmorl_cell.py --env mo-hopper-2obj-v5 --total-timesteps 1000000 \
        --seed 0 --out RUN_DIR
    .venv/bin/python experiments/pgmorl_to_run.py RUN_DIR [--ref-point -100 -100] [--force]
    .venv/bin/morl plot RUN_DIR
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from morl import envs
from morl.cli import eval_weights
from morl.pareto import ParetoArchive
from morl.runs import CONFIG_FILE, METRICS_FILE, EvalSettings, Run

RESULT_FILE = "pgmorl_result.json"


def eval_settings(env_id: str, num_objectives: int, ref_point: list[float] | None) -> EvalSettings:
    """The reference point and EU preferences ``morl train`` would record for ``env_id``; no true front."""
    if ref_point is None:
        defaults = envs.defaults_for(env_id)
        if defaults is None:
            raise SystemExit(f"env {env_id!r} has no registered reference point: pass --ref-point")
        ref_point = list(defaults.ref_point)
    if len(ref_point) != num_objectives:
        raise SystemExit(f"--ref-point needs {num_objectives} values for {env_id!r}, got {len(ref_point)}")
    return EvalSettings(np.asarray(ref_point, dtype=np.float64), eval_weights(num_objectives), None)


def _clear_previous(run_dir: Path) -> None:
    """Remove what an earlier conversion wrote, so a rerun does not append a second metrics row."""
    for name in (CONFIG_FILE, METRICS_FILE):
        (run_dir / name).unlink(missing_ok=True)
    shutil.rmtree(run_dir / "archive", ignore_errors=True)
    for events in run_dir.glob("events.out.tfevents.*"):
        events.unlink()


def convert(run_dir: Path, ref_point: list[float] | None = None, force: bool = False) -> dict[str, Any]:
    """Write config.json, archive/ and metrics.csv for the PGMORL result in ``run_dir``; return the metrics row."""
    result = json.loads((run_dir / RESULT_FILE).read_text())
    if result.get("algo") != "pgmorl":
        raise SystemExit(f"{run_dir / RESULT_FILE} is not a PGMORL result")
    if (run_dir / CONFIG_FILE).exists() or (run_dir / METRICS_FILE).exists():
        if not force:
            raise SystemExit(f"{run_dir} is already converted: pass --force to redo it")
        _clear_previous(run_dir)
    front = np.asarray(result["front"], dtype=np.float64)
    if front.ndim != 2 or len(front) == 0:
        raise SystemExit(f"{run_dir / RESULT_FILE}: empty or malformed front")
    m = front.shape[1]
    settings = eval_settings(result["env"], m, ref_point)

    run = Run.open(run_dir, settings)
    try:
        run.write_config(
            {
                "algo": "pgmorl",
                "env": result["env"],
                "seed": result["seed"],
                "total_timesteps": result["total_timesteps"],
                "device": "cpu",
                "hparams": result["hparams"],
                "source": "morl-baselines PGMORL via experiments/pgmorl_cell.py (separate venv)",
                "pgmorl_versions": result["versions"],
                "pgmorl_schedule": result.get("schedule"),
                "front_note": result.get("front_note"),
            }
        )
        archive = ParetoArchive(m)
        policies = result.get("policies") or [{"return": value} for value in result["front"]]
        for policy in policies:
            meta = {"pgmorl_index": policy["index"]} if "index" in policy else None
            archive.add(policy["return"], preference=policy.get("weights"), meta=meta)
        # log_front measures wall time with Run's own clock: make it read PGMORL's training time instead.
        run._elapsed_before = float(result["wall_time"])
        run._start = time.perf_counter()
        return run.log_front(archive, int(result["env_steps"]))
    finally:
        run.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="directory holding pgmorl_result.json")
    parser.add_argument("--ref-point", type=float, nargs="+", help="default: morl.envs.defaults_for(env)")
    parser.add_argument("--force", action="store_true", help="redo a conversion (rewrites config, archive, metrics)")
    args = parser.parse_args(argv)
    row = convert(Path(args.run_dir), args.ref_point, args.force)
    for key, value in row.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
