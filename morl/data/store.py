"""A :class:`~morl.data.Dataset` on disk in Minari's format, HDF5 back end (research/oppo.md §5).

Writing goes through ``minari.create_dataset_from_buffers`` (no jax), always with
``data_format="hdf5"``: the arrow back end flattens vector rewards. A dataset directory is a
Minari dataset whose directory name is its id (``<root>/<id>/data/{main_data.hdf5, metadata.json}``),
so ``MINARI_DATASETS_PATH=<root> minari.load_dataset(id)`` reads it too. Rewards are (T, m) per
episode; the behaviour preference is ``infos/preference`` (T + 1, m). Minari's ``rewards_*``
episode attributes sum over objectives and are ignored.

Reading uses h5py and JSON only (nothing is unpickled), and any damage is one
:class:`~morl.storage.FormatError` line naming the file and what is wrong.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

from morl import storage

MORL_KEY = "morl"  # our entry in Minari's metadata.json
FORMAT_VERSION = 1


def dataset_id(path: str | os.PathLike) -> str:
    """The Minari id a dataset directory stands for (its name, ``NAME-vN``); other names fail in one line."""
    from minari.dataset.minari_dataset import DATASET_ID_RE

    path = Path(path)
    match = DATASET_ID_RE.fullmatch(path.name)
    if match is None or match.group("version") is None or match.group("namespace"):
        raise ValueError(
            f"dataset directory {str(path)!r}: its name is the Minari dataset id and must look like NAME-vN, "
            f"e.g. {path.name.split('-v')[0] or 'data'}-v0"
        )
    return path.name


def save(dataset: Any, path: str | os.PathLike) -> Path:
    """Write ``dataset`` as the Minari dataset directory ``path`` (named like ``dst-random-v0``); return it.

    The directory is built beside ``path`` and renamed into place, so a crash leaves no half dataset.
    """
    from minari import create_dataset_from_buffers
    from minari.data_collector import EpisodeBuffer

    target = Path(path).absolute()  # Minari joins its root with the id: a relative root would be doubled
    name = dataset_id(target)
    if target.exists():
        raise ValueError(f"dataset directory {target} already exists; remove it or choose another name")
    finals = dataset.final_observations
    buffers = []
    for k, rows in enumerate(dataset.episode_slices()):
        obs = np.asarray(dataset.observations[rows])
        last = obs[-1:] if finals is None else np.asarray(finals[k])[None]
        infos = {}
        if dataset.preferences is not None:
            pref = dataset.preferences[rows]
            infos["preference"] = np.concatenate([pref, pref[-1:]])  # (T + 1, m): Minari's info rows
        buffers.append(EpisodeBuffer(
            id=k, observations=np.concatenate([obs, last]), actions=np.asarray(dataset.actions[rows]),
            rewards=list(dataset.rewards[rows]), terminations=list(dataset.terminals[rows]),
            truncations=list(dataset.truncations[rows]), infos=infos or None,
        ))  # fmt: skip
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        with mock.patch.dict(os.environ, {"MINARI_DATASETS_PATH": str(scratch)}), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Minari's advice to name an author, a permalink, ...
            written = create_dataset_from_buffers(
                name, buffers, observation_space=dataset.observation_space,
                action_space=dataset.action_space, algorithm_name="morl.data.collect", data_format="hdf5",
                description=f"morl multi-objective dataset {dataset.name!r}: reward vectors of "
                f"{dataset.num_objectives} objectives, behaviour preference in infos/preference",
            )  # fmt: skip
            written.storage.update_metadata({MORL_KEY: json.dumps({
                "version": FORMAT_VERSION, "name": dataset.name, "env_id": dataset.env_id,
                "env_kwargs": dataset.env_kwargs or {}, "num_objectives": dataset.num_objectives,
            })})  # fmt: skip
        os.replace(scratch / name, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def is_dataset(spec: object) -> bool:
    """Whether ``spec`` is the path of a dataset directory (what :func:`morl.tasks.make` may be given)."""
    if not isinstance(spec, str | os.PathLike):
        return False
    path = Path(spec)
    return (path / "data" / "metadata.json").is_file() or (path / "metadata.json").is_file()


def _data_dir(path: Path) -> Path:
    return path if (path / "metadata.json").exists() or not (path / "data").is_dir() else path / "data"


def load(path: str | os.PathLike) -> Any:
    """Read a Minari HDF5 dataset of vector rewards (written by :func:`save` or by Minari) into a Dataset.

    Raises:
        storage.FormatError: a missing, corrupt, truncated or foreign file, another back end, scalar
            rewards, or an episode with missing or mis-shaped fields; the message names which.
    """
    from morl.data import Dataset

    root = Path(path)
    data_dir = _data_dir(root)
    what = f"dataset {root}"
    meta = storage.read_json(data_dir / "metadata.json", what)
    if not isinstance(meta, dict) or "observation_space" not in meta or "total_episodes" not in meta:
        raise storage.FormatError(f"{what}: metadata.json is not a Minari dataset's metadata")
    if meta.get("data_format", "hdf5") != "hdf5":
        raise storage.FormatError(f"{what}: stored with Minari's {meta['data_format']!r} back end; morl reads hdf5")
    own = _own_metadata(meta, what)
    obs_space, act_space = _space(meta, "observation_space", what), _space(meta, "action_space", what)
    columns = _read_episodes(data_dir / "main_data.hdf5", int(meta["total_episodes"]), what)
    return Dataset(
        name=own.get("name") or root.name,
        observations=np.concatenate([c["observations"][:-1] for c in columns]),
        actions=np.concatenate([c["actions"] for c in columns]),
        rewards=np.concatenate([c["rewards"] for c in columns]),
        terminals=np.concatenate([c["terminations"] for c in columns]),
        truncations=np.concatenate([c["truncations"] for c in columns]),
        observation_space=obs_space,
        action_space=act_space,
        env_id=own.get("env_id") or _spec_id(meta),
        env_kwargs=own.get("env_kwargs") or {},
        preferences=None if "preference" not in columns[0] else np.concatenate([c["preference"] for c in columns]),
        final_observations=np.stack([c["observations"][-1] for c in columns]),
        path=str(root.resolve()),
    )


def _own_metadata(meta: dict, what: str) -> dict:
    if MORL_KEY not in meta:
        return {}
    try:
        own = json.loads(meta[MORL_KEY])
    except (TypeError, json.JSONDecodeError):
        own = None
    if not isinstance(own, dict) or own.get("version") != FORMAT_VERSION:
        raise storage.FormatError(f"{what}: metadata.json's '{MORL_KEY}' entry is unreadable or of another version")
    return own


def _spec_id(meta: dict) -> str | None:
    """The env id of Minari's own ``env_spec`` JSON, for datasets written by other tools."""
    try:
        return json.loads(meta["env_spec"])["id"]
    except (KeyError, TypeError, ValueError):
        return None


