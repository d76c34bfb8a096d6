"""MO-MIX's networks and its vector TD target: the conditional agent network and the parallel monotonic mixer.

Layouts follow PyMARL's QMIX (``RNNAgent``: fc -> ReLU -> GRUCell -> fc; ``QMixer`` with two-layer hypernetworks),
widened to a Q-vector per action and one mixer per objective. With one output and no conditioning input they are
QMIX's own networks, which is how the outer-loop QMIX baseline uses them.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from morl.episode_buffer import Episodes

MASKED = -1e9  # utility of an unavailable action (finite: a fully masked padding row must not give NaN)


class AgentNetwork(nn.Module):
    """Conditional agent network shared by all agents: (obs, last action, agent id, w) -> Q-vector per action.

    Args:
        input_dim: obs_dim + n_actions + n_agents + cond_dim (see :func:`agent_inputs`).
        n_actions: actions per agent (padded to the widest).
        n_out: values per action: m objectives (MO-MIX) or 1 (scalar QMIX).
        hidden_dim: width of the fc layer and the GRU (PyMARL ``rnn_hidden_dim``).
    """

    def __init__(self, input_dim: int, n_actions: int, n_out: int, hidden_dim: int) -> None:
        super().__init__()
        self.n_actions, self.n_out, self.hidden_dim = n_actions, n_out, hidden_dim
        self.fc1 = nn.Linear(input_dim, hidden_dim)
        self.rnn = nn.GRUCell(hidden_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, n_actions * n_out)

    def forward(self, inputs: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``inputs`` (R, input_dim), ``hidden`` (R, H) -> Q (R, A, n_out) and the next hidden state (R, H)."""
        h = self.rnn(F.relu(self.fc1(inputs)), hidden)
        return self.fc2(h).view(-1, self.n_actions, self.n_out), h


def agent_inputs(obs: torch.Tensor, last_actions: torch.Tensor, cond: torch.Tensor, n_actions: int) -> torch.Tensor:
    """Agent-network inputs (..., N, D + A + N + c): obs, last action one-hot (-1 = none yet), agent id, condition.

    ``obs`` (..., N, D), ``last_actions`` (..., N) long, ``cond`` (..., c) shared by the agents of a row.
    """
    n = obs.shape[-2]
    last = F.one_hot(last_actions.clamp(min=0), n_actions).to(obs.dtype) * (last_actions >= 0).unsqueeze(-1)
    ids = torch.eye(n, device=obs.device, dtype=obs.dtype).expand(*obs.shape[:-1], n)
    return torch.cat([obs, last, ids, cond.unsqueeze(-2).expand(*obs.shape[:-1], cond.shape[-1])], dim=-1)


