"""``morl data collect`` and ``morl data info``: offline datasets from the command line."""

from __future__ import annotations

import argparse

import numpy as np

from morl import data, preferences
from morl.data import behaviour, store


def cmd_collect(args: argparse.Namespace) -> int:
    """Collect episodes from a behaviour and write them as a Minari (HDF5) dataset."""
    store.dataset_id(args.out)  # a bad directory name fails before the collection, not after
    act = behaviour.resolve(args.behaviour, args.env, seed=args.seed, device=args.device)
    dataset = data.collect(args.env, act, args.episodes, distribution=args.distribution, mode=args.mode,
                           seed=args.seed, name=args.name)  # fmt: skip
    path = data.save(dataset, args.out)
    print(f"wrote {path}: {dataset.num_episodes} episodes, {len(dataset.rewards)} steps")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """Episodes, steps, objectives, the dataset's own front and its hypervolume at the env's reference point."""
    info = data.summarize(data.load(args.path), ref_point=args.ref_point)
    print(f"dataset: {info.name}")
    print(f"env: {info.env_id or '-'} {info.env_kwargs or ''}".rstrip())
    print(f"episodes: {info.episodes}")
    print(f"steps: {info.steps}")
    print(f"objectives: {info.num_objectives}")
    print(f"behaviour preferences: {'yes' if info.has_preferences else 'no'}")
    print(f"reference point: {info.ref_point.tolist()} ({info.ref_source})")
    print(f"front ({len(info.front)} non-dominated episode returns):")
    for point in info.front:
        print(f"  {np.round(point, 4).tolist()}")
    print(f"hypervolume: {info.hypervolume:.6g}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The ``data`` subcommand and its own subcommands, on the main parser's ``sub``."""
    parser = sub.add_parser("data", help="collect and inspect offline datasets (Minari, HDF5)")
    data_sub = parser.add_subparsers(dest="data_command", required=True, parser_class=type(parser),
                                     metavar="{collect,info}")  # fmt: skip
    collect = data_sub.add_parser("collect", help="roll a behaviour out, one preference per episode")
    collect.add_argument("env", help="env id, e.g. deep-sea-treasure-v0")
    collect.add_argument("--out", required=True, help="dataset directory, named like a Minari id: NAME-vN")
    collect.add_argument("--behaviour", default="random",
                         help="random, scripted (the env's family) or run:RUN_DIR (its archive, entry_for each "
                         "preference) (default %(default)s)")  # fmt: skip
    collect.add_argument("--episodes", type=int, default=1000)
    collect.add_argument("--distribution", choices=sorted(preferences.DISTRIBUTIONS), default="uniform",
                         help="preference per episode, as D4MORL (default %(default)s)")  # fmt: skip
    collect.add_argument("--mode", choices=["expert", "amateur"], default="expert",
                         help="expert: the behaviour's actions; amateur: perturbed as in D4MORL")  # fmt: skip
    collect.add_argument("--seed", type=int, default=0)
    collect.add_argument("--name", help="printable name stored with the data")
    collect.add_argument("--device", default="cpu", help="where a run's networks act (run: behaviours)")
    collect.set_defaults(func=cmd_collect)
    info = data_sub.add_parser("info", help="episodes, steps, objectives, the data's front and its hypervolume")
    info.add_argument("path")
    info.add_argument("--ref-point", nargs="+", type=float, help="score against this reference point instead")
    info.set_defaults(func=cmd_info)
