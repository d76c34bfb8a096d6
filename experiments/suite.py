"""Benchmark suites: the YAML schema (pydantic, every mistake one line), variants, and the cells a suite expands to.

Schema and examples: ``experiments/README.md``. ``experiments/benchmark.py`` runs the cells.
"""

from __future__ import annotations

import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pydantic
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr

# MORL-Baselines' algorithms, run by experiments/morlb_cell.py in their own venv (never a morl dependency).
EXTERNAL_ALGOS = ("pgmorl", "capql", "gpi-ls", "envelope")


# --- schema -----------------------------------------------------------------------------
def _one_or_many(value: Any) -> Any:
    """A scalar where a list is expected is a list of one (``seeds: 0``)."""
    return value if isinstance(value, list) else [value]


Name = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")]  # goes into directory names
EnvId = Annotated[StrictStr, Field(min_length=1)]
Seed = Annotated[StrictInt, Field(ge=0)]
Budget = Annotated[StrictInt, Field(gt=0)]
HParams = dict[StrictStr, Any]
Names = Annotated[list[Name], BeforeValidator(_one_or_many), Field(min_length=1)]
EnvIds = Annotated[list[EnvId], BeforeValidator(_one_or_many), Field(min_length=1)]
Seeds = Annotated[list[Seed], BeforeValidator(_one_or_many), Field(min_length=1)]
Budgets = Annotated[list[Budget], BeforeValidator(_one_or_many), Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Variant(_Strict):
    """An algorithm under another name with its own hyperparameters: its own cells, row and plots."""

    algo: Name
    hparams: HParams = {}
    description: StrictStr | None = None


class Grid(_Strict):
    """The product algos x envs x seeds x budgets; ``algos`` may name variants."""

    algos: Names
    envs: EnvIds
    seeds: Seeds
    budgets: Budgets
    hparams: HParams = {}


class CellSpec(_Strict):
    """One cell, the grid's keys in the singular."""

    algo: Name
    env: EnvId
    seed: Seed
    budget: Budget
    hparams: HParams = {}


class Suite(_Strict):
    """A suite file. ``hparams`` maps an algorithm or variant name to overrides for all its cells;
    ``hv_at`` lists budgets at which the table also reports the hypervolume read from ``metrics.csv``."""

    description: StrictStr = ""
    hparams: dict[Name, HParams | None] = {}
    variants: dict[Name, Variant] = {}
    grid: Grid | None = None
    grids: list[Grid] = []
    cells: list[CellSpec] = []
    hv_at: Annotated[list[Budget], BeforeValidator(_one_or_many)] = []

    @pydantic.model_validator(mode="after")
    def _check(self) -> Suite:
        if self.grid is None and not self.grids and not self.cells:
            raise ValueError("defines no cells: give 'grid', 'grids' or 'cells'")
        for name, variant in self.variants.items():
            if variant.algo in self.variants:
                raise ValueError(f"variants.{name}.algo: {variant.algo!r} is a variant; name an algorithm")
        return self


class SuiteError(ValueError):
    """A suite file that cannot be used; the message is one line naming the file and the problem."""


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel]:
    """The schema model that holds the last key of ``loc`` (for the valid keys of an unknown one)."""
    model: type[BaseModel] = Suite
    for part in loc[:-1]:
        if isinstance(part, str) and part in model.model_fields:
            inner = _inner_model(model.model_fields[part].annotation)
            model = inner or model
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _where(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "top level"


def _describe(err: dict[str, Any]) -> str:
    loc = tuple(part for part in err["loc"] if part not in ("function-before", "function-after"))
    if err["type"] == "extra_forbidden":
        valid = ", ".join(_model_at(loc).model_fields)
        return f"{_where(loc[:-1])}: unknown key {loc[-1]!r} (valid: {valid})"
    if err["type"] == "value_error" and not loc:
        return str(err["msg"]).removeprefix("Value error, ")
    got = err.get("input")
    shown = "" if isinstance(got, dict | list) else f" (got {got!r:.60})"
    message = err["msg"]
    if err["type"] == "string_pattern_mismatch":  # names go into directory names
        message = "a name must be letters, digits and _.+- (starting with a letter or digit)"
    if loc and loc[-1] == "[key]":  # a mapping key (a variant's or algorithm's name) is wrong
        return f"{_where(loc[:-2])}: key {loc[-2]!r}: {message}"
    return f"{_where(loc)}: {message}{shown}"


def parse_suite(data: Any, source: str = "suite") -> Suite:
    """Validate a suite mapping; every problem in one line, naming ``source`` and the path in the YAML."""
    if data is None:
        raise SuiteError(f"{source}: the file is empty")
    if not isinstance(data, dict):
        raise SuiteError(f"{source}: must be a mapping of keys, got {type(data).__name__}")
    try:
        return Suite.model_validate(data)
    except pydantic.ValidationError as err:
        problems = "; ".join(_describe(e) for e in err.errors())
        raise SuiteError(f"{source}: {problems}") from None


# --- cells ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    """One training run of the suite. ``variant`` is its row label and directory prefix (a variant's
    name, or the algorithm's own); ``algo`` is the algorithm that trains."""

    variant: str
    algo: str
    env: str
    seed: int
    budget: int
    hparams: tuple[tuple[str, Any], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.variant}-{_env_slug(self.env)}-{self.seed}-{self.budget}"

    @property
    def group(self) -> tuple[str, str, int]:
        """Cells differing only in the seed are aggregated together."""
        return (self.variant, self.env, self.budget)

    @property
    def external(self) -> bool:
        return self.algo in EXTERNAL_ALGOS

    def hparams_dict(self) -> dict[str, Any]:
        return {key: value for key, value in self.hparams}


def _env_slug(env: str) -> str:
    return env.replace("/", "_").replace(":", ".")


def _merge(*layers: dict[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer or {})
    return tuple(sorted(merged.items()))


def expand(suite: Suite, source: str = "suite") -> list[Cell]:
    """The suite's cells: grids expanded, variants resolved, hyperparameters merged, duplicates dropped.

    A cell's hyperparameters are, later ones winning: the suite's ``hparams`` of its algorithm, the
    variant's own ``hparams``, the suite's ``hparams`` of the variant's name, the grid's or cell's.
    """
    specs: list[tuple[str, str, int, int, dict[str, Any]]] = []
    for grid in [g for g in [suite.grid] if g is not None] + suite.grids:
        for algo in grid.algos:
            for env in grid.envs:
                for budget in grid.budgets:
                    for seed in grid.seeds:
                        specs.append((algo, env, seed, budget, grid.hparams))
    specs += [(c.algo, c.env, c.seed, c.budget, c.hparams) for c in suite.cells]
    unique: dict[str, Cell] = {}
    for variant, env, seed, budget, extra in specs:
        spec = suite.variants.get(variant)
        algo = spec.algo if spec is not None else variant
        layers = [suite.hparams.get(algo), spec.hparams if spec is not None else None]
        if variant != algo:
            layers.append(suite.hparams.get(variant))
        cell = Cell(variant, algo, env, seed, budget, _merge(*layers, extra))
        if cell.name in unique and unique[cell.name] != cell:
            raise SuiteError(f"{source}: cell {cell.name} is defined twice with different hyperparameters")
        unique[cell.name] = cell
    used = {c.variant for c in unique.values()} | {c.algo for c in unique.values()}
    for name in sorted(set(suite.hparams) - used):
        print(f"benchmark: warning: {source}: hparams.{name} is no algorithm or variant of a cell", file=sys.stderr)
    return list(unique.values())


def load_suite(path: Path) -> tuple[Suite, list[Cell]]:
    """The validated suite in ``path`` and its cells; :class:`SuiteError` (one line) on any problem."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise SuiteError(f"suite {path}: cannot read it ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise SuiteError(f"suite {path}: not valid YAML: {' '.join(str(err).split())}") from None
    suite = parse_suite(data, f"suite {path}")
    return suite, expand(suite, f"suite {path}")
