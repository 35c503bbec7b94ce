"""Parameter sweeps: a grid of configurations, split into chunks of realizations, run on a
serial, local-process or Dask executor, written chunk by chunk so that a sweep can resume.

The draws of a point come from a seed derived from (sweep seed, the point's compute model
and N), and realization k of a point is the same whatever chunk it falls in, so the output
is bit-identical whatever the executor, the number of processes or the chunk size, and all
points that share a compute model and N share their stragglers.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import itertools
import json
import multiprocessing
import os
import time
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, cast

import numpy as np
import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    create_model,
)
from tqdm.auto import tqdm

from pssim import config as fields
from pssim import network as networks
from pssim.api import prepare, simulate
from pssim.compute import ComputeModel
from pssim.config import Config
from pssim.engines import choose
from pssim.errors import ConfigError, writable_folder
from pssim.schemes.registry import expand_names, resolve

EXECUTORS = ("serial", "processes", "dask")
_DEFAULT_WORKERS = Config.model_fields["workers"].default
DEFAULT_CHUNK_SIZE = 5000

#: Set in the [sweep] section, not per point.
_RUN_WIDE = ("scheme", "reps", "seed")

#: The strict TOML type of each kind of Config field (see pssim.config).
_TOML_TYPES: dict[str, Any] = {"int": int, "float": float, "quantity": float | str,
                               "str": str}


def _checked(name: str) -> Any:
    """The Config field's own check (same rules, same text), plus what only the layers
    above the configuration know: the registered network names; the value stays as the
    file wrote it."""

    def check(value: Any) -> Any:
        fields.check_field(name, value)
        if name == "network" and value not in networks.names():
            raise ConfigError(name, value, f"must be one of {', '.join(networks.names())}")
        if name == "engine" and value == "analytic":
            raise ValueError("must be one of auto, des, vectorized (a sweep simulates "
                             "realizations)")
        return value

    return check


#: Every Config field that a sweep point can fix or vary, with its strict TOML type.
PARAMETERS: dict[str, Any] = {
    name: Annotated[_TOML_TYPES[fields.kind(name)], AfterValidator(_checked(name))]
    for name in Config.model_fields if name not in _RUN_WIDE}

# strict: "10" is not 10 and true is not 1.0 (integers still pass where floats are due).
_STRICT = ConfigDict(extra="forbid", strict=True)
_FIXED: dict[str, Any] = {k: (t | None, None) for k, t in PARAMETERS.items()}
_GRID: dict[str, Any] = {k: (Annotated[list[t], Field(min_length=1)] | None, None)  # type: ignore[valid-type]
                         for k, t in PARAMETERS.items()}
Fixed: type[BaseModel] = create_model("Fixed", __config__=_STRICT, **_FIXED)
Grid: type[BaseModel] = create_model("Grid", __config__=_STRICT, **_GRID)

def _schemes(names: list[str]) -> list[str]:
    for name in expand_names(names):
        resolve(name)
    return names


class SweepSection(BaseModel):
    model_config = _STRICT
    seed: int = Field(0, ge=0)
    reps: int = Field(ge=1)
    schemes: Annotated[list[str], Field(min_length=1), AfterValidator(_schemes)]
    chunk_size: int = Field(DEFAULT_CHUNK_SIZE, ge=1)


class SweepFile(BaseModel):
    """A sweep: [sweep] (seed, reps, schemes, chunk_size), [grid] (lists) and [fixed]."""

    model_config = _STRICT
    _order: list[str] = PrivateAttr(default_factory=list)
    sweep: SweepSection
    grid: Grid = Field(default_factory=Grid)  # type: ignore[valid-type]
    fixed: Fixed = Field(default_factory=Fixed)  # type: ignore[valid-type]

    def varied(self) -> dict[str, list[Any]]:
        """The [grid] lists, in the order the file gives them."""
        grid = cast(BaseModel, self.grid).model_dump(exclude_none=True)
        order = [k for k in self._order if k in grid] + [k for k in grid if k not in self._order]
        return {k: grid[k] for k in order}

    def constant(self) -> dict[str, Any]:
        return cast(BaseModel, self.fixed).model_dump(exclude_none=True)


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
            problems.append(f"  {key.lstrip('.')}: {message}{given}")
        raise ConfigError("sweep", source, f"has {len(problems)} problem(s):\n"
                          + "\n".join(problems)) from None
    grid = config.get("grid")
    sweep._order = list(grid) if isinstance(grid, dict) else []
    both = sorted(set(sweep.varied()) & set(sweep.constant()))
    if both:
        raise ConfigError("sweep", source, f"sets {both[0]} in both [grid] and [fixed]; a "
                          "parameter is either varied or fixed")
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
    return validate(config, str(path))


def points(sweep: SweepFile) -> list[dict[str, Any]]:
    """Each point's parameters: the product of the grid, in file order, plus the fixed."""
    grid, fixed = sweep.varied(), sweep.constant()
    return [{**fixed, **dict(zip(grid, values, strict=True))}
            for values in itertools.product(*grid.values())]


