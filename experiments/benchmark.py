"""Benchmark suite: train a grid of (algorithm or variant, env, seed, budget) cells in parallel, then tabulate.

    python experiments/benchmark.py --suite quick [--workers N] [--executor local|ray] [--out DIR] [--force]

A suite is a YAML file in ``experiments/suites/`` (schema: :class:`Suite`, documented in
``experiments/README.md``). Each cell is one ``morl.training.train`` call, made in a worker of a
``morl.distributed.JobPool`` (spawned processes, or Ray tasks), written to
``<out>/runs/<suite>/<variant>-<env>-<seed>-<budget>/``. MORL-Baselines' algorithms (``pgmorl``,
``capql``, ``gpi-ls``, ``envelope``) run instead through ``experiments/morlb_cell.py`` in their own venv
and are converted by ``experiments/morlb_to_run.py``. A cell whose directory already holds a finished
run is skipped, and an unfinished one is resumed, so an interrupted benchmark continues where it
stopped; ``--force`` reruns everything. A failing cell never stops the suite: its error goes into
the table. A suite's ``datasets`` (``experiments/bench_datasets.py``) are collected once into
``<out>/runs/<suite>/datasets/`` after the cells they are collected from (``source``) and before the
cells that train on them (env ``dataset:NAME``). Results go to ``docs/benchmarks/<suite>.md`` and plots
to ``docs/benchmarks/<suite>/``.
Every run directory is read back through ``morl.runs.load_run``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fnmatch
import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
EXPERIMENTS = REPO / "experiments"
for _path in (REPO, EXPERIMENTS):  # `import morl` / `import morlb_to_run` without installing
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import bench_datasets  # noqa: E402
from bench_report import CellResult, Invocation, _cores, _load, _short, plot_groups, table, write_report  # noqa: E402
from suite import Cell, SuiteError, load_suite  # noqa: E402

from morl import runs  # noqa: E402
from morl.report import write_report as interactive_report  # noqa: E402

SUITES_DIR = EXPERIMENTS / "suites"
DOCS_DIR = REPO / "docs" / "benchmarks"
DEFAULT_OUT = Path("runs") / "benchmarks"
AGENT_FILE = "agent.json"  # morl.agents.base.AGENT_FILE: what a finished run of ours has saved
CELL_FILE = "benchmark_cell.json"
LOG_FILE = "benchmark.log"
INTERACTIVE_FILE = "report.html"  # `morl report` of the suite's runs, under its runs root
REROLL_FILE, REROLL_SEED = "reroll.json", 0  # a cell's re-rolled archive (suite option reroll_episodes)
PENDING_LOGS = ".logs"  # under the suite's runs root: a cell's log until its run directory may hold it
MORLB_PYTHON_ENV = "MORLB_PYTHON"
MORLB_VENV = REPO / ".venv-morlb"


# --- running one cell (inside a worker) -------------------------------------------------------
def _finished(cell_dir: Path) -> bool:
    """A run of ours saved its agent; an external algorithm's result was converted into a run."""
    import morlb_to_run

    return (cell_dir / AGENT_FILE).is_file() or morlb_to_run.is_converted(cell_dir)


def _saved_config(cell_dir: Path) -> dict[str, Any] | None:
    try:
        return runs.read_config(cell_dir)
    except (OSError, ValueError):  # storage.FormatError is a ValueError
        return None


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _matches(cell_dir: Path, cell: Cell) -> bool:
    """The directory's run is this cell's: same algorithm, seed and budget, and its saved
    hyperparameters agree with the cell's overrides (so its result is not stale)."""
    config = _saved_config(cell_dir)
    if config is None or config.get("algo") != cell.algo or int(config.get("seed", -1)) != cell.seed:
        return False
    budget = config.get("budget", config.get("total_timesteps"))  # old runs recorded total_timesteps
    if budget is not None and int(budget) != cell.budget:
        return False
    saved = config.get("hparams") or {}
    return all(key in saved and _plain(value) == _plain(saved[key]) for key, value in cell.hparams)


