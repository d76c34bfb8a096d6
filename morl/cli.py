"""``morl`` command line: train, eval, plot, report, envs, check-env, data.

Every user mistake (unknown algorithm, env or option, bad value) ends in one line naming the
valid choices and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from morl import agents, cli_data, envs, metrics, multiagent, reroll, runs, spaces, storage, training
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
    """Train, or resume (``--resume``: a larger ``--total-timesteps`` extends the run; other changes are refused)."""
    result = training.train(
        args.algo,
        None if args.resume else args.env,
        total_timesteps=args.total_timesteps,
        seed=args.seed,
        device=args.device,
        out=args.out,
        hparams=_hparams(args),
        ref_point=args.ref_point,
        resume=args.resume,
        progress_bar=not args.no_progress,
        announce=print,
    )
    print(f"run: {result.run_dir}")
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

    Scoring reads only ``config.json`` and ``archive/``, so it never imports the run's env (a
    custom ``module:Class`` env need not be importable). Re-rolling builds the env. Runs of
    algorithms outside the registry (e.g. an external baseline converted into a run directory)
    have an archive without policies: they are scored, but cannot be re-rolled.
    """
    if args.episodes < 0:
        raise ValueError(f"--episodes must be 0 (score only) or a positive number of episodes, got {args.episodes}")
    out = Path(args.out) if args.out else None
    if out is not None and out.is_dir():
        raise ValueError(f"--out {out} is a directory; give the path of a JSON file to write, e.g. {out / 'eval.json'}")
    run = runs.load_run(args.run_dir)
    if args.ref_point is not None:
        ref = [float(x) for x in args.ref_point]
        m = run.num_objectives
        if m is not None and len(ref) != m:
            raise ValueError(f"--ref-point has {len(ref)} values {ref}; the run has {m} objectives: give {m} values")
        print(f"reference point: {ref} (--ref-point, replacing the run's stored {run.config.get('ref_point')})")
        run.config["ref_point"] = ref
    record: dict[str, Any] = {
        "run_dir": str(run.path),
        "env": run.config.get("env"),
        "objective_names": run.objective_names,
        "ref_point": run.config.get("ref_point"),
        "ref_source": "--ref-point" if args.ref_point is not None else run.config.get("ref_source", "stored"),
    }
    if not args.episodes:
        stored = _chosen(run.entries, args.entry, run.path)
        if args.entry:
            run.values = np.array([e.value for e in stored]).reshape(-1, run.values.shape[1])
        report = run.report()
        _print_report(report)
        if out is not None:
            entries = [_eval_entry(e) for e in stored]
            _write_eval(out, {**record, "episodes": 0, "seed": None, "entries": entries, "report": report})
        return 0
    reroll.require_agent(run.path)
    _check_env_importable(run.config.get("env"))
    ids = [e.id for e in _chosen(run.entries, args.entry, run.path)]
    measured, entries = [], []
    for rolled in reroll.reroll_run(run.path, args.episodes, args.seed, args.device or "auto", ids):
        measured.append(rolled.result.mean_return)
        entries.append(_eval_entry(rolled.entry, rolled.preference, rolled.result, args.episodes, args.seed))
        print(
            f"entry {rolled.entry.id}: stored {np.round(rolled.entry.value, 4).tolist()} measured "
            f"{np.round(rolled.result.mean_return, 4).tolist()}"
        )
    front = np.asarray(measured).reshape(-1, run.values.shape[1])  # (entries, m)
    report = metrics.evaluate_front(front, run.ref_point, run.eval_weights, run.true_front)
    _print_report(report)
    if out is not None:
        _write_eval(out, {**record, "episodes": args.episodes, "seed": args.seed, "entries": entries, "report": report})
    return 0


def _chosen(entries: list[Any], ids: list[int] | None, run_dir: Path) -> list[Any]:
    """The archive entries ``--entry`` names (all of them without it), in archive order."""
    if not ids:
        return list(entries)
    known = {e.id for e in entries}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ValueError(
            f"--entry {' '.join(map(str, unknown))}: no such entry in the archive of {run_dir}; "
            f"its entries are {sorted(known) or 'none yet'}"
        )
    return [e for e in entries if e.id in set(ids)]


