"""Our own multi-objective environments, registered under the ``morl/`` namespace.

``import envs`` registers them with Gymnasium, so ``morl.envs.make("morl/treasure-corridor-v0")``
and ``morl train ... --env morl/treasure-corridor-v0`` work like any MO-Gymnasium id.
"""

from gymnasium.envs.registration import register, registry

from envs.treasure_corridor import TreasureCorridor

__all__ = ["TreasureCorridor"]

if "morl/treasure-corridor-v0" not in registry:
    register(
        id="morl/treasure-corridor-v0", entry_point="envs.treasure_corridor:TreasureCorridor", max_episode_steps=20
    )
