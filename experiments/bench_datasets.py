"""A suite's ``datasets``: collected once into the suite's runs root, before the cells that train on them.

A dataset NAME is collected as ``morl data collect`` would, into ``<runs root>/datasets/NAME-v0``
(a Minari id), by a behaviour (``random``, ``scripted``) or by the archive of a ``source`` cell of
the suite, which the benchmark trains first like any other cell. The directory is built beside its
place and renamed into it, with ``benchmark_dataset.json`` (what it was collected with, and its
summary: episodes, steps, front, hypervolume at the env's reference point), so a killed
collection leaves nothing that looks complete and is redone. A dataset is collected again when
its spec changes, when its source cell was trained again, or with ``--force``; the cells trained
on the dataset it replaces are then removed, so that they train again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import sys
import textwrap
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suite import DATASET_PREFIX, Cell, Suite, source_cells

DATASETS_DIR = "datasets"  # under the suite's runs root
RECORD_FILE = "benchmark_dataset.json"  # in the dataset directory, written before it is renamed into place
VERSION = "v0"


@dataclass(frozen=True)
class DatasetJob:
    """One dataset of a suite: what to collect and where. ``source``/``source_dir``: its source cell, if any."""

    name: str
    env: str
    mode: str
    episodes: int
    distribution: str
    seed: int
    path: Path
    behaviour: str | None = None
    source: Cell | None = None
    source_dir: Path | None = None

    @property
    def env_label(self) -> str:
        """The env cells on this dataset name (``dataset:NAME``)."""
        return DATASET_PREFIX + self.name

    def wanted(self) -> dict[str, Any]:
        """What the dataset is collected with; a recorded one that differs is stale."""
        source = None
        if self.source is not None:
            src = self.source
            source = {"cell": src.name, "algo": src.algo, "seed": src.seed, "budget": src.budget,
                      "hparams": json.loads(json.dumps(src.hparams_dict()))}  # fmt: skip
        return {"env": self.env, "behaviour": self.behaviour, "source": source, "mode": self.mode,
                "episodes": self.episodes, "distribution": self.distribution, "seed": self.seed}  # fmt: skip

    def behaviour_spec(self) -> str:
        """The behaviour as ``morl.data.behaviour.resolve`` takes it."""
        return self.behaviour if self.source_dir is None else f"run:{self.source_dir.absolute()}"


def plan(suite: Suite, runs_root: Path, cell_dirs: dict[str, Path]) -> dict[str, DatasetJob]:
    """The suite's datasets by name, placed under ``runs_root``; a source cell's run is in ``cell_dirs``."""
    sources = source_cells(suite)
    jobs = {}
    for name, spec in suite.datasets.items():
        source = sources.get(name)
        jobs[name] = DatasetJob(
            name=name, env=spec.env, mode=spec.mode, episodes=spec.episodes, distribution=spec.distribution,
            seed=spec.seed, path=runs_root / DATASETS_DIR / f"{name}-{VERSION}", behaviour=spec.behaviour,
            source=source, source_dir=None if source is None else cell_dirs[source.name],
        )  # fmt: skip
    return jobs


def resolve(cells: list[Cell], jobs: dict[str, DatasetJob]) -> list[Cell]:
    """The cells, those on ``dataset:NAME`` given the dataset's directory to train on."""
    return [cell if cell.dataset is None else dataclasses.replace(cell, env_path=str(jobs[cell.dataset].path))
            for cell in cells]  # fmt: skip


