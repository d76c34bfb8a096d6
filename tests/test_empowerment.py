"""The inverse-dynamics model learns which action explains a transition, and its density is the actor's family."""

from __future__ import annotations

import numpy as np
import torch

from morl.empowerment import InverseDynamics


def test_inverse_model_learns_the_action_from_the_transition():
    torch.manual_seed(0)
    n, s_dim, a_dim = 512, 3, 2
    obs = torch.rand(n, s_dim) * 2 - 1
    action = torch.rand(n, a_dim) * 1.8 - 0.9
    next_obs = obs.clone()
    next_obs[:, :a_dim] += 0.5 * action  # s' reveals a exactly
    w = torch.full((n, 2), 0.5)
    model = InverseDynamics(s_dim, 2, a_dim, (64, 64), (-20.0, 2.0))
    optim = torch.optim.Adam(model.parameters(), lr=3e-3)
    with torch.no_grad():
        start = float(model.nll(obs, next_obs, w, action))
    for _ in range(300):
        loss = model.nll(obs, next_obs, w, action)
        optim.zero_grad()
        loss.backward()
        optim.step()
    # a uniform action on [-0.9, 0.9]^2 has log-density -2 log 1.8 = -1.18; knowing it from s' beats that by far
    assert float(loss.detach()) < min(start, 2 * np.log(1.8)) - 3.0, (start, float(loss.detach()))


def test_log_prob_is_a_density_on_the_squashed_action():
    model = InverseDynamics(1, 1, 1, (8,), (-20.0, 2.0))
    grid = torch.linspace(-0.999, 0.999, 20_001)[:, None]
    x = torch.zeros(len(grid), 1)
    with torch.no_grad():
        density = model.log_prob(x, x, torch.ones(len(grid), 1), grid).exp()[:, 0]
    assert abs(float(torch.trapezoid(density, grid[:, 0])) - 1.0) < 0.01
    pre = torch.tensor([[0.3]])
    with torch.no_grad():
        given = model.log_prob(x[:1], x[:1], torch.ones(1, 1), torch.tanh(pre), pre)
        recovered = model.log_prob(x[:1], x[:1], torch.ones(1, 1), torch.tanh(pre))
    torch.testing.assert_close(given, recovered)
