"""Reading and checking a trace, and the checked trace as arrays (docs/fitting.md, "The
trace")."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pssim.errors import ConfigError
from pssim.files import TABLE_SUFFIXES, is_parquet, is_table

TRACE_SUFFIXES = TABLE_SUFFIXES

_INT64_MAX = 2**63 - 1

#: The columns of a trace, in the order of its keys.
COLUMNS = ("rep", "iteration", "worker", "computation", "duration")

#: Other names of the columns, taken when the trace lacks the column itself (compared
#: without regard to case). Durations only under names that say seconds or no unit.
ALIASES: dict[str, tuple[str, ...]] = {
    "rep": ("run", "repetition", "replicate", "realization", "trial"),
    "iteration": ("iter", "iteration_id", "step", "round"),
    "worker": ("worker_id", "rank", "node", "host"),
    "computation": ("computation_id", "task"),
    "duration": ("duration_s", "time_s", "seconds", "step_time", "step_time_s", "elapsed",
                 "elapsed_s"),
}


class NotEstimable(Exception):
    """A statistic the data cannot give; its message says why."""


def read_trace(path: str | Path, columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The trace in a CSV or Parquet file, checked by :func:`check_trace` (``columns`` as
    there); any problem is a :class:`~pssim.errors.ConfigError`."""
    return check_trace(read_table(path), str(path), columns)


def read_table(path: str | Path) -> pd.DataFrame:
    """The table in a CSV or Parquet file, as it is; a file that cannot be read is a
    :class:`~pssim.errors.ConfigError` of parameter ``trace``."""
    p = Path(path)
    if not p.exists():
        raise ConfigError("trace", str(p), "no such file")
    if p.is_dir():
        raise ConfigError("trace", str(p), "must be a file, not a directory")
    if not is_table(p):
        raise ConfigError("trace", str(p), "must end in .csv, .parquet or .pq")
    try:
        frame = pd.read_parquet(p) if is_parquet(p) else pd.read_csv(p)
    # Whatever the reader raises (a parse error, bad bytes, no permission, not Parquet),
    # the file cannot be read, and the user needs that and the reader's reason.
    except Exception as err:
        reason = " ".join(str(err).split())[:200] or type(err).__name__
        raise ConfigError("trace", str(p), f"could not be read ({reason})") from None
    return frame


def parse_columns(text: str) -> dict[str, str]:
    """The mapping of ``--columns``: ``NAME=COLUMN`` pairs separated by commas, NAME one of
    :data:`COLUMNS`."""
    mapping: dict[str, str] = {}
    for part in text.split(","):
        name, sep, column = (x.strip() for x in part.partition("="))
        if not (sep and name and column):
            raise ConfigError("columns", text, "must be NAME=COLUMN pairs separated by commas "
                              "(iteration=round,worker=worker_id,duration=step_time_s)")
        if name in mapping:
            raise ConfigError("columns", text, f"names {name} twice")
        mapping[name] = column
    return mapping


def resolve_columns(frame: pd.DataFrame, columns: Mapping[str, str] | None = None,
                    source: str = "DataFrame") -> dict[str, str]:
    """Which of ``frame``'s columns holds each column of a trace it has: those ``columns``
    maps, then each by its own name, else by one of its :data:`ALIASES`."""
    given = dict(columns or {})
    shown = ",".join(f"{k}={v}" for k, v in given.items())
    names = [str(c) for c in frame.columns]
    for name, column in given.items():
        if name not in COLUMNS:
            raise ConfigError("columns", shown, f"names {name!r}; NAME must be one of "
                              f"{', '.join(COLUMNS)}")
        if column not in frame.columns:
            raise ConfigError("columns", f"{name}={column}", f"the trace has no column "
                              f"{column!r} (its columns: {', '.join(names)})")
    for column in set(given.values()):
        twice = [k for k, v in given.items() if v == column]
        if len(twice) > 1:
            raise ConfigError("columns", shown, f"maps both {' and '.join(twice)} to the "
                              f"column {column!r}")
    chosen = dict(given)
    for name in COLUMNS:
        if name in chosen:
            continue
        if name in frame.columns and name not in chosen.values():
            chosen[name] = name
            continue
        known = (name, *ALIASES[name])
        hits = [c for c in frame.columns
                if str(c).strip().lower() in known and c not in chosen.values()]
        if len(hits) > 1:
            raise ConfigError("trace", source, f"has the columns "
                              f"{', '.join(repr(str(c)) for c in hits)} for {name}: choose "
                              f"one with --columns {name}=COLUMN")
        if hits:
            chosen[name] = hits[0]
    return {name: chosen[name] for name in COLUMNS if name in chosen}


def _keys(frame: pd.DataFrame) -> list[str]:
    return [c for c in ("rep", "iteration", "worker", "computation") if c in frame]


