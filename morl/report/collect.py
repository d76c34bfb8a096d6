"""Run directories -> the JSON payload the report page draws: one section per env, its runs and seed groups.

Everything is read through :func:`morl.runs.load_run`, once per run, so a run still training is
reported as it stands on disk (its archive, config and metrics are each written atomically) and
is never locked or waited for. A directory that cannot be read becomes a one-line error and the
other runs are reported anyway.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import socket
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from morl import plotting, runs, storage
from morl.runs import RunData

REROLL_EPISODES = 10  # episodes in the `morl eval --episodes` command a point's hover shows
CURVES = ("hypervolume", "expected_utility")
TABLE_METRICS = ("hypervolume", "hypervolume_ratio", "expected_utility", "sparsity", "spacing", "igd", "cardinality")
UNIT_LABELS = {"env_steps": "env steps", "gradient_steps": "gradient updates"}


def expand_run_dirs(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """The run directories to report: each path as given, or, for a folder of runs (a benchmark suite's
    ``runs/<suite>/``, which has no ``config.json`` of its own), its subfolders that have one, sorted.

    Anything else is kept as given, so that reading it fails with a message naming it.
    """
    expanded: list[Path] = []
    for raw in paths:
        path = Path(raw)
        children = []
        if path.is_dir() and not (path / runs.CONFIG_FILE).exists():
            children = sorted(p for p in path.iterdir() if p.is_dir() and (p / runs.CONFIG_FILE).is_file())
        expanded += children or [path]
    return expanded


def collect(run_dirs: Sequence[str | os.PathLike]) -> tuple[dict[str, Any], dict[str, str]]:
    """Read the runs and build the page's payload.

    Returns:
        ``(payload, errors)``: the JSON-able payload (sections, runs, seed groups; NaN and inf as
        None) and, for each directory that could not be read, its path mapped to a one-line reason.
    """
    errors: dict[str, str] = {}
    loaded: list[tuple[RunData, dict[str, float]]] = []
    for path in expand_run_dirs(run_dirs):
        try:
            run = runs.load_run(path)
            indicators = run.report()
        except Exception as err:  # a corrupt or foreign directory must not stop the report of the others
            errors[str(path)] = _one_line(err, path)
            continue
        loaded.append((run, indicators))
    groups: dict[tuple[Any, ...], list[tuple[RunData, dict[str, float]]]] = {}
    for run, indicators in loaded:
        key = (*plotting.env_key(run.config), run.num_objectives)
        groups.setdefault(key, []).append((run, indicators))
    sections = [_section(key, members) for key, members in groups.items()]
    titles = [section["title"] for section in sections]
    for section in sections:  # one env with runs of different objective counts: two sections, told apart
        if titles.count(section["title"]) > 1:
            section["title"] += f" ({section['num_objectives']} objectives)"
    payload = {
        "title": "morl report",
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "reroll_episodes": REROLL_EPISODES,
        "errors": [{"run_dir": d, "error": e} for d, e in errors.items()],
        "sections": sections,
    }
    return _finite(payload), errors


def _one_line(err: Exception, path: Path) -> str:
    """The error in one line that names the directory; the exception's type unless it is a ValueError
    (load_run's own messages) or an OSError (a file that cannot be read)."""
    text = " ".join(str(err).split()) or type(err).__name__
    if not isinstance(err, ValueError | OSError):
        text = f"{type(err).__name__}: {text}"
    return text if str(path) in text else f"run directory {path}: {text}"


# --- one env ------------------------------------------------------------------------------------
def _section(key: tuple[Any, ...], members: list[tuple[RunData, dict[str, float]]]) -> dict[str, Any]:
    env, kwargs, m = key
    section_runs = [run for run, _ in members]
    notes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        true_front = plotting.shared_true_front(section_runs)
    notes += [str(w.message) for w in caught]
    refs = {tuple(run.ref_point.tolist()) for run in section_runs if run.ref_point is not None}
    if len(refs) > 1:
        notes.append(f"runs use different reference points {sorted(refs)}: their hypervolumes do not compare")
    names = next((run.objective_names for run in section_runs if run.objective_names), None)
    title = plotting.env_title((env, kwargs))
    units = sorted({run.budget_unit for run in section_runs})
    true_hv = next((i.get("true_hypervolume") for _, i in members if i.get("true_hypervolume") is not None), None)
    group_of = _seed_groups(section_runs)
    labels = _short_labels(section_runs, group_of)
    records = [
        _run_record(run, indicators, label, group_label)
        for (run, indicators), label, (_, group_label) in zip(members, labels, group_of, strict=True)
    ]
    members_of: dict[str, list[int]] = {}
    for i, (identity, _) in enumerate(group_of):
        members_of.setdefault(identity, []).append(i)
    seed_groups = [
        {
            "label": group_of[idx[0]][1],
            "runs": idx,
            "curves": {c: _mean_band([section_runs[i].curve(c) for i in idx]) for c in CURVES},
        }
        for idx in members_of.values()
    ]
    return {
        "title": title,
        "env": env,
        "num_objectives": m,
        "objectives": plotting.objective_labels(names, m) if m else [],
        "ref_point": section_runs[0].config.get("ref_point"),
        "true_front": None if true_front is None else true_front.tolist(),
        "true_stairs": _stairs(true_front) if m == 2 and true_front is not None else None,
        "true_hypervolume": true_hv,
        "unit": " / ".join(UNIT_LABELS.get(u, u) for u in units),
        "notes": notes,
        "runs": records,
        "groups": seed_groups,
    }


def _configuration(run: RunData) -> tuple[str, str, dict[str, Any]]:
    """What seeds of one configuration share: the algorithm (or the variant the config names), budget,
    reference point and hyperparameters (where jobs ran aside). Returns (identity, name, those settings)."""
    config = run.config
    name = str(config.get("variant") or config.get("algo"))
    hparams = {k: v for k, v in (config.get("hparams") or {}).items() if k not in runs.PLACEMENT_KEYS}
    settings = runs.canonical({"budget": config.get("budget"), "budget_unit": run.budget_unit,
                               "ref_point": config.get("ref_point"), **hparams})  # fmt: skip
    return json.dumps([name, settings], sort_keys=True), name, settings


def _seed_groups(section_runs: list[RunData]) -> list[tuple[str, str]]:
    """Per run, (group identity, group label). Configurations of one algorithm are labelled by the settings
    that tell them apart, e.g. ``pcsac (cip=false)`` and ``pcsac (cip=true)``."""
    found = [_configuration(run) for run in section_runs]
    settings = {identity: (name, values) for identity, name, values in found}
    labels = {identity: name for identity, (name, _) in settings.items()}
    for name in set(labels.values()):
        same = [identity for identity, label in labels.items() if label == name]
        if len(same) < 2:
            continue
        keys = sorted({k for i in same for k in settings[i][1]})
        differ = [k for k in keys if len({json.dumps(settings[i][1].get(k), sort_keys=True) for i in same}) > 1]
        for n, identity in enumerate(same, start=1):
            shown = [f"{k}={json.dumps(settings[identity][1].get(k))[:24]}" for k in differ[:3]]
            labels[identity] = f"{name} ({', '.join(shown) + (', ...' if len(differ) > 3 else '') or n})"
    return [(identity, labels[identity]) for identity, _, _ in found]


def _short_labels(section_runs: list[RunData], group_of: list[tuple[str, str]]) -> list[str]:
    """``<group> · seed <n>``; directory names (then an index) keep repeated labels apart."""
    labels = [
        f"{group} · seed {run.config.get('seed', '?')}" for run, (_, group) in zip(section_runs, group_of, strict=True)
    ]
    for attempt in ("name", "index"):
        repeated = {label for label in labels if labels.count(label) > 1}
        if not repeated:
            break
        for i, run in enumerate(section_runs):
            if labels[i] in repeated:
                labels[i] += f" ({run.path.resolve().name})" if attempt == "name" else f" #{i + 1}"
    return labels


# --- one run ------------------------------------------------------------------------------------
def _run_record(run: RunData, indicators: dict[str, float], label: str, group: str) -> dict[str, Any]:
    config = run.config
    unit = run.budget_unit
    steps = run.metrics.get(unit)
    spent = float(steps[-1]) if steps is not None and len(steps) else None
    last = {k: float(v[-1]) for k, v in run.metrics.items() if len(v)}
    reroll = _reroll_base(run)
    entries = []
    for entry in run.entries:
        entries.append(
            {
                "id": entry.id,
                "value": entry.value.tolist(),
                "preference": None if entry.preference is None else entry.preference.tolist(),
                "condition": None if entry.condition is None else entry.condition.tolist(),
                "meta": {k: v for k, v in entry.meta.items() if isinstance(v, str | int | float | bool)},
                "command": None if reroll is None else f"{reroll} --entry {entry.id}",
            }
        )
    curves = {}
    for column in CURVES:
        found = run.curve(column)
        curves[column] = None if found is None else {"x": found[0].tolist(), "y": found[1].tolist()}
    external = config.get("external") if isinstance(config.get("external"), dict) else {}
    return {
        "label": label,
        "name": run.label,
        "group": group,
        "dir": str(run.path.resolve()),
        "algo": config.get("algo"),
        "env": config.get("env"),
        "seed": config.get("seed"),
        "budget": config.get("budget"),
        "budget_unit": unit,
        "spent": spent,
        "status": _status(run, spent),
        "entries": entries,
        "stairs": _stairs(run.values) if run.values.shape[1] == 2 and len(run.values) else None,
        "reroll": None if reroll is not None else _why_no_reroll(run),
        "metrics": {
            **{k: indicators.get(k) for k in TABLE_METRICS},
            "wall_time": last.get("wall_time"),
            "steps_per_second": last.get("steps_per_second"),
        },
        "versions": _versions(config, external),
        "curves": curves,
    }


def _reroll_base(run: RunData) -> str | None:
    """``morl eval RUN --episodes N`` for a run whose agent was saved by a registered algorithm, else None."""
    from morl import agents
    from morl.agents.base import AGENT_FILE

    if run.config.get("algo") not in agents.REGISTRY or not (run.path / AGENT_FILE).is_file():
        return None
    return shlex.join(["morl", "eval", str(run.path.resolve()), "--episodes", str(REROLL_EPISODES)])


def _why_no_reroll(run: RunData) -> str:
    from morl import agents

    algo = run.config.get("algo")
    if algo not in agents.REGISTRY:
        return f"'{algo}' is not a morl algorithm (an external run: scored, not re-rolled)"
    return "no saved agent yet (the run is training or was stopped): resume or finish it to re-roll"


def _status(run: RunData, spent: float | None) -> str:
    """``training (pid ... since ...)`` while a process holds the directory; else how far it got."""
    lock = run.path / runs.LOCK_FILE
    holder = lock.read_text(errors="replace").strip() if lock.is_file() else ""
    if holder and _alive(holder):
        return f"training ({holder})"
    budget = run.config.get("budget")
    if spent is None:
        return "no evaluation yet"
    if budget is not None and spent < float(budget) * 0.95:  # last evaluations land a few rollouts short
        return f"stopped at {spent:,.0f} of {float(budget):,.0f}"
    return "finished"


def _alive(holder: str) -> bool:
    """Whether the process a run's lock file names (``pid N on HOST since ...``) still runs; True when this
    machine cannot tell (another host, an unexpected text). A killed training leaves its line behind."""
    words = holder.split()
    if len(words) < 4 or words[0] != "pid" or words[2] != "on" or not words[1].isdigit():
        return True
    if words[3] != socket.gethostname():
        return True
    try:
        os.kill(int(words[1]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _versions(config: dict[str, Any], external: dict[str, Any]) -> dict[str, str]:
    """The packages that made the numbers: the external library's own when the run was trained elsewhere."""
    versions = {str(k): str(v) for k, v in (config.get("versions") or {}).items()}
    if external.get("versions"):
        versions = {str(k): str(v) for k, v in external["versions"].items()}
    if external.get("library"):
        versions = {"trained with": str(external["library"]), **versions}
    return versions


def _stairs(points: np.ndarray) -> list[list[float]]:
    """The 2-D attainment staircase (``plotting.staircase``) as [xs, ys]."""
    vertices = plotting.staircase(points)
    return [vertices[:, 0].tolist(), vertices[:, 1].tolist()]


# --- seeds of one configuration -----------------------------------------------------------------
def _mean_band(curves: list[tuple[np.ndarray, np.ndarray] | None]) -> dict[str, Any] | None:
    """Mean, min and max over seeds of a metric against budget.

    Each run's curve is a step function (its value holds until its next evaluation); they are
    sampled at every evaluation step where all of them have started and none has ended, so the
    mean never mixes a different set of seeds along the way.
    """
    present = [(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)) for x, y in filter(None, curves)]
    if not present:
        return None
    start, end = max(x[0] for x, _ in present), min(x[-1] for x, _ in present)
    grid = np.unique(np.concatenate([x for x, _ in present]))
    grid = grid[(grid >= start) & (grid <= end)]
    if not len(grid):
        return None
    sampled = np.stack([y[np.searchsorted(x, grid, side="right") - 1] for x, y in present])  # (seeds, steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (EU of empty fronts) stay NaN
        return {
            "x": grid.tolist(),
            "mean": np.nanmean(sampled, axis=0).tolist(),
            "lo": np.nanmin(sampled, axis=0).tolist(),
            "hi": np.nanmax(sampled, axis=0).tolist(),
            "seeds": len(present),
        }


def _finite(obj: Any) -> Any:
    """NaN and infinities as None, on top of :func:`storage.to_jsonable`: strict JSON that ``JSON.parse`` reads."""
    return _nan_to_none(storage.to_jsonable(obj))


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_nan_to_none(v) for v in obj]
    return None if isinstance(obj, float) and not math.isfinite(obj) else obj
