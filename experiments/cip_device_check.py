"""Device check of CIP's empowerment in pcsac: the inverse model and the agent on CUDA; time with and without it.

    python experiments/cip_device_check.py cuda 3000

1. ``InverseDynamics`` learns on the device which action explains a synthetic transition (4,096 rows).
2. ``pcsac`` with CIP on (a fixed, injected fit: the check needs no ``lingam``, which the GPU image lacks)
   trains on mo-mountaincarcontinuous-v0 with ``empowerment_coef`` 0 and 1; prints where its parameters
   live and the gradient steps per second (env steps and the evaluation included).
"""

import sys
import time

import numpy as np
import torch

from morl import cip, tasks
from morl.agents.pcsac import PCSAC
from morl.empowerment import InverseDynamics

dev = sys.argv[1] if len(sys.argv) > 1 else "cuda"
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
print("torch", torch.__version__, "device", dev, torch.cuda.get_device_name() if dev == "cuda" else "")

# 1. the inverse model learns on the device
torch.manual_seed(0)
n = 4096
obs = torch.rand(n, 3, device=dev) * 2 - 1
action = torch.rand(n, 2, device=dev) * 1.8 - 0.9
nxt = obs.clone()
nxt[:, :2] += 0.5 * action
w = torch.full((n, 2), 0.5, device=dev)
model = InverseDynamics(3, 2, 2, (64, 64)).to(dev)
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for _ in range(300):
    loss = model.nll(obs, nxt, w, action)
    opt.zero_grad()
    loss.backward()
    opt.step()
print("inverse model nll after 300 steps:", float(loss.detach()), "(blind to s': at least +1.95)")

# 2. pcsac with CIP weights (an injected fit: lingam is not on this machine) with and without empowerment
fit = cip.CausalFit(np.array([[0.0, 0.3, 0.5], [0.0, 0.0, -0.2]]), state_dim=2, seconds=0.0, samples=0)
common = dict(
    cip=True,
    cip_interval=10**9,
    learning_starts=500,
    n_envs=4,
    eval_interval=steps,
    eval_preferences=3,
    eval_episodes=1,
    executor="serial",
    buffer_size=100_000,
)
for coef in (0.0, 1.0):
    agent = PCSAC(
        tasks.make("mo-mountaincarcontinuous-v0", ref_point=[-100, -100]),
        seed=0,
        device=dev,
        empowerment_coef=coef,
        empowerment_starts=0,
        **common,
    )
    agent._use_fit(fit)
    start = time.perf_counter()
    agent.learn(steps, progress_bar=False)
    if dev == "cuda":
        torch.cuda.synchronize()
    took = time.perf_counter() - start
    where = {p.device.type for p in agent.actor.parameters()}
    if agent.inverse is not None:
        where |= {p.device.type for p in agent.inverse.parameters()}
        state = agent.state_dict()
        agent.load_state_dict(state)
    print(
        f"empowerment_coef={coef}: {steps} env steps, {agent.gradient_steps} gradient steps in {took:.1f} s "
        f"({agent.gradient_steps / took:.0f} gradient steps/s incl. env and eval), params on {where}, "
        f"archive {len(agent.archive)}"
    )
print("OK")
