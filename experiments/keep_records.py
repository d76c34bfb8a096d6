"""Copy a suite's finished cells, without weights or checkpoints, into a folder that git keeps.

    python experiments/keep_records.py /work/bench/runs/runs/cip experiments/records/cip

A finished cell's run directory holds tens of MB (replay checkpoints, policy snapshots) and lives outside
the repository, so a machine that is replaced takes days of training with it. Its record (config,
metrics and train curves, the archive's index, the cell's outcome) is tens of KB and is everything that
``benchmark.py --report-only`` and ``variant_curves.py`` read: copy the records back under
``<out>/runs/<suite>/`` (``cp -rn experiments/records/cip/. <out>/runs/cip/``) and the page and the
figures are rebuilt from them. Re-rolling (``morl eval --episodes``) needs the weights, so it needs the
full run. Unfinished cells are left out; a cell already kept is replaced.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

EXPERIMENTS = Path(__file__).resolve().parent
if str(EXPERIMENTS) not in sys.path:
    sys.path.insert(0, str(EXPERIMENTS))

import benchmark  # noqa: E402

RECORD_SUFFIXES = (".json", ".csv")
SKIPPED_DIRS = ("checkpoints", "plots")  # resume state and images: rebuilt, never read by a report


def record_files(cell_dir: Path) -> list[Path]:
    """The cell's text records, relative to its directory."""
    return sorted(
        path.relative_to(cell_dir)
        for path in cell_dir.rglob("*")
        if path.is_file() and path.suffix in RECORD_SUFFIXES and path.relative_to(cell_dir).parts[0] not in SKIPPED_DIRS
    )


def keep(cell_dir: Path, dest: Path) -> None:
    """Write ``cell_dir``'s records to ``dest`` beside it first, then swap, so a kept record is never half."""
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    for relative in record_files(cell_dir):
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(cell_dir / relative, staging / relative)
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)


def keep_finished(runs_root: Path, records_root: Path) -> list[str]:
    """Keep every finished cell under ``runs_root``; the names of those kept."""
    records_root.mkdir(parents=True, exist_ok=True)
    kept = []
    for cell_dir in sorted(p for p in runs_root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if benchmark._finished(cell_dir):
            keep(cell_dir, records_root / cell_dir.name)
            kept.append(cell_dir.name)
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs_root", type=Path, help="a suite's run directories: <out>/runs/<suite>")
    parser.add_argument("records_root", type=Path, help="where the records go, e.g. experiments/records/<suite>")
    args = parser.parse_args(argv)
    if not args.runs_root.is_dir():
        print(f"keep_records: error: {args.runs_root} is not a directory", file=sys.stderr)
        return 2
    kept = keep_finished(args.runs_root, args.records_root)
    print(f"kept {len(kept)} finished cell(s) in {args.records_root}" + "".join(f"\n  {name}" for name in kept))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
