"""OPPO: the triplet loss orders contexts, labels respect the budget, runs resume exactly, and DST is learned."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import morl
from morl import data, metrics, runs, tasks
from morl.agents.offline_bc import OfflineBC
from morl.agents.oppo import OPPO
from morl.agents.oppo_nets import preference_loss
from morl.data import behaviour
from morl.pareto import ParetoArchive
from morl.training import Interrupted

DST = "deep-sea-treasure-v0"
SMALL = {"encoder_hidden": 32, "net_arch": (64, 64), "batch_size": 32, "z_dim": 4, "num_preferences": 5,
         "learning_rate": 3e-3, "z_learning_rate": 1e-2, "warmup_steps": 20, "eval_interval": 100}  # fmt: skip


@pytest.fixture(scope="module")
def dst_data() -> data.Dataset:
    """Scripted DST paths for uniform preferences, perturbed (amateur), so the data hold good and bad episodes."""
    return data.collect(DST, behaviour.resolve("scripted", DST), 150, mode="amateur", seed=0, num_envs=8)


def _agent(dataset: data.Dataset, **hparams) -> OPPO:
    torch.set_num_threads(1)
    return OPPO(dataset, seed=0, device="cpu", **{**SMALL, **hparams})


def test_triplet_loss_moves_each_context_to_the_segments_its_preference_prefers():
    """Three fixed embeddings with returns (3, 0), (2, 2), (0, 3): each z*_w must end nearest the best for w."""
    embeddings = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    returns = torch.tensor([[3.0, 0.0], [2.0, 2.0], [0.0, 3.0]])
    weights = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    z_star = torch.nn.Parameter(torch.zeros(3, 2))
    optim = torch.optim.AdamW([z_star], lr=0.05)
    i, j = (x.reshape(-1) for x in torch.meshgrid(torch.arange(3), torch.arange(3), indexing="ij"))
    pref = torch.arange(3).repeat_interleave(len(i))  # every pair under every preference: (27,)
    i, j = i.repeat(3), j.repeat(3)
    gap = ((returns[i] - returns[j]) * weights[pref]).sum(-1)
    better = (gap > 0).unsqueeze(1)
    pos, neg = torch.where(better, embeddings[i], embeddings[j]), torch.where(better, embeddings[j], embeddings[i])
    for _ in range(200):
        optim.zero_grad()
        preference_loss(z_star[pref], pos, neg, 1.0, (gap != 0).float()).backward()
        optim.step()
    nearest = torch.cdist(z_star.detach(), embeddings).argmin(dim=1)
    assert nearest.tolist() == [0, 1, 2]


def test_teacher_labels_by_w_dot_g_and_a_fixed_budget_is_kept(dst_data):
    agent = _agent(dst_data, labelled_pairs=6)
    starts, labels = agent.labels
    assert starts.shape == (5, 6, 2) and labels.shape == (5, 6)
    returns = agent.segments.returns(starts.reshape(-1))  # (P * N * 2, m)
    utility = (returns.view(5, 6, 2, 2) * agent._grid.view(5, 1, 1, 2)).sum(-1)  # (P, N, 2)
    assert torch.equal(labels, torch.sign(utility[..., 0] - utility[..., 1]))
    known = {(p, a, b) for p in range(5) for a, b in starts[p].tolist()}
    for _ in range(5):
        pairs, pref, _ = agent._pairs()
        assert {(p, a, b) for p, (a, b) in zip(pref.tolist(), pairs.tolist(), strict=True)} <= known


def test_segments_score_the_lookahead_within_their_episode(dst_data):
    agent = _agent(dst_data, lookahead=500)
    starts = torch.as_tensor(np.r_[0, dst_data.episode_ends[:-1] + 1][:10])
    np.testing.assert_allclose(agent.segments.returns(starts).numpy(), dst_data.episode_returns()[:10], rtol=1e-5)
    # the episode teacher scores any segment by its whole episode's return, wherever it starts
    middle = torch.as_tensor(dst_data.episode_ends[:10])
    np.testing.assert_allclose(agent.segments.episode_returns(middle).numpy(), dst_data.episode_returns()[:10],
                               rtol=1e-5)  # fmt: skip
    short = _agent(dst_data, lookahead=1).segments.returns(middle)  # one step: each episode's last reward
    np.testing.assert_allclose(short.numpy(), dst_data.rewards[dst_data.episode_ends[:10]], rtol=1e-5)
    batch = agent.segments.gather(starts)
    lengths = np.diff(np.r_[-1, dst_data.episode_ends])[:10]
    assert batch.mask.sum(1).tolist() == np.minimum(lengths, agent.segments.length).tolist()


def test_learns_the_deep_sea_treasure_trade_off_from_amateur_data(dst_data):
    agent = _agent(dst_data, eval_interval=600)
    archive = agent.learn(600, progress_bar=False)
    ref = [0, -25]
    random = data.collect(DST, behaviour.resolve("random", DST, seed=1), 50, seed=1)
    random_hv = metrics.hypervolume(random.episode_returns().mean(0, keepdims=True), ref)
    assert archive.hypervolume(ref) > 3 * random_hv, (archive.values, random_hv)
    assert archive.hypervolume(ref) > 0.6 * metrics.hypervolume(dst_data.front(), ref), archive.values
    latest = [e for e in archive.entries if e.network == "oppo@600"]
    assert len(latest) >= 3
    # entries share one policy snapshot and each carries its own context z*_w
    for entry in latest:
        row = int(np.argmin(np.abs(agent.grid[:, 0] - entry.preference[0])))
        np.testing.assert_allclose(entry.condition, agent.conditions()[row].detach().numpy(), rtol=1e-6)
        rolled = agent.task.evaluate(agent.entry_predictor(entry.id), entry.preference, episodes=1, seed=0)
        np.testing.assert_allclose(rolled.mean_return, entry.value)
    # the treasure value rises with the weight on it
    ordered = sorted(latest, key=lambda e: e.preference[0])
    assert ordered[-1].value[0] > ordered[0].value[0]
    assert agent.grid_returns.shape == (len(agent.grid), 2)  # every grid preference, dominated ones included
    assert metrics.preference_monotonicity(agent.grid, agent.grid_returns) > 0.5


@pytest.mark.parametrize("context_model", ["table", "map"])
def test_killed_run_resumes_to_the_same_contexts_and_archive(dst_data, tmp_path, monkeypatch, context_model):
    hparams = {**SMALL, "eval_interval": 30, "labelled_pairs": 20, "context_model": context_model}
    kwargs = {"total_timesteps": 60, "hparams": hparams,
              "progress_bar": False, "tensorboard": False, "device": "cpu"}  # fmt: skip
    whole = morl.train("oppo", dst_data, out=tmp_path / "whole", **kwargs)
    original, calls = runs.Run.log_front, []

    def interrupt_second_evaluation(self, archive, env_steps, gradient_steps=0):
        calls.append(gradient_steps)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, archive, env_steps, gradient_steps)

    monkeypatch.setattr(runs.Run, "log_front", interrupt_second_evaluation)
    with pytest.raises(Interrupted):
        morl.train("oppo", dst_data, out=tmp_path / "cut", **kwargs)
    monkeypatch.undo()
    resumed = morl.train(None, dst_data, resume=tmp_path / "cut", progress_bar=False, tensorboard=False)
    assert resumed.agent.gradient_steps == whole.agent.gradient_steps == 60
    torch.testing.assert_close(resumed.agent.conditions(), whole.agent.conditions(), rtol=0, atol=0)
    for key, value in whole.agent.policy.state_dict().items():
        torch.testing.assert_close(resumed.agent.policy.state_dict()[key], value, rtol=0, atol=0)
    a, b = ParetoArchive.load(tmp_path / "whole" / "archive"), ParetoArchive.load(tmp_path / "cut" / "archive")
    np.testing.assert_array_equal(a.values, b.values)
    assert [e.network for e in a.entries] == [e.network for e in b.entries]


def test_refuses_online_tasks_datasets_without_an_env_and_bad_budgets(dst_data):
    with pytest.raises(ValueError, match="oppo trains on offline tasks"):
        OPPO(DST, device="cpu")
    orphan = data.Dataset("orphan", dst_data.observations, dst_data.actions, dst_data.rewards, dst_data.terminals,
                          dst_data.truncations, dst_data.observation_space, dst_data.action_space)  # fmt: skip
    with pytest.raises(ValueError, match="dataset 'orphan' names no env"):
        OPPO(tasks.make(orphan), device="cpu")
    with pytest.raises(ValueError, match="labelled_pairs must be 0"):
        _agent(dst_data, labelled_pairs=-1)
    with pytest.raises(ValueError, match="teacher: Input should be 'lookahead' or 'episode'"):
        _agent(dst_data, teacher="oracle")


@pytest.mark.parametrize("condition", ["none", "preference", "rvs"])
def test_bc_baselines_clone_the_data_and_condition_as_named(dst_data, condition):
    agent = OfflineBC(dst_data, seed=0, device="cpu", condition=condition, net_arch=(32,), warmup_steps=1,
                      learning_rate=1e-2, eval_interval=100, num_preferences=3)  # fmt: skip
    archive = agent.learn(100, progress_bar=False)
    assert len(archive) >= 1 and all(e.network == "bc@100" for e in archive.entries)
    conditions = agent.conditions()
    assert conditions.shape == (3, {"none": 0, "preference": 2, "rvs": 4}[condition])
    if condition == "rvs":  # the target: the average reward per step of the best logged episode for w = (1, 0)
        returns, lengths = dst_data.episode_returns(), np.diff(np.r_[-1, dst_data.episode_ends])
        best = np.argmax(returns[:, 0])
        np.testing.assert_allclose(conditions[0, 2:].numpy(), returns[best] / lengths[best], rtol=1e-5)
    entry = archive.entries[0]
    rolled = agent.task.evaluate(agent.entry_predictor(entry.id), entry.preference, episodes=1, seed=0)
    np.testing.assert_allclose(rolled.mean_return, entry.value)


def test_preference_conditioned_baselines_need_behaviour_preferences(dst_data):
    bare = dataclasses.replace(dst_data, preferences=None)
    with pytest.raises(ValueError, match="needs behaviour preferences"):
        OfflineBC(bare, device="cpu", condition="preference")
    OfflineBC(bare, device="cpu", condition="none")


def test_continuous_actions_are_cloned_in_tanh_range_and_mapped_back_to_the_bounds():
    env_id = "mo-mountaincarcontinuous-v0"
    cars = data.collect(env_id, behaviour.resolve("scripted", env_id), 4, mode="amateur", seed=0, num_envs=4)
    agent = _agent(cars, num_preferences=2, eval_interval=20)
    actions = agent.segments.actions
    assert actions.shape == (len(cars.actions), 1) and actions.abs().max() <= 1
    np.testing.assert_allclose(agent._to_env(actions), cars.actions, atol=1e-5)
    archive = agent.learn(20, progress_bar=False)
    assert len(archive) >= 1 and archive.values.shape[1] == 2


def test_context_map_is_one_function_of_the_preference_and_tables_load_from_old_checkpoints(dst_data):
    mapped = _agent(dst_data, context_model="map")
    assert not any(p.shape[0] == len(mapped.grid) for p in mapped.contexts.parameters())  # no row per preference
    mapped.learn(20, progress_bar=False)
    w = torch.tensor([[0.3, 0.7], [0.3, 0.7]])
    torch.testing.assert_close(mapped.contexts(w)[0], mapped.contexts(w)[1])
    torch.testing.assert_close(mapped.conditions(), mapped.contexts(mapped._grid))
    table = _agent(dst_data)
    table.learn(20, progress_bar=False)
    old = {k: v for k, v in table.state_dict().items() if k != "contexts"}
    old["z_star"] = table.conditions().detach().clone() + 1.0  # the format before context_model existed
    fresh = _agent(dst_data)
    fresh.load_state_dict(old)
    torch.testing.assert_close(fresh.conditions(), old["z_star"])
    with pytest.raises(ValueError, match="context_model: Input should be 'table' or 'map'"):
        _agent(dst_data, context_model="mlp")
