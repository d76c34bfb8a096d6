"""Benchmark suite: train a grid of (algorithm, env, seed, budget) cells in parallel, then tabulate.

    python experiments/benchmark.py --suite quick [--workers N] [--out DIR] [--force]

A suite is a YAML file in ``experiments/suites/`` (see ``experiments/README.md``). Each cell is one
``morl train`` run, executed in-process in a worker of a spawn-based process pool (torch and fork do
not mix), written to ``<out>/runs/<suite>/<algo>-<env>-<seed>-<budget>/``. A cell whose directory
already holds a finished run (``agent.json``) is skipped, so an interrupted benchmark resumes where
it stopped; ``--force`` reruns everything. A failing cell never stops the suite: its error goes into
the table. Results go to ``docs/benchmarks/<suite>.md`` and plots to ``docs/benchmarks/<suite>/``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import multiprocessing
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
import traceback
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `import morl` / `import envs` from a checkout without installing it
    sys.path.insert(0, str(REPO))

SUITES_DIR = REPO / "experiments" / "suites"
DOCS_DIR = REPO / "docs" / "benchmarks"
DEFAULT_OUT = Path("runs") / "benchmarks"
AGENT_FILE = "agent.json"
PGMORL_RESULT = "pgmorl_result.json"
CONFIG_FILE = "config.json"
CELL_FILE = "benchmark_cell.json"
LOG_FILE = "benchmark.log"
_GRID_KEYS = {"algos", "envs", "seeds", "budgets", "hparams"}
_CELL_KEYS = {"algo", "env", "seed", "budget", "hparams"}
_SUITE_KEYS = {"description", "hparams", "grid", "grids", "cells"}


# --- suites ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    """One training run of the suite."""

    algo: str
    env: str
    seed: int
    budget: int
    hparams: tuple[tuple[str, Any], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.algo}-{_env_slug(self.env)}-{self.seed}-{self.budget}"

    @property
    def group(self) -> tuple[str, str, int]:
        """Cells differing only in the seed are aggregated together."""
        return (self.algo, self.env, self.budget)

    def overrides_as_flags(self) -> list[str]:
        """Hyperparameters as ``--key value`` flags, for external baselines' own scripts."""
        flags: list[str] = []
        for key, value in self.hparams:
            flags += [f"--{key.replace('_', '-')}", *(str(v) for v in (value if isinstance(value, list) else [value]))]
        return flags

    def overrides(self) -> list[str]:
        """``--set`` arguments; JSON is valid YAML, so every value round-trips through the CLI parser."""
        return [f"{key}={json.dumps(value)}" for key, value in self.hparams]


def _env_slug(env: str) -> str:
    return env.replace("/", "_").replace(":", ".")


def _as_list(value: Any, key: str, where: str) -> list[Any]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError(f"{where}: {key!r} is empty")
    return items


def _check_keys(data: Any, allowed: set[str], required: set[str], where: str) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; valid: {', '.join(sorted(allowed))}")
    missing = sorted(required - set(data))
    if missing:
        raise ValueError(f"{where}: missing key(s) {missing}")


def _merge_hparams(algo: str, suite_hparams: dict[str, Any], *extra: dict[str, Any] | None) -> tuple:
    merged = dict(suite_hparams.get(algo) or {})
    for more in extra:
        merged.update(more or {})
    return tuple(sorted(merged.items()))


