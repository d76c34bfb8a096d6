"""Benchmark results: scored cells aggregated over seeds into the markdown table, plots and report page."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from suite import Cell, Suite, _env_slug

REPO = Path(__file__).resolve().parent.parent


# --- cells scored ----------------------------------------------------------------------------------
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


def objectives(results: list[CellResult]) -> str:
    """The objectives of a group's env, by name (``objective_names`` in a run's config.json) or ``objective i``."""
    from morl import plotting, runs

    for result in results:
        if result.status != "ok":
            continue
        try:
            config = runs.read_config(result.run_dir)
        except ValueError:  # storage.FormatError: unreadable config, try the next seed
            continue
        m = config.get("num_objectives") or len(config.get("objective_names") or config.get("ref_point") or [])
        if m:
            return ", ".join(plotting.objective_labels(config.get("objective_names"), int(m))).replace("|", "\\|")
    return "-"


def table(
    results: list[CellResult],
    hv_at: list[int] = (),
    data_hv: dict[str, float] | None = None,
    reach_baseline: str | None = None,
) -> list[str]:
    """Markdown rows: one per (variant, env, budget), mean ± sample std over the seeds that finished.

    ``data_hv`` maps a dataset env (``dataset:NAME``) to the hypervolume of the dataset's own front:
    with it, the table has the columns data HV and HV / data HV (``-`` for cells on no dataset).
    ``reach_baseline`` names the row (variant) whose final HV every row's seeds race to reach: with
    it, the table has the column steps to baseline HV (see :func:`_steps_to_baseline`).
    """
    groups: dict[tuple[str, str, int], list[CellResult]] = defaultdict(list)
    for result in results:
        groups[result.cell.group].append(result)
    targets = _baseline_targets(groups, reach_baseline) if reach_baseline else {}
    units = {r.budget_unit for r in results if r.status == "ok"} or {"env_steps"}
    one_unit = next(iter(units)) if len(units) == 1 else None
    budget_head = f"budget ({_unit_words(one_unit)})" if one_unit else "budget"
    spent_head = _unit_words(one_unit) if one_unit else "spent"
    columns = ["algo", "env", "objectives", budget_head, "seeds ok"]
    columns += ["HV", "HV / true HV", "true points"]
    columns += ["data HV", "HV / data HV"] if data_hv else []
    columns += ["EU", "\\|F\\|", "sparsity", "spacing"]
    columns += [f"HV@{budget_label(b)}" for b in hv_at]
    columns += ["steps to baseline HV"] if reach_baseline else []
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
            objectives(group),
            budget_text,
            f"{len(ok)}/{len(group)}",
            _mean_std([r.report["hypervolume"] for r in ok]),
            _mean_std([r.report.get("hypervolume_ratio") for r in ok]) if has_truth else "n/a",
            _true_points(ok) if has_truth else "n/a",
            *(_against_data(ok, data_hv.get(env)) if data_hv else []),
            _mean_std([r.report["expected_utility"] for r in ok]),
            _mean_std([r.report["cardinality"] for r in ok]),
            _mean_std([r.report.get("sparsity") for r in ok]),
            _mean_std([r.report.get("spacing") for r in ok]),
            *(_mean_std([r.hv_at.get(b) for r in ok]) if b <= budget else "-" for b in hv_at),
            *([_steps_to_baseline(ok, targets.get((env, budget)))] if reach_baseline else []),
            _mean([r.last.get(r.budget_unit) for r in ok], ",.0f"),
            _mean([r.last.get("wall_time") for r in ok], ".1f"),
            _mean([r.seconds for r in ok], ".1f"),
            _mean([r.last.get("steps_per_second") for r in ok], ",.0f"),
            errors,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _baseline_targets(
    groups: dict[tuple[str, str, int], list[CellResult]], baseline: str
) -> dict[tuple[str, int], float]:
    """(env, budget) -> the mean over the ``baseline`` row's finished seeds of its final HV (last ``metrics.csv`` row).

    The mean is kept within the seeds' range: float rounding must not lift it above seeds that all share one HV.
    """
    import numpy as np

    targets: dict[tuple[str, int], float] = {}
    for (variant, env, budget), group in groups.items():
        finals = _finite([r.last.get("hypervolume") for r in group if r.status == "ok"])
        if variant == baseline and finals.size:
            targets[(env, budget)] = float(np.clip(finals.mean(), finals.min(), finals.max()))
    return targets


def _steps_to_reach(result: CellResult, target: float) -> float | None:
    """The first budget spent (``metrics.csv``) at which the run's hypervolume is at least ``target``; None if never."""
    import numpy as np

    from morl import runs

    curve = runs.load_run(result.run_dir).curve("hypervolume")
    if curve is None:
        return None
    steps, hv = curve
    reached = np.flatnonzero(hv >= target)  # NaN (an empty cell) never reaches
    return None if reached.size == 0 else float(steps[reached[0]])