def _check_env_importable(spec: Any) -> None:
    """Before re-rolling: a ``module:Class`` env must import here, or one line says where to run from."""
    if not isinstance(spec, str) or ":" not in spec:
        return
    try:
        envs.env_factory(spec)  # imports the module, builds nothing
    except ValueError as err:
        module = spec.partition(":")[0]
        raise ValueError(
            f"{err}. Re-rolling with --episodes builds the env: run `morl eval` from the directory that holds "
            f"module {module!r}, or put that directory on PYTHONPATH (scoring alone, without --episodes, needs no env)"
        ) from None


def _eval_entry(
    entry: Any, preference: np.ndarray | None = None, result: Any = None, episodes: int = 0, seed: int | None = None
) -> dict[str, Any]:
    """One archive entry of ``morl eval --out``: stored value, and what re-rolling it measured."""
    pref = preference if preference is not None else entry.preference
    row: dict[str, Any] = {
        "id": entry.id,
        "preference": None if pref is None else np.asarray(pref, dtype=np.float64).tolist(),
        "stored": np.asarray(entry.value, dtype=np.float64).tolist(),
    }
    if result is not None:
        row.update(
            measured=result.mean_return.tolist(),
            measured_discounted=result.mean_discounted_return.tolist(),
            episode_returns=result.returns.tolist(),
            mean_length=float(result.mean_length),
            episodes=episodes,
            seed=seed,
        )
    return row


def _write_eval(out: Path, record: dict[str, Any]) -> None:
    storage.atomic_write_json(out, record)
    print(f"wrote {out}")


