"""Turn a ``morlb_result.json`` (written by ``experiments/morlb_cell.py``) into a morl run directory.

Why this exists: MORL-Baselines runs in a separate venv, which must not become a dependency of
``morl``; only its front comes back, as JSON. This script (run with the project's venv) writes, into
the same directory and through ``morl.runs.write_external_run``, what our tools read from any run, so
PGMORL, CAPQL, GPI-LS and Envelope are scored exactly like our agents:

* ``config.json``: the algorithm's name (``pgmorl``, ``capql``, ``gpi-ls``, ``envelope``), seed,
  budget (env steps), device ``cpu``, its hyperparameters, and the task's record (reference point,
  evaluation preferences and known Pareto front that ``morl train`` would use for the env);
* ``archive/``: a ``morl.pareto.ParetoArchive`` of the front's value vectors (no policies; dominated
  points are dropped by the archive), each with the weight it was evaluated for;
* ``metrics.csv``: one row at the library's counted env steps, whose ``wall_time`` and
  ``steps_per_second`` are the library's measured training time, not this script's.

There is no ``agent.json``: the policies stay in the other venv, so ``morl eval --episodes`` cannot
re-roll them. Directories written by the former PGMORL-only script (``pgmorl_result.json``) convert
the same way.

Usage::

    .venv-morlb/bin/python experiments/morlb_cell.py --algo capql --env mo-hopper-2obj-v5 \
        --total-timesteps 300000 --seed 0 --out RUN_DIR
    .venv/bin/python experiments/morlb_to_run.py RUN_DIR [--ref-point -100 -100] [--force]
    .venv/bin/morl plot RUN_DIR
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `import morl` from a checkout without installing it
    sys.path.insert(0, str(REPO))

from morl import envs, preferences, runs, tasks  # noqa: E402
from morl.pareto import ParetoArchive  # noqa: E402

RESULT_FILE = "morlb_result.json"
LEGACY_RESULT_FILE = "pgmorl_result.json"  # experiments/pgmorl_cell.py, before morlb_cell.py replaced it
RESULT_FILES = (RESULT_FILE, LEGACY_RESULT_FILE)


def result_path(run_dir: Path) -> Path | None:
    """The external result in ``run_dir`` (the generic file first), or None."""
    return next((run_dir / name for name in RESULT_FILES if (run_dir / name).is_file()), None)


def is_converted(run_dir: Path) -> bool:
    """An external result that has been turned into a run directory (config and archive written)."""
    return (
        result_path(run_dir) is not None
        and (run_dir / runs.CONFIG_FILE).is_file()
        and (run_dir / runs.ARCHIVE_DIR / "index.json").is_file()
    )


def _clear_previous(run_dir: Path) -> None:
    """Remove what an earlier conversion wrote, so a rerun does not append a second metrics row."""
    for name in (runs.CONFIG_FILE, runs.METRICS_FILE, runs.TRAIN_FILE):
        (run_dir / name).unlink(missing_ok=True)
    for sub in (runs.ARCHIVE_DIR, runs.CHECKPOINT_DIR, runs.PLOTS_DIR):
        shutil.rmtree(run_dir / sub, ignore_errors=True)
    for events in run_dir.glob("events.out.tfevents.*"):
        events.unlink()


def _preference(weights: Any, m: int) -> np.ndarray | None:
    """The weight a point was evaluated for, when it is a valid preference (else it goes into meta only)."""
    if weights is None:
        return None
    try:
        return preferences.validate(np.asarray(weights, dtype=np.float64), m)
    except ValueError:
        return None


def task_for(env_id: str, m: int, ref_point: list[float] | None = None) -> tasks.Task:
    """The task ``morl train`` would build for ``env_id`` (reference point, preferences, known front).

    When this venv cannot build the env (MuJoCo envs without the ``mujoco`` extra) but ``morl.envs``
    registers its reference point and it has no known front, a task for scoring only is built from
    that registration (its spaces are placeholders: nothing rolls out in it).
    """
    try:
        return tasks.make(env_id, ref_point=ref_point)
    except Exception as err:
        defaults = envs.DEFAULTS.get(env_id)
        if defaults is None or defaults.has_true_front:
            raise ValueError(f"cannot build env {env_id!r} in this venv: {type(err).__name__}: {err}") from None
        placeholder = gym.spaces.Box(-np.inf, np.inf, (1,))
        point, source = (ref_point, "given") if ref_point is not None else (defaults.ref_point, defaults.source)
        return tasks.Task(kind="single", spec=env_id, name=env_id, num_objectives=m, observation_space=placeholder,
                          action_space=placeholder, ref_point=np.asarray(point, dtype=np.float64), ref_source=source,
                          gamma=defaults.gamma)  # fmt: skip


def convert(run_dir: str | Path, ref_point: list[float] | None = None, force: bool = False) -> dict[str, Any]:
    """Write config.json, archive/ and metrics.csv for the external result in ``run_dir``; the metrics row.

    Raises:
        ValueError: no result file, an empty or malformed front, an already converted directory
            (without ``force``), or an env the project's venv cannot build.
    """
    run_dir = Path(run_dir)
    source = result_path(run_dir)
    if source is None:
        raise ValueError(f"{run_dir} holds neither {RESULT_FILE} nor {LEGACY_RESULT_FILE}")
    result = json.loads(source.read_text())
    algo = result.get("algo")
    if not isinstance(algo, str):
        raise ValueError(f"{source}: no 'algo' name")
    if (run_dir / runs.CONFIG_FILE).exists() or (run_dir / runs.METRICS_FILE).exists():
        if not force:
            raise ValueError(f"{run_dir} is already converted: pass --force to redo it")
        _clear_previous(run_dir)
    front = np.asarray(result.get("front"), dtype=np.float64)
    if front.ndim != 2 or len(front) == 0:
        raise ValueError(f"{source}: empty or malformed front")
    m = front.shape[1]
    task = task_for(result["env"], m, ref_point)
    if task.num_objectives != m:
        raise ValueError(f"{source}: front has {m} objectives, env {result['env']!r} has {task.num_objectives}")

    archive = ParetoArchive(m)
    policies = result.get("policies") or [{"return": value} for value in result["front"]]
    for i, policy in enumerate(policies):
        weights = policy.get("weights")
        meta = {"index": policy.get("index", i)}
        if weights is not None:
            meta["weights"] = list(weights)
        archive.add(policy["return"], preference=_preference(weights, m), meta=meta)
    library = result.get("library", "morl-baselines PGMORL")
    record = {
        "algo": algo,
        "seed": result["seed"],
        "budget": result["total_timesteps"],
        "device": "cpu",
        "hparams": result.get("hparams", {}),
        "source": f"{library} via experiments/{'pgmorl' if source.name == LEGACY_RESULT_FILE else 'morlb'}_cell.py "
        "(separate venv)",
        "external": {
            "library": library,
            "versions": result.get("versions"),
            "schedule": result.get("schedule"),
            "front_note": result.get("front_note"),
            "eval_episodes": result.get("eval_episodes"),
            "eval_wall_time": result.get("eval_wall_time"),
        },
    }
    return runs.write_external_run(run_dir, task, record, archive, int(result["env_steps"]), float(result["wall_time"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help=f"directory holding {RESULT_FILE} (or a former {LEGACY_RESULT_FILE})")
    parser.add_argument("--ref-point", type=float, nargs="+", help="default: the env's registered one")
    parser.add_argument("--force", action="store_true", help="redo a conversion (rewrites config, archive, metrics)")
    args = parser.parse_args(argv)
    try:
        row = convert(Path(args.run_dir), args.ref_point, args.force)
    except ValueError as err:
        print(f"morlb_to_run: error: {err}", file=sys.stderr)
        return 2
    for key, value in row.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
