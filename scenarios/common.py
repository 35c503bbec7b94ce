"""What a scenario is: a base configuration, the factors it varies, and how it reports.

A scenario runs through the sweep machinery (:func:`pssim.execution.run_points`): the same
executors as ``pssim sweep`` (serial, processes, Dask), chunks written as they finish,
progress, and resume: running a scenario again into its folder skips every finished chunk,
so a finished folder is summarised and plotted again from its data without simulating
(the timeline alone replays its few realizations, to draw their events).
Every point draws from the root seed, so all points compare schemes on common random
numbers. A user can override any base parameter (N, the message size, a bandwidth) and
gets the same figures for their own cluster.

Scenarios are found by name in a registry that every module of this package fills with
:func:`register` when it is imported, and that installed packages extend through the
``pssim.scenarios`` entry-point group.
"""

from __future__ import annotations

import importlib
import itertools
import json
import multiprocessing
import os
import pkgutil
import sys
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pssim import provenance
from pssim.analysis.frames import in_bandwidth_unit, load_sweep
from pssim.api import build_schemes
from pssim.config import Config
from pssim.errors import ConfigError, Note, integer, writable_folder
from pssim.execution import DEFAULT_CHUNK_SIZE, run_points
from pssim.files import write_atomically

#: The network of the bottleneck studies: a realistic gradient (10^6 float32 parameters,
#: 4 MB per message), 10 Gbps uplinks (1.25e9 bytes/s) and 50 µs of latency.
GRADIENT_NETWORK: dict[str, float] = {"message_size": 4e6, "uplink_bandwidth": 1.25e9,
                                      "latency": 50e-6}

#: The columns of the realizations a report reads, beside the factors.
RESULT_COLUMNS = ("scheme", "group", "rep", "iteration", "start", "end", "completion_time",
                  "messages", "messages_sent", "computations", "late_messages", "bytes")
#: Those that the studies of single iterations read (means, intervals, paired tests and
#: communication loads): reading half the columns of millions of rows halves the time.
ITERATION_COLUMNS = ("scheme", "rep", "completion_time", "messages", "messages_sent", "bytes")


def bandwidths(low: int, high: int, points: int) -> list[float]:
    """Log-spaced bandwidths from 10^low to 10^high bytes/s, rounded to 3 significant
    figures so that axis ticks and tables read cleanly."""
    return [float(f"{b:.3g}") for b in np.logspace(low, high, points)]