def cmd_plot(args: argparse.Namespace) -> int:
    """Plot runs; refuse (unless ``--force``) to overwrite plots in a directory other than a run's own."""
    from morl import plotting

    run_dirs = [Path(p) for p in args.run_dirs]
    out = Path(args.out) if args.out else plotting.default_out_dir(run_dirs)
    own = len(run_dirs) == 1 and out.resolve() == (run_dirs[0] / plotting.PLOTS_DIR).resolve()
    existing = [] if args.force or own else plotting.existing_plots(out)
    if existing:
        names = ", ".join(p.name for p in existing[:4]) + (", ..." if len(existing) > 4 else "")
        raise ValueError(
            f"output directory {out} already holds plots ({names}); pass --force to overwrite them, "
            "or --out a new directory"
        )
    for path in plotting.plot_runs(run_dirs, out_dir=out):
        print(f"plot: {path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write the HTML report; each unreadable run directory is one warning line, the rest is still reported."""
    from morl import report

    try:
        errors = report.write_report(args.run_dirs, args.out)
    except ModuleNotFoundError as err:
        if report.MISSING_PLOTLY not in str(err):
            raise
        raise ValueError(str(err)) from None
    for message in errors.values():
        print(f"morl: warning: {message}", file=sys.stderr)
    total = len(report.expand_run_dirs(args.run_dirs))
    if errors and len(errors) == total:
        raise ValueError(f"none of the {total} run directories could be reported (see above); {args.out} lists why")
    print(f"wrote {args.out} ({total - len(errors)} of {total} runs)")
    return 0


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    """Python warnings and C libraries' stderr (MuJoCo's, SDL's) hidden while ``morl envs`` builds every env."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def cmd_envs(args: argparse.Namespace) -> int:
    """Single-agent ids (MO-Gymnasium's and ours), then multi-agent ids (MOMAland's and ours)."""
    print(f"{'id':36} {'kind':6} {'m':>2}  {'reference point':30} {'true front':10} source")
    for env_id in envs.registered_ids():
        try:
            with _silenced():  # upgrade notices and MuJoCo's compiler warnings: nothing to act on here
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
    """Check the env (single- or multi-agent), then say which registered agents take it and why the others do not."""
    from morl import tasks

    kind, built = tasks.custom_env(args.env) if tasks._is_custom(args.env) else ("single", None)
    if multiagent.is_multiagent_id(args.env):
        kind = "multi"
    if kind == "multi":
        if built is None:  # a ParallelEnv class, or an id: built with its registered preset
            defaults = multiagent.defaults_for(args.env)
            built = multiagent.env_factory(args.env)(**(defaults.kwargs if defaults is not None else {}))
        return _check_multiagent_env(args.env, built)
    env = built if built is not None else envs.make_env(args.env)
    envs.check_env(env)
    print(f"{args.env}: OK ({envs.reward_dim(env)} objectives, reward_space {env.unwrapped.reward_space})")
    seen = argparse.Namespace(name=args.env, observation_space=env.observation_space, action_space=env.action_space)
    _print_takers("single", seen)
    return 0


def _check_multiagent_env(spec: str, env: Any) -> int:
    """``check-env`` for a parallel env: the multi-agent contract, then what the adapter makes of it."""
    from gymnasium.spaces import Discrete

    from morl.multiagent.check import check_env
    from morl.multiagent.task import _padded_observation_space

    check_env(env)
    adapter = multiagent.MultiAgentEnv(env)
    state = "env.state()" if adapter.has_env_state else "concatenated observations (the env has no state())"
    m, space = adapter.reward_dim, env.reward_space(adapter.agents[0])
    values = f"{adapter.state_dim} value{'s' if adapter.state_dim != 1 else ''}"
    print(f"{spec}: OK ({m} objectives, {adapter.num_agents} agents, reward_space {space}, "
          f"global state {state}, {values})")  # fmt: skip
    obs_space, act_space = _padded_observation_space(adapter), Discrete(adapter.n_actions)
    seen = argparse.Namespace(name=spec, observation_space=obs_space, action_space=act_space)
    adapter.close()
    _print_takers("multi", seen)
    return 0


def _print_takers(kind: str, seen: argparse.Namespace) -> None:
    """Which registered agents train on ``kind`` tasks with these spaces; one line for each that does not."""
    refused = {}
    candidates = sorted(name for name, agent in agents.REGISTRY.items() if kind in agent.task_kinds)
    for name in candidates:
        agent = agents.REGISTRY[name]
        try:
            spaces.require(name, seen, agent.observation_kinds, agent.action_kinds)
        except ValueError as err:
            refused[name] = str(err)
    accepted = [name for name in candidates if name not in refused]
    print(f"agents that take it: {', '.join(accepted) or 'none'}")
    for reason in refused.values():
        print(f"  {reason}")


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line that lists the valid options of the (sub)command."""

    def error(self, message: str) -> None:  # type: ignore[override]
        options = sorted({s for a in self._actions for s in a.option_strings if s.startswith("--") and s != "--help"})
        valid = f"; valid options: {', '.join(options)}" if options and not message.startswith("argument ") else ""
        self.exit(2, f"{self.prog}: error: {message}{valid}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="morl", description="Multi-objective reinforcement learning.")
    sub = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser, metavar="{train,eval,plot,report,envs,check-env,data}"
    )

    train = sub.add_parser("train", help="train an agent and write a run directory")
    train.add_argument("algo", nargs="?", help=f"algorithm: {', '.join(sorted(agents.REGISTRY))}")
    train.add_argument(
        "--env", default=training.DEFAULT_ENV, help="single- or multi-agent id, or module:Class (default %(default)s)"
    )
    train.add_argument(
        "--total-timesteps", type=int, default=None,
        help=f"budget: env steps (all envs), or gradient steps for offline algorithms (default "
        f"{training.DEFAULT_BUDGET:,}; with --resume, a larger one extends the run)",
    )  # fmt: skip
    train.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    train.add_argument("--device", default=None, help="auto (CUDA if available), cpu or cuda")
    train.add_argument("--out", help="run directory (default runs/<algo>-<env>-<seed>-<timestamp>)")
    train.add_argument("--config", help="YAML file of hyperparameters")
    train.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="override hyperparameters")
    train.add_argument("--ref-point", nargs="+", type=float, help="hypervolume reference point")
    train.add_argument("--executor", choices=["local", "serial", "ray"], help="where independent jobs run")
    train.add_argument("--ray-address", help="Ray cluster address for --executor ray (default: start a local one)")
    train.add_argument(
        "--resume", metavar="RUN_DIR",
        help="continue an interrupted run from its last checkpoint, with its own settings (a larger "
        "--total-timesteps extends it; a different algorithm, seed or hyperparameter is refused)",
    )  # fmt: skip
    train.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("eval", help="score a run's archive (and re-roll its policies)")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--episodes", type=int, default=0, help="re-evaluate each policy on this many episodes")
    evaluate.add_argument(
        "--entry", nargs="+", type=int, metavar="ID",
        help="only these archive entries (ids as in archive/index.json, `morl eval --out` and `morl report`)",
    )  # fmt: skip
    evaluate.add_argument("--seed", type=int, default=12345)
    evaluate.add_argument("--device", default=None)
    evaluate.add_argument("--ref-point", nargs="+", type=float, help="score against this reference point instead")
    evaluate.add_argument(
        "--out", metavar="FILE",
        help="also write a JSON file: per entry its preference, stored and measured returns (with --episodes, the "
        "episodes and seed), and the metrics report",
    )  # fmt: skip
    evaluate.set_defaults(func=cmd_eval)

    plot = sub.add_parser(
        "plot", help="plot fronts and hypervolume curves of one or more runs",
        description="Plot the Pareto fronts and hypervolume curves of one or more runs (PNG and SVG). Runs of the "
        "same env (id and env_kwargs) share one figure each; runs of different envs are never overlaid: each env "
        "gets its own files, front-<env>.png and hypervolume-<env>.png. A single run is plotted into its own "
        "RUN_DIR/plots, which is refreshed. Any other output directory that already holds front*/hypervolume* "
        "plots is refused, unless --force is given, so an earlier comparison is never overwritten without a word.",
    )  # fmt: skip
    plot.add_argument("run_dirs", nargs="+")
    plot.add_argument("--out", help="output directory (default RUN_DIR/plots, or ./plots for several runs)")
    plot.add_argument("--force", action="store_true", help="overwrite the plots an output directory already holds")
    plot.set_defaults(func=cmd_plot)

    report = sub.add_parser(
        "report", help="one self-contained HTML page comparing the fronts and curves of runs",
        description="Write one self-contained HTML file (it opens offline) comparing runs: their fronts on one "
        "interactive plot per env (2 objectives: staircase, 3: rotatable 3-D, more: parallel coordinates; hover a "
        "point for its values, preference, entry id and the `morl eval` command that re-rolls it), a preference "
        "slider marking the entry predict uses for w, hypervolume and expected utility against the budget (seeds of "
        "one configuration as mean and band) and a sortable table. A folder of runs (e.g. a benchmark suite's) stands "
        "for the runs in it. Runs still training are reported as they stand; an unreadable directory is one warning "
        "line and the others are reported anyway. Needs plotly: pip install \"morl[report]\".",
    )  # fmt: skip
    report.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    report.add_argument("--out", default="report.html", help="HTML file to write (default %(default)s)")
    report.set_defaults(func=cmd_report)

    sub.add_parser("envs", help="list environments, reward dims and reference points").set_defaults(func=cmd_envs)

    check = sub.add_parser(
        "check-env", help="check an env against the multi-objective Gymnasium (or MOMAland parallel) contract"
    )
    check.add_argument("env", help="single- or multi-agent id, or module:Class / module:factory")
    check.set_defaults(func=cmd_check_env)
    cli_data.add_parser(sub)
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
        status = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return status
    except BrokenPipeError:  # `morl envs | head`: the reader left. The Python docs' recipe (signal.html)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python exits
        return 141  # 128 + SIGPIPE, as a shell reports a command killed by a closed pipe
    except (ValueError, storage.FormatError, envs.EnvCheckError) as err:  # every user mistake is a ValueError
        print(f"morl: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:  # Ctrl-C: one line (training.Interrupted says how to resume)
        print(f"morl: {interrupt or 'interrupted'}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
