"""Plots of Pareto fronts and hypervolume curves, read back from run directories.

Plots are built only from what a run wrote to disk (``config.json``, ``metrics.csv`` and the
``archive/`` ParetoArchive), so any algorithm's runs can be compared in one figure and a run can
be plotted while it is still training. Figures are created with :class:`matplotlib.figure.Figure`
directly (no pyplot): nothing global is changed, no GUI backend is needed, and no figure is left
registered in pyplot's state, so plotting is safe on headless machines and inside other programs.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from morl import storage
from morl.points import as_front, non_dominated
from morl.runs import RunData, load_run

PLOTS_DIR = "plots"
TRUE_FRONT_LABEL = "true front"
TRUE_FRONT_COLOR = "black"

_DPI = 150
_AXES_3D_WIDTH = 7.0
_LEGEND_KW: dict[str, Any] = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0}
"""Legends go outside the axes on the right, so they never hide a point whatever the front's shape."""


def _colors(n: int) -> list[Any]:
    """One distinct colour per run (tab10, then tab20, then evenly spaced on a continuous map)."""
    if n <= 10:
        cmap = matplotlib.colormaps["tab10"]
        return [cmap(i) for i in range(n)]
    if n <= 20:
        cmap = matplotlib.colormaps["tab20"]
        return [cmap(i) for i in range(n)]
    cmap = matplotlib.colormaps["turbo"]
    return [cmap(x) for x in np.linspace(0.05, 0.95, n)]


def staircase(points: np.ndarray | list) -> np.ndarray:
    """Vertices of the 2-D attainment staircase (maximisation) through the non-dominated points.

    Points are ordered by increasing first objective; between consecutive points the line drops
    vertically and then runs horizontally, tracing the boundary of the region they dominate.
    Returns shape (2k - 1, 2) for k non-dominated points, (0, 2) for none.
    """
    arr = as_front(points, "points")
    if len(arr) == 0:
        return np.empty((0, 2))
    if arr.shape[1] != 2:
        raise ValueError(f"staircase needs 2 objectives, got {arr.shape[1]}")
    front = non_dominated(arr)
    front = front[np.lexsort((-front[:, 1], front[:, 0]))]
    vertices = [front[0]]
    for prev, cur in itertools.pairwise(front):
        vertices.append(np.array([prev[0], cur[1]]))
        vertices.append(cur)
    return np.asarray(vertices)