def check_trace(frame: pd.DataFrame, source: str = "DataFrame",
                columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The trace's columns (``rep``, ``iteration``, ``worker``, ``computation``,
    ``duration``: those it has, found by :func:`resolve_columns` with ``columns``, a
    mapping of those names to the frame's), sorted by its keys, after checking that it
    has the columns it needs, finite durations > 0, integer reps, iterations and
    computations, no duplicate rows, and every worker in every rep and iteration.
    ``source`` names the trace in the :class:`~pssim.errors.ConfigError` raised
    otherwise."""
    chosen = resolve_columns(frame, columns, source)
    missing = [c for c in ("worker", "duration") if c not in chosen]
    if missing or not ("rep" in chosen or "iteration" in chosen):
        lacks = ", ".join(missing + ([] if "rep" in chosen or "iteration" in chosen
                                     else ["rep or iteration"]))
        first = (missing or ["iteration"])[0]
        raise ConfigError("trace", source, f"lacks the column(s) {lacks}; a trace has "
                          "worker, duration, rep and/or iteration, optionally computation "
                          f"(its columns: {', '.join(str(c) for c in frame.columns)}; name "
                          f"yours with --columns {first}=COLUMN,...)")
    frame = frame.loc[:, list(chosen.values())].set_axis(list(chosen), axis=1)
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
    duration = _seconds(raw, source)
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


def _not_numbers(column: pd.Series) -> tuple[int, str] | None:
    """The first row of ``column`` that holds a boolean, a date-time or a timedelta, and
    which: pandas would read True as 1 and a timedelta as nanoseconds."""
    kind = column.dtype
    if pd.api.types.is_bool_dtype(kind):
        return 0, "a boolean"
    if pd.api.types.is_datetime64_any_dtype(kind):
        return 0, "a date-time"
    if pd.api.types.is_timedelta64_dtype(kind):
        return 0, "a timedelta"
    if not pd.api.types.is_object_dtype(kind):
        return None
    for row, value in enumerate(column.to_numpy()):
        if isinstance(value, bool | np.bool_):
            return row, "a boolean"
        if isinstance(value, datetime.datetime | datetime.date | np.datetime64):
            return row, "a date-time"
        if isinstance(value, datetime.timedelta | np.timedelta64):
            return row, "a timedelta"
    return None


def _seconds(raw: pd.Series, source: str) -> np.ndarray:
    """The durations in seconds: numbers as they are, timedeltas converted."""
    if pd.api.types.is_timedelta64_dtype(raw.dtype):
        return raw.dt.total_seconds().to_numpy(dtype=float, na_value=np.nan)
    found = _not_numbers(raw)
    if found is not None:
        row, kind = found
        raise ConfigError("trace", source, "must have durations in seconds (numbers, or "
                          f"timedeltas); data row {row + 1} has duration "
                          f"{_plain(raw.iloc[row])!r}, {kind}")
    return pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _integers(column: pd.Series, key: str, source: str) -> pd.Series:
    """The integer ``key`` values of ``column`` as int64, refusing anything else: a value
    that is no integer, or one that int64 cannot hold (it would wrap)."""
    found = _not_numbers(column)
    if found is not None:
        row, kind = found
        raise ConfigError("trace", source, f"must have integer {key} values; data row "
                          f"{row + 1} has {key} {_plain(column.iloc[row])!r}, {kind}")
    values = pd.to_numeric(column, errors="coerce")
    if pd.api.types.is_integer_dtype(values.dtype):
        # Exact, not through a float that rounds 2**63 + 1 to 2**63.
        exact = values.to_numpy()
        bad = ((exact > _INT64_MAX) if pd.api.types.is_unsigned_integer_dtype(values.dtype)
               else np.zeros(len(exact), dtype=bool))
    else:
        exact = values.to_numpy(dtype=float, na_value=np.nan)
        bad = ~(np.isfinite(exact) & (exact == np.round(exact))
                & (exact >= -(2.0**63)) & (exact < 2.0**63))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ConfigError("trace", source, f"must have integer {key} values from -2**63 to "
                          f"2**63 - 1; data row {row + 1} has {key} "
                          f"{_plain(column.iloc[row])!r}")
    return pd.Series(exact.astype(np.int64), index=column.index)


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
    draw per worker-iteration: it is fitted as that, per_iteration, not as r equal draws.

    The same time up to rounding: ``pssim sample`` of a model that gives finish times c·x
    writes their differences, which differ from x by a few units in the last place. The
    draw kept is the first computation's, x itself."""
    if "computation" not in trace:
        return trace
    keys = [c for c in ("rep", "iteration", "worker") if c in trace]
    duration = trace.groupby(keys, sort=False)["duration"]
    high, low, count = (duration.transform(f) for f in ("max", "min", "count"))
    # A difference of two of c·x (c ≤ r) is off by at most about r·eps·x.
    rounding = 4.0 * np.finfo(float).eps * count * high
    if not ((high - low) <= rounding).all():
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
