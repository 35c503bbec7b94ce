"""Reading and checking a trace, and the checked trace as arrays (docs/fitting.md, "The
trace")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pssim.errors import ConfigError

TRACE_SUFFIXES = (".csv", ".parquet", ".pq")


class NotEstimable(Exception):
    """A statistic the data cannot give; its message says why."""


def read_trace(path: str | Path) -> pd.DataFrame:
    """The trace in a CSV or Parquet file, checked by :func:`check_trace`; any problem is a
    :class:`~pssim.errors.ConfigError` of parameter ``trace``."""
    p = Path(path)
    if not p.exists():
        raise ConfigError("trace", str(p), "no such file")
    if p.is_dir():
        raise ConfigError("trace", str(p), "must be a file, not a directory")
    suffix = p.suffix.lower()
    if suffix not in TRACE_SUFFIXES:
        raise ConfigError("trace", str(p), "must end in .csv, .parquet or .pq")
    try:
        frame = pd.read_csv(p) if suffix == ".csv" else pd.read_parquet(p)
    # Whatever the reader raises (a parse error, bad bytes, no permission, not Parquet),
    # the file cannot be read, and the user needs that and the reader's reason.
    except Exception as err:
        reason = " ".join(str(err).split())[:200] or type(err).__name__
        raise ConfigError("trace", str(p), f"could not be read ({reason})") from None
    return check_trace(frame, str(p))


def _keys(frame: pd.DataFrame) -> list[str]:
    return [c for c in ("rep", "iteration", "worker", "computation") if c in frame]


def check_trace(frame: pd.DataFrame, source: str = "DataFrame") -> pd.DataFrame:
    """The trace's columns (``rep``, ``iteration``, ``worker``, ``computation``,
    ``duration``: those it has), sorted by its keys, after checking that it has the
    columns it needs, finite durations > 0, integer reps, iterations and computations, no
    duplicate rows, and every worker in every rep and iteration. ``source`` names the
    trace in the :class:`~pssim.errors.ConfigError` raised otherwise."""
    missing = [c for c in ("worker", "duration") if c not in frame]
    if missing or not ("rep" in frame or "iteration" in frame):
        lacks = ", ".join(missing + ([] if "rep" in frame or "iteration" in frame
                                     else ["rep or iteration"]))
        raise ConfigError("trace", source, f"lacks the column(s) {lacks}; a trace has "
                          "worker, duration, rep and/or iteration, optionally computation")
    if len(frame) == 0:
        raise ConfigError("trace", source, "has no rows")
    keys = _keys(frame)
    out = frame[[*keys, "duration"]].reset_index(drop=True)
    for key in keys:
        absent = out[key].isna().to_numpy()
        if absent.any():
            row = int(np.flatnonzero(absent)[0])
            raise ConfigError("trace", source, f"has no {key} in data row {row + 1}")
        if key != "worker":
            out[key] = _integers(out[key], key, source)
    raw = out["duration"]
    duration = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~(np.isfinite(duration) & (duration > 0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ConfigError("trace", source, "must have finite durations > 0 (seconds); data "
                          f"row {row + 1} has duration {_plain(raw.iloc[row])!r}")
    out["duration"] = duration
    twice = out.duplicated(keys).to_numpy()
    if twice.any():
        row = int(np.flatnonzero(twice)[0])
        where = ", ".join(f"{k} {_label(_plain(out[k].iloc[row]))}" for k in keys)
        raise ConfigError("trace", source, f"has two rows for {where} "
                          f"(data row {row + 1} repeats an earlier one)")
    _check_complete(out, source)
    return out.sort_values(keys, kind="stable").reset_index(drop=True)


def _integers(column: pd.Series, key: str, source: str) -> pd.Series:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~(np.isfinite(values) & (values == np.round(values)))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ConfigError("trace", source, f"must have integer {key} values; data row "
                          f"{row + 1} has {key} {_plain(column.iloc[row])!r}")
    return pd.Series(values.astype(np.int64), index=column.index)


def _check_complete(trace: pd.DataFrame, source: str) -> None:
    """Every worker must have a row in every (rep, iteration) of the trace: a missing one
    would bias every statistic across workers, so it is refused rather than skipped."""
    axes = [c for c in ("rep", "iteration", "worker") if c in trace]
    codes, labels = zip(*(pd.factorize(trace[c], sort=True) for c in axes), strict=True)
    shape = tuple(len(u) for u in labels)
    seen = np.zeros(shape, dtype=bool)
    seen[tuple(codes)] = True
    if seen.all():
        return
    first = np.argwhere(~seen)[0]
    found = {axis: labels[i][first[i]] for i, axis in enumerate(axes)}
    worker = found.pop("worker")
    inside = ", ".join(f"{axis} {value}" for axis, value in found.items())
    raise ConfigError("trace", source, f"worker {_label(worker)} is missing in {inside}; "
                      f"every {' and '.join(found)} must have rows for all {shape[-1]} "
                      "workers")


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, so that messages show 3.0, not
    np.float64(3.0)."""
    return value.item() if isinstance(value, np.generic) else value


def _label(worker: Any) -> str:
    return repr(worker) if isinstance(worker, str) else str(worker)


def one_per_iteration(trace: pd.DataFrame) -> pd.DataFrame:
    """A trace whose computations of each worker-iteration all took the same time (a
    per_iteration model's sample, or a log that repeats a worker's duration) holds one
    draw per worker-iteration: it is fitted as that, per_iteration, not as r equal draws."""
    if "computation" not in trace:
        return trace
    keys = [c for c in ("rep", "iteration", "worker") if c in trace]
    duration = trace.groupby(keys, sort=False)["duration"]
    if not (duration.transform("max") == duration.transform("min")).all():
        return trace
    return trace.drop_duplicates(keys).drop(columns="computation").reset_index(drop=True)


@dataclass(frozen=True)
class Cube:
    """A checked trace as arrays: ``values[rep, iteration, worker]`` the duration of a
    worker-iteration (the mean over its computations), ``draws`` the durations fitted."""

    values: np.ndarray
    draws: np.ndarray
    workers: np.ndarray
    iterations: np.ndarray
    has_iteration: bool
    granularity: str


def cube(trace: pd.DataFrame) -> Cube:
    """The checked ``trace`` as a :class:`Cube`."""
    reps, rep_labels = (pd.factorize(trace["rep"], sort=True) if "rep" in trace
                        else (np.zeros(len(trace), dtype=np.int64), np.array([0])))
    its, it_labels = (pd.factorize(trace["iteration"], sort=True) if "iteration" in trace
                      else (np.zeros(len(trace), dtype=np.int64), np.array([0])))
    workers, worker_labels = pd.factorize(trace["worker"], sort=True)
    shape = (len(rep_labels), len(it_labels), len(worker_labels))
    flat = np.ravel_multi_index((reps, its, workers), shape)
    draws = trace["duration"].to_numpy(dtype=float)
    size = int(np.prod(shape))
    total = np.bincount(flat, weights=draws, minlength=size)
    count = np.bincount(flat, minlength=size)
    return Cube(values=(total / count).reshape(shape), draws=draws,
                workers=np.asarray(worker_labels), iterations=np.asarray(it_labels),
                has_iteration="iteration" in trace,
                granularity="per_computation" if "computation" in trace else "per_iteration")
