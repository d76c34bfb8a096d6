"""``morl report``: the payload read from run directories, the command line, and the page in a real browser.

The browser test opens the page from ``file://`` in Debian's headless Chromium (``chromium`` and
``chromium-driver``; CI installs them) through Selenium; it is skipped only where that browser is absent.
"""

from __future__ import annotations

import csv
import html.parser
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import morl
from morl import cli, report, runs
from morl.pareto import ParetoArchive
from morl.tasks import Task

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
# the DST preset otherwise, with short rollouts (256-step updates) so that 6k steps are spent to within one update;
# seed 1 finds 3 points in 6k steps
TINY_CMORL = {"eval_episodes": 1, "executor": "serial", "n_envs": 8, "n_steps": 32, "num_minibatches": 2,
              "eval_interval": 5}  # fmt: skip
# Two seeds of one configuration of a 2-objective toy env. Seed 1 ties at w = (0.5, 0.5) between its first two
# entries (10, 0) and (0, 10): predict takes the first in archive order.
FRONT_2D = {
    0: [[0.0, 10.0], [3.0, 9.0], [6.0, 7.0], [8.0, 4.0], [10.0, 0.5]],
    1: [[10.0, 0.0], [0.0, 10.0], [3.0, 6.0]],
}
ROWS_2D = {0: [(1000, 1.0), (2000, 3.0)], 1: [(1000, 2.0), (1500, 4.0), (2000, 5.0), (3000, 6.0)]}
FRONT_3D = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.6, 0.6, 0.2], [0.2, 0.5, 0.7]]
FRONT_4D = [[1.0, 0.0, 0.0, 0.2], [0.0, 1.0, 0.3, 0.0], [0.5, 0.5, 0.5, 0.5]]