def read_record(path: Path) -> dict[str, Any] | None:
    """The dataset's ``benchmark_dataset.json``, or None when there is none (not built, or built by hand)."""
    try:
        record = json.loads((path / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def complete(job: DatasetJob) -> bool:
    """The dataset is in place and was collected with the job's spec."""
    from morl import data

    record = read_record(job.path)
    return record is not None and record.get("spec") == job.wanted() and data.is_dataset(job.path)


def build(job: DatasetJob) -> dict[str, Any]:
    """Collect the dataset into a directory beside its place, then rename it into place (worker function).

    Never raises: returns ``{"name", "status": "ok" | "error", "error", "seconds"}``.
    """
    import torch

    from morl import data
    from morl.data import behaviour

    torch.set_num_threads(1)
    start = time.perf_counter()
    target = job.path.absolute()
    scratch = target.parent / f".{target.name}.building"
    try:
        shutil.rmtree(scratch, ignore_errors=True)  # what a killed collection left
        act = behaviour.resolve(job.behaviour_spec(), job.env, seed=job.seed)
        dataset = data.collect(job.env, act, job.episodes, distribution=job.distribution, mode=job.mode,
                               seed=job.seed)  # fmt: skip
        built = data.save(dataset, scratch / target.name)
        seconds = round(time.perf_counter() - start, 2)
        record = {"spec": job.wanted(), "summary": data.summarize(dataset).to_json(), "seconds": seconds,
                  "built": dt.datetime.now().isoformat(timespec="seconds")}  # fmt: skip
        (built / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n")
        if target.exists():
            shutil.rmtree(target)
        built.rename(target)
    except Exception as exc:
        traceback.print_exc()
        error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return {"name": job.name, "status": "error", "error": error, "seconds": time.perf_counter() - start}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"name": job.name, "status": "ok", "error": "", "seconds": seconds}


def prepare(
    jobs: dict[str, DatasetJob],
    cells: list[Cell],
    cell_dirs: dict[str, Path],
    finished: Callable[[Path], bool],
    retrained: set[str],
    force: bool = False,
    workers: int = 1,
    executor: str = "local",
    ray_address: str | None = None,
) -> dict[str, str]:
    """Collect every dataset that is not complete (or whose source cell is in ``retrained``, or all with ``force``).

    Cells trained on a dataset that is collected anew are removed first. Collections run in a
    ``JobPool`` (each in a worker process). Returns why each dataset that is not in place failed, by name.
    """
    from morl.distributed import JobPool

    errors: dict[str, str] = {}
    todo: list[DatasetJob] = []
    for job in jobs.values():
        if job.source is not None and not finished(job.source_dir):
            errors[job.name] = f"its source cell {job.source.name} has no finished run"
            continue
        renew = force or (job.source is not None and job.source.name in retrained)
        if not renew and complete(job):
            continue
        if read_record(job.path) is not None:  # replacing a dataset the benchmark built: its cells are stale
            stale = [cell_dirs[c.name] for c in cells if c.dataset == job.name and cell_dirs[c.name].exists()]
            for cell_dir in stale:
                shutil.rmtree(cell_dir)
            if stale:
                print(f"benchmark: dataset {job.name} is collected anew: removed {len(stale)} cell(s) trained on it",
                      file=sys.stderr)  # fmt: skip
        todo.append(job)
    print(f"benchmark: datasets: {len(jobs)}, {len(todo)} to collect, "
          f"{len(jobs) - len(todo) - len(errors)} in place", file=sys.stderr)  # fmt: skip
    if not todo:
        return errors
    outcomes: list[dict[str, Any]] = []
    try:
        with JobPool(executor, min(workers, len(todo)), ray_address, isolate=True) as pool:
            for outcome in pool.stream(build, [(job,) for job in todo]):
                outcomes.append(outcome)
                took = f"{outcome['seconds']:.0f} s"
                detail = "" if outcome["status"] == "ok" else f": {outcome['error']}"
                print(f"benchmark: dataset {outcome['name']} {outcome['status']} in {took}{detail}", file=sys.stderr)
    except Exception as exc:  # a worker died: the datasets not reported are not in place (collected atomically)
        print(f"benchmark: a dataset worker died ({exc!r})", file=sys.stderr)
    done = {outcome["name"]: outcome for outcome in outcomes}
    for job in todo:
        outcome = done.get(job.name)
        if outcome is None:
            errors[job.name] = "its collection's worker died (crash, kill or out of memory)"
        elif outcome["status"] != "ok":
            errors[job.name] = f"collection failed: {outcome['error']}"
    return errors


def data_hypervolumes(jobs: dict[str, DatasetJob]) -> dict[str, float]:
    """The hypervolume of each collected dataset's own front, by the env its cells name (``dataset:NAME``)."""
    found = {}
    for job in jobs.values():
        record = read_record(job.path)
        if record is not None and complete(job):
            found[job.env_label] = float(record["summary"]["hypervolume"])
    return found


def report_lines(jobs: dict[str, DatasetJob], errors: dict[str, str] | None = None) -> list[str]:
    """The report's section on the suite's datasets: one row each, with its own front's hypervolume."""
    if not jobs:
        return []
    columns = ["dataset", "env", "behaviour", "mode", "preferences", "episodes", "steps", "front points",
               "data HV", "reference point", "collected in (s)"]  # fmt: skip
    lines = ["## Datasets", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for job in jobs.values():
        behaviour = job.behaviour if job.source is None else f"archive of cell `{job.source.name}`"
        record = read_record(job.path)
        summary = record["summary"] if record is not None and complete(job) else None
        if summary is None:
            stale = "collected with other settings: run the suite again" if record is not None else "not collected yet"
            why = (errors or {}).get(job.name, stale)
            facts = [f"{job.episodes:,}", "-", "-", "-", "-", why.replace("|", "\\|")]
        else:
            ref = ", ".join(f"{x:g}" for x in summary["ref_point"])
            facts = [f"{summary['episodes']:,}", f"{summary['steps']:,}", str(len(summary["front"])),
                     f"{summary['hypervolume']:.6g}", f"[{ref}]", f"{record.get('seconds', 0):.0f}"]  # fmt: skip
        row = [f"`{job.env_label}`", f"`{job.env}`", behaviour, job.mode, job.distribution, *facts]
        lines.append("| " + " | ".join(row) + " |")
    caption = (
        "Each dataset is collected by `experiments/benchmark.py` into `<out>/runs/<suite>/datasets/NAME-v0` as "
        "`morl data collect` does: one preference per episode from the named distribution, the behaviour's actions "
        "(expert) or D4MORL's perturbation of them (amateur). Data HV is the hypervolume of the dataset's own front "
        "(its non-dominated undiscounted episode returns) at the env's reference point, as `morl data info DIR` "
        "prints it; the results table sets each cell on a dataset against it (data HV, HV / data HV), as PEDA's "
        "tables set their agents against the behaviour data."
    )
    return [*lines, "", *textwrap.wrap(caption, 100), ""]