def plot_front(
    fronts: Mapping[str, np.ndarray],
    true_front: np.ndarray | list | None = None,
    objective_names: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """One figure comparing the fronts of several runs (label -> (n, m) values, maximisation).

    Two objectives: scatter plus the attainment staircase of each run; three: a 3-D scatter;
    four or more: parallel coordinates, each objective scaled to [0, 1] over all plotted points
    (the raw range is written at the ends of each axis), one line per point. ``true_front`` is
    drawn in black with its own marker and the legend label ``"true front"``. The legend has one
    entry per run, even for runs without points yet, so every run is accounted for.

    Raises:
        ValueError: nothing to plot, fewer than 2 objectives, inconsistent objective counts,
            non-finite values, or ``objective_names`` of the wrong length.
    """
    arrays = {str(label): as_front(points, f"front {label!r}") for label, points in fronts.items()}
    truth = None if true_front is None else as_front(true_front, "true_front")
    if truth is not None and len(truth) == 0:
        truth = None
    if not arrays and truth is None:
        raise ValueError("plot_front needs at least one front or a true_front")
    widths = {label: arr.shape[1] for label, arr in arrays.items() if arr.shape[1] > 0}
    if truth is not None and len(truth):
        widths[TRUE_FRONT_LABEL] = truth.shape[1]
    if not widths:
        raise ValueError("plot_front: no front has points and the number of objectives is unknown")
    if len(set(widths.values())) > 1:
        raise ValueError(f"all fronts must have the same number of objectives, got {widths}")
    m = next(iter(widths.values()))
    if m < 2:
        raise ValueError(f"plot_front needs at least 2 objectives, got {m}")
    arrays = {label: arr if arr.shape[1] else np.empty((0, m)) for label, arr in arrays.items()}
    if objective_names is not None and len(objective_names) != m:
        raise ValueError(f"objective_names has {len(objective_names)} names but the fronts have {m} objectives")
    names = objective_labels(objective_names, m)

    colors = dict(zip(arrays, _colors(len(arrays)), strict=True))
    if m == 2:
        fig = Figure(figsize=(8.0, 5.5), dpi=_DPI, layout="constrained")
        ax = fig.add_subplot()
        _draw_2d(ax, arrays, truth, colors, names)
    elif m == 3:
        # Constrained layout misplaces 3-D axis labels (the z label gets cut off); see _fit_3d_legend.
        fig = Figure(figsize=(_AXES_3D_WIDTH, 6.5), dpi=_DPI)
        ax = fig.add_subplot(projection="3d")
        _draw_3d(ax, arrays, truth, colors, names)
    else:
        fig = Figure(figsize=(max(8.0, 1.4 * m + 3.0), 5.5), dpi=_DPI, layout="constrained")
        ax = fig.add_subplot()
        _draw_parallel(ax, arrays, truth, colors, names)

    handles: list[Line2D] = [
        Line2D([], [], color=colors[label], marker="o", linestyle="-" if m != 3 else "none", label=label)
        for label in arrays
    ]
    if truth is not None:
        handles.append(
            Line2D(
                [],
                [],
                color=TRUE_FRONT_COLOR,
                marker="x" if m <= 3 else None,
                linestyle="--" if m != 3 else "none",
                label=TRUE_FRONT_LABEL,
            )
        )
    legend = ax.legend(handles=handles, **_LEGEND_KW)
    if title:
        ax.set_title(title)
    if m == 3:
        _fit_3d_legend(fig, legend)
    return fig


def _fit_3d_legend(fig: Figure, legend: Any) -> None:
    """Widen the figure by the legend's measured width so a legend right of the 3-D axes is never cut off."""
    legend_width = legend.get_window_extent().width / fig.dpi
    width = _AXES_3D_WIDTH + legend_width + 0.3
    fig.set_figwidth(width)
    fig.subplots_adjust(left=0.02, right=(_AXES_3D_WIDTH - 0.1) / width, bottom=0.03, top=0.93)


def _draw_2d(
    ax: Axes, arrays: dict[str, np.ndarray], truth: np.ndarray | None, colors: dict[str, Any], names: list[str]
) -> None:
    if truth is not None and len(truth):
        stairs = staircase(truth)
        ax.plot(
            stairs[:, 0],
            stairs[:, 1],
            color=TRUE_FRONT_COLOR,
            linestyle="--",
            linewidth=1.0,
            alpha=0.6,
            zorder=1,
            label="_true front staircase",
        )
        ax.scatter(
            truth[:, 0],
            truth[:, 1],
            color=TRUE_FRONT_COLOR,
            marker="x",
            s=30,
            linewidths=1.2,
            zorder=2,
            label="_true front points",
        )
    for label, arr in arrays.items():
        if len(arr) == 0:
            continue
        stairs = staircase(arr)
        ax.plot(
            stairs[:, 0],
            stairs[:, 1],
            color=colors[label],
            linewidth=1.5,
            alpha=0.9,
            zorder=3,
            label=f"_{label} staircase",
        )
        ax.scatter(
            arr[:, 0],
            arr[:, 1],
            color=colors[label],
            s=22,
            edgecolors="white",
            linewidths=0.5,
            zorder=4,
            label=f"_{label} points",
        )
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.grid(True, alpha=0.3)
    ax.margins(0.05)


def _draw_3d(
    ax: Axes, arrays: dict[str, np.ndarray], truth: np.ndarray | None, colors: dict[str, Any], names: list[str]
) -> None:
    if truth is not None and len(truth):
        ax.scatter(
            truth[:, 0],
            truth[:, 1],
            truth[:, 2],
            color=TRUE_FRONT_COLOR,
            marker="x",
            s=25,
            alpha=0.7,
            depthshade=False,
            label="_true front points",
        )
    for label, arr in arrays.items():
        if len(arr) == 0:
            continue
        ax.scatter(
            arr[:, 0],
            arr[:, 1],
            arr[:, 2],
            color=colors[label],
            s=25,
            edgecolors="white",
            linewidths=0.4,
            depthshade=False,
            label=f"_{label} points",
        )
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_zlabel(names[2])
    ax.set_box_aspect(None, zoom=0.88)  # leaves room for the tick and axis labels inside the axes
    # Maximisation: turn the cube so the ideal corner (high on every objective) faces the viewer.
    ax.view_init(elev=25, azim=45)


def _draw_parallel(
    ax: Axes, arrays: dict[str, np.ndarray], truth: np.ndarray | None, colors: dict[str, Any], names: list[str]
) -> None:
    m = len(names)
    plotted = [arr for arr in arrays.values() if len(arr)]
    if truth is not None and len(truth):
        plotted.append(truth)
    everything = np.vstack(plotted) if plotted else np.zeros((1, m))
    low, high = everything.min(axis=0), everything.max(axis=0)
    span = np.where(high > low, high - low, 1.0)

    def scale(arr: np.ndarray) -> np.ndarray:
        # A constant objective sits mid-axis instead of dividing by zero.
        return np.where(high > low, (arr - low) / span, 0.5)

    xs = np.arange(m)
    if truth is not None:
        for i, row in enumerate(scale(truth)):
            ax.plot(
                xs,
                row,
                color=TRUE_FRONT_COLOR,
                linestyle="--",
                linewidth=1.0,
                alpha=0.5,
                zorder=1,
                label=f"_true front {i}",
            )
    for label, arr in arrays.items():
        alpha = 0.8 if len(arr) <= 50 else 0.4
        for i, row in enumerate(scale(arr)):
            ax.plot(
                xs,
                row,
                color=colors[label],
                marker="o",
                markersize=3,
                linewidth=1.2,
                alpha=alpha,
                zorder=2,
                label=f"_{label} {i}",
            )
    ax.vlines(xs, 0.0, 1.0, colors="0.4", linewidth=0.8, zorder=0)
    for j in range(m):
        ax.text(xs[j], 1.03, f"{high[j]:.4g}", ha="center", va="bottom", fontsize=8, color="0.25")
        ax.text(xs[j], -0.03, f"{low[j]:.4g}", ha="center", va="top", fontsize=8, color="0.25")
    ax.set_xticks(xs, names)
    ax.set_xlim(-0.3, m - 0.7)
    ax.set_ylim(-0.1, 1.1)
    ax.set_yticks([0.0, 0.25, 0.5, 0.75, 1.0])
    ax.set_ylabel("normalised value (min to max of each objective)")
    ax.tick_params(axis="x", length=0)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)


