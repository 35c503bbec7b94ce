"""Tables derived from simulation results: loading, empirical CDFs, Pareto frontiers,
best-scheme tables, and per-worker views of the event trace.

Every function takes and returns plain DataFrames and never modifies its input. Times are
seconds, sizes bytes, bandwidths bytes per second. The trace functions expect the columns
of ``simulate(..., trace=True).trace`` (``scheme``, ``rep``, ``time``, ``worker``,
``event``, ``computation``, ``message``, ``bytes``) and work per (scheme, rep).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pssim.errors import ConfigError, Note
from pssim.files import META_KEY, chunk_point, is_parquet, read_meta
from pssim.units import bandwidth, nbytes

#: One iteration of the trace is identified by these columns.
TRACE_KEYS = ["scheme", "rep"]


def _keys(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def load_results(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A results table from a Parquet (``.parquet``, ``.pq``) or CSV file, or from a
    directory of Parquet files (concatenated in file-name order); only ``columns`` when
    given.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     pd.DataFrame({"rep": [0, 1]}).to_csv(f"{d}/run.csv", index=False)
    ...     load_results(f"{d}/run.csv")["rep"].tolist()
    [0, 1]
    """
    p = Path(path)
    if p.is_dir():
        # Hidden files are a writer's temporary ones, never results.
        files = sorted((f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")
                        and is_parquet(f)), key=lambda f: f.name)
        if not files:
            raise ValueError(f"{p}: the directory holds no Parquet files (*.parquet, *.pq)")
        return _concat(files, columns)
    if not p.exists():
        raise ValueError(f"{p}: no such file or directory")
    if is_parquet(p):
        return _with_meta(pd.read_parquet(p, columns=columns), p)
    if p.suffix.lower() == ".csv":
        return pd.read_csv(p, usecols=columns)
    raise ValueError(f"{p}: unknown suffix {p.suffix!r}; expected .parquet, .pq or .csv, "
                     "or a directory of Parquet files")


def _concat(files: list[Path], columns: list[str] | None) -> pd.DataFrame:
    # Points of one sweep may differ in their columns (a straggler model's parameters
    # beside the paper model's): a column a file lacks is missing there.
    frame = pd.concat([pd.read_parquet(f, columns=columns if columns is None else
                                       [c for c in columns if c in _schema(f)])
                       for f in files], ignore_index=True)
    return _with_meta(frame, files[0])


def _schema(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.read_schema(path).names)


