"""Exact Pareto fronts we compute ourselves, for envs whose own ``pareto_front`` is wrong.

MO-Gymnasium's ``ResourceGatheringEnv.pareto_front`` lists six hand-enumerated paths and misses
the 18-step path home -> gem -> around both enemies -> gold -> home, which brings both resources
back with no risk: (0, 1, 1) undiscounted, a point that dominates every return the env can give.
Its front therefore scores an archive against the wrong target (and lucky evaluations can beat
it). :func:`resource_gathering_front` solves the env's own map instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from morl.points import non_dominated

HIT_PROBABILITY = 0.1  # ResourceGatheringEnv.step: an enemy cell ends the episode with -1 with this probability


def resource_gathering_front(env: Any, gamma: float = 1.0) -> np.ndarray:
    """The exact front of expected (enemy, gold, gem) returns of a resource-gathering env.

    Pareto value iteration over the states (cell, has gold, has gem) of ``env.unwrapped``'s own
    map and moves: each state keeps the non-dominated value vectors of every way to go on. A
    deterministic policy follows one path until a hit or home, so the values of paths are the
    values of policies; loops only add discount and risk, so the iteration settles in at most
    as many sweeps as there are states.
    """
    base = env.unwrapped
    grid = np.asarray(base.map)
    rows, cols = grid.shape
    moves = [np.asarray(d) for d in base.dir.values()]
    states = [(r, c, g, m) for r in range(rows) for c in range(cols) for g in (0, 1) for m in (0, 1)]
    values: dict[tuple[int, int, int, int], np.ndarray] = {s: np.zeros((0, 3)) for s in states}

    def successors(state: tuple[int, int, int, int]) -> list[np.ndarray]:
        r, c, gold, gem = state
        out = []
        for move in moves:
            nr, nc = r + int(move[0]), c + int(move[1])
            if not (0 <= nr < rows and 0 <= nc < cols):
                nr, nc = r, c  # an invalid move stays put, and the cell's effect applies again
            cell = grid[nr, nc]
            if cell == "H":
                out.append(np.array([[0.0, gold, gem]]))
                continue
            gold_next, gem_next = max(gold, int(cell == "R1")), max(gem, int(cell == "R2"))
            future = gamma * values[(nr, nc, gold_next, gem_next)]
            if cell in ("E1", "E2"):
                future = HIT_PROBABILITY * np.array([-1.0, 0.0, 0.0]) + (1.0 - HIT_PROBABILITY) * future
            out.append(future)
        return out

    for _ in range(len(states) + 1):
        changed = False
        for state in states:
            candidates = np.vstack(successors(state))
            new = np.unique(np.round(non_dominated(candidates), 12), axis=0) if len(candidates) else candidates
            if new.shape != values[state].shape or not np.array_equal(new, values[state]):
                values[state], changed = new, True
        if not changed:
            break
    else:
        raise RuntimeError("resource-gathering front did not settle (the map allows a profitable loop)")
    start = (*(int(x) for x in base.initial_pos), 0, 0)
    return np.unique(np.round(non_dominated(np.vstack(successors(start))), 12), axis=0)


# the unwrapped env's class, as module.qualname -> the exact front that replaces its own pareto_front
CORRECTED = {"mo_gymnasium.envs.resource_gathering.resource_gathering.ResourceGathering": resource_gathering_front}


def corrected_front(env: Any, gamma: float) -> np.ndarray | None:
    """Our exact front for ``env`` if its own ``pareto_front`` is known to be wrong, else None."""
    cls = type(env.unwrapped)
    solver = CORRECTED.get(f"{cls.__module__}.{cls.__qualname__}")
    return None if solver is None else solver(env, gamma)