class _Stacked(nn.Module):
    """``members`` independent ``nn.Linear`` layers as one batched matmul, each initialised as ``nn.Linear`` is."""

    def __init__(self, members: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)
        self.weight = nn.Parameter(torch.empty(members, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, out_dim).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (P, R, in) -> (P, R, out)
        return torch.baddbmm(self.bias, x, self.weight)


class ParallelMixer(nn.Module):
    """One QMIX mixer per objective, all evaluated at once: per-agent Q-vectors -> joint Q-vector.

    Each objective's hypernetworks read the global state and the preference and emit the mixing weights through
    ``abs``, so every ``Q_tot^j`` is monotone (non-decreasing) in every agent's ``Q_i^j``.
    """

    def __init__(self, n_agents: int, state_dim: int, cond_dim: int, n_out: int, embed_dim: int,
                 hypernet_embed: int) -> None:  # fmt: skip
        super().__init__()
        self.n_agents, self.embed_dim, self.n_out = n_agents, embed_dim, n_out
        x = state_dim + cond_dim
        self.hyper_w1 = nn.Sequential(_Stacked(n_out, x, hypernet_embed), nn.ReLU(),
                                      _Stacked(n_out, hypernet_embed, embed_dim * n_agents))  # fmt: skip
        self.hyper_w2 = nn.Sequential(_Stacked(n_out, x, hypernet_embed), nn.ReLU(),
                                      _Stacked(n_out, hypernet_embed, embed_dim))  # fmt: skip
        self.hyper_b1 = _Stacked(n_out, x, embed_dim)
        self.value = nn.Sequential(_Stacked(n_out, x, embed_dim), nn.ReLU(), _Stacked(n_out, embed_dim, 1))

    def forward(self, qs: torch.Tensor, state: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``qs`` (..., N, n_out), ``state`` (..., S), ``cond`` (..., c) -> joint Q-vector (..., n_out)."""
        lead = qs.shape[:-2]
        r = int(math.prod(lead))
        p, e, n = self.n_out, self.embed_dim, self.n_agents
        x = torch.cat([state, cond], dim=-1).reshape(1, r, -1).expand(p, r, -1)  # (P, R, S + c)
        w1 = self.hyper_w1(x).abs().view(p * r, n, e)
        b1 = self.hyper_b1(x).view(p * r, 1, e)
        q = qs.reshape(r, n, p).permute(2, 0, 1).reshape(p * r, 1, n)
        hidden = F.elu(torch.bmm(q, w1) + b1)  # (P R, 1, E)
        w2 = self.hyper_w2(x).abs().view(p * r, e, 1)
        y = torch.bmm(hidden, w2).view(p, r) + self.value(x).view(p, r)
        return y.t().reshape(*lead, p)


def unroll(net: AgentNetwork, batch: Episodes, cond: torch.Tensor) -> torch.Tensor:
    """Q-vectors of every agent at every slot of ``batch``, from a zero hidden state: (B, T + 1, N, A, n_out)."""
    b, t1, n, _ = batch.obs.shape
    last = torch.cat([batch.actions.new_full((b, 1, n), -1), batch.actions], dim=1)  # (B, T + 1, N)
    inputs = agent_inputs(batch.obs, last, cond.unsqueeze(1).expand(b, t1, cond.shape[-1]), net.n_actions)
    hidden = inputs.new_zeros(b * n, net.hidden_dim)
    out = []
    for t in range(t1):
        q, hidden = net(inputs[:, t].reshape(b * n, -1), hidden)
        out.append(q.view(b, n, net.n_actions, net.n_out))
    return torch.stack(out, dim=1)


def td_targets(batch: Episodes, q_online: torch.Tensor, q_target: torch.Tensor, target_mixer: ParallelMixer,
               utility: torch.Tensor, rewards: torch.Tensor, cond: torch.Tensor, gamma: float,
               ) -> torch.Tensor:  # fmt: skip
    """Double-Q vector targets ``r + gamma (1 - done) Q_tot'(s', a*)``, (B, T, n_out).

    ``a*`` is each agent's argmax of ``utility . Q`` over its available actions under the *online* network
    (PyMARL's ``double_q``); the target network's Q-vectors at ``a*`` are mixed by the target mixer.
    ``q_online`` / ``q_target`` are :func:`unroll` outputs; ``utility`` (B, n_out); ``rewards`` (B, T, n_out).
    """
    scores = (q_online[:, 1:] * utility[:, None, None, None, :]).sum(-1)  # (B, T, N, A)
    scores = scores.masked_fill(~batch.avail[:, 1:], MASKED)
    best = scores.argmax(dim=-1, keepdim=True)  # (B, T, N, 1)
    n_out = q_target.shape[-1]
    chosen = q_target[:, 1:].gather(3, best.unsqueeze(-1).expand(*best.shape, n_out)).squeeze(3)  # (B, T, N, n_out)
    t = batch.max_len
    next_tot = target_mixer(chosen, batch.state[:, 1:], cond.unsqueeze(1).expand(-1, t, -1))  # (B, T, n_out)
    return rewards + gamma * (1.0 - batch.terminated).unsqueeze(-1) * next_tot
