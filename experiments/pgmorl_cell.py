"""Train MORL-Baselines' PGMORL as one benchmark cell and write its front as plain JSON.

Why this exists: C-MORL is to be compared with the reference PGMORL implementation (morl-baselines
1.3.0) run by the same benchmark at the same env-step budget on the same machine, without making
morl-baselines a dependency of ``morl``. So this script runs in its own venv and writes only JSON;
``experiments/pgmorl_to_run.py`` (in the project's venv) turns that JSON into a normal run directory
that ``morl eval`` / ``morl plot`` and the benchmark scoring read like any other run.

Setup (once; the venv is not part of the package)::

    python3.11 -m venv .venv-pgmorl
    .venv-pgmorl/bin/pip install "torch==2.13.0"
    .venv-pgmorl/bin/pip install morl-baselines==1.3.0 "mo-gymnasium[mujoco]==1.3.2"   # pycddlib needs libgmp-dev

Usage::

    .venv-pgmorl/bin/python experiments/pgmorl_cell.py --env mo-hopper-2obj-v5 --total-timesteps 1000000 \
        --seed 0 --out runs/pgmorl/mo-hopper-2obj-v5-0 [--ref-point -100 -100] [--quiet]
    .venv/bin/python experiments/pgmorl_to_run.py runs/pgmorl/mo-hopper-2obj-v5-0
    .venv/bin/morl plot runs/pgmorl/mo-hopper-2obj-v5-0

Hyperparameters are PGMORL's constructor defaults (those of ``examples/pgmorl_halfcheetah.py``:
4 envs, population 6, 2048 steps per iteration, 80 warm-up + 20 evolutionary iterations, gamma 0.995
(the constructor default, also used by the example's eval env), origin [0, -5]), device cpu, no wandb.

Budget. One PGMORL iteration trains every population member for ``steps_per_iteration * num_envs``
steps, i.e. ``B = 2048 * 4 * 6 = 49152`` env steps, and ``PGMORL.train`` always runs at least
``warmup + evolutionary`` iterations (100, ~4.9M steps) and finishes whole generations, so it can
overshoot ``total_timesteps`` by up to a generation. To stay within ``--total-timesteps`` N:

* if N holds ``warmup + evolutionary`` iterations, the schedule is kept and as many whole generations
  as fit are run;
* otherwise warm-up and evolutionary iterations are scaled down together (ratio kept, at least 1 each),
  giving one generation, like the library's own example at 5M steps;
* ``train`` is then given exactly ``(warmup + generations * evolutionary) * B`` steps, so the steps
  PGMORL counts (``global_step``, training steps only; its evaluation episodes are not counted) never
  exceed N. N < 2 * B is an error: pass a smaller ``--steps-per-iteration`` (smoke tests).

Front. PGMORL's own archive holds *discounted* returns of the *normalised and clipped* rewards of its
wrapped eval env (stochastic actions), which are not comparable with our undiscounted raw returns. So
every archived policy is re-evaluated for ``--eval-episodes`` episodes on the raw env rewards,
undiscounted, with the observation pipeline it was trained with (ClipAction, NormalizeObservation
frozen at the training envs' final merged statistics, clip to [-10, 10]). ``front`` uses the mean
action (like ``morl.evaluation``, which evaluates deterministically); ``front_stochastic`` uses the
library's sampled actions (``MOPPO.eval``). Both lists are unfiltered; the converter keeps the
non-dominated ones.

Output: ``RUN_DIR/pgmorl_result.json`` only (plain JSON, nothing pickled).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import inspect
import json
import os
import platform
import sys
import time
from copy import deepcopy
from pathlib import Path
from typing import Any

os.environ["WANDB_MODE"] = "disabled"  # wandb is installed with morl-baselines but must never be used
os.environ.setdefault("WANDB_SILENT", "true")

import gymnasium as gym
import mo_gymnasium as mo_gym
import numpy as np
import torch as th
from gymnasium.wrappers.utils import RunningMeanStd
from morl_baselines.common.evaluation import seed_everything
from morl_baselines.multi_policy.pgmorl.pgmorl import PGMORL
from morl_baselines.single_policy.ser.mo_ppo import make_env

RESULT_FILE = "pgmorl_result.json"
EXAMPLE_ORIGIN_2D = (0.0, -5.0)  # examples/pgmorl_halfcheetah.py
# Constructor arguments that are not hyperparameters (logging, env plumbing).
_NOT_HPARAMS = {"self", "env_id", "env", "project_name", "experiment_name", "wandb_entity", "group"}


def library_defaults() -> dict[str, Any]:
    """PGMORL's constructor defaults, read from its signature so they track the installed version."""
    params = inspect.signature(PGMORL.__init__).parameters
    return {
        name: p.default
        for name, p in params.items()
        if name not in _NOT_HPARAMS and p.default is not inspect.Parameter.empty
    }