def morlb_python() -> Path:
    """The MORL-Baselines venv's interpreter: ``$MORLB_PYTHON``, else ``.venv-morlb/bin/python``, else that
    of ``.venv-pgmorl`` (the same packages, under the name the PGMORL-only script used)."""
    if os.environ.get(MORLB_PYTHON_ENV):
        return Path(os.environ[MORLB_PYTHON_ENV])
    legacy = REPO / ".venv-pgmorl" / "bin" / "python"
    default = MORLB_VENV / "bin" / "python"
    return legacy if not default.is_file() and legacy.is_file() else default


class ExternalFailure(RuntimeError):
    """MORL-Baselines' script failed; its own error is in the cell's log."""


def _result_matches(result: dict[str, Any] | None, cell: Cell) -> bool:
    """An external result (``morlb_result.json``) was trained for this cell."""
    if result is None or result.get("algo") != cell.algo or result.get("seed") != cell.seed:
        return False
    saved = result.get("hparams") or {}
    same = all(key in saved and _plain(value) == _plain(saved[key]) for key, value in cell.hparams)
    return same and result.get("total_timesteps") == cell.budget


def _run_external(cell: Cell, path: Path) -> None:
    """MORL-Baselines in its own venv (experiments/morlb_cell.py), then conversion to a run directory.

    A result that was written but not converted (a worker killed in between) is only converted.
    """
    import morlb_to_run

    result = morlb_to_run.result_path(path)
    if result is None or (path / runs.CONFIG_FILE).exists() or not _result_matches(_read_json(result), cell):
        if path.exists():
            shutil.rmtree(path)
        python = morlb_python()
        if not python.is_file():
            raise RuntimeError(f"{python} not found: create the MORL-Baselines venv as experiments/morlb_cell.py says")
        argv = [str(python), str(EXPERIMENTS / "morlb_cell.py"), "--algo", cell.algo, "--env", cell.train_env]
        argv += ["--total-timesteps", str(cell.budget), "--seed", str(cell.seed), "--out", str(path), "--quiet"]
        if cell.hparams:
            argv += ["--set", *(f"{key}={json.dumps(value)}" for key, value in cell.hparams)]
        print(f"$ {shlex.join(argv)}", flush=True)
        done = subprocess.run(argv, env={**os.environ, "WANDB_MODE": "disabled"}, check=False)
        if done.returncode != 0:
            raise ExternalFailure(f"morlb_cell.py exited with status {done.returncode}")
    morlb_to_run.convert(path)


def _run_ours(cell: Cell, path: Path) -> None:
    """``morl.training.train``, resuming a matching unfinished run found in ``path``."""
    from morl import runs, training

    if (path / runs.CONFIG_FILE).is_file() and _matches(path, cell):
        print(f"benchmark: resuming {path}", flush=True)
        training.train(resume=path, progress_bar=False)
        return
    if path.exists():
        shutil.rmtree(path)
    call = f"morl.training.train({cell.algo!r}, {cell.train_env!r}, total_timesteps={cell.budget}, seed={cell.seed}, "
    print(f"benchmark: {call}hparams={cell.hparams_dict()!r}, out={str(path)!r})", flush=True)
    training.train(
        cell.algo,
        cell.train_env,
        total_timesteps=cell.budget,
        seed=cell.seed,
        out=path,
        hparams=cell.hparams_dict(),
        progress_bar=False,
    )


@contextlib.contextmanager
def _output_to(log_path: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors 1 and 2, so C libraries and child
    processes too) to ``log_path``, appending."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log_path.open("a", buffering=1) as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            log.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def pending_log(cell_dir: Path) -> Path:
    """Where a cell's output goes while it runs: ``train`` wants an empty new run directory."""
    return cell_dir.parent / PENDING_LOGS / f"{cell_dir.name}.log"


