"""On-policy rollout collection for a population of policies.

Separate from the PPO update so that other learners (off-policy, multi-agent) can step a
vector env with a :class:`~morl.policies.PopulationActorCritic` and get a :class:`Rollout`
without an optimiser. The collector owns the per-sub-env state that must survive between
rollouts (current observation, pending autoresets, running discounted returns).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from morl.buffers import Rollout
from morl.policies import PopulationActorCritic


class RolloutCollector:
    """Steps a vector env with a population policy, ``n_steps`` steps of every sub-env per rollout.

    Member ``p`` acts in sub-envs ``[p * n, (p + 1) * n)`` of the vector env, so the env has
    ``members * n`` sub-envs. The env keeps its state between rollouts, so always pass the same one.
    """

    def __init__(
        self,
        policy: PopulationActorCritic,
        act_space: gym.Space,
        device: torch.device,
        n_steps: int,
        gamma: float,
        normalize_obs: bool,
        normalize_returns: bool,
    ) -> None:
        self.policy = policy
        self.act_space = act_space
        self.device = device
        self.n_steps = n_steps
        self.gamma = gamma  # discounts the returns whose std scales the rewards
        self.normalize_obs = normalize_obs
        self.normalize_returns = normalize_returns
        self.members = policy.members
        self.num_objectives = policy.return_norm.mean.shape[-1]
        self._obs: np.ndarray | None = None
        self._resetting: np.ndarray | None = None
        self._discounted: np.ndarray | None = None  # running discounted return per sub-env

    def restart(self) -> None:
        """Forget the per-sub-env state: the next rollout resets the env (after a checkpoint boundary)."""
        self._obs = self._resetting = self._discounted = None

    @torch.no_grad()
    def collect(self, env: gym.vector.VectorEnv) -> Rollout:
        """``n_steps`` steps of every sub-env; the env keeps its state between rollouts.

        The rollout (shapes ``(T, P, N, ...)``) stores the *normalised* policy inputs (uint8 for
        images, which are not normalised), so the update sees exactly what the policy saw when
        acting (probability ratios start at 1).
        Normalisation statistics are folded in once per rollout, after it; rewards are divided
        by the running std of each objective's discounted return (per member and objective).
        """
        dev, m, policy, pop, act_space = self.device, self.num_objectives, self.policy, self.members, self.act_space
        gamma, normalize_obs, normalize_returns = self.gamma, self.normalize_obs, self.normalize_returns
        total, steps = env.num_envs, self.n_steps
        if total % pop:
            raise ValueError(f"a vector env of {total} sub-envs cannot be split among {pop} members")
        n = total // pop
        if self._obs is None:
            self._obs, _ = env.reset()
            self._resetting = np.zeros(total, dtype=bool)
            self._discounted = np.zeros((total, m))
        raw_obs, obs_buf, act_buf, logp_buf = [], [], [], []
        rewards = np.empty((steps, total, m))
        discounted = np.empty((steps, total, m))
        terminated_buf = np.empty((steps, total), dtype=bool)
        truncated_buf = np.empty((steps, total), dtype=bool)
        valid_buf = np.empty((steps, total), dtype=bool)
        keep_raw = normalize_obs and policy.obs_norm is not None  # raw vectors feed the statistics after the rollout
        # images: value each step from the CNN features acting computed, rather than encode every frame again
        value_per_step = policy.encoder is not None
        value_buf = []
        for t in range(steps):
            raw = policy.preprocess(self._obs, normalize=False)  # (P, N, D) floats or (P, N, C, H, W) uint8
            x = policy.normalize(raw, normalize_obs)
            features = policy.encode(x)
            action, log_prob = policy.sample(features)
            if value_per_step:
                value_buf.append(policy.critic(features))
            env_action = policy.to_env(action.reshape(-1, *action.shape[2:]), act_space)  # (P * N, ...)
            next_obs, reward, terminated, truncated, _ = env.step(env_action)
            reward = np.asarray(reward, dtype=np.float64).reshape(total, m)
            if not np.isfinite(reward).all():
                raise ValueError(f"environment returned a non-finite reward {reward[~np.isfinite(reward).all(1)][0]}")
            valid = ~self._resetting
            reward = np.where(valid[:, None], reward, 0.0)
            self._discounted = self._discounted * gamma + reward
            discounted[t] = self._discounted
            ended = (terminated | truncated) & valid
            self._discounted[ended] = 0.0
            if keep_raw:
                raw_obs.append(raw)
            obs_buf.append(x)
            act_buf.append(action)
            logp_buf.append(log_prob)
            rewards[t], terminated_buf[t], truncated_buf[t], valid_buf[t] = reward, terminated, truncated, valid
            self._resetting = ended
            self._obs = next_obs
        last = policy.preprocess(self._obs, normalize_obs)
        obs = torch.stack(obs_buf)  # (T, P, N, D) or (T, P, N, C, H, W)
        valid = torch.as_tensor(valid_buf, device=dev).reshape(steps, pop, n)
        scale = policy.return_norm.std.cpu().numpy() if normalize_returns else np.ones((pop, m))
        if value_per_step:
            values = torch.stack(value_buf)  # (T, P, N, m)
        else:  # one batched pass over the vectors
            values = policy.critic(by_member(obs)).reshape(pop, steps, n, m).transpose(0, 1)
        # clipped to +-10 as the official obj_rms (baselines' VecNormalize): an objective that has paid nothing yet
        # has a return std near 0, and its first reward would otherwise reach the critic 10^4 times too large
        clip = policy.return_norm.clip
        rewards = np.clip(rewards.reshape(steps, pop, n, m) / scale[:, None], -clip, clip)
        rollout = Rollout(
            obs=obs,
            actions=torch.stack(act_buf),
            log_probs=torch.stack(logp_buf),
            values=values,
            rewards=torch.as_tensor(rewards, dtype=torch.float32, device=dev),
            terminated=torch.as_tensor((terminated_buf & valid_buf).reshape(steps, pop, n), device=dev),
            truncated=torch.as_tensor((truncated_buf & valid_buf).reshape(steps, pop, n), device=dev),
            valid=valid,
            reward_scale=torch.as_tensor(scale, dtype=torch.float32, device=dev),
            next_value=policy.critic(policy.encode(last)),
        )
        members_valid = valid.transpose(0, 1).reshape(pop, -1)
        if keep_raw:
            policy.obs_norm.update(by_member(torch.stack(raw_obs)), members_valid)
        if normalize_returns:
            stacked = torch.as_tensor(discounted.reshape(steps, pop, n, m), device=dev)
            policy.return_norm.update(by_member(stacked), members_valid)
        return rollout


def by_member(x: torch.Tensor) -> torch.Tensor:
    """(T, P, N, ...) rollout tensor -> (P, T * N, ...), each member's samples in one row."""
    return x.transpose(0, 1).reshape(x.shape[1], x.shape[0] * x.shape[2], *x.shape[3:])
