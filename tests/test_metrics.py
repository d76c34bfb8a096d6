import itertools

import mo_gymnasium as mo_gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from morl import metrics, preferences

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=32)


def fronts(m_min=2, m_max=3, n_max=7):
    return st.integers(m_min, m_max).flatmap(
        lambda m: arrays(np.float64, st.tuples(st.integers(1, n_max), st.just(m)), elements=finite)
    )


def brute_hypervolume(points, ref):
    """Inclusion-exclusion over subsets: exact for small sets (definition of HV)."""
    pts = [p for p in points if np.all(p > ref)]
    total = 0.0
    for k in range(1, len(pts) + 1):
        for subset in itertools.combinations(pts, k):
            corner = np.min(subset, axis=0)
            total += (-1) ** (k + 1) * np.prod(corner - ref)
    return total


def brute_non_dominated(points):
    keep = []
    for i, p in enumerate(points):
        dominated = any(np.all(q >= p) and np.any(q > p) for q in points)
        if not dominated and not any(np.array_equal(p, points[j]) for j in keep):
            keep.append(i)
    return points[keep]


@given(fronts())
@settings(max_examples=150, deadline=None)
def test_hypervolume_matches_inclusion_exclusion(front):
    ref = np.full(front.shape[1], -5.0)
    assert metrics.hypervolume(front, ref) == pytest.approx(brute_hypervolume(front, ref), rel=1e-9, abs=1e-9)


@given(fronts(), st.integers(0, 6))
@settings(max_examples=80, deadline=None)
def test_hypervolume_is_monotone_and_ignores_points_not_dominating_ref(front, row):
    ref = np.zeros(front.shape[1])
    base = metrics.hypervolume(front, ref)
    extra = front[row % len(front)] + 1.0
    assert metrics.hypervolume(np.vstack([front, extra]), ref) >= base - 1e-9
    below = np.vstack([front, np.minimum(front[0], ref)])  # touches or is below the reference point
    assert metrics.hypervolume(below, ref) == pytest.approx(base)


def test_hypervolume_known_fronts():
    assert metrics.hypervolume([[1, 2], [2, 1]], [0, 0]) == pytest.approx(3.0)
    assert metrics.hypervolume([[1, 1, 1]], [0, 0, 0]) == pytest.approx(1.0)
    assert metrics.hypervolume(np.empty((0, 2)), [0, 0]) == 0.0
    dst = mo_gym.make("deep-sea-treasure-v0").unwrapped.pareto_front(gamma=1.0)
    assert metrics.hypervolume(dst, [0, -25]) == pytest.approx(401.8)


def test_hypervolume_rejects_bad_input():
    with pytest.raises(ValueError, match="NaN or infinite"):
        metrics.hypervolume([[np.nan, 1.0]], [0, 0])
    with pytest.raises(ValueError, match="objectives"):
        metrics.hypervolume([[1.0, 1.0, 1.0]], [0, 0])
    with pytest.raises(ValueError, match="2-D"):
        metrics.hypervolume([[[1.0]]], [0])


@given(fronts(), st.integers(0, 2**31))
@settings(max_examples=100, deadline=None)
def test_expected_utility_and_mul_match_definitions(front, seed):
    m = front.shape[1]
    weights = preferences.uniform(9, m, seed)
    expected = np.mean([max(float(w @ v) for v in front) for w in weights])
    assert metrics.expected_utility(front, weights) == pytest.approx(expected)
    true = np.vstack([front, front.max(axis=0)])
    loss = max(max(float(w @ v) for v in true) - max(float(w @ v) for v in front) for w in weights)
    assert metrics.maximum_utility_loss(front, true, weights) == pytest.approx(loss)
    assert metrics.maximum_utility_loss(front, front, weights) == pytest.approx(0.0)


