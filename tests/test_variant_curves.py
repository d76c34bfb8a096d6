"""experiments/variant_curves.py: the A/B figure reads finished seeds only and refuses what it cannot compare."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "experiments"))
import variant_curves


def _cell(root: Path, name: str, steps: list[int], hv: list[float]) -> None:
    path = root / name
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"algo": "pcsac", "env": "toy-v0", "seed": 0}))
    rows = "\n".join(f"{s},{h}" for s, h in zip(steps, hv, strict=True))
    (path / "metrics.csv").write_text(f"env_steps,hypervolume\n{rows}\n")


def test_curves_of_finished_seeds_and_clear_refusals(tmp_path):
    _cell(tmp_path, "pcsac-toy-v0-0-20", [10, 20], [1.0, 3.0])
    _cell(tmp_path, "pcsac-toy-v0-1-20", [10, 20], [2.0, 5.0])
    _cell(tmp_path, "pcsac-toy-v0-2-20", [10], [9.0])  # killed at 10 steps: not drawn
    _cell(tmp_path, "cip-full-toy-v0-0-20", [10, 20], [7.0, 7.0])  # another variant, never mixed in
    steps, hv = variant_curves.variant_curves(tmp_path, "toy-v0", "pcsac")
    np.testing.assert_array_equal(steps, [10, 20])
    np.testing.assert_array_equal(hv, [[1.0, 3.0], [2.0, 5.0]])
    with pytest.raises(ValueError, match="no cell of variant 'cip-weights'"):
        variant_curves.variant_curves(tmp_path, "toy-v0", "cip-weights")
    _cell(tmp_path, "odd-toy-v0-0-20", [10, 20], [1.0, 1.0])
    _cell(tmp_path, "odd-toy-v0-1-20", [5, 20], [1.0, 1.0])
    with pytest.raises(ValueError, match="evaluated at different steps"):
        variant_curves.variant_curves(tmp_path, "toy-v0", "odd")
    out = tmp_path / "ab.png"
    assert variant_curves.main([str(tmp_path), "toy-v0", "--variants", "pcsac", "cip-full", "--out", str(out)]) == 0
    assert out.stat().st_size > 0
