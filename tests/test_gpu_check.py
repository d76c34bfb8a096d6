"""The GPU check script runs every registered agent; on CPU it is part of the suite."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

import gpu_check

from morl import agents


def test_every_registered_agent_trains_on_cpu(capsys):
    assert gpu_check.main(["--budget", "3000", "--devices", "cpu"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()[1:] if line.strip()]
    assert sorted(row[0] for row in rows) == sorted(agents.REGISTRY)
    for row in rows:
        assert row[1] == "cpu" and 0 < int(row[2].replace(",", "")) <= 3000
