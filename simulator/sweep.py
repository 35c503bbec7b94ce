"""Parameter sweeps: a TOML file of a grid of configurations, validated, then run through
:func:`pssim.execution.run_points` (chunks, executors, resume).

The draws of a point come from a seed derived from (sweep seed, the point's compute model
and N), and realization k of a point is the same whatever chunk it falls in, so the output
is bit-identical whatever the executor, the number of processes or the chunk size, and all
points that share a compute model and N share their stragglers.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from pathlib import Path
from typing import Annotated, Any, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    create_model,
)

from pssim import compute
from pssim import network as networks
from pssim.config import ENGINES, Config, check_field
from pssim.errors import ConfigError
from pssim.execution import (
    DEFAULT_CHUNK_SIZE,
    EXECUTORS,
    Report,
    check_size,
    run_points,
)
from pssim.fields import SPECS
from pssim.schemes.registry import resolve

__all__ = ["EXECUTORS", "PARAMETERS", "Report", "SweepFile", "load_file", "points",
           "run_sweep", "validate"]

#: Set in the [sweep] section, not per point.
_RUN_WIDE = ("scheme", "reps", "seed")

#: The strict TOML type of each kind of Config field (see pssim.fields).
_TOML_TYPES: dict[str, Any] = {"int": int, "float": float, "quantity": float | str,
                               "str": str, "floats": list[float] | str,
                               "table": dict[str, float] | str}


def _checked(name: str) -> Any:
    """The Config field's own check (same rules, same text), plus what only the layers
    above the configuration know: the registered network names; the value stays as the
    file wrote it."""

    def check(value: Any) -> Any:
        check_field(name, value)
        if name == "network" and value not in networks.names():
            raise ConfigError(name, value, f"must be one of {', '.join(networks.names())}")
        if name == "family" and value not in compute.families.names():
            raise ConfigError(name, value, f"must be one of "
                              f"{', '.join(compute.families.names())}")
        if name == "engine" and value == "analytic":
            simulated = [e for e in ENGINES if e != "analytic"]
            raise ConfigError(name, value, f"must be one of {', '.join(simulated)} (a sweep "
                              "simulates realizations)")
        return value

    return check


#: Every Config field that a sweep point can fix or vary, with its strict TOML type.
PARAMETERS: dict[str, Any] = {
    name: Annotated[_TOML_TYPES[SPECS[name].kind], AfterValidator(_checked(name))]
    for name in Config.model_fields if name not in _RUN_WIDE}

# strict: "10" is not 10 and true is not 1.0 (integers still pass where floats are due).
_STRICT = ConfigDict(extra="forbid", strict=True)
_FIXED: dict[str, Any] = {k: (t | None, None) for k, t in PARAMETERS.items()}
_GRID: dict[str, Any] = {k: (Annotated[list[t], Field(min_length=1)] | None, None)  # type: ignore[valid-type]
                         for k, t in PARAMETERS.items()}
Fixed: type[BaseModel] = create_model("Fixed", __config__=_STRICT, **_FIXED)
Grid: type[BaseModel] = create_model("Grid", __config__=_STRICT, **_GRID)
#: The [stragglers] table: the straggler model's keys, as ``--stragglers FILE`` reads them.
Stragglers: type[BaseModel] = create_model(
    "Stragglers", __config__=_STRICT, **{k: _FIXED[k] for k in compute.FIELDS})

def _schemes(names: list[str]) -> list[str]:
    for name in names:
        if name.strip().lower() != "all":
            resolve(name)
    return names


class SweepSection(BaseModel):
    model_config = _STRICT
    seed: int = Field(0, ge=0)
    reps: int = Field(ge=1)
    schemes: Annotated[list[str], Field(min_length=1), AfterValidator(_schemes)]
    chunk_size: int = Field(DEFAULT_CHUNK_SIZE, ge=1)


class SweepFile(BaseModel):
    """A sweep: [sweep] (seed, reps, schemes, chunk_size), [grid] (lists), [fixed] and
    [stragglers] (the straggler model's keys, fixed for every point)."""

    model_config = _STRICT
    _order: list[str] = PrivateAttr(default_factory=list)
    sweep: SweepSection
    grid: Grid = Field(default_factory=Grid)  # type: ignore[valid-type]
    fixed: Fixed = Field(default_factory=Fixed)  # type: ignore[valid-type]
    stragglers: Stragglers = Field(default_factory=Stragglers)  # type: ignore[valid-type]

    def varied(self) -> dict[str, list[Any]]:
        """The [grid] lists, in the order the file gives them."""
        grid = cast(BaseModel, self.grid).model_dump(exclude_none=True)
        order = [k for k in self._order if k in grid] + [k for k in grid if k not in self._order]
        return {k: grid[k] for k in order}

    def constant(self) -> dict[str, Any]:
        return {**cast(BaseModel, self.stragglers).model_dump(exclude_none=True),
                **cast(BaseModel, self.fixed).model_dump(exclude_none=True)}


def validate(config: dict[str, Any], source: str = "<dict>") -> SweepFile:
    """The validated sweep, or one ConfigError listing every problem with its key."""
    try:
        sweep = SweepFile.model_validate(config)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"])
            given = "" if e["type"] == "missing" else f" (got {e['input']!r})"
            cause = e.get("ctx", {}).get("error")
            message = (cause.allowed if isinstance(cause, ConfigError)
                       else e["msg"].removeprefix("Value error, "))
            field = next((p for p in e["loc"][1:] if isinstance(p, str)), None)
            if isinstance(cause, ConfigError) and cause.parameter != field:
                message = f"{cause.parameter} {message}"  # a table's key: groups.size
            problems.append(f"  {key.lstrip('.')}: {message}{given}")
        raise ConfigError("sweep", source, f"has {len(problems)} problem(s):\n"
                          + "\n".join(problems)) from None
    grid = config.get("grid")
    sweep._order = list(grid) if isinstance(grid, dict) else []
    fixed = set(cast(BaseModel, sweep.fixed).model_dump(exclude_none=True))
    stragglers = set(cast(BaseModel, sweep.stragglers).model_dump(exclude_none=True))
    for a, b, keys in (("[grid]", "[fixed]", set(sweep.varied()) & fixed),
                       ("[grid]", "[stragglers]", set(sweep.varied()) & stragglers),
                       ("[stragglers]", "[fixed]", stragglers & fixed)):
        if keys:
            raise ConfigError("sweep", source, f"sets {sorted(keys)[0]} in both {a} and "
                              f"{b}; a parameter is set in one place")
    return sweep


def load_file(path: str | Path) -> SweepFile:
    """Read and validate a TOML sweep file."""
    p = Path(path)
    try:
        config = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError("sweep file", str(path), "must be an existing TOML file") from None
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as err:
        raise ConfigError("sweep file", str(path), f"must be valid TOML ({err})") from None
    # Input files named in the sweep file are where the file says, whatever the current
    # directory.
    for section in ("fixed", "grid"):
        table = config.get(section)
        if isinstance(table, dict) and "compute_times" in table:
            table["compute_times"] = _beside(p, table["compute_times"])
    return validate(config, str(path))


def _beside(sweep_file: Path, value: Any) -> Any:
    if isinstance(value, list):
        return [_beside(sweep_file, v) for v in value]
    if isinstance(value, str) and not Path(value).is_absolute():
        return str((sweep_file.parent / value).resolve())
    return value


def points(sweep: SweepFile) -> list[dict[str, Any]]:
    """Each point's parameters: the product of the grid, in file order, plus the fixed."""
    grid, fixed = sweep.varied(), sweep.constant()
    return [{**fixed, **dict(zip(grid, values, strict=True))}
            for values in itertools.product(*grid.values())]


def run_sweep(sweep: SweepFile | dict[str, Any], out: str | Path, *, executor: str = "processes",
              workers_per_host: int | None = None, scheduler: str | None = None,
              connect_timeout: float = 10.0, chunk_size: int | None = None,
              resume: bool = False, force: bool = False, progress: bool = False) -> Report:
    """Run a sweep into ``out``: ``out/data/*.parquet`` (one file per finished chunk),
    ``out/sweep.json`` (the resolved sweep) and ``out/failures.json``.

    Re-running into the same folder skips finished chunks; ``resume=True`` also requires
    that the folder holds this sweep already. Each point draws from a seed derived from
    the sweep's seed, its compute model and N (:func:`pssim.execution.point_seed`). A run
    beyond sane sizes is refused unless ``force``.
    """
    if not isinstance(sweep, SweepFile):
        sweep = validate(sweep)
    s = sweep.sweep
    size = s.chunk_size if chunk_size is None else chunk_size
    if size < 1:
        raise ConfigError("chunk_size", size, "must be an integer >= 1")
    # Checked before the grid is built: a grid of 10^6 points takes minutes to build.
    count = math.prod(len(v) for v in sweep.varied().values())
    schemes = sum(6 if name.lower() == "all" else 1 for name in s.schemes)
    check_size(count, count * math.ceil(s.reps / size), count * s.reps * schemes, force)
    grid = points(sweep)
    description = {**sweep.model_dump(mode="json"), "points": grid}
    del description["sweep"]["chunk_size"]
    return run_points([{**p, "scheme": s.schemes, "reps": s.reps} for p in grid], out,
                      description=description, seed=s.seed, seeding="point",
                      chunk_size=size, executor=executor, workers_per_host=workers_per_host,
                      scheduler=scheduler, connect_timeout=connect_timeout, resume=resume,
                      force=force, progress=progress)