def plot_hypervolume(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]], title: str | None = None, x_label: str = "environment steps"
) -> Figure:
    """Hypervolume against the budget spent (env steps, or gradient steps offline), one line per run.

    Rows with a NaN step or hypervolume (not yet computed) are dropped; points are sorted by step.
    """
    fig = Figure(figsize=(8.0, 5.0), dpi=_DPI, layout="constrained")
    ax = fig.add_subplot()
    for (label, (steps, hv)), color in zip(curves.items(), _colors(len(curves)), strict=True):
        x = np.asarray(steps, dtype=np.float64).ravel()
        y = np.asarray(hv, dtype=np.float64).ravel()
        if x.shape != y.shape:
            raise ValueError(f"curve {label!r}: {x.size} steps but {y.size} hypervolume values")
        keep = np.isfinite(x) & np.isfinite(y)
        x, y = x[keep], y[keep]
        order = np.argsort(x, kind="stable")
        ax.plot(
            x[order],
            y[order],
            color=color,
            marker="o" if len(x) <= 50 else None,
            markersize=3,
            linewidth=1.5,
            label=str(label),
        )
    ax.set_xlabel(x_label)
    ax.set_ylabel("hypervolume")
    ax.grid(True, alpha=0.3)
    if curves:
        ax.legend(**_LEGEND_KW)
    if title:
        ax.set_title(title)
    return fig


