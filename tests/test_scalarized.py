import json

import numpy as np
import pytest

from morl import agents
from morl.agents.scalarized import Scalarized
from morl.storage import FormatError

CORRIDOR = "morl/treasure-corridor-v0"
TINY = {"num_preferences": 2, "n_steps": 32, "n_envs": 2, "eval_episodes": 1, "n_epochs": 1, "batch_size": 32}


def test_registered_by_name():
    assert agents.get("scalarized") is Scalarized
    with pytest.raises(ValueError, match="valid choices"):
        agents.get("pgmorl")


def test_bad_hyperparameters_and_inputs_are_rejected():
    with pytest.raises(ValueError, match="continuous"):
        Scalarized(CORRIDOR, algorithm="sac")
    with pytest.raises(ValueError, match="algorithm: Input should be 'ppo' or 'sac'"):
        Scalarized(CORRIDOR, algorithm="dqn")
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        Scalarized(CORRIDOR, learning_rte=1.0)
    with pytest.raises(ValueError, match="invalid device"):
        Scalarized(CORRIDOR, device="tpu:9")


def test_callback_can_stop_training_and_predict_validates_preference():
    seen = []

    def stop_after_first(agent, info):
        seen.append(info["env_steps"])
        return False

    agent = Scalarized(CORRIDOR, seed=1, **TINY)
    agent.learn(2000, callback=stop_after_first, progress_bar=False)
    assert len(seen) == 1 and agent.completed == [0]
    obs = np.eye(5, dtype=np.float32)[:3]
    assert agent.predict(obs, [1.0, 0.0])[0].shape == (3,)
    with pytest.raises(ValueError, match="length 2"):
        agent.predict(obs, [1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="sum to 1"):
        agent.predict(obs, [0.6, 0.6])


def test_load_rejects_foreign_directory(tmp_path):
    (tmp_path / "agent.json").write_text(json.dumps({"format": "sb3", "algo": "ppo"}))
    with pytest.raises(FormatError, match="not a saved 'scalarized' agent"):
        Scalarized.load(tmp_path)
    with pytest.raises(FormatError, match="does not exist"):
        Scalarized.load(tmp_path / "missing")


def test_sac_option_trains_on_continuous_actions(tmp_path):
    agent = Scalarized(
        "mo-mountaincarcontinuous-v0", seed=0, algorithm="sac", num_preferences=1, n_envs=1, eval_episodes=1,
        batch_size=32,
    )  # fmt: skip
    archive = agent.learn(300, progress_bar=False)
    assert len(archive) == 1 and agent.num_timesteps >= 300
    agent.save(tmp_path)
    loaded = Scalarized.load(tmp_path)
    obs = np.zeros((2, 2), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(obs, [0.5, 0.5])[0], agent.predict(obs, [0.5, 0.5])[0], atol=1e-6)