def _steps_to_baseline(ok: list[CellResult], target: float | None) -> str:
    """``mean ± std`` of the budget each seed needed to reach ``target``, over the seeds that reached it.

    ``(k/n seeds)`` follows when only k of the n finished seeds did, ``never`` when none did, and ``-``
    stands for no baseline on this env and budget (``target`` None) or no finished seed.
    """
    if target is None or not ok:
        return "-"
    steps = [s for s in (_steps_to_reach(r, target) for r in ok) if s is not None]
    if not steps:
        return "never"
    mean = _mean(steps, ",.0f")
    text = f"{mean} ± {_finite(steps).std(ddof=1):,.0f}" if len(steps) > 1 else mean
    return text if len(steps) == len(ok) else f"{text} ({len(steps)}/{len(ok)} seeds)"


def _against_data(ok: list[CellResult], data_hv: float | None) -> list[str]:
    """The data HV and HV / data HV cells of a row; ``-`` for a row on no collected dataset."""
    if data_hv is None:
        return ["-", "-"]
    ratio = _mean_std([r.report["hypervolume"] / data_hv for r in ok]) if data_hv > 0 else "-"
    return [_mean_std([data_hv]), ratio]


def _true_points(ok: list[CellResult]) -> str:
    """Per seed, true-front points found of the front's size, e.g. ``10/10, 9/10, 10/10``."""
    return ", ".join(f"{r.report['true_points']:.0f}/{r.report['true_front_size']:.0f}" for r in ok)


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


def interactive_lines(interactive: Path | str | None, docs_dir: Path) -> list[str]:
    """The page's link to the runs' ``morl report`` page (outside the repository, next to the runs)."""
    if interactive is None:
        return []
    if isinstance(interactive, str):
        return [f"- interactive report: none was written ({interactive})"]
    link = Path(os.path.relpath(interactive.resolve(), docs_dir.resolve())).as_posix()
    return [
        f"- interactive report of these runs (fronts, HV and EU curves, sortable table, preference slider; "
        f"[docs/report.md](../report.md)): [{interactive.name}]({link}), written next to the runs, on the machine "
        f"that ran them; elsewhere, rebuild it from the runs with `morl report {interactive.parent.as_posix()}`"
    ]


def write_report(
    name: str,
    suite: Suite,
    results: list[CellResult],
    plots: dict[tuple[str, str, int], list[Path]],
    how: Invocation,
    docs_dir: Path,
    dataset_lines: list[str] | None = None,
    data_hv: dict[str, float] | None = None,
    interactive: Path | str | None = None,
) -> Path:
    """The suite's report page: how it ran, the variants, the table, the datasets (``dataset_lines``), the plots.

    ``interactive`` is the ``morl report`` page of the suite's runs (linked), or why there is none.
    """
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
        *interactive_lines(interactive, docs_dir),
        *(
            [
                f"- scoring: every archive re-rolled with {suite.reroll_episodes} episodes per entry (`morl.reroll`, "
                "seed 0; the cell's `reroll.json` keeps stored and re-rolled values): the final-front columns are the "
                "re-rolled values', HV@b the stored ones'"
            ]
            if suite.reroll_episodes
            else []
        ),
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
        "Columns: mean ± sample standard deviation over the seeds that finished. Objectives lists the env's "
        "objectives by the names its config.json records (objective i where it names none). HV is the "
        "hypervolume of the final archive against the env's reference point; HV / true HV divides it by the "
        "hypervolume of the env's known Pareto front (n/a when the env has none); EU is expected (linear) "
        "utility over the evaluation preference grid; |F| is the number of non-dominated points; sparsity and "
        "spacing measure the gaps between neighbouring points of the front (lower is denser / more even). "
    )
    if suite.hv_at:
        caption += (
            "HV@b is the hypervolume of the run's last evaluation (a `metrics.csv` row) within b of its budget "
            "unit, `-` when it has none that early (MORL-Baselines' runs have one row, at their end) or b "
            "exceeds the row's budget. "
        )
    if suite.reach_baseline:
        caption += (
            f"Steps to baseline HV: the target is the mean over seeds of `{suite.reach_baseline}`'s final HV "
            "(its last `metrics.csv` row) on the same env and budget; for each seed of a row, the first budget "
            "spent in its `metrics.csv` at which the HV is at least the target, mean ± std over the seeds that "
            "reached it, with (k/n seeds) when only k of n did, `never` when none did and `-` where the env and "
            "budget have no baseline row. "
        )
    caption += (
        "Budgets count the run's budget unit (env steps for online algorithms, gradient steps for offline "
        "ones); the budget actually spent, train wall and steps/s come from the last row of `metrics.csv` "
        "(training time, evaluation included); cell wall is the whole cell (imports, env setup, saving) as "
        "seen by the worker. Every value is read with `morl.runs.load_run`, so `morl eval RUN_DIR` recomputes it."
    )
    if data_hv:
        caption += (
            " Data HV is the hypervolume of a dataset's own front (its episodes' returns) at the same reference "
            "point, and HV / data HV the cell's HV over it (`-` for cells on no dataset); see Datasets below."
        )
    rows = table(results, suite.hv_at, data_hv, suite.reach_baseline)
    lines += [*rows, "", *textwrap.wrap(caption, 100), "", *(dataset_lines or [])]
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
