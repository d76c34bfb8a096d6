"""``morl`` command line: train, eval, plot, envs, check-env.

Every user mistake (unknown algorithm, env or option, bad value) ends in one line naming the
valid choices and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from morl import agents, envs, metrics, preferences, storage
from morl import config as config_lib
from morl.pareto import ParetoArchive
from morl.runs import EvalSettings, Run, default_run_dir, read_config

DEFAULT_ENV = "deep-sea-treasure-v0"
DEFAULT_TIMESTEPS = 100_000


def eval_weights(num_objectives: int) -> np.ndarray:
    """Preferences over which expected utility is averaged: a fine grid for 2-3 objectives."""
    if num_objectives == 1:
        return np.ones((1, 1))
    if num_objectives == 2:
        return preferences.simplex_grid(2, 0.01)
    if num_objectives == 3:
        return preferences.simplex_grid(3, 0.05)
    return preferences.simplex_grid(num_objectives, 1.0 / max(2, 12 - 2 * num_objectives))


def _eval_settings(env_spec: str, ref_point: list[float] | None) -> EvalSettings:
    env = envs.make_env(env_spec)
    m = envs.reward_dim(env)
    defaults = envs.defaults_for(env_spec, env)
    if ref_point is None:
        if defaults is None:
            raise ValueError(f"env {env_spec!r} has no registered reference point: pass --ref-point r1 r2 ...")
        ref_point = list(defaults.ref_point)
    if len(ref_point) != m:
        raise ValueError(f"--ref-point needs {m} values for {env_spec!r}, got {len(ref_point)}")
    front = envs.true_front(env, gamma=1.0) if defaults is None or defaults.has_true_front else None
    return EvalSettings(np.asarray(ref_point, dtype=np.float64), eval_weights(m), front)


def _hparams(args: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if args.config:
        values.update(config_lib.load_yaml(args.config))
    values.update(config_lib.parse_overrides(args.set or []))
    return values


def cmd_train(args: argparse.Namespace) -> int:
    if args.resume:
        run_path = Path(args.resume)
        saved = read_config(run_path)
        algo, env_spec, seed = saved["algo"], saved["env"], int(saved["seed"])
        total, hparams, device = int(saved["total_timesteps"]), saved["hparams"], args.device or saved["device"]
        settings = _saved_settings(saved)
    else:
        if not args.algo:
            raise ValueError(f"train needs an algorithm; valid choices: {', '.join(sorted(agents.REGISTRY))}")
        algo, env_spec, seed, total = args.algo, args.env, args.seed, args.total_timesteps
        device = args.device or "auto"
        agents.get(algo)
        hparams = _hparams(args)
        if args.executor:
            hparams["executor"] = args.executor
        if args.ray_address:
            hparams["ray_address"] = args.ray_address
        settings = _eval_settings(env_spec, args.ref_point)
        run_path = Path(args.out) if args.out else default_run_dir(algo, envs.env_name(env_spec), seed)
        if run_path.exists() and any(run_path.iterdir()):
            raise ValueError(f"run directory {run_path} is not empty; use --resume {run_path} to continue it")
    agent_cls = agents.get(algo)
    hparams = {**agent_cls.default_hparams(env_spec), **hparams}
    agent = agent_cls(env_spec, seed=seed, device=device, config=config_lib.build(agent_cls.Config, hparams))
    run = Run.open(run_path, settings)
    if not args.resume:
        run.write_config(
            {
                "algo": algo,
                "env": env_spec,
                "seed": seed,
                "total_timesteps": total,
                "device": device,
                "hparams": config_lib.to_dict(agent.config),
            }
        )
    print(f"morl: training {algo} on {env_spec} for {total} env steps -> {run_path}", file=sys.stderr)
    try:
        agent.learn(total, progress_bar=not args.no_progress, run=run)
    finally:
        run.close()
    agent.save(run_path)
    _report(agent.archive.values, settings)
    from morl import plotting

    for path in plotting.plot_runs([run_path]):
        print(f"plot: {path}")
    return 0


def _report(front: np.ndarray, settings: EvalSettings) -> None:
    report = metrics.evaluate_front(front, settings.ref_point, settings.weights, settings.true_front)
    for key, value in report.items():
        print(f"{key}: {value:.6g}")


def _saved_settings(saved: dict[str, Any]) -> EvalSettings:
    return EvalSettings(
        np.asarray(saved["ref_point"]),
        np.asarray(saved["eval_weights"]),
        None if saved["true_front"] is None else np.asarray(saved["true_front"]),
    )


def cmd_eval(args: argparse.Namespace) -> int:
    """Score a run's archive; with ``--episodes``, re-roll each stored policy first.

    Runs of algorithms outside the registry (e.g. an external baseline converted into a run
    directory) have an archive without policies: they are scored, but cannot be re-rolled.
    """
    run_path = Path(args.run_dir)
    saved = read_config(run_path)
    settings = _saved_settings(saved)
    if saved["algo"] not in agents.REGISTRY or not (run_path / "agent.json").exists():
        if args.episodes:
            raise ValueError(f"{run_path} holds no loadable '{saved['algo']}' agent: it can be scored, not re-rolled")
        _report(ParetoArchive.load(run_path / "archive", load_policies=False).values, settings)
        return 0
    agent = agents.get(saved["algo"]).load(run_path, device=args.device or "auto")
    front = agent.archive.values
    if args.episodes:
        from morl import evaluation

        vec = envs.make(saved["env"], num_envs=min(args.episodes, 4))
        measured = []
        for entry in agent.archive.entries:
            pref = entry.preference if entry.preference is not None else np.eye(len(entry.value))[0]
            result = evaluation.evaluate(agent.entry_actor(entry.id), vec, pref, args.episodes, seed=args.seed)
            measured.append(result.mean_return)
            print(
                f"entry {entry.id}: stored {np.round(entry.value, 4).tolist()} measured "
                f"{np.round(result.mean_return, 4).tolist()}"
            )
        front = np.asarray(measured)
    _report(front, settings)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from morl import plotting

    for path in plotting.plot_runs([Path(p) for p in args.run_dirs], out_dir=args.out):
        print(f"plot: {path}")
    return 0


def cmd_envs(args: argparse.Namespace) -> int:
    print(f"{'id':36} {'m':>2}  {'reference point':30} true front")
    for env_id in envs.registered_ids():
        try:
            env = envs.make_env(env_id)
            dim = str(envs.reward_dim(env))
            defaults = envs.defaults_for(env_id, env)
            env.close()
        except Exception as err:  # an optional dependency is missing: say which
            print(f"{env_id:36} {'?':>2}  unavailable: {str(err).splitlines()[0][:70]}")
            continue
        ref = "-" if defaults is None else str(list(defaults.ref_point))
        front = "yes" if defaults is not None and defaults.has_true_front else "no"
        print(f"{env_id:36} {dim:>2}  {ref:30} {front}")
    return 0


def cmd_check_env(args: argparse.Namespace) -> int:
    env = envs.make_env(args.env)
    envs.check_env(env)
    print(f"{args.env}: OK ({envs.reward_dim(env)} objectives, reward_space {env.unwrapped.reward_space})")
    return 0


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line that lists the valid options of the (sub)command."""

    def error(self, message: str) -> None:  # type: ignore[override]
        options = sorted({s for a in self._actions for s in a.option_strings if s.startswith("--") and s != "--help"})
        valid = f"; valid options: {', '.join(options)}" if options and not message.startswith("argument ") else ""
        self.exit(2, f"{self.prog}: error: {message}{valid}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="morl", description="Multi-objective reinforcement learning.")
    sub = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser, metavar="{train,eval,plot,envs,check-env}"
    )

    train = sub.add_parser("train", help="train an agent and write a run directory")
    train.add_argument("algo", nargs="?", help=f"algorithm: {', '.join(sorted(agents.REGISTRY))}")
    train.add_argument("--env", default=DEFAULT_ENV, help="registered id or module:Class (default %(default)s)")
    train.add_argument("--total-timesteps", type=int, default=DEFAULT_TIMESTEPS, help="env steps (all envs)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default=None, help="auto (CUDA if available), cpu or cuda")
    train.add_argument("--out", help="run directory (default runs/<algo>-<env>-<seed>-<timestamp>)")
    train.add_argument("--config", help="YAML file of hyperparameters")
    train.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="override hyperparameters")
    train.add_argument("--ref-point", nargs="+", type=float, help="hypervolume reference point")
    train.add_argument("--executor", choices=["local", "serial", "ray"], help="where independent jobs run")
    train.add_argument("--ray-address", help="Ray cluster address for --executor ray (default: start a local one)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    train.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("eval", help="score a run's archive (and re-roll its policies)")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--episodes", type=int, default=0, help="re-evaluate each policy on this many episodes")
    evaluate.add_argument("--seed", type=int, default=12345)
    evaluate.add_argument("--device", default=None)
    evaluate.set_defaults(func=cmd_eval)

    plot = sub.add_parser("plot", help="plot fronts and hypervolume curves of one or more runs")
    plot.add_argument("run_dirs", nargs="+")
    plot.add_argument("--out", help="output directory (default RUN_DIR/plots, or ./plots for several runs)")
    plot.set_defaults(func=cmd_plot)

    sub.add_parser("envs", help="list environments, reward dims and reference points").set_defaults(func=cmd_envs)

    check = sub.add_parser("check-env", help="check an env against the multi-objective Gymnasium contract")
    check.add_argument("env", help="registered id or module:Class")
    check.set_defaults(func=cmd_check_env)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``morl`` script; user errors exit with status 2 and one line."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        subcommands.choices[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return args.func(args)
    except (ValueError, storage.FormatError, envs.EnvCheckError) as err:
        print(f"morl: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
