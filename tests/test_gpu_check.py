"""The GPU check script runs every registered agent; on CPU it is part of the suite."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

import gpu_check

from morl import agents


def test_every_registered_agent_trains_on_cpu(capsys):
    assert gpu_check.main(["--budget", "3000", "--offline-budget", "200", "--devices", "cpu"]) == 0
    out = capsys.readouterr().out
    rows = {row[0]: row for row in (line.split() for line in out.splitlines()[1:] if line.strip())}
    assert sorted(rows) == sorted(agents.REGISTRY)
    assert {"momix", "oppo", "bc"} <= set(rows)  # multi-agent and offline agents have their own env and budget
    for algo, (_, device, env_steps, grad_steps, _, rate, unit, vs_cpu, _) in rows.items():
        env_steps, grad_steps = int(env_steps.replace(",", "")), int(grad_steps.replace(",", ""))
        assert device == "cpu" and vs_cpu == "-" and float(rate.replace(",", "")) > 0, algo
        if agents.get(algo).budget_unit == "gradient_steps":  # offline: budget and throughput in gradient steps
            assert unit == "gradient_steps/s" and grad_steps == 200, algo
        else:  # about the budget: momix plays whole rounds of episodes and may pass it by one
            assert unit == "env_steps/s" and 0 < env_steps < 2 * 3000, algo