def _last_error_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if "error" in line.lower():
            return line
    return lines[-1] if lines else "failed without a message"


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def run_cell(cell: Cell, cell_dir: str) -> dict[str, Any]:
    """Train one cell, its stdout/stderr appended to the cell's ``benchmark.log``, on one torch thread.

    Never raises: the outcome is returned (and written to ``benchmark_cell.json``) as
    ``{"name", "status": "ok" | "error", "error", "seconds"}``.
    """
    import torch

    torch.set_num_threads(1)  # one core per worker: N workers must not fight over the cores
    path = Path(cell_dir)
    start = time.perf_counter()
    before = 0.0  # worker time spent on this cell by earlier, interrupted invocations
    previous = _read_json(path / CELL_FILE)
    if previous is not None and _matches(path, cell):
        with contextlib.suppress(TypeError, ValueError):
            before = float(previous.get("seconds") or 0.0)
    log_path = pending_log(path)
    if (path / LOG_FILE).is_file():  # keep the log of earlier attempts, even if the directory is cleared
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("a") as log:
            log.write((path / LOG_FILE).read_text())
        (path / LOG_FILE).unlink()
    (path / CELL_FILE).unlink(missing_ok=True)
    status, error = "ok", ""
    with _output_to(log_path):
        print(f"=== {dt.datetime.now().isoformat(timespec='seconds')} cell {cell.name} ({cell.algo})", flush=True)
        try:
            _run_external(cell, path) if cell.external else _run_ours(cell, path)
        except ExternalFailure as exc:
            status, error = "error", f"{exc}: {_last_error_line(log_path.read_text())}"
        except Exception as exc:
            status, error = "error", f"{type(exc).__name__}: {exc}".splitlines()[0]
            traceback.print_exc()
    path.mkdir(parents=True, exist_ok=True)
    with (path / LOG_FILE).open("a") as log:
        log.write(log_path.read_text())
    log_path.unlink()
    if status == "ok" and not _finished(path):
        status, error = "error", "training returned without a finished run (agent.json or a converted result)"
    if not error and status == "error":
        error = _last_error_line((path / LOG_FILE).read_text())
    seconds = round(before + time.perf_counter() - start, 2)
    result = {"name": cell.name, "status": status, "error": error, "seconds": seconds}
    (path / CELL_FILE).write_text(json.dumps(result, indent=2) + "\n")
    return result


# --- running the cells ------------------------------------------------------------------------
def _crash_outcome(cell: Cell, cell_dir: Path, exc: BaseException) -> dict[str, Any]:
    """The outcome of a cell whose worker died: its output so far goes to its ``benchmark.log``."""
    cell_dir.mkdir(parents=True, exist_ok=True)
    log = pending_log(cell_dir)
    if log.is_file():
        with (cell_dir / LOG_FILE).open("a") as target:
            target.write(log.read_text())
        log.unlink()
    message = f"worker process died (crash, kill or out of memory; see its {LOG_FILE}): {exc!r}"
    outcome = {"name": cell.name, "status": "error", "error": message}
    (cell_dir / CELL_FILE).write_text(json.dumps(outcome, indent=2) + "\n")
    return outcome


def _finished_since(cell: Cell, cell_dir: Path, began: float) -> bool:
    """The cell's worker returned (wrote its outcome) after ``began``, before the pool broke."""
    outcome_file = cell_dir / CELL_FILE
    try:
        fresh = outcome_file.stat().st_mtime >= began
    except OSError:
        return False
    outcome = _read_json(outcome_file)
    return fresh and outcome is not None and outcome.get("name") == cell.name and "status" in outcome


def _drop_executor(executor: str) -> None:
    """After a failure, stop what is still running: a local pool is gone already; Ray tasks are not."""
    if executor == "ray":
        import ray

        if ray.is_initialized():
            ray.shutdown()  # the driver's tasks die with it


