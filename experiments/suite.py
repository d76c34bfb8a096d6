"""Benchmark suites: the YAML schema (pydantic, every mistake one line), variants, and the cells a suite expands to.

Schema and examples: ``experiments/README.md``. ``experiments/benchmark.py`` runs the cells.
"""

from __future__ import annotations

import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr

# MORL-Baselines' algorithms, run by experiments/morlb_cell.py in their own venv (never a morl dependency).
EXTERNAL_ALGOS = ("pgmorl", "capql", "gpi-ls", "envelope")
DATASET_PREFIX = "dataset:"  # a cell's env ``dataset:NAME`` is the suite's dataset NAME
BEHAVIOURS = ("random", "scripted")  # the behaviours of `morl data collect` that need no run


# --- schema -----------------------------------------------------------------------------
def _one_or_many(value: Any) -> Any:
    """A scalar where a list is expected is a list of one (``seeds: 0``)."""
    return value if isinstance(value, list) else [value]


NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$"
DATASET_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"  # NAME-v0 must be a Minari dataset id
Name = Annotated[StrictStr, Field(pattern=NAME_PATTERN)]  # goes into directory names
DatasetName = Annotated[StrictStr, Field(pattern=DATASET_NAME_PATTERN)]
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


class CellSource(_Strict):
    """The cell of this suite whose archive a dataset is collected from (the keys of ``cells`` but ``env``)."""

    algo: Name
    budget: Budget
    seed: Seed
    hparams: HParams = {}


class DatasetSpec(_Strict):
    """A dataset the benchmark collects, as ``morl data collect`` does, before the cells on ``dataset:NAME``.

    Exactly one of ``source`` (a cell of this suite, trained first; its archive acts) and
    ``behaviour`` (``random`` or ``scripted``). ``distribution`` is D4MORL's (``morl.preferences``).
    """

    env: EnvId
    source: CellSource | None = None
    behaviour: StrictStr | None = None
    mode: Literal["expert", "amateur"] = "expert"
    episodes: Annotated[StrictInt, Field(gt=0)]
    distribution: Literal["uniform", "wide", "narrow"] = "uniform"  # the keys of morl.preferences.DISTRIBUTIONS
    seed: Seed = 0

    @pydantic.model_validator(mode="after")
    def _check(self) -> DatasetSpec:
        if (self.source is None) == (self.behaviour is None):
            which = "not both" if self.source else "one is needed"
            raise ValueError("give 'source' (a cell of this suite: {algo, budget, seed}) or 'behaviour' "
                             f"({', '.join(BEHAVIOURS)}): {which}")  # fmt: skip
        if self.behaviour is not None and self.behaviour not in BEHAVIOURS:
            hint = "; a run's archive is a 'source' cell of the suite" if self.behaviour.startswith("run:") else ""
            raise ValueError(f"behaviour {self.behaviour!r} is not one of {', '.join(BEHAVIOURS)}{hint}")
        if self.env.startswith(DATASET_PREFIX):
            raise ValueError(f"env {self.env!r}: a dataset is collected in an env, not in another dataset")
        if self.behaviour == "scripted":
            from morl.data.behaviour import SCRIPTED

            if self.env not in SCRIPTED:
                raise ValueError(f"behaviour 'scripted': no scripted family for {self.env!r}; "
                                 f"families exist for {', '.join(SCRIPTED)}")  # fmt: skip
        return self


