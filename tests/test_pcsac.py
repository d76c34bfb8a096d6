"""PC-SAC: learns both extremes of a tiny continuous front, resumes exactly, re-rolls entries, refuses bad input."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import morl
from morl import cli, metrics, runs, tasks
from morl.agents.pcsac import PCSAC
from morl.pareto import ParetoArchive
from morl.training import Interrupted

MODULE = "pcsac_arc_env"  # a name no other test imports
ARC_ENV = textwrap.dedent(
    '''
    import gymnasium as gym
    import numpy as np


    class Arc(gym.Env):
        """Four steps; action a in [-1, 1] earns (cos t, sin t), t = (a + 1) pi / 4: a quarter circle of radius 4."""

        observation_space = gym.spaces.Box(0.0, 1.0, (2,), dtype=np.float32)
        action_space = gym.spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
        reward_space = gym.spaces.Box(0.0, 1.0, (2,), dtype=np.float32)
        horizon = 4

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.t = 0
            return self._obs(), {}

        def _obs(self):  # time, and a distractor no reward depends on
            return np.array([self.t / self.horizon, self.np_random.uniform()], dtype=np.float32)

        def step(self, action):
            self.t += 1
            angle = (float(np.clip(action[0], -1, 1)) + 1.0) * np.pi / 4
            reward = np.array([np.cos(angle), np.sin(angle)], dtype=np.float32)
            return self._obs(), reward, False, self.t >= self.horizon, {}
    '''
)
ENV = f"{MODULE}:Arc"
SMALL = {"n_envs": 4, "learning_starts": 400, "batch_size": 64, "net_arch": (64, 64), "eval_preferences": 5,
         "eval_episodes": 1, "buffer_size": 10_000, "learning_rate": 1e-3, "executor": "serial"}  # fmt: skip


@pytest.fixture(autouse=True)
def arc_module(tmp_path_factory, monkeypatch):
    root = tmp_path_factory.getbasetemp() / "pcsac_env"
    root.mkdir(exist_ok=True)
    (root / f"{MODULE}.py").write_text(ARC_ENV)
    monkeypatch.syspath_prepend(str(root))
    yield root
    sys.modules.pop(MODULE, None)


def _agent(**hparams) -> PCSAC:
    torch.set_num_threads(1)
    return PCSAC(tasks.make(ENV, ref_point=[0, 0]), seed=0, device="cpu", **{**SMALL, **hparams})


def test_learns_both_extremes_of_a_continuous_front():
    agent = _agent(eval_interval=4000)
    archive = agent.learn(4000, progress_bar=False)
    values = archive.values
    # the random policy's value: 4 * (E cos, E sin) over a uniform angle = (8 / pi, 8 / pi)
    random_hv = metrics.hypervolume(np.full((1, 2), 8 / np.pi), [0, 0])
    assert values[:, 0].max() > 3.9 and values[:, 1].max() > 3.9, values
    assert archive.hypervolume([0, 0]) > 1.4 * random_hv
    # one shared network, every entry records it and its preference
    assert {e.network for e in archive.entries} == {"pcsac@4000"} and all(e.preference is not None for e in archive)


def test_replay_skips_autoreset_steps_and_keeps_the_final_observation():
    agent = _agent(n_envs=1)
    agent._restart_envs()
    for _ in range(10):  # episodes of 4 steps: steps 5 and 10 are autoreset steps
        agent._step()
        agent.num_timesteps += 1
    assert len(agent.buffer) == 8
    rows = agent.buffer.latest(8)
    np.testing.assert_allclose(rows.obs[:, 0].numpy(), [0, 0.25, 0.5, 0.75] * 2)
    np.testing.assert_allclose(rows.next_obs[:, 0].numpy(), [0.25, 0.5, 0.75, 1.0] * 2)  # truncated: real final obs
    assert rows.terminated.sum() == 0  # truncation bootstraps


def test_snapshots_that_no_entry_names_are_dropped_and_entries_reroll(tmp_path):
    result = morl.train("pcsac", ENV, total_timesteps=1500, out=tmp_path / "run", ref_point=[0, 0],
                        hparams={**SMALL, "eval_interval": 500}, progress_bar=False, tensorboard=False)  # fmt: skip
    archive = result.agent.archive
    named = {e.network for e in archive.entries}
    assert set(archive._networks) == named
    saved = {p.name for p in (tmp_path / "run" / "archive").glob("network-*.safetensors")}
    assert saved == {f"network-{n}.safetensors" for n in named}
    report = tmp_path / "eval.json"
    assert cli.main(["eval", str(tmp_path / "run"), "--episodes", "2", "--device", "cpu", "--out", str(report)]) == 0
    rows = json.loads(report.read_text())["entries"]
    assert len(rows) == len(archive)
    for row in rows:  # the distractor observation differs between seeds; actions barely depend on it
        np.testing.assert_allclose(row["stored"], row["measured"], atol=0.3)


def _buffer(run: Path) -> dict:
    return morl.storage.load_state(run / "checkpoints" / "agent")["buffer"]


EMPOWERMENT = {"cip": True, "cip_interval": 300, "cip_samples": 200, "empowerment_coef": 1.0,
               "empowerment_starts": 100, "cip_shuffle_weights": True}  # fmt: skip


@pytest.mark.parametrize("extra", [{}, EMPOWERMENT], ids=["plain", "cip-empowerment-shuffled"])
def test_killed_run_resumes_with_its_replay_to_the_same_archive(tmp_path, monkeypatch, extra):
    if extra.get("cip"):
        pytest.importorskip("lingam")
    hparams = {**SMALL, "eval_interval": 600, "learning_starts": 200, **extra}
    kwargs = {"total_timesteps": 1200, "ref_point": [0, 0], "hparams": hparams, "progress_bar": False,
              "tensorboard": False}  # fmt: skip
    whole = morl.train("pcsac", ENV, out=tmp_path / "whole", **kwargs)
    original, calls = runs.Run.log_front, []

    def interrupt_second_evaluation(self, archive, env_steps, gradient_steps=0):
        calls.append(env_steps)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, archive, env_steps, gradient_steps)

    monkeypatch.setattr(runs.Run, "log_front", interrupt_second_evaluation)
    with pytest.raises(Interrupted):
        morl.train("pcsac", ENV, out=tmp_path / "cut", **kwargs)
    monkeypatch.undo()
    saved = _buffer(tmp_path / "cut")
    assert saved["obs"].shape[0] == 480 == int(saved["added"])  # the first 600 steps, less the autoreset ones
    resumed = morl.train(None, ENV, resume=tmp_path / "cut", progress_bar=False, tensorboard=False)
    a, b = ParetoArchive.load(tmp_path / "whole" / "archive"), ParetoArchive.load(tmp_path / "cut" / "archive")
    np.testing.assert_array_equal(a.values, b.values)
    assert [e.network for e in a.entries] == [e.network for e in b.entries]
    for key in ("obs", "actions", "rewards", "next_obs", "terminated"):
        torch.testing.assert_close(_buffer(tmp_path / "whole")[key], _buffer(tmp_path / "cut")[key], rtol=0, atol=0)
    assert resumed.agent.gradient_steps == whole.agent.gradient_steps
    if extra.get("empowerment_coef"):  # the inverse model and its optimiser resumed too
        saved = morl.storage.load_state(tmp_path / "whole" / "checkpoints" / "agent")
        for key, value in saved["inverse"].items():
            torch.testing.assert_close(value, resumed.agent.inverse.state_dict()[key], rtol=0, atol=0)


def test_cip_settings_do_nothing_while_cip_is_off():
    plain = _agent(eval_interval=800)
    plain.learn(800, progress_bar=False)
    off = _agent(eval_interval=800, cip=False, cip_interval=100, cip_samples=50, cip_augment_ratio=0.5,
                 cip_standardize=True, cip_shuffle_weights=True)  # fmt: skip
    off.learn(800, progress_bar=False)
    np.testing.assert_array_equal(plain.archive.values, off.archive.values)
    for key, value in plain.actor.state_dict().items():
        torch.testing.assert_close(value, off.actor.state_dict()[key], rtol=0, atol=0)


def test_empowerment_off_is_cip_without_the_inverse_model():
    pytest.importorskip("lingam")
    cip_only = {"eval_interval": 800, "cip": True, "cip_interval": 400, "cip_samples": 300}
    plain = _agent(**cip_only)
    plain.learn(800, progress_bar=False)
    zero = _agent(**cip_only, empowerment_coef=0.0, empowerment_starts=0)
    zero.learn(800, progress_bar=False)
    assert zero.inverse is None and "inverse" not in zero.state_dict()
    # the model trains but its bonus never enters the actor: still the same numbers
    unused = _agent(**cip_only, empowerment_coef=1.0, empowerment_starts=10**9)
    unused.learn(800, progress_bar=False)
    # the bonus enters after 100 gradient steps: the actor changes, and q trains (its learning: test_empowerment.py)
    on = _agent(**cip_only, empowerment_coef=1.0, empowerment_starts=100)
    untrained = _agent(**cip_only, empowerment_coef=1.0).inverse
    on.learn(800, progress_bar=False)
    for other in (zero, unused):
        np.testing.assert_array_equal(plain.archive.values, other.archive.values)
        for key, value in plain.actor.state_dict().items():
            torch.testing.assert_close(value, other.actor.state_dict()[key], rtol=0, atol=0)
    assert any(not torch.equal(v, on.actor.state_dict()[k]) for k, v in plain.actor.state_dict().items())
    assert any(not torch.equal(v, on.inverse.state_dict()[k]) for k, v in untrained.state_dict().items())
    assert on.gradient_steps > 100 and on.diagnostics[-2:] == ("inverse_loss", "empowerment")


def test_the_empowerment_bonus_is_a_bounded_reward_on_every_objective():
    """Paid to the actor with s' from the replay action, the bound cloned replay actions and alpha diverged
    (hopper, docs/algorithms/cip.md); as a reward it is lambda_E * weighted log q(u | s, s'), the same on every
    objective, bounded above by q's floor on the standard deviation."""
    pytest.importorskip("lingam")
    base = {"eval_interval": 800, "cip": True, "cip_interval": 400, "cip_samples": 300, "empowerment_coef": 0.5}
    on = _agent(**base, empowerment_starts=0)
    on.learn(800, progress_bar=False)
    batch = on.buffer.sample(256, torch.Generator().manual_seed(0))
    w = torch.tensor(morl.preferences.uniform(256, 2, 0), dtype=torch.float32)
    with torch.no_grad():
        bonus = on._training_rewards(batch, w) - batch.rewards  # (B, m)
        log_q = on._entropy_log_prob(on.inverse.log_prob(batch.obs, batch.next_obs, w, batch.actions), w)
    torch.testing.assert_close(bonus[:, 0], bonus[:, 1])
    torch.testing.assert_close(bonus[:, 0], 0.5 * log_q)
    assert float(bonus.max()) <= 0.5 * (5.0 - 0.5 * np.log(2 * np.pi)) + 1e-5  # one action dimension, std >= e^-5
    assert float(bonus.std()) > 0  # it tells transitions apart
    centered = _agent(**base, empowerment_starts=0, empowerment_centered=True)
    centered.load_state_dict(on.state_dict())
    with torch.no_grad():
        shifted = centered._training_rewards(batch, w) - batch.rewards
    assert abs(float(shifted.mean())) < 1e-4 and abs(float(bonus.mean())) > 1e-2  # the control has mean 0
    torch.testing.assert_close(shifted, bonus - bonus.mean(), rtol=0, atol=1e-5)
    pointwise = _agent(**base, empowerment_starts=0, empowerment_pointwise=True)
    pointwise.load_state_dict(on.state_dict())
    with torch.no_grad():
        pmi = pointwise._training_rewards(batch, w) - batch.rewards
        log_pi = on._entropy_log_prob(batch.log_probs, w)
    torch.testing.assert_close(pmi[:, 0], 0.5 * (log_q - log_pi))  # log q - log pi_b, the pointwise information
    later = _agent(**base, empowerment_starts=10**9)
    later.learn(800, progress_bar=False)
    with torch.no_grad():
        torch.testing.assert_close(later._training_rewards(batch, w), batch.rewards, rtol=0, atol=0)


def test_replay_keeps_the_acting_policys_density_of_the_pre_tanh_action():
    """CIP's pointwise bonus subtracts log pi_b(u | s, w) of the policy that acted, not of today's policy."""
    agent = _agent(learning_starts=8, eval_interval=400)
    agent._restart_envs()
    agent.num_timesteps += agent._step()  # uniform actions: the density of u = atanh(a) is (1 - a^2) / 2
    random_rows = agent.buffer.latest(4)
    torch.testing.assert_close(random_rows.log_probs, torch.log((1 - random_rows.actions.pow(2)) / 2), atol=1e-4,
                               rtol=1e-4)  # fmt: skip
    agent.learn(400, progress_bar=False)
    agent._restart_envs()
    w = agent._w.clone()
    agent._step()
    rows = agent.buffer.latest(4)
    with torch.no_grad():
        mean, log_std = agent.actor(rows.obs, w)
    expected = torch.distributions.Normal(mean, log_std.exp()).log_prob(torch.atanh(rows.actions.double()).float())
    torch.testing.assert_close(rows.log_probs, expected, atol=1e-3, rtol=1e-3)


def test_empowerment_needs_cip():
    with pytest.raises(ValueError, match=r"empowerment_coef=0\.5 needs the CIP module: set cip=true"):
        _agent(empowerment_coef=0.5)


def test_cip_on_fits_weights_and_trains():
    pytest.importorskip("lingam")
    agent = _agent(eval_interval=1200, cip=True, cip_interval=600, cip_samples=500)
    agent.learn(1200, progress_bar=False)
    fit = agent.causal
    assert fit is not None and fit.effects.shape == (2, 3) and fit.samples == 500
    # the distractor (obs 1) affects no reward: it is swapped; the action drives both rewards
    assert bool(agent._swap[1])
    assert np.abs(fit.action_effects).min() > 0.1
    assert len(agent.archive) >= 1


def test_refuses_discrete_actions_and_instances_in_one_line():
    with pytest.raises(ValueError, match=r"^pcsac cannot act in Discrete\(4\) actions of 'deep-sea-treasure-v0'; "
                                         r"it takes Box$") as err:  # fmt: skip
        PCSAC("deep-sea-treasure-v0", device="cpu")
    assert "\n" not in str(err.value)
    import mo_gymnasium as mo_gym

    with pytest.raises(ValueError, match="not an env instance"):
        PCSAC(mo_gym.make("mo-mountaincarcontinuous-v0"), device="cpu")
    with pytest.raises(ValueError, match="gradient_steps must be >= 1 or -1"):
        _agent(gradient_steps=0)