def fit_schedule(
    total_timesteps: int, steps_per_iteration: int, num_envs: int, pop_size: int, warmup: int, evolutionary: int
) -> dict[str, Any]:
    """Warm-up / evolutionary iterations and the ``train`` budget that keep PGMORL within ``total_timesteps``.

    Needed because ``PGMORL.train`` runs at least ``warmup + evolutionary`` iterations and whole
    generations whatever ``total_timesteps`` says (see the module docstring).
    """
    batch = steps_per_iteration * num_envs * pop_size
    iterations = total_timesteps // batch
    if iterations < 2:
        raise SystemExit(
            f"--total-timesteps {total_timesteps} holds {iterations} PGMORL iteration(s) of {batch} steps "
            f"(steps_per_iteration {steps_per_iteration} x num_envs {num_envs} x pop_size {pop_size}); "
            "at least 2 are needed: lower --steps-per-iteration"
        )
    scaled = iterations < warmup + evolutionary
    if scaled:
        factor = iterations / (warmup + evolutionary)
        new_warmup = max(1, int(warmup * factor))
        new_evolutionary = max(1, iterations - new_warmup)
        generations = 1
    else:
        new_warmup, new_evolutionary = warmup, evolutionary
        generations = (iterations - warmup) // evolutionary
    used = new_warmup + generations * new_evolutionary
    return {
        "iteration_steps": batch,
        "warmup_iterations": new_warmup,
        "evolutionary_iterations": new_evolutionary,
        "generations": generations,
        "iterations": used,
        "train_total_timesteps": used * batch,
        "scaled": scaled,
        "requested_warmup_iterations": warmup,
        "requested_evolutionary_iterations": evolutionary,
    }


def _find_wrapper(env: gym.Env, cls: type) -> gym.Env:
    while not isinstance(env, cls):
        if not hasattr(env, "env"):
            raise RuntimeError(f"no {cls.__name__} wrapper in the training env")
        env = env.env
    return env


def training_obs_rms(algo: PGMORL) -> RunningMeanStd:
    """Observation statistics of the training envs at the end of training, merged over sub-envs.

    The policies were trained on observations normalised by these (all population members share
    PGMORL's vector env); the policy networks do not carry them.
    """
    merged: RunningMeanStd | None = None
    for sub in algo.env.envs:
        rms = _find_wrapper(sub, gym.wrappers.NormalizeObservation).obs_rms
        if merged is None:
            merged = deepcopy(rms)
        else:
            merged.update_from_moments(rms.mean, rms.var, rms.count)
    assert merged is not None
    return merged


def make_eval_env(env_id: str, obs_rms: RunningMeanStd) -> gym.Env:
    """The training env's observation pipeline (frozen) over raw, unnormalised vector rewards."""
    env = mo_gym.make(env_id)
    env = gym.wrappers.ClipAction(env)
    env = gym.wrappers.NormalizeObservation(env)
    env.obs_rms = deepcopy(obs_rms)
    env.update_running_mean = False
    return gym.wrappers.TransformObservation(env, lambda obs: np.clip(obs, -10, 10), env.observation_space)


