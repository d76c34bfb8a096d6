"""Pareto dominance, crowding distance and the shared ``ParetoArchive``.

Every agent writes its evaluated policies into a ``ParetoArchive``; metrics, plots, the CLI
and ``policy_for(w)`` read it, so nothing downstream depends on which algorithm filled it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import moocore
import numpy as np
from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance

from morl import metrics, preferences, storage, utility

ARCHIVE_FORMAT = "morl.ParetoArchive"
ARCHIVE_VERSION = 1
INDEX_FILE = "index.json"


def non_dominated_mask(points: np.ndarray | list) -> np.ndarray:
    """Boolean mask of non-dominated rows (maximisation); of duplicates only the first is kept."""
    arr = metrics.as_front(points, "points")
    if len(arr) == 0:
        return np.zeros(0, dtype=bool)
    return moocore.is_nondominated(arr, maximise=True, keep_weakly=False)


def non_dominated(points: np.ndarray | list) -> np.ndarray:
    """The non-dominated rows of ``points`` (maximisation), duplicates kept once."""
    arr = metrics.as_front(points, "points")
    return arr[non_dominated_mask(arr)]


def crowding_distance(points: np.ndarray | list) -> np.ndarray:
    """NSGA-II crowding distance per point; the extremes of every objective get ``inf``.

    Distances are normalised by each objective's range, so objectives on different scales
    count equally. With two or fewer points every point is an extreme.
    """
    arr = metrics.as_front(points, "points")
    if len(arr) <= 2:
        return np.full(len(arr), np.inf)
    # pymoo averages over objectives; NSGA-II (and PGMORL / C-MORL) sum, so scale back by m.
    return np.asarray(calc_crowding_distance(arr), dtype=np.float64) * arr.shape[1]


@dataclass
class ArchiveEntry:
    """One solution: its measured value vector and what is needed to act on it."""

    id: int
    value: np.ndarray
    policy: Any = None
    preference: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)


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
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"value must be a non-empty 1-D vector, got shape {arr.shape}")
        if self.num_objectives is None:
            self.num_objectives = arr.shape[0]
            self._values = np.empty((0, arr.shape[0]))
        if arr.shape[0] != self.num_objectives:
            raise ValueError(f"value must have {self.num_objectives} objectives, got {arr.shape[0]}: {arr.tolist()}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"value must be finite, got {arr.tolist()}")
        return arr

    def add(
        self,
        value: np.ndarray | list,
        policy: Any = None,
        preference: np.ndarray | list | None = None,
        meta: dict[str, Any] | None = None,
    ) -> bool:
        """Offer a solution; return True if it was stored.

        It is dropped if a stored entry dominates or equals it (ties keep the older one);
        otherwise it is stored and every entry it dominates is removed.
        """
        arr = self._check_value(value)
        pref = None if preference is None else preferences.validate(preference, self.num_objectives)
        stored = self._values
        if len(stored) and np.any(np.all(stored >= arr, axis=1)):
            return False
        keep = ~np.all(arr >= stored, axis=1) if len(stored) else np.zeros(0, dtype=bool)
        if len(stored) and not keep.all():
            self._entries = [e for e, k in zip(self._entries, keep, strict=True) if k]
            stored = stored[keep]
        entry = ArchiveEntry(self._next_id, arr.copy(), policy, pref, dict(meta or {}))
        self._next_id += 1
        self._entries.append(entry)
        self._values = np.vstack([stored, arr[None, :]])
        if self.max_size is not None and len(self._entries) > self.max_size:
            self._prune(self.max_size)
        return True

    def extend(self, other: ParetoArchive | Iterable[ArchiveEntry]) -> int:
        """Offer every entry of another archive (merging results of parallel jobs); return how many stayed."""
        added = 0
        for entry in other:
            added += self.add(entry.value, entry.policy, entry.preference, entry.meta)
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

    def select(self, k: int, exclude: Iterable[int] = ()) -> list[ArchiveEntry]:
        """Up to ``k`` entries by decreasing crowding distance (extremes first), skipping ids in ``exclude``."""
        banned = set(exclude)
        order = np.argsort(-self.crowding_distance(), kind="stable")
        chosen = [self._entries[i] for i in order if self._entries[i].id not in banned]
        return chosen[:k]

    # --- persistence ----------------------------------------------------------------------
    def save(self, directory: str | os.PathLike) -> Path:
        """Write a versioned JSON index plus one safetensors file per policy, atomically.

        Weights are written first under fresh names, then the index is renamed into place,
        then files the new index no longer names are removed: a crash at any moment leaves a
        loadable archive.
        """
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
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
                }
            )
        index = {
            "format": ARCHIVE_FORMAT,
            "version": ARCHIVE_VERSION,
            "num_objectives": self.num_objectives,
            "max_size": self.max_size,
            "next_id": self._next_id,
            "entries": records,
        }
        storage.atomic_write_json(root / INDEX_FILE, index)
        named = {r["weights"] for r in records if r["weights"]}
        for stale in root.glob("policy-*.safetensors"):
            if stale.name not in named:
                stale.unlink(missing_ok=True)
        return root

    @classmethod
    def load(cls, directory: str | os.PathLike, load_policies: bool = True) -> ParetoArchive:
        """Read an archive written by :meth:`save`; policies come back as tensor dicts.

        Raises:
            storage.FormatError: the directory is not a morl archive, is of another version,
                or a file is corrupt or truncated. Nothing is unpickled or executed.
        """
        root = Path(directory)
        what = f"ParetoArchive at {root}"
        index = storage.read_json(root / INDEX_FILE, what)
        if not isinstance(index, dict) or index.get("format") != ARCHIVE_FORMAT:
            raise storage.FormatError(f"{what}: {INDEX_FILE} is not a morl archive index")
        if index.get("version") != ARCHIVE_VERSION:
            raise storage.FormatError(
                f"{what}: format version {index.get('version')!r} is not supported (expected {ARCHIVE_VERSION})"
            )
        try:
            archive = cls(index["num_objectives"], index.get("max_size"))
            records = list(index["entries"])
            next_id = int(index["next_id"])
        except (KeyError, TypeError, ValueError) as err:
            raise storage.FormatError(f"{what}: index is missing or has a malformed field ({err})") from None
        for record in records:
            try:
                weights = record["weights"]
                policy = None
                if weights is not None and load_policies:
                    if Path(weights).name != weights:
                        raise storage.FormatError(f"{what}: weights name {weights!r} points outside the archive")
                    policy = storage.load_tensors(root / weights, what)
                value = archive._check_value(record["value"])
                entry = ArchiveEntry(
                    int(record["id"]),
                    value,
                    policy,
                    None if record["preference"] is None else np.asarray(record["preference"], dtype=np.float64),
                    dict(record["meta"]),
                )
            except storage.FormatError:
                raise
            except (KeyError, TypeError, ValueError) as err:
                raise storage.FormatError(f"{what}: malformed entry {record!r:.200} ({err})") from None
            archive._entries.append(entry)
            archive._values = np.vstack([archive._values, value[None, :]])
        archive._next_id = next_id
        return archive
