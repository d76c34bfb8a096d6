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
the table. Results go to ``docs/benchmarks/<suite>.md`` and plots to ``docs/benchmarks/<suite>/``.
Every run directory is read back through ``morl.runs.load_run``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
import traceback
import typing
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pydantic
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr

REPO = Path(__file__).resolve().parent.parent
EXPERIMENTS = REPO / "experiments"
for _path in (REPO, EXPERIMENTS):  # `import morl` / `import envs` / `import morlb_to_run` without installing
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

SUITES_DIR = EXPERIMENTS / "suites"
DOCS_DIR = REPO / "docs" / "benchmarks"
DEFAULT_OUT = Path("runs") / "benchmarks"
AGENT_FILE = "agent.json"  # morl.agents.base.AGENT_FILE: what a finished run of ours has saved
CELL_FILE = "benchmark_cell.json"
LOG_FILE = "benchmark.log"
PENDING_LOGS = ".logs"  # under the suite's runs root: a cell's log until its run directory may hold it
# MORL-Baselines' algorithms, run by experiments/morlb_cell.py in their own venv (never a morl dependency).
EXTERNAL_ALGOS = ("pgmorl", "capql", "gpi-ls", "envelope")
MORLB_PYTHON_ENV = "MORLB_PYTHON"
MORLB_VENV = REPO / ".venv-morlb"


# --- suite schema -----------------------------------------------------------------------------
def _one_or_many(value: Any) -> Any:
    """A scalar where a list is expected is a list of one (``seeds: 0``)."""
    return value if isinstance(value, list) else [value]


