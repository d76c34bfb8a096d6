"""Offline datasets: collection from scripted families, the Minari (HDF5) round trip, damaged files, the CLI."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from morl import cli, data, metrics, preferences, storage, tasks
from morl.data import behaviour

DST = "deep-sea-treasure-v0"


@pytest.fixture(scope="module")
def dst_amateur() -> data.Dataset:
    return data.collect(DST, behaviour.resolve("scripted", DST), 30, mode="amateur", seed=3, num_envs=4)


@pytest.fixture(scope="module")
def saved(dst_amateur, tmp_path_factory) -> Path:
    return data.save(dst_amateur, tmp_path_factory.mktemp("datasets") / "dst-amateur-v0")


def test_minari_round_trip_keeps_reward_vectors_and_behaviour_preferences(dst_amateur, saved, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a dataset must never be unpickled")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    back = data.load(saved)
    assert back.rewards.shape == dst_amateur.rewards.shape == (len(dst_amateur.actions), 2)
    for field in ("observations", "actions", "rewards", "terminals", "truncations", "preferences",
                  "final_observations"):  # fmt: skip
        np.testing.assert_array_equal(getattr(back, field), getattr(dst_amateur, field), err_msg=field)
    assert (back.name, back.env_id, back.action_space, back.observation_space) == (
        dst_amateur.name,
        DST,
        dst_amateur.action_space,
        dst_amateur.observation_space,
    )
    np.testing.assert_array_equal(back.episode_returns(), dst_amateur.episode_returns())
    assert data.is_dataset(saved) and data.is_dataset(str(saved)) and not data.is_dataset(DST)


def test_minari_itself_reads_the_directory_with_vector_rewards(dst_amateur, saved, monkeypatch):
    import minari

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(saved.parent))
    episode = next(minari.load_dataset(saved.name).iterate_episodes())
    steps = len(episode.actions)
    assert episode.rewards.shape == (steps, 2) and episode.infos["preference"].shape == (steps + 1, 2)
    np.testing.assert_array_equal(episode.rewards, dst_amateur.rewards[:steps])


def _copy(saved: Path, to: Path) -> Path:
    target = to / saved.name
    (target / "data").mkdir(parents=True)
    for file in ("main_data.hdf5", "metadata.json"):
        (target / "data" / file).write_bytes((saved / "data" / file).read_bytes())
    return target


def test_damaged_and_foreign_files_fail_in_one_line_naming_the_problem(saved, tmp_path):
    truncated = _copy(saved, tmp_path / "t")
    hdf5 = truncated / "data" / "main_data.hdf5"
    hdf5.write_bytes(hdf5.read_bytes()[: hdf5.stat().st_size // 3])
    garbled = _copy(saved, tmp_path / "g")
    (garbled / "data" / "metadata.json").write_text("{not json")
    foreign = _copy(saved, tmp_path / "f")
    (foreign / "data" / "metadata.json").write_text(json.dumps({"hello": "world"}))
    arrow = _copy(saved, tmp_path / "a")
    meta = json.loads((arrow / "data" / "metadata.json").read_text())
    (arrow / "data" / "metadata.json").write_text(json.dumps({**meta, "data_format": "arrow"}))
    garbage = _copy(saved, tmp_path / "b")
    (garbage / "data" / "main_data.hdf5").write_bytes(os.urandom(4096))
    cases = [
        (truncated, "not a readable HDF5 file"),
        (garbled, "is not valid JSON"),
        (foreign, "not a Minari dataset's metadata"),
        (arrow, "'arrow' back end"),
        (garbage, "not a readable HDF5 file"),
        (tmp_path / "missing-v0", "does not exist"),
    ]
    for path, message in cases:
        with pytest.raises(storage.FormatError, match=message) as err:
            data.load(path)
        assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_scalar_reward_minari_datasets_are_refused(tmp_path, monkeypatch):
    import gymnasium as gym
    from minari import create_dataset_from_buffers
    from minari.data_collector import EpisodeBuffer

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    episode = EpisodeBuffer(observations=np.zeros((3, 2), np.float32), actions=np.zeros(2, np.int64),
                            rewards=[1.0, 2.0], terminations=[False, True], truncations=[False, False])  # fmt: skip
    with pytest.warns(UserWarning):
        create_dataset_from_buffers("scalar-v0", [episode], observation_space=gym.spaces.Box(0, 1, (2,)),
                                    action_space=gym.spaces.Discrete(2), data_format="hdf5")  # fmt: skip
    with pytest.raises(storage.FormatError, match="scalar-reward dataset is not multi-objective"):
        data.load(tmp_path / "scalar-v0")


def test_save_refuses_names_minari_cannot_read_and_existing_directories(dst_amateur, saved, tmp_path):
    with pytest.raises(ValueError, match="must look like NAME-vN"):
        data.save(dst_amateur, tmp_path / "no-version")
    with pytest.raises(ValueError, match="already exists"):
        data.save(dst_amateur, saved)


def test_scripted_dst_family_covers_the_convex_front_and_amateurs_stray(dst_amateur):
    expert = data.collect(DST, behaviour.resolve("scripted", DST), 60, seed=0, num_envs=4)
    sea_front = np.array([[0.7, -1], [8.2, -3], [11.5, -5], [14.0, -7], [15.1, -8], [16.1, -9], [19.6, -13],
                          [20.3, -14], [22.4, -17], [23.7, -19]])  # fmt: skip
    weights = preferences.simplex_grid(2, 0.001)
    supported = np.unique(sea_front[np.argmax(weights @ sea_front.T, axis=1)], axis=0)
    returns = np.round(expert.episode_returns(), 4)
    # every expert episode is the best treasure for its own preference, reached by a shortest path
    best = sea_front[np.argmax(np.einsum("em,km->ek", expert.preferences[expert.episode_ends], sea_front), axis=1)]
    np.testing.assert_allclose(returns, best, atol=1e-4)
    assert {tuple(p) for p in np.round(expert.front(), 4)} <= {tuple(p) for p in supported}
    assert len(expert.front()) >= 4
    # amateur (perturbed) behaviour leaves the shortest paths in some episodes
    assert (dst_amateur.episode_returns()[:, 1] < -19).any()


def test_preference_distributions_and_one_preference_per_episode():
    narrow = preferences.sample("narrow", 500, 2, 0)
    wide = preferences.sample("wide", 500, 2, 0)
    assert narrow.min() >= 1 / 3 - 1e-12 and narrow.max() <= 2 / 3 + 1e-12
    assert wide.min() < 0.05 and wide.max() > 0.95
    np.testing.assert_allclose(np.r_[narrow.sum(1), wide.sum(1)], 1.0)
    with pytest.raises(ValueError, match="unknown preference distribution 'flat'"):
        preferences.sample("flat", 1, 2)
    one = data.collect(DST, behaviour.resolve("random", DST), 12, distribution="narrow", seed=5, num_envs=3)
    again = data.collect(DST, behaviour.resolve("random", DST), 12, distribution="narrow", seed=5, num_envs=3)
    np.testing.assert_array_equal(one.rewards, again.rewards)
    for rows in one.episode_slices():
        assert np.ptp(one.preferences[rows], axis=0).max() == 0


def test_mountain_car_family_trades_time_for_energy():
    env_id = "mo-mountaincarcontinuous-v0"
    cars = data.collect(env_id, behaviour.resolve("scripted", env_id), 6, distribution="wide", seed=0, num_envs=6)
    w_time = cars.preferences[cars.episode_ends, 0]
    returns = cars.episode_returns()
    order = np.argsort(w_time)
    # caring more for time: fewer steps (a larger time return), more energy spent
    assert returns[order[-1], 0] > returns[order[0], 0] and returns[order[-1], 1] < returns[order[0], 1]
    assert len(cars.front()) >= 3


def test_cli_collects_and_describes_a_dataset(tmp_path, capsys):
    out = tmp_path / "dst-random-v0"
    assert cli.main(["data", "collect", DST, "--episodes", "40", "--out", str(out), "--seed", "1"]) == 0
    assert cli.main(["data", "info", str(out)]) == 0
    text = capsys.readouterr().out
    dataset = data.load(out)
    hv = metrics.hypervolume(dataset.front(), [0, -25])
    assert "episodes: 40" in text and "objectives: 2" in text and f"hypervolume: {hv:.6g}" in text
    assert "reference point: [0.0, -25.0]" in text
    assert cli.main(["data", "collect", DST, "--out", str(tmp_path / "unversioned")]) == 2
    assert "must look like NAME-vN" in capsys.readouterr().err


def test_a_dataset_directory_is_recorded_by_its_absolute_path(saved, monkeypatch):
    from morl import tasks

    monkeypatch.chdir(saved.parent.parent)  # given relative to here, found again from anywhere
    task = tasks.make(os.path.join(saved.parent.name, saved.name))
    assert task.spec == str(saved.resolve()) and Path(task.spec).is_absolute()


def test_a_run_trained_on_a_loaded_dataset_finds_it_again_by_its_path(saved, tmp_path, monkeypatch):
    import morl
    from morl import agents, runs

    loaded = data.load(saved)
    assert loaded.path == str(saved.resolve())
    monkeypatch.chdir(tmp_path)  # nothing below may depend on the working directory
    out = tmp_path / "bc-run"
    morl.train("bc", loaded, total_timesteps=20, out=out, hparams={"eval_interval": 20, "eval_episodes": 1},
               progress_bar=False, tensorboard=False, device="cpu")  # fmt: skip
    assert runs.read_config(out)["env"] == str(saved.resolve())
    agent = agents.get("bc").load(out, device="cpu")  # no dataset given: found by the recorded path
    assert agent.task.kind == "offline" and agent.task.source.num_episodes == loaded.num_episodes
    resumed = morl.train(None, resume=out, total_timesteps=40, progress_bar=False, tensorboard=False)
    assert resumed.agent.gradient_steps == 40


def test_a_dataset_path_that_resolves_nowhere_is_named_in_the_error(tmp_path, monkeypatch):
    """Runs recorded before datasets kept their absolute path name a relative one; from elsewhere it is missing."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"'datasets/gone-v0' is neither a dataset directory \(no dataset at .*"
                                         r"datasets/gone-v0\) nor a registered env id"):  # fmt: skip
        tasks.make("datasets/gone-v0")
    assert tasks.make("morl/treasure-corridor-v0").num_objectives == 2  # a namespaced id is still an env
