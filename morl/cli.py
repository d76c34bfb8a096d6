"""``morl`` command line: train, eval, plot, envs, check-env.

Every user mistake (unknown algorithm, env or option, bad value) ends in one line naming the
valid choices and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from morl import agents, envs, metrics, multiagent, runs, storage, training
from morl import config as config_lib


def _hparams(args: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if args.config:
        values.update(config_lib.load_yaml(args.config))
    values.update(config_lib.parse_overrides(args.set or []))
    if args.executor:
        values["executor"] = args.executor
    if args.ray_address:
        values["ray_address"] = args.ray_address
    return values


def cmd_train(args: argparse.Namespace) -> int:
    if args.resume:
        result = training.train(resume=args.resume, device=args.device, progress_bar=not args.no_progress)
    else:
        result = training.train(
            args.algo,
            args.env,
            total_timesteps=args.total_timesteps,
            seed=args.seed,
            device=args.device,
            out=args.out,
            hparams=_hparams(args),
            ref_point=args.ref_point,
            progress_bar=not args.no_progress,
        )
    task = result.agent.task
    print(f"run: {result.run_dir}")
    print(f"reference point: {task.ref_point.tolist()} ({task.ref_source})")
    _print_report(result.report)
    from morl import plotting

    for path in plotting.plot_runs([result.run_dir]):
        print(f"plot: {path}")
    return 0


def _print_report(report: dict[str, float]) -> None:
    for key, value in report.items():
        print(f"{key}: {value:.6g}")


def cmd_eval(args: argparse.Namespace) -> int:
    """Score a run's archive; with ``--episodes``, re-roll each stored policy first.

    Runs of algorithms outside the registry (e.g. an external baseline converted into a run
    directory) have an archive without policies: they are scored, but cannot be re-rolled.
    """
    run = runs.load_run(args.run_dir)
    if args.ref_point is not None:
        run.config["ref_point"] = list(args.ref_point)
    if not args.episodes:
        _print_report(run.report())
        return 0
    algo = run.config["algo"]
    if algo not in agents.REGISTRY or not (run.path / "agent.json").exists():
        raise ValueError(f"{run.path} holds no loadable '{algo}' agent: it can be scored, not re-rolled")
    agent = agents.get(algo).load(run.path, device=args.device or "auto")
    measured = []
    for entry in agent.archive.entries:
        pref = entry.preference if entry.preference is not None else np.eye(len(entry.value))[0]
        result = agent.task.evaluate(agent.entry_predictor(entry.id), pref, args.episodes, seed=args.seed)
        measured.append(result.mean_return)
        print(
            f"entry {entry.id}: stored {np.round(entry.value, 4).tolist()} measured "
            f"{np.round(result.mean_return, 4).tolist()}"
        )
    _print_report(metrics.evaluate_front(np.asarray(measured), run.ref_point, run.eval_weights, run.true_front))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from morl import plotting

    for path in plotting.plot_runs([Path(p) for p in args.run_dirs], out_dir=args.out):
        print(f"plot: {path}")
    return 0


def cmd_envs(args: argparse.Namespace) -> int:
    """Single-agent ids (MO-Gymnasium's and ours), then multi-agent ids (MOMAland's and ours)."""
    print(f"{'id':36} {'kind':6} {'m':>2}  {'reference point':30} {'true front':10} source")
    for env_id in envs.registered_ids():
        try:
            env = envs.make_env(env_id)
            dim = str(envs.reward_dim(env))
            defaults = envs.defaults_for(env_id, env)
            env.close()
        except Exception as err:  # an optional dependency is missing: say which of our extras brings it
            print(f"{env_id:36} {'single':6} {'?':>2}  unavailable: {_missing_extra(err)}")
            continue
        ref = "-" if defaults is None else str(list(defaults.ref_point))
        front = "yes" if defaults is not None and defaults.has_true_front else "no"
        source = "" if defaults is None else defaults.source
        print(f"{env_id:36} {'single':6} {dim:>2}  {ref:30} {front:10} {source}")
    for env_id in multiagent.registered_ids():
        defaults = multiagent.defaults_for(env_id)
        front = "yes" if defaults.true_front is not None else "no"
        dim = str(len(defaults.ref_point))
        print(f"{env_id:36} {'multi':6} {dim:>2}  {list(defaults.ref_point)!s:30} {front:10} {defaults.ref_source}")
    return 0


_EXTRAS = {"mujoco": "mujoco", "box2d": "box2d"}


def _missing_extra(err: Exception) -> str:
    """Why an env cannot be made, naming this package's extra (not gymnasium's) when one is missing."""
    text = str(err)
    for marker, extra in _EXTRAS.items():
        if marker in text.lower():
            return f"needs the {extra} extra: pip install 'morl[{extra}]'"
    return text.splitlines()[0][:70] if text else type(err).__name__


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
    train.add_argument(
        "--env", default=training.DEFAULT_ENV, help="single- or multi-agent id, or module:Class (default %(default)s)"
    )
    train.add_argument(
        "--total-timesteps", type=int, default=training.DEFAULT_BUDGET,
        help="budget: env steps (all envs), or gradient steps for offline algorithms",
    )  # fmt: skip
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
    evaluate.add_argument("--ref-point", nargs="+", type=float, help="score against this reference point instead")
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
    # warnings (a custom env's unusable front, ...) as one line each, not file:line plus source
    warnings.formatwarning = lambda message, category, *args, **kwargs: f"morl: warning: {message}\n"
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        subcommands.choices[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return args.func(args)
    except (ValueError, storage.FormatError, envs.EnvCheckError) as err:  # every user mistake is a ValueError
        print(f"morl: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