@dataclass
class Output:
    """A scenario's output folder: each figure as PNG (and SVG on request) with a CSV of the
    numbers drawn, tables as CSV, and the resolved configuration as JSON. Every file is
    written to a temporary name and renamed into place. Bandwidths are shown in
    ``bandwidth_unit`` (bytes/s unless asked): tables name the unit in the column
    (``master_bandwidth_Gbps``), figures on the axis."""

    folder: Path
    formats: tuple[str, ...] = ("png",)
    written: list[Path] = field(default_factory=list)
    bandwidth_unit: str = "B/s"

    def __post_init__(self) -> None:
        # A bad unit fails first; the folder is made by the run, once its points are known
        # to be valid, so that a refused run leaves nothing behind.
        in_bandwidth_unit(pd.DataFrame(), self.bandwidth_unit)

    def shown(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with its bandwidths in the unit of the figures and tables."""
        return in_bandwidth_unit(frame, self.bandwidth_unit)

    def data(self, frame: pd.DataFrame, name: str) -> Path:
        return self._keep(self.folder / f"{name}.parquet",
                          lambda p: frame.to_parquet(p, index=False))

    def table(self, frame: pd.DataFrame, name: str) -> Path:
        shown = self.shown(frame)
        named = shown.rename(columns={c: f"{c}_{u.replace('/', 'p')}" for c, u in
                                      shown.attrs.get("units", {}).items()})
        return self._keep(self.folder / f"{name}.csv", lambda p: named.to_csv(p, index=False))

    def text(self, text: str, name: str) -> Path:
        return self._keep(self.folder / name, lambda p: Path(p).write_text(text))

    def figure(self, fig: Any, name: str, numbers: pd.DataFrame) -> list[Path]:
        """Save a figure beside the CSV of the numbers behind it."""
        from pssim.analysis.plots import save

        paths = save(fig, self.folder / name, self.formats)
        self.written.extend(paths)
        self.table(numbers, name)
        return paths

    def config(self, config: dict[str, Any]) -> Path:
        text = json.dumps(config, indent=2, sort_keys=True, default=_plain)
        return self.text(text, "config.json")

    def _keep(self, path: Path, write: Callable[[Path], Any]) -> Path:
        writable_folder("out", self.folder)
        write_atomically(path, write)
        self.written.append(path)
        return path


def _plain(value: Any) -> Any:
    return str(value)


@dataclass(frozen=True)
class Study:
    """A finished run of a scenario, as its report sees it."""

    #: The base configuration with the user's overrides, reps and seed.
    config: Config
    #: Each point's Config fields, in the order of the data's ``point`` column.
    points: list[dict[str, Any]]
    #: The realizations of every point: ``point``, the factors and the scenario's
    #: ``columns``.
    data: pd.DataFrame
    progress: bool = False


@dataclass(frozen=True)
class Scenario:
    """A study: ``base`` (Config fields) varied over the product of ``factors`` (plus
    ``extra_points``), simulated, then handed to ``report``."""

    name: str
    description: str
    default_reps: int
    base: dict[str, Any]
    report: Callable[[Study, Output], Any]
    #: Config fields and their values, varied as a product in this order.
    factors: dict[str, list[Any]] = field(default_factory=dict)
    #: Points beyond the product (say a reference network), as changes to the base.
    extra_points: tuple[dict[str, Any], ...] = ()
    #: The schemes of a point, when they depend on it (those feasible at its load, say).
    schemes: Callable[[Config], list[str]] | None = None
    #: The realizations of a point from the run's ``reps``, when some points need fewer.
    point_reps: Callable[[Config, int], int] | None = None
    #: What config.json records besides the configuration and the factors.
    settings: Callable[[Config], dict[str, Any]] | None = None
    #: Raises a ConfigError when the report cannot be made from this configuration (the
    #: closed forms of Fig. 1 need network none, say), before anything is simulated.
    check: Callable[[Config], None] | None = None
    #: Realizations per task: smaller where points run on the SimPy engine, so that the
    #: processes share the slow points evenly (results never depend on it).
    chunk_size: int = DEFAULT_CHUNK_SIZE
    #: The columns of the realizations that ``report`` reads, beside the factors.
    columns: tuple[str, ...] = RESULT_COLUMNS
    #: Points whose schemes each run as a point of their own: those of the SimPy engine,
    #: seconds a realization, so that the processes share them evenly. The rows are the
    #: same, every scheme of a realization drawing the same numbers alone as beside others.
    split_schemes: Callable[[Config], bool] | None = None

    def fixed_by_points(self) -> set[str]:
        """Fields that the factors set at every point, which a user cannot override (an
        extra point, such as a reference, may set others for itself alone)."""
        return set(self.factors) | ({"scheme"} if self.schemes else set())

    def varied(self) -> set[str]:
        """Every field that some point sets: the factors' and the extra points' own."""
        return self.fixed_by_points() | {k for p in self.extra_points for k in p}

    def points(self, config: Config) -> list[dict[str, Any]]:
        """Each point's Config fields (with ``scheme`` and ``reps``)."""
        changes = [dict(zip(self.factors, values, strict=True))
                   for values in itertools.product(*self.factors.values())]
        out = []
        for change in [*changes, *self.extra_points]:
            point = config.replace(**change)
            if self.schemes is not None:
                point = point.replace(scheme=self.schemes(point))
            if self.point_reps is not None:
                point = point.replace(reps=self.point_reps(point, config.reps))
            if self.split_schemes is not None and self.split_schemes(point):
                out += [point.replace(scheme=(name,)).fields() for name in _labels(point)]
            else:
                out.append(point.fields())
        return out

    def run(self, reps: int | None = None, seed: int = 0, out: Path | None = None, *,
            overrides: dict[str, Any] | None = None, svg: bool = False,
            executor: str = "processes", workers_per_host: int | None = None,
            chunk_size: int | None = None, bandwidth_unit: str = "B/s",
            progress: bool = False) -> Output:
        """Simulate every point into ``out`` (default ``results/NAME``), then report there.
        Everything is validated before anything is written."""
        overrides = dict(overrides or {})
        for key in overrides:
            if key in ("reps", "seed"):
                raise ConfigError(key, overrides[key], f"is an option of the scenario "
                                  f"itself (--{key}), not an override")
            if key in self.fixed_by_points():
                raise ConfigError(key, overrides[key], f"is varied by scenario {self.name}, "
                                  "so it cannot be overridden")
        reps = integer("reps", self.default_reps if reps is None else reps, low=1)
        config = Config(**{**self.base, **overrides, "reps": reps, "seed": seed})
        if self.check is not None:
            self.check(config)
        points = self.points(config)
        output = Output(Path("results") / self.name if out is None else out,
                        ("png", "svg") if svg else ("png",), bandwidth_unit=bandwidth_unit)
        described = {"scenario": self.name, **config.to_json(),
                     "overrides": sorted(overrides), "factors": self.factors,
                     **(self.settings(config) if self.settings else {})}
        report = run_points(points, output.folder, description={
            "scenario": self.name, "config": described,
            "points": json.loads(json.dumps(points, default=_plain))},
            seed=config.seed, seeding="root",
            chunk_size=self.chunk_size if chunk_size is None else chunk_size, executor=executor,
            workers_per_host=workers_per_host, progress=progress, label=self.name)
        if report.failures:
            first = report.failures[0]
            raise ConfigError("scenario", self.name, f"failed at {len(report.failures)} "
                              f"point(s), first {first['parameters']}: {first['error']}")
        output.config({**described, **provenance.stamp()})
        if progress:
            # Reading a large study's realizations and drawing its figures take seconds
            # after the bar has ended: say so, rather than fall silent.
            print(f"{self.name}: {sum(p['reps'] for p in points)} realizations simulated; "
                  "tables and figures", file=sys.stderr)
        columns = list(dict.fromkeys([*self.varied() - {"scheme", "reps"}, *self.columns]))
        data = _in_scheme_order(load_sweep(output.folder, columns), points)
        self.report(Study(config, points, data, progress), output)
        return output


def _labels(point: Config) -> list[str]:
    """The labels of a point's schemes, each a name that runs that scheme alone."""
    with warnings.catch_warnings():
        # Schemes that "all" skips at this load: the point's own run says so.
        warnings.simplefilter("ignore", Note)
        return [scheme.label for scheme in build_schemes(point)]


def _in_scheme_order(data: pd.DataFrame, points: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows by point, then scheme in the order the points list them, then realization, as
    a single run would give them (the chunk files come back in name order)."""
    order = list(dict.fromkeys(s for p in points for s in p["scheme"]))
    # Ranked by the codes of the few distinct names, not name by name: a map over the
    # strings of millions of rows takes longer than the sort.
    codes, names = pd.factorize(data["scheme"])
    order += sorted(set(names) - set(order))
    place = {s: i for i, s in enumerate(order)}
    rank = np.array([place[s] for s in names], dtype=np.int64)[codes]
    keys = np.lexsort((data["rep"].to_numpy(), rank, data["point"].to_numpy()))
    return data.iloc[keys].reset_index(drop=True)


def in_parallel(function: Callable[..., Any], jobs: Sequence[tuple[Any, ...]],
                progress: bool = False, label: str = "training runs") -> list[Any]:
    """``function(*job)`` for each job, on a process per core, each with single-threaded
    BLAS: the numbers' d × d products gain nothing from threads, and threads of their own
    would oversubscribe the cores (docs/performance.md, section 8). Fresh processes read
    the setting as they start; the parent's own is left as it was. With ``progress``, a
    bar named ``label`` counts the jobs done. ``function`` must be importable by name
    (the processes are spawned)."""
    from tqdm.auto import tqdm

    names = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(dict.fromkeys(names, "1"))
    try:
        with ProcessPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            return list(tqdm(pool.map(function, *zip(*jobs, strict=True)), total=len(jobs),
                             disable=not progress, unit="run", desc=label))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_REGISTRY: dict[str, Scenario] = {}


def register(scenario: Scenario) -> Scenario:
    """Make ``scenario`` available to ``pssim scenario`` by its name."""
    _REGISTRY[scenario.name] = scenario
    return scenario


def scenarios() -> dict[str, Scenario]:
    """Every scenario: the modules of this package, then the ``pssim.scenarios`` entry
    points of installed packages (each names a module that registers its own)."""
    package = sys.modules[__name__.rpartition(".")[0]]
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")
    for point in entry_points(group="pssim.scenarios"):
        point.load()
    return dict(sorted(_REGISTRY.items()))


def load(name: str) -> Scenario:
    """The scenario ``name``, or a ConfigError naming the known ones."""
    known = scenarios()
    if name not in known:
        raise ConfigError("scenario", name, f"must be one of {', '.join(known)}")
    return known[name]


def execute(name: str, reps: int | None = None, seed: int = 0, out: Path | None = None,
            svg: bool = False, progress: bool | None = None, **options: Any) -> Output:
    """Run scenario ``name`` into ``out`` (default ``results/NAME``); ``options`` are those
    of :meth:`Scenario.run` (``overrides``, ``executor``, …)."""
    seed = integer("seed", seed, low=0)
    return load(name).run(reps, seed, out, svg=svg,
                          progress=sys.stderr.isatty() if progress is None else progress,
                          **options)
