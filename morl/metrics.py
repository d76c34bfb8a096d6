"""Exact multi-objective performance indicators (maximisation convention).

Each function validates its input, converts to the kernel's convention where needed (moocore
minimises by default) and computes the standard definition. Formulas follow the MORL
literature as used by MORL-Baselines and PGMORL; ``docs/metrics.md`` states each one.
"""

from __future__ import annotations

import moocore
import numpy as np

from morl import preferences
from morl.points import as_front, as_point, non_dominated


def hypervolume(front: np.ndarray | list, ref_point: np.ndarray | list) -> float:
    """Volume dominated by ``front`` and bounded below by ``ref_point``.

    Points that do not strictly dominate the reference point contribute nothing.
    """
    ref = np.asarray(ref_point, dtype=np.float64)
    arr = as_front(front, num_objectives=ref.shape[0] if ref.ndim == 1 else None)
    ref = as_point(ref, "ref_point", arr.shape[1] if len(arr) else None)
    counted = arr[np.all(arr > ref, axis=1)]
    if len(counted) == 0:
        return 0.0
    return float(moocore.hypervolume(counted, ref=ref, maximise=True))


def expected_utility(front: np.ndarray | list, weights: np.ndarray | list) -> float:
    """Mean over preferences ``w`` of the best linear utility ``max_v w . v`` (Zintgraf 2015)."""
    arr = as_front(front)
    if len(arr) == 0:
        raise ValueError("expected_utility needs a non-empty front")
    w = preferences.validate_many(weights, arr.shape[1])
    return float(np.mean(np.max(w @ arr.T, axis=1)))


def maximum_utility_loss(front: np.ndarray | list, true_front: np.ndarray | list, weights: np.ndarray | list) -> float:
    """Largest, over preferences, shortfall of the best utility in ``front`` against ``true_front``."""
    arr = as_front(front)
    ref = as_front(true_front, "true_front")
    if len(arr) == 0 or len(ref) == 0:
        raise ValueError("maximum_utility_loss needs non-empty front and true_front")
    if arr.shape[1] != ref.shape[1]:
        raise ValueError(f"front has {arr.shape[1]} objectives but true_front has {ref.shape[1]}")
    w = preferences.validate_many(weights, arr.shape[1])
    return float(np.max(np.max(w @ ref.T, axis=1) - np.max(w @ arr.T, axis=1)))


def sparsity(front: np.ndarray | list) -> float:
    """PGMORL sparsity of the non-dominated set: mean squared gap between sorted neighbours.

    ``sum_j sum_i (S_j[i] - S_j[i+1])^2 / (n - 1)`` with ``S_j`` the sorted j-th objective;
    0 for fewer than two points. Lower is denser.
    """
    nd = non_dominated(front)
    if len(nd) < 2:
        return 0.0
    gaps = np.diff(np.sort(nd, axis=0), axis=0)
    return float(np.sum(gaps**2) / (len(nd) - 1))


def spacing(front: np.ndarray | list) -> float:
    """Schott's spacing: standard deviation of each point's L1 distance to its nearest neighbour.

    0 means perfectly even spacing; 0 for fewer than two points.
    """
    nd = non_dominated(front)
    if len(nd) < 2:
        return 0.0
    dist = np.abs(nd[:, None, :] - nd[None, :, :]).sum(-1)
    np.fill_diagonal(dist, np.inf)
    nearest = dist.min(axis=1)
    return float(np.sqrt(np.sum((nearest - nearest.mean()) ** 2) / (len(nd) - 1)))


def igd(front: np.ndarray | list, true_front: np.ndarray | list) -> float:
    """Inverted generational distance: mean Euclidean distance from each true point to ``front``."""
    arr = as_front(front)
    ref = as_front(true_front, "true_front")
    if len(arr) == 0 or len(ref) == 0:
        raise ValueError("igd needs non-empty front and true_front")
    if arr.shape[1] != ref.shape[1]:
        raise ValueError(f"front has {arr.shape[1]} objectives but true_front has {ref.shape[1]}")
    return float(moocore.igd(arr, ref=ref, maximise=True))


def cardinality(front: np.ndarray | list) -> int:
    """Number of distinct non-dominated points in ``front``."""
    return len(non_dominated(front))


def preference_monotonicity(weights: np.ndarray | list, returns: np.ndarray | list) -> float:
    """Share of ordered preference pairs whose returns move with the preference, over all objectives.

    For each objective j and each pair of preferences with ``w_j > w'_j``, the pair counts when
    ``G_j(w) >= G_j(w')``: giving an objective more weight must not lower its return. 1.0 means the
    returned ``G_w`` move monotonically with ``w`` (on a two-objective grid: along the whole line);
    lower values say how often they do not. Offline agents are judged on this (issue 12), since a
    policy can reach a good front while answering preferences out of order.
    """
    w = np.asarray(weights, dtype=np.float64)
    g = as_front(returns, "returns")
    if w.ndim != 2 or w.shape != g.shape:
        raise ValueError(f"weights and returns must both have shape (P, m), got {w.shape} and {g.shape}")
    more = w[:, None, :] > w[None, :, :]  # (P, P, m): w_j > w'_j
    kept = g[:, None, :] >= g[None, :, :]  # G_j(w) >= G_j(w')
    pairs = int(more.sum())
    if pairs == 0:
        raise ValueError("no two preferences differ: monotonicity needs at least two distinct preferences")
    return float((more & kept).sum() / pairs)


def true_points_found(front: np.ndarray | list, true_front: np.ndarray | list, tol: float = 1e-4) -> int:
    """How many points of ``true_front`` some point of ``front`` matches within ``tol`` in every objective.

    The hypervolume ratio can be near 1 with a point missing (an unsupported one adds little
    volume); this counts them.
    """
    arr, truth = as_front(front), as_front(true_front)
    if not len(arr) or not len(truth):
        return 0
    close = np.all(np.abs(truth[:, None, :] - arr[None, :, :]) <= tol, axis=-1)  # (k, n)
    return int(close.any(axis=1).sum())


def evaluate_front(
    front: np.ndarray | list,
    ref_point: np.ndarray | list,
    weights: np.ndarray | list,
    true_front: np.ndarray | list | None = None,
) -> dict[str, float]:
    """Every indicator in one report; IGD and maximum utility loss need ``true_front``."""
    arr = as_front(front)
    report: dict[str, float] = {
        "hypervolume": hypervolume(arr, ref_point),
        "cardinality": float(cardinality(arr)),
        "sparsity": sparsity(arr),
        "spacing": spacing(arr),
        "expected_utility": expected_utility(arr, weights) if len(arr) else float("nan"),
    }
    if true_front is not None:
        report["true_hypervolume"] = hypervolume(true_front, ref_point)
        report["hypervolume_ratio"] = (
            report["hypervolume"] / report["true_hypervolume"] if report["true_hypervolume"] > 0 else float("nan")
        )
        report["true_points"] = float(true_points_found(arr, true_front))
        report["true_front_size"] = float(len(as_front(true_front)))
        report["igd"] = igd(arr, true_front) if len(arr) else float("nan")
        report["maximum_utility_loss"] = maximum_utility_loss(arr, true_front, weights) if len(arr) else float("nan")
    return report