Name = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")]  # goes into directory names
EnvId = Annotated[StrictStr, Field(min_length=1)]
Seed = Annotated[StrictInt, Field(ge=0)]
Budget = Annotated[StrictInt, Field(gt=0)]
HParams = dict[StrictStr, Any]
Names = Annotated[list[Name], BeforeValidator(_one_or_many), Field(min_length=1)]
EnvIds = Annotated[list[EnvId], BeforeValidator(_one_or_many), Field(min_length=1)]
Seeds = Annotated[list[Seed], BeforeValidator(_one_or_many), Field(min_length=1)]
Budgets = Annotated[list[Budget], BeforeValidator(_one_or_many), Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Variant(_Strict):
    """An algorithm under another name with its own hyperparameters: its own cells, row and plots."""

    algo: Name
    hparams: HParams = {}
    description: StrictStr | None = None


class Grid(_Strict):
    """The product algos x envs x seeds x budgets; ``algos`` may name variants."""

    algos: Names
    envs: EnvIds
    seeds: Seeds
    budgets: Budgets
    hparams: HParams = {}


class CellSpec(_Strict):
    """One cell, the grid's keys in the singular."""

    algo: Name
    env: EnvId
    seed: Seed
    budget: Budget
    hparams: HParams = {}


class Suite(_Strict):
    """A suite file. ``hparams`` maps an algorithm or variant name to overrides for all its cells;
    ``hv_at`` lists budgets at which the table also reports the hypervolume read from ``metrics.csv``."""

    description: StrictStr = ""
    hparams: dict[Name, HParams | None] = {}
    variants: dict[Name, Variant] = {}
    grid: Grid | None = None
    grids: list[Grid] = []
    cells: list[CellSpec] = []
    hv_at: Annotated[list[Budget], BeforeValidator(_one_or_many)] = []

    @pydantic.model_validator(mode="after")
    def _check(self) -> Suite:
        if self.grid is None and not self.grids and not self.cells:
            raise ValueError("defines no cells: give 'grid', 'grids' or 'cells'")
        for name, variant in self.variants.items():
            if variant.algo in self.variants:
                raise ValueError(f"variants.{name}.algo: {variant.algo!r} is a variant; name an algorithm")
        return self


class SuiteError(ValueError):
    """A suite file that cannot be used; the message is one line naming the file and the problem."""


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel]:
    """The schema model that holds the last key of ``loc`` (for the valid keys of an unknown one)."""
    model: type[BaseModel] = Suite
    for part in loc[:-1]:
        if isinstance(part, str) and part in model.model_fields:
            inner = _inner_model(model.model_fields[part].annotation)
            model = inner or model
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _where(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "top level"


def _describe(err: dict[str, Any]) -> str:
    loc = tuple(part for part in err["loc"] if part not in ("function-before", "function-after"))
    if err["type"] == "extra_forbidden":
        valid = ", ".join(_model_at(loc).model_fields)
        return f"{_where(loc[:-1])}: unknown key {loc[-1]!r} (valid: {valid})"
    if err["type"] == "value_error" and not loc:
        return str(err["msg"]).removeprefix("Value error, ")
    got = err.get("input")
    shown = "" if isinstance(got, dict | list) else f" (got {got!r:.60})"
    message = err["msg"]
    if err["type"] == "string_pattern_mismatch":  # names go into directory names
        message = "a name must be letters, digits and _.+- (starting with a letter or digit)"
    if loc and loc[-1] == "[key]":  # a mapping key (a variant's or algorithm's name) is wrong
        return f"{_where(loc[:-2])}: key {loc[-2]!r}: {message}"
    return f"{_where(loc)}: {message}{shown}"


def parse_suite(data: Any, source: str = "suite") -> Suite:
    """Validate a suite mapping; every problem in one line, naming ``source`` and the path in the YAML."""
    if data is None:
        raise SuiteError(f"{source}: the file is empty")
    if not isinstance(data, dict):
        raise SuiteError(f"{source}: must be a mapping of keys, got {type(data).__name__}")
    try:
        return Suite.model_validate(data)
    except pydantic.ValidationError as err:
        problems = "; ".join(_describe(e) for e in err.errors())
        raise SuiteError(f"{source}: {problems}") from None


# --- cells ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    """One training run of the suite. ``variant`` is its row label and directory prefix (a variant's
    name, or the algorithm's own); ``algo`` is the algorithm that trains."""

    variant: str
    algo: str
    env: str
    seed: int
    budget: int
    hparams: tuple[tuple[str, Any], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.variant}-{_env_slug(self.env)}-{self.seed}-{self.budget}"

    @property
    def group(self) -> tuple[str, str, int]:
        """Cells differing only in the seed are aggregated together."""
        return (self.variant, self.env, self.budget)

    @property
    def external(self) -> bool:
        return self.algo in EXTERNAL_ALGOS

    def hparams_dict(self) -> dict[str, Any]:
        return {key: value for key, value in self.hparams}


def _env_slug(env: str) -> str:
    return env.replace("/", "_").replace(":", ".")


def _merge(*layers: dict[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer or {})
    return tuple(sorted(merged.items()))


def expand(suite: Suite, source: str = "suite") -> list[Cell]:
    """The suite's cells: grids expanded, variants resolved, hyperparameters merged, duplicates dropped.

    A cell's hyperparameters are, later ones winning: the suite's ``hparams`` of its algorithm, the
    variant's own ``hparams``, the suite's ``hparams`` of the variant's name, the grid's or cell's.
    """
    specs: list[tuple[str, str, int, int, dict[str, Any]]] = []
    for grid in [g for g in [suite.grid] if g is not None] + suite.grids:
        for algo in grid.algos:
            for env in grid.envs:
                for budget in grid.budgets:
                    for seed in grid.seeds:
                        specs.append((algo, env, seed, budget, grid.hparams))
    specs += [(c.algo, c.env, c.seed, c.budget, c.hparams) for c in suite.cells]
    unique: dict[str, Cell] = {}
    for variant, env, seed, budget, extra in specs:
        spec = suite.variants.get(variant)
        algo = spec.algo if spec is not None else variant
        layers = [suite.hparams.get(algo), spec.hparams if spec is not None else None]
        if variant != algo:
            layers.append(suite.hparams.get(variant))
        cell = Cell(variant, algo, env, seed, budget, _merge(*layers, extra))
        if cell.name in unique and unique[cell.name] != cell:
            raise SuiteError(f"{source}: cell {cell.name} is defined twice with different hyperparameters")
        unique[cell.name] = cell
    used = {c.variant for c in unique.values()} | {c.algo for c in unique.values()}
    for name in sorted(set(suite.hparams) - used):
        print(f"benchmark: warning: {source}: hparams.{name} is no algorithm or variant of a cell", file=sys.stderr)
    return list(unique.values())


def load_suite(path: Path) -> tuple[Suite, list[Cell]]:
    """The validated suite in ``path`` and its cells; :class:`SuiteError` (one line) on any problem."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise SuiteError(f"suite {path}: cannot read it ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise SuiteError(f"suite {path}: not valid YAML: {' '.join(str(err).split())}") from None
    suite = parse_suite(data, f"suite {path}")
    return suite, expand(suite, f"suite {path}")


# --- running one cell (inside a worker) -------------------------------------------------------
def _finished(cell_dir: Path) -> bool:
    """A run of ours saved its agent; an external algorithm's result was converted into a run."""
    import morlb_to_run

    return (cell_dir / AGENT_FILE).is_file() or morlb_to_run.is_converted(cell_dir)


def _saved_config(cell_dir: Path) -> dict[str, Any] | None:
    from morl import runs

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

    from morl import runs

    result = morlb_to_run.result_path(path)
    if result is None or (path / runs.CONFIG_FILE).exists() or not _result_matches(_read_json(result), cell):
        if path.exists():
            shutil.rmtree(path)
        python = morlb_python()
        if not python.is_file():
            raise RuntimeError(f"{python} not found: create the MORL-Baselines venv as experiments/morlb_cell.py says")
        argv = [str(python), str(EXPERIMENTS / "morlb_cell.py"), "--algo", cell.algo, "--env", cell.env]
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
    call = f"morl.training.train({cell.algo!r}, {cell.env!r}, total_timesteps={cell.budget}, seed={cell.seed}, "
    print(f"benchmark: {call}hparams={cell.hparams_dict()!r}, out={str(path)!r})", flush=True)
    training.train(
        cell.algo,
        cell.env,
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


# --- scoring ----------------------------------------------------------------------------------
@dataclass
class CellResult:
    cell: Cell
    run_dir: Path
    status: str  # ok | error | missing
    error: str = ""
    report: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    hv_at: dict[int, float | None] = field(default_factory=dict)
    budget_unit: str = "env_steps"
    seconds: float | None = None


def collect(cell: Cell, cell_dir: Path, outcome: dict[str, Any] | None, hv_at: list[int] = ()) -> CellResult:
    """Score a finished cell through ``morl.runs.load_run``, or say why it has no result."""
    from morl import runs

    recorded = outcome if outcome is not None else _read_json(cell_dir / CELL_FILE)
    seconds = None if recorded is None else recorded.get("seconds")
    if not _finished(cell_dir):
        if recorded is not None and recorded.get("status") == "error":
            return CellResult(cell, cell_dir, "error", recorded.get("error", ""), seconds=seconds)
        return CellResult(cell, cell_dir, "missing", "no finished run", seconds=seconds)
    try:
        run = runs.load_run(cell_dir)
        report = run.report()
        last = {key: float(col[-1]) for key, col in run.metrics.items() if len(col)}
        at = {budget: run.value_at("hypervolume", budget) for budget in hv_at}
    except Exception as exc:
        message = f"cannot score run: {type(exc).__name__}: {exc}"[:300]
        return CellResult(cell, cell_dir, "error", message, seconds=seconds)
    return CellResult(cell, cell_dir, "ok", report=report, last=last, hv_at=at, budget_unit=run.budget_unit,
                      seconds=seconds)  # fmt: skip


def _finite(values: list[Any]) -> Any:
    import numpy as np

    return np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)


def _mean_std(values: list[float | None]) -> str:
    """``mean ± sample std`` with about three significant digits, both to the same decimals."""
    import numpy as np

    arr = _finite(values)
    if arr.size == 0:
        return "-"
    mean, std = float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    scale = max(abs(mean), std)
    decimals = 2 if scale == 0 else int(np.clip(2 - np.floor(np.log10(scale)), 0, 3))
    if arr.size == 1:
        return f"{mean:.{decimals}f}"
    return f"{mean:.{decimals}f} ± {std:.{decimals}f}"


def _mean(values: list[float | None], fmt: str) -> str:
    arr = _finite(values)
    return "-" if arr.size == 0 else format(arr.mean(), fmt)


def _short(message: str, limit: int = 160) -> str:
    """An error message fit for a table cell (the full text is in the cell's benchmark.log)."""
    message = " ".join(message.split()).replace("|", "\\|")
    return message if len(message) <= limit else message[: limit - 1] + "…"


def budget_label(budget: int) -> str:
    """100000 -> ``100k``, 1500000 -> ``1.5M``, 2500 -> ``2.5k``, 1234 -> ``1,234``."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if budget >= size and (budget * 10) % size == 0:
            return f"{budget / size:g}{suffix}"
    return f"{budget:,}"


def _unit_words(unit: str) -> str:
    return unit.replace("_", " ")


def table(results: list[CellResult], hv_at: list[int] = ()) -> list[str]:
    """Markdown rows: one per (variant, env, budget), mean ± sample std over the seeds that finished."""
    groups: dict[tuple[str, str, int], list[CellResult]] = defaultdict(list)
    for result in results:
        groups[result.cell.group].append(result)
    units = {r.budget_unit for r in results if r.status == "ok"} or {"env_steps"}
    one_unit = next(iter(units)) if len(units) == 1 else None
    budget_head = f"budget ({_unit_words(one_unit)})" if one_unit else "budget"
    spent_head = _unit_words(one_unit) if one_unit else "spent"
    columns = ["algo", "env", budget_head, "seeds ok", "HV", "HV / true HV", "EU", "\\|F\\|", "sparsity", "spacing"]
    columns += [f"HV@{budget_label(b)}" for b in hv_at]
    columns += [spent_head, "train wall (s)", "cell wall (s)", "steps/s", "errors"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for (variant, env, budget), group in groups.items():
        ok = [r for r in group if r.status == "ok"]
        unit = ok[0].budget_unit if ok else "env_steps"
        has_truth = any("hypervolume_ratio" in r.report for r in ok)
        errors = "; ".join(f"seed {r.cell.seed}: {_short(r.error)}" for r in group if r.status != "ok")
        algo = group[0].cell.algo
        label = variant if variant == algo else f"{variant} ({algo})"
        budget_text = f"{budget:,}" if one_unit else f"{budget:,} {_unit_words(unit)}"
        cells = [
            label,
            f"`{env}`",
            budget_text,
            f"{len(ok)}/{len(group)}",
            _mean_std([r.report["hypervolume"] for r in ok]),
            _mean_std([r.report.get("hypervolume_ratio") for r in ok]) if has_truth else "n/a",
            _mean_std([r.report["expected_utility"] for r in ok]),
            _mean_std([r.report["cardinality"] for r in ok]),
            _mean_std([r.report.get("sparsity") for r in ok]),
            _mean_std([r.report.get("spacing") for r in ok]),
            *(_mean_std([r.hv_at.get(b) for r in ok]) for b in hv_at),
            _mean([r.last.get(r.budget_unit) for r in ok], ",.0f"),
            _mean([r.last.get("wall_time") for r in ok], ".1f"),
            _mean([r.seconds for r in ok], ".1f"),
            _mean([r.last.get("steps_per_second") for r in ok], ",.0f"),
            errors,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def plot_groups(results: list[CellResult], plots_dir: Path) -> dict[tuple[str, str, int], list[Path]]:
    """Front and hypervolume PNGs per (variant, env, budget), the seeds compared in one figure."""
    from morl import plotting

    groups: dict[tuple[str, str, int], list[Path]] = defaultdict(list)
    for result in results:
        if result.status == "ok":
            groups[result.cell.group].append(result.run_dir)
    written: dict[tuple[str, str, int], list[Path]] = {}
    for (variant, env, budget), dirs in groups.items():
        out = plots_dir / f"{variant}-{_env_slug(env)}-{budget}"
        try:
            files = plotting.plot_runs(sorted(dirs), out_dir=out, formats=("png",))
        except Exception as exc:  # a plot must not cost us the table
            print(f"benchmark: no plot for {variant} on {env} ({budget}): {exc}", file=sys.stderr)
            continue
        for path in files:
            path.chmod(0o644)  # written atomically through a private temp file; docs are for everyone
        written[(variant, env, budget)] = files
    return written


# --- report -----------------------------------------------------------------------------------
def _load() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except (AttributeError, OSError):  # not on Unix
        return "unknown"


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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


@dataclass
class Invocation:
    """How the suite was run, for the report."""

    command: str
    workers: int
    executor: str
    wall: float
    ran: int
    skipped: int
    load_before: str


def write_report(
    name: str,
    suite: Suite,
    results: list[CellResult],
    plots: dict[tuple[str, str, int], list[Path]],
    how: Invocation,
    docs_dir: Path,
) -> Path:
    target = docs_dir / f"{name}.md"
    lines = [f"# Benchmark suite `{name}`", ""]
    if suite.description:
        lines += [suite.description.strip(), ""]
    executor = "spawned worker processes" if how.executor == "local" else f"executor {how.executor}"
    lines += [
        "Produced by (from the repository root):",
        "",
        "```",
        how.command,
        "```",
        "",
        *machine_facts(how.load_before),
        f"- workers: {how.workers} ({executor}), one torch thread each; suite wall time of this invocation: "
        f"{how.wall:.0f} s ({how.ran} cells trained, {how.skipped} reused from an earlier invocation)",
        "",
    ]
    if suite.variants:
        lines += ["Variants:", ""]
        for variant, spec in suite.variants.items():
            hp = ", ".join(f"{k}={json.dumps(v)}" for k, v in spec.hparams.items()) or "its defaults"
            about = f": {spec.description.strip()}" if spec.description else ""
            lines.append(f"- `{variant}`: `{spec.algo}` with {hp}{about}")
        lines.append("")
    caption = (
        "Columns: mean ± sample standard deviation over the seeds that finished. HV is the hypervolume of the "
        "final archive against the env's reference point; HV / true HV divides it by the hypervolume of the "
        "env's known Pareto front (n/a when the env has none); EU is expected (linear) utility over the "
        "evaluation preference grid; |F| is the number of non-dominated points; sparsity and spacing measure "
        "the gaps between neighbouring points of the front (lower is denser / more even). "
    )
    if suite.hv_at:
        caption += (
            "HV@b is the hypervolume of the run's last evaluation (a `metrics.csv` row) within b of its budget "
            "unit, `-` when it has none that early (MORL-Baselines' runs have one row, at their end). "
        )
    caption += (
        "Budgets count the run's budget unit (env steps for online algorithms, gradient steps for offline "
        "ones); the budget actually spent, train wall and steps/s come from the last row of `metrics.csv` "
        "(training time, evaluation included); cell wall is the whole cell (imports, env setup, saving) as "
        "seen by the worker. Every value is read with `morl.runs.load_run`, so `morl eval RUN_DIR` recomputes it."
    )
    lines += [*table(results, suite.hv_at), "", *textwrap.wrap(caption, 100), ""]
    if plots:
        lines += ["## Plots (seeds compared)", ""]
        for (variant, env, budget), files in plots.items():
            links = " · ".join(f"[{p.stem}]({p.relative_to(docs_dir).as_posix()})" for p in files)
            lines.append(f"- {variant} on `{env}`, budget {budget:,}: {links}")
        front_images = [(key, p) for key, files in plots.items() for p in files if p.stem == "front"]
        if front_images:
            lines.append("")
            for (variant, env, budget), p in front_images:
                lines.append(f"![{variant} {env} {budget} front]({p.relative_to(docs_dir).as_posix()})")
        lines.append("")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines))
    return target


# --- main -------------------------------------------------------------------------------------
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
    name = suite_path.stem
    try:
        suite, cells = load_suite(suite_path)
    except SuiteError as err:
        print(f"benchmark: error: {err}", file=sys.stderr)
        return 2
    runs_root = Path(args.out) / "runs" / name
    docs_dir = Path(args.docs)
    cell_dirs = {cell.name: runs_root / cell.name for cell in cells}

    todo, skipped = [], 0
    for cell in cells:
        cell_dir = cell_dirs[cell.name]
        done = _finished(cell_dir)
        if done and not args.force and _matches(cell_dir, cell):
            skipped += 1
            continue
        if done and not args.force:
            print(f"benchmark: {cell.name}: algorithm or hyperparameters changed since it ran, rerunning",
                  file=sys.stderr)  # fmt: skip
        if cell_dir.exists() and (args.force or done):
            shutil.rmtree(cell_dir)
        todo.append(cell)
    todo.sort(key=lambda c: -c.budget)  # longest first: better packing of the pool
    print(f"benchmark: suite {name}: {len(cells)} cells, {len(todo)} to run, {skipped} already done", file=sys.stderr)

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by the workers
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    load_before = _load()
    start = time.perf_counter()
    outcomes = run_cells(todo, cell_dirs, args.workers, start, args.executor, args.ray_address)
    wall = time.perf_counter() - start

    results = [collect(cell, cell_dirs[cell.name], outcomes.get(cell.name), suite.hv_at) for cell in cells]
    plots_dir = docs_dir / name
    if plots_dir.exists():
        shutil.rmtree(plots_dir)  # only this suite's current plots, nothing stale
    plots = plot_groups(results, plots_dir)
    command = "python experiments/benchmark.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    how = Invocation(command, args.workers, args.executor, wall, len(todo), skipped, load_before)
    report = write_report(name, suite, results, plots, how, docs_dir)
    print("\n".join(table(results, suite.hv_at)))
    print(f"benchmark: wrote {report} in {wall:.0f} s of training", file=sys.stderr)
    return 0 if all(r.status == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