def point_seed(seed: int, params: dict[str, Any], model: ComputeModel) -> int:
    """The seed of a point's draws: (sweep seed, compute model, N) only, through a stable
    digest (never Python's salted ``hash``). The model's resolved parameters are used, so
    ``mu`` left to its default and ``mu = 10`` give the same draws."""
    key = {**model.parameters(), "compute_times": str(params.get("compute_times")),
           "workers": params.get("workers", _DEFAULT_WORKERS)}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).digest()
    words = np.frombuffer(digest[:16], dtype=np.uint32).tolist()
    state = np.random.SeedSequence([seed, *words]).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))  # fits the summary's int64 seed column


def run_chunk(params: dict[str, Any], seed: int, point: int, start: int,
              stop: int, path: Path | None = None) -> pd.DataFrame | None:
    """Realizations start..stop-1 of one point (runs in a worker process). With ``path``
    the worker writes the chunk itself and returns nothing, which spares sending it back
    (local executors, whose workers share the output folder)."""
    options = {k: v for k, v in params.items() if k not in ("reps", "seed")}
    summary = simulate(**options, reps=stop - start, first_rep=start, seed=seed).summary
    summary.insert(0, "point", np.int64(point))
    if path is None:
        return summary
    _write_atomically(summary, path)
    return None


@dataclass
class Report:
    """What a sweep did."""

    folder: Path
    points: int
    chunks_run: int = 0
    chunks_skipped: int = 0
    realizations: int = 0
    seconds: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"{self.points} points; {self.chunks_run} chunks run, {self.chunks_skipped} "
                 f"already done; {self.realizations} realizations in {self.seconds:.1f} s; "
                 f"data in {self.folder / 'data'}"]
        if self.failures:
            lines.append(f"{len(self.failures)} failure(s):")
            lines += [f"  point {f['point']} {f['parameters']}: {f['error']}"
                      for f in self.failures]
        return "\n".join(lines)


def _chunk_path(folder: Path, point: int, start: int, stop: int) -> Path:
    return folder / "data" / f"p{point:05d}_r{start:010d}-{stop:010d}.parquet"


def _write_atomically(frame: pd.DataFrame, path: Path) -> None:
    # A reader (or a resumed sweep) sees the whole chunk or nothing.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