def load_suite(path: Path) -> tuple[dict[str, Any], list[Cell]]:
    """The suite's YAML mapping and its cells (grids expanded, per-algo hparams merged, duplicates dropped)."""
    data = yaml.safe_load(path.read_text())
    _check_keys(data, _SUITE_KEYS, set(), f"suite {path}")
    suite_hparams = data.get("hparams") or {}
    if not isinstance(suite_hparams, dict) or not all(isinstance(v, dict | None) for v in suite_hparams.values()):
        raise ValueError(f"suite {path}: 'hparams' must map algorithm names to mappings of hyperparameters")
    grids = list(data.get("grids") or [])
    if data.get("grid") is not None:
        grids.insert(0, data["grid"])
    cells: list[Cell] = []
    for i, grid in enumerate(grids):
        where = f"suite {path}, grid {i + 1}"
        _check_keys(grid, _GRID_KEYS, _GRID_KEYS - {"hparams"}, where)
        for algo in _as_list(grid["algos"], "algos", where):
            for env in _as_list(grid["envs"], "envs", where):
                for budget in _as_list(grid["budgets"], "budgets", where):
                    for seed in _as_list(grid["seeds"], "seeds", where):
                        hp = _merge_hparams(algo, suite_hparams, grid.get("hparams"))
                        cells.append(Cell(str(algo), str(env), int(seed), int(budget), hp))
    for i, cell in enumerate(data.get("cells") or []):
        where = f"suite {path}, cell {i + 1}"
        _check_keys(cell, _CELL_KEYS, _CELL_KEYS - {"hparams"}, where)
        hp = _merge_hparams(cell["algo"], suite_hparams, cell.get("hparams"))
        cells.append(Cell(str(cell["algo"]), str(cell["env"]), int(cell["seed"]), int(cell["budget"]), hp))
    if not cells:
        raise ValueError(f"suite {path} defines no cells (give 'grid', 'grids' or 'cells')")
    unique: dict[str, Cell] = {}
    for cell in cells:
        if cell.name in unique and unique[cell.name] != cell:
            raise ValueError(f"suite {path}: cell {cell.name} is defined twice with different hyperparameters")
        unique[cell.name] = cell
    return data, list(unique.values())


# --- running one cell (inside a worker process) ----------------------------------------------
def _finished(cell_dir: Path) -> bool:
    """A morl run saved its agent; an external baseline's run was converted (archive index written)."""
    external = (cell_dir / PGMORL_RESULT).is_file() and (cell_dir / "archive" / "index.json").is_file()
    return (cell_dir / AGENT_FILE).is_file() or external


def _run_pgmorl(cell: Cell, path: Path, log: io.StringIO) -> int:
    """MORL-Baselines' PGMORL in its own venv (``.venv-pgmorl``), then conversion to a morl run directory.

    morl-baselines is not a dependency of morl: see ``experiments/pgmorl_cell.py`` for the setup.
    """
    python = REPO / ".venv-pgmorl" / "bin" / "python"
    if not python.is_file():
        log.write(f"error: {python} not found; create it as described in experiments/pgmorl_cell.py\n")
        return 2
    if path.exists():
        shutil.rmtree(path)
    train = [
        str(python),
        str(REPO / "experiments" / "pgmorl_cell.py"),
        "--env",
        cell.env,
        "--total-timesteps",
        str(cell.budget),
        "--seed",
        str(cell.seed),
        "--out",
        str(path),
        "--quiet",
        *cell.overrides_as_flags(),
    ]
    convert = [sys.executable, str(REPO / "experiments" / "pgmorl_to_run.py"), str(path)]
    for argv in (train, convert):
        log.write(f"$ {shlex.join(argv)}\n")
        done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "WANDB_MODE": "disabled"})
        log.write(done.stdout[-20_000:] + done.stderr[-20_000:])
        if done.returncode != 0:
            return done.returncode
    return 0


def _hparams_match(cell_dir: Path, cell: Cell) -> bool:
    """True if the run's saved hyperparameters agree with the cell's overrides (so its result is not stale)."""
    try:
        saved = json.loads((cell_dir / CONFIG_FILE).read_text()).get("hparams", {})
    except (OSError, ValueError, AttributeError):
        return False
    return all(key in saved and json.loads(json.dumps(value)) == saved[key] for key, value in cell.hparams)


