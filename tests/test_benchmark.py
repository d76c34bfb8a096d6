"""experiments/benchmark.py: suite schema, variants, the table read from run directories, one real cell."""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
sys.path.insert(0, str(EXPERIMENTS))

import bench_report  # noqa: E402
import benchmark  # noqa: E402
import suite as suite_schema  # noqa: E402

from morl import runs  # noqa: E402
from morl.pareto import ParetoArchive  # noqa: E402
from morl.tasks import Task  # noqa: E402

GRID = "grids:\n  - {algos: [scalarized], envs: [deep-sea-treasure-v0], seeds: [0], budgets: [1000]}\n"


def _suite_error(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert benchmark.main(["--suite", str(path), "--out", str(tmp_path / "out"), "--docs", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert str(path) in err
    return err


def test_unknown_key_is_one_line_naming_file_path_and_valid_keys(tmp_path, capsys):
    err = _suite_error(
        tmp_path, "grids:\n  - {algos: [scalarized], envs: [x], seeds: [0], budget: [1000], budgets: [5]}\n", capsys
    )
    assert "grids[0]: unknown key 'budget'" in err
    assert "valid: algos, envs, seeds, budgets, hparams" in err
    err = _suite_error(tmp_path, GRID + "hv_at: [1000]\nhvat: [5]\n", capsys)
    assert "unknown key 'hvat'" in err and "variants" in err
    err = _suite_error(tmp_path, GRID + "variants: {v: {algo: cmorl, hparam: {}}}\n", capsys)
    assert "variants.v: unknown key 'hparam' (valid: algo, hparams, description)" in err


def test_bad_types_are_one_line_naming_the_path(tmp_path, capsys):
    err = _suite_error(tmp_path, "grid: {algos: cmorl, envs: [x], seeds: [zero], budgets: [1000]}\n", capsys)
    assert "grid.seeds[0]: Input should be a valid integer (got 'zero')" in err
    err = _suite_error(tmp_path, GRID + "hv_at: [100k]\n", capsys)
    assert "hv_at[0]" in err and "integer" in err
    err = _suite_error(tmp_path, "cells: [{algo: 'a b', env: x, seed: 0, budget: 0}]\n", capsys)
    assert "cells[0].algo" in err and "cells[0].budget: Input should be greater than 0" in err
    err = _suite_error(tmp_path, "description: x\n", capsys)
    assert "defines no cells" in err
    err = _suite_error(tmp_path, "grid: [oops\n", capsys)
    assert "not valid YAML" in err


SUITE = """
hparams:
  cmorl: {executor: serial, n_steps: 64}
  outer-qmix: {learning_rate: 0.01}
variants:
  cmorl-uniform: {algo: cmorl, hparams: {n_steps: 32, gamma: 0.9}}
  outer-qmix: {algo: momix, hparams: {baseline: true}}
  pgmorl-small: {algo: pgmorl, hparams: {pop_size: 2}}
grid: {algos: [cmorl, cmorl-uniform, outer-qmix, pgmorl-small], envs: [deep-sea-treasure-v0], seeds: [0, 1],
       budgets: 1000}
cells:
  - {algo: cmorl-uniform, env: deep-sea-treasure-v0, seed: 0, budget: 1000, hparams: {gamma: 0.9}}
hv_at: [500, 1000]
"""


def test_variants_expand_into_distinct_cells_with_merged_hparams(tmp_path):
    path = tmp_path / "variants.yaml"
    path.write_text(SUITE)
    suite, cells = suite_schema.load_suite(path)
    assert suite.hv_at == [500, 1000]
    by_name = {cell.name: cell for cell in cells}
    assert len(by_name) == len(cells) == 8  # the single cell repeats a grid cell: deduplicated
    plain = by_name["cmorl-deep-sea-treasure-v0-0-1000"]
    uniform = by_name["cmorl-uniform-deep-sea-treasure-v0-0-1000"]
    assert plain.algo == uniform.algo == "cmorl" and plain.group != uniform.group
    assert plain.hparams_dict() == {"executor": "serial", "n_steps": 64}
    assert uniform.hparams_dict() == {"executor": "serial", "n_steps": 32, "gamma": 0.9}  # variant beats algo
    qmix = by_name["outer-qmix-deep-sea-treasure-v0-1-1000"]
    assert qmix.algo == "momix" and qmix.hparams_dict() == {"baseline": True, "learning_rate": 0.01}
    small = by_name["pgmorl-small-deep-sea-treasure-v0-0-1000"]
    assert small.external and small.hparams_dict() == {"pop_size": 2}
    assert not uniform.external


def test_a_cell_defined_twice_differently_is_an_error(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text(SUITE.replace("hparams: {gamma: 0.9}}", "hparams: {gamma: 0.5}}"))
    with pytest.raises(suite_schema.SuiteError, match="cmorl-uniform-deep-sea-treasure-v0-0-1000 is defined twice"):
        suite_schema.load_suite(path)


def test_a_variant_of_a_variant_is_an_error(tmp_path):
    path = tmp_path / "chain.yaml"
    path.write_text(GRID + "variants: {a: {algo: cmorl}, b: {algo: a}}\n")
    with pytest.raises(suite_schema.SuiteError, match=re.escape("variants.b.algo: 'a' is a variant")):
        suite_schema.load_suite(path)


def _fake_run(path: Path, algo: str, seed: int, rows: list[tuple[int, float]], front: list[list[float]]) -> None:
    """A finished run directory: config and archive through runs.write_external_run, metrics by hand."""
    task = Task(
        kind="single",
        spec="fake-v0",
        name="fake-v0",
        num_objectives=2,
        observation_space=gym.spaces.Box(0.0, 1.0, (2,)),
        action_space=gym.spaces.Discrete(2),
        ref_point=np.zeros(2),
        ref_source="test",
        true_front=np.array([[1.0, 4.0], [2.0, 3.0], [4.0, 1.0]]),
    )
    archive = ParetoArchive(2)
    for point in front:
        archive.add(point)
    runs.write_external_run(path, task, {"algo": algo, "seed": seed, "budget": 3000, "hparams": {}}, archive, 3000, 1.0)
    with (path / runs.METRICS_FILE).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=runs.EVAL_COLUMNS)
        writer.writeheader()
        for steps, hv in rows:
            row = dict.fromkeys(runs.EVAL_COLUMNS, 0.0)
            row.update(env_steps=steps, budget_unit="env_steps", wall_time=steps / 100, hypervolume=hv, cardinality=2)
            writer.writerow(row)
    (path / benchmark.AGENT_FILE).write_text("{}\n")


def _cells(line: str) -> list[str]:
    """The cells of a markdown table row (``\\|`` is an escaped bar inside a cell)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def test_table_has_new_columns_and_hv_at_read_from_metrics(tmp_path):
    a0, a1, b0 = (suite_schema.Cell(v, "cmorl", "fake-v0", s, 3000) for v, s in (("a", 0), ("a", 1), ("b", 0)))
    _fake_run(tmp_path / "a0", "cmorl", 0, [(1000, 1.0), (2000, 2.0), (3000, 3.0)], [[1.0, 4.0], [4.0, 1.0]])
    _fake_run(tmp_path / "a1", "cmorl", 1, [(1500, 5.0), (3000, 7.0)], [[1.0, 4.0], [2.0, 3.0], [4.0, 1.0]])
    _fake_run(tmp_path / "b0", "cmorl", 0, [(3000, 9.0)], [[2.0, 2.0]])
    hv_at = [1000, 2000]
    results = [benchmark.collect(cell, tmp_path / d, None, hv_at) for cell, d in ((a0, "a0"), (a1, "a1"), (b0, "b0"))]
    assert [r.status for r in results] == ["ok", "ok", "ok"], [r.error for r in results]
    lines = bench_report.table(results, hv_at)
    header = _cells(lines[0])
    for column in ("budget (env steps)", "sparsity", "spacing", "HV@1k", "HV@2k", "env steps"):
        assert column in header, header
    rows = {_cells(line)[0]: _cells(line) for line in lines[2:]}
    assert set(rows) == {"a (cmorl)", "b (cmorl)"}  # one row per variant
    row = dict(zip(header, rows["a (cmorl)"], strict=True))
    assert row["seeds ok"] == "2/2"
    assert row["HV@1k"] == "1.00"  # seed 1 has no evaluation within 1000 steps
    assert row["HV@2k"] == "3.50 ± 2.12"  # 2.0 (seed 0 at 2000) and 5.0 (seed 1 at 1500)
    front_a0, front_a1 = np.array([[1.0, 4.0], [4.0, 1.0]]), np.array([[1.0, 4.0], [2.0, 3.0], [4.0, 1.0]])
    from morl import metrics

    sparsity = [metrics.sparsity(front_a0), metrics.sparsity(front_a1)]
    assert row["sparsity"] == bench_report._mean_std(sparsity)
    assert row["spacing"] == bench_report._mean_std([metrics.spacing(front_a0), metrics.spacing(front_a1)])
    assert row["HV / true HV"] != "n/a"
    assert dict(zip(header, rows["b (cmorl)"], strict=True))["HV@1k"] == "-"


def test_steps_to_baseline_hv_read_from_metrics(tmp_path):
    curves = {  # (variant, env, seed): metrics.csv rows (env steps, HV)
        ("base", "fake-v0", 0): [(1000, 1.0), (3000, 4.0)],  # final HVs 4 and 6: the target is their mean, 5
        ("base", "fake-v0", 1): [(2000, 6.0), (3000, 6.0)],
        ("a", "fake-v0", 0): [(1000, 2.0), (2000, 5.0), (3000, 7.0)],  # exactly the target at 2000
        ("a", "fake-v0", 1): [(1000, 6.0), (3000, 6.0)],
        ("a", "fake-v0", 2): [(1000, 1.0), (3000, 4.5)],  # never reaches 5
        ("b", "fake-v0", 0): [(3000, 3.0)],
        ("a", "other-v0", 0): [(3000, 9.0)],  # no baseline row on this env
        ("base", "tie-v0", 0): [(3000, 0.1)],  # three equal final HVs: their float mean is above 0.1
        ("base", "tie-v0", 1): [(3000, 0.1)],
        ("base", "tie-v0", 2): [(3000, 0.1)],
        ("a", "tie-v0", 0): [(1000, 0.0), (2000, 0.1), (3000, 0.1)],
    }
    results = []
    for (variant, env, seed), rows in curves.items():
        cell = suite_schema.Cell(variant, "cmorl", env, seed, 3000)
        _fake_run(tmp_path / cell.name, "cmorl", seed, rows, [[1.0, 4.0]])
        results.append(benchmark.collect(cell, tmp_path / cell.name, None, [1000, 5000]))
    assert {r.status for r in results} == {"ok"}, [r.error for r in results]
    lines = bench_report.table(results, [1000, 5000], reach_baseline="base")
    header = _cells(lines[0])
    assert header.index("steps to baseline HV") == header.index("HV@5k") + 1
    rows = {(row[0], row[1]): dict(zip(header, row, strict=True)) for row in map(_cells, lines[2:])}
    steps = {key: row["steps to baseline HV"] for key, row in rows.items()}
    assert steps == {
        ("a (cmorl)", "`fake-v0`"): "1,500 ± 707 (2/3 seeds)",  # 2000 and 1000; seed 2 never
        ("base (cmorl)", "`fake-v0`"): "2,000 (1/2 seeds)",  # seed 0 ends at 4
        ("b (cmorl)", "`fake-v0`"): "never",
        ("a (cmorl)", "`other-v0`"): "-",
        ("base (cmorl)", "`tie-v0`"): "3,000 ± 0",
        ("a (cmorl)", "`tie-v0`"): "2,000",
    }
    assert (
        rows[("a (cmorl)", "`fake-v0`")]["HV@1k"] == "3.00 ± 2.65" and rows[("a (cmorl)", "`fake-v0`")]["HV@5k"] == "-"
    )
    assert "steps to baseline HV" not in bench_report.table(results, [1000])[0]


def test_reach_baseline_must_be_a_row_of_the_suite(tmp_path, capsys):
    err = _suite_error(tmp_path, GRID + "variants: {q: {algo: momix}}\nreach_baseline: q\n", capsys)
    assert "reach_baseline: 'q' is no algorithm or variant of the grids or cells (they have: scalarized)" in err
    path = tmp_path / "ok.yaml"
    path.write_text(GRID + "cells: [{algo: cmorl, env: x, seed: 0, budget: 5}]\nreach_baseline: cmorl\n")
    assert suite_schema.load_suite(path)[0].reach_baseline == "cmorl"


def test_momix_suite_races_every_row_to_outer_loop_qmix_at_equal_env_steps():
    suite, cells = suite_schema.load_suite(EXPERIMENTS / "suites" / "momix.yaml")
    assert suite.reach_baseline == "qmix-outer" and len(cells) == 27
    spread = [c for c in cells if c.env == "mo_spread_v0"]
    assert {(c.variant, c.seed) for c in spread} == {
        (v, s) for v in ("momix", "momix-uniform", "qmix-outer") for s in range(3)
    }
    assert {c.budget for c in spread} == {300_000}
    for cell in cells:  # each outer-loop QMIX anneals over a third of its sixth of the budget
        if cell.variant == "qmix-outer":
            assert cell.hparams_dict()["epsilon_anneal_time"] == round(cell.budget / 6 / 3)


def test_budget_labels():
    assert [bench_report.budget_label(b) for b in (100_000, 1_500_000, 2_500, 1_234, 1_000_000)] == [
        "100k",
        "1.5M",
        "2.5k",
        "1,234",
        "1M",
    ]


def test_a_real_cell_trains_through_run_cell_resumes_and_is_scored(tmp_path):
    hparams = (("net_arch", [16]), ("num_preferences", 2))
    cell = suite_schema.Cell("tiny", "scalarized", "morl/treasure-corridor-v0", 0, 2000, hparams)
    cell_dir = tmp_path / "runs" / cell.name
    outcome = benchmark.run_cell(cell, str(cell_dir))
    log = (cell_dir / benchmark.LOG_FILE).read_text()
    assert outcome["status"] == "ok", outcome["error"] + "\n" + log[-3000:]
    assert (cell_dir / benchmark.AGENT_FILE).is_file() and not benchmark.pending_log(cell_dir).exists()
    assert runs.read_config(cell_dir)["hparams"]["num_preferences"] == 2 and benchmark._matches(cell_dir, cell)
    assert "morl.training.train('scalarized'" in log

    (cell_dir / benchmark.AGENT_FILE).unlink()  # an unfinished run of this cell: resumed, not restarted
    again = benchmark.run_cell(cell, str(cell_dir))
    log = (cell_dir / benchmark.LOG_FILE).read_text()
    assert again["status"] == "ok", again["error"] + "\n" + log[-3000:]
    assert "benchmark: resuming" in log and log.count("=== ") == 2  # both attempts' output kept
    assert again["seconds"] >= outcome["seconds"]

    result = benchmark.collect(cell, cell_dir, again, [1000])
    assert result.status == "ok" and result.report["hypervolume"] >= 0
    lines = bench_report.table([result], [1000])
    assert len(lines) == 3 and _cells(lines[2])[0] == "tiny (scalarized)"


def test_report_only_trains_nothing_and_tabulates_what_is_there(tmp_path, capsys):
    path = tmp_path / "partial.yaml"
    path.write_text(GRID + "reach_baseline: scalarized\n")
    out, docs = tmp_path / "out", tmp_path / "docs"
    status = benchmark.main(["--suite", str(path), "--out", str(out), "--docs", str(docs), "--report-only"])
    assert status == 1  # a cell without a result is not "all ok"
    assert not (out / "runs" / "partial").exists() or not any((out / "runs" / "partial").iterdir())
    assert "1 cells, 0 to run, 0 already done" in capsys.readouterr().err
    page = (docs / "partial.md").read_text()
    assert "| steps to baseline HV |" in page and "Steps to baseline HV: the target is" in page
    assert benchmark.main(["--suite", str(path), "--report-only", "--force"]) == 2


def test_cells_runs_only_the_matching_cells_and_tabulates_the_rest(tmp_path, capsys):
    path = tmp_path / "two.yaml"
    path.write_text(GRID.replace("seeds: [0]", "seeds: [0, 1]"))
    out, docs = tmp_path / "out", tmp_path / "docs"
    argv = ["--suite", str(path), "--out", str(out), "--docs", str(docs), "--workers", "1"]
    status = benchmark.main([*argv, "--cells", "*-1-1000"])
    assert status == 1  # seed 0 has no result yet
    assert "2 cells, 1 to run, 0 already done" in capsys.readouterr().err
    runs_root = out / "runs" / "two"
    assert sorted(p.name for p in runs_root.glob("scalarized-*")) == ["scalarized-deep-sea-treasure-v0-1-1000"]
    assert benchmark.main([*argv, "--report-only", "--cells", "*"]) == 2


def test_reroll_scores_the_archive_measured_afresh_and_caches_it(tmp_path, monkeypatch):
    from morl import metrics, reroll

    hparams = (("net_arch", [16]), ("num_preferences", 3), ("eval_episodes", 1))
    cell = suite_schema.Cell("rg", "scalarized", "resource-gathering-v0", 0, 2000, hparams)
    cell_dir = tmp_path / "runs" / cell.name
    assert benchmark.run_cell(cell, str(cell_dir))["status"] == "ok"
    result = benchmark.collect(cell, cell_dir, None, [], reroll_episodes=40)
    assert result.status == "ok", result.error
    cached = benchmark._read_json(cell_dir / benchmark.REROLL_FILE)
    assert cached["episodes"] == 40 and len(cached["front"]) == len(cached["stored"]) >= 1
    run = runs.load_run(cell_dir)
    np.testing.assert_allclose(cached["stored"], run.values)
    assert result.report["hypervolume"] == pytest.approx(metrics.hypervolume(cached["front"], run.ref_point))

    def no_rolling(*args, **kwargs):
        raise AssertionError("re-rolled although the cache matches")

    monkeypatch.setattr(reroll, "reroll_run", no_rolling)
    assert benchmark.collect(cell, cell_dir, None, [], reroll_episodes=40).report == result.report
    assert benchmark.collect(cell, cell_dir, None, [], reroll_episodes=41).status == "error"  # another length: rolls
