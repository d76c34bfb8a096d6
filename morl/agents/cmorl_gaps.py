"""Where C-MORL aims once every archive policy has been extended: the gaps of the front.

Two ways to fill a gap between front points ``p`` and ``q``: an extension from ``p`` into it
(:func:`gap_pairs`, :func:`gap_thresholds`), which reaches unsupported points too, and a new
stage-1 policy at a preference aimed at it (:func:`gap_preferences`), which finds supported
points no extension of the current front leads to. Pure functions of archive values, so the
choices are testable without training.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from morl import tasks


def _scaled(values: np.ndarray) -> np.ndarray:
    """Values divided by each objective's range on the front (1 where it has none)."""
    span = np.ptp(values, axis=0)
    return values / np.where(span > 0, span, 1.0)


def neighbours(values: np.ndarray) -> list[tuple[int, int]]:
    """Index pairs of neighbouring front points, widest gap (range-normalised) first.

    Two objectives: adjacent points in order of the first objective. More: each point with its
    ``2 (m - 1)`` nearest points, as a front has no order there.
    """
    if len(values) < 2:
        return []
    scaled = _scaled(values)
    if values.shape[1] == 2:
        pairs = list(itertools.pairwise(np.argsort(values[:, 0], kind="stable").tolist()))
    else:
        dist = np.linalg.norm(scaled[:, None] - scaled[None], axis=-1)
        np.fill_diagonal(dist, np.inf)
        near = np.argsort(dist, axis=1, kind="stable")[:, : min(2 * (values.shape[1] - 1), len(values) - 1)]
        pairs = sorted({(min(i, j), max(i, j)) for i, row in enumerate(near.tolist()) for j in row})
    widths = np.array([np.linalg.norm(scaled[i] - scaled[j]) for i, j in pairs])
    return [pairs[k] for k in np.argsort(-widths, kind="stable")]


def gap_pairs(entries: Sequence[Any], ref_point: np.ndarray, tried: Sequence[tuple[int, int]],
              count: int) -> list[tuple[Any, Any]]:  # fmt: skip
    """Up to ``count`` (p, q) archive entries across the front's gaps, both ways: the least tried first,
    then the widest.

    A gap an extension failed to fill is tried again (a new job, a new seed) once every other has
    been tried as often: exploration from a near-deterministic policy is luck. Only entries above
    the reference point count (below it a point adds no hypervolume).
    """
    above = [e for e in entries if np.all(e.value > ref_point)]
    values = np.array([e.value for e in above], dtype=np.float64)
    attempts = collections.Counter(tuple(pair) for pair in tried)
    directed = [pair for i, j in neighbours(values) for pair in ((above[i], above[j]), (above[j], above[i]))]
    order = sorted(range(len(directed)), key=lambda k: (attempts[(directed[k][0].id, directed[k][1].id)], k))
    return [directed[k] for k in order[:count]]


def gap_target(start: np.ndarray, towards: np.ndarray, span: np.ndarray) -> int:
    """The objective ``towards`` is furthest ahead in, range-normalised: what the extension maximises."""
    return int(np.argmax((towards - start) / np.where(span > 0, span, 1.0)))


def gap_thresholds(relaxed: np.ndarray, start: np.ndarray, towards: np.ndarray, target: int) -> np.ndarray:
    """Constraints of an extension from ``start`` into the gap towards ``towards``, maximising ``target``.

    Halfway to ``towards`` in every objective where it is worse, so the extension bisects the
    gap: the best ``target`` value it can reach while keeping half the lead lands inside the
    gap, and a later round bisects what is left. Elsewhere ``relaxed`` (the usual ``beta``
    thresholds of ``start``); ``target``'s entry is not enforced.
    """
    c = np.array(relaxed, dtype=np.float64)
    worse = towards < start
    worse[target] = False
    c[worse] = ((start + towards) / 2.0)[worse]
    return c


def gap_preferences(values: np.ndarray, ref_point: np.ndarray, used: Sequence[np.ndarray],
                    count: int) -> list[np.ndarray]:  # fmt: skip
    """Up to ``count`` preferences away from every one in ``used``, aimed at the front's gaps.

    Two objectives: for the widest gaps between neighbours ``p, q`` (range-normalised), the
    preference under which ``p`` and ``q`` are equally good (``w`` normal to ``q - p``), where a
    supported point between them would win. Otherwise, or when those are used up, farthest-point
    sampling of a simplex grid away from every preference trained so far.
    """
    m = values.shape[1] if len(values) else len(ref_point)
    chosen: list[np.ndarray] = []

    def distance(w: np.ndarray) -> float:
        return min(float(np.abs(w - u).sum()) for u in (*used, *chosen))

    above = values[np.all(values > ref_point, axis=1)] if len(values) else values
    front = above if len(above) >= 2 else values
    if m == 2:
        for i, j in neighbours(front):
            normal = np.abs((front[j] - front[i])[::-1])
            if len(chosen) < count and normal.sum() > 0 and distance(normal / normal.sum()) > 1e-3:
                chosen.append(normal / normal.sum())
    grid = tasks.eval_weights(m)
    while len(chosen) < count:
        gaps = np.array([distance(w) for w in grid])
        if gaps.max() <= 1e-3:
            break
        chosen.append(grid[int(np.argmax(gaps))])
    return chosen
