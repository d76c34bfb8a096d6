"""experiments/keep_records.py: a finished cell's weight-free record scores exactly as its full run does."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
sys.path.insert(0, str(EXPERIMENTS))

import benchmark  # noqa: E402
import keep_records  # noqa: E402
import suite as suite_schema  # noqa: E402


def test_records_score_like_the_full_run_and_unfinished_cells_stay_out(tmp_path):
    hparams = (("net_arch", [16]), ("num_preferences", 2))
    cell = suite_schema.Cell("tiny", "scalarized", "morl/treasure-corridor-v0", 0, 2000, hparams)
    runs_root = tmp_path / "runs" / "suite"
    assert benchmark.run_cell(cell, str(runs_root / cell.name))["status"] == "ok"
    (runs_root / "tiny-unfinished").mkdir()
    (runs_root / "tiny-unfinished" / "config.json").write_text("{}")

    records = tmp_path / "records"
    assert keep_records.main([str(runs_root), str(records)]) == 0
    assert sorted(p.name for p in records.iterdir()) == [cell.name]
    kept = records / cell.name
    assert not list(kept.rglob("*.safetensors")) and not (kept / "checkpoints").exists()

    full = benchmark.collect(cell, runs_root / cell.name, None, [1000, 2000])
    record = benchmark.collect(cell, kept, None, [1000, 2000])
    assert full.status == record.status == "ok", record.error
    assert None not in full.hv_at.values()
    np.testing.assert_equal((record.report, record.hv_at, record.last), (full.report, full.hv_at, full.last))

    (kept / "metrics.csv").write_text("stale")  # a second keep replaces the record whole
    assert keep_records.main([str(runs_root), str(records)]) == 0
    assert benchmark.collect(cell, kept, None, [1000, 2000]).hv_at == full.hv_at != {}
    assert not list(records.glob("*.partial"))