# --- run directories ------------------------------------------------------------------------
def unique_labels(runs: Sequence[RunData]) -> list[str]:
    """Labels made unique: duplicates get the directory name, then the full path, then an index."""
    labels = [run.label for run in runs]
    for attempt in ("name", "path", "index"):
        counts: dict[str, int] = {}
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
        if all(c == 1 for c in counts.values()):
            break
        for i, run in enumerate(runs):
            if counts[labels[i]] > 1:
                suffix = {"name": run.path.resolve().name, "path": str(run.path), "index": f"#{i + 1}"}[attempt]
                labels[i] = f"{labels[i]} ({suffix})"
    return labels


def shared_true_front(runs: Sequence[RunData]) -> np.ndarray | None:
    """The true front if every run that states one states the same one; otherwise none (with a warning)."""
    fronts = [run.true_front for run in runs if run.true_front is not None]
    if not fronts:
        return None
    first = fronts[0]
    if all(f.shape == first.shape and np.allclose(f, first) for f in fronts[1:]):
        return first
    warnings.warn("runs state different true fronts; none is drawn", stacklevel=3)
    return None


def _save(fig: Figure, stem: Path, formats: Iterable[str]) -> list[Path]:
    written = []
    for fmt in formats:
        target = stem.with_suffix(f".{fmt}")
        buffer = io.BytesIO()
        # No timestamp in vector formats, so re-plotting unchanged runs gives identical files.
        metadata = {"Date": None} if fmt in ("svg", "pdf") else None
        fig.savefig(buffer, format=fmt, metadata=metadata)
        storage.atomic_write_bytes(target, buffer.getvalue())
        written.append(target)
    return written


PLOT_STEMS = ("front", "hypervolume")
PLOT_FORMATS = ("png", "svg", "pdf", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp")


def objective_labels(names: Sequence[str] | None, m: int) -> list[str]:
    """Axis and table labels of ``m`` objectives: the env's names when there are ``m`` of them, else ``objective i``."""
    if names is not None and len(names) == m:
        return [str(name) for name in names]
    return [f"objective {i + 1}" for i in range(m)]


def default_out_dir(run_dirs: Sequence[str | os.PathLike]) -> Path:
    """Where :func:`plot_runs` writes without ``out_dir``: ``RUN/plots`` for one run, ``./plots`` for several."""
    return Path(run_dirs[0]) / PLOTS_DIR if len(run_dirs) == 1 else Path.cwd() / PLOTS_DIR


def existing_plots(out_dir: str | os.PathLike) -> list[Path]:
    """The plot files (``front*``/``hypervolume*`` images) a directory already holds, sorted; [] if none."""
    out = Path(out_dir)
    if not out.is_dir():
        return []
    return sorted(
        p
        for p in out.iterdir()
        if p.is_file() and p.stem.startswith(PLOT_STEMS) and p.suffix.lstrip(".").lower() in PLOT_FORMATS
    )


def env_key(config: Mapping[str, Any]) -> tuple[str, str]:
    """What makes two runs' envs the same: the env id (or ``module:Class``) and its ``env_kwargs``."""
    kwargs = config.get("env_kwargs") or {}
    return str(config.get("env")), json.dumps(storage.to_jsonable(kwargs), sort_keys=True, default=str)


def _kwargs_text(kwargs: str) -> str:
    """``env_kwargs`` as ``key=value,...`` (JSON values), '' for none."""
    items = json.loads(kwargs)
    if not isinstance(items, dict):
        return kwargs
    return ",".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in items.items())


def env_title(key: tuple[str, str]) -> str:
    env, kwargs = key
    return env if kwargs == "{}" else f"{env} ({_kwargs_text(kwargs)})"