def evaluate_policy(agent: Any, env: gym.Env, episodes: int, seed: int, deterministic: bool) -> tuple[list, float]:
    """Mean undiscounted raw return vector over ``episodes`` episodes, and the mean episode length."""
    th.manual_seed(seed)
    returns, lengths = [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total = np.zeros(env.unwrapped.reward_space.shape[0])
        steps, done = 0, False
        while not done:
            if deterministic:
                with th.no_grad():
                    x = th.as_tensor(np.asarray(obs), dtype=th.float32, device=agent.device).unsqueeze(0)
                    action = agent.networks.actor_mean(x)[0].cpu().numpy()
            else:
                action = agent.eval(obs, agent.np_weights)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += np.asarray(reward, dtype=np.float64)
            steps += 1
            done = terminated or truncated
        returns.append(total)
        lengths.append(steps)
    return np.mean(returns, axis=0).tolist(), float(np.mean(lengths))


def versions() -> dict[str, str]:
    """Versions of the packages that decide the numbers."""
    found = {"python": platform.python_version()}
    for name in ("morl-baselines", "torch", "mo-gymnasium", "gymnasium", "numpy", "mujoco"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _plain(value: Any) -> Any:
    """JSON-safe copy: numpy arrays and scalars become lists and Python numbers."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, th.device):
        return str(value)
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="MO-Gymnasium id, e.g. mo-hopper-2obj-v5")
    parser.add_argument("--total-timesteps", type=int, required=True, help="env-step budget (training steps)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="run directory; pgmorl_result.json is written there")
    parser.add_argument(
        "--ref-point",
        type=float,
        nargs="+",
        help="HV reference for PGMORL's task selection "
        "(default -100 per objective, as morl.envs has for the MuJoCo envs)",
    )
    parser.add_argument(
        "--origin",
        type=float,
        nargs="+",
        help="performance-buffer origin "
        f"(default {list(EXAMPLE_ORIGIN_2D)} from examples/pgmorl_halfcheetah.py; needed if m != 2)",
    )
    parser.add_argument("--gamma", type=float, default=None, help="discount (default: PGMORL's, 0.995)")
    parser.add_argument("--steps-per-iteration", type=int, default=None, help="default: PGMORL's, 2048")
    parser.add_argument("--num-envs", type=int, default=None, help="default: PGMORL's, 4")
    parser.add_argument("--pop-size", type=int, default=None, help="default: PGMORL's, 6")
    parser.add_argument("--warmup-iterations", type=int, default=None, help="default: PGMORL's, 80")
    parser.add_argument("--evolutionary-iterations", type=int, default=None, help="default: PGMORL's, 20")
    parser.add_argument("--eval-episodes", type=int, default=5, help="episodes per archived policy re-evaluation")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the benchmark uses 1 per cell)")
    parser.add_argument("--quiet", action="store_true", help="discard PGMORL's own (very verbose) stdout")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    th.set_num_threads(args.threads)
    seed_everything(args.seed)

    probe = mo_gym.make(args.env)
    m = int(probe.unwrapped.reward_space.shape[0])
    probe.close()
    ref_point = np.asarray(args.ref_point if args.ref_point else [-100.0] * m, dtype=np.float64)
    if args.origin:
        origin = np.asarray(args.origin, dtype=np.float64)
    elif m == 2:
        origin = np.asarray(EXAMPLE_ORIGIN_2D)
    else:
        raise SystemExit(f"{args.env} has {m} objectives: pass --origin (the example's default is 2-D)")
    if len(ref_point) != m or len(origin) != m:
        raise SystemExit(f"--ref-point and --origin need {m} values for {args.env}")

    hparams = library_defaults()
    for key in ("gamma", "steps_per_iteration", "num_envs", "pop_size", "warmup_iterations", "evolutionary_iterations"):
        if getattr(args, key) is not None:
            hparams[key] = getattr(args, key)
    schedule = fit_schedule(
        args.total_timesteps,
        hparams["steps_per_iteration"],
        hparams["num_envs"],
        hparams["pop_size"],
        hparams["warmup_iterations"],
        hparams["evolutionary_iterations"],
    )
    hparams.update(
        origin=origin,
        warmup_iterations=schedule["warmup_iterations"],
        evolutionary_iterations=schedule["evolutionary_iterations"],
        seed=args.seed,
        log=False,
        device="cpu",
    )
    print(f"pgmorl cell: {args.env} seed {args.seed} budget {args.total_timesteps}: {schedule}", file=sys.stderr)

    library_out = open(os.devnull, "w") if args.quiet else sys.stdout  # noqa: SIM115
    try:
        with contextlib.redirect_stdout(library_out):
            algo = PGMORL(env_id=args.env, **hparams)
            # As in examples/pgmorl_halfcheetah.py: the eval env carries the training wrappers.
            eval_env = make_env(args.env, args.seed + 1000, 0, "PGMORL_eval_env", hparams["gamma"])()
            start = time.perf_counter()
            algo.train(total_timesteps=schedule["train_total_timesteps"], eval_env=eval_env, ref_point=ref_point)
            wall_time = time.perf_counter() - start
    finally:
        if args.quiet:
            library_out.close()
    env_steps = int(algo.global_step)
    print(
        f"pgmorl cell: trained {env_steps} steps in {wall_time:.1f} s ({env_steps / wall_time:.1f} steps/s); "
        f"re-evaluating {len(algo.archive.individuals)} archived policies",
        file=sys.stderr,
    )

    eval_start = time.perf_counter()
    env = make_eval_env(args.env, training_obs_rms(algo))
    policies = []
    for index, (agent, own_eval) in enumerate(zip(algo.archive.individuals, algo.archive.evaluations, strict=True)):
        seed = args.seed + 10_000
        mean_det, len_det = evaluate_policy(agent, env, args.eval_episodes, seed, deterministic=True)
        mean_sto, len_sto = evaluate_policy(agent, env, args.eval_episodes, seed, deterministic=False)
        policies.append(
            {
                "index": index,
                "weights": _plain(agent.np_weights),
                "return": mean_det,
                "return_stochastic": mean_sto,
                "episode_length": len_det,
                "episode_length_stochastic": len_sto,
                "pgmorl_archive_evaluation": _plain(own_eval),
            }
        )
    env.close()
    eval_time = time.perf_counter() - eval_start

    result = {
        "algo": "pgmorl",
        "env": args.env,
        "seed": args.seed,
        "total_timesteps": args.total_timesteps,
        "env_steps": env_steps,
        "wall_time": round(wall_time, 3),
        "steps_per_second": round(env_steps / wall_time, 1),
        "front": [p["return"] for p in policies],
        "front_stochastic": [p["return_stochastic"] for p in policies],
        "front_note": (
            f"undiscounted raw returns, mean of {args.eval_episodes} episodes per archived policy; front: mean "
            "action, front_stochastic: sampled actions (MOPPO.eval); obs normalised with the training envs' "
            "final statistics; unfiltered"
        ),
        "policies": policies,
        "ref_point": ref_point.tolist(),
        "schedule": schedule,
        "eval_episodes": args.eval_episodes,
        "eval_wall_time": round(eval_time, 3),
        "threads": args.threads,
        "versions": versions(),
        "hparams": _plain(hparams),
    }
    target = out / RESULT_FILE
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, target)
    print(f"pgmorl cell: wrote {target} (re-evaluation {eval_time:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
