"""Hyperparameter dataclasses filled from YAML files and ``--set key=value`` overrides.

One dataclass per algorithm holds every hyperparameter with its default; nothing is hidden as
a literal in a training loop. Unknown keys and values of the wrong type fail with a message
listing the valid keys.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

T = TypeVar("T")


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """Turn ``["lr=3e-4", "net_arch=[64, 64]"]`` into typed values (YAML scalars and lists)."""
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects key=value, got {pair!r}")
        result[key.strip()] = yaml.safe_load(raw)
    return result


def load_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """A YAML mapping of hyperparameters (safe loader: no Python objects)."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ValueError(f"config file {path} does not exist") from None
    except yaml.YAMLError as err:
        raise ValueError(f"config file {path} is not valid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a mapping of hyperparameters, got {type(data).__name__}")
    return data


# Names used before every agent took Stable-Baselines3's (config files of older runs use them).
RENAMED: dict[str, str] = {
    "num_envs": "n_envs",
    "num_steps": "n_steps",
    "update_epochs": "n_epochs",
    "hidden": "net_arch",
    "lr": "learning_rate",
}


def build(cls: type[T], values: dict[str, Any]) -> T:
    """Instantiate the hyperparameter dataclass ``cls`` from ``values``, checking names and types.

    Types are checked and coerced by pydantic (lists become tuples, ints floats); a key that was
    renamed says its new name, any other unknown key lists the valid ones.
    """
    fields = {f.name for f in dataclasses.fields(cls)}
    for old, new in RENAMED.items():
        if old in values and old not in fields:
            raise ValueError(f"hyperparameter {old!r} is now called {new!r} (Stable-Baselines3's name): rename it")
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ValueError(f"unknown hyperparameter(s) {unknown} for {cls.__name__}; valid: {', '.join(sorted(fields))}")
    try:
        return pydantic.TypeAdapter(cls).validate_python(dict(values))
    except pydantic.ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e['input']!r})" for e in err.errors()
        )
        raise ValueError(f"invalid hyperparameter value for {cls.__name__}: {problems}") from None


def to_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as a plain JSON-ready dict."""
    return dataclasses.asdict(config)


PRESETS_DIR = Path(__file__).parent / "agents" / "presets"


def preset(algo: str, env_id: Any) -> dict[str, Any]:
    """Per-env hyperparameters of ``algo`` from ``agents/presets/<algo>.yaml`` ({} when none apply).

    Keys starting with ``_`` in that file are shared blocks (YAML anchors), not env ids.
    """
    path = PRESETS_DIR / f"{algo}.yaml"
    if not isinstance(env_id, str) or env_id.startswith("_") or not path.is_file():
        return {}
    return dict(load_yaml(path).get(env_id) or {})