class Suite(_Strict):
    """A suite file. ``hparams`` maps an algorithm or variant name to overrides for all its cells;
    ``hv_at`` lists budgets at which the table also reports the hypervolume read from ``metrics.csv``;
    ``reach_baseline`` names the row (an algorithm or variant of the grids or cells) whose mean final
    hypervolume the table's "steps to baseline HV" column measures every row against.
    ``reroll_episodes``: score every cell by its archive re-rolled with this many episodes per entry
    (``morl.reroll``) instead of its stored values, which on a stochastic env are the luckiest of many
    short evaluations; None scores the stored values."""

    description: StrictStr = ""
    hparams: dict[Name, HParams | None] = {}
    variants: dict[Name, Variant] = {}
    grid: Grid | None = None
    grids: list[Grid] = []
    cells: list[CellSpec] = []
    hv_at: Annotated[list[Budget], BeforeValidator(_one_or_many)] = []
    datasets: dict[DatasetName, DatasetSpec] = {}
    reach_baseline: Name | None = None
    reroll_episodes: Annotated[StrictInt, Field(gt=0)] | None = None

    @pydantic.model_validator(mode="after")
    def _check(self) -> Suite:
        if self.grid is None and not self.grids and not self.cells:
            raise ValueError("defines no cells: give 'grid', 'grids' or 'cells'")
        for name, variant in self.variants.items():
            if variant.algo in self.variants:
                raise ValueError(f"variants.{name}.algo: {variant.algo!r} is a variant; name an algorithm")
        declared = ", ".join(self.datasets) or "none: add a 'datasets' section"
        envs = [("grid.envs", env) for env in (self.grid.envs if self.grid else [])]
        envs += [(f"grids[{i}].envs", env) for i, grid in enumerate(self.grids) for env in grid.envs]
        envs += [(f"cells[{i}].env", cell.env) for i, cell in enumerate(self.cells)]
        for where, env in envs:
            if env.startswith(DATASET_PREFIX) and env.removeprefix(DATASET_PREFIX) not in self.datasets:
                raise ValueError(f"{where}: {env!r} names no dataset of the suite (declared: {declared})")
        rows = [name for grid in [self.grid, *self.grids] if grid is not None for name in grid.algos]
        rows += [cell.algo for cell in self.cells]
        if self.reach_baseline is not None and self.reach_baseline not in rows:
            raise ValueError(f"reach_baseline: {self.reach_baseline!r} is no algorithm or variant of the grids or "
                             f"cells (they have: {', '.join(dict.fromkeys(rows))})")  # fmt: skip
        for name, spec in self.datasets.items():
            if spec.source is None:
                continue
            variant = self.variants.get(spec.source.algo)
            algo = variant.algo if variant is not None else spec.source.algo
            if algo in EXTERNAL_ALGOS:
                raise ValueError(f"datasets.{name}.source.algo: {spec.source.algo!r} runs in MORL-Baselines' venv "
                                 "and saves no policies to collect with; name one of ours (e.g. cmorl)")  # fmt: skip
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
    if err["type"] == "value_error":  # our own validators' messages
        message = str(err["msg"]).removeprefix("Value error, ")
        return f"{_where(loc)}: {message}" if loc else message
    got = err.get("input")
    shown = "" if isinstance(got, dict | list) else f" (got {got!r:.60})"
    message = err["msg"]
    if err["type"] == "model_type":  # a scalar where a mapping of the model's keys belongs
        message = f"must be a mapping of keys {', '.join(_model_at((*loc, None)).model_fields)}"
    if err["type"] == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == DATASET_NAME_PATTERN:
        message = "a dataset name must be letters, digits, _ and - (starting with a letter or digit): NAME-v0 is its id"
    elif err["type"] == "string_pattern_mismatch":  # names go into directory names
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
    name, or the algorithm's own); ``algo`` is the algorithm that trains. ``env_path`` is the
    directory an env ``dataset:NAME`` stands for, set by the benchmark once it knows where datasets go."""

    variant: str
    algo: str
    env: str
    seed: int
    budget: int
    hparams: tuple[tuple[str, Any], ...] = ()
    env_path: str | None = field(default=None, compare=False)

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

    @property
    def dataset(self) -> str | None:
        """The name of the suite's dataset this cell trains on, or None."""
        return self.env.removeprefix(DATASET_PREFIX) if self.env.startswith(DATASET_PREFIX) else None

    @property
    def train_env(self) -> str:
        """What ``morl.training.train`` is given: the env id, or the dataset's directory."""
        if self.dataset is not None and self.env_path is None:
            raise ValueError(f"cell {self.name}: dataset {self.dataset!r} has no directory yet")
        return self.env_path or self.env

    def hparams_dict(self) -> dict[str, Any]:
        return {key: value for key, value in self.hparams}


def _env_slug(env: str) -> str:
    return env.replace("/", "_").replace(":", ".")


def _merge(*layers: dict[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer or {})
    return tuple(sorted(merged.items()))


def _cell(suite: Suite, variant: str, env: str, seed: int, budget: int, extra: dict[str, Any]) -> Cell:
    """A cell with its variant resolved and its hyperparameters merged (see :func:`expand`)."""
    spec = suite.variants.get(variant)
    algo = spec.algo if spec is not None else variant
    layers = [suite.hparams.get(algo), spec.hparams if spec is not None else None]
    if variant != algo:
        layers.append(suite.hparams.get(variant))
    return Cell(variant, algo, env, seed, budget, _merge(*layers, extra))


def source_cells(suite: Suite) -> dict[str, Cell]:
    """The cell each dataset with a ``source`` is collected from, by dataset name."""
    return {
        name: _cell(suite, spec.source.algo, spec.env, spec.source.seed, spec.source.budget, spec.source.hparams)
        for name, spec in suite.datasets.items()
        if spec.source is not None
    }


def expand(suite: Suite, source: str = "suite") -> list[Cell]:
    """The suite's cells: grids expanded, variants resolved, hyperparameters merged, duplicates dropped.

    A cell's hyperparameters are, later ones winning: the suite's ``hparams`` of its algorithm, the
    variant's own ``hparams``, the suite's ``hparams`` of the variant's name, the grid's or cell's.
    The source cells of datasets come first (they are cells like the others: a grid may repeat one).
    """
    specs: list[tuple[str, str, int, int, dict[str, Any]]] = []
    for grid in [g for g in [suite.grid] if g is not None] + suite.grids:
        for algo in grid.algos:
            for env in grid.envs:
                for budget in grid.budgets:
                    for seed in grid.seeds:
                        specs.append((algo, env, seed, budget, grid.hparams))
    specs += [(c.algo, c.env, c.seed, c.budget, c.hparams) for c in suite.cells]
    unique: dict[str, Cell] = {cell.name: cell for cell in source_cells(suite).values()}
    for variant, env, seed, budget, extra in specs:
        cell = _cell(suite, variant, env, seed, budget, extra)
        if cell.name in unique and unique[cell.name] != cell:
            raise SuiteError(f"{source}: cell {cell.name} is defined twice with different hyperparameters")
        unique[cell.name] = cell
    used = {c.variant for c in unique.values()} | {c.algo for c in unique.values()}
    for name in sorted(set(suite.hparams) - used):
        print(f"benchmark: warning: {source}: hparams.{name} is no algorithm or variant of a cell", file=sys.stderr)
    needed = {c.dataset for c in unique.values()}
    for name in [name for name in suite.datasets if name not in needed]:
        print(f"benchmark: warning: {source}: datasets.{name} is the env of no cell (it is collected anyway)",
              file=sys.stderr)  # fmt: skip
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