def _space(meta: dict, key: str, what: str) -> Any:
    from minari.serialization import deserialize_space

    try:
        return deserialize_space(meta[key])
    except Exception as err:  # any failure to read a foreign description is the same error
        raise storage.FormatError(f"{what}: metadata.json's {key} is not a space Minari can read ({err})") from None


def _read_episodes(file: Path, total: int, what: str) -> list[dict[str, np.ndarray]]:
    """Every episode's arrays; a missing, truncated or foreign HDF5 file, or a bad episode, is a FormatError."""
    import h5py

    if total < 1:
        raise storage.FormatError(f"{what}: metadata.json records no episodes")
    try:
        handle = h5py.File(file, "r")
    except FileNotFoundError:
        raise storage.FormatError(f"{what}: {file} does not exist") from None
    except OSError as err:
        raise storage.FormatError(f"{what}: {file} is not a readable HDF5 file (corrupt or truncated: {err})") from None
    columns = []
    with handle:
        for k in range(total):
            group = handle.get(f"episode_{k}")
            if group is None:
                raise storage.FormatError(f"{what}: {file.name} has no episode_{k} of the {total} its metadata records")
            columns.append(_episode(group, f"{what}: episode_{k}"))
    return columns


def _episode(group: Any, where: str) -> dict[str, np.ndarray]:
    import h5py

    out: dict[str, np.ndarray] = {}
    try:
        for key in ("observations", "actions", "rewards", "terminations", "truncations"):
            if not isinstance(group.get(key), h5py.Dataset):
                raise storage.FormatError(f"{where} has no array {key!r} (nested spaces are not supported)")
            out[key] = group[key][()]
        infos = group.get("infos")
        if isinstance(infos, h5py.Group) and isinstance(infos.get("preference"), h5py.Dataset):
            out["preference"] = infos["preference"][()][:-1]
    except OSError as err:
        raise storage.FormatError(f"{where} cannot be read (corrupt or truncated: {err})") from None
    steps = len(out["actions"])
    if out["rewards"].ndim != 2:
        raise storage.FormatError(f"{where}: rewards have shape {out['rewards'].shape}, not (T, m): a scalar-reward "
                                  "dataset is not multi-objective")  # fmt: skip
    if len(out["observations"]) != steps + 1 or steps == 0:
        raise storage.FormatError(f"{where}: {len(out['observations'])} observations for {steps} actions (need T + 1)")
    for key in ("rewards", "terminations", "truncations", "preference"):
        if key in out and len(out[key]) != steps:
            raise storage.FormatError(f"{where}: {key} has {len(out[key])} rows for {steps} actions")
    if not (out["terminations"][-1] or out["truncations"][-1]):
        out["truncations"] = out["truncations"].copy()
        out["truncations"][-1] = True  # an episode cut by the collector still ends in the data
    return out
