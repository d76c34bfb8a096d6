"""Plots read back from hand-built run directories: files, plot type per objective count, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.lines import Line2D

from morl import plotting
from morl.pareto import ParetoArchive
from morl.points import non_dominated

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FRONT_2D = [[1.0, 9.0], [3.0, 7.0], [5.0, 4.0], [8.0, 1.0]]
TRUE_2D = [[2.0, 10.0], [4.0, 8.0], [6.0, 5.0], [9.0, 2.0]]
METRICS_HEADER = "env_steps,wall_time,steps_per_second,hypervolume,expected_utility,cardinality"


def make_run(
    root: Path,
    name: str,
    values: list[list[float]] | np.ndarray | None,
    *,
    algo: str = "cmorl",
    env: str = "deep-sea-treasure-v0",
    seed: int = 0,
    true_front: list[list[float]] | None = None,
    objective_names: list[str] | None = None,
    metrics_rows: list[list[float]] | None = None,
) -> Path:
    """A run directory as training writes it; ``values=None`` leaves out the archive."""
    run = root / name
    run.mkdir(parents=True)
    m = len(values[0]) if values is not None and len(values) else 2
    config = {
        "algo": algo,
        "env": env,
        "seed": seed,
        "ref_point": [0.0] * m,
        "true_front": true_front,
        "objective_names": objective_names,
    }
    (run / "config.json").write_text(json.dumps(config))
    lines = [METRICS_HEADER] + [",".join(str(x) for x in row) for row in (metrics_rows or [])]
    (run / "metrics.csv").write_text("\n".join(lines) + "\n")
    if values is not None:
        archive = ParetoArchive()
        for v in values:
            archive.add(v)
        archive.save(run / "archive")
    return run


def rows(n: int) -> list[list[float]]:
    return [[1000.0 * (i + 1), 1.0 * i, 500.0, 10.0 * (i + 1), 1.0, 3.0] for i in range(n)]


def legend_texts(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_load_run_reads_config_values_and_metrics(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", FRONT_2D, seed=3, metrics_rows=rows(4))
    with (run / "metrics.csv").open("a") as handle:
        handle.write("5000,4,500")  # a line cut short while the run is still writing
    data = plotting.load_run(run)
    assert data.label == "cmorl-deep-sea-treasure-v0-3"
    assert data.values.shape == (4, 2)
    assert sorted(map(tuple, data.values)) == sorted(map(tuple, FRONT_2D))
    assert data.config["seed"] == 3
    assert data.num_objectives == 2
    np.testing.assert_array_equal(data.metrics["env_steps"], [1000, 2000, 3000, 4000])
    np.testing.assert_array_equal(data.metrics["hypervolume"], [10, 20, 30, 40])


def test_load_run_without_archive_or_metrics_rows(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", None)
    data = plotting.load_run(run)
    assert data.values.shape == (0, 2)
    assert data.num_objectives == 2
    assert data.hypervolume_curve() is None
    assert len(data.metrics["hypervolume"]) == 0


def test_missing_run_dir_and_config_raise_naming_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        plotting.load_run(tmp_path / "nope")
    run = make_run(tmp_path, "r", FRONT_2D)
    (run / "config.json").unlink()
    with pytest.raises(ValueError, match=r"config\.json") as info:
        plotting.load_run(run)
    assert str(run) in str(info.value)
    with pytest.raises(ValueError, match=r"config\.json"):
        plotting.plot_runs([run])
    (run / "config.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        plotting.load_run(run)


def test_plot_runs_single_run_writes_png_and_svg(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", FRONT_2D, true_front=TRUE_2D, metrics_rows=rows(3))
    paths = plotting.plot_runs([run])
    plots = run / "plots"
    assert paths == [plots / "front.png", plots / "front.svg", plots / "hypervolume.png", plots / "hypervolume.svg"]
    for path in paths:
        assert path.stat().st_size > 0
    for name in ("front.png", "hypervolume.png"):
        assert (plots / name).read_bytes()[:8] == PNG_MAGIC
    for name in ("front.svg", "hypervolume.svg"):
        text = (plots / name).read_text()
        assert "<svg" in text and text.rstrip().endswith("</svg>")


def test_plot_runs_skips_hypervolume_without_metrics_rows(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", FRONT_2D)
    out = tmp_path / "out"
    paths = plotting.plot_runs([run], out_dir=out, formats=("png",))
    assert paths == [out / "front.png"]
    assert not (out / "hypervolume.png").exists()


def test_plot_runs_several_runs_default_to_cwd_plots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = make_run(tmp_path, "a", FRONT_2D, seed=0, metrics_rows=rows(2))
    b = make_run(tmp_path, "b", [[2.0, 8.0], [6.0, 3.0]], seed=1)
    monkeypatch.chdir(tmp_path)
    paths = plotting.plot_runs([a, b], formats=("png",))
    assert [p.resolve() for p in paths] == [
        (tmp_path / "plots" / n).resolve() for n in ("front.png", "hypervolume.png")
    ]


def test_2d_staircase_passes_through_non_dominated_points() -> None:
    points = np.array([*FRONT_2D, [2.0, 3.0]])  # the last point is dominated
    fig = plotting.plot_front({"run": points})
    ax = fig.axes[0]
    assert ax.name != "3d"
    expected = {tuple(p) for p in non_dominated(points)}
    staircases = [line for line in ax.get_lines() if expected <= {tuple(p) for p in line.get_xydata()}]
    assert staircases, "no line passes through every non-dominated point"
    data = staircases[0].get_xydata()
    assert (2.0, 3.0) not in {tuple(p) for p in data}
    # Maximisation staircase: x never decreases and y never increases along the line.
    assert np.all(np.diff(data[:, 0]) >= 0) and np.all(np.diff(data[:, 1]) <= 0)
    # Every corner is a vertical drop followed by a horizontal run.
    np.testing.assert_array_equal(
        plotting.staircase([[1, 9], [3, 7], [8, 1]]), [[1, 9], [1, 7], [3, 7], [3, 1], [8, 1]]
    )


def test_3d_front_uses_3d_axes_and_names() -> None:
    rng = np.random.default_rng(0)
    fig = plotting.plot_front({"run": rng.random((12, 3))}, objective_names=["time", "treasure", "fuel"])
    ax = fig.axes[0]
    assert ax.name == "3d"
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()) == ("time", "treasure", "fuel")


def test_5_objectives_parallel_coordinates_one_line_per_point() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.random((7, 5)), rng.random((4, 5)) * 10
    fig = plotting.plot_front({"a": a, "b": b})
    ax = fig.axes[0]
    lines = [artist for artist in ax.get_children() if isinstance(artist, Line2D)]
    assert len(lines) == len(a) + len(b)
    # Every objective is scaled to [0, 1] over all plotted points.
    ys = np.array([line.get_ydata() for line in lines])
    np.testing.assert_allclose(ys.min(axis=0), 0.0)
    np.testing.assert_allclose(ys.max(axis=0), 1.0)
    assert legend_texts(fig) == ["a", "b"]
    colors = {line.get_color() for line in lines}
    assert len(colors) == 2


def test_parallel_coordinates_with_true_front_and_constant_objective() -> None:
    front = np.array([[1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 3.0, 5.0]])
    fig = plotting.plot_front({"a": front}, true_front=front + 0.5)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 4
    assert all(np.all(np.isfinite(line.get_ydata())) for line in lines)
    assert legend_texts(fig) == ["a", "true front"]


def test_multi_run_legend_one_entry_per_run_plus_true_front(tmp_path: Path) -> None:
    a = make_run(tmp_path, "a", FRONT_2D, seed=0, true_front=TRUE_2D)
    b = make_run(tmp_path, "b", [[2.0, 8.0], [6.0, 3.0]], seed=1, true_front=TRUE_2D)
    c = make_run(tmp_path, "c", None, seed=2, true_front=TRUE_2D)  # not evaluated yet: still listed
    runs = [plotting.load_run(r) for r in (a, b, c)]
    fig = plotting.plot_front({r.label: r.values for r in runs}, true_front=runs[0].true_front)
    assert legend_texts(fig) == [
        "cmorl-deep-sea-treasure-v0-0",
        "cmorl-deep-sea-treasure-v0-1",
        "cmorl-deep-sea-treasure-v0-2",
        "true front",
    ]
    paths = plotting.plot_runs([a, b, c], out_dir=tmp_path / "out", formats=("svg",))
    assert paths == [tmp_path / "out" / "front.svg"]
    svg = paths[0].read_text()
    for label in legend_texts(fig):
        assert label in svg


def test_duplicate_labels_are_disambiguated_by_directory(tmp_path: Path) -> None:
    a = make_run(tmp_path, "first", FRONT_2D, seed=0)
    b = make_run(tmp_path, "second", FRONT_2D, seed=0)
    runs = [plotting.load_run(a), plotting.load_run(b)]
    assert plotting.unique_labels(runs) == [
        "cmorl-deep-sea-treasure-v0-0 (first)",
        "cmorl-deep-sea-treasure-v0-0 (second)",
    ]
    paths = plotting.plot_runs([a, b], out_dir=tmp_path / "out", formats=("svg",))
    svg = paths[0].read_text()
    assert "(first)" in svg and "(second)" in svg


def test_mismatched_objective_counts_raise(tmp_path: Path) -> None:
    a = make_run(tmp_path, "a", FRONT_2D)
    b = make_run(tmp_path, "b", [[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="objectives"):
        plotting.plot_runs([a, b], out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="objectives"):
        plotting.plot_front({"a": np.ones((2, 2)), "b": np.ones((2, 3))})
    with pytest.raises(ValueError, match="objectives"):
        plotting.plot_front({"a": np.ones((2, 2))}, true_front=np.ones((2, 3)))
    with pytest.raises(ValueError, match="objective_names"):
        plotting.plot_front({"a": np.ones((2, 2))}, objective_names=["x"])


def test_plot_hypervolume_one_line_per_run() -> None:
    steps = np.array([3000.0, 1000.0, 2000.0, 4000.0])
    hv = np.array([3.0, 1.0, 2.0, np.nan])
    fig = plotting.plot_hypervolume({"a": (steps, hv), "b": (steps, hv * 2)})
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2
    np.testing.assert_array_equal(lines[0].get_xdata(), [1000.0, 2000.0, 3000.0])
    np.testing.assert_array_equal(lines[0].get_ydata(), [1.0, 2.0, 3.0])
    assert legend_texts(fig) == ["a", "b"]
    assert fig.axes[0].get_xlabel() == "environment steps"


def test_runs_of_different_envs_are_never_overlaid(tmp_path: Path) -> None:
    a = make_run(tmp_path, "a", FRONT_2D, env="deep-sea-treasure-v0", metrics_rows=rows(2))
    b = make_run(tmp_path, "b", [[2.0, 8.0]], env="morl/treasure-corridor-v0", metrics_rows=rows(2))
    c = make_run(tmp_path, "c", [[1.0, 2.0, 3.0]], env="mo-hopper-v5")  # another env may have other m
    out = tmp_path / "out"
    paths = plotting.plot_runs([a, b, c], out_dir=out, formats=("svg",))
    assert [p.name for p in paths] == [
        "front-deep-sea-treasure-v0.svg",
        "hypervolume-deep-sea-treasure-v0.svg",
        "front-morl_treasure-corridor-v0.svg",
        "hypervolume-morl_treasure-corridor-v0.svg",
        "front-mo-hopper-v5.svg",
    ]
    dst, corridor = paths[0].read_text(), paths[2].read_text()
    assert "cmorl-deep-sea-treasure-v0-0" in dst and "treasure-corridor" not in dst
    assert "cmorl-morl/treasure-corridor-v0-0" in corridor and "deep-sea" not in corridor
    assert "Pareto front: deep-sea-treasure-v0" in dst
    assert "deep-sea" not in paths[3].read_text()


def test_same_env_with_other_env_kwargs_is_another_env(tmp_path: Path) -> None:
    a = make_run(tmp_path, "a", FRONT_2D)
    b = make_run(tmp_path, "b", [[2.0, 8.0]], seed=1)
    config = json.loads((b / "config.json").read_text())
    (b / "config.json").write_text(json.dumps({**config, "env_kwargs": {"float_state": True}}))
    paths = plotting.plot_runs([a, b], out_dir=tmp_path / "out", formats=("png",))
    assert [p.name for p in paths] == [
        "front-deep-sea-treasure-v0.png",
        "front-deep-sea-treasure-v0-float_state=true.png",
    ]
    c = make_run(tmp_path, "c", [[2.0, 8.0]], seed=2)
    same = plotting.plot_runs([a, c], out_dir=tmp_path / "same", formats=("png",))  # one env: the usual names
    assert [p.name for p in same] == ["front.png"]


def test_objective_names_label_axes_per_env_and_fall_back_to_objective_i(tmp_path: Path) -> None:
    assert plotting.objective_labels(["speed", "energy"], 2) == ["speed", "energy"]
    assert plotting.objective_labels(None, 3) == ["objective 1", "objective 2", "objective 3"]
    assert plotting.objective_labels(["speed"], 2) == ["objective 1", "objective 2"]
    a = make_run(tmp_path, "a", FRONT_2D, objective_names=["treasure", "time"])
    b = make_run(tmp_path, "b", FRONT_2D, env="mo-mountaincar-v0", objective_names=["speed", "energy"])
    c = make_run(tmp_path, "c", [[1.0, 2.0, 3.0, 4.0]], env="mo-reacher-v5", objective_names=list("abcd"))
    paths = plotting.plot_runs([a, b, c], out_dir=tmp_path / "out", formats=("svg",))
    dst, car, reacher = (p.read_text() for p in paths)
    assert "<!-- treasure -->" in dst and "<!-- time -->" in dst and "<!-- speed -->" not in dst
    assert "<!-- speed -->" in car and "<!-- energy -->" in car and "<!-- treasure -->" not in car
    assert all(f"<!-- {name} -->" in reacher for name in "abcd")  # parallel coordinates: one axis per name


def test_existing_plots_and_default_out_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = make_run(tmp_path, "r", FRONT_2D)
    assert plotting.existing_plots(tmp_path / "none") == []
    assert plotting.default_out_dir([run]) == run / "plots"
    monkeypatch.chdir(tmp_path)
    assert plotting.default_out_dir([run, run]) == tmp_path / "plots"
    plotting.plot_runs([run], formats=("png",))
    (run / "plots" / "notes.txt").write_text("mine")
    assert plotting.existing_plots(run / "plots") == [run / "plots" / "front.png"]


def test_benchmark_table_names_each_envs_objectives(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "experiments"))
    import bench_report
    from suite import Cell

    named = make_run(tmp_path, "named", FRONT_2D, objective_names=["treasure", "time"])
    unnamed = make_run(tmp_path, "unnamed", FRONT_2D, env="mo-mountaincar-v0")
    results = [
        bench_report.CellResult(Cell("cmorl", "cmorl", env, 0, 1000), run, "ok", report=REPORT)
        for env, run in (("deep-sea-treasure-v0", named), ("mo-mountaincar-v0", unnamed))
    ]
    lines = bench_report.table(results)
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    column = header.index("objectives")
    cells = [[c.strip() for c in line.strip().strip("|").split(" | ")] for line in lines[2:]]
    assert [row[column] for row in cells] == ["treasure, time", "objective 1, objective 2"]


REPORT = {"hypervolume": 1.0, "expected_utility": 1.0, "cardinality": 4.0, "sparsity": 0.0, "spacing": 0.0}
