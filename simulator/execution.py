"""Running many points in chunks of realizations on a serial, local-process or Dask
executor, for sweep files and scenarios alike (docs/sweeps.md).

The promise: a run never mixes data from different configurations and never loses
finished work. Each chunk is written, as it finishes, to a temporary name and renamed,
with the run's configuration hash in its Parquet metadata; one run at a time holds a
folder (an exclusive lock); a resumed run verifies the chunks it finds and redoes a bad
one; Ctrl-C keeps every finished chunk; and workers exit when the run that started them
dies.
"""

from __future__ import annotations

import concurrent.futures as cf
import errno
import fcntl
import hashlib
import itertools
import json
import math
import multiprocessing
import os
import re
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from pssim import provenance
from pssim.api import SUMMARY_ROW_BYTES, configure, prepare, simulate
from pssim.compute import ComputeModel
from pssim.config import Config
from pssim.engines import choose
from pssim.errors import ConfigError, Note, writable_folder
from pssim.files import META_KEY, chunk_name, chunk_point, read_meta, write_atomically

EXECUTORS = ("serial", "processes", "dask")
DEFAULT_CHUNK_SIZE = 5000

#: Beyond these a run is refused unless forced: it would build tasks for minutes or write
#: more than a disk holds.
MAX_POINTS = 100_000
MAX_TASKS = 1_000_000
MAX_ROWS = 1_000_000_000

#: What a write raises when the disk (or the user's quota on it) is full.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)

_ADDRESS = re.compile(r"^(tcp|tls|ucx|ws|wss|inproc)://[^\s:/]+:\d{1,5}$")


class Stopped(Exception):
    """The run stopped before its end; every finished chunk is kept, and running the same
    command again resumes it."""

    why = "stopped"

    def __init__(self, report: Report) -> None:
        self.report = report
        why = self.why.format(folder=report.folder)
        super().__init__(f"{why}: {report.chunks_run} chunks finished in this run are "
                         f"kept in {report.folder / 'data'}")


class Interrupted(Stopped):
    """Ctrl-C."""

    why = "interrupted"


class WorkerLost(Stopped):
    """A worker process died (out of memory, killed): no fault of a point."""

    why = "a worker process died"


class DiskFull(Stopped):
    """The disk of the output folder is full: no fault of a point, and the run can go on
    where it stopped once there is room."""

    why = "no space left on the disk of {folder}"


def point_seed(seed: int, config: Config, model: ComputeModel) -> int:
    """The seed of a point's draws: (sweep seed, compute model, N) only, through a stable
    digest (never Python's salted ``hash``). The model's resolved parameters are used, so
    ``mu`` left to its default and ``mu = 10`` give the same draws."""
    key = {**model.parameters(), "compute_times": str(config.compute_times),
           "workers": config.workers}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).digest()
    words = np.frombuffer(digest[:16], dtype=np.uint32).tolist()
    state = np.random.SeedSequence([seed, *words]).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))  # fits the summary's int64 seed column


@dataclass(frozen=True)
class _Chunk:
    point: int
    params: dict[str, Any]
    seed: int
    start: int
    stop: int


def run_chunk(chunk: _Chunk, meta: dict[str, Any], path: Path | None = None
              ) -> pd.DataFrame | None:
    """Realizations start..stop-1 of one point (runs in a worker process). With ``path``
    the worker writes the chunk itself and returns nothing, which spares sending it back
    (local executors, whose workers share the output folder)."""
    options = {k: v for k, v in chunk.params.items() if k not in ("reps", "seed")}
    with warnings.catch_warnings():
        # Notes were given once, when the run prepared its points, not once per chunk.
        warnings.simplefilter("ignore", Note)
        summary = simulate(**options, reps=chunk.stop - chunk.start, first_rep=chunk.start,
                           seed=chunk.seed).summary
    summary.insert(0, "point", np.int64(chunk.point))
    if path is None:
        return summary
    write_parquet(summary, path, meta)
    return None