def fake_run(
    path: Path, env: str, front: list[list[float]], *, seed: int = 0, algo: str = "pgmorl",
    rows: list[tuple[int, float]] = ((3000, 1.0),), true_front: list[list[float]] | None = None,
) -> Path:  # fmt: skip
    """A finished run directory of an external algorithm, written by ``runs.write_external_run``; metrics by hand."""
    m = len(front[0])
    task = Task(
        kind="single", spec=env, name=env, num_objectives=m, observation_space=gym.spaces.Box(0.0, 1.0, (2,)),
        action_space=gym.spaces.Discrete(2), ref_point=np.full(m, -1.0), ref_source="test",
        true_front=None if true_front is None else np.asarray(true_front),
    )  # fmt: skip
    archive = ParetoArchive(m)
    for i, point in enumerate(front):
        archive.add(point, preference=np.eye(m)[i % m])
    record = {"algo": algo, "seed": seed, "budget": 3000, "hparams": {"lr": 0.1}}
    runs.write_external_run(path, task, record, archive, rows[-1][0], 1.0)
    with (path / runs.METRICS_FILE).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=runs.EVAL_COLUMNS)
        writer.writeheader()
        for steps, hv in rows:
            row = dict.fromkeys(runs.EVAL_COLUMNS, 0.0)
            row.update(env_steps=steps, budget_unit="env_steps", wall_time=steps / 100, hypervolume=hv,
                       expected_utility=hv / 2, steps_per_second=100.0)  # fmt: skip
            writer.writerow(row)
    return path


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real C-MORL run on deep-sea-treasure-v0 (6,000 env steps, ~3 s): saved agent, archive of policies."""
    out = tmp_path_factory.mktemp("real") / "cmorl-dst"
    result = morl.train("cmorl", "deep-sea-treasure-v0", total_timesteps=6000, seed=1, out=out, hparams=TINY_CMORL,
                        progress_bar=False, tensorboard=False)  # fmt: skip
    assert len(result.agent.archive) >= 2  # so that re-rolling one entry differs from re-rolling them all
    return out


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory, tiny_run: Path) -> dict[str, Path]:
    """Runs of four envs (2, 2, 3 and 4 objectives), two seeds of one configuration, a corrupt and a foreign dir."""
    root = tmp_path_factory.mktemp("bench")
    dirs = {"real": tiny_run}
    for seed in (0, 1):
        dirs[f"toy{seed}"] = fake_run(root / f"toy-{seed}", "toy2-v0", FRONT_2D[seed], seed=seed, rows=ROWS_2D[seed])
    dirs["three"] = fake_run(root / "three", "toy3-v0", FRONT_3D, true_front=FRONT_3D[:3])
    dirs["four"] = fake_run(root / "four", "toy4-v0", FRONT_4D)
    corrupt = root / "corrupt"
    shutil.copytree(dirs["toy0"], corrupt)
    (corrupt / "archive" / "index.json").write_text('{"format": "morl.ParetoArchive", "version": 2, "entr')
    dirs["corrupt"] = corrupt
    foreign = root / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not a run\n")
    dirs["foreign"] = foreign
    return dirs


def _section(payload: dict, env: str) -> dict:
    return next(s for s in payload["sections"] if s["env"] == env)


# --- the payload ------------------------------------------------------------------------------------
def test_collect_gives_one_section_per_env_and_one_line_per_unreadable_dir(bench):
    order = ["real", "toy0", "corrupt", "three", "toy1", "foreign", "four"]
    payload, errors = report.collect([bench[k] for k in order])
    assert [s["env"] for s in payload["sections"]] == ["deep-sea-treasure-v0", "toy2-v0", "toy3-v0", "toy4-v0"]
    assert [s["num_objectives"] for s in payload["sections"]] == [2, 2, 3, 4]
    assert set(errors) == {str(bench["corrupt"]), str(bench["foreign"])}
    for path, message in errors.items():
        assert path in message and "\n" not in message
    assert "cannot read its archive" in errors[str(bench["corrupt"])]
    assert "no config.json" in errors[str(bench["foreign"])]
    assert [e["run_dir"] for e in payload["errors"]] == [str(bench["corrupt"]), str(bench["foreign"])]
    json.dumps(payload, allow_nan=False)  # strict JSON: NaN and inf were turned into null

    for key in ("real", "toy0", "toy1", "three", "four"):
        run = runs.load_run(bench[key])
        section = _section(payload, run.config["env"])
        record = next(r for r in section["runs"] if r["dir"] == str(bench[key].resolve()))
        archive = ParetoArchive.load(bench[key] / "archive", load_policies=False)
        assert [e["id"] for e in record["entries"]] == [e.id for e in archive.entries]
        assert [e["value"] for e in record["entries"]] == archive.values.tolist()
        indicators = run.report()
        assert record["metrics"]["hypervolume"] == pytest.approx(indicators["hypervolume"])
        assert record["metrics"]["cardinality"] == indicators["cardinality"]
        assert record["status"] == ("stopped at 2,000 of 3,000" if key == "toy0" else "finished")
    three = _section(payload, "toy3-v0")
    assert three["true_front"] == FRONT_3D[:3] and three["runs"][0]["metrics"]["igd"] is not None
    assert _section(payload, "deep-sea-treasure-v0")["true_stairs"] is not None


def test_seeds_of_one_configuration_are_a_mean_with_a_min_max_band(bench):
    payload, _ = report.collect([bench["toy0"], bench["toy1"]])
    (group,) = _section(payload, "toy2-v0")["groups"]
    assert group["label"] == "pgmorl" and group["runs"] == [0, 1]
    hv = group["curves"]["hypervolume"]
    # step functions sampled where both seeds have evaluated: 1000..2000 (seed 0 stops at 2000)
    assert hv["x"] == [1000, 1500, 2000] and hv["seeds"] == 2
    assert hv["mean"] == pytest.approx([1.5, 2.5, 4.0])
    assert hv["lo"] == [1.0, 1.0, 3.0] and hv["hi"] == [2.0, 4.0, 5.0]
    assert group["curves"]["expected_utility"]["mean"] == pytest.approx([0.75, 1.25, 2.0])
    labels = [r["label"] for r in _section(payload, "toy2-v0")["runs"]]
    assert labels == ["pgmorl · seed 0", "pgmorl · seed 1"]


def test_configurations_of_one_algorithm_are_told_apart_by_their_settings(bench, tmp_path):
    other = fake_run(tmp_path / "other", "toy2-v0", FRONT_2D[0], seed=0)
    config = runs.read_config(other)
    config["hparams"]["lr"] = 0.5
    (other / runs.CONFIG_FILE).write_text(json.dumps(config))
    payload, _ = report.collect([bench["toy0"], bench["toy1"], other])
    groups = _section(payload, "toy2-v0")["groups"]
    assert [(g["label"], g["runs"]) for g in groups] == [("pgmorl (lr=0.1)", [0, 1]), ("pgmorl (lr=0.5)", [2])]


def test_each_point_carries_the_command_that_re_rolls_it(bench, tiny_run, capsys):
    payload, _ = report.collect([tiny_run, bench["toy0"]])
    real = _section(payload, "deep-sea-treasure-v0")["runs"][0]
    assert real["reroll"] is None and real["entries"]
    entry = real["entries"][-1]
    argv = shlex.split(entry["command"])
    assert argv == ["morl", "eval", str(tiny_run.resolve()), "--episodes", "10", "--entry", str(entry["id"])]
    assert cli.main(argv[1:]) == 0
    out = capsys.readouterr().out
    assert f"entry {entry['id']}: stored" in out and out.count("entry ") == 1  # that entry, re-rolled alone
    external = _section(payload, "toy2-v0")["runs"][0]
    assert all(e["command"] is None for e in external["entries"]) and "external run" in external["reroll"]


def test_eval_entry_names_the_valid_ids_when_one_is_unknown(tiny_run, capsys):
    ids = [e.id for e in ParetoArchive.load(tiny_run / "archive", load_policies=False).entries]
    assert cli.main(["eval", str(tiny_run), "--entry", "999"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"morl: error: --entry 999: no such entry in the archive of {tiny_run}; its entries are {ids}"


def test_a_run_still_training_is_reported_as_it_stands_without_waiting(bench, tmp_path):
    live = tmp_path / "live"
    shutil.copytree(bench["toy0"], live)
    with (live / runs.METRICS_FILE).open("a") as handle:
        handle.write("2500,0,env_steps,25.0,100.0,2.")  # a row being written: torn
    task = Task(kind="single", spec="toy2-v0", name="toy2-v0", num_objectives=2, ref_source="test",
                observation_space=gym.spaces.Box(0.0, 1.0, (2,)), action_space=gym.spaces.Discrete(2),
                ref_point=np.full(2, -1.0))  # fmt: skip
    held = runs.Run.open(live, task)  # a training process holds the directory
    try:
        began = time.perf_counter()
        payload, errors = report.collect([live])
        assert time.perf_counter() - began < 5 and not errors
    finally:
        held.close()
    (record,) = _section(payload, "toy2-v0")["runs"]
    assert record["status"].startswith(f"training (pid {os.getpid()} on ")
    assert record["curves"]["hypervolume"]["x"] == [1000, 2000]  # the torn row is skipped
    # a killed training leaves its line in the lock file: a process that is gone is not training
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (live / runs.LOCK_FILE).write_text(f"pid {dead.stdout.strip()} on {socket.gethostname()} since x\n")
    payload, _ = report.collect([live])
    assert _section(payload, "toy2-v0")["runs"][0]["status"] == "stopped at 2,000 of 3,000"


def test_a_folder_of_runs_stands_for_the_runs_in_it(bench, tmp_path):
    suite = tmp_path / "suite"
    for key in ("toy0", "toy1"):
        shutil.copytree(bench[key], suite / bench[key].name)
    (suite / ".logs").mkdir()
    assert report.expand_run_dirs([suite, bench["three"]]) == [suite / "toy-0", suite / "toy-1", bench["three"]]


# --- the page and the command line ----------------------------------------------------------------
class _Resources(html.parser.HTMLParser):
    """Every attribute of the page's elements that could make the browser fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.loads: list[tuple[str, str, str]] = []
        self.scripts: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in = dict(attrs).get("id") if tag == "script" else None
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data", "action", "poster") or (name == "rel"):
                self.loads.append((tag, name, value or ""))

    def handle_data(self, data):
        if self._in == "morl-data":
            self.scripts.append(data)


