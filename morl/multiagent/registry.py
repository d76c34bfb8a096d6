"""The multi-agent id registry: MOMAland's parallel envs and ours, with presets, reference points and known fronts.

Ids are answered from these tables without importing any environment module, so
``morl.tasks.make`` can ask :func:`is_multiagent_id` before anything else.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

TEAM_REWARD_MODES = ("mean", "sum", "first")

# The parallel environments registered in momaland 0.2.0 (``momaland/utils/all_modules.py``). Kept as module
# paths so ``make_multiagent`` imports only the environment asked for: importing the registry pulls in Box2D,
# pymunk and pygame for every environment. The board games there (breakthrough, connect4, ingenious, same game)
# are AEC-only and so are not listed.
MOMALAND_PARALLEL_ENVS: dict[str, str] = {
    "mobeach_v0": "momaland.envs.beach.mobeach_v0",
    "moitem_gathering_v0": "momaland.envs.item_gathering.moitem_gathering_v0",
    "mogem_mining_v0": "momaland.envs.gem_mining.mogem_mining_v0",
    "mopistonball_v0": "momaland.envs.pistonball.mopistonball_v0",
    "momultiwalker_stability_v0": "momaland.envs.multiwalker_stability.momultiwalker_stability_v0",
    "moroute_choice_v0": "momaland.envs.route_choice.moroute_choice_v0",
    "catch_v0": "momaland.envs.crazyrl.catch.catch_v0",
    "surround_v0": "momaland.envs.crazyrl.surround.surround_v0",
    "escort_v0": "momaland.envs.crazyrl.escort.escort_v0",
}


@dataclass(frozen=True, kw_only=True)
class MultiAgentDefaults:
    """What a fair run on a multi-agent id needs besides the env: preset, reference point, known front.

    Attributes:
        module: dotted module exposing ``parallel_env`` (MOMAland style) or ``"pkg.mod:factory"``.
        ref_point: hypervolume reference point for the preset; ``ref_source`` says where it comes from.
        kwargs: env-constructor preset (user kwargs override it).
        gamma: discount for training and discounted returns.
        true_front: exact Pareto front of undiscounted team returns *for the preset*, or None if unknown.
        team_reward: how :class:`MultiAgentEnv` combines agents' reward vectors (``TEAM_REWARD_MODES``).
        ref_depends_on: env kwargs (and ``"team_reward"``) whose change invalidates ``ref_point``; the default
            ``()`` means the bound holds for every configuration (e.g. rewards that are never negative).
        objective_names: one name per objective (plot axes, tables), or None.
    """

    module: str
    ref_point: tuple[float, ...]
    ref_source: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    gamma: float = 0.99
    true_front: tuple[tuple[float, ...], ...] | None = None
    team_reward: str = "mean"
    ref_depends_on: tuple[str, ...] = ()
    objective_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.module, str) or not self.module:
            raise ValueError(f"module must be a non-empty module path, got {self.module!r}")
        ref = tuple(float(v) for v in self.ref_point)
        if not ref or not all(np.isfinite(ref)):
            raise ValueError(f"ref_point must be a non-empty finite vector, got {self.ref_point!r}")
        if not self.ref_source:
            raise ValueError("ref_source must say where the reference point comes from")
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")
        if self.team_reward not in TEAM_REWARD_MODES:
            raise ValueError(f"team_reward must be one of {TEAM_REWARD_MODES}, got {self.team_reward!r}")
        front = None
        if self.true_front is not None:
            front = tuple(tuple(float(v) for v in row) for row in self.true_front)
            if any(len(row) != len(ref) for row in front):
                raise ValueError(f"true_front rows must have {len(ref)} values (as ref_point), got {self.true_front}")
        object.__setattr__(self, "ref_point", ref)
        object.__setattr__(self, "true_front", front)
        object.__setattr__(self, "kwargs", dict(self.kwargs))
        object.__setattr__(self, "ref_depends_on", tuple(self.ref_depends_on))
        if self.objective_names is not None:
            names = tuple(self.objective_names)
            if len(names) != len(ref) or not all(isinstance(n, str) and n for n in names):
                raise ValueError(
                    f"objective_names must be {len(ref)} non-empty strings (one per ref_point value), "
                    f"got {self.objective_names!r}"
                )
            object.__setattr__(self, "objective_names", names)


# MOMAland's own two-objective item-gathering map (``learning/morl/sa_env_factory.py::get_map_2_O``, i.e.
# ``generate_map(8, 8, (4, 6), 2, seed=1)``), written out so building it does not re-seed the global ``np.random``.
# 0 empty, 1 agent, 2 and 3 the two item types.
ITEM_GATHERING_MAP_A = (
    (0, 0, 0, 0, 0, 0, 0, 1),
    (0, 0, 0, 0, 0, 0, 0, 0),
    (0, 0, 3, 3, 0, 3, 0, 0),
    (0, 0, 0, 2, 3, 0, 0, 0),
    (0, 0, 0, 2, 3, 3, 0, 0),
    (0, 0, 2, 0, 2, 0, 0, 0),
    (0, 0, 0, 0, 0, 0, 0, 0),
    (1, 0, 0, 0, 0, 0, 0, 0),
)


def item_gathering_map_a(**kwargs: Any) -> Any:
    """MOMAland item gathering on :data:`ITEM_GATHERING_MAP_A` (2 agents, 4 + 6 items, 2 objectives)."""
    from momaland.envs.item_gathering import moitem_gathering_v0

    return moitem_gathering_v0.parallel_env(**{"initial_map": np.array(ITEM_GATHERING_MAP_A), **kwargs})


_PISTONBALL_REF = (
    "ours: reward bounds x horizon for n_pistons=10, max_cycles=125, time_penalty=-0.1. Ball: the returns telescope "
    "to -100 * (x_end - x_start) / (x_start - 40); the ball's left edge starts at x >= 300 (random drop offset -30) "
    "and cannot pass x = 359 (right wall), so ball >= -100 * 59 / 260 = -22.7 (random play reached -17.7), "
    "rounded down to -25 for physics slack. Time: -0.1 x 125 = -12.5 (float32 sums give -12.5000002), so -13"
)

# Multi-agent ids with a preset, a reference point and (where known exactly) the Pareto front. Other MOMAland
# parallel ids are left out on purpose: gem mining is broken in 0.2.0, route choice fails to load its network under
# networkx >= 3.6 (KeyError 'edges') and has 4,200 stateless agents, multiwalker and CrazyRL have continuous actions.
DEFAULTS: dict[str, MultiAgentDefaults] = {
    "moitem_gathering_v0": MultiAgentDefaults(
        module=MOMALAND_PARALLEL_ENVS["moitem_gathering_v0"],
        # Default 8x8 map (2 agents, 3 item types: 3, 3, 2 items), shared team reward, 8 steps: the shortest
        # horizon with a 3-point trade-off (at the default 10 steps the front collapses to (3, 3, 2)).
        kwargs={"reward_mode": "team", "num_timesteps": 8},
        ref_point=(0.0, 0.0, 0.0),
        ref_source=(
            "ours: reward bounds x horizon: each step pays 0 or +1 per item type, so no return is below 0 "
            "(MOMAland's own item-gathering baselines also use [0, 0, 0])"
        ),
        # Exhaustive search over both agents' 8-step paths (collisions relaxed to 'stay', a superset of what the
        # env allows), each point then reached by a scripted plan in the env: research/momix.md §5.1 config B.
        true_front=((2.0, 3.0, 2.0), (3.0, 2.0, 2.0), (3.0, 3.0, 1.0)),
        team_reward="mean",  # team mode already gives every agent the summed vector
        objective_names=("item 1", "item 2", "item 3"),
    ),
    "moitem_gathering_2obj_v0": MultiAgentDefaults(
        module=f"{__name__}:item_gathering_map_a",
        # research/momix.md §5.1 config A: at 8 steps the front has three points; from 10 steps on it collapses to
        # (4, 6).
        kwargs={"reward_mode": "team", "num_timesteps": 8},
        ref_point=(0.0, 0.0),
        ref_source="ours: reward bounds x horizon: each step pays 0 or +1 per item type, so no return is below 0",
        # Exhaustive search over both agents' 8-step paths (collisions relaxed to 'stay'), each point reached by a
        # scripted plan in the env: research/momix.md §5.1 config A (HV 20 at ref 0); re-derived in the tests.
        true_front=((1.0, 6.0), (3.0, 5.0), (4.0, 4.0)),
        team_reward="mean",
        objective_names=("item 1", "item 2"),
    ),
    "mobeach_v0": MultiAgentDefaults(
        module=MOMALAND_PARALLEL_ENVS["mobeach_v0"],
        # MOMAland's "small" beach (learning/morl/sa_env_factory.py): 10 agents, 3 sections, 5 steps.
        kwargs={
            "reward_mode": "team",
            "num_timesteps": 5,
            "num_agents": 10,
            "sections": 3,
            "capacity": 2,
            "type_distribution": (0.7, 0.3),
            "position_distribution": (0.5, 0.0, 0.5),
        },
        ref_point=(0.0, 0.0),
        ref_source=(
            "ours: reward bounds x horizon: the team capacity reward sum(c * exp(-c / capacity)) and mixture reward "
            "mean(min / sum) are >= 0 and paid once, at the last step, so no return is below 0"
        ),
        team_reward="mean",  # team mode gives every agent the same vector
        objective_names=("capacity", "mixture"),
    ),
    "mobeach_fixed_v0": MultiAgentDefaults(
        module="morl.multiagent.beach_front:FixedStartBeach",
        # MOMAland's beach with the start fixed (its reset draws types and sections at random): agents 0-3 of type 0
        # in section 0, agents 4-5 of type 1 in section 1; 3 sections of capacity 2 (as mobeach_v0), one step, team
        # reward. Found by searching small fixed-start beaches for a front point no linear scalarisation reaches: with
        # 2-5 agents only capacity-1 beaches of 5 agents have one (3-point fronts); this one keeps mobeach_v0's
        # capacity and has 4 points. Two steps collapse it to one point. docs/algorithms/momix.md, "Beach: exact
        # front and unsupported points".
        kwargs={
            "types": (0, 0, 0, 0, 1, 1),
            "positions": (0, 0, 0, 0, 1, 1),
            "reward_mode": "team",
            "num_timesteps": 1,
            "sections": 3,
            "capacity": 2,
            "type_distribution": (0.5, 0.5),  # only its length (2 types) is used
        },
        ref_point=(0.0, 0.0),
        ref_source=(
            "ours: reward bounds x horizon: the team capacity reward sum(c * exp(-c / capacity)) and mixture reward "
            "mean(min / sum) are >= 0 and paid once, at the last step, so no return is below 0"
        ),
        # All 3^6 = 729 joint plans stepped in the env (morl.multiagent.beach_front.exhaustive_front), re-derived
        # exactly in tests/test_beach_front.py; the env's float32 rewards, written out in full. The second point,
        # (1.33878, 0.22222), is unsupported: (1.2771, 0.25) and (2.01168, 0.16667) mixed 9:1 dominate it, so no
        # weight w makes it the best w . r.
        true_front=(
            (1.2770999670028687, 0.25),
            (1.3387809991836548, 0.2222222238779068),
            (2.0116801261901855, 0.1666666716337204),
            (2.2072765827178955, 0.0),
        ),
        team_reward="mean",  # team mode gives every agent the same vector
        objective_names=("capacity", "mixture"),
    ),
    "mo_spread_v0": MultiAgentDefaults(
        module="morl.builtin_envs.mo_spread:parallel_env",  # ours (envs/mo_spread.py); needs mpe2
        kwargs={"N": 3, "max_cycles": 25},
        ref_point=(-300.0, -75.0),
        ref_source=(
            "ours: collisions: at most 3 pairs in contact per step x 25 steps = -75 (exact bound); coverage has no "
            "finite bound: -300 lies below every policy we measured (random play -88 at worst over 100 episodes; all "
            "agents running in one direction from the start -197)"
        ),
        team_reward="mean",  # every agent gets the same vector
        ref_depends_on=("N", "max_cycles", "team_reward"),
        objective_names=("coverage", "collisions"),
    ),
    "mopistonball_v0": MultiAgentDefaults(
        module=MOMALAND_PARALLEL_ENVS["mopistonball_v0"],
        # Discrete actions (the adapter needs them); 10 pistons instead of 20 halves the image observations.
        kwargs={"continuous": False, "n_pistons": 10},
        ref_point=(-25.0, -13.0),
        ref_source=_PISTONBALL_REF,
        team_reward="mean",  # every piston gets the same vector
        ref_depends_on=("n_pistons", "max_cycles", "time_penalty", "team_reward"),
        objective_names=("ball", "time"),
    ),
}

_COSMETIC_KWARGS = frozenset({"render_mode"})  # kwargs that never change returns


def register(env_id: str, defaults: MultiAgentDefaults, *, overwrite: bool = False) -> None:
    """Add our own multi-agent id, so that ``morl.tasks.make(env_id)`` and :func:`task` know it."""
    if not isinstance(env_id, str) or not env_id.strip():
        raise ValueError(f"env_id must be a non-empty string, got {env_id!r}")
    if ":" in env_id:
        raise ValueError(f"env_id {env_id!r} must not contain ':' (that form names a module:attr path)")
    if not isinstance(defaults, MultiAgentDefaults):
        raise TypeError(f"defaults must be a MultiAgentDefaults, got {type(defaults).__name__}")
    if env_id in DEFAULTS and not overwrite:
        raise ValueError(f"multi-agent id {env_id!r} is already registered; pass overwrite=True to replace it")
    DEFAULTS[env_id] = defaults


def registered_ids() -> list[str]:
    """Multi-agent ids with registered defaults (what ``morl envs`` lists next to the single-agent ids)."""
    return sorted(DEFAULTS)


def defaults_for(env_id: str) -> MultiAgentDefaults | None:
    """The registered defaults of ``env_id``, or None (a factory, a module path, an unregistered MOMAland id)."""
    return DEFAULTS.get(env_id) if isinstance(env_id, str) else None


def is_multiagent_id(name: Any) -> bool:
    """True for names :func:`task` builds from: registered ids, MOMAland parallel ids and dotted module paths.

    Cheap enough for ``morl.tasks.make`` to ask before anything else: no env is built and no environment module is
    imported (only the parents of a dotted path, to check it exists). ``module:attr`` strings and single-agent
    Gymnasium ids answer False.
    """
    if not isinstance(name, str) or not name or ":" in name:
        return False
    if name in DEFAULTS or name in MOMALAND_PARALLEL_ENVS or name in MOMALAND_PARALLEL_ENVS.values():
        return True
    if "." not in name or not all(part.isidentifier() for part in name.split(".")):
        return False
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _resolve_env_module(env_id: str) -> Any:
    """Module for a MOMAland id (``"moitem_gathering_v0"``) or a dotted module path."""
    if env_id in MOMALAND_PARALLEL_ENVS:
        return importlib.import_module(MOMALAND_PARALLEL_ENVS[env_id])
    if "." in env_id:
        try:
            return importlib.import_module(env_id)
        except ImportError as exc:
            raise ValueError(f"cannot import environment module {env_id!r}: {exc}") from exc
    try:  # ids added by newer momaland versions
        from momaland.utils.all_modules import all_environments
    except ImportError:
        all_environments = {}
    if env_id in all_environments:
        return all_environments[env_id]
    valid = sorted(set(MOMALAND_PARALLEL_ENVS) | set(all_environments) | set(DEFAULTS))
    raise ValueError(f"unknown environment id {env_id!r}; valid ids: {', '.join(valid)}")


def env_factory(env_id: str) -> Callable[..., Any]:
    """The parallel-env factory behind an id: registered ids use their ``module``; others go to the module lookup.

    A path ``"pkg.mod:attr"`` names the factory itself (how our own registered envs point at a class). An env that
    draws from NumPy's or Python's process-wide generator gets its own, seeded by its ``reset(seed=...)``
    (:func:`morl.seeding.isolate_parallel`): MOMAland's ``reset(seed)`` otherwise re-seeds them for everybody.
    """
    return _isolated(_raw_factory(env_id))


def _isolated(factory: Callable[..., Any]) -> Callable[..., Any]:
    from morl.seeding import isolate_parallel

    def build(*args: Any, **kwargs: Any) -> Any:
        return isolate_parallel(factory(*args, **kwargs))

    return build


def _raw_factory(env_id: str) -> Callable[..., Any]:
    path = DEFAULTS[env_id].module if env_id in DEFAULTS else env_id
    if ":" in path:
        from morl.envs import _import_path  # one importer for every module:attr, current directory first

        factory = _import_path(path)
        if not callable(factory):
            raise ValueError(f"environment factory {path!r} (for {env_id!r}) is not callable")
        return factory
    module = _resolve_env_module(path)
    if not hasattr(module, "parallel_env"):
        raise ValueError(
            f"{env_id!r} has no parallel_env (AEC-only, e.g. a turn-based board game); "
            f"parallel ids: {', '.join(sorted(MOMALAND_PARALLEL_ENVS))}"
        )
    return module.parallel_env
