"""MO-MIX: masking, mixer monotonicity, episode replay, the double-Q vector target, the exploration guide, exact
resume, the outer-loop QMIX baseline, and learning on item gathering config A (research/momix.md §5.1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import morl
from morl import runs, tasks
from morl.agents import momix_guide
from morl.agents.momix import MOMIX
from morl.agents.momix_nets import ParallelMixer, td_targets
from morl.episode_buffer import EpisodeBuffer, Episodes
from morl.pareto import ParetoArchive
from morl.training import Interrupted

ENV_A = "moitem_gathering_2obj_v0"  # config A: exact front {(1, 6), (3, 5), (4, 4)}, HV 20 at ref 0
TINY = {"n_envs": 4, "batch_size": 8, "buffer_size": 200, "rnn_hidden_dim": 32, "mixing_embed_dim": 16,
        "hypernet_embed": 32, "eval_interval": 400, "preference_step": 0.25}  # fmt: skip


def _agent(**hparams) -> MOMIX:
    torch.set_num_threads(1)
    return MOMIX(tasks.make(ENV_A), seed=0, device="cpu", **{**TINY, **hparams})


def _episodes(lengths: list[int], n: int = 2, d: int = 3, s: int = 4, a: int = 5, m: int = 2) -> Episodes:
    """Episodes whose real steps carry reward (t + 1, -(t + 1)) and whose padding is zero."""
    b, t = len(lengths), max(lengths)
    filled = torch.arange(t)[None, :] < torch.as_tensor(lengths)[:, None]
    rewards = (torch.arange(t, dtype=torch.float32)[None, :, None] + 1) * torch.tensor([1.0, -1.0]) * filled[..., None]
    terminated = torch.zeros(b, t)
    terminated[torch.arange(b), torch.as_tensor(lengths) - 1] = 1.0
    actions = torch.randint(a, (b, t, n)) * filled[..., None]
    return Episodes(obs=torch.randn(b, t + 1, n, d), state=torch.randn(b, t + 1, s),
                    avail=torch.ones(b, t + 1, n, a, dtype=torch.bool), actions=actions, rewards=rewards,
                    terminated=terminated, filled=filled, preference=torch.full((b, m), 1.0 / m))  # fmt: skip


# ---------------------------------------------------------------------------- networks and acting
def test_unavailable_actions_are_never_taken_greedy_or_random():
    agent = _agent()
    c, n, a = 64, agent.n_agents, agent.n_actions
    avail = torch.zeros(c, n, a, dtype=torch.bool)
    allowed = torch.randint(a, (c, n))
    avail.scatter_(2, allowed.unsqueeze(-1), True)  # exactly one legal action per agent
    avail[:, :, 0] |= torch.arange(c)[:, None] % 2 == 0  # and action 0 on even rows
    obs = torch.randn(c, n, agent.obs_dim)
    w = torch.as_tensor(agent.grid[torch.randint(len(agent.grid), (c,))], dtype=torch.float32)
    last = torch.full((c, n), -1)
    hidden = torch.zeros(c * n, agent.net.hidden_dim)
    for epsilon in (0.0, 1.0):
        actions, next_hidden = agent._act(agent.net, obs, last, w, w, avail, hidden, epsilon)
        assert actions.shape == (c, n) and next_hidden.shape == (c * n, agent.net.hidden_dim)
        assert bool(avail.gather(2, actions.unsqueeze(-1)).all()), f"epsilon {epsilon} took a masked action"
    q = agent.net(torch.zeros(3, agent.net.fc1.in_features), torch.zeros(3, agent.net.hidden_dim))[0]
    assert q.shape == (3, a, agent.num_objectives)  # a Q-vector per action


def test_each_objective_mixer_is_monotone_and_reads_only_its_objective():
    torch.manual_seed(0)
    mixer = ParallelMixer(n_agents=3, state_dim=5, cond_dim=2, n_out=2, embed_dim=8, hypernet_embed=16)
    qs = torch.randn(64, 3, 2, requires_grad=True)
    state, cond = torch.randn(64, 5), torch.rand(64, 2)
    out = mixer(qs, state, cond)
    assert out.shape == (64, 2)
    for j in range(2):
        (grad,) = torch.autograd.grad(out[:, j].sum(), qs, retain_graph=True)
        assert bool((grad[..., j] >= 0).all()), "dQ_tot^j / dQ_i^j must be >= 0 (non-negative mixing weights)"
        assert bool((grad[..., j] > 0).any())
        assert bool((grad[..., 1 - j] == 0).all()), "the mixers are parallel: objective j mixes only Q^j"


# ---------------------------------------------------------------------------- episode replay
def test_episode_buffer_pads_masks_and_grows_its_time_axis():
    buffer = EpisodeBuffer(capacity=4)
    buffer.add(_episodes([3, 2]))
    assert buffer.data.max_len == 3
    buffer.add(_episodes([5]))  # a longer episode widens the stored ones
    data = buffer.data
    assert data.max_len == 5 and len(buffer) == 3
    np.testing.assert_array_equal(data.filled[:3].sum(1).numpy(), [3, 2, 5])
    assert bool(data.avail[:2, 4:].all()) and float(data.rewards[0, 3:].abs().sum()) == 0.0
    np.testing.assert_array_equal(data.terminated[1].numpy(), [0, 1, 0, 0, 0])
    buffer.add(_episodes([1, 1]))  # ring: the oldest episode is overwritten
    assert len(buffer) == 4 and buffer.pos == 1 and buffer.added == 5
    np.testing.assert_array_equal(buffer.data.filled[0].sum().item(), 1)
    small = EpisodeBuffer(capacity=2)
    small.add(_episodes([2, 2]))
    batch = small.sample(2, torch.Generator().manual_seed(0))
    assert batch.max_len == 2 and batch.obs.shape[1] == 3  # cut to the longest real episode (+ the bootstrap slot)
    restored = EpisodeBuffer(capacity=4)
    restored.load_state_dict(buffer.state_dict())
    for name in ("obs", "rewards", "filled", "avail", "actions"):
        torch.testing.assert_close(getattr(restored.data, name), getattr(buffer.data, name), rtol=0, atol=0)
    assert (restored.pos, restored.added, len(restored)) == (buffer.pos, buffer.added, len(buffer))
    with pytest.raises(ValueError, match="cannot sample 3 episodes"):
        small.sample(3)


# ---------------------------------------------------------------------------- the TD target
class _SumMixer(nn.Module):
    """Q_tot = sum over agents (a monotone mixer whose output is easy to compute by hand)."""

    def forward(self, qs: torch.Tensor, state: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return qs.sum(-2)


def test_double_q_vector_target_matches_a_hand_computation():
    # one episode, one step, two agents, three actions, two objectives; w = (0.75, 0.25)
    batch = _episodes([1], n=2, a=3)
    batch.rewards = torch.tensor([[[1.0, 2.0]]])
    batch.terminated = torch.zeros(1, 1)
    batch.avail[0, 1, 1] = torch.tensor([True, False, True])  # agent 1 may not take action 1 next step
    w = torch.tensor([[0.75, 0.25]])
    online = torch.zeros(1, 2, 2, 3, 2)  # (B, T + 1, N, A, m)
    online[0, 1, 0] = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])  # w.Q = 0, 0.75, 0.5 -> a* = 1
    online[0, 1, 1] = torch.tensor([[1.0, 1.0], [9.0, 9.0], [0.0, 0.0]])  # w.Q = 1, (9 masked), 0 -> a* = 0
    target = torch.zeros(1, 2, 2, 3, 2)
    target[0, 1, 0] = torch.tensor([[5.0, 5.0], [2.0, 3.0], [7.0, 7.0]])  # its own argmax (2) must not be used
    target[0, 1, 1] = torch.tensor([[4.0, -1.0], [8.0, 8.0], [6.0, 6.0]])
    got = td_targets(batch, online, target, _SumMixer(), w, batch.rewards, w, gamma=0.5)
    expected = torch.tensor([1.0, 2.0]) + 0.5 * (torch.tensor([2.0, 3.0]) + torch.tensor([4.0, -1.0]))
    torch.testing.assert_close(got[0, 0], expected)
    batch.terminated = torch.ones(1, 1)  # a terminal step does not bootstrap
    torch.testing.assert_close(td_targets(batch, online, target, _SumMixer(), w, batch.rewards, w, 0.5)[0, 0],
                               torch.tensor([1.0, 2.0]))  # fmt: skip


# ---------------------------------------------------------------------------- exploration guide
FRONT = np.array([[0.0, 10.0], [6.0, 8.0], [10.0, 0.0]])  # largest gap: between (6, 8) and (10, 0)


def test_exploration_guide_favours_the_largest_gap_of_the_front():
    grid = np.stack([np.linspace(0, 1, 11), 1 - np.linspace(0, 1, 11)], axis=1)
    gaps = momix_guide.gaps(grid, FRONT, 0.1)
    # normalised, w1 <= 0.2 prefers (0, 10), 0.3..0.6 prefers (6, 8), >= 0.7 prefers (10, 0)
    np.testing.assert_allclose(np.round(grid[gaps == gaps.max(), 0], 6), [0.6, 0.7])
    np.testing.assert_allclose(gaps[[2, 3]], np.hypot(0.6, 0.2))
    assert np.count_nonzero(gaps) == 4
    probs = momix_guide.probabilities(grid, FRONT, 0.1, uniform_share=0.0)
    assert probs.sum() == pytest.approx(1.0) and probs[6] == probs.max() and probs[0] == 0
    np.testing.assert_allclose(momix_guide.probabilities(grid, FRONT[:1], 0.1, 0.2), np.full(11, 1 / 11))

    agent = _agent(preference_step=0.1)
    for value in FRONT:
        agent.archive.add(value)
    draws = agent._training_preferences(4000)[:, 0].round(6)
    counts = {w: int((draws == w).sum()) for w in np.round(grid[:, 0], 6)}
    assert max(counts, key=counts.get) in (0.6, 0.7) and counts[0.6] > 3 * counts[0.0]
    uniform = _agent(preference_step=0.1, exploration_guide=False)._training_preferences(4000)[:, 0].round(6)
    assert (uniform == 0.6).sum() < 1.5 * (uniform == 0.0).sum()


# ---------------------------------------------------------------------------- training, resume, baseline
@pytest.mark.parametrize(("extra", "cut"), [({}, 2), ({"outer_loop": True, "outer_loop_preferences": 2}, 4)],
                         ids=["momix", "outer-loop-inside-its-second-qmix"])  # fmt: skip
def test_killed_run_resumes_to_the_same_archive_replay_and_networks(tmp_path, monkeypatch, extra, cut):
    hparams = {**TINY, **extra}
    kwargs = {"total_timesteps": 1200, "hparams": hparams, "progress_bar": False, "tensorboard": False, "seed": 3}
    whole = morl.train("momix", ENV_A, out=tmp_path / "whole", **kwargs)
    original, calls = runs.Run.log_front, []

    def interrupt_evaluation(self, archive, env_steps, gradient_steps=0):
        calls.append(env_steps)
        if len(calls) == cut:
            raise KeyboardInterrupt
        return original(self, archive, env_steps, gradient_steps)

    monkeypatch.setattr(runs.Run, "log_front", interrupt_evaluation)
    with pytest.raises(Interrupted):
        morl.train("momix", ENV_A, out=tmp_path / "cut", **kwargs)
    if extra:
        assert calls[-2] > whole.agent.phase_budget  # the last checkpoint lies inside the second QMIX
    monkeypatch.undo()
    resumed = morl.train(None, ENV_A, resume=tmp_path / "cut", progress_bar=False, tensorboard=False)
    a, b = ParetoArchive.load(tmp_path / "whole" / "archive"), ParetoArchive.load(tmp_path / "cut" / "archive")
    np.testing.assert_array_equal(a.values, b.values)
    assert [e.network for e in a.entries] == [e.network for e in b.entries]
    assert resumed.agent.gradient_steps == whole.agent.gradient_steps > 0
    assert resumed.agent.episodes == whole.agent.episodes
    for key, value in whole.agent.state_dict()["net"].items():
        torch.testing.assert_close(value, resumed.agent.net.state_dict()[key], rtol=0, atol=0)
    torch.testing.assert_close(whole.agent.buffer.data.obs, resumed.agent.buffer.data.obs, rtol=0, atol=0)


def test_entries_reroll_to_their_stored_values():
    agent = _agent()
    agent.learn(800, progress_bar=False)
    for entry in agent.archive.entries:
        result = agent.task.evaluate(agent.entry_predictor(entry.id), entry.preference, episodes=1,
                                     seed=agent.seed + 10_000)  # fmt: skip
        np.testing.assert_array_equal(result.mean_return, entry.value)


def test_outer_loop_qmix_trains_one_scalar_qmix_per_preference():
    agent = _agent(outer_loop=True, outer_loop_preferences=2, eval_interval=10_000)
    agent.learn(800, progress_bar=False)
    assert agent.phase == 1 and agent.num_timesteps >= 800 and agent.n_out == 1 and agent.cond_dim == 0
    names = {e.network.split("@")[0] for e in agent.archive.entries}
    assert names <= {"qmix0", "qmix1"}
    prefs = {tuple(e.preference) for e in agent.archive.entries}
    assert prefs <= {(1.0, 0.0), (0.0, 1.0)}
    for entry in agent.archive.entries:
        result = agent.task.evaluate(agent.entry_predictor(entry.id), entry.preference, episodes=1,
                                     seed=agent.seed + 10_000)  # fmt: skip
        np.testing.assert_array_equal(result.mean_return, entry.value)


def test_bad_settings_and_tasks_fail_in_one_line():
    with pytest.raises(ValueError, match="step must divide 1"):
        _agent(preference_step=0.3)
    with pytest.raises(ValueError, match="batch_size 300 episodes exceeds buffer_size 200"):
        _agent(batch_size=300)
    with pytest.raises(ValueError, match="epsilon_finish must be in"):
        _agent(epsilon_finish=1.5)
    with pytest.raises(ValueError, match="momix trains on multi tasks"):
        MOMIX(tasks.make("deep-sea-treasure-v0"), device="cpu")


def test_learns_most_of_config_a_front_in_6k_env_steps():
    # every setting the item-gathering preset touches is given, so the preset does not change this test
    fast = {"n_envs": 8, "gradient_steps": 2, "epsilon_anneal_time": 4000, "epsilon_finish": 0.05, "batch_size": 16,
            "rnn_hidden_dim": 32, "target_update_interval": 100, "eval_interval": 2000}  # fmt: skip
    untrained = MOMIX(tasks.make(ENV_A), seed=0, device="cpu", **fast)
    untrained.evaluate()  # the greedy policy of the initial network, over the whole preference grid
    trained = MOMIX(tasks.make(ENV_A), seed=0, device="cpu", **fast)
    trained.learn(6000, progress_bar=False)
    before, after = untrained.archive.hypervolume([0, 0]), trained.archive.hypervolume([0, 0])
    assert before <= 4 and after >= 16, (before, after, trained.archive.values)  # exact front: HV 20


@pytest.mark.parametrize("env_id", ["mobeach_v0", "mobeach_fixed_v0", "moitem_gathering_v0", "mo_spread_v0"])
def test_trains_on_every_registered_team_task(env_id):
    """Beach (10 agents, empty ``state()`` at the end), the fixed-start beach (one-step episodes), item gathering B
    (3 objectives), our particle task."""
    if env_id == "mo_spread_v0":
        pytest.importorskip("mpe2")
    task = tasks.make(env_id)
    agent = MOMIX(task, seed=0, device="cpu", **{**TINY, "n_envs": 2, "batch_size": 2, "preference_step": 0.5})
    agent.learn(150, progress_bar=False)
    assert agent.gradient_steps > 0 and len(agent.archive) >= 1
    assert np.all(agent.archive.values >= task.ref_point)