def run_cells(
    todo: list[Cell],
    cell_dirs: dict[str, Path],
    workers: int,
    start: float,
    executor: str = "local",
    ray_address: str | None = None,
    fn: Any = run_cell,
) -> dict[str, dict[str, Any]]:
    """Run the cells on a ``JobPool`` (each in a worker process, even alone); the outcome of each, by name.

    Results arrive in submission order. A worker that dies outright (segfault, out of memory,
    ``os._exit``) breaks the whole pool. The cells that had not finished by then are run again one
    at a time, each in a fresh one-worker pool (resuming from its checkpoints), so only the cell that
    really crashes is reported as failed. ``fn`` is the worker function (tests replace it).
    """
    from morl.distributed import JobPool

    outcomes: dict[str, dict[str, Any]] = {}
    began = time.time()

    def record(cell: Cell, outcome: dict[str, Any]) -> None:
        outcomes[cell.name] = outcome
        took = f"{outcome['seconds']:.0f} s" if outcome.get("seconds") is not None else "? s"
        detail = "" if outcome["status"] == "ok" else f": {_short(outcome['error'], 300)}"
        print(
            f"benchmark: [{len(outcomes)}/{len(todo)}] {cell.name} {outcome['status']} in {took}{detail} "
            f"(suite {time.perf_counter() - start:.0f} s)",
            file=sys.stderr,
        )

    if not todo:
        return outcomes
    jobs = [(cell, str(cell_dirs[cell.name])) for cell in todo]
    try:
        with JobPool(executor, min(workers, len(todo)), ray_address, isolate=True) as pool:
            for cell, outcome in zip(todo, pool.stream(fn, jobs), strict=False):
                record(cell, outcome)
    except Exception as exc:  # a worker died (BrokenProcessPool, Ray's WorkerCrashedError): the pool is gone
        _drop_executor(executor)
        left = [cell for cell in todo if cell.name not in outcomes]
        print(f"benchmark: a worker died ({exc!r}); {len(left)} cell(s) left, run one at a time", file=sys.stderr)
        print(textwrap.indent(traceback.format_exc(), "benchmark:   "), file=sys.stderr, end="")
        for cell in left:
            cell_dir = cell_dirs[cell.name]
            if _finished_since(cell, cell_dir, began):
                record(cell, _read_json(cell_dir / CELL_FILE) or {})  # only its result was lost with the pool
                continue
            try:
                with JobPool(executor, 1, ray_address, isolate=True) as pool:
                    record(cell, next(iter(pool.stream(fn, [(cell, str(cell_dir))]))))
            except Exception as crash:
                _drop_executor(executor)
                record(cell, _crash_outcome(cell, cell_dir, crash))
    return outcomes


def collect(cell: Cell, cell_dir: Path, outcome: dict[str, Any] | None, hv_at: list[int] = (),
            reroll_episodes: int | None = None) -> CellResult:  # fmt: skip
    """Score a finished cell through ``morl.runs.load_run``, or say why it has no result.

    With ``reroll_episodes`` the final front is the archive re-rolled (cached in the cell's
    ``reroll.json``, so a ``--report-only`` page does not roll again); HV@b stays the stored values'.
    """
    from morl import metrics, runs

    recorded = outcome if outcome is not None else _read_json(cell_dir / CELL_FILE)
    seconds = None if recorded is None else recorded.get("seconds")
    if not _finished(cell_dir):
        if recorded is not None and recorded.get("status") == "error":
            return CellResult(cell, cell_dir, "error", recorded.get("error", ""), seconds=seconds)
        return CellResult(cell, cell_dir, "missing", "no finished run", seconds=seconds)
    try:
        run = runs.load_run(cell_dir)
        if reroll_episodes:
            front = _rerolled_front(cell_dir, reroll_episodes)
            report = metrics.evaluate_front(front, run.ref_point, run.eval_weights, run.true_front)
        else:
            report = run.report()
        last = {key: float(col[-1]) for key, col in run.metrics.items() if len(col)}
        at = {budget: run.value_at("hypervolume", budget) for budget in hv_at}
    except Exception as exc:
        message = f"cannot score run: {type(exc).__name__}: {exc}"[:300]
        return CellResult(cell, cell_dir, "error", message, seconds=seconds)
    return CellResult(cell, cell_dir, "ok", report=report, last=last, hv_at=at, budget_unit=run.budget_unit,
                      seconds=seconds)  # fmt: skip


