import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from morl import preferences


def test_validate_accepts_simplex_point():
    np.testing.assert_allclose(preferences.validate([0.25, 0.75], 2), [0.25, 0.75])


@pytest.mark.parametrize(
    ("w", "dim", "message"),
    [
        ([0.5, 0.5, 0.0], 2, "length 2"),
        ([[0.5, 0.5]], 2, "length 2"),
        ([1.2, -0.2], 2, ">= 0"),
        ([np.nan, 1.0], 2, "finite"),
        ([np.inf, 0.0], 2, "finite"),
        ([0.5, 0.4], 2, "sum to 1"),
    ],
)
def test_validate_names_the_problem(w, dim, message):
    with pytest.raises(ValueError, match=message):
        preferences.validate(w, dim)


def test_validate_many_names_the_row():
    with pytest.raises(ValueError, match="row 1"):
        preferences.validate_many([[1.0, 0.0], [0.7, 0.7]], 2)


@given(st.integers(1, 8), st.integers(1, 50), st.integers(0, 2**31))
def test_uniform_samples_lie_on_simplex(dim, n, seed):
    w = preferences.uniform(n, dim, seed)
    assert w.shape == (n, dim)
    preferences.validate_many(w, dim)


def test_uniform_is_reproducible_and_covers_the_simplex():
    a, b = preferences.uniform(2000, 3, 7), preferences.uniform(2000, 3, 7)
    np.testing.assert_array_equal(a, b)
    # Dirichlet(1) marginals are Beta(1, 2): mean 1/3
    np.testing.assert_allclose(a.mean(axis=0), [1 / 3] * 3, atol=0.03)


@pytest.mark.parametrize(("n", "dim"), [(5, 2), (10, 3), (1, 4), (7, 6)])
def test_equally_spaced_count_and_simplex(n, dim):
    w = preferences.equally_spaced(n, dim)
    assert w.shape == (n, dim)
    preferences.validate_many(w, dim)


def test_equally_spaced_needs_at_least_one_point_per_objective():
    with pytest.raises(ValueError, match="n >= 6"):
        preferences.equally_spaced(5, 6)
    np.testing.assert_array_equal(preferences.equally_spaced(4, 4), np.eye(4))


def test_equally_spaced_two_objectives_includes_extremes():
    w = preferences.equally_spaced(5, 2)
    rows = {tuple(np.round(r, 2)) for r in w}
    assert (1.0, 0.0) in rows and (0.0, 1.0) in rows


@pytest.mark.parametrize(("dim", "step", "count"), [(2, 0.25, 5), (3, 0.5, 6), (3, 0.1, 66), (4, 0.2, 56), (6, 1.0, 6)])
def test_simplex_grid_is_exact_and_complete(dim, step, count):
    grid = preferences.simplex_grid(dim, step)
    assert grid.shape == (count, dim)
    np.testing.assert_allclose(grid.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(grid / step, np.round(grid / step), atol=1e-9)
    assert len({tuple(r) for r in grid}) == count


def test_simplex_grid_rejects_uneven_step():
    with pytest.raises(ValueError, match="integer number of parts"):
        preferences.simplex_grid(2, 0.3)


def test_extremes_are_one_hot():
    np.testing.assert_array_equal(preferences.extremes(3), np.eye(3))