@given(fronts(n_max=12))
@settings(max_examples=100, deadline=None)
def test_sparsity_cardinality_spacing_match_definitions(front):
    nd = brute_non_dominated(front)
    assert metrics.cardinality(front) == len(nd)
    if len(nd) < 2:
        assert metrics.sparsity(front) == 0.0
        assert metrics.spacing(front) == 0.0
        return
    sp = sum(np.sum(np.diff(np.sort(nd[:, j])) ** 2) for j in range(nd.shape[1])) / (len(nd) - 1)
    assert metrics.sparsity(front) == pytest.approx(sp)
    d = [min(np.abs(p - q).sum() for k, q in enumerate(nd) if k != i) for i, p in enumerate(nd)]
    assert metrics.spacing(front) == pytest.approx(np.std(d, ddof=1))


@given(fronts(), fronts())
@settings(max_examples=100, deadline=None)
def test_igd_matches_definition(front, true):
    if front.shape[1] != true.shape[1]:
        with pytest.raises(ValueError, match="objectives"):
            metrics.igd(front, true)
        return
    expected = np.mean([min(np.linalg.norm(t - f) for f in front) for t in true])
    assert metrics.igd(front, true) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_known_front_values():
    front = np.array([[0.0, 4.0], [2.0, 2.0], [4.0, 0.0]])
    assert metrics.sparsity(front) == pytest.approx((4 + 4 + 4 + 4) / 2)
    assert metrics.spacing(front) == pytest.approx(0.0)
    assert metrics.igd(front[:2], front) == pytest.approx(np.sqrt(8) / 3)
    w = np.array([[1.0, 0.0], [0.5, 0.5]])
    assert metrics.expected_utility(front, w) == pytest.approx((4 + 2) / 2)


def test_evaluate_front_report():
    dst = np.asarray(mo_gym.make("deep-sea-treasure-v0").unwrapped.pareto_front(gamma=1.0))
    w = preferences.simplex_grid(2, 0.1)
    report = metrics.evaluate_front(dst[:5], [0, -25], w, true_front=dst)
    assert report["true_hypervolume"] == pytest.approx(401.8)
    assert 0 < report["hypervolume_ratio"] < 1
    assert report["cardinality"] == 5
    assert report["igd"] > 0 and report["maximum_utility_loss"] >= 0
    full = metrics.evaluate_front(dst, [0, -25], w, true_front=dst)
    assert full["hypervolume_ratio"] == pytest.approx(1.0) and full["igd"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="sum to 1"):
        metrics.evaluate_front(dst, [0, -25], [[0.5, 0.6]])


def test_true_points_found_counts_matches_within_tolerance():
    true_front = [[0.7, -1.0], [8.2, -3.0], [11.5, -5.0]]
    found = [[0.7, -1.0], [8.20001, -3.0], [11.0, -5.0], [0.5, -0.5]]
    assert metrics.true_points_found(found, true_front) == 2  # 11.0 is not 11.5
    assert metrics.true_points_found(found, true_front, tol=1.0) == 3
    assert metrics.true_points_found(np.empty((0, 2)), true_front) == 0
    report = metrics.evaluate_front(found, [0, -25], [[0.5, 0.5]], true_front)
    assert (report["true_points"], report["true_front_size"]) == (2, 3)


def test_preference_monotonicity_counts_pairs_that_move_with_the_preference():
    grid = np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])
    ordered = np.array([[0.0, -1.0], [5.0, -3.0], [9.0, -9.0]])  # more treasure weight, more treasure, more time
    assert metrics.preference_monotonicity(grid, ordered) == 1.0
    ties = np.array([[0.0, -1.0], [0.0, -1.0], [9.0, -9.0]])  # equal returns for two preferences still move with w
    assert metrics.preference_monotonicity(grid, ties) == 1.0
    swapped = ordered[[1, 0, 2]]  # w = (0, 1) returns more treasure than w = (0.5, 0.5)
    # 6 ordered pairs (3 per objective); the swap breaks (0.5 > 0) on objective 0 and (1 > 0.5) on objective 1
    assert metrics.preference_monotonicity(grid, swapped) == pytest.approx(4 / 6)
    assert metrics.preference_monotonicity(grid, ordered[::-1]) == 0.0
    with pytest.raises(ValueError, match="shape"):
        metrics.preference_monotonicity(grid, ordered[:2])
    with pytest.raises(ValueError, match="two distinct"):
        metrics.preference_monotonicity(grid[:1], ordered[:1])