def write_parquet(frame: pd.DataFrame, path: Path, meta: dict[str, Any]) -> None:
    """Write ``frame`` with ``meta`` in the file's Parquet metadata, under a temporary name
    in the same folder renamed into place: a reader sees the whole file or none."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           META_KEY: json.dumps(meta, default=str).encode()})
    write_atomically(path, lambda tmp: pq.write_table(table, tmp))


@dataclass
class Report:
    """What a run did."""

    folder: Path
    points: int
    chunks_run: int = 0
    chunks_skipped: int = 0
    chunks_redone: list[str] = field(default_factory=list)
    realizations: int = 0
    seconds: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"{self.points} points; {self.chunks_run} chunks run, {self.chunks_skipped} "
                 f"already done; {self.realizations} realizations in {self.seconds:.1f} s; "
                 f"data in {self.folder / 'data'}"]
        if self.chunks_redone:
            lines.append(f"redone (damaged or incomplete): {', '.join(self.chunks_redone)}")
        if self.failures:
            lines.append(f"{len(self.failures)} failure(s):")
            lines += [f"  point {f['point']} {f['parameters']}: {f['error']}"
                      for f in self.failures]
        return "\n".join(lines)


def check_size(points: int, tasks: int, rows: float, force: bool) -> None:
    """Refuse a run far beyond what a machine and a disk hold, unless ``force``."""
    if force:
        return
    for what, n, limit in (("points", points, MAX_POINTS), ("tasks", tasks, MAX_TASKS),
                           ("summary rows", rows, MAX_ROWS)):
        if n > limit:
            size = rows * SUMMARY_ROW_BYTES / 1e9
            raise ConfigError("size", f"{n:.3g} {what}",
                              f"exceeds {limit:.3g} {what} (about {size:.3g} GB of results); "
                              "shrink the grid or the reps, or pass --force")


def run_points(points: list[dict[str, Any]], out: str | Path, *, description: dict[str, Any],
               seed: int, seeding: str = "point", chunk_size: int = DEFAULT_CHUNK_SIZE,
               executor: str = "processes", workers_per_host: int | None = None,
               scheduler: str | None = None, connect_timeout: float = 10.0,
               resume: bool = False, force: bool = False, progress: bool = False,
               log: Callable[[str], Any] | None = None, label: str = "sweep") -> Report:
    """Simulate each point (Config fields, with ``scheme`` and ``reps``) into ``out``, in
    chunks of realizations on ``executor``, writing each chunk as it finishes.

    ``description`` identifies the run in ``out/sweep.json`` and, through its hash, in
    every chunk: a folder that holds another run, or files in ``out/data`` that are no
    chunks of this one, is refused. ``seeding`` is ``point`` (each point's draws from
    :func:`point_seed`) or ``root`` (every point draws from ``seed`` itself: common random
    numbers across points, as the scenarios compare them). ``log`` receives one line per
    notable event (a chunk redone); ``label`` names the progress bar (a scenario's name,
    say). Raises :class:`Interrupted` on Ctrl-C and
    :class:`DiskFull` when the disk fills, after keeping every finished chunk.
    """
    if executor not in EXECUTORS:
        raise ConfigError("executor", executor, f"must be one of {', '.join(EXECUTORS)}")
    if workers_per_host is not None and workers_per_host < 1:
        raise ConfigError("workers_per_host", workers_per_host, "must be an integer >= 1")
    if chunk_size < 1:
        raise ConfigError("chunk_size", chunk_size, "must be an integer >= 1")
    if seeding not in ("point", "root"):
        raise ConfigError("seeding", seeding, "must be point or root")
    if scheduler is not None:
        check_scheduler(scheduler, executor)
    say = log or (lambda line: tqdm.write(line, file=sys.stderr))
    # Every point is resolved before the folder is touched, so that a typo fails with
    # nothing written.
    resolved: list[_Point | None] = []
    failed: dict[int, str] = {}
    for i, params in enumerate(points):
        try:
            resolved.append(_resolve_point(params, seed, seeding))
        except ConfigError as err:
            resolved.append(None)
            failed[i] = str(err)
    if len(failed) == len(points):
        first = next(iter(failed.values()))
        raise ConfigError("sweep", f"all {len(failed)} points", f"are infeasible: {first}")
    _note_repeats(resolved)
    good = [r for r in resolved if r is not None]
    check_size(len(points), sum(math.ceil(r.reps / max(1, chunk_size // r.iterations))
                                for r in good),
               sum(r.reps * r.schemes for r in good), force)
    described = {**description, "inputs": _input_hashes(points)}
    digest = hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()
                            ).hexdigest()
    meta = {"config_hash": digest, "chunk_size": chunk_size, **provenance.stamp()}
    folder = Path(out)
    plan = _plan(resolved, chunk_size)
    report = Report(folder, len(points))
    # The executor comes first: a Dask scheduler that does not answer leaves no folder.
    with _Executor(executor, workers_per_host, scheduler, connect_timeout) as pool:
        try:
            # The folder itself holds sweep.json and the lock, data/ the chunks.
            writable_folder("out", folder)
            writable_folder("out", folder / "data", folder)
            with _lock(folder):
                resolved_json = _check_saved(described, digest, chunk_size, folder, resume)
                report.chunks_redone = _check_chunks(folder, digest, chunk_size, plan, say)
                # Written only once the folder is known to hold this run or nothing, so
                # that a refused run never takes the folder from the run it holds.
                _write_text(folder / "sweep.json", json.dumps(resolved_json, indent=2))
                _run(plan, failed, folder, meta, pool, progress, say, report, label)
            report.failures = [{"point": i, "parameters": _plain(points[i]), "error": e}
                               for i, e in sorted(failed.items())]
            _write_text(folder / "failures.json", json.dumps(report.failures, indent=2))
        except OSError as err:
            if err.errno not in DISK_FULL:
                raise
            raise DiskFull(report) from None
    return report


@dataclass(frozen=True)
class _Point:
    """A point resolved into the configuration its chunks run."""

    fields: dict[str, Any]
    seed: int
    reps: int
    schemes: int
    simpy_only: bool
    iterations: int


def _resolve_point(params: dict[str, Any], seed: int, seeding: str) -> _Point:
    # A file of durations implies N, r and reps here as in `pssim run`; the chunks then
    # run exactly the resolved configuration.
    prepared = prepare(configure(**params))
    config = prepared.config
    engine = choose(config.engine, prepared.network, False, prepared.training)
    point_rng = point_seed(seed, config, prepared.compute) if seeding == "point" else seed
    # Points only the SimPy engine can run take far longer per realization.
    # A chunk holds a row per (scheme, realization, iteration).
    return _Point(config.fields(), point_rng, config.reps,
                  len(prepared.schemes) * config.iterations,
                  engine.name == "des" or prepared.policies is not None,
                  config.iterations)


def _note_repeats(points: list[_Point | None]) -> None:
    """A point that repeats an earlier one (a value listed twice in a grid, say) is run
    all the same, and gives the same rows: say so rather than double the work silently."""
    first: dict[str, int] = {}
    repeats = []
    for i, point in enumerate(points):
        if point is not None:
            key = json.dumps([point.fields, point.seed], sort_keys=True, default=str)
            if key in first:
                repeats.append(f"{i} repeats {first[key]}")
            first.setdefault(key, i)
    if repeats:
        shown = ", ".join(repeats[:5]) + (f" and {len(repeats) - 5} more" if
                                          len(repeats) > 5 else "")
        warnings.warn(Note(f"{len(repeats)} point(s) repeat an earlier one ({shown}): a "
                           "value given twice? Each is run, with the same draws"),
                      stacklevel=3)


def _plan(points: list[_Point | None], chunk_size: int) -> list[tuple[_Chunk, _Point]]:
    """Every chunk of the run, with its point."""
    plan = []
    for i, point in enumerate(points):
        if point is None:
            continue
        # A chunk holds about chunk_size realization-iterations: training runs of many
        # iterations get fewer realizations a chunk, so that chunks take alike.
        size = max(1, chunk_size // point.iterations)
        for start in range(0, point.reps, size):
            plan.append((_Chunk(i, point.fields, point.seed, start,
                                min(point.reps, start + size)), point))
    return plan


def _run(plan: list[tuple[_Chunk, _Point]], failed: dict[int, str], folder: Path,
         meta: dict[str, Any], pool: _Pool, progress: bool, say: Callable[[str], Any],
         report: Report, label: str) -> None:
    start_time = time.perf_counter()
    tasks: list[_Chunk] = []
    slow: list[_Chunk] = []
    for chunk, point in plan:
        path = _chunk_path(folder, chunk)
        if path.exists() and _whole(path, (chunk.stop - chunk.start) * point.schemes,
                                    report, say):
            report.chunks_skipped += 1
            continue
        (slow if point.simpy_only else tasks).append(chunk)
    # The longest tasks first, so that no process is left with one at the end; the order
    # of execution never changes a result.
    todo = slow + tasks
    pending: dict[cf.Future[pd.DataFrame | None], _Chunk] = {}
    with ExitStack() as stack:
        # The SimPy engine's realizations take thousands of times longer than the
        # vectorized engine's: where a run has both, each gets a bar of its own, whose
        # rate, and so whose estimate of the time left, holds for what remains of it.
        parts = ([(f"{label} (SimPy engine)", slow), (label, tasks)] if slow and tasks
                 else [(label, todo)])
        bar_of: dict[int, Any] = {}
        for i, (name, chunks) in enumerate(parts):
            bar = stack.enter_context(tqdm(
                total=sum(c.stop - c.start for c in chunks), unit="rep",
                disable=not progress, desc=name, smoothing=0.1, position=i))
            bar_of.update({id(c): bar for c in chunks})
        # Finished chunks are written and released as they come, with a bounded number of
        # tasks in flight (two per worker; the serial executor runs each as it is
        # submitted), so memory does not grow with the size of the run.
        in_flight = 1 if pool.kind == "serial" else 2 * pool.slots
        queue = iter(todo)
        # Dask workers may run on other hosts: they send their chunks back to be written.
        local = pool.kind != "dask"
        try:
            while True:
                for chunk in itertools.islice(queue, max(0, in_flight - len(pending))):
                    chunk_meta = {**meta, "point": chunk.point,
                                  "config": _plain(chunk.params)}
                    pending[pool.executor.submit(
                        run_chunk, chunk, chunk_meta,
                        _chunk_path(folder, chunk) if local else None)] = chunk
                if not pending:
                    break
                done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    chunk = pending.pop(future)
                    try:
                        frame = future.result()
                        if frame is not None:
                            write_parquet(frame, _chunk_path(folder, chunk),
                                          {**meta, "point": chunk.point,
                                           "config": _plain(chunk.params)})
                    except BrokenProcessPool:
                        # A worker died (out of memory, killed): the run, not a point.
                        raise
                    except Exception as err:  # one failing chunk must not stop the sweep
                        if isinstance(err, OSError) and err.errno in DISK_FULL:
                            raise  # the disk, not the point: every later chunk would fail
                        failed.setdefault(chunk.point, f"{type(err).__name__}: {err}")
                        continue
                    report.chunks_run += 1
                    report.realizations += chunk.stop - chunk.start
                    bar_of[id(chunk)].update(chunk.stop - chunk.start)
        except KeyboardInterrupt:
            raise Interrupted(report) from None
        except BrokenProcessPool:
            raise WorkerLost(report) from None
        finally:
            for future in pending:
                future.cancel()
            report.seconds = time.perf_counter() - start_time


def _check_chunks(folder: Path, digest: str, chunk_size: int,
                  plan: list[tuple[_Chunk, _Point]], say: Callable[[str], Any]) -> list[str]:
    """Refuse a folder holding any chunk of another configuration, or of this one cut in
    other chunks (sweep.json may be gone), or any other file in data/ (a reader of the
    folder would take it for a chunk); remove the chunks of this run that cannot be read,
    which are redone, and return their names."""
    damaged = []
    expected = {_chunk_path(folder, chunk).name for chunk, _ in plan}
    foreign = []
    for path in sorted((folder / "data").iterdir()):
        if path.name.startswith("."):
            continue  # a writer's temporary, never a result
        if chunk_point(path.name) is None or not path.is_file():
            foreign.append(path.name)
            continue
        try:
            meta, _ = read_meta(path)
        except Exception as err:  # any reader failure means a damaged file
            if path.name not in expected:
                foreign.append(path.name)  # not this run's to remove
                continue
            say(f"redoing {path.name}: unreadable ({' '.join(str(err).split())})")
            damaged.append(path.name)
            path.unlink()
            continue
        if meta.get("config_hash") is None:
            raise ConfigError("out", str(folder), f"holds {path.name}, a chunk that no "
                              "pssim run of this version wrote; choose another folder")
        if meta["config_hash"] != digest:
            raise ConfigError("out", str(folder), f"holds {path.name}, a chunk of another "
                              "configuration (its hash differs); choose another folder")
        if meta.get("chunk_size") != chunk_size:
            raise ConfigError("out", str(folder), f"holds this sweep in chunks of "
                              f"{meta.get('chunk_size')}: resume with --chunk-size "
                              f"{meta.get('chunk_size')}")
        if path.name not in expected:
            foreign.append(path.name)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if
                                          len(foreign) > 5 else "")
        raise ConfigError("out", str(folder), f"holds {len(foreign)} file(s) in data/ that "
                          f"are no chunks of this sweep ({shown}); move them away or choose "
                          "another folder")
    return damaged


def _whole(path: Path, rows: int, report: Report, say: Callable[[str], Any]) -> bool:
    """Whether a chunk of this run found on disk has all its rows; an incomplete one is
    removed, named, and redone."""
    found = read_meta(path)[1]
    if found == rows:
        return True
    say(f"redoing {path.name}: {found} rows instead of {rows}")
    report.chunks_redone.append(path.name)
    path.unlink()
    return False


def _input_hashes(points: list[dict[str, Any]]) -> dict[str, str]:
    """A content hash of every input file, so that an edited file is never resumed over."""
    hashes: dict[str, str] = {}
    for params in points:
        source = params.get("compute_times")
        if isinstance(source, str | Path) and str(source) not in hashes:
            try:
                hashes[str(source)] = hashlib.sha256(Path(source).read_bytes()).hexdigest()
            except OSError:
                continue  # reported as that point's failure when it is prepared
    return hashes


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(json.dumps(params, default=str)))


def _write_text(path: Path, text: str) -> None:
    write_atomically(path, lambda tmp: tmp.write_text(text))


def _chunk_path(folder: Path, chunk: _Chunk) -> Path:
    return folder / "data" / chunk_name(chunk.point, chunk.start, chunk.stop)


def _check_saved(description: dict[str, Any], digest: str, chunk_size: int, folder: Path,
                 resume: bool) -> dict[str, Any]:
    """The run's ``sweep.json`` content; refuse a folder whose own describes another run.
    It holds the hash of the run, which its chunks carry, so that a reader can tell them
    from any other file."""
    resolved: dict[str, Any] = json.loads(json.dumps({**description, "chunk_size": chunk_size},
                                                     default=str))
    saved = folder / "sweep.json"
    before = None
    if saved.is_file():
        try:
            before = json.loads(saved.read_text())
        except (ValueError, OSError):
            before = None  # damaged: the chunks' own hashes still guard against mixing
    if isinstance(before, dict):
        # Derived from the rest (and missing from the sweep.json of earlier versions).
        before.pop("config_hash", None)
    if before is not None and before != resolved:
        chunk = before.get("chunk_size") if isinstance(before, dict) else None
        hint = (f"the same sweep in chunks of {chunk}: resume with --chunk-size {chunk}"
                if isinstance(before, dict) and {**before, "chunk_size": chunk_size} == resolved
                else "a different sweep (see its sweep.json); choose another folder")
        raise ConfigError("out", str(folder), f"holds {hint}")
    if before is None and resume:
        raise ConfigError("out", str(folder), "holds no sweep to resume (no sweep.json)")
    for stale in (*(folder / "data").glob(".*.tmp"), *folder.glob(".*.tmp")):
        stale.unlink(missing_ok=True)  # left by a run killed while writing
    return {**resolved, "config_hash": digest}


@contextmanager
def _lock(folder: Path) -> Iterator[None]:
    """Hold ``folder`` for this run alone; the kernel releases the lock if the process
    dies, so a killed run never leaves the folder locked."""
    path = folder / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 1000, 0).decode(errors="replace").strip() or "another run"
            raise ConfigError("out", str(folder), f"is in use by {holder}; wait for it to "
                              "finish or choose another folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, (f"pid {os.getpid()} on {socket.gethostname()} since "
                       f"{time.strftime('%Y-%m-%d %H:%M:%S')}").encode(), 0)
        yield
    finally:
        os.close(fd)


def check_scheduler(address: str, executor: str) -> None:
    """A Dask scheduler address must be well formed, and given with ``--executor dask``."""
    if executor != "dask":
        raise ConfigError("scheduler", address, "needs --executor dask")
    if not _ADDRESS.match(address):
        raise ConfigError("scheduler", address, "must be an address such as "
                          "tcp://HOST:PORT (or leave it out for a local cluster)")


def _watch_parent(run_pid: int) -> None:
    """In a pool's worker: exit when the run that started it is gone, so that killing the
    run alone leaves no worker behind; and leave Ctrl-C to the run, which stops its
    workers itself (a worker's own KeyboardInterrupt would print a traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker draws no progress bar, but tqdm would make it a multiprocessing lock: a
    # semaphore that a worker terminated on Ctrl-C never releases, which the resource
    # tracker then reports as leaked.
    tqdm.set_lock(threading.RLock())
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            try:
                os.kill(run_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


class _Serial(cf.Executor):
    """Runs each task when it is submitted: the reference executor."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as err:  # reported per chunk, like the other executors do
            future.set_exception(err)
        return future


@dataclass(frozen=True)
class _Pool:
    """An executor, started, with what a run needs to know of it."""

    kind: str
    #: Tasks the executor runs at once (its workers).
    slots: int
    executor: cf.Executor


@dataclass
class _Executor:
    kind: str
    workers_per_host: int | None
    scheduler: str | None
    connect_timeout: float = 10.0
    _client: Any = None
    _pool: cf.ProcessPoolExecutor | None = None

    def __enter__(self) -> _Pool:
        slots = self.workers_per_host or os.cpu_count() or 1
        if self.kind == "serial":
            return _Pool(self.kind, slots, _Serial())
        if self.kind == "processes":
            # forkserver: workers fork from a clean server that has imported pssim once,
            # so they inherit no threads or locks from this process (tqdm's monitor, say)
            # and start without importing numpy and pandas again.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["pssim.execution"])
            self._pool = cf.ProcessPoolExecutor(
                self.workers_per_host or os.cpu_count(), mp_context=context,
                initializer=_watch_parent, initargs=(os.getpid(),))
            return _Pool(self.kind, slots, self._pool)
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError("executor", "dask", "needs the dask extra: pip install "
                              "'pssim[dask]'") from None
        if self.scheduler:
            try:
                self._client = Client(self.scheduler, timeout=self.connect_timeout)
            except (OSError, TimeoutError) as err:
                raise ConfigError("scheduler", self.scheduler,
                                  f"must be a running Dask scheduler; none answered within "
                                  f"{self.connect_timeout:g} s ({type(err).__name__})"
                                  ) from None
        else:
            # The workers' statistical profiler interrupts the simulation every 10 ms for
            # a view nobody looks at here: about 4% of a sweep.
            with dask.config.set({"distributed.worker.profile.enabled": False}):
                self._client = Client(LocalCluster(
                    n_workers=self.workers_per_host or os.cpu_count(), threads_per_worker=1,
                    dashboard_address=None))
        # A remote cluster's size, not this machine's.
        return _Pool(self.kind, max(1, sum(self._client.nthreads().values())),
                     self._client.get_executor())

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if self._pool is not None:
            if kind is None:
                self._pool.shutdown(wait=True)
            else:
                # Stopped or failed: the workers' tasks are of no more use, and shutdown
                # alone would wait for the running ones (minutes on a large chunk). The
                # pool has no public handle on its processes; its private map is read
                # defensively, so that a change to it only loses the early exit.
                processes = list((getattr(self._pool, "_processes", None) or {}).values())
                manager = getattr(self._pool, "_executor_manager_thread", None)
                self._pool.shutdown(wait=False, cancel_futures=True)
                for process in processes:
                    process.terminate()
                # The pool's manager thread closes its wake-up pipe when it sees the
                # workers gone; the interpreter's exit writes to that pipe, and the race
                # between them prints a 'Bad file descriptor' traceback. Let it finish.
                if isinstance(manager, threading.Thread):
                    manager.join(timeout=10)
        if self._client is not None:
            cluster = self._client.cluster
            self._client.close()
            if cluster is not None:
                cluster.close()