def _last_error_line(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for line in reversed(lines):
        if "error" in line.lower() or "Error" in line:
            return line
    return lines[-1] if lines else "failed without a message"


def run_cell(cell: Cell, cell_dir: str) -> dict[str, Any]:
    """Train one cell through ``morl.cli.main`` with stdout/stderr going to the cell's log file.

    Never raises: the outcome is returned (and written to ``benchmark_cell.json``) as
    ``{"name", "status": "ok" | "error", "error", "seconds"}``.
    """
    import torch

    torch.set_num_threads(1)  # one core per worker: N workers must not fight over the cores
    from morl import cli

    path = Path(cell_dir)
    start = time.perf_counter()
    before = 0.0  # worker time spent on this cell by earlier, interrupted invocations
    if path.exists() and (path / CONFIG_FILE).is_file() and _hparams_match(path, cell):
        argv = ["train", "--resume", str(path), "--no-progress"]
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            before = float(json.loads((path / CELL_FILE).read_text()).get("seconds", 0.0))
    else:
        if path.exists():
            shutil.rmtree(path)
        argv = ["train", cell.algo, "--env", cell.env, "--total-timesteps", str(cell.budget)]
        argv += ["--seed", str(cell.seed), "--out", str(path), "--no-progress"]
        if cell.hparams:
            argv += ["--set", *cell.overrides()]
    buffer = io.StringIO()
    if cell.algo != "pgmorl":
        buffer.write(f"$ morl {shlex.join(argv)}\n")
    status, error = "ok", ""
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            code = _run_pgmorl(cell, path, buffer) if cell.algo == "pgmorl" else cli.main(argv)
        if code != 0:
            status, error = "error", _last_error_line(buffer.getvalue())
    except SystemExit as exc:  # argparse rejected the arguments
        status, error = "error", f"exit {exc.code}: {_last_error_line(buffer.getvalue())}"
    except Exception as exc:
        status, error = "error", f"{type(exc).__name__}: {exc}".splitlines()[0]
        buffer.write(traceback.format_exc())
    # The CLI refuses a non-empty new run directory, so the log is written only once training is over.
    path.mkdir(parents=True, exist_ok=True)
    with (path / LOG_FILE).open("a") as log:
        log.write(buffer.getvalue())
    if status == "ok" and not _finished(path):
        status, error = "error", "training returned without saving agent.json"
    seconds = round(before + time.perf_counter() - start, 2)
    result = {"name": cell.name, "status": status, "error": error, "seconds": seconds}
    (path / CELL_FILE).write_text(json.dumps(result, indent=2) + "\n")
    return result


# --- aggregation -----------------------------------------------------------------------------
@dataclass
class CellResult:
    cell: Cell
    run_dir: Path
    status: str  # ok | error | missing
    error: str = ""
    report: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    seconds: float | None = None


def collect(cell: Cell, cell_dir: Path, outcome: dict[str, Any] | None) -> CellResult:
    """Score a finished cell from its run directory (archive + config), or report why it has no result."""
    import numpy as np

    from morl import metrics
    from morl.pareto import ParetoArchive
    from morl.runs import read_metrics

    recorded = outcome
    if recorded is None and (cell_dir / CELL_FILE).is_file():
        with contextlib.suppress(OSError, ValueError):
            recorded = json.loads((cell_dir / CELL_FILE).read_text())
    seconds = None if recorded is None else recorded.get("seconds")
    if not _finished(cell_dir):
        if recorded is not None and recorded.get("status") == "error":
            return CellResult(cell, cell_dir, "error", recorded.get("error", ""), seconds=seconds)
        return CellResult(cell, cell_dir, "missing", "no finished run", seconds=seconds)
    try:
        config = json.loads((cell_dir / CONFIG_FILE).read_text())
        front = ParetoArchive.load(cell_dir / "archive", load_policies=False).values
        true_front = config.get("true_front")
        report = metrics.evaluate_front(
            front,
            np.asarray(config["ref_point"], dtype=np.float64),
            np.asarray(config["eval_weights"], dtype=np.float64),
            None if true_front is None else np.asarray(true_front, dtype=np.float64),
        )
        rows = read_metrics(cell_dir)
        last = {key: float(col[-1]) for key, col in rows.items() if len(col)}
    except Exception as exc:
        message = f"cannot score run: {type(exc).__name__}: {exc}"[:300]
        return CellResult(cell, cell_dir, "error", message, seconds=seconds)
    return CellResult(cell, cell_dir, "ok", report=report, last=last, seconds=seconds)


def _mean_std(values: list[float]) -> str:
    """``mean ± sample std`` with about three significant digits, both to the same decimals."""
    import numpy as np

    arr = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if arr.size == 0:
        return "-"
    mean, std = float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    scale = max(abs(mean), std)
    decimals = 2 if scale == 0 else int(np.clip(2 - np.floor(np.log10(scale)), 0, 3))
    if arr.size == 1:
        return f"{mean:.{decimals}f}"
    return f"{mean:.{decimals}f} ± {std:.{decimals}f}"


def _short(message: str, limit: int = 160) -> str:
    """An error message fit for a table cell (the full text is in the cell's benchmark.log)."""
    message = " ".join(message.split()).replace("|", "\\|")
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _mean(values: list[float], fmt: str) -> str:
    import numpy as np

    arr = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    return "-" if arr.size == 0 else format(arr.mean(), fmt)


def table(results: list[CellResult]) -> list[str]:
    """Markdown rows: one per (algo, env, budget), mean ± sample std over the seeds that finished."""
    groups: dict[tuple[str, str, int], list[CellResult]] = defaultdict(list)
    for result in results:
        groups[result.cell.group].append(result)
    header = (
        "| algo | env | budget | seeds ok | HV | HV / true HV | EU | \\|F\\| | env steps | train wall (s) "
        "| cell wall (s) | steps/s | errors |"
    )
    lines = [header, "|" + "---|" * 13]
    for (algo, env, budget), group in groups.items():
        ok = [r for r in group if r.status == "ok"]
        has_truth = any("hypervolume_ratio" in r.report for r in ok)
        errors = "; ".join(f"seed {r.cell.seed}: {_short(r.error)}" for r in group if r.status != "ok")
        lines.append(
            "| "
            + " | ".join(
                [
                    algo,
                    f"`{env}`",
                    f"{budget:,}",
                    f"{len(ok)}/{len(group)}",
                    _mean_std([r.report["hypervolume"] for r in ok]),
                    _mean_std([r.report.get("hypervolume_ratio") for r in ok]) if has_truth else "n/a",
                    _mean_std([r.report["expected_utility"] for r in ok]),
                    _mean_std([r.report["cardinality"] for r in ok]),
                    _mean([r.last.get("env_steps") for r in ok], ",.0f"),
                    _mean([r.last.get("wall_time") for r in ok], ".1f"),
                    _mean([r.seconds for r in ok], ".1f"),
                    _mean([r.last.get("steps_per_second") for r in ok], ",.0f"),
                    errors or "",
                ]
            )
            + " |"
        )
    return lines


def plot_groups(results: list[CellResult], plots_dir: Path) -> dict[tuple[str, str, int], list[Path]]:
    """Front and hypervolume PNGs per (algo, env, budget), the seeds compared in one figure."""
    from morl import plotting

    groups: dict[tuple[str, str, int], list[Path]] = defaultdict(list)
    for result in results:
        if result.status == "ok":
            groups[result.cell.group].append(result.run_dir)
    written: dict[tuple[str, str, int], list[Path]] = {}
    for (algo, env, budget), dirs in groups.items():
        out = plots_dir / f"{algo}-{_env_slug(env)}-{budget}"
        try:
            files = plotting.plot_runs(sorted(dirs), out_dir=out, formats=("png",))
        except Exception as exc:  # a plot must not cost us the table
            print(f"benchmark: no plot for {algo} on {env} ({budget}): {exc}", file=sys.stderr)
            continue
        for path in files:
            path.chmod(0o644)  # written atomically through a private temp file; docs are for everyone
        written[(algo, env, budget)] = files
    return written


def _load() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except (AttributeError, OSError):  # not on Unix
        return "unknown"


def machine_facts(load_before: str) -> list[str]:
    import torch

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = "unknown"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    return [
        f"- date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"- machine: {_cores()} CPU cores available ({os.cpu_count()} logical in the machine), {cpu}",
        f"- torch {torch.__version__} (CUDA available: {torch.cuda.is_available()}), "
        f"python {platform.python_version()}, {platform.system()} {platform.release()}",
        f"- morl commit: {commit} (working tree may have had uncommitted changes)",
        f"- load average (1/5/15 min) before the suite: {load_before}, after: {_load()} "
        f"(anything above 0 before it is other work sharing the cores, and slows every wall time here)",
    ]


def write_report(
    suite: str,
    data: dict[str, Any],
    results: list[CellResult],
    plots: dict[tuple[str, str, int], list[Path]],
    command: str,
    workers: int,
    wall: float,
    ran: int,
    skipped: int,
    docs_dir: Path,
    load_before: str,
) -> Path:
    target = docs_dir / f"{suite}.md"
    lines = [f"# Benchmark suite `{suite}`", ""]
    if data.get("description"):
        lines += [str(data["description"]).strip(), ""]
    lines += [
        "Produced by (from the repository root):",
        "",
        "```",
        command,
        "```",
        "",
        *machine_facts(load_before),
        f"- workers: {workers}, one torch thread each; suite wall time of this invocation: {wall:.0f} s "
        f"({ran} cells trained, {skipped} reused from an earlier invocation)",
        "",
        *table(results),
        "",
        "Columns: mean ± sample standard deviation over the seeds that finished. HV is the hypervolume of the",
        "final archive against the env's reference point; HV / true HV divides it by the hypervolume of the",
        "env's known Pareto front (n/a when the env has none); EU is expected (linear) utility over the",
        "evaluation preference grid; |F| is the number of non-dominated points; env steps, train wall and",
        "steps/s come from the last row of `metrics.csv` (training time only, evaluation included); cell wall",
        "is the whole cell (imports, env setup, saving, plots) as seen by the worker. All values are from the",
        "`config.json` + `archive/` of each run directory, so they can be recomputed with `morl eval RUN_DIR`.",
        "",
    ]
    if plots:
        lines += ["## Plots (seeds compared)", ""]
        for (algo, env, budget), files in plots.items():
            links = " · ".join(f"[{p.stem}]({p.relative_to(docs_dir).as_posix()})" for p in files)
            lines.append(f"- {algo} on `{env}`, {budget:,} steps: {links}")
        front_images = [(key, p) for key, files in plots.items() for p in files if p.stem == "front"]
        if front_images:
            lines.append("")
            for (algo, env, budget), p in front_images:
                lines.append(f"![{algo} {env} {budget} front]({p.relative_to(docs_dir).as_posix()})")
        lines.append("")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines))
    return target


