"""experiments/bench_datasets.py: a suite's ``datasets`` validated, collected once, atomically, and reported."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import typing
from pathlib import Path

import numpy as np
import pytest
import torch

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
sys.path.insert(0, str(EXPERIMENTS))

import bench_datasets  # noqa: E402
import bench_report  # noqa: E402
import benchmark  # noqa: E402
import suite as suite_schema  # noqa: E402
from test_benchmark import _suite_error as _error  # noqa: E402  (one line, naming the suite file)

from morl import cli, data, preferences, runs  # noqa: E402

DST = "deep-sea-treasure-v0"
GRID = "grids:\n  - {algos: [bc], envs: ['dataset:d'], seeds: [0], budgets: [10]}\n"
RANDOM = "datasets:\n  d: {env: deep-sea-treasure-v0, behaviour: random, episodes: 3}\n"


SOURCE = "source: {algo: cmorl, seed: 0, budget: 5}"


@pytest.mark.parametrize(
    ("dataset", "expected"),
    [
        ("e: {env: x, behaviour: random, episodes: 3}", "grids[0].envs: 'dataset:d' names no dataset of the suite"),
        ("d: {env: x, source: {algo: cmorl, seed: 0}, episodes: 3}", "datasets.d.source.budget: Field required"),
        ("d: {env: x, source: 'run:r', episodes: 3}", "datasets.d.source: must be a mapping of keys algo, budget"),
        ("d: {env: x, " + SOURCE + ", behaviour: random, episodes: 3}",
         "datasets.d: give 'source' (a cell of this suite: {algo, budget, seed}) or 'behaviour' (random, scripted)"),
        ("d: {env: x, episodes: 3}", "datasets.d: give 'source'"),
        ("d: {env: x, behaviour: 'run:r', episodes: 3}", "a run's archive is a 'source' cell of the suite"),
        ("d: {env: x, behaviour: scripted, episodes: 3}", "behaviour 'scripted': no scripted family for 'x'"),
        ("d: {env: x, behaviour: random, episodes: 3, episode: 4}",
         "datasets.d: unknown key 'episode' (valid: env, source, behaviour, mode, episodes, distribution, seed)"),
        ("d: {env: x, behaviour: random, episodes: 0}", "datasets.d.episodes: Input should be greater than 0"),
        ("d: {env: x, " + SOURCE.replace("cmorl", "pgmorl") + ", episodes: 3}",
         "datasets.d.source.algo: 'pgmorl' runs in MORL-Baselines' venv"),
        ("d: {env: 'dataset:e', behaviour: random, episodes: 3}", "a dataset is collected in an env"),
        ("d.x: {env: x, behaviour: random, episodes: 3}", "datasets: key 'd.x': a dataset name must be"),
    ],
)  # fmt: skip
def test_dataset_mistakes_are_one_line(tmp_path, capsys, dataset, expected):
    assert expected in _error(tmp_path, GRID + "datasets:\n  " + dataset + "\n", capsys)


def test_cells_and_distributions_are_checked_too(tmp_path, capsys):
    err = _error(tmp_path, GRID, capsys)
    assert "grids[0].envs: 'dataset:d' names no dataset of the suite (declared: none: add a 'datasets' section)" in err
    err = _error(tmp_path, RANDOM + "cells: [{algo: bc, env: 'dataset:e', seed: 0, budget: 5}]\n", capsys)
    assert "cells[0].env: 'dataset:e' names no dataset of the suite (declared: d)" in err
    distribution = suite_schema.DatasetSpec.model_fields["distribution"].annotation
    assert set(typing.get_args(distribution)) == set(preferences.DISTRIBUTIONS)


def test_source_cells_are_cells_of_the_suite_and_dataset_cells_name_their_dataset(tmp_path):
    suite, cells = suite_schema.load_suite(EXPERIMENTS / "suites" / "oppo-mujoco.yaml")
    names = [cell.name for cell in cells]
    assert names[:2] == ["cmorl-mo-hopper-2obj-v5-0-300000", "cmorl-mo-halfcheetah-v5-0-300000"]  # sources first
    assert len(cells) == 2 + 3 * 4 * 3 and "morvs-p-dataset.halfcheetah-amateur-2-3000" in names
    _, mujoco = suite_schema.load_suite(EXPERIMENTS / "suites" / "mujoco-300k.yaml")
    sources = suite_schema.source_cells(suite)
    assert set(sources) == {"hopper-expert", "hopper-amateur", "halfcheetah-expert", "halfcheetah-amateur"}
    assert set(sources.values()) <= set(mujoco)  # the same cells (hyperparameters too): copied run dirs are reused
    jobs = bench_datasets.plan(suite, tmp_path, {cell.name: tmp_path / cell.name for cell in cells})
    resolved = {cell.name: cell for cell in bench_datasets.resolve(cells, jobs)}
    cell = resolved["oppo-dataset.hopper-amateur-1-3000"]
    assert cell.dataset == "hopper-amateur" and cell.train_env == str(tmp_path / "datasets" / "hopper-amateur-v0")
    assert jobs["hopper-amateur"].source_dir == tmp_path / "cmorl-mo-hopper-2obj-v5-0-300000"
    assert resolved["cmorl-mo-hopper-2obj-v5-0-300000"].train_env == "mo-hopper-2obj-v5"
    oppo, oppo_cells = suite_schema.load_suite(EXPERIMENTS / "suites" / "oppo.yaml")
    assert {c.env for c in oppo_cells} == {"dataset:dst-random-2000", "dataset:mcc-scripted-amateur-200"}
    mcc = oppo.datasets["mcc-scripted-amateur-200"]  # as collected by hand before (the suite's header)
    assert (mcc.behaviour, mcc.mode, mcc.episodes, mcc.seed, mcc.distribution) == ("scripted", "amateur", 200, 0,
                                                                                    "uniform")  # fmt: skip


def _job(tmp_path: Path, episodes: int = 5) -> bench_datasets.DatasetJob:
    return bench_datasets.DatasetJob(name="d", env=DST, mode="expert", episodes=episodes, distribution="uniform",
                                     seed=1, path=tmp_path / "datasets" / "d-v0", behaviour="random")  # fmt: skip


@pytest.fixture
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)  # build() sets one thread, as in a worker


def test_a_dataset_is_what_morl_data_collect_writes(tmp_path, restore_threads):
    job = _job(tmp_path, episodes=7)
    assert bench_datasets.build(job)["status"] == "ok"
    by_hand = tmp_path / "hand-v0"
    assert cli.main(["data", "collect", DST, "--episodes", "7", "--seed", "1", "--out", str(by_hand)]) == 0
    ours, theirs = data.load(job.path), data.load(by_hand)
    for field in ("observations", "actions", "rewards", "terminals", "truncations", "preferences"):
        np.testing.assert_array_equal(getattr(ours, field), getattr(theirs, field))
    summary = bench_datasets.read_record(job.path)["summary"]
    assert summary["episodes"] == 7 and summary["hypervolume"] == data.summarize(theirs).hypervolume


def test_collection_is_atomic_redone_when_killed_or_changed_and_stale_cells_go(tmp_path, restore_threads):
    job = _job(tmp_path)
    scratch = job.path.parent / ".d-v0.building"
    (scratch / "d-v0").mkdir(parents=True)  # a killed collection's leftovers
    job.path.mkdir(parents=True)  # and a directory without a record (a collection killed half-way, by hand)
    cell = suite_schema.Cell("bc", "bc", "dataset:d", 0, 10)
    cell_dirs = {cell.name: tmp_path / cell.name}
    cell_dirs[cell.name].mkdir()

    def prepare(job: bench_datasets.DatasetJob) -> dict[str, str]:
        return bench_datasets.prepare({"d": job}, [cell], cell_dirs, lambda _: True, set(), executor="serial")

    assert prepare(job) == {}
    assert bench_datasets.complete(job) and not scratch.exists() and data.load(job.path).num_episodes == 5
    assert cell_dirs[cell.name].exists()  # the first collection: nothing was trained on an earlier one
    built = bench_datasets.read_record(job.path)["built"]
    record_file = job.path / bench_datasets.RECORD_FILE
    stamp = record_file.stat().st_mtime_ns
    assert prepare(job) == {} and record_file.stat().st_mtime_ns == stamp  # complete: not collected again
    changed = _job(tmp_path, episodes=6)
    assert not bench_datasets.complete(changed)
    assert prepare(changed) == {} and data.load(job.path).num_episodes == 6
    assert not cell_dirs[cell.name].exists()  # trained on the data replaced
    assert bench_datasets.read_record(job.path)["built"] >= built

    cell_dirs[cell.name].mkdir()
    source = suite_schema.Cell("scalarized", "scalarized", DST, 0, 100)
    from_source = dataclasses.replace(changed, behaviour=None, source=source, source_dir=tmp_path / source.name)
    errors = bench_datasets.prepare({"d": from_source}, [cell], cell_dirs, lambda _: False, set(), executor="serial")
    assert errors == {"d": "its source cell scalarized-deep-sea-treasure-v0-0-100 has no finished run"}
    assert cell_dirs[cell.name].exists() and bench_datasets.complete(changed)  # nothing touched
    record = bench_datasets.read_record(job.path)
    record_file.write_text(json.dumps({**record, "spec": from_source.wanted()}))  # as if collected from the source
    assert bench_datasets.prepare({"d": from_source}, [cell], cell_dirs, lambda _: True, set(), executor="serial") == {}
    assert cell_dirs[cell.name].exists()  # in place: the source's run is the one it was collected from
    retrained = {source.name}  # the source cell was trained again: its data are collected again, its cells go
    errors = bench_datasets.prepare({"d": from_source}, [cell], cell_dirs, lambda _: True, retrained, executor="serial")
    assert errors["d"].startswith("collection failed: ") and not cell_dirs[cell.name].exists()
    assert bench_datasets.complete(from_source)  # a failed collection leaves the data it would replace
    broken = bench_datasets.DatasetJob("e", "no-such-env-v0", "expert", 2, "uniform", 0, tmp_path / "e-v0", "random")
    errors = bench_datasets.prepare({"e": broken}, [], {}, lambda _: True, set(), executor="serial")
    assert errors["e"].startswith("collection failed: ") and not broken.path.exists()
    assert "not collected yet" in "\n".join(bench_datasets.report_lines({"e": broken}))


TINY = """
hparams:
  scalarized: {net_arch: [16], num_preferences: 2, n_steps: 64}
  bc: {net_arch: [16], num_preferences: 3, eval_interval: 50, warmup_steps: 1}
