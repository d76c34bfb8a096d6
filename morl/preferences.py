"""Preferences: weight vectors on the probability simplex.

Every agent conditions on, or is trained for, a preference ``w`` with ``w >= 0`` and
``sum(w) == 1``. These helpers make and check such vectors so that a wrong preference fails
loudly at the boundary instead of silently skewing a scalarised return deep inside training.
"""

from __future__ import annotations

import itertools

import numpy as np
from pymoo.util.ref_dirs import get_reference_directions

SIMPLEX_TOLERANCE = 1e-6


def validate(w: np.ndarray | list[float], dim: int) -> np.ndarray:
    """Return ``w`` as a float64 array after checking it is a preference of length ``dim``.

    Raises:
        ValueError: naming the problem (shape, non-finite entries, negative entries, sum).
    """
    arr = np.asarray(w, dtype=np.float64)
    if arr.ndim != 1 or arr.shape[0] != dim:
        raise ValueError(f"preference must be a vector of length {dim}, got shape {arr.shape}: {arr!r}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"preference must be finite, got {arr.tolist()}")
    if np.any(arr < 0):
        raise ValueError(f"preference entries must be >= 0, got {arr.tolist()}")
    total = float(arr.sum())
    if abs(total - 1.0) > SIMPLEX_TOLERANCE:
        raise ValueError(
            f"preference must sum to 1 (tolerance {SIMPLEX_TOLERANCE}), got sum {total!r} for {arr.tolist()}"
        )
    return arr


def validate_many(weights: np.ndarray | list[list[float]], dim: int) -> np.ndarray:
    """Check a batch of preferences, shape (n, dim); error messages name the bad row."""
    arr = np.asarray(weights, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != dim or arr.shape[0] == 0:
        raise ValueError(f"preferences must have shape (n >= 1, {dim}), got {arr.shape}")
    for i, row in enumerate(arr):
        try:
            validate(row, dim)
        except ValueError as err:
            raise ValueError(f"preference row {i}: {err}") from None
    return arr


def _check_dim(dim: int) -> None:
    if not isinstance(dim, int | np.integer) or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")


def uniform(n: int, dim: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """``n`` preferences drawn uniformly on the simplex (Dirichlet(1)), shape (n, dim)."""
    _check_dim(dim)
    generator = np.random.default_rng(rng)
    return generator.dirichlet(np.ones(dim), size=n)


def equally_spaced(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """``n`` well-spread preferences, shape (n, dim).

    Two objectives: exactly evenly spaced (``linspace``). More: pymoo's Riesz s-energy reference
    directions, which exist for any ``n`` (unlike a grid). For ``dim == 1`` the only preference is ``[1]``.
    """
    _check_dim(dim)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if dim == 1:
        return np.ones((n, 1))
    if n == 1:
        return np.full((1, dim), 1.0 / dim)
    if dim == 2:
        first = np.linspace(1.0, 0.0, n)
        return np.stack([first, 1.0 - first], axis=1)
    if n < dim:
        raise ValueError(f"equally spaced preferences in {dim} objectives need n >= {dim}, got n={n}")
    if n == dim:
        return extremes(dim)
    dirs = get_reference_directions("energy", dim, n, seed=seed)
    dirs = np.clip(dirs, 0.0, None)
    return dirs / dirs.sum(axis=1, keepdims=True)


def simplex_grid(dim: int, step: float) -> np.ndarray:
    """Every preference whose entries are multiples of ``step`` (exact, no float drift).

    ``step`` must divide 1 into an integer number of parts, e.g. 0.5, 0.25, 0.1.
    """
    _check_dim(dim)
    parts = round(1.0 / step) if step > 0 else 0
    if parts < 1 or abs(parts * step - 1.0) > 1e-9:
        raise ValueError(f"step must divide 1 into an integer number of parts, got {step!r}")
    if dim == 1:
        return np.ones((1, 1))
    points = []
    for cut in itertools.combinations(range(parts + dim - 1), dim - 1):
        bounds = (-1, *cut, parts + dim - 1)
        points.append([bounds[i + 1] - bounds[i] - 1 for i in range(dim)])
    grid = np.asarray(points, dtype=np.float64) / parts
    return grid[np.lexsort(grid.T[::-1])][::-1]


def extremes(dim: int) -> np.ndarray:
    """The one-hot preferences, shape (dim, dim): each cares about a single objective."""
    _check_dim(dim)
    return np.eye(dim)


def _normalised(draws: np.ndarray) -> np.ndarray:
    return draws / draws.sum(axis=1, keepdims=True)


def narrow(n: int, dim: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """D4MORL's *narrow* preferences: each entry ~ U(1/3, 2/3) before normalising, so no objective is ignored.

    PEDA draws Dirichlet concentrations of order 1e7 (effectively the normalised draws themselves);
    for two objectives every preference lies in [1/3, 2/3] per entry.
    """
    _check_dim(dim)
    return _normalised(np.random.default_rng(rng).uniform(1.0 / 3.0, 2.0 / 3.0, size=(n, dim)))


def wide(n: int, dim: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """D4MORL's *wide* preferences: each entry ~ U(0, 1) before normalising (the whole simplex, centre-heavy)."""
    _check_dim(dim)
    return _normalised(np.random.default_rng(rng).uniform(np.finfo(np.float64).tiny, 1.0, size=(n, dim)))


DISTRIBUTIONS = {"uniform": uniform, "narrow": narrow, "wide": wide}


def sample(distribution: str, n: int, dim: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """``n`` preferences from a named distribution of D4MORL (``uniform``, ``narrow``, ``wide``), shape (n, dim)."""
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"unknown preference distribution {distribution!r}; valid: {', '.join(DISTRIBUTIONS)}")
    return DISTRIBUTIONS[distribution](n, dim, rng)