def _rerolled_front(cell_dir: Path, episodes: int) -> np.ndarray:
    """The archive's entries re-rolled for ``episodes`` episodes (seed REROLL_SEED), read from the cache if there."""
    from morl import reroll, storage

    cache = cell_dir / REROLL_FILE
    stamp = (cell_dir / "archive" / "index.json").stat().st_mtime_ns
    saved = _read_json(cache)
    if saved and saved.get("episodes") == episodes and saved.get("archive_mtime_ns") == stamp:
        return np.asarray(saved["front"], dtype=np.float64)
    rolled = reroll.reroll_run(cell_dir, episodes, seed=REROLL_SEED, device="cpu")
    front = np.asarray([r.result.mean_return for r in rolled], dtype=np.float64)
    storage.atomic_write_json(cache, {"episodes": episodes, "seed": REROLL_SEED, "archive_mtime_ns": stamp,
                                      "stored": [np.asarray(r.entry.value).tolist() for r in rolled],
                                      "front": front.tolist()})  # fmt: skip
    return front


# --- main -------------------------------------------------------------------------------------
def _todo(cells: list[Cell], cell_dirs: dict[str, Path], force: bool) -> tuple[list[Cell], int]:
    """The cells to run (longest first) and how many are skipped: finished runs of the same cell are kept.

    A finished run that is stale (the algorithm or hyperparameters changed), or any run with
    ``force``, is removed; an unfinished one is kept, to be resumed.
    """
    todo, skipped = [], 0
    for cell in cells:
        cell_dir = cell_dirs[cell.name]
        done = _finished(cell_dir)
        if done and not force and _matches(cell_dir, cell):
            skipped += 1
            continue
        if done and not force:
            print(f"benchmark: {cell.name}: algorithm or hyperparameters changed since it ran, rerunning",
                  file=sys.stderr)  # fmt: skip
        if cell_dir.exists() and (force or done):
            shutil.rmtree(cell_dir)
        todo.append(cell)
    todo.sort(key=lambda c: -c.budget)  # longest first: better packing of the pool
    return todo, skipped


def _selected(cell: Cell, patterns: list[str] | None) -> bool:
    """Whether ``--cells`` picks the cell (every cell when no pattern is given)."""
    return patterns is None or any(fnmatch.fnmatchcase(cell.name, p) for p in patterns)