def _env_slugs(keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """File-name-safe, distinct names of the envs: the id, then the kwargs, then a counter if still equal."""
    slugs: dict[tuple[str, str], str] = {}
    for key in keys:
        env, kwargs = key
        text = env if kwargs == "{}" else f"{env}-{_kwargs_text(kwargs)}"
        slug = re.sub(r"[^A-Za-z0-9._=-]+", "_", text).strip("_.")[:80] or "env"
        base, n = slug, 2
        while slug in slugs.values():
            slug, n = f"{base}-{n}", n + 1
        slugs[key] = slug
    return slugs


def plot_runs(
    run_dirs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike | None = None,
    formats: Sequence[str] = ("png", "svg"),
) -> list[Path]:
    """Write ``front.<fmt>`` and, if any run has metrics rows, ``hypervolume.<fmt>`` for the given runs.

    Runs of one env (the same ``env`` and ``env_kwargs`` in ``config.json``) share each figure,
    labelled ``algo-env-seed``. Runs of different envs are never overlaid, even with as many
    objectives: each env gets its own figures, ``front-<env>.<fmt>`` and ``hypervolume-<env>.<fmt>``.
    Axes carry the env's objective names (``objective_names`` in ``config.json``) when it has them.
    Output goes to ``out_dir``, by default ``RUN/plots`` for a single run and ``./plots`` for several;
    existing files of the same name are replaced (the ``morl plot`` command refuses that unless
    ``--force``). The front plot is skipped (with a warning) only when no run says how many
    objectives it has.

    Returns:
        The written files, env by env, front first.

    Raises:
        ValueError: no runs, an unreadable run directory, or runs of one env with different numbers of objectives.
    """
    if isinstance(run_dirs, str | os.PathLike):
        run_dirs = [run_dirs]
    if not run_dirs:
        raise ValueError("plot_runs needs at least one run directory")
    formats = [str(fmt).lstrip(".").lower() for fmt in formats]
    if not formats:
        raise ValueError("plot_runs needs at least one output format")
    runs = [load_run(d) for d in run_dirs]
    groups: dict[tuple[str, str], list[RunData]] = {}
    for run in runs:
        groups.setdefault(env_key(run.config), []).append(run)
    for key, group in groups.items():
        counts = {str(run.path): run.num_objectives for run in group if run.num_objectives is not None}
        if len(set(counts.values())) > 1:
            raise ValueError(
                f"runs of env {env_title(key)} have different numbers of objectives and cannot share a plot: {counts}"
            )
    out = Path(out_dir) if out_dir is not None else default_out_dir([run.path for run in runs])
    out.mkdir(parents=True, exist_ok=True)
    slugs = _env_slugs(list(groups))
    written: list[Path] = []
    for key, group in groups.items():
        suffix = "" if len(groups) == 1 else f"-{slugs[key]}"
        written += _plot_env(group, env_title(key), out, suffix, formats)
    return written


def _plot_env(runs: Sequence[RunData], env: str, out: Path, suffix: str, formats: Sequence[str]) -> list[Path]:
    """The front and hypervolume figures of the runs of one env, named ``front<suffix>`` and ``hypervolume<suffix>``."""
    labels = unique_labels(runs)
    written: list[Path] = []
    m = next((run.num_objectives for run in runs if run.num_objectives is not None), None)
    if m is None:
        warnings.warn(f"no front plot: the runs {[str(r.path) for r in runs]} have no points yet", stacklevel=3)
    else:
        names = next((run.objective_names for run in runs if run.objective_names is not None), None)
        fronts = {label: run.values for label, run in zip(labels, runs, strict=True)}
        fig = plot_front(fronts, shared_true_front(runs), objective_labels(names, m), title=f"Pareto front: {env}")
        written += _save(fig, out / f"front{suffix}", formats)
        fig.clear()

    curves = {}
    for label, run in zip(labels, runs, strict=True):
        curve = run.hypervolume_curve()
        if curve is not None:
            curves[label] = curve
    if curves:
        units = {run.budget_unit for run in runs}
        x_label = "environment steps" if units == {"env_steps"} else " / ".join(sorted(units)).replace("_", " ")
        fig = plot_hypervolume(curves, title=f"Hypervolume: {env}", x_label=x_label)
        written += _save(fig, out / f"hypervolume{suffix}", formats)
        fig.clear()
    return written
