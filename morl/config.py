"""Hyperparameter dataclasses filled from YAML files and ``--set key=value`` overrides.

One dataclass per algorithm holds every hyperparameter with its default; nothing is hidden as
a literal in a training loop. Unknown keys and values of the wrong type fail with a message
listing the valid keys.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

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


def _coerce(name: str, value: Any, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(name, value, arg)
            except ValueError as err:
                errors.append(str(err))
        raise ValueError(errors[0] if errors else f"{name}: cannot use {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ValueError(f"{name} must be one of {list(args)}, got {value!r}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ValueError(f"{name} must be a list, got {value!r}")
        inner = args[0] if args else Any
        items = [_coerce(name, v, inner) for v in value]
        return tuple(items) if origin is tuple else items
    if annotation is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if annotation is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if annotation is bool and isinstance(value, bool):
        return value
    if annotation is str and isinstance(value, str):
        return value
    if annotation is Any:
        return value
    if annotation in (int, float, bool, str):
        raise ValueError(f"{name} must be {annotation.__name__}, got {value!r}")
    return value


def build(cls: type[T], values: dict[str, Any]) -> T:
    """Instantiate the dataclass ``cls`` from ``values``, checking names and types."""
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ValueError(f"unknown hyperparameter(s) {unknown} for {cls.__name__}; valid: {', '.join(sorted(fields))}")
    return cls(**{k: _coerce(k, v, hints[k]) for k, v in values.items()})


def to_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as a plain JSON-ready dict."""
    return dataclasses.asdict(config)
