"""Array-in, array-out adapter for MOMAland / PettingZoo *parallel* multi-objective environments.

CTDE learners such as MO-MIX want fixed-shape numpy arrays (one row per agent, a global state, one team
reward vector) and one ``done`` flag, not PettingZoo's per-agent dicts. ``MultiAgentEnv`` does that
conversion in one place and checks the environment while it does it.

Pitfalls handled here (see ``shared/research/momix.md`` §4.4):

* MOMAland 0.2.0's beach, item gathering and gem mining ``step`` return
  ``(obs, rewards, truncations, terminations, infos)``: the two flags are swapped. The adapter therefore
  only uses ``term or trunc`` per agent and never relies on which slot is which.
* Those environments' ``reset(seed)`` re-seeds the global ``random`` / ``np.random``, and item gathering
  resolves collisions with the global ``random``. Learners should keep their own ``np.random.Generator``.
* gem mining is broken in 0.2.0 (crashes under numpy 2); the continuous-action environments
  (multiwalker, CrazyRL) are rejected because the adapter only supports ``Discrete`` actions.
* MOMAland 0.2.0's beach returns an empty ``state()`` once every agent is done: ``step`` then repeats the last
  global state, so the state keeps one length and learners need no special case (a length change mid-episode is
  still an error).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from morl.multiagent.registry import TEAM_REWARD_MODES, env_factory


def _inner_obs_space(space: spaces.Space) -> spaces.Space:
    """The observation part of a space; PettingZoo puts legal-move masks next to it in a Dict."""
    if isinstance(space, spaces.Dict) and "observation" in space.spaces:
        return space.spaces["observation"]
    return space


class MultiAgentEnv:
    """Fixed-shape numpy view of a parallel multi-objective multi-agent environment.

    Agents are always indexed in ``env.possible_agents`` order, so row ``i`` of every array is the same agent
    for the whole run even when the environment drops finished agents from ``env.agents``.

    Actions are indices ``0 .. n_actions(agent) - 1``; the adapter adds ``Discrete.start`` before passing them on,
    so a learner never needs to know about shifted action spaces.

    The constructor resets the environment once (without a seed) to check the observation, state and mask
    formats; when the environment has no ``reward_space`` it also takes one step to learn the reward length.
    Call :meth:`reset` before the first :meth:`step` in any case.
    """

    def __init__(self, env: Any, team_reward: str = "mean") -> None:
        if team_reward not in TEAM_REWARD_MODES:
            raise ValueError(f"team_reward must be one of {TEAM_REWARD_MODES}, got {team_reward!r}")
        self._check_parallel_api(env)
        self.env = env
        self.team_reward = team_reward

        agents = list(env.possible_agents)
        if not agents:
            raise ValueError("env.possible_agents is empty; a multi-agent env needs at least one agent")
        if len(set(agents)) != len(agents):
            raise ValueError(f"env.possible_agents contains duplicates: {agents}")
        self._agents = agents
        self._index = {agent: i for i, agent in enumerate(agents)}

        self._observation_spaces = [env.observation_space(a) for a in agents]
        self._obs_dims = [int(spaces.flatdim(_inner_obs_space(s))) for s in self._observation_spaces]
        self._obs_dim = max(self._obs_dims)

        self._action_spaces = [env.action_space(a) for a in agents]
        for agent, space in zip(agents, self._action_spaces, strict=True):
            if not isinstance(space, spaces.Discrete):
                raise ValueError(
                    f"agent {agent!r} has action space {space}; MultiAgentEnv supports only Discrete actions "
                    "(value-based CTDE learners pick an action index per agent)"
                )
        self._n_actions_per_agent = [int(s.n) for s in self._action_spaces]
        self._action_starts = [int(s.start) for s in self._action_spaces]
        self._n_actions = max(self._n_actions_per_agent)

        self._reward_dim: int | None = self._reward_dim_from_spaces()

        # Episode bookkeeping, filled by reset().
        self._obs = np.zeros((self.num_agents, self._obs_dim), dtype=np.float32)
        self._flat_obs: list[np.ndarray] = [np.zeros(d, dtype=np.float32) for d in self._obs_dims]
        self._alive = np.zeros(self.num_agents, dtype=bool)
        self._masks = np.ones((self.num_agents, self._n_actions), dtype=bool)
        self._has_masks = False
        self._has_state: bool | None = None
        self._state_dim: int | None = None
        self._state = np.zeros(0, dtype=np.float32)  # the last global state returned (repeated if the env's empties)
        self._needs_reset = True
        self._t = 0
        self._episode_return: np.ndarray | None = None

        self._probe()

    # ------------------------------------------------------------------ validation
    @staticmethod
    def _check_parallel_api(env: Any) -> None:
        """Reject AEC envs and non-envs early: their failure later would be an opaque KeyError."""
        missing = [
            name
            for name in ("possible_agents", "reset", "step", "observation_space", "action_space")
            if not hasattr(env, name)
        ]
        if missing:
            raise TypeError(
                f"{type(env).__name__} is not a PettingZoo parallel env: missing {missing}. "
                "Pass `module.parallel_env(...)`, not `module.env(...)` (AEC)."
            )
        for name in ("reset", "step", "observation_space", "action_space"):
            if not callable(getattr(env, name)):
                raise TypeError(f"{type(env).__name__}.{name} must be callable")
        if hasattr(env, "agent_selection") or hasattr(env, "last"):
            raise TypeError(f"{type(env).__name__} looks like an AEC env; MultiAgentEnv needs the parallel API")

    def _reward_dim_from_spaces(self) -> int | None:
        """Reward length from ``env.reward_space(agent)`` (MOMAland); ``None`` when the env does not declare it."""
        reward_space = getattr(self.env, "reward_space", None)
        if not callable(reward_space):
            return None
        dims: dict[str, int] = {}
        for agent in self._agents:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # MOParallelEnv's fallback warns before reading a dict
                    space = reward_space(agent)
            except (AttributeError, KeyError, NotImplementedError):
                return None
            shape = getattr(space, "shape", None)
            if shape is None:
                return None
            if len(shape) != 1 or shape[0] < 1:
                raise ValueError(
                    f"reward_space({agent!r}) has shape {shape}; rewards must be vectors of shape (m,) with m >= 1"
                )
            dims[agent] = int(shape[0])
        if len(set(dims.values())) != 1:
            raise ValueError(f"agents declare reward vectors of different lengths: {dims}")
        return next(iter(dims.values()))

    def _reward_vector(self, agent: str, reward: Any) -> np.ndarray:
        """One agent's reward as a finite float vector of length ``reward_dim``, or a ValueError saying why not."""
        vec = np.asarray(reward, dtype=np.float64)
        if vec.ndim != 1:
            raise ValueError(
                f"agent {agent!r} returned a reward of shape {vec.shape}; multi-objective rewards must be vectors "
                "of shape (m,) (MOMAland-style), not scalars"
            )
        if self._reward_dim is None:
            if vec.shape[0] < 1:
                raise ValueError(f"agent {agent!r} returned an empty reward vector")
            self._reward_dim = int(vec.shape[0])
        if vec.shape[0] != self._reward_dim:
            raise ValueError(
                f"agent {agent!r} returned a reward vector of length {vec.shape[0]}, expected {self._reward_dim}"
            )
        if not np.all(np.isfinite(vec)):
            raise ValueError(f"agent {agent!r} returned a non-finite reward {vec.tolist()} (NaN or inf)")
        return vec

    # ------------------------------------------------------------------ properties
    @property
    def agents(self) -> list[str]:
        """Agent names in the fixed row order of every array (``env.possible_agents``)."""
        return list(self._agents)

    @property
    def num_agents(self) -> int:
        """Number of rows in every per-agent array."""
        return len(self._agents)

    @property
    def reward_dim(self) -> int:
        """Number of objectives m."""
        assert self._reward_dim is not None  # set by __init__ (declared space or probe step)
        return self._reward_dim

    @property
    def obs_dim(self) -> int:
        """Width of the observation array: the largest flattened per-agent observation (others are zero-padded)."""
        return self._obs_dim

    @property
    def obs_dims(self) -> list[int]:
        """Flattened observation length of each agent, before padding."""
        return list(self._obs_dims)

    @property
    def observation_spaces(self) -> list[spaces.Space]:
        """The env's own observation space per agent (unflattened), in agent order."""
        return list(self._observation_spaces)

    @property
    def action_spaces(self) -> list[spaces.Discrete]:
        """The env's own action space per agent, in agent order."""
        return list(self._action_spaces)

    @property
    def n_actions(self) -> int:
        """Width of the action-mask array: the largest per-agent action count."""
        return self._n_actions

    @property
    def n_actions_per_agent(self) -> list[int]:
        """Action count of each agent (mask columns beyond it are always False)."""
        return list(self._n_actions_per_agent)

    @property
    def state_dim(self) -> int:
        """Length of the global state vector."""
        assert self._state_dim is not None  # set by the probe reset in __init__
        return self._state_dim

    @property
    def has_env_state(self) -> bool:
        """True when the global state comes from ``env.state()``, False when it is the concatenated observations."""
        return bool(self._has_state)

    @property
    def has_action_masks(self) -> bool:
        """True when the env reported action masks (in infos or dict observations) at the last reset or step."""
        return self._has_masks

    @property
    def unwrapped(self) -> Any:
        """The wrapped parallel env."""
        return self.env

    # ------------------------------------------------------------------ conversion helpers
    def _flatten_obs(self, i: int, raw: Any) -> np.ndarray:
        space = self._observation_spaces[i]
        if isinstance(space, spaces.Dict) and "observation" in space.spaces and isinstance(raw, dict):
            raw = raw["observation"]
        flat = np.asarray(spaces.flatten(_inner_obs_space(space), raw), dtype=np.float32).ravel()
        if flat.shape[0] != self._obs_dims[i]:
            raise ValueError(
                f"agent {self._agents[i]!r} observation flattens to {flat.shape[0]} values, "
                f"its observation space says {self._obs_dims[i]}"
            )
        return flat

    def _ingest_obs(self, obs: dict[str, Any]) -> None:
        """Update per-agent observations; agents missing from ``obs`` keep zeros (they are finished)."""
        if not isinstance(obs, dict):
            raise TypeError(f"env returned observations of type {type(obs).__name__}; expected a dict per agent")
        for agent in obs:
            if agent not in self._index:
                raise ValueError(f"env returned an observation for unknown agent {agent!r}")
        self._obs = np.zeros((self.num_agents, self._obs_dim), dtype=np.float32)
        for i, agent in enumerate(self._agents):
            flat = self._flatten_obs(i, obs[agent]) if agent in obs else np.zeros(self._obs_dims[i], np.float32)
            self._flat_obs[i] = flat
            self._obs[i, : flat.shape[0]] = flat

    def _ingest_masks(self, obs: dict[str, Any], infos: dict[str, Any]) -> None:
        """Collect PettingZoo-style ``action_mask`` entries from infos or dict observations.

        Finished agents get all-True rows: their action is ignored, and an all-False row would break argmax.
        """
        masks = np.zeros((self.num_agents, self._n_actions), dtype=bool)
        found = False
        for i, agent in enumerate(self._agents):
            n = self._n_actions_per_agent[i]
            mask = None
            info = infos.get(agent) if isinstance(infos, dict) else None
            if isinstance(info, dict) and "action_mask" in info:
                mask = info["action_mask"]
            elif isinstance(obs.get(agent), dict) and "action_mask" in obs[agent]:
                mask = obs[agent]["action_mask"]
            if mask is None or not self._alive[i]:
                masks[i, :n] = True
                continue
            mask = np.asarray(mask).astype(bool).ravel()
            if mask.shape[0] != n:
                raise ValueError(f"agent {agent!r} action_mask has length {mask.shape[0]}, its action space has {n}")
            masks[i, :n] = mask
            found = True
        self._masks = masks
        self._has_masks = found

    def _global_state(self) -> np.ndarray:
        """``env.state()`` when implemented, else all agents' flattened observations concatenated."""
        if self._has_state is None:
            try:
                state = self.env.state()
                self._has_state = state is not None
            except (NotImplementedError, AttributeError):
                self._has_state = False
            if self._has_state:
                return np.asarray(state, dtype=np.float32).ravel()
        elif self._has_state:
            return np.asarray(self.env.state(), dtype=np.float32).ravel()
        return np.concatenate(self._flat_obs).astype(np.float32, copy=False)

    def _info(self, env_infos: Any, agent_rewards: np.ndarray | None, dones: np.ndarray) -> dict[str, Any]:
        info: dict[str, Any] = {
            "action_masks": self._masks.copy(),
            "alive": self._alive.copy(),
            "agent_dones": dones,
            "t": self._t,
            "env_infos": env_infos,
        }
        if agent_rewards is not None:
            info["agent_rewards"] = agent_rewards
        if self._episode_return is not None:
            info["episode_return"] = self._episode_return.astype(np.float32)
        return info

    def _probe(self) -> None:
        """Reset (and, without a declared reward space, step) once so bad envs fail at construction."""
        self.reset()
        if self._reward_dim is None:
            actions = [int(np.flatnonzero(row)[0]) if row.any() else 0 for row in self._masks]
            self.step(actions)  # raises if no reward length can be learned
        self._needs_reset = True

    # ------------------------------------------------------------------ API
    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
        """Start an episode; returns ``(obs (n_agents, obs_dim) float32, state (state_dim,) float32, info)``.

        With a seed, MOMAland envs re-seed the *global* RNGs: do not draw exploration noise from them.
        """
        out = self.env.reset(seed=seed) if options is None else self.env.reset(seed=seed, options=options)
        if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict):
            obs, infos = out
        else:  # pre-1.24 PettingZoo returned observations only
            obs, infos = out, {}
        live = getattr(self.env, "agents", None)
        live_set = set(self._agents if live is None else live)
        self._alive = np.array([a in live_set for a in self._agents], dtype=bool)
        if not self._alive.any():
            raise ValueError("env.reset() left no live agents (env.agents is empty)")
        self._ingest_obs(obs)
        self._ingest_masks(obs, infos)
        state = self._global_state()
        if self._state_dim is None:
            self._state_dim = int(state.shape[0])
        elif state.shape[0] != self._state_dim:
            raise ValueError(f"global state changed length from {self._state_dim} to {state.shape[0]}")
        self._state = state
        self._t = 0
        self._needs_reset = False
        self._episode_return = None if self._reward_dim is None else np.zeros(self._reward_dim)
        return self._obs.copy(), state, self._info(infos, None, ~self._alive)

    def step(self, actions: np.ndarray | Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, dict]:
        """Apply one action index per agent; returns ``(obs, state, team_reward (m,) float32, done, info)``.

        ``done`` is True once every agent is terminated-or-truncated or the env's agent list is empty; the two
        flags are OR-ed because MOMAland 0.2.0 returns them in swapped order. Actions of finished agents are
        ignored. ``info["agent_rewards"]`` is (n_agents, m) with zero rows for agents that got no reward; the team
        reward combines only the agents rewarded this step ("first" = first of them in agent order).
        """
        if self._needs_reset:
            raise RuntimeError("call reset() before step() (the episode is over or was never started)")
        acts = np.asarray(actions).ravel()
        if acts.shape[0] != self.num_agents:
            raise ValueError(f"expected {self.num_agents} actions (one per agent), got {acts.shape[0]}")
        if not np.issubdtype(acts.dtype, np.integer):
            if not np.all(np.equal(np.mod(acts, 1), 0)):
                raise ValueError(f"actions must be integer indices, got {acts.tolist()}")
            acts = acts.astype(np.int64)
        action_dict: dict[str, int] = {}
        for i, agent in enumerate(self._agents):
            if not self._alive[i]:
                continue
            a = int(acts[i])
            if not 0 <= a < self._n_actions_per_agent[i]:
                raise ValueError(f"action {a} for agent {agent!r} is out of range [0, {self._n_actions_per_agent[i]})")
            action_dict[agent] = a + self._action_starts[i]

        out = self.env.step(action_dict)
        if not (isinstance(out, tuple) and len(out) == 5):
            raise ValueError("env.step must return (obs, rewards, terminations, truncations, infos)")
        obs, rewards, flags_a, flags_b, infos = out  # slot order differs between envs: only their OR is used

        vectors: dict[str, np.ndarray] = {}
        for agent, reward in rewards.items():
            if agent not in self._index:
                raise ValueError(f"env returned a reward for unknown agent {agent!r}")
            vectors[agent] = self._reward_vector(agent, reward)  # the first reward ever seen fixes m
        if self._reward_dim is None:
            raise ValueError("env returned no rewards on its first step; cannot determine the number of objectives")
        m = self._reward_dim
        agent_rewards = np.zeros((self.num_agents, m), dtype=np.float64)
        for agent, vec in vectors.items():
            agent_rewards[self._index[agent]] = vec
        present = [vectors[a] for a in self._agents if a in vectors]  # fixed agent order for "first"
        if not present:
            team = np.zeros(m)
        elif self.team_reward == "first":
            team = present[0]
        elif self.team_reward == "sum":
            team = np.sum(present, axis=0)
        else:
            team = np.mean(present, axis=0)

        dones = ~self._alive.copy()
        for i, agent in enumerate(self._agents):
            if bool(flags_a.get(agent, False)) or bool(flags_b.get(agent, False)):
                dones[i] = True
        live = getattr(self.env, "agents", None)
        if live is not None:
            live_set = set(live)
            dones |= np.array([a not in live_set for a in self._agents], dtype=bool)
        self._alive = ~dones
        done = bool(dones.all())

        self._t += 1
        self._ingest_obs(obs)
        self._ingest_masks(obs, infos if isinstance(infos, dict) else {})
        state = self._global_state()
        if state.shape[0] != self._state_dim:
            if not done:
                raise ValueError(
                    f"global state changed length from {self._state_dim} to {state.shape[0]} at step {self._t}"
                )
            state = self._state.copy()  # MOMAland's mobeach_v0 returns an empty state() after its last step
        self._state = state
        if self._episode_return is None:
            self._episode_return = np.zeros(m)
        self._episode_return = self._episode_return + team
        self._needs_reset = done
        info = self._info(infos, agent_rewards.astype(np.float32), dones.copy())
        return self._obs.copy(), state.astype(np.float32, copy=False), team.astype(np.float32), done, info

    def action_masks(self) -> np.ndarray:
        """Current legal actions, (n_agents, n_actions) bool; all True where the env reports no masks."""
        return self._masks.copy()

    def close(self) -> None:
        """Close the wrapped env."""
        close = getattr(self.env, "close", None)
        if callable(close):
            close()

    def __repr__(self) -> str:
        name = getattr(self.env, "metadata", {}).get("name", type(self.env).__name__)
        return (
            f"MultiAgentEnv({name}, agents={self.num_agents}, obs_dim={self._obs_dim}, state_dim={self._state_dim}, "
            f"n_actions={self._n_actions}, reward_dim={self._reward_dim}, team_reward={self.team_reward!r})"
        )


def make_multiagent(
    env_id_or_factory: str | Callable[..., Any], *, team_reward: str = "mean", **kwargs: Any
) -> MultiAgentEnv:
    """Build a :class:`MultiAgentEnv` from an id (MOMAland's, a registered one, or a module path) or a factory.

    ``kwargs`` go to ``module.parallel_env(**kwargs)`` or to the factory as given: registry presets are applied by
    :func:`task`, not here, e.g. ``make_multiagent("moitem_gathering_v0", reward_mode="team", num_timesteps=8)``.
    """
    if isinstance(env_id_or_factory, str):
        env = env_factory(env_id_or_factory)(**kwargs)
    elif callable(env_id_or_factory):
        env = env_id_or_factory(**kwargs)
    else:
        raise TypeError(f"expected an env id string or a callable, got {type(env_id_or_factory).__name__}")
    return MultiAgentEnv(env, team_reward=team_reward)
