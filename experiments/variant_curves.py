"""An A/B figure: each variant's hypervolume curve on one env, the mean over its seeds and the min-max band.

    python experiments/variant_curves.py RUNS_DIR ENV --variants pcsac cip-weights cip-augment --out ab.png

``RUNS_DIR`` is a suite's run folder (``<out>/runs/<suite>``), whose cells are named
``<variant>-<env>-<seed>-<budget>`` by ``experiments/benchmark.py``. Only seeds that reached the largest budget
found are drawn, so an unfinished cell cannot pull a mean down. Every value is read with ``morl.runs.load_run``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from morl import runs  # noqa: E402


def variant_curves(runs_dir: Path, env: str, variant: str) -> tuple[np.ndarray, np.ndarray]:
    """(env steps (T,), hypervolume per finished seed (S, T)) of ``variant``'s cells on ``env``."""
    pattern = re.compile(rf"^{re.escape(variant)}-{re.escape(env)}-(\d+)-(\d+)$")
    cells = [(int(m[2]), path) for path in sorted(runs_dir.iterdir()) if (m := pattern.match(path.name))]
    if not cells:
        raise ValueError(f"{runs_dir}: no cell of variant {variant!r} on {env!r}")
    budget = max(b for b, _ in cells)
    curves = []
    for _, path in [(b, p) for b, p in cells if b == budget]:
        metrics = runs.load_run(path).metrics
        if metrics and metrics["env_steps"][-1] >= budget:
            curves.append((metrics["env_steps"], metrics["hypervolume"]))
    if not curves:
        raise ValueError(f"{runs_dir}: no cell of variant {variant!r} on {env!r} reached {budget} steps")
    steps = curves[0][0]
    if any(len(s) != len(steps) or np.any(s != steps) for s, _ in curves):
        raise ValueError(f"{variant}: its seeds were evaluated at different steps")
    return steps, np.stack([hv for _, hv in curves])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs_dir", type=Path)
    parser.add_argument("env")
    parser.add_argument("--variants", nargs="+", required=True)
    parser.add_argument("--out", type=Path, required=True, help="image file (.png or .svg)")
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    for variant in args.variants:
        try:
            steps, hv = variant_curves(args.runs_dir, args.env, variant)
        except ValueError as err:
            print(f"variant_curves: {err}", file=sys.stderr)
            return 1
        (line,) = ax.plot(steps, hv.mean(0), marker="o", label=f"{variant} ({len(hv)} seed{'s' * (len(hv) != 1)})")
        ax.fill_between(steps, hv.min(0), hv.max(0), color=line.get_color(), alpha=0.15)
    ax.set(xlabel="environment steps", ylabel="hypervolume", title=f"{args.env}: mean over seeds, min-max band")
    ax.grid(alpha=0.3)
    ax.legend()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    print(f"variant_curves: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