def run_cells(todo: list[Cell], cell_dirs: dict[str, Path], workers: int, start: float) -> dict[str, dict[str, Any]]:
    """Run the cells on a spawn-based pool of ``workers`` processes; the outcome of each, by cell name.

    A worker that dies outright (segfault, out of memory, ``os._exit``) breaks the whole pool, and every
    cell still in it fails with it. Those cells are then run again one at a time, each in a fresh
    one-worker pool (resuming from its checkpoints), so only the cell that really crashes is reported.
    """
    outcomes: dict[str, dict[str, Any]] = {}
    ctx = multiprocessing.get_context("spawn")
    done = 0

    def record(cell: Cell, outcome: dict[str, Any]) -> None:
        nonlocal done
        done += 1
        outcomes[cell.name] = outcome
        took = f"{outcome['seconds']:.0f} s" if outcome.get("seconds") is not None else "? s"
        detail = "" if outcome["status"] == "ok" else f": {_short(outcome['error'], 300)}"
        print(
            f"benchmark: [{done}/{len(todo)}] {cell.name} {outcome['status']} in {took}{detail} "
            f"(suite {time.perf_counter() - start:.0f} s)",
            file=sys.stderr,
        )

    def pool_pass(cells: list[Cell], size: int) -> list[tuple[Cell, BaseException]]:
        broken = []
        with ProcessPoolExecutor(max_workers=size, mp_context=ctx) as pool:
            futures = {pool.submit(run_cell, cell, str(cell_dirs[cell.name])): cell for cell in cells}
            for future in as_completed(futures):
                try:
                    record(futures[future], future.result())
                except Exception as exc:  # the worker process died, taking the pool with it
                    broken.append((futures[future], exc))
        return broken

    if not todo:
        return outcomes
    broken = pool_pass(todo, min(workers, len(todo)))
    if broken:
        print(f"benchmark: a worker died; rerunning {len(broken)} cell(s) one at a time", file=sys.stderr)
    for cell, _ in broken:
        for _, exc in pool_pass([cell], 1):
            message = f"worker process died (crash, kill or out of memory; see {LOG_FILE} if any): {exc!r}"
            record(cell, {"name": cell.name, "status": "error", "error": message})
    return outcomes


