"""MO-MIX's exploration guide: pick training preferences where the current non-dominated set has its largest gaps.

The paper samples each training episode's preference from a discretised simplex, steered by the current
non-dominated set so the final front is spread evenly (research/momix.md §1.2); the exact rule is not published.
Ours: each grid preference is represented by the front point it prefers (largest ``w . f`` on the front normalised
to [0, 1] per objective); its gap is the largest distance between its point and those of its grid neighbours
(one step of weight moved between two objectives). Preferences where the represented point jumps, i.e. where
the front is sparse, get the most episodes.
"""

from __future__ import annotations

import numpy as np


def gaps(grid: np.ndarray, front: np.ndarray, step: float) -> np.ndarray:
    """Gap of every grid preference (k,) on the non-dominated ``front`` (n, m); zeros for fewer than two points."""
    grid = np.asarray(grid, dtype=np.float64)
    front = np.asarray(front, dtype=np.float64).reshape(-1, grid.shape[1])
    if len(front) < 2:
        return np.zeros(len(grid))
    span = front.max(axis=0) - front.min(axis=0)
    scaled = (front - front.min(axis=0)) / np.where(span > 0, span, 1.0)  # (n, m) in [0, 1]
    chosen = scaled[np.argmax(grid @ scaled.T, axis=1)]  # (k, m) the point each preference prefers
    neighbours = np.abs(np.abs(grid[:, None, :] - grid[None, :, :]).sum(-1) - 2 * step) < 1e-9  # (k, k)
    dist = np.linalg.norm(chosen[:, None, :] - chosen[None, :, :], axis=-1)  # (k, k)
    return np.where(neighbours, dist, 0.0).max(axis=1)


def probabilities(grid: np.ndarray, front: np.ndarray, step: float, uniform_share: float) -> np.ndarray:
    """Sampling probabilities over ``grid``: ``uniform_share`` spread evenly, the rest in proportion to the gaps."""
    g = gaps(grid, front, step)
    k = len(grid)
    if g.sum() <= 0:
        return np.full(k, 1.0 / k)
    return uniform_share / k + (1.0 - uniform_share) * g / g.sum()
