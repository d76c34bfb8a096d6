"""Throughput of the core pieces: hypervolume and archive streaming (not a test: timings vary).

    python experiments/bench_core.py

Targets (issue 2): hypervolume of 10,000 random 3-objective points < 50 ms; streaming 100,000
random 3-objective candidates through ``ParetoArchive.add`` < 2 s.
"""

from __future__ import annotations

import platform
import time

import numpy as np

from morl import metrics
from morl.pareto import ParetoArchive


def best_of(fn, repeats: int) -> float:
    """Fastest wall time of ``repeats`` calls, in seconds (least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    points = rng.random((10_000, 3))
    hv_time = best_of(lambda: metrics.hypervolume(points, [0.0, 0.0, 0.0]), 5)
    # points on a sphere: every point non-dominated, the hardest case for HV
    sphere = np.abs(rng.normal(size=(10_000, 3)))
    sphere /= np.linalg.norm(sphere, axis=1, keepdims=True)
    hv_sphere = best_of(lambda: metrics.hypervolume(sphere, [0.0, 0.0, 0.0]), 5)

    candidates = rng.random((100_000, 3))

    def stream() -> ParetoArchive:
        archive = ParetoArchive(3)
        for value in candidates:
            archive.add(value)
        return archive

    stream_time = best_of(stream, 3)
    size = len(stream())
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"hypervolume, 10,000 uniform random 3-D points: {hv_time * 1e3:.1f} ms")
    print(f"hypervolume, 10,000 mutually non-dominated 3-D points: {hv_sphere * 1e3:.1f} ms")
    print(f"archive streaming, 100,000 random 3-D candidates: {stream_time:.2f} s (final size {size})")


if __name__ == "__main__":
    main()