# --- main ------------------------------------------------------------------------------------
def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", required=True, help="name of experiments/suites/<name>.yaml, or a YAML path")
    parser.add_argument("--workers", type=int, default=_cores(), help="parallel cells (default: %(default)s cores)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="root of the run directories (default %(default)s)")
    parser.add_argument("--docs", default=str(DOCS_DIR), help="where the markdown table and plots go")
    parser.add_argument("--force", action="store_true", help="rerun cells that already have a finished result")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    suite_path = Path(args.suite)
    if suite_path.suffix not in (".yaml", ".yml"):  # a suite name (which may contain dots: mujoco-1.5m)
        suite_path = SUITES_DIR / f"{args.suite}.yaml"
    if not suite_path.is_file():
        names = sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))
        print(f"benchmark: error: no suite {args.suite!r}; valid: {', '.join(names)}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("benchmark: error: --workers must be >= 1", file=sys.stderr)
        return 2
    suite = suite_path.stem
    try:
        data, cells = load_suite(suite_path)
    except (ValueError, yaml.YAMLError) as err:
        print(f"benchmark: error: {err}", file=sys.stderr)
        return 2
    runs_root = Path(args.out) / "runs" / suite
    docs_dir = Path(args.docs)
    cell_dirs = {cell.name: runs_root / cell.name for cell in cells}

    todo, skipped = [], 0
    for cell in cells:
        cell_dir = cell_dirs[cell.name]
        if not args.force and _finished(cell_dir) and _hparams_match(cell_dir, cell):
            skipped += 1
            continue
        if _finished(cell_dir) and not args.force:
            print(f"benchmark: {cell.name}: hyperparameters changed since it ran, rerunning", file=sys.stderr)
        if cell_dir.exists() and (args.force or _finished(cell_dir)):
            shutil.rmtree(cell_dir)
        todo.append(cell)
    todo.sort(key=lambda c: -c.budget)  # longest first: better packing of the pool
    print(f"benchmark: suite {suite}: {len(cells)} cells, {len(todo)} to run, {skipped} already done", file=sys.stderr)

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by the spawned workers
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    load_before = _load()
    start = time.perf_counter()
    outcomes = run_cells(todo, cell_dirs, args.workers, start)
    wall = time.perf_counter() - start

    results = [collect(cell, cell_dirs[cell.name], outcomes.get(cell.name)) for cell in cells]
    plots_dir = docs_dir / suite
    if plots_dir.exists():
        shutil.rmtree(plots_dir)  # only this suite's current plots, nothing stale
    plots = plot_groups(results, plots_dir)
    command = "python experiments/benchmark.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    report = write_report(
        suite, data, results, plots, command, args.workers, wall, len(todo), skipped, docs_dir, load_before
    )
    print("\n".join(table(results)))
    print(f"benchmark: wrote {report} in {wall:.0f} s of training", file=sys.stderr)
    return 0 if all(r.status == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
