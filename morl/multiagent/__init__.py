"""Multi-agent tasks: MOMAland / PettingZoo *parallel* multi-objective envs.

- :mod:`morl.multiagent.check`: ``check_env``, the contract a user's own parallel env keeps;
- :mod:`morl.multiagent.env`: ``MultiAgentEnv``, the fixed-shape numpy adapter CTDE learners act through;
- :mod:`morl.multiagent.registry`: multi-agent ids with env-kwargs presets, reference points and known fronts;
- :mod:`morl.multiagent.task`: :func:`task` (a :class:`morl.tasks.Task` for an id or factory) and its evaluator.
"""

from morl.multiagent.check import check_env
from morl.multiagent.env import MultiAgentEnv, make_multiagent
from morl.multiagent.registry import (
    DEFAULTS,
    MOMALAND_PARALLEL_ENVS,
    TEAM_REWARD_MODES,
    MultiAgentDefaults,
    defaults_for,
    env_factory,
    is_multiagent_id,
    register,
    registered_ids,
)
from morl.multiagent.task import MAX_EPISODE_STEPS, evaluate, task

__all__ = [
    "DEFAULTS",
    "MAX_EPISODE_STEPS",
    "MOMALAND_PARALLEL_ENVS",
    "TEAM_REWARD_MODES",
    "MultiAgentDefaults",
    "MultiAgentEnv",
    "check_env",
    "defaults_for",
    "env_factory",
    "evaluate",
    "is_multiagent_id",
    "make_multiagent",
    "register",
    "registered_ids",
    "task",
]