datasets:
  dst-run: {env: deep-sea-treasure-v0, source: {algo: scalarized, budget: 1000, seed: 0}, mode: amateur, episodes: 6}
  dst-random: {env: deep-sea-treasure-v0, behaviour: random, episodes: 8}
grids:
  - {algos: [bc], envs: ["dataset:dst-run", "dataset:dst-random"], seeds: [0], budgets: [50]}
"""


def _rows(report: str) -> dict[str, dict[str, str]]:
    """The rows of every table of a report page, by their first two cells, as {column: cell}."""
    rows, header = {}, None
    for line in report.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if header is None:
            header = cells
        elif not line.startswith("|---"):
            rows[f"{cells[0]} {cells[1]}"] = dict(zip(header, cells, strict=True))
    return rows


def test_a_suite_trains_its_source_cell_collects_its_datasets_once_and_trains_on_them(tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    out, docs = tmp_path / "out", tmp_path / "docs"
    argv = ["--suite", str(path), "--out", str(out), "--docs", str(docs), "--workers", "2"]
    assert benchmark.main(argv) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "1 source cell(s) of datasets to run first" in err and "datasets: 2, 2 to collect, 0 in place" in err
    root = out / "runs" / "tiny"
    source_dir = root / "scalarized-deep-sea-treasure-v0-0-1000"
    assert (source_dir / benchmark.AGENT_FILE).is_file()
    hv = {}
    for name, episodes in (("dst-run", 6), ("dst-random", 8)):
        dataset_dir = root / "datasets" / f"{name}-v0"
        assert data.load(dataset_dir).num_episodes == episodes
        hv[name] = data.summarize(data.load(dataset_dir)).hypervolume
        cell_dir = root / f"bc-dataset.{name}-0-50"
        assert runs.read_config(cell_dir)["env"] == str(dataset_dir)  # the cell trained on that directory
    record = bench_datasets.read_record(root / "datasets" / "dst-run-v0")
    assert record["spec"]["source"]["cell"] == source_dir.name and record["spec"]["mode"] == "amateur"

    report = (docs / "tiny.md").read_text()
    assert "## Datasets" in report and "archive of cell `scalarized-deep-sea-treasure-v0-0-1000`" in report
    rows = _rows(report)
    bc = rows["bc `dataset:dst-random`"]
    assert bc["data HV"] == bench_report._mean_std([hv["dst-random"]])
    assert bc["HV / data HV"] == bench_report._mean_std(
        [runs.load_run(root / "bc-dataset.dst-random-0-50").report()["hypervolume"] / hv["dst-random"]]
    )
    assert rows["scalarized `deep-sea-treasure-v0`"]["data HV"] == "-"
    dataset_row = rows["`dataset:dst-run` `deep-sea-treasure-v0`"]
    assert dataset_row["data HV"] == f"{hv['dst-run']:.6g}" and dataset_row["episodes"] == "6"
    page = (root / benchmark.INTERACTIVE_FILE).read_text()  # `morl report` of every run, datasets left aside
    payload = json.loads(re.search(r'id="morl-data">(.*?)</script>', page, re.S).group(1))
    reported = [run["dir"] for section in payload["sections"] for run in section["runs"]]
    assert sorted(Path(p).name for p in reported) == sorted(p.name for p in root.glob("*-0-*")), reported
    assert "interactive report leaves out" not in err
    link = os.path.relpath(root / benchmark.INTERACTIVE_FILE, docs)
    assert f"[{benchmark.INTERACTIVE_FILE}]({link})" in report

    stamps = {p: p.stat().st_mtime_ns for p in root.glob("datasets/*/" + bench_datasets.RECORD_FILE)}
    assert benchmark.main(argv) == 0
    err = capsys.readouterr().err
    assert "datasets: 2, 0 to collect, 2 in place" in err and "3 cells, 0 to run, 3 already done" in err
    assert stamps == {p: p.stat().st_mtime_ns for p in root.glob("datasets/*/" + bench_datasets.RECORD_FILE)}


BROKEN = """
datasets:
  dst-run:
    env: deep-sea-treasure-v0
    source: {algo: scalarized, budget: 1000, seed: 0, hparams: {no_such_key: 1}}
    episodes: 6
grids:
  - {algos: [bc], envs: ["dataset:dst-run"], seeds: [0], budgets: [50]}
"""


def test_cells_on_a_dataset_whose_source_failed_fail_with_the_reason(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    out, docs = tmp_path / "out", tmp_path / "docs"
    assert benchmark.main(["--suite", str(path), "--out", str(out), "--docs", str(docs), "--workers", "1"]) == 1
    assert "1 without their dataset" in capsys.readouterr().err
    rows = _rows((docs / "broken.md").read_text())
    reason = "dataset dst-run is not in place: its source cell scalarized-deep-sea-treasure-v0-0-1000 has no "
    assert reason + "finished run" in rows["bc `dataset:dst-run`"]["errors"]
    assert "no_such_key" in rows["scalarized `deep-sea-treasure-v0`"]["errors"]
    assert not (out / "runs" / "broken" / "datasets" / "dst-run-v0").exists()