class _Serial(cf.Executor):
    """Runs each task when it is submitted: the reference executor."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as err:  # reported per chunk, like the other executors do
            future.set_exception(err)
        return future


@dataclass
class _Executor:
    kind: str
    workers_per_host: int | None
    scheduler: str | None
    _client: Any = None

    def __enter__(self) -> cf.Executor:
        if self.kind == "serial":
            return _Serial()
        if self.kind == "processes":
            # forkserver: workers fork from a clean server that has imported pssim once,
            # so they inherit no threads or locks from this process (tqdm's monitor, say)
            # and start without importing numpy and pandas again.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["pssim.sweep"])
            return cf.ProcessPoolExecutor(self.workers_per_host or os.cpu_count(),
                                          mp_context=context)
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError("executor", "dask", "needs the dask extra: pip install "
                              "'pssim[dask]'") from None
        if self.scheduler:
            self._client = Client(self.scheduler)
        else:
            # The workers' statistical profiler interrupts the simulation every 10 ms for
            # a view nobody looks at here: about 4% of a sweep.
            with dask.config.set({"distributed.worker.profile.enabled": False}):
                self._client = Client(LocalCluster(
                    n_workers=self.workers_per_host or os.cpu_count(), threads_per_worker=1,
                    dashboard_address=None))
        executor: cf.Executor = self._client.get_executor()
        return executor

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            cluster = self._client.cluster
            self._client.close()
            if cluster is not None:
                cluster.close()


def run_sweep(sweep: SweepFile | dict[str, Any], out: str | Path, *, executor: str = "processes",
              workers_per_host: int | None = None, scheduler: str | None = None,
              chunk_size: int | None = None, resume: bool = False,
              progress: bool = False) -> Report:
    """Run a sweep into ``out``: ``out/data/*.parquet`` (one file per finished chunk),
    ``out/sweep.json`` (the resolved sweep) and ``out/failures.json``.

    Re-running into the same folder skips finished chunks; ``resume=True`` also requires
    that the folder holds this sweep already. Each point draws from a seed derived from
    the sweep's seed, its compute model and N (:func:`point_seed`).
    """
    if not isinstance(sweep, SweepFile):
        sweep = validate(sweep)
    s = sweep.sweep
    grid = points(sweep)
    description = {**sweep.model_dump(mode="json"), "points": grid}
    del description["sweep"]["chunk_size"]
    return run_points([{**p, "scheme": s.schemes, "reps": s.reps} for p in grid], out,
                      description=description, seed=s.seed, seeding="point",
                      chunk_size=s.chunk_size if chunk_size is None else chunk_size,
                      executor=executor, workers_per_host=workers_per_host,
                      scheduler=scheduler, resume=resume, progress=progress)


def run_points(points: list[dict[str, Any]], out: str | Path, *, description: dict[str, Any],
               seed: int, seeding: str = "point", chunk_size: int = DEFAULT_CHUNK_SIZE,
               executor: str = "processes", workers_per_host: int | None = None,
               scheduler: str | None = None, resume: bool = False,
               progress: bool = False) -> Report:
    """Simulate each point (Config fields, with ``scheme`` and ``reps``) into ``out``, in
    chunks of realizations on ``executor``, writing each chunk as it finishes.

    ``description`` identifies the run in ``out/sweep.json``: a folder that holds another
    run is refused. ``seeding`` is ``point`` (each point's draws from :func:`point_seed`)
    or ``root`` (every point draws from ``seed`` itself: common random numbers across
    points, as the scenarios compare them).
    """
    if executor not in EXECUTORS:
        raise ConfigError("executor", executor, f"must be one of {', '.join(EXECUTORS)}")
    if workers_per_host is not None and workers_per_host < 1:
        raise ConfigError("workers_per_host", workers_per_host, "must be an integer >= 1")
    if chunk_size < 1:
        raise ConfigError("chunk_size", chunk_size, "must be an integer >= 1")
    if seeding not in ("point", "root"):
        raise ConfigError("seeding", seeding, "must be point or root")
    folder = Path(out)
    _resolve(description, chunk_size, folder, resume)
    report = Report(folder, len(points))
    start_time = time.perf_counter()
    Task = tuple[int, dict[str, Any], int, int, int]
    tasks: list[Task] = []
    slow: list[Task] = []
    failed: dict[int, str] = {}
    for i, params in enumerate(points):
        try:
            prepared = prepare(Config(**params))
            model = prepared.compute
            # Points only the SimPy engine can run take far longer per realization.
            simpy_only = choose(prepared.config.engine, prepared.network, False).name == "des"
        except ConfigError as err:
            failed[i] = str(err)
            continue
        point_rng = point_seed(seed, params, model) if seeding == "point" else seed
        reps = int(params["reps"])
        for start in range(0, reps, chunk_size):
            stop = min(reps, start + chunk_size)
            if _chunk_path(folder, i, start, stop).exists():
                report.chunks_skipped += 1
            else:
                (slow if simpy_only else tasks).append((i, params, point_rng, start, stop))
    # The longest tasks first, so that no process is left with one at the end; the order
    # of execution never changes a result.
    tasks = slow + tasks
    if len(failed) == len(points):
        first = next(iter(failed.values()))
        raise ConfigError("sweep", f"all {len(failed)} points", f"are infeasible: {first}")
    # Finished chunks are written and released as they come, with a bounded number of tasks
    # in flight, so memory does not grow with the size of the run.
    in_flight = 2 * (workers_per_host or os.cpu_count() or 1)
    with _Executor(executor, workers_per_host, scheduler) as pool, tqdm(
            total=sum(t[4] - t[3] for t in tasks), unit="rep", disable=not progress,
            desc="sweep", smoothing=0.1) as bar:
        queue = iter(tasks)
        pending: dict[cf.Future[pd.DataFrame | None], tuple[int, int, int]] = {}
        # Dask workers may run on other hosts: they send their chunks back to be written.
        local = executor != "dask"
        while True:
            for i, params, point_rng, start, stop in itertools.islice(
                    queue, max(0, in_flight - len(pending))):
                target = _chunk_path(folder, i, start, stop) if local else None
                pending[pool.submit(run_chunk, params, point_rng, i, start, stop,
                                    target)] = (i, start, stop)
            if not pending:
                break
            done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for future in done:
                i, start, stop = pending.pop(future)
                try:
                    frame = future.result()
                    if frame is not None:
                        _write_atomically(frame, _chunk_path(folder, i, start, stop))
                except Exception as err:  # one failing chunk must not stop the sweep
                    failed.setdefault(i, f"{type(err).__name__}: {err}")
                    continue
                report.chunks_run += 1
                report.realizations += stop - start
                bar.update(stop - start)
    report.failures = [{"point": i, "parameters": _plain(points[i]), "error": e}
                       for i, e in sorted(failed.items())]
    _write_text(folder / "failures.json", json.dumps(report.failures, indent=2))
    report.seconds = time.perf_counter() - start_time
    return report


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(params, default=str))


def _write_text(path: Path, text: str) -> None:
    # A kill mid-write leaves the old file or the new one, never a truncated one.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _resolve(description: dict[str, Any], chunk_size: int, folder: Path, resume: bool) -> None:
    resolved = json.loads(json.dumps({**description, "chunk_size": chunk_size}, default=str))
    saved = folder / "sweep.json"
    if saved.is_file():
        before = json.loads(saved.read_text())
        if before != resolved:
            chunk = before.get("chunk_size")
            hint = (f"the same sweep in chunks of {chunk}: resume with --chunk-size {chunk}"
                    if {**before, "chunk_size": chunk_size} == resolved else
                    "a different sweep (see its sweep.json); choose another folder")
            raise ConfigError("out", str(folder), f"holds {hint}")
    elif resume:
        raise ConfigError("out", str(folder), "holds no sweep to resume (no sweep.json)")
    writable_folder("out", folder / "data", folder)
    for stale in (*(folder / "data").glob(".*.tmp"), *folder.glob(".*.tmp")):
        stale.unlink()  # left by a run killed while writing
    _write_text(saved, json.dumps(resolved, indent=2))
