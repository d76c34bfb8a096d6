"""The MO-MIX throughput script runs end to end and reports positive rates (not a test of speed)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "experiments"))

import momix_throughput


def test_throughput_table(capsys) -> None:
    assert momix_throughput.main(["--envs", "moitem_gathering_2obj_v0", "--steps", "300", "--n-envs", "2"]) == 0
    row = capsys.readouterr().out.strip().splitlines()[-1]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == "moitem_gathering_2obj_v0" and cells[1] == "2"
    rates = [float(re.sub(",", "", c)) for c in cells[2:5]]
    assert all(rate > 0 for rate in rates)
