"""CIP's causal pieces (Cao et al., ICLR 2025), for a preference-conditioned SAC with vector rewards.

- :func:`fit` runs DirectLiNGAM (the ``lingam`` package, imported lazily: ``pip install 'morl[cip]'``)
  once for all objectives on ``[s | a | r_1 .. r_m]``, every reward declared a sink, and returns
  the linear effect of each state and action dimension on each reward;
- :func:`action_weights` turns those effects into per-action-dimension entropy weights for a
  preference ``w``: ``|A| * softmax(w . B_a)`` (research/cip.md §4 (c));
- :func:`objective_weights` gives CIP's per-objective transform ``dim * softmax(B[k])``;
- :func:`counterfactual` swaps the state dimensions that affect no objective between pairs of
  real transitions (in ``s`` and ``s'`` alike), keeping actions and rewards.

Everything here is a pure function of arrays, so the fit can run in a worker process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from morl.buffers import Transitions

CONSTANT_STD = 1e-8  # a column whose std is below this is dropped before the fit (DirectLiNGAM divides by it)


def _lingam() -> Any:
    try:
        import lingam
    except ImportError:
        raise ImportError("CIP needs the 'lingam' package: pip install 'morl[cip]'") from None
    return lingam


@dataclass
class CausalFit:
    """What one DirectLiNGAM fit found: ``effects[k, j]`` is the linear effect of input ``j`` on reward ``k``."""

    effects: np.ndarray  # (m, S + A); inputs are the state dims then the action dims
    state_dim: int
    seconds: float
    samples: int

    @property
    def state_effects(self) -> np.ndarray:
        """(m, S)"""
        return self.effects[:, : self.state_dim]

    @property
    def action_effects(self) -> np.ndarray:
        """(m, A)"""
        return self.effects[:, self.state_dim :]


def fit(states: np.ndarray, actions: np.ndarray, rewards: np.ndarray, standardize: bool = False,
        seed: int = 0, shuffle: int | list[int] | None = None) -> CausalFit:  # fmt: skip
    """Fit DirectLiNGAM on ``[states | actions | rewards]`` (rows are transitions), rewards as sinks.

    Constant columns are dropped first (their effect is reported as 0; a constant reward's row is
    all 0). ``standardize`` z-scores every column first, so effects are in standard deviations
    and a preference mixes objectives of different scales evenly (our addition, not CIP's).
    ``shuffle`` (a seed) makes the fit a control: its effects are then permuted at random across
    the state dimensions and, separately, across the action dimensions (one permutation for all
    objectives), so the weights keep their values but no longer sit on the dimensions that cause them.
    """
    start = time.perf_counter()
    states, actions, rewards = (np.asarray(x, dtype=np.float64) for x in (states, actions, rewards))
    if not (len(states) == len(actions) == len(rewards)) or min(states.ndim, actions.ndim, rewards.ndim) != 2:
        raise ValueError(f"states, actions and rewards must be (n, .) arrays of the same n, got shapes "
                         f"{states.shape}, {actions.shape}, {rewards.shape}")  # fmt: skip
    inputs = states.shape[1] + actions.shape[1]
    m = rewards.shape[1]
    data = np.hstack([states, actions, rewards])
    std = data.std(axis=0)
    keep = np.flatnonzero(std > CONSTANT_STD)
    effects = np.zeros((m, inputs))
    kept_inputs = keep[keep < inputs]
    kept_rewards = keep[keep >= inputs]
    if len(kept_inputs) and len(kept_rewards):
        x = data[:, keep]
        if standardize:
            x = (x - x.mean(axis=0)) / std[keep]
        lingam = _lingam()
        sinks = list(range(len(kept_inputs), len(keep)))  # kept rewards come last
        prior = lingam.utils.make_prior_knowledge(len(keep), sink_variables=sinks)
        model = lingam.DirectLiNGAM(random_state=seed, prior_knowledge=prior)
        model.fit(x)
        adjacency = np.asarray(model.adjacency_matrix_)  # [i, j]: effect of j on i
        for row, column in enumerate(kept_rewards):
            effects[column - inputs, kept_inputs] = adjacency[sinks[row], : len(kept_inputs)]
    if shuffle is not None:
        rng = np.random.default_rng(shuffle)
        s = states.shape[1]
        order = np.concatenate([rng.permutation(s), s + rng.permutation(actions.shape[1])])
        effects = effects[:, order]
    return CausalFit(effects, states.shape[1], time.perf_counter() - start, len(states))


def objective_weights(effects: np.ndarray | torch.Tensor) -> Any:
    """CIP's weights per objective: ``dim * softmax(effects[k])`` per row (positive, each row sums to dim)."""
    x = torch.as_tensor(effects, dtype=torch.float64) if isinstance(effects, np.ndarray) else effects
    out = x.shape[-1] * torch.softmax(x, dim=-1)
    return out.numpy() if isinstance(effects, np.ndarray) else out


def action_weights(preferences: torch.Tensor, action_effects: torch.Tensor) -> torch.Tensor:
    """Per-action-dimension weights for each preference: ``|A| * softmax(w . B_a)``, (B, m) x (m, A) -> (B, A).

    The effect of an action on the scalarised reward ``w . r`` is ``w . B_a``, so this is CIP's
    single-objective weight on the task of preference ``w``.
    """
    return action_effects.shape[-1] * torch.softmax(preferences @ action_effects, dim=-1)


def irrelevant_states(state_effects: np.ndarray | torch.Tensor, threshold: float) -> torch.Tensor:
    """Boolean mask (S,) of the state dimensions whose effect on every objective is at most ``threshold``."""
    return torch.as_tensor(state_effects).abs().amax(dim=0) <= threshold


def counterfactual(batch: Transitions, swap: torch.Tensor, count: int, generator: torch.Generator | None = None,
                   ) -> Transitions:  # fmt: skip
    """``count`` counterfactual transitions from pairs of ``batch``'s rows.

    Row ``i`` of a random pair ``(i, j)`` takes ``j``'s values on the ``swap`` dimensions, in
    ``s`` and ``s'`` alike; its action, reward and termination stay ``i``'s. Since no objective
    depends on those dimensions, the reward stays valid (research/cip.md §4 (e)).
    """
    n = len(batch)
    device = batch.obs.device
    first = torch.randint(n, (count,), device=device, generator=generator)
    second = torch.randint(n, (count,), device=device, generator=generator)
    mask = swap.to(device)
    obs = torch.where(mask, batch.obs[second], batch.obs[first])
    next_obs = torch.where(mask, batch.next_obs[second], batch.next_obs[first])
    return Transitions(obs, batch.actions[first], batch.rewards[first], next_obs, batch.terminated[first],
                       batch.log_probs[first])  # fmt: skip


def concat(a: Transitions, b: Transitions) -> Transitions:
    """Rows of ``a`` then rows of ``b``."""
    return Transitions(*(torch.cat([getattr(a, f.name), getattr(b, f.name)]) for f in fields(a)))