def test_write_report_writes_one_self_contained_page(bench, tmp_path):
    out = tmp_path / "report.html"
    errors = report.write_report([bench["toy0"], bench["corrupt"]], out)
    assert list(errors) == [str(bench["corrupt"])]
    page = out.read_text()
    parsed = _Resources()
    parsed.feed(page)
    assert parsed.loads == [], f"the page loads resources: {parsed.loads}"
    assert "link" not in parsed.tags and "iframe" not in parsed.tags and "img" not in parsed.tags
    assert "<script src" not in page and "@import" not in page
    payload = json.loads("".join(parsed.scripts))
    assert [r["label"] for r in payload["sections"][0]["runs"]] == ["pgmorl · seed 0"]
    assert len(page) > 3_000_000  # Plotly's bundle is inlined
    with pytest.raises(ValueError, match="is a directory"):
        report.write_report([bench["toy0"]], tmp_path)


def test_cli_report_warns_once_per_unreadable_dir_and_writes_the_rest(bench, tmp_path, capsys):
    out = tmp_path / "r.html"
    code = cli.main(["report", str(bench["toy0"]), str(bench["foreign"]), str(tmp_path / "missing"), "--out", str(out)])
    assert code == 0 and out.is_file()
    captured = capsys.readouterr()
    assert captured.out.strip() == f"wrote {out} (1 of 3 runs)"
    lines = captured.err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("morl: warning: run directory ") for line in lines)
    assert str(bench["foreign"]) in lines[0] and str(tmp_path / "missing") in lines[1]

    assert cli.main(["report", str(bench["foreign"]), "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip().endswith(f"none of the 1 run directories could be reported (see above); "
                                                    f"{out} lists why")  # fmt: skip


def test_without_plotly_report_says_what_to_install_in_one_line(bench, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "plotly", None)  # `import plotly` raises ImportError
    assert cli.main(["report", str(bench["toy0"]), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == 'morl: error: morl report needs plotly, which is not installed: pip install "morl[report]"'
    assert not (tmp_path / "r.html").exists()


# --- the page in a real browser -------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium driven by Selenium, with every background fetch of the browser itself switched off."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip(f"{CHROMIUM} or {CHROMEDRIVER} is absent: apt-get install chromium chromium-driver (CI does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="morl-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1000", f"--user-data-dir={profile}"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


RENDERED_POINTS = """
const out = {};
document.querySelectorAll('#' + arguments[0] + ' .scatterlayer .trace').forEach(function (g) {
  out[g.__data__[0].trace.index] = g.querySelectorAll('.points path.point').length;
});
return out;
"""
TRACES = """
return document.getElementById(arguments[0]).data.map(function (t, i) {
  return {index: i, kind: t.meta && t.meta.kind, run: t.meta && t.meta.run, ids: t.customdata || [],
          x: t.x, y: t.y, z: t.z || null};
});
"""
SLIDE = """
const [si, values] = arguments;
values.forEach(function (v, j) {
  const input = document.getElementById('w-' + si + '-' + j);
  input.value = String(v);
  input.dispatchEvent(new Event('input'));
});
const items = Array.from(document.querySelectorAll('#marked-' + si + ' li'));
return {w: window.morlReport.weights[si], marked: items.map(function (li) { return li.getAttribute('data-entry'); })};
"""


def test_the_page_renders_every_point_marks_predicts_entry_and_fetches_nothing(browser, bench, tmp_path):
    order = ["real", "toy0", "toy1", "three", "four", "corrupt"]
    out = tmp_path / "report.html"
    errors = report.write_report([bench[k] for k in order], out)
    assert list(errors) == [str(bench["corrupt"])]
    payload, _ = report.collect([bench[k] for k in order])
    browser.get("about:blank")  # leave the start page (chrome://new-tab-page...) and its own fetches behind
    browser.get_log("performance")  # then drop what the browser did before opening the report
    browser.get_log("browser")
    browser.get(out.resolve().as_uri())
    deadline = time.time() + 60
    while not browser.execute_script("return document.body.getAttribute('data-ready')") and time.time() < deadline:
        time.sleep(0.1)
    assert browser.execute_script("return document.body.getAttribute('data-ready')") == "1"
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
    assert str(bench["corrupt"]) in browser.find_element("id", "errors").text

    # every run's points are drawn, one per archive entry
    for si, section in enumerate(payload["sections"]):
        traces = browser.execute_script(TRACES, f"front-{si}")
        drawn = browser.execute_script(RENDERED_POINTS, f"front-{si}")
        for ri, run in enumerate(section["runs"]):
            archive = ParetoArchive.load(Path(run["dir"]) / "archive", load_policies=False)
            (trace,) = [t for t in traces if t["kind"] == "entries" and t["run"] == ri]
            assert sorted({i for i in trace["ids"] if i is not None}) == sorted(e.id for e in archive.entries)
            if section["num_objectives"] == 2:
                assert drawn[str(trace["index"])] == len(archive), (section["env"], run["label"])
            elif section["num_objectives"] == 3:  # WebGL: the drawn data, not DOM nodes
                assert browser.execute_script(
                    "return document.getElementById(arguments[0])._fullData[arguments[1]].x.length", f"front-{si}",
                    trace["index"]) == len(archive)  # fmt: skip
        assert len([t for t in traces if t["kind"] == "true"]) == (section["true_front"] is not None)

    # the slider marks, in every run, the entry ParetoArchive.entry_for (predict's rule) picks for w
    sections = {s["env"]: si for si, s in enumerate(payload["sections"])}
    for env, settings in (("toy2-v0", [[0.5], [0.05], [0.93], [0.62]]), ("deep-sea-treasure-v0", [[0.2], [0.9]]),
                          ("toy3-v0", [[1, 0.2, 0], [0, 0, 1], [0.3, 0.3, 0.3]])):  # fmt: skip
        si = sections[env]
        for values in settings:
            seen = browser.execute_script(SLIDE, si, values)
            chosen = [values[0], 1 - values[0]] if len(values) == 1 else (np.array(values) / sum(values)).tolist()
            assert seen["w"] == pytest.approx(chosen)  # the slider moved the page's w
            traces = browser.execute_script(TRACES, f"front-{si}")
            for ri, run in enumerate(payload["sections"][si]["runs"]):
                archive = ParetoArchive.load(Path(run["dir"]) / "archive", load_policies=False)
                expected = archive.entry_for(seen["w"])
                assert seen["marked"][ri] == str(expected.id), (env, values, run["label"])
                (marked,) = [t for t in traces if t["kind"] == "marked" and t["run"] == ri]
                assert [marked["x"][0], marked["y"][0]] == expected.value[:2].tolist()
    toy = browser.execute_script(SLIDE, sections["toy2-v0"], [0.5])
    assert toy["w"] == [0.5, 0.5] and toy["marked"] == ["2", "0"]  # seed 1: a tie, the first entry in archive order

    # hovering a point shows its values, preference, run, entry id and the re-roll command
    si = sections["deep-sea-treasure-v0"]
    traces = browser.execute_script(TRACES, f"front-{si}")
    (trace,) = [t for t in traces if t["kind"] == "entries"]
    text = browser.execute_script(
        "const gd = document.getElementById(arguments[0]);"
        "Plotly.Fx.hover(gd, [{curveNumber: arguments[1], pointNumber: 0}]);"
        "return gd.querySelector('.hoverlayer').textContent;", f"front-{si}", trace["index"])  # fmt: skip
    entry = payload["sections"][si]["runs"][0]["entries"][0]
    assert f"entry {entry['id']}" in text and str(bench["real"].resolve()) in text
    assert "value: treasure " in text and ", time " in text
    assert ("preference w: [" if entry["preference"] else "preference: none recorded") in text
    assert f"job={entry['meta']['job']}" in text  # C-MORL's extensions record their job, not a preference
    assert f"morl eval {bench['real'].resolve()} --episodes 10 --entry {entry['id']}" in text
    si = sections["toy2-v0"]
    (trace,) = [t for t in browser.execute_script(TRACES, f"front-{si}") if t["kind"] == "entries" and t["run"] == 0]
    text = browser.execute_script(
        "const gd = document.getElementById(arguments[0]);"
        "Plotly.Fx.hover(gd, [{curveNumber: arguments[1], pointNumber: 1}]);"
        "return gd.querySelector('.hoverlayer').textContent;", f"front-{si}", trace["index"])  # fmt: skip
    assert "pgmorl · seed 0  entry 1" in text and "preference w: [0, 1]" in text and "external run" in text

    # the table sorts by a column on a click
    si = sections["toy2-v0"]
    header = browser.find_element("css selector", f"#table-{si} th:nth-child(8)")
    assert header.text == "HV"
    header.click()
    header.click()
    values = browser.execute_script(
        "return Array.from(document.querySelectorAll('#table-' + arguments[0] + ' tbody tr'))"
        ".map(function (r) { return parseFloat(r.cells[7].getAttribute('data-sort')); });", si)  # fmt: skip
    assert values == sorted(values, reverse=True)

    # nothing was fetched but the page itself
    requests = [
        json.loads(entry["message"])["message"]["params"]["request"]["url"]
        for entry in browser.get_log("performance")
        if json.loads(entry["message"])["message"]["method"] == "Network.requestWillBeSent"
    ]
    assert out.resolve().as_uri() in requests
    assert [url for url in requests if not url.startswith(("file:", "data:", "about:", "blob:"))] == []
