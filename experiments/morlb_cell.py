"""Train one MORL-Baselines algorithm as a benchmark cell and write its front as plain JSON.

Why this exists: our agents are compared with the reference implementations of MORL-Baselines 1.3.0
(PGMORL, CAPQL, GPI-LS, Envelope Q-learning), run by the same benchmark at the same env-step budget on
the same machine, without making morl-baselines a dependency of ``morl``. So this script runs in its
own venv and writes only JSON; ``experiments/morlb_to_run.py`` (in the project's venv) turns that JSON
into a normal run directory that ``morl eval`` / ``morl plot`` and the benchmark read like any other.

Setup (once; the venv is not part of the package and git ignores it)::

    python3.11 -m venv .venv-morlb
    .venv-morlb/bin/pip install "torch==2.13.0"
    .venv-morlb/bin/pip install morl-baselines==1.3.0 "mo-gymnasium[mujoco]==1.3.2"
    # pycddlib 2.1.6 is built from source: apt-get install -y libgmp-dev if that build fails

The benchmark looks for ``.venv-morlb/bin/python`` (or the interpreter in ``$MORLB_PYTHON``).

Usage::

    .venv-morlb/bin/python experiments/morlb_cell.py --algo gpi-ls --env deep-sea-treasure-v0 \
        --total-timesteps 20000 --seed 0 --out runs/gpi-ls-dst-0 [--set timesteps_per_iter=2000] [--quiet]
    .venv/bin/python experiments/morlb_to_run.py runs/gpi-ls-dst-0
    .venv/bin/morl plot runs/gpi-ls-dst-0

``--set KEY=VALUE`` (VALUE is JSON, or a bare string) sets a constructor argument of the algorithm's
class, one of the ``train`` options listed in ``TRAIN_OPTIONS`` below, or a cell option
(``eval_episodes``, ``front_weights``, ``ref_point``); an unknown key fails with the valid ones.
Everything else is the library's constructor default, read from its signature, with ``log=False``
(no wandb), ``device="cpu"`` and one torch thread (``--threads``).

Algorithms and budgets (``--total-timesteps`` N is the training env steps the library counts in
``global_step``; evaluation episodes the algorithm runs for itself are not counted):

* ``pgmorl`` (continuous actions; MuJoCo). One PGMORL iteration trains every population member for
  ``steps_per_iteration * num_envs`` steps, ``B = 2048 * 4 * 6 = 49152`` env steps by default, and
  ``PGMORL.train`` always runs at least ``warmup + evolutionary`` iterations (100, ~4.9M steps) and
  whole generations. To stay within N: if N holds ``warmup + evolutionary`` iterations the schedule
  is kept and as many whole generations as fit are run; otherwise warm-up and evolutionary iterations
  are scaled down together (ratio kept, at least 1 each), giving one generation, like the library's
  own example at 5M steps. ``train`` then gets exactly ``(warmup + generations * evolutionary) * B``
  steps. N < 2 * B is an error: set a smaller ``steps_per_iteration`` (smoke tests). The origin of
  the performance buffer defaults to ``[0, -5]`` (``examples/pgmorl_halfcheetah.py``; 2 objectives).
  The warm-up population is the first ``pop_size`` weights of ``generate_weights(delta_weight, m)``
  (sorted, so that with 3 objectives, 21 weights at the default 0.2, the first 6 all have w_0 = 0):
  the cell refuses a ``delta_weight`` whose grid is not exactly ``pop_size`` weights.
* ``capql`` (continuous actions; MuJoCo). ``CAPQL.train(N)`` takes exactly N steps (one env).
* ``envelope`` (discrete actions: deep-sea-treasure, minecart, fruit-tree). ``Envelope.train(N)`` takes
  exactly N steps. Note the constructor's defaults keep epsilon at 0.01 from the start; the library's
  minecart example decays it from 1.0 (``initial_epsilon: 1.0, final_epsilon: 0.05,
  epsilon_decay_steps: 50000``): set those in the suite to follow it.
* ``gpi-ls`` (discrete actions). ``GPILS.train`` runs ``N // timesteps_per_iter`` iterations of
  ``timesteps_per_iter`` (default 10,000) steps, one new corner weight each, and stops early when
  linear support has no corner weight left; N < ``timesteps_per_iter`` is an error. Its corner-weight
  search evaluates the GPI policy in a separate eval env (not counted). Checkpoints are off.

Front. Each algorithm's own evaluation is of *discounted* returns (PGMORL's also of normalised,
clipped rewards and sampled actions), which are not comparable with our undiscounted raw returns. So
the front is re-evaluated here for ``eval_episodes`` (default 5) episodes per policy, on the raw env
rewards, undiscounted, with deterministic actions (like ``morl.evaluation``):

* ``pgmorl``: every archived policy, through the observation pipeline it was trained with
  (ClipAction, NormalizeObservation frozen at the training envs' final merged statistics, clip to
  [-10, 10]), acting with the mean action; ``front_stochastic`` also has the library's sampled
  actions (``MOPPO.eval``);
* ``capql``, ``envelope``, ``gpi-ls`` (one weight-conditioned policy each): ``agent.eval(obs, w)``
  (CAPQL: tanh of the mean action; Envelope: greedy; GPI-LS: GPI over its final weight support) for
  each of ``front_weights`` (default 100) weights from ``equally_spaced_weights``, the weights the
  library scores its own front with.

The lists are unfiltered; the converter keeps the non-dominated points.

Output: ``RUN_DIR/morlb_result.json`` only (plain JSON, nothing pickled). Env ids in the ``morl/``
namespace (``morl/treasure-corridor-v0``) are registered from the repository's ``envs`` package, which
needs only Gymnasium.
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
from collections.abc import Callable
from copy import deepcopy
from pathlib import Path
from typing import Any

os.environ["WANDB_MODE"] = "disabled"  # wandb is installed with morl-baselines but must never be used
os.environ.setdefault("WANDB_SILENT", "true")

import gymnasium as gym
import mo_gymnasium as mo_gym
import numpy as np
import torch as th

REPO = Path(__file__).resolve().parent.parent
RESULT_FILE = "morlb_result.json"
ALGOS = ("pgmorl", "capql", "gpi-ls", "envelope")
EXAMPLE_ORIGIN_2D = (0.0, -5.0)  # examples/pgmorl_halfcheetah.py
# Constructor arguments that are not hyperparameters (logging, env plumbing, fixed by the class).
_NOT_HPARAMS = {
    "self",
    "args",
    "kwargs",
    "env_id",
    "env",
    "project_name",
    "experiment_name",
    "wandb_entity",
    "group",
    "log",
    "seed",
    "device",
}
# ``train`` options a suite may set, per algorithm (the rest are logging or fixed here).
TRAIN_OPTIONS: dict[str, tuple[str, ...]] = {
    "pgmorl": (),
    "capql": (),
    "envelope": (),
    "gpi-ls": ("timesteps_per_iter", "num_eval_episodes_for_front"),
}
CELL_OPTIONS = ("eval_episodes", "front_weights", "ref_point")
_CELL_DEFAULTS = {"eval_episodes": 5, "front_weights": 100, "ref_point": None}


def algo_class(algo: str) -> type:
    if algo == "pgmorl":
        from morl_baselines.multi_policy.pgmorl.pgmorl import PGMORL

        return PGMORL
    if algo == "capql":
        from morl_baselines.multi_policy.capql.capql import CAPQL

        return CAPQL
    if algo == "envelope":
        from morl_baselines.multi_policy.envelope.envelope import Envelope

        return Envelope
    if algo == "gpi-ls":
        from morl_baselines.multi_policy.gpi_pd.gpi_pd import GPILS

        return GPILS
    raise SystemExit(f"unknown algorithm {algo!r}; valid: {', '.join(ALGOS)}")


def library_defaults(algo: str) -> dict[str, Any]:
    """The class's constructor defaults, read from its signature so they track the installed version.

    GPI-LS is GPI-PD with ``dyna=False, gpi_pd=False`` (its own ``__init__`` takes ``*args``), so its
    defaults are GPI-PD's less those two and the (unused) dynamics-model ones. Defaults that are
    functions (GPI-PD's ``dynamics_train_freq``) are not settable here.
    """
    cls = algo_class(algo)
    if algo == "gpi-ls":
        from morl_baselines.multi_policy.gpi_pd.gpi_pd import GPIPD

        cls = GPIPD
    params = inspect.signature(cls.__init__).parameters
    defaults = {
        name: p.default
        for name, p in params.items()
        if name not in _NOT_HPARAMS and p.default is not inspect.Parameter.empty and not callable(p.default)
    }
    if algo == "gpi-ls":
        for name in [*defaults]:
            if name in ("dyna", "gpi_pd", "real_ratio") or name.startswith("dynamics_"):
                del defaults[name]
    return defaults


def train_defaults(algo: str) -> dict[str, Any]:
    """Defaults of the settable ``train`` options (TRAIN_OPTIONS), read from ``train``'s signature."""
    params = inspect.signature(algo_class(algo).train).parameters
    return {name: params[name].default for name in TRAIN_OPTIONS[algo]}


def parse_set(pairs: list[str]) -> dict[str, Any]:
    """``["gamma=0.98", "net_arch=[64, 64]"]`` -> typed values (JSON; a bare word stays a string)."""
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            result[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            result[key.strip()] = raw
    return result


def split_settings(algo: str, settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Constructor kwargs, train options and cell options: defaults updated with ``settings``."""
    ctor, train, cell = library_defaults(algo), train_defaults(algo), dict(_CELL_DEFAULTS)
    if algo == "pgmorl":
        ctor.setdefault("origin", None)  # required by the constructor; the default is the example's
    for key, value in settings.items():
        target = next((group for group in (ctor, train, cell) if key in group), None)
        if target is None:
            valid = sorted({*ctor, *train, *cell})
            raise SystemExit(f"--set {key}: not a setting of {algo}; valid: {', '.join(valid)}")
        target[key] = value
    return ctor, train, cell


# --- PGMORL -----------------------------------------------------------------------------------
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
            "at least 2 are needed: lower steps_per_iteration"
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


def training_obs_rms(algo: Any) -> Any:
    """Observation statistics of PGMORL's training envs at the end of training, merged over sub-envs.

    The policies were trained on observations normalised by these (all population members share
    PGMORL's vector env); the policy networks do not carry them.
    """
    merged = None
    for sub in algo.env.envs:
        rms = _find_wrapper(sub, gym.wrappers.NormalizeObservation).obs_rms
        if merged is None:
            merged = deepcopy(rms)
        else:
            merged.update_from_moments(rms.mean, rms.var, rms.count)
    assert merged is not None
    return merged


def pgmorl_eval_env(env_id: str, obs_rms: Any) -> gym.Env:
    """PGMORL's training observation pipeline (frozen) over raw, unnormalised vector rewards."""
    env = mo_gym.make(env_id)
    env = gym.wrappers.ClipAction(env)
    env = gym.wrappers.NormalizeObservation(env)
    env.obs_rms = deepcopy(obs_rms)
    env.update_running_mean = False
    return gym.wrappers.TransformObservation(env, lambda obs: np.clip(obs, -10, 10), env.observation_space)


def run_pgmorl(args: argparse.Namespace, ctor: dict[str, Any], train: dict[str, Any], cell: dict[str, Any],
               m: int) -> dict[str, Any]:  # fmt: skip
    from morl_baselines.single_policy.ser.mo_ppo import make_env

    if ctor["origin"] is None:
        if m != 2:
            raise SystemExit(f"{args.env} has {m} objectives: set origin (the example's default is 2-D)")
        ctor["origin"] = list(EXAMPLE_ORIGIN_2D)
    if len(ctor["origin"]) != m:
        raise SystemExit(f"origin needs {m} values for {args.env}")
    from morl_baselines.multi_policy.pgmorl.pgmorl import generate_weights

    warmup = len(generate_weights(ctor["delta_weight"], m))
    if warmup != ctor["pop_size"]:  # the library keeps the first pop_size weights of its sorted grid
        raise SystemExit(f"pgmorl: delta_weight {ctor['delta_weight']} gives {warmup} warm-up weights for {m} "
                         f"objectives but pop_size is {ctor['pop_size']}; the library would train only the first "
                         f"{min(warmup, ctor['pop_size'])}, a corner of the simplex: make them equal (3 objectives: "
                         f"delta_weight 0.5 gives 6)")  # fmt: skip
    schedule = fit_schedule(
        args.total_timesteps,
        ctor["steps_per_iteration"],
        ctor["num_envs"],
        ctor["pop_size"],
        ctor["warmup_iterations"],
        ctor["evolutionary_iterations"],
    )
    kwargs = {
        **ctor,
        "origin": np.asarray(ctor["origin"], dtype=np.float64),
        "warmup_iterations": schedule["warmup_iterations"],
        "evolutionary_iterations": schedule["evolutionary_iterations"],
    }
    print(f"morlb cell: pgmorl schedule {schedule}", file=sys.stderr)
    with _library_output(args.quiet):
        algo = algo_class("pgmorl")(env_id=args.env, seed=args.seed, log=False, device="cpu", **kwargs)
        # As in examples/pgmorl_halfcheetah.py: the eval env carries the training wrappers.
        eval_env = make_env(args.env, args.seed + 1000, 0, "PGMORL_eval_env", ctor["gamma"])()
        start = time.perf_counter()
        algo.train(total_timesteps=schedule["train_total_timesteps"], eval_env=eval_env,
                   ref_point=np.asarray(cell["ref_point"], dtype=np.float64))  # fmt: skip
        wall_time = time.perf_counter() - start
    env_steps = int(algo.global_step)
    _trained(args.algo, env_steps, wall_time, len(algo.archive.individuals))

    eval_start = time.perf_counter()
    env = pgmorl_eval_env(args.env, training_obs_rms(algo))
    policies = []
    seed = args.seed + 10_000
    episodes = cell["eval_episodes"]
    for index, (agent, own_eval) in enumerate(zip(algo.archive.individuals, algo.archive.evaluations, strict=True)):

        def mean_action(obs: np.ndarray, agent: Any = agent) -> np.ndarray:
            x = th.as_tensor(np.asarray(obs), dtype=th.float32, device=agent.device).unsqueeze(0)
            return agent.networks.actor_mean(x)[0].cpu().numpy()

        def sampled_action(obs: np.ndarray, agent: Any = agent) -> np.ndarray:
            return agent.eval(obs, agent.np_weights)

        mean_det, len_det = rollout(mean_action, env, episodes, seed)
        mean_sto, len_sto = rollout(sampled_action, env, episodes, seed)
        policies.append(
            {
                "index": index,
                "weights": _plain(agent.np_weights),
                "return": mean_det,
                "return_stochastic": mean_sto,
                "episode_length": len_det,
                "episode_length_stochastic": len_sto,
                "library_evaluation": _plain(own_eval),
            }
        )
    env.close()
    return {
        "env_steps": env_steps,
        "wall_time": wall_time,
        "eval_wall_time": time.perf_counter() - eval_start,
        "policies": policies,
        "front_stochastic": [p["return_stochastic"] for p in policies],
        "schedule": schedule,
        "front_note": (
            f"undiscounted raw returns, mean of {episodes} episodes per archived policy; front: mean action, "
            "front_stochastic: sampled actions (MOPPO.eval); obs normalised with the training envs' final "
            "statistics; unfiltered"
        ),
    }


# --- weight-conditioned algorithms: CAPQL, Envelope, GPI-LS -----------------------------------
def run_conditioned(args: argparse.Namespace, ctor: dict[str, Any], train: dict[str, Any], cell: dict[str, Any],
                    m: int) -> dict[str, Any]:  # fmt: skip
    from morl_baselines.common.weights import equally_spaced_weights

    env = mo_gym.make(args.env)
    env.reset(seed=args.seed)  # the library resets without a seed: later resets continue this stream
    env.action_space.seed(args.seed)
    discrete = isinstance(env.action_space, gym.spaces.Discrete)
    if args.algo == "capql" and discrete:
        raise SystemExit(f"capql needs continuous actions; {args.env} has {env.action_space}")
    if args.algo in ("envelope", "gpi-ls") and not discrete:
        raise SystemExit(f"{args.algo} needs discrete actions; {args.env} has {env.action_space}")
    ref_point = np.asarray(cell["ref_point"], dtype=np.float64)
    schedule: dict[str, Any] = {"train_total_timesteps": args.total_timesteps}
    with _library_output(args.quiet):
        algo = algo_class(args.algo)(env, seed=args.seed, log=False, device="cpu", **ctor)
        start = time.perf_counter()
        if args.algo == "gpi-ls":
            per_iter = int(train["timesteps_per_iter"])
            iterations = args.total_timesteps // per_iter
            if iterations < 1:
                raise SystemExit(
                    f"--total-timesteps {args.total_timesteps} holds no GPI-LS iteration of timesteps_per_iter "
                    f"{per_iter}: lower timesteps_per_iter"
                )
            schedule = {"timesteps_per_iter": per_iter, "max_iterations": iterations,
                        "train_total_timesteps": iterations * per_iter}  # fmt: skip
            eval_env = mo_gym.make(args.env)
            eval_env.reset(seed=args.seed + 1000)
            algo.train(total_timesteps=args.total_timesteps, eval_env=eval_env, ref_point=ref_point,
                       weight_selection_algo="gpi-ls", checkpoints=False, **train)  # fmt: skip
        else:
            algo.train(total_timesteps=args.total_timesteps, eval_env=None if args.algo == "envelope" else env,
                       ref_point=ref_point, **train)  # fmt: skip
        wall_time = time.perf_counter() - start
    env_steps = int(algo.global_step)
    weights = [np.asarray(w, dtype=np.float64) for w in equally_spaced_weights(m, n=int(cell["front_weights"]))]
    _trained(args.algo, env_steps, wall_time, len(weights))

    eval_start = time.perf_counter()
    eval_env = mo_gym.make(args.env)
    policies = []
    for index, w in enumerate(weights):
        w = np.clip(w, 0.0, None)
        w = w / w.sum()
        w32 = w.astype(np.float32)
        mean, length = rollout(lambda obs, w32=w32: algo.eval(np.asarray(obs), w32), eval_env,
                               cell["eval_episodes"], args.seed + 10_000)  # fmt: skip
        policies.append({"index": index, "weights": w.tolist(), "return": mean, "episode_length": length})
    eval_env.close()
    env.close()
    result: dict[str, Any] = {
        "env_steps": env_steps,
        "wall_time": wall_time,
        "eval_wall_time": time.perf_counter() - eval_start,
        "policies": policies,
        "schedule": schedule,
        "front_note": (
            f"undiscounted raw returns, mean of {cell['eval_episodes']} episodes for each of {len(weights)} "
            "equally spaced weights (morl_baselines.common.weights.equally_spaced_weights), deterministic "
            "agent.eval(obs, w); unfiltered"
        ),
    }
    if args.algo == "gpi-ls":
        result["weight_support"] = [_plain(w.cpu().numpy()) for w in algo.weight_support]
    return result


# --- shared -----------------------------------------------------------------------------------
def rollout(act: Callable[[np.ndarray], Any], env: gym.Env, episodes: int, seed: int) -> tuple[list[float], float]:
    """Mean undiscounted raw return vector over ``episodes`` episodes, and the mean episode length."""
    th.manual_seed(seed)
    returns, lengths = [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total = np.zeros(env.unwrapped.reward_space.shape[0])
        steps, done = 0, False
        while not done:
            with th.no_grad():
                action = act(obs)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += np.asarray(reward, dtype=np.float64)
            steps += 1
            done = terminated or truncated
        returns.append(total)
        lengths.append(steps)
    return np.mean(returns, axis=0).tolist(), float(np.mean(lengths))


@contextlib.contextmanager
def _library_output(quiet: bool):
    """The library prints a lot (PGMORL per iteration, GPI-LS each weight): discard it with ``--quiet``."""
    if not quiet:
        yield
        return
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


def _trained(algo: str, env_steps: int, wall_time: float, policies: int) -> None:
    print(
        f"morlb cell: {algo} trained {env_steps} steps in {wall_time:.1f} s "
        f"({env_steps / max(wall_time, 1e-9):.1f} steps/s); evaluating {policies} policies",
        file=sys.stderr,
    )


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
    parser.add_argument("--algo", required=True, choices=ALGOS)
    parser.add_argument("--env", required=True, help="MO-Gymnasium id, e.g. mo-hopper-2obj-v5, deep-sea-treasure-v0")
    parser.add_argument("--total-timesteps", type=int, required=True, help="env-step budget (training steps)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help=f"run directory; {RESULT_FILE} is written there")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="hyperparameters (JSON values)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the benchmark uses 1 per cell)")
    parser.add_argument("--quiet", action="store_true", help="discard the library's own (verbose) stdout")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from morl_baselines.common.evaluation import seed_everything

    args = parse_args(argv)
    if args.env.startswith("morl/"):  # our own envs: the checkout's envs/ registers them (morl is not installed here)
        sys.path.insert(0, str(REPO))
        import envs  # noqa: F401
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    th.set_num_threads(args.threads)
    seed_everything(args.seed)
    ctor, train, cell = split_settings(args.algo, parse_set(args.set))

    probe = mo_gym.make(args.env)
    m = int(probe.unwrapped.reward_space.shape[0])
    probe.close()
    if cell["ref_point"] is None:
        cell["ref_point"] = [-100.0] * m  # only for the library's own logging/task selection, not our scoring
    if len(cell["ref_point"]) != m:
        raise SystemExit(f"ref_point needs {m} values for {args.env}")
    print(f"morlb cell: {args.algo} on {args.env} seed {args.seed} budget {args.total_timesteps}", file=sys.stderr)

    run = run_pgmorl if args.algo == "pgmorl" else run_conditioned
    outcome = run(args, ctor, train, cell, m)
    wall_time = outcome.pop("wall_time")
    policies = outcome.pop("policies")
    result = {
        "algo": args.algo,
        "library": f"morl-baselines {versions()['morl-baselines']} {algo_class(args.algo).__name__}",
        "env": args.env,
        "seed": args.seed,
        "total_timesteps": args.total_timesteps,
        "env_steps": outcome.pop("env_steps"),
        "wall_time": round(wall_time, 3),
        "front": [p["return"] for p in policies],
        **outcome,
        "policies": policies,
        "eval_episodes": cell["eval_episodes"],
        "threads": args.threads,
        "versions": versions(),
        # What was asked for (defaults + --set); what PGMORL actually ran is in "schedule".
        "hparams": _plain({**ctor, **train, **cell}),
    }
    result["steps_per_second"] = round(result["env_steps"] / max(wall_time, 1e-9), 1)
    result["eval_wall_time"] = round(result["eval_wall_time"], 3)
    target = out / RESULT_FILE
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, target)
    print(f"morlb cell: wrote {target} (re-evaluation {result['eval_wall_time']:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
