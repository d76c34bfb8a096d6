"""Our own multi-objective environments, registered under the ``morl/`` namespace.

This folder installs as ``morl.builtin_envs`` (no top-level ``envs`` module that would shadow a user's), and
``morl.envs`` imports it before looking up an id, so ``morl.envs.make("morl/treasure-corridor-v0")`` and
``morl train ... --env morl/treasure-corridor-v0`` work like any MO-Gymnasium id. Imports are relative, so a
checkout on ``sys.path`` without ``morl`` installed can still ``import envs`` (experiments/morlb_cell.py does).
"""

from gymnasium.envs.registration import register, registry

from .treasure_corridor import TreasureCorridor

__all__ = ["TreasureCorridor"]

if "morl/treasure-corridor-v0" not in registry:
    register(
        id="morl/treasure-corridor-v0",
        entry_point=f"{__name__}.treasure_corridor:TreasureCorridor",
        max_episode_steps=20,
    )
