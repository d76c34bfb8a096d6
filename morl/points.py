"""Point sets in objective space: the one validator and the one Pareto filter every module uses.

Maximisation throughout. Fronts are finite float arrays of shape (n, m); a reference point or
value vector is a finite array of shape (m,). The filter is moocore's exact one.
"""

from __future__ import annotations

import moocore
import numpy as np


def as_front(front: np.ndarray | list, name: str = "front", num_objectives: int | None = None) -> np.ndarray:
    """Return ``front`` as a finite float64 array of shape (n, m); n may be 0."""
    arr = np.asarray(front, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, num_objectives or 0)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (n, m), got shape {arr.shape}")
    if num_objectives is not None and arr.shape[0] > 0 and arr.shape[1] != num_objectives:
        raise ValueError(f"{name} must have {num_objectives} objectives per point, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def as_point(point: np.ndarray | list, name: str, num_objectives: int | None = None) -> np.ndarray:
    """Return ``point`` as a finite float64 vector, of length ``num_objectives`` when given."""
    arr = np.asarray(point, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0 or (num_objectives is not None and arr.shape != (num_objectives,)):
        expected = f"{num_objectives} objectives" if num_objectives is not None else "m >= 1 objectives"
        raise ValueError(f"{name} must be a vector of {expected}, got shape {arr.shape}: {arr.tolist()}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr.tolist()}")
    return arr


def non_dominated_mask(points: np.ndarray | list) -> np.ndarray:
    """Boolean mask of non-dominated rows (maximisation); of duplicates only the first is kept."""
    arr = as_front(points, "points")
    if len(arr) == 0:
        return np.zeros(0, dtype=bool)
    return moocore.is_nondominated(arr, maximise=True, keep_weakly=False)


def non_dominated(points: np.ndarray | list) -> np.ndarray:
    """The non-dominated rows of ``points`` (maximisation), duplicates kept once."""
    arr = as_front(points, "points")
    return arr[non_dominated_mask(arr)]


def supported_mask(points: np.ndarray | list, tol: float = 1e-9) -> np.ndarray:
    """Boolean mask of the non-dominated rows that linear scalarisation can reach (maximisation).

    Row ``p`` is *supported* when some weight ``w`` on the simplex makes it a maximiser of ``w . r`` over all rows
    (ties allowed, so a point on a segment of the convex hull counts). The rest of the front lies strictly inside
    the convex hull of the other rows: for every ``w`` some row beats it, so no linear scalarisation (and no
    outer loop over weights) returns it. Decided by one small linear program per row (scipy's HiGHS; scipy comes
    with pymoo): maximise ``t`` subject to ``w . (p - q) >= t`` for every other row ``q``; ``p`` is supported iff
    ``t >= -tol``. Dominated rows are False.
    """
    from scipy.optimize import linprog

    arr = as_front(points, "points")
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    n, m = arr.shape
    mask = non_dominated_mask(arr)
    cost = np.zeros(m + 1)
    cost[-1] = -1.0  # maximise t
    a_eq, b_eq = np.append(np.ones(m), 0.0)[None], [1.0]  # sum(w) = 1
    bounds = [(0.0, 1.0)] * m + [(None, None)]
    for i in np.flatnonzero(mask):
        others = np.delete(arr, i, axis=0)  # (n - 1, m)
        if len(others) == 0:
            continue
        a_ub = np.hstack([others - arr[i], np.ones((n - 1, 1))])  # w . (q - p) + t <= 0
        res = linprog(cost, A_ub=a_ub, b_ub=np.zeros(n - 1), A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        if res.status != 0:
            raise RuntimeError(f"supported_mask: the linear program for row {i} failed: {res.message}")
        mask[i] = -res.fun >= -tol
    return mask