def write_interactive(runs_root: Path) -> Path | str:
    """``morl report`` of every run of the suite, beside them; on failure the one-line reason instead."""
    target = runs_root / INTERACTIVE_FILE
    if not runs_root.is_dir() or not any((p / runs.CONFIG_FILE).is_file() for p in runs_root.iterdir()):
        return "no run of this suite is on disk yet"
    try:
        left_out = interactive_report([runs_root], target)
    except (ModuleNotFoundError, ValueError, OSError) as err:
        print(f"benchmark: no interactive report: {err}", file=sys.stderr)
        return str(err)
    for run_dir, reason in left_out.items():
        print(f"benchmark: interactive report leaves out {run_dir}: {reason}", file=sys.stderr)
    return target


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", required=True, help="name of experiments/suites/<name>.yaml, or a YAML path")
    parser.add_argument("--workers", type=int, default=_cores(), help="parallel cells (default: %(default)s cores)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="local: spawned worker processes (default); ray: Ray tasks, one CPU each")  # fmt: skip
    parser.add_argument("--ray-address", default=None, help="Ray cluster to join (default: start a local one)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="root of the run directories (default %(default)s)")
    parser.add_argument("--docs", default=str(DOCS_DIR), help="where the markdown table and plots go")
    parser.add_argument("--force", action="store_true", help="rerun cells that already have a finished result")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: tabulate the cells finished so far (the others show as missing), "
                             "e.g. while another invocation is still running the suite")  # fmt: skip
    parser.add_argument("--cells", action="append", metavar="GLOB",
                        help="run only the cells whose names match (fnmatch; repeatable), e.g. '*-mo_spread_v0-*'; "
                             "the others are tabulated as they stand on disk")  # fmt: skip
    return parser


def resolve_suite(name: str) -> Path:
    path = Path(name)
    if path.suffix not in (".yaml", ".yml"):  # a suite name (which may contain dots: mujoco-1.5m)
        path = SUITES_DIR / f"{name}.yaml"
    return path


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    suite_path = resolve_suite(args.suite)
    if not suite_path.is_file():
        names = sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))
        print(f"benchmark: error: no suite {args.suite!r}; valid: {', '.join(names)}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("benchmark: error: --workers must be >= 1", file=sys.stderr)
        return 2
    if args.report_only and args.cells:
        print("benchmark: error: --report-only trains nothing, so --cells has nothing to choose", file=sys.stderr)
        return 2
    if args.report_only and args.force:
        print("benchmark: error: --report-only trains nothing, so --force has nothing to rerun", file=sys.stderr)
        return 2
    name = suite_path.stem
    try:
        suite, cells = load_suite(suite_path)
    except SuiteError as err:
        print(f"benchmark: error: {err}", file=sys.stderr)
        return 2
    runs_root = Path(args.out) / "runs" / name
    docs_dir = Path(args.docs)
    cell_dirs = {cell.name: runs_root / cell.name for cell in cells}
    datasets = bench_datasets.plan(suite, runs_root, cell_dirs)
    cells = bench_datasets.resolve(cells, datasets)
    sources = {job.source.name for job in datasets.values() if job.source is not None}

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by the workers
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    load_before = _load()
    start = time.perf_counter()
    if args.report_only:
        todo, skipped = [], sum(_finished(cell_dirs[cell.name]) for cell in cells)
        outcomes: dict[str, dict[str, Any]] = {}
        data_errors: dict[str, str] = {}
        print(f"benchmark: suite {name}: {len(cells)} cells, 0 to run, {skipped} already done", file=sys.stderr)
    else:  # the source cells of datasets, then the datasets, then every other cell
        first, skipped = _todo([c for c in cells if c.name in sources], cell_dirs, args.force)
        if first:
            print(f"benchmark: suite {name}: {len(first)} source cell(s) of datasets to run first", file=sys.stderr)
        outcomes = run_cells(first, cell_dirs, args.workers, start, args.executor, args.ray_address)
        retrained = {c.name for c in first}
        data_errors = bench_datasets.prepare(datasets, cells, cell_dirs, _finished, retrained, args.force,
                                             args.workers, args.executor, args.ray_address)  # fmt: skip
        rest = [c for c in cells if c.name not in sources]
        blocked = [c for c in rest if c.dataset in data_errors]
        for cell in blocked:
            error = f"dataset {cell.dataset} is not in place: {data_errors[cell.dataset]}"
            outcomes[cell.name] = {"name": cell.name, "status": "error", "error": error}
        chosen = [c for c in rest if c.dataset not in data_errors and _selected(c, args.cells)]
        later, skipped_later = _todo(chosen, cell_dirs, args.force)
        skipped += skipped_later
        todo = first + later
        first_text = f" ({len(first)} source cells of datasets, run first)" if first else ""
        blocked_text = f", {len(blocked)} without their dataset" if blocked else ""
        print(f"benchmark: suite {name}: {len(cells)} cells, {len(todo)} to run{first_text}, {skipped} already done"
              f"{blocked_text}", file=sys.stderr)  # fmt: skip
        outcomes.update(run_cells(later, cell_dirs, args.workers, start, args.executor, args.ray_address))
    wall = time.perf_counter() - start

    results = [
        collect(cell, cell_dirs[cell.name], outcomes.get(cell.name), suite.hv_at, suite.reroll_episodes)
        for cell in cells
    ]
    data_hv = bench_datasets.data_hypervolumes(datasets)
    plots_dir = docs_dir / name
    if plots_dir.exists():
        shutil.rmtree(plots_dir)  # only this suite's current plots, nothing stale
    plots = plot_groups(results, plots_dir)
    command = "python experiments/benchmark.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    how = Invocation(command, args.workers, args.executor, wall, len(todo), skipped, load_before)
    dataset_lines = bench_datasets.report_lines(datasets, data_errors)
    interactive = write_interactive(runs_root)
    report = write_report(name, suite, results, plots, how, docs_dir, dataset_lines, data_hv, interactive)
    print("\n".join(table(results, suite.hv_at, data_hv, suite.reach_baseline)))
    print(f"benchmark: wrote {report} in {wall:.0f} s of training", file=sys.stderr)
    return 0 if all(r.status == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
