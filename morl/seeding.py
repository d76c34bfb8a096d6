"""Seeding envs that draw from the process-wide generators instead of their own.

Gymnasium's contract is that an env draws its randomness from ``self.np_random``, which
``reset(seed=s)`` seeds. A few registered envs also draw from NumPy's legacy global generator
(``np.random.*``, and ``scipy.stats`` ``rvs()`` without a ``random_state``) or from Python's
``random`` module. Such an env ignores its seed, sub-envs in one process share one stream, and
MOMAland's ``reset(seed)`` even re-seeds the process's generators under everybody else.

:func:`isolate` (single-agent) and :func:`isolate_parallel` (PettingZoo parallel envs) give each
such env private copies of those generators, seeded from the seed its ``reset`` is given. Around
the calls that draw, the process's state is swapped out for the private one and back, so the env
repeats under a seed whatever else the process draws, and leaves the process's streams as they
were. Swapping costs about 0.2 ms per call for NumPy (its state is 2.5 kB), so :data:`GLOBAL_DRAWS`
lists, per env class, only the calls that draw; where a step draws through an object that takes a
generator (scipy's frozen distributions), that object is pointed at the private one instead.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

NUMPY, PYTHON = "numpy", "random"


def _minecart_ore(env: Any, generator: np.random.RandomState) -> None:
    """Point every mine's ore distributions (scipy frozen ``norm``) at ``generator``."""
    for mine in env.mines:
        for dist in mine.distributions:
            dist.random_state = generator


@dataclass(frozen=True)
class GlobalDraws:
    """Which process-wide generators (``"numpy"``, ``"random"``) an env class draws from, and in which call.

    ``redirect(env, generator)``, if given, points the env's own draws at a private NumPy generator after
    each seeded reset, instead of swapping the global state around every step.
    """

    reset: frozenset[str] = frozenset()
    step: frozenset[str] = frozenset()
    redirect: Callable[[Any, np.random.RandomState], None] | None = None
    why: str = ""


# Keyed by "module:qualname" of the unwrapped env class (subclasses inherit the entry). Read from the sources of
# mo-gymnasium 1.3.2 and momaland 0.2.0; tests/test_seeding.py checks every registered id repeats under a seed.
GLOBAL_DRAWS: dict[str, GlobalDraws] = {
    "mo_gymnasium.envs.minecart.minecart:Minecart": GlobalDraws(
        reset=frozenset({NUMPY}),
        redirect=_minecart_ore,
        why="ore mined: scipy.stats norm.rvs() on np.random; image mode: mine rotations, np.random at first render",
    ),
    "mo_gymnasium.envs.four_room.four_room:FourRoom": GlobalDraws(
        reset=frozenset({PYTHON}), why="start cell: random.choice at reset"
    ),
    "momaland.envs.item_gathering.item_gathering:MOItemGathering": GlobalDraws(
        reset=frozenset({NUMPY, PYTHON}),
        step=frozenset({PYTHON}),
        why="reset(seed) re-seeds np.random and random; pick-ups and collisions draw random.random/choice",
    ),
    "momaland.envs.beach.beach:MOBeachDomain": GlobalDraws(
        reset=frozenset({NUMPY, PYTHON}), why="reset(seed) re-seeds np.random and random; agent types from random"
    ),
}


def global_draws(env: Any) -> GlobalDraws | None:
    """The :data:`GLOBAL_DRAWS` entry of ``env``'s unwrapped class (or a base class), or None."""
    inner = getattr(env, "unwrapped", env)
    for cls in type(inner).__mro__:
        entry = GLOBAL_DRAWS.get(f"{cls.__module__}:{cls.__qualname__}")
        if entry is not None:
            return entry
    return None


class PrivateGenerators:
    """One env's own NumPy legacy and Python ``random`` generators, swapped in for the process's own on demand.

    Until :meth:`seed` is called, :meth:`active` does nothing: an unseeded env draws from the process's
    generators as it always did.
    """

    def __init__(self) -> None:
        self.numpy = np.random.RandomState(0)
        self.python = random.Random(0)
        self.seeded = False

    def seed(self, seed: int) -> None:
        """Seed both generators from ``seed`` (a non-negative int)."""
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        words = np.random.SeedSequence([int(seed), 0x6D6F726C]).generate_state(4)  # 0x6D6F726C: "morl"
        self.numpy.seed(words)
        self.python.seed(int.from_bytes(words.tobytes(), "little"))
        self.seeded = True

    @contextmanager
    def active(self, which: frozenset[str]) -> Iterator[None]:
        """Within the block, ``np.random`` / ``random`` (those named in ``which``) are this env's generators."""
        if not self.seeded or not which:
            yield
            return
        saved_numpy = np.random.get_state() if NUMPY in which else None
        saved_python = random.getstate() if PYTHON in which else None
        if saved_numpy is not None:
            np.random.set_state(self.numpy.get_state())
        if saved_python is not None:
            random.setstate(self.python.getstate())
        try:
            yield
        finally:
            if saved_numpy is not None:
                self.numpy.set_state(np.random.get_state())
                np.random.set_state(saved_numpy)
            if saved_python is not None:
                self.python.setstate(random.getstate())
                random.setstate(saved_python)


class OwnGlobalGenerators(gym.Wrapper):
    """A Gymnasium env that draws from process-wide generators, given its own, seeded by ``reset(seed=...)``."""

    def __init__(self, env: gym.Env, draws: GlobalDraws) -> None:
        super().__init__(env)
        self.draws = draws
        self.generators = PrivateGenerators()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        if seed is not None:
            self.generators.seed(seed)
        with self.generators.active(self.draws.reset):
            out = self.env.reset(seed=seed, options=options)
        if self.generators.seeded and self.draws.redirect is not None:
            self.draws.redirect(self.env.unwrapped, self.generators.numpy)
        return out

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict]:
        with self.generators.active(self.draws.step):
            return self.env.step(action)


class ParallelOwnGlobalGenerators:
    """The same for a PettingZoo parallel env: ``reset`` and ``step`` run with the env's own generators.

    Every other attribute is the wrapped env's.
    """

    def __init__(self, env: Any, draws: GlobalDraws) -> None:
        self.env = env
        self.draws = draws
        self.generators = PrivateGenerators()

    def reset(self, seed: int | None = None, options: dict | None = None) -> Any:
        if seed is not None:
            self.generators.seed(seed)
        with self.generators.active(self.draws.reset):
            out = self.env.reset(seed=seed, options=options)
        if self.generators.seeded and self.draws.redirect is not None:
            self.draws.redirect(getattr(self.env, "unwrapped", self.env), self.generators.numpy)
        return out

    def step(self, actions: dict[str, Any]) -> Any:
        with self.generators.active(self.draws.step):
            return self.env.step(actions)

    def __getattr__(self, name: str) -> Any:
        if name == "env":  # not set yet (unpickling): do not recurse
            raise AttributeError(name)
        return getattr(self.env, name)


def isolate(env: gym.Env) -> gym.Env:
    """``env`` wrapped in :class:`OwnGlobalGenerators` if its class draws from process-wide generators."""
    draws = global_draws(env)
    return env if draws is None else OwnGlobalGenerators(env, draws)


def isolate_parallel(env: Any) -> Any:
    """``env`` (a PettingZoo parallel env) wrapped in :class:`ParallelOwnGlobalGenerators` where needed."""
    draws = global_draws(env)
    return env if draws is None else ParallelOwnGlobalGenerators(env, draws)