def _with_meta(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """``frame`` with the configuration and provenance that pssim wrote into ``path``'s
    Parquet metadata, as ``frame.attrs["pssim"]``."""
    import pyarrow.parquet as pq

    raw = (pq.read_schema(path).metadata or {}).get(META_KEY)
    if raw:
        frame.attrs["pssim"] = json.loads(raw)
    return frame


def load_sweep(folder: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """All finished chunks of a sweep (or scenario) folder as one DataFrame, sorted by
    point, scheme and rep; only ``columns`` (and those three) when given.

    Only the sweep's own chunks are read: files of ``data/`` with a chunk's name, of one
    of its points, that carry its hash (from its ``sweep.json``, else the one hash all
    chunks share). Any other file there is left out, with a note naming it.
    """
    data = Path(folder) / "data"
    if not data.is_dir():
        raise ConfigError("folder", str(folder), "must hold a sweep's data/*.parquet files")
    files, foreign = _own_chunks(Path(folder))
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if
                                          len(foreign) > 5 else "")
        warnings.warn(Note(f"{data}: left out {len(foreign)} file(s) that are no chunks of "
                           f"this sweep ({shown})"), stacklevel=2)
    if not files:
        raise ConfigError("folder", str(folder), "must hold a sweep's data/*.parquet files")
    frame = _concat(files, None if columns is None else
                    list(dict.fromkeys(["point", "scheme", "rep", *columns])))
    # A stable sort on integer codes: sorting the strings themselves takes most of the
    # time of a large sweep's reading (docs/performance.md, "make run").
    order = np.lexsort((frame["rep"].to_numpy(), sorted_codes(frame["scheme"]),
                        frame["point"].to_numpy()))
    return frame.take(order).reset_index(drop=True)


def sorted_codes(values: pd.Series) -> np.ndarray:
    """Integer codes of ``values`` that sort as the values do (missing ones last): keys for
    :func:`numpy.lexsort` in place of the strings themselves.

    >>> sorted_codes(pd.Series(["b", "a", "b"])).tolist()
    [1, 0, 1]
    """
    return pd.factorize(values, sort=True, use_na_sentinel=False)[0]


def _own_chunks(folder: Path) -> tuple[list[Path], list[str]]:
    """The chunks of the sweep in ``folder``, and the names of the other files in its
    ``data/`` (hidden ones, a writer's temporaries, aside)."""
    try:
        saved = json.loads((folder / "sweep.json").read_text())
    except (OSError, ValueError):
        saved = None  # gone or damaged: the chunks tell their sweep themselves
    saved = saved if isinstance(saved, dict) else {}
    listed = saved.get("points")
    points = len(listed) if isinstance(listed, list) else None
    chunks: dict[Path, str | None] = {}
    foreign = []
    for path in sorted((folder / "data").iterdir()):
        if path.name.startswith("."):
            continue
        point = chunk_point(path.name)
        if point is None or not path.is_file() or (points is not None and point >= points):
            foreign.append(path.name)
            continue
        try:
            meta = read_meta(path)[0]
        except Exception:  # any reader failure means a damaged file, not a chunk to read
            foreign.append(path.name)
            continue
        if meta.get("point") != point:
            foreign.append(path.name)  # renamed: not the chunk its name says
            continue
        chunks[path] = meta.get("config_hash")
    digest = saved.get("config_hash")
    if digest is None:
        hashes = set(chunks.values())
        if len(hashes) > 1:
            raise ConfigError("folder", str(folder), f"holds chunks of {len(hashes)} runs "
                              "and no sweep.json that says which is its own")
        digest = next(iter(hashes), None)
    own = [path for path, h in chunks.items() if h == digest]
    foreign += [path.name for path, h in chunks.items() if h != digest]
    return own, sorted(foreign)


def ecdf(df: pd.DataFrame, value: str = "completion_time",
         by: str | Sequence[str] | None = "scheme") -> pd.DataFrame:
    """The empirical CDF of ``value`` per group of ``by``: one row per observation, sorted,
    with ``cdf`` the fraction of the group's observations ≤ it (right-continuous, so tied
    observations share the higher value). Missing values are left out.

    >>> ecdf(pd.DataFrame({"scheme": "A", "completion_time": [3.0, 1.0, 2.0]}))
      scheme  completion_time       cdf
    0      A              1.0  0.333333
    1      A              2.0  0.666667
    2      A              3.0  1.000000
    """
    keys = _keys(by)
    data = df.loc[df[value].notna(), [*keys, value]]
    data = data.sort_values([*keys, value], kind="mergesort")
    if keys:
        groups = data.groupby(keys, sort=False, dropna=False)[value]
        cdf = groups.rank(method="max") / groups.transform("size")
    else:
        cdf = data[value].rank(method="max") / len(data)
    return data.assign(cdf=cdf.astype(float)).reset_index(drop=True)


def _non_dominated(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True where no other point is ≤ in both coordinates and < in one; NaN points are
    neither optimal nor dominating."""
    flags = np.zeros(len(x), dtype=bool)
    ok = ~(np.isnan(x) | np.isnan(y))
    xv, yv = x[ok], y[ok]
    if not len(xv):
        return flags
    # Point i is dominated iff some point with a smaller x has y ≤ y_i, or some point with
    # the same x has y < y_i: a running minimum over the distinct x values decides both.
    distinct, inv = np.unique(xv, return_inverse=True)
    group_min = np.full(len(distinct), np.inf)
    np.minimum.at(group_min, inv, yv)
    before = np.empty_like(group_min)
    before[0] = np.inf
    before[1:] = np.minimum.accumulate(group_min)[:-1]
    dominated = ((inv > 0) & (before[inv] <= yv)) | (group_min[inv] < yv)
    flags[ok] = ~dominated
    return flags


def pareto_frontier(table: pd.DataFrame, x: str = "mean_messages",
                    y: str = "mean_completion_time",
                    by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """A copy of ``table`` with a bool column ``pareto``: True for rows that no other row
    dominates (≤ in both ``x`` and ``y``, < in one; both are minimized). Identical rows do
    not dominate each other. With ``by``, the frontier is taken within each group.

    >>> t = pd.DataFrame({"scheme": ["A", "B", "C", "D"], "mean_messages": [1, 2, 2, 1],
    ...                   "mean_completion_time": [3.0, 2.0, 4.0, 3.0]})
    >>> pareto_frontier(t)["pareto"].tolist()
    [True, True, False, True]
    """
    out = table.copy()
    xs = out[x].to_numpy(dtype=float, na_value=np.nan)
    ys = out[y].to_numpy(dtype=float, na_value=np.nan)
    flags = np.zeros(len(out), dtype=bool)
    keys = _keys(by)
    if keys:
        groups = list(out.groupby(keys, sort=False, dropna=False).indices.values())
    else:
        groups = [np.arange(len(out))]
    for rows in groups:
        flags[rows] = _non_dominated(xs[rows], ys[rows])
    out["pareto"] = flags
    return out


def best_by_group(table: pd.DataFrame, by: str | Sequence[str],
                  metric: str = "mean_completion_time", label: str = "scheme") -> pd.DataFrame:
    """The row with the smallest ``metric`` per group of ``by``, and the runner-up.

    Columns: ``by``…, ``best``, ``best_value``, ``runner_up``, ``runner_up_value``,
    ``margin`` (runner_up_value − best_value) and ``relative_margin`` (margin /
    runner_up_value). The runner-up columns are missing (NaN) for a one-row group. Rows
    with a missing ``metric`` are left out; ties keep the table's order.

    >>> t = pd.DataFrame({"load": [2, 2, 4], "scheme": ["GC", "LCC", "GC"],
    ...                   "mean_completion_time": [0.5, 0.4, 0.3]})
    >>> best_by_group(t, "load")[["load", "best", "runner_up", "margin"]]
       load best runner_up  margin
    0     2  LCC        GC     0.1
    1     4   GC       NaN     NaN
    """
    keys = _keys(by)
    if not keys:
        raise ValueError("by: give at least one column to group by")
    ranked = table.loc[table[metric].notna(), [*keys, label, metric]]
    ranked = ranked.sort_values(metric, kind="mergesort")
    place = ranked.groupby(keys, sort=False, dropna=False).cumcount()
    best = ranked[place == 0].rename(columns={label: "best", metric: "best_value"})
    runner = ranked[place == 1].rename(columns={label: "runner_up", metric: "runner_up_value"})
    out = best.merge(runner, on=keys, how="left")
    out = out.sort_values(keys, kind="mergesort").reset_index(drop=True)
    out["margin"] = out["runner_up_value"] - out["best_value"]
    out["relative_margin"] = out["margin"] / out["runner_up_value"]
    return out


def paired_margin(data: pd.DataFrame, by: str | Sequence[str] | None = None,
                  value: str = "completion_time", label: str = "scheme", pair: str = "rep",
                  confidence: float = 0.95) -> pd.DataFrame:
    """Whether the best ``label`` (smallest mean ``value``) of each group of ``by`` is
    significantly better than the runner-up, from the realizations (one row per
    ``label`` and ``pair``) rather than their summary.

    Realizations with the same ``pair`` (rep) within a group drew the same stragglers
    (common random numbers), so they are paired across schemes: the test is on the
    differences d = runner-up − best, rep by rep, over the reps both have. Columns:
    ``by``…, ``best``, ``best_value`` and ``runner_up``, ``runner_up_value`` (means over
    all their realizations, ranked as :func:`best_by_group` ranks a summary: ties keep the
    data's order), ``pairs`` (n), ``mean_difference`` (mean of d), ``se`` (its standard
    error, sd(d)/√n), ``ci_low``, ``ci_high`` (the two-sided Student-t interval of the mean
    difference at ``confidence``, n − 1 degrees of freedom) and ``significant``: True when
    that interval excludes 0. With fewer than two pairs there is no interval (NaN) and the
    difference is not significant; identical realizations (d = 0 throughout) are a tie,
    a constant d ≠ 0 is significant. A group with one ``label`` has no runner-up: NaN
    columns and ``significant`` missing (NA). Without ``by``, the whole data is one group
    (and the result one row).

    >>> d = pd.DataFrame({"load": 2, "scheme": ["A"] * 3 + ["B"] * 3, "rep": [0, 1, 2] * 2,
    ...                   "completion_time": [1.0, 5.0, 9.0, 1.5, 5.5, 9.5]})
    >>> paired_margin(d, "load")[["best", "runner_up", "mean_difference", "significant"]]
      best runner_up  mean_difference  significant
    0    A         B              0.5         True
    """
    from pssim.analysis.summary import t_quantile

    keys = _keys(by)
    if not keys:
        # One group of everything: the constant key is dropped from the result.
        whole = paired_margin(data.assign(_all=0), "_all", value, label, pair, confidence)
        return whole.drop(columns="_all")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: {confidence!r}; must be between 0 and 1")
    rows = data.loc[data[value].notna(), [*keys, label, pair, value]]
    if rows.duplicated([*keys, label, pair]).any():
        raise ValueError(f"data: several rows for one ({', '.join(keys)}, {label}, {pair}); "
                         f"each {pair} must appear once per {label} and group")
    means = rows.groupby([*keys, label], sort=False, dropna=False)[value].mean()
    ranked = means.reset_index().sort_values(value, kind="mergesort")
    place = ranked.groupby(keys, sort=False, dropna=False).cumcount()
    best = ranked[place == 0].rename(columns={label: "best", value: "best_value"})
    runner = ranked[place == 1].rename(columns={label: "runner_up", value: "runner_up_value"})
    out = best.merge(runner, on=keys, how="left")

    first = rows.merge(out[[*keys, "best"]], left_on=[*keys, label], right_on=[*keys, "best"])
    second = rows.merge(out[[*keys, "runner_up"]].dropna(subset=["runner_up"]),
                        left_on=[*keys, label], right_on=[*keys, "runner_up"])
    paired = first[[*keys, pair, value]].merge(second[[*keys, pair, value]], on=[*keys, pair],
                                               suffixes=("_best", "_runner_up"))
    diff = paired[f"{value}_runner_up"] - paired[f"{value}_best"]
    stats = diff.groupby([paired[k] for k in keys], sort=False, dropna=False).agg(
        ["size", "mean", "std"]).reset_index()
    stats.columns = [*keys, "pairs", "mean_difference", "sd"]
    out = out.merge(stats, on=keys, how="left")
    out = out.sort_values(keys, kind="mergesort").reset_index(drop=True)
    n = out["pairs"].to_numpy(dtype=float, na_value=np.nan)
    out["pairs"] = out["pairs"].fillna(0).astype("int64")
    out["se"] = out.pop("sd") / np.sqrt(n)
    # The t quantile is undefined for n < 2: no interval rather than a made-up one.
    half = out["se"] * t_quantile(n, confidence)
    out["ci_low"] = out["mean_difference"] - half
    out["ci_high"] = out["mean_difference"] + half
    significant = ((out["ci_low"] > 0) | (out["ci_high"] < 0)).astype("boolean")
    out["significant"] = significant.mask(out["runner_up"].isna())
    return out


#: Joins the names of labels that are one at a group (:func:`merge_identical`).
SAME = " = "


def merge_identical(data: pd.DataFrame, by: str | Sequence[str],
                    columns: Sequence[str] = ("completion_time",), label: str = "scheme",
                    pair: str = "rep") -> pd.DataFrame:
    """``data`` with the labels that are one in a group of ``by`` (the same ``columns`` at
    every ``pair``: at r = 2, GC, LCC and LCC-MMC-2 all wait for N − 1 single messages)
    under one name, "GC = LCC = LCC-MMC-2" (joined by :data:`SAME`, in the data's order),
    keeping the first one's rows. Ranked, the merged data name the winner as the one scheme
    the tied names are, and its runner-up is the first scheme that differs.

    >>> d = pd.DataFrame({"load": 2, "scheme": ["A", "A", "B", "B", "C", "C"],
    ...                   "rep": [0, 1] * 3, "completion_time": [1.0, 2.0, 1.0, 2.0, 1.0, 3.0]})
    >>> merge_identical(d, "load")["scheme"].tolist()
    ['A = B', 'A = B', 'C', 'C']
    """
    keys = _keys(by)
    if not keys:
        raise ValueError("by: give at least one column to group by")
    # Each (group, label) numbered in order of first appearance from integer codes (a
    # group-by of the strings themselves takes seconds on millions of rows), its rows
    # brought together by rep; the names are decided per number and set by indexing,
    # never row by row in Python.
    within = data.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    labels = pd.factorize(data[label], use_na_sentinel=False)[0]
    pairs, first, ids = np.unique(within * (labels.max(initial=0) + 1) + labels,
                                  return_index=True, return_inverse=True)
    renumber = np.empty(len(pairs), dtype=np.int64)
    renumber[np.argsort(first, kind="stable")] = np.arange(len(pairs))
    ids = renumber[ids.reshape(-1)]
    order = np.lexsort((data[pair].to_numpy(), ids))
    values = data[[pair, *columns]].to_numpy(dtype=float)[order]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(ids))])
    first = order[bounds[:-1]]
    groups = within[first]
    alike: dict[int, dict[bytes, list[int]]] = {}
    for g, at in enumerate(groups.tolist()):
        rows = values[bounds[g]:bounds[g + 1]]
        alike.setdefault(at, {}).setdefault(rows.tobytes(), []).append(g)
    label_of = data[label].to_numpy()[first]
    names = np.full(len(first), None, dtype=object)
    for same_at in alike.values():
        for same in same_at.values():
            names[same[0]] = SAME.join(str(label_of[g]) for g in same)
    keep = np.array([name is not None for name in names])[ids]
    out = data[keep].reset_index(drop=True)
    out[label] = pd.Series(names[ids[keep]].tolist(), index=out.index)
    return out


def _completion_times(trace: pd.DataFrame) -> pd.DataFrame:
    """T per (scheme, rep): the time of the ``complete`` event, or, for a trace cut short
    of it, the time of its last event."""
    last = trace.groupby(TRACE_KEYS, sort=False)["time"].max()
    done = trace[trace["event"] == "complete"].groupby(TRACE_KEYS, sort=False)["time"].max()
    horizon = done.reindex(last.index).fillna(last)
    return horizon.rename("completion_time").reset_index()


def _worker_progress(trace: pd.DataFrame, workers: int | None) -> pd.DataFrame:
    """Per (scheme, rep, worker): ``finished``, the computations it finished by T,
    ``last_done``, the time of the last of them (0 for none), and ``completion_time`` T;
    iterations in the trace's order (schemes as simulated), workers ascending. With
    ``workers`` (N), workers 0..N−1 of every iteration, also those that finished nothing."""
    horizon = _completion_times(trace)
    done = trace.loc[trace["event"] == "compute_done", [*TRACE_KEYS, "worker", "time"]]
    done = done.merge(horizon, on=TRACE_KEYS)
    done = done[done["time"] <= done["completion_time"]]
    done = done.astype({"worker": "int64"})
    groups = done.groupby([*TRACE_KEYS, "worker"], sort=False)["time"]
    progress = pd.DataFrame({"finished": groups.size(), "last_done": groups.max()})
    if workers is not None:
        # Workers that finished nothing by T leave no compute_done in the trace.
        grid = horizon[TRACE_KEYS].merge(pd.DataFrame({"worker": np.arange(workers)}),
                                         how="cross")
        progress = progress.reindex(pd.MultiIndex.from_frame(grid))
        progress = progress.fillna({"finished": 0, "last_done": 0.0})
    progress = progress.astype({"finished": "int64", "last_done": float})
    order = horizon.assign(order=np.arange(len(horizon)))
    out = order.merge(progress.reset_index(), on=TRACE_KEYS)
    out = out.sort_values(["order", "worker"], kind="mergesort").reset_index(drop=True)
    return out[[*TRACE_KEYS, "worker", "finished", "last_done", "completion_time"]]


def busy_time(trace: pd.DataFrame, workers: int | None = None, *, load: int) -> pd.DataFrame:
    """Per (scheme, rep, worker): ``busy_time``, the time within [0, T] the worker spent
    computing, ``completion_time`` T and ``utilization`` = busy_time / T.

    A worker computes back to back from time 0 until it has finished its ``load`` (r)
    computations. The trace records only finished computations (``compute_done``), so a
    worker that finished fewer than r by T was still computing at T: its computation under
    way began at its last ``compute_done`` (or at 0) and counts up to T, and its busy time
    is T. A worker that finished all r is busy until its r-th ``compute_done`` and idle
    after. So a straggler that computed for the whole iteration is busy for all of it,
    even with no ``compute_done`` at all; :func:`finished_work_time` counts only the
    finished computations.

    Workers without any finished computation do not appear in the trace; give
    ``workers`` (N) to list workers 0..N−1 all the same (each busy for all of T).

    >>> trace = pd.DataFrame({"scheme": "A", "rep": 0, "time": [1.0, 2.0, 2.5],
    ...                       "worker": [0, 0, None],
    ...                       "event": ["compute_done", "compute_done", "complete"]})
    >>> busy_time(trace, workers=2, load=2)
      scheme  rep  worker  busy_time  completion_time  utilization
    0      A    0       0        2.0              2.5          0.8
    1      A    0       1        2.5              2.5          1.0
    >>> busy_time(trace, load=3)["busy_time"].tolist()
    [2.5]
    """
    if isinstance(load, bool) or not isinstance(load, int | np.integer) or load < 1:
        raise ValueError(f"load: {load!r}; must be an integer ≥ 1 (computations per worker)")
    progress = _worker_progress(trace, workers)
    if (progress["finished"] > load).any():
        most = int(progress["finished"].max())
        raise ValueError(f"load: {load}; the trace has a worker that finished {most} "
                         "computations, more than the load")
    computing = progress["finished"] < load
    busy = progress["completion_time"].where(computing, progress["last_done"])
    out = progress[[*TRACE_KEYS, "worker"]].assign(
        busy_time=busy.astype(float), completion_time=progress["completion_time"])
    out["utilization"] = out["busy_time"] / out["completion_time"]
    return out


def finished_work_time(trace: pd.DataFrame, workers: int | None = None) -> pd.DataFrame:
    """Per (scheme, rep, worker): ``finished_work_time``, the time the worker spent on the
    computations it finished by T (the time of its last ``compute_done`` at or before T,
    since a worker computes back to back from time 0; 0 if it finished none), and
    ``completion_time`` T.

    Unlike :func:`busy_time`, the computation under way at T does not count: a straggler
    that computed for the whole iteration without finishing has 0 here. Give ``workers``
    (N) to list workers 0..N−1 even when they finished nothing.

    >>> trace = pd.DataFrame({"scheme": "A", "rep": 0, "time": [1.0, 2.0, 2.5],
    ...                       "worker": [0, 0, None],
    ...                       "event": ["compute_done", "compute_done", "complete"]})
    >>> finished_work_time(trace, workers=2)
      scheme  rep  worker  finished_work_time  completion_time
    0      A    0       0                 2.0              2.5
    1      A    0       1                 0.0              2.5
    """
    progress = _worker_progress(trace, workers)
    out = progress.rename(columns={"last_done": "finished_work_time"})
    return out[[*TRACE_KEYS, "worker", "finished_work_time", "completion_time"]]


#: Units a bandwidth can be shown in, and their bytes per second.
BANDWIDTH_UNITS: dict[str, float] = {"B/s": 1.0, "kB/s": 1e3, "MB/s": 1e6, "GB/s": 1e9,
                                     "kbps": 1e3 / 8, "Mbps": 1e6 / 8, "Gbps": 1e9 / 8,
                                     "Tbps": 1e12 / 8}
#: Columns that hold bandwidths (bytes/s) in pssim's tables.
BANDWIDTH_COLUMNS = ("master_bandwidth", "uplink_bandwidth", "from_bandwidth", "to_bandwidth")


def in_bandwidth_unit(frame: pd.DataFrame, unit: str = "B/s") -> pd.DataFrame:
    """``frame`` with its bandwidth columns in ``unit`` (``Gbps``, ``MB/s``, …) instead of
    bytes/s, and ``attrs["units"]`` saying so (figures label their axes from it).

    >>> in_bandwidth_unit(pd.DataFrame({"master_bandwidth": [1.25e9]}), "Gbps")
       master_bandwidth
    0              10.0
    """
    if unit not in BANDWIDTH_UNITS:
        raise ConfigError("bandwidth_unit", unit,
                          f"must be one of {', '.join(BANDWIDTH_UNITS)}")
    if unit == "B/s":
        return frame
    out = frame.copy()
    converted = [c for c in BANDWIDTH_COLUMNS if c in out.columns]
    for column in converted:
        out[column] = out[column] / BANDWIDTH_UNITS[unit]
    out.attrs["units"] = {**frame.attrs.get("units", {}), **dict.fromkeys(converted, unit)}
    return out


def run_parameter(frame: pd.DataFrame, name: str) -> Any:
    """A parameter of the run that produced ``frame``, from the configuration it carries
    (``frame.attrs["pssim"]``, set by ``pssim.simulate`` and by :func:`load_results` from a
    file's Parquet metadata), or None."""
    config = frame.attrs.get("pssim", {}).get("config", {})
    return config.get(name) if isinstance(config, dict) else None


def _quantity(frame: pd.DataFrame, name: str, value: Any,
              convert: Callable[[str, Any], float]) -> float | None:
    """``value`` in bytes or bytes/s from a number or a string with a unit, as the command
    line takes it; when None, the run's own value, if the frame carries it."""
    if value is None:
        value = run_parameter(frame, name)
    return None if value is None else convert(name, value)


def link_utilization(trace: pd.DataFrame, message_size: float | str | None = None,
                     master_bandwidth: float | str | None = None) -> pd.DataFrame:
    """Per (scheme, rep): the time the master's link was busy within [0, T] and the
    ``utilization`` busy_time / T, for the fifo network, where each message occupies the
    link for message_size / master_bandwidth just before its ``received`` event.

    Sizes and bandwidths are bytes and bytes/s, or strings with units (``"4MB"``,
    ``"10Gbps"``). Left out, they are the run's own, from the configuration the trace
    carries; a ``message_size`` still unknown is taken per message from the ``bytes``
    column.

    Overlapping occupancies (other networks) count once.

    >>> trace = pd.DataFrame({"scheme": "A", "rep": 0, "time": [1.0, 2.0, 4.0],
    ...                       "event": ["received", "received", "complete"]})
    >>> link_utilization(trace, message_size=1.5, master_bandwidth=1.0)
      scheme  rep  busy_time  completion_time  utilization
    0      A    0        2.0              4.0          0.5
    """
    message_size = _quantity(trace, "message_size", message_size, nbytes)
    master_bandwidth = _quantity(trace, "master_bandwidth", master_bandwidth, bandwidth)
    if master_bandwidth is None:
        raise ConfigError("master_bandwidth", None, "must be given: the trace carries no "
                          "configuration to take it from")
    horizon = _completion_times(trace)
    recv = trace.loc[trace["event"] == "received", [*TRACE_KEYS, "time", "bytes"]
                     if message_size is None else [*TRACE_KEYS, "time"]]
    size = recv["bytes"] if message_size is None else float(message_size)
    recv = recv.assign(start=recv["time"] - size / master_bandwidth)
    recv = recv.merge(horizon, on=TRACE_KEYS)
    recv["start"] = recv["start"].clip(lower=0.0)
    recv["end"] = np.minimum(recv["time"], recv["completion_time"])
    recv = recv.sort_values([*TRACE_KEYS, "start"], kind="mergesort")
    # Sorted by start, an interval adds only what lies beyond the furthest end so far:
    # the length of the union, whatever the overlaps.
    reach = recv.groupby(TRACE_KEYS, sort=False)["end"].cummax()
    previous = reach.groupby([recv[k] for k in TRACE_KEYS], sort=False).shift()
    previous = previous.fillna(-np.inf)
    recv["covered"] = (recv["end"] - np.maximum(recv["start"], previous)).clip(lower=0.0)
    busy = recv.groupby(TRACE_KEYS, sort=False)["covered"].sum().rename("busy_time")
    out = horizon.merge(busy.reset_index(), on=TRACE_KEYS, how="left")
    out["busy_time"] = out["busy_time"].fillna(0.0)
    out["utilization"] = out["busy_time"] / out["completion_time"]
    return out[[*TRACE_KEYS, "busy_time", "completion_time", "utilization"]]


def messages_in_flight(summary: pd.DataFrame) -> pd.Series:
    """Messages whose transmission began by T but that the master had not received by T
    (``messages_sent`` − ``messages``), one value per summary row.

    >>> messages_in_flight(pd.DataFrame({"messages_sent": [5, 4], "messages": [3, 4]})).tolist()
    [2, 0]
    """
    return (summary["messages_sent"] - summary["messages"]).rename("messages_in_flight")


def transmissions(trace: pd.DataFrame) -> pd.DataFrame:
    """One row per message sent by T: ``start`` (its ``send_start``) and ``end`` (its
    ``received``, NaN if the master had not received it by T), in the trace's order.

    >>> trace = pd.DataFrame({"scheme": "A", "rep": 0, "time": [1.0, 2.0, 3.0],
    ...                       "worker": [0, 0, 1], "message": [1, 1, 1],
    ...                       "event": ["send_start", "received", "send_start"]})
    >>> transmissions(trace)
      scheme  rep  worker  message  start  end
    0      A    0       0        1    1.0  2.0
    1      A    0       1        1    3.0  NaN
    """
    # A training run numbers messages afresh in every iteration.
    cols = [*TRACE_KEYS, "worker", "message", *(["iteration"] if "iteration" in trace else [])]
    sent = trace.loc[trace["event"] == "send_start", [*cols, "time"]]
    recv = trace.loc[trace["event"] == "received", [*cols, "time"]]
    sent = sent.astype({"worker": "int64", "message": "int64"}).rename(columns={"time": "start"})
    recv = recv.astype({"worker": "int64", "message": "int64"}).rename(columns={"time": "end"})
    out = sent.merge(recv, on=cols, how="left", validate="one_to_one")
    return out.reset_index(drop=True)


def computations(trace: pd.DataFrame) -> pd.DataFrame:
    """One row per computation finished by T: ``start`` (the worker's previous
    ``compute_done``, or 0) and ``end`` (its own ``compute_done``), in the trace's order.

    >>> trace = pd.DataFrame({"scheme": "A", "rep": 0, "time": [1.0, 1.5, 2.0],
    ...                       "worker": [0, 1, 0], "computation": [1, 1, 2],
    ...                       "event": "compute_done"})
    >>> computations(trace)
      scheme  rep  worker  computation  start  end
    0      A    0       0            1    0.0  1.0
    1      A    0       1            1    0.0  1.5
    2      A    0       0            2    1.0  2.0
    """
    if "iteration" in trace and trace["iteration"].nunique() > 1:
        return _computations_of_iterations(trace)
    cols = [*TRACE_KEYS, "worker", "computation"]
    done = trace.loc[trace["event"] == "compute_done", [*cols, "time"]]
    done = done.astype({"worker": "int64", "computation": "int64"})
    done = done.rename(columns={"time": "end"})
    ordered = done.sort_values(["worker", "computation"], kind="mergesort")
    # Assigned back by index, so the result keeps the trace's (chronological) order.
    previous = ordered.groupby([*TRACE_KEYS, "worker"], sort=False)["end"].shift()
    done.insert(len(cols), "start", previous.fillna(0.0))
    return done.reset_index(drop=True)


def _computations_of_iterations(trace: pd.DataFrame) -> pd.DataFrame:
    """:func:`computations` of a training run: a worker begins an iteration when its model
    arrives or when it finishes its last computation, whichever is later (docs/model.md,
    "Training runs"), which holds under cancel and drain alike; the trace's
    ``model_received`` events give the first."""
    cols = [*TRACE_KEYS, "worker", "iteration", "computation"]
    done = trace.loc[trace["event"] == "compute_done", [*cols, "time"]]
    done = done.astype({"worker": "int64", "computation": "int64"})
    done = done.rename(columns={"time": "end"})
    ordered = done.sort_values(["worker", "iteration", "computation"], kind="mergesort")
    within = ordered.groupby([*TRACE_KEYS, "worker", "iteration"], sort=False)["end"].shift()
    before = ordered.groupby([*TRACE_KEYS, "worker"], sort=False)["end"].shift()
    models = trace.loc[trace["event"] == "model_received", [*TRACE_KEYS, "worker",
                                                            "iteration", "time"]]
    models = models.astype({"worker": "int64"}).rename(columns={"time": "model"})
    arrived = ordered[[*TRACE_KEYS, "worker", "iteration"]].merge(
        models, on=[*TRACE_KEYS, "worker", "iteration"], how="left")["model"].to_numpy()
    begin = np.fmax(np.nan_to_num(arrived, nan=0.0), before.fillna(0.0).to_numpy())
    start = within.where(within.notna(), pd.Series(begin, index=ordered.index))
    done.insert(len(cols), "start", start)
    return done.reset_index(drop=True)
