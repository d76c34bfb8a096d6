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
    # u = atanh(a) of a uniform a on [-0.9, 0.9] has entropy 0.977 per dimension: no model blind to s' has a lower
    # loss than 2 * 0.977; knowing a from s' beats that by far
    assert float(loss.detach()) < min(start, 2 * 0.977) - 3.0, (start, float(loss.detach()))


def test_log_prob_is_a_density_on_the_pre_tanh_action():
    model = InverseDynamics(1, 1, 1, (8,))
    u = torch.linspace(-7.0, 7.0, 20_001)[:, None]
    x = torch.zeros(len(u), 1)
    with torch.no_grad():
        density = model.log_prob(x, x, torch.ones(len(u), 1), torch.tanh(u)).exp()[:, 0]
    assert abs(float(torch.trapezoid(density, u[:, 0])) - 1.0) < 0.01


def test_the_floor_on_the_standard_deviation_bounds_the_log_density():
    model = InverseDynamics(1, 1, 1, (8,))
    with torch.no_grad():
        model.net[-1].bias.copy_(torch.tensor([0.0, -50.0]))  # the mean at 0, a log std far below the floor
        model.net[-1].weight.zero_()
        peak = model.log_prob(torch.zeros(1, 1), torch.zeros(1, 1), torch.ones(1, 1), torch.zeros(1, 1))
    torch.testing.assert_close(peak, torch.tensor([[5.0 - 0.5 * float(np.log(2 * np.pi))]]))
