"""Draw durations from a compute model and write them long-form, for inspection, plots
and export (docs/model.md, "Straggler models"): one row per (rep, iteration, worker,
computation), with the computation's duration and its finish time from the start of the
iteration. Realizations are drawn chunk by chunk and written as they come, so memory is
bounded by a chunk whatever the size of the table.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pssim import provenance
from pssim.api import ConfigLike, build_compute, check_load, configure, memory
from pssim.compute import ComputeModel, StragglerModel
from pssim.compute.stragglers import finished
from pssim.config import Config
from pssim.errors import ConfigError, Note
from pssim.files import (
    META_KEY,
    TABLE_SUFFIXES_TEXT,
    is_parquet,
    is_table,
    remove_orphans,
    write_atomically,
)

#: Rows per chunk at most (about 30 MB of columns): large enough that writing, not
#: drawing, sets the pace, small enough for any machine.
CHUNK_ROWS = 2**20
#: Bytes per row, measured at N = 40, r = 4 and rounded up: in memory while the chunks are
#: joined (each row twice), and in each kind of file (Parquet per computation: a
#: duration per row, none repeated).
FRAME_ROW_BYTES = 72
PARQUET_ROW_BYTES = 17
CSV_ROW_BYTES = 50


def chunks(config: Config, model: ComputeModel) -> Iterator[pd.DataFrame]:
    """The long-form rows of every realization and iteration, in order of (rep, iteration,
    worker, computation), a chunk of realizations at a time."""
    n, r, k = config.workers, config.load, config.iterations
    per_rep = k * n * r
    reps_per_chunk = max(1, CHUNK_ROWS // per_rep)
    worker = np.repeat(np.arange(n, dtype=np.int32), r)
    computation = np.tile(np.arange(1, r + 1, dtype=np.int32), n)
    for start in range(0, config.reps, reps_per_chunk):
        stop = min(config.reps, start + reps_per_chunk)
        # A single realization of many iterations comes an iteration at a time; otherwise
        # every iteration of the chunk, reordered by realization.
        step = 1 if stop - start == 1 and per_rep > CHUNK_ROWS else k
        for first in range(0, k, step):
            ts = range(first, min(k, first + step))
            finish, duration = (np.stack(a, axis=1) for a in zip(
                *(_times(model, config.seed, start, stop, n, r, t) for t in ts),
                strict=True))  # (reps, iterations, N, r)
            reps, iterations = finish.shape[:2]
            cells = reps * iterations
            yield pd.DataFrame({
                "rep": np.repeat(np.arange(start, stop, dtype=np.int64), iterations * n * r),
                "iteration": np.tile(np.repeat(np.arange(ts.start, ts.stop, dtype=np.int32),
                                               n * r), reps),
                "worker": np.tile(worker, cells),
                "computation": np.tile(computation, cells),
                "duration": duration.ravel(),
                "finish": finish.ravel(),
            }, copy=False)


def _times(model: ComputeModel, seed: int, start: int, stop: int, workers: int, load: int,
           iteration: int) -> tuple[np.ndarray, np.ndarray]:
    """Finish times and durations of one iteration, shape (reps, N, r) each. A straggler
    model gives its durations as drawn; other models' are the differences of their
    finish times."""
    if isinstance(model, StragglerModel):
        x = model.durations(seed, start, stop, workers, load, iteration)
        finish = finished(x, load)
        return finish, np.broadcast_to(x[..., None], finish.shape) if x.ndim == 2 else x
    finish = model.finish_times(seed, start, stop, workers, load,
                                **({"iteration": iteration} if iteration else {}))
    return finish, np.diff(finish, axis=2, prepend=0.0)


def sample(config: ConfigLike = None, *, out: str | Path | None = None,
           **options: Any) -> pd.DataFrame | None:
    """Durations of ``reps`` realizations of ``iterations`` iterations drawn from the
    configuration's compute model (its straggler model, or a table of durations).

    Without ``out`` the rows are returned as one DataFrame; with it they are written to
    ``out`` (.parquet, .pq or .csv) chunk by chunk, under a temporary name renamed into
    place at the end, and nothing is returned. The temporaries of ``out`` that killed runs
    left are removed first (tens of GB for a large sample).
    """
    cfg = configure(config, **options)
    check_load(cfg)  # a sample that no run could replay
    model = build_compute(cfg)
    model.check(cfg.workers, cfg.load, cfg.reps, cfg.iterations)
    rows = cfg.reps * cfg.iterations * cfg.workers * cfg.load
    gib = 2.0**30
    if out is None:
        if rows * FRAME_ROW_BYTES > memory() / 2:
            raise ConfigError("reps", cfg.reps, f"{rows:.3g} rows would need about "
                              f"{rows * FRAME_ROW_BYTES / gib:.3g} GiB, more than half of "
                              "this machine's memory; write them to a file (out=...)")
        return pd.concat(list(chunks(cfg, model)), ignore_index=True)
    path = Path(out)
    if not is_table(path):
        raise ConfigError("out", str(out), f"must end in {TABLE_SUFFIXES_TEXT}")
    if path.parent.is_dir():
        for orphan in remove_orphans(path):
            warnings.warn(Note(f"removed {orphan}, left by a run killed while writing "
                               f"{path.name}"), stacklevel=2)
    need = rows * (PARQUET_ROW_BYTES if is_parquet(path) else CSV_ROW_BYTES)
    free = shutil.disk_usage(path.parent if path.parent.exists() else Path.cwd()).free
    if need > free:
        raise ConfigError("reps", cfg.reps, f"{rows:.3g} rows would take about "
                          f"{need / gib:.3g} GiB in {path.name}, more than the "
                          f"{free / gib:.3g} GiB free there")
    meta = {"config": cfg.to_json(), "model": repr(model), **provenance.stamp()}
    if is_parquet(path):
        write_atomically(path, lambda tmp: _write_parquet(tmp, chunks(cfg, model), meta))
    else:
        write_atomically(path, lambda tmp: _write_csv(tmp, chunks(cfg, model)))
    return None


def _write_csv(path: Path, parts: Iterator[pd.DataFrame]) -> None:
    with path.open("w") as f:
        for i, part in enumerate(parts):
            part.to_csv(f, index=False, header=i == 0)


def _write_parquet(path: Path, parts: Iterator[pd.DataFrame], meta: dict[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    try:
        for part in parts:
            table = pa.Table.from_pandas(part, preserve_index=False)
            if writer is None:
                schema = table.schema.with_metadata(
                    {**(table.schema.metadata or {}),
                     META_KEY: json.dumps(meta, default=str).encode()})
                # Dictionaries pay for the few distinct ids, not for the random floats:
                # twice as fast to write as dictionaries everywhere, and smaller.
                writer = pq.ParquetWriter(path, schema,
                                          use_dictionary=["rep", "iteration", "worker",
                                                          "computation"])
            writer.write_table(table.replace_schema_metadata(writer.schema.metadata))
    finally:
        if writer is not None:
            writer.close()
