"""Pareto dominance, crowding distance and the shared ``ParetoArchive``.

Every agent writes its evaluated policies into a ``ParetoArchive``; metrics, plots, the CLI
and ``policy_for(w)`` read it, so nothing downstream depends on which algorithm filled it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance

from morl import metrics, preferences, storage, utility
from morl.points import as_front, as_point

ARCHIVE_FORMAT = "morl.ParetoArchive"
ARCHIVE_VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 1: every entry carries its own weights (no shared networks)
INDEX_FILE = "index.json"
_NETWORK_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,120}$")


def _same_weights(registered: Any, network: Any) -> bool:
    """Whether ``network`` holds the tensors already registered (evaluating a snapshot again registers it again)."""
    if registered is network:
        return True
    old, new = storage.state_dict_of(registered), storage.state_dict_of(network)
    return old.keys() == new.keys() and all(torch.equal(old[k], new[k]) for k in old)


def crowding_distance(points: np.ndarray | list) -> np.ndarray:
    """NSGA-II crowding distance per point; the extremes of every objective get ``inf``.

    Distances are normalised by each objective's range, so objectives on different scales
    count equally. With two or fewer points every point is an extreme.
    """
    arr = as_front(points, "points")
    if len(arr) <= 2:
        return np.full(len(arr), np.inf)
    # pymoo averages over objectives; NSGA-II (and PGMORL / C-MORL) sum, so scale back by m.
    return np.asarray(calc_crowding_distance(arr), dtype=np.float64) * arr.shape[1]


@dataclass
class ArchiveEntry:
    """One solution: its measured value vector and what is needed to act on it.

    Either ``policy`` holds the entry's own weights, or ``network`` names a shared,
    conditioned network of the archive (:meth:`ParetoArchive.add_network`) that acts for this
    entry given its conditioning input: ``preference`` (a preference-conditioned network) or
    ``condition`` (a learned context z, e.g. OPPO's). ``preference`` is also recorded for own-weight
    entries wherever the agent trained or evaluated the policy for one.
    """

    id: int
    value: np.ndarray
    policy: Any = None
    preference: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    network: str | None = None
    condition: np.ndarray | None = None


class ParetoArchive:
    """Non-dominated set of (value vector, policy) pairs shared by all agents.

    Args:
        num_objectives: length of every value vector; inferred from the first ``add`` if None.
        max_size: when set, the archive keeps at most this many entries, dropping the most
            crowded (smallest crowding distance) first, as PGMORL and C-MORL do.
    """

    def __init__(self, num_objectives: int | None = None, max_size: int | None = None) -> None:
        if max_size is not None and max_size < 2:
            raise ValueError(f"max_size must be >= 2 or None, got {max_size}")
        self.num_objectives = num_objectives
        self.max_size = max_size
        self._entries: list[ArchiveEntry] = []
        self._values = np.empty((0, num_objectives or 0))
        self._next_id = 0
        self._networks: dict[str, Any] = {}

    # --- contents -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[ArchiveEntry]:
        return iter(list(self._entries))

    @property
    def entries(self) -> list[ArchiveEntry]:
        """Stored entries, oldest first."""
        return list(self._entries)

    @property
    def values(self) -> np.ndarray:
        """Value vectors of the stored entries, shape (n, m)."""
        return self._values.copy()

    def _check_value(self, value: np.ndarray | list) -> np.ndarray:
        arr = as_point(value, "value", self.num_objectives)
        if self.num_objectives is None:
            self.num_objectives = arr.shape[0]
            self._values = np.empty((0, arr.shape[0]))
        return arr

    def add(
        self,
        value: np.ndarray | list,
        policy: Any = None,
        preference: np.ndarray | list | None = None,
        meta: dict[str, Any] | None = None,
        network: str | None = None,
        condition: np.ndarray | list | None = None,
    ) -> bool:
        """Offer a solution; return True if it was stored.

        It is dropped if a stored entry dominates or equals it (ties keep the older one);
        otherwise it is stored and every entry it dominates is removed. An entry acting
        through a shared network names it (``network``, registered first with
        :meth:`add_network`) instead of carrying a ``policy``.
        """
        arr = self._check_value(value)
        pref = None if preference is None else preferences.validate(preference, self.num_objectives)
        cond = None if condition is None else as_point(condition, "condition")
        if network is not None:
            if policy is not None:
                raise ValueError("an entry either carries its own policy or names a shared network, not both")
            if network not in self._networks:
                raise ValueError(f"unknown shared network {network!r}: register it with add_network first")
            if pref is None and cond is None:
                raise ValueError(f"an entry of shared network {network!r} needs its preference or condition")
        stored = self._values
        if len(stored) and np.any(np.all(stored >= arr, axis=1)):
            return False
        keep = ~np.all(arr >= stored, axis=1) if len(stored) else np.zeros(0, dtype=bool)
        if len(stored) and not keep.all():
            self._entries = [e for e, k in zip(self._entries, keep, strict=True) if k]
            stored = stored[keep]
        entry = ArchiveEntry(self._next_id, arr.copy(), policy, pref, dict(meta or {}), network, cond)
        self._next_id += 1
        self._entries.append(entry)
        self._values = np.vstack([stored, arr[None, :]])
        if self.max_size is not None and len(self._entries) > self.max_size:
            self._prune(self.max_size)
        return True

    def add_network(self, name: str, network: Any) -> None:
        """Register a shared conditioned network (a module or tensor dict) under ``name``.

        A name stands for one snapshot of weights: agents that keep training a network register
        each evaluated snapshot under a new name (e.g. ``"pcsac@50000"``). Saving writes each
        snapshot once; snapshots no entry names any more are dropped.
        """
        if not _NETWORK_NAME.match(str(name)):
            raise ValueError(f"network name {name!r} must be 1-120 letters, digits or '_.@-'")
        if name in self._networks and not _same_weights(self._networks[name], network):
            raise ValueError(f"shared network {name!r} is already registered with other weights; use a new name")
        self._networks[name] = network

    def network(self, name: str) -> Any:
        """The shared network registered as ``name``."""
        if name not in self._networks:
            raise KeyError(f"no shared network {name!r}; this archive has {sorted(self._networks)}")
        return self._networks[name]

    def drop_unused_networks(self) -> list[str]:
        """Forget registered networks that no stored entry names; return their names.

        An agent registering one snapshot per evaluation calls this once it has offered that
        evaluation's entries, so snapshots whose entries were all dominated (or never stored)
        do not pile up in memory over a long run.
        """
        named = {e.network for e in self._entries if e.network is not None}
        dropped = [name for name in self._networks if name not in named]
        for name in dropped:
            del self._networks[name]
        return dropped

    @property
    def networks(self) -> dict[str, Any]:
        """Shared networks named by at least one stored entry."""
        named = {e.network for e in self._entries if e.network is not None}
        return {k: v for k, v in self._networks.items() if k in named}

    def extend(self, other: ParetoArchive | Iterable[ArchiveEntry]) -> int:
        """Offer every entry of another archive (merging results of parallel jobs); return how many stayed."""
        added = 0
        if isinstance(other, ParetoArchive):
            for name, network in other.networks.items():
                self.add_network(name, network)
        for entry in other:
            added += self.add(entry.value, entry.policy, entry.preference, entry.meta, entry.network, entry.condition)
        return added

    def _prune(self, size: int) -> None:
        order = np.argsort(-self.crowding_distance(), kind="stable")[:size]
        order.sort()
        self._entries = [self._entries[i] for i in order]
        self._values = self._values[order]

    # --- queries --------------------------------------------------------------------------
    def entry_for(self, preference: np.ndarray | list, utility_name: str = "linear") -> ArchiveEntry:
        """The entry with the best utility for ``preference`` (linear ``w . v`` or Chebyshev)."""
        if not self._entries:
            raise ValueError("the archive is empty: train or load an agent first")
        w = preferences.validate(preference, self.num_objectives)
        if utility_name == "chebyshev":
            scores = utility.chebyshev(self._values, w, self._values.max(axis=0))
        else:
            scores = utility.get(utility_name)(self._values, w)
        return self._entries[int(np.argmax(scores))]

    def policy_for(self, preference: np.ndarray | list, utility: str = "linear") -> Any:
        """The policy of :meth:`entry_for` ``(preference, utility)``."""
        return self.entry_for(preference, utility).policy

    def hypervolume(self, ref_point: np.ndarray | list) -> float:
        """Hypervolume of the stored values with respect to ``ref_point``."""
        if not self._entries:
            return 0.0
        return metrics.hypervolume(self._values, ref_point)

    def crowding_distance(self) -> np.ndarray:
        """Crowding distance of each stored entry (``inf`` at the extremes)."""
        return crowding_distance(self._values)

    def select(self, k: int, exclude: Iterable[int] = (), ref_point: np.ndarray | None = None) -> list[ArchiveEntry]:
        """Up to ``k`` entries by decreasing crowding distance (extremes first), skipping ids in ``exclude``.

        With ``ref_point``, only entries that strictly dominate it count, and the crowding
        distance is measured among them (as the official C-MORL code keeps only such points): a
        point below the reference point adds no hypervolume, yet as an extreme it would have
        infinite distance and be chosen first. If no entry dominates it, all entries count.
        """
        banned = set(exclude)
        pool = np.arange(len(self._entries))
        if ref_point is not None and len(pool):
            above = np.flatnonzero(np.all(self._values > np.asarray(ref_point, dtype=np.float64), axis=1))
            pool = above if len(above) else pool
        order = pool[np.argsort(-crowding_distance(self._values[pool]), kind="stable")] if len(pool) else pool
        chosen = [self._entries[i] for i in order if self._entries[i].id not in banned]
        return chosen[:k]

    # --- persistence ----------------------------------------------------------------------
    def save(self, directory: str | os.PathLike) -> Path:
        """Write a versioned JSON index plus safetensors weights, atomically.

        Each own-weight policy is one ``policy-<id>.safetensors``; each shared network one
        ``network-<name>.safetensors``, however many entries name it. Weights are written first
        under fresh names, then the index is renamed into place, then files the new index no
        longer names are removed: a crash at any moment leaves a loadable archive.
        """
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        networks = {}
        for name, network in self.networks.items():
            networks[name] = f"network-{name}.safetensors"
            if not (root / networks[name]).exists():
                storage.save_tensors(root / networks[name], storage.state_dict_of(network))
        records = []
        for entry in self._entries:
            weights = None
            if entry.policy is not None:
                weights = f"policy-{entry.id}.safetensors"
                if not (root / weights).exists():
                    storage.save_tensors(root / weights, storage.state_dict_of(entry.policy))
            records.append(
                {
                    "id": entry.id,
                    "value": entry.value.tolist(),
                    "preference": None if entry.preference is None else entry.preference.tolist(),
                    "meta": entry.meta,
                    "weights": weights,
                    "network": entry.network,
                    "condition": None if entry.condition is None else entry.condition.tolist(),
                }
            )
        index = {
            "format": ARCHIVE_FORMAT,
            "version": ARCHIVE_VERSION,
            "num_objectives": self.num_objectives,
            "max_size": self.max_size,
            "next_id": self._next_id,
            "networks": networks,
            "entries": records,
        }
        storage.atomic_write_json(root / INDEX_FILE, index)
        named = {r["weights"] for r in records if r["weights"]} | set(networks.values())
        for stale in [*root.glob("policy-*.safetensors"), *root.glob("network-*.safetensors")]:
            if stale.name not in named:
                stale.unlink(missing_ok=True)
        return root

    @classmethod
    def load(cls, directory: str | os.PathLike, load_policies: bool = True) -> ParetoArchive:
        """Read an archive written by :meth:`save` (any readable version); weights come back as tensor dicts.

        Raises:
            storage.FormatError: the directory is not a morl archive, is of another version,
                or a file is corrupt or truncated. Nothing is unpickled or executed.
        """
        root = Path(directory)
        what = f"ParetoArchive at {root}"
        index = storage.read_json(root / INDEX_FILE, what)
        if not isinstance(index, dict) or index.get("format") != ARCHIVE_FORMAT:
            raise storage.FormatError(f"{what}: {INDEX_FILE} is not a morl archive index")
        if index.get("version") not in READABLE_VERSIONS:
            raise storage.FormatError(
                f"{what}: format version {index.get('version')!r} is not supported (readable: {READABLE_VERSIONS})"
            )
        try:
            archive = cls(index["num_objectives"], index.get("max_size"))
            records = list(index["entries"])
            next_id = int(index["next_id"])
            networks = dict(index.get("networks") or {})
        except (KeyError, TypeError, ValueError) as err:
            raise storage.FormatError(f"{what}: index is missing or has a malformed field ({err})") from None

        def weights_at(name: str) -> dict | None:
            if Path(name).name != name:
                raise storage.FormatError(f"{what}: weights name {name!r} points outside the archive")
            return storage.load_tensors(root / name, what) if load_policies else None

        for name, file in networks.items():
            archive._networks[str(name)] = weights_at(file)
        for record in records:
            try:
                weights = record["weights"]
                network = record.get("network")
                if network is not None and network not in archive._networks:
                    raise storage.FormatError(f"{what}: entry {record.get('id')} names unknown network {network!r}")
                condition = record.get("condition")
                value = archive._check_value(record["value"])
                entry = ArchiveEntry(
                    int(record["id"]),
                    value,
                    None if weights is None else weights_at(weights),
                    None if record["preference"] is None else np.asarray(record["preference"], dtype=np.float64),
                    dict(record["meta"]),
                    network,
                    None if condition is None else np.asarray(condition, dtype=np.float64),
                )
            except storage.FormatError:
                raise
            except (KeyError, TypeError, ValueError) as err:
                raise storage.FormatError(f"{what}: malformed entry {record!r:.200} ({err})") from None
            archive._entries.append(entry)
            archive._values = np.vstack([archive._values, value[None, :]])
        archive._next_id = next_id
        return archive
