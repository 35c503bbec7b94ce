"""Figures of simulation results: seaborn 0.13 on matplotlib, drawn without a display.

Every function returns the matplotlib Figure; :func:`save` writes it and closes it. Axis
labels carry units: times in seconds, sizes in bytes, bandwidths in bytes per second.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd

# Figures go to files, also on machines without a display. A session that already chose
# its backend (a notebook has imported pyplot by now) keeps it.
if "matplotlib.pyplot" not in sys.modules:
    matplotlib.use("Agg")

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.transforms import Bbox

from pssim.analysis.frames import (
    SAME,
    computations,
    pareto_frontier,
    run_parameter,
    transmissions,
)
from pssim.units import bandwidth, nbytes

#: Axis labels, with units, of the columns of the summary and of the derived tables.
LABELS = {
    "time": "time (s)",
    "completion_time": "completion time T (s)",
    "mean_completion_time": "mean completion time E[T] (s)",
    "messages": "messages received by T",
    "mean_messages": "mean messages received by T",
    "messages_sent": "messages sent by T",
    "computations": "computations finished by T",
    "bytes": "bytes received by T (bytes)",
    "mean_bytes": "mean bytes received by T (bytes)",
    "workers": "workers N",
    "load": "load r (computations per worker)",
    "group": "group g (computations per message)",
    "threshold": "threshold K",
    "polynomials": "polynomials p",
    "pg_tolerance": "tolerance τ",
    "mu": "straggling rate μ (1/s)",
    "alpha": "minimum compute time α (s)",
    "uplink_bandwidth": "uplink bandwidth b (bytes/s)",
    "master_bandwidth": "master bandwidth B (bytes/s)",
    "latency": "latency (s)",
    "message_size": "message size (bytes)",
    "cdf": "CDF  P(T ≤ t)",
    "busy_time": "busy time (s)",
    "utilization": "utilization (busy time / T)",
    "messages_in_flight": "messages in flight at T",
}

DPI = 120


def label(column: str, units: dict[str, str] | None = None) -> str:
    """The axis label of a column: with its unit when known (``units``, from a table's
    ``attrs["units"]``, overrides bytes/s), else the name spelled out.

    >>> label("master_bandwidth")
    'master bandwidth B (bytes/s)'
    >>> label("master_bandwidth", {"master_bandwidth": "Gbps"})
    'master bandwidth B (Gbps)'
    """
    text = LABELS.get(column, column.replace("_", " "))
    if units and column in units:
        text = text.replace("(bytes/s)", f"({units[column]})")
    return text


def _tick(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float | np.number) else str(value)


def _palette(n: int) -> list[Any]:
    return sns.color_palette("tab10" if n <= 10 else "husl", n)


def hue_palette(values: pd.Series) -> dict[Any, Any]:
    """One colour per level of a ``hue`` column: numbers in ascending order, anything
    else in order of appearance. Given to seaborn as a dict, it makes the legend list
    every level (a numeric hue would otherwise get a colour scale whose legend shows only
    a sample of it), and lets bands drawn by hand take their line's colour.

    >>> list(hue_palette(pd.Series([4, 2, 4])))
    [2, 4]
    """
    levels = values.dropna().unique().tolist()
    if pd.api.types.is_numeric_dtype(values):
        levels = sorted(levels)
    return dict(zip(levels, _palette(len(levels)), strict=True))


#: Where a legend may go inside the axes, in order of preference.
_INSIDE = ("upper right", "upper left", "lower left", "lower right", "center right",
           "center left", "upper center", "lower center")
#: Room (pixels) kept between a legend and the data it might cover: a marker and a gap.
_CLEARANCE = 8.0


def covered(ax: Any, box: Bbox) -> bool:
    """Whether ``box`` (display coordinates) covers any line, marker, point or band drawn
    in ``ax``; lines drawn as steps are taken as drawn."""
    from matplotlib.cbook import STEP_LOOKUP_MAP
    from matplotlib.path import Path as MplPath

    wide = box.expanded(1.0, 1.0).padded(_CLEARANCE)
    for line in ax.lines:
        x, y = (np.asarray(v, dtype=float) for v in line.get_data())
        if not line.get_visible() or len(x) == 0:
            continue
        style = line.get_drawstyle()
        if style in STEP_LOOKUP_MAP and style != "default" and len(x) > 1:
            x, y = STEP_LOOKUP_MAP[style](x, y)
        points = line.get_transform().transform(np.column_stack([x, y]))
        points = points[np.isfinite(points).all(axis=1)]
        if len(points) and (MplPath(points).intersects_bbox(wide, filled=True)
                            or wide.count_contains(points) > 0):
            return True
    for collection in ax.collections:
        if not collection.get_visible():
            continue
        offsets = collection.get_offsets()
        if len(offsets) and len(collection.get_paths()) == 1 and len(offsets) > 1:
            # A scatter: one marker path at many offsets.
            at = collection.get_offset_transform().transform(offsets)
            if wide.count_contains(at[np.isfinite(at).all(axis=1)]) > 0:
                return True
            continue
        transform = collection.get_transform()
        for path in collection.get_paths():
            if transform.transform_path(path).intersects_bbox(wide, filled=True):
                return True
    return False


def place_legend(ax: Any, handles: Sequence[Any] | None = None,
                 labels: Sequence[str] | None = None, **options: Any) -> Legend:
    """A legend inside the axes, at the first place of :data:`_INSIDE` where it covers no
    data (:func:`covered`), else outside them, to the right: a legend never hides a line.
    Call it once the axes are laid out (scales, limits, ``tight_layout``): where the data
    fall on the page decides. ``options`` go to ``Axes.legend``."""
    if handles is None or labels is None:
        handles, labels = ax.get_legend_handles_labels()
    renderer = ax.figure.canvas.get_renderer()
    for loc in _INSIDE:
        legend = ax.legend(handles, labels, loc=loc, **options)
        if not covered(ax, legend.get_window_extent(renderer)):
            return legend
    legend = ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                       borderaxespad=0.0, **options)
    # The figure grows by the legend's width, so that the axes keep theirs.
    fig = ax.figure
    width, height = fig.get_size_inches()
    extra = legend.get_window_extent(renderer).width / fig.dpi + 0.1
    fig.set_size_inches(width + extra, height)
    return legend


#: Line styles of the levels of a CDF figure's ``style`` drawn on top of the reference.
_TOP_STYLES = ("-", ":", "-.")


def plot_cdf(curves: pd.DataFrame, x: str = "time", y: str = "cdf", hue: str = "scheme",
             style: str | None = None, title: str | None = None,
             reference: str | None = "closed form") -> Figure:
    """CDFs of T drawn as lines, one per ``hue`` (and ``style``, e.g. a column telling
    "closed form" from "Monte Carlo"), from a long table such as the curves of
    ``pssim.api.analyze`` or :func:`pssim.analysis.frames.ecdf`.

    ``reference`` names a level of ``style`` (by default "closed form", as the Fig. 1
    scenario names the closed forms) drawn first, wide, dashed and pale, beneath the other
    levels (the Monte Carlo curves), which are drawn thin and solid on top, so that a
    Monte Carlo curve stays visible where it lies on its closed form. When ``reference``
    is None or not a level of ``style``, every level is drawn on top, in order of
    appearance. The legend names every colour (a level of ``hue``) and every line style (a
    level of ``style``).
    """
    colors = hue_palette(curves[hue])
    levels: list[Any] = [None] if style is None else curves[style].unique().tolist()
    if reference not in levels:
        reference = None
    if reference is not None:
        levels = [reference, *(v for v in levels if v != reference)]
    looks: dict[Any, dict[str, Any]] = {}
    for i, level in enumerate(v for v in levels if reference is None or v != reference):
        looks[level] = {"linestyle": _TOP_STYLES[i % len(_TOP_STYLES)], "linewidth": 1.3,
                        "zorder": 3 + i}
    if reference is not None:
        looks[reference] = {"linestyle": "--", "linewidth": 2.6, "alpha": 0.5, "zorder": 2}

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for level in levels:
        part = curves if level is None else curves[curves[style] == level]
        for key, line in part.groupby(hue, sort=False):
            line = line.sort_values([x, y], kind="mergesort")
            ax.plot(line[x], line[y], color=colors[key], **looks[level])
    handles: list[Any] = [Line2D([], [], color=c, linewidth=2, label=str(key))
                          for key, c in colors.items()]
    if style is not None:
        handles += [Line2D([], [], color="0.25", label=str(level),
                           **{k: v for k, v in looks[level].items() if k != "zorder"})
                    for level in levels]
    ax.legend(handles=handles, fontsize=8)
    ax.set_xlabel(LABELS["completion_time"] if x in ("time", "completion_time") else label(x))
    ax.set_ylabel(label(y))
    ax.set_ylim(-0.02, 1.02)
    if title:
        ax.set_title(title)
    return fig


def plot_ecdf(summary: pd.DataFrame, hue: str = "scheme", x: str = "completion_time",
              title: str | None = None) -> Figure:
    """The empirical CDF of the completion time (or of ``x``) per ``hue``."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    palette = hue_palette(summary[hue])
    sns.ecdfplot(data=summary, x=x, hue=hue, hue_order=list(palette), palette=palette, ax=ax)
    ax.set_xlabel(label(x))
    ax.set_ylabel(LABELS["cdf"] if x == "completion_time" else f"CDF of {label(x)}")
    if title:
        ax.set_title(title)
    return fig


def plot_metric_vs(summary: pd.DataFrame, x: str, y: str, hue: str = "scheme",
                   log_x: bool = False, log_y: bool = False, ylabel: str | None = None,
                   xlabel: str | None = None, title: str | None = None) -> Figure:
    """Mean of ``y`` against ``x`` per ``hue``, with bootstrap 95% confidence bands
    (seeded, so a figure is reproducible): e.g. mean completion time against the load r or
    the master bandwidth (``log_x=True``), or messages against r. ``log_y=True`` for
    values spanning decades (completion times over bandwidths). The legend names every
    level of ``hue``; each band has its line's colour.
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    palette = hue_palette(summary[hue])
    sns.lineplot(data=summary, x=x, y=y, hue=hue, hue_order=list(palette), palette=palette,
                 errorbar=("ci", 95), seed=0, marker="o", ax=ax)
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel or label(x, summary.attrs.get("units")))
    ax.set_ylabel(ylabel or (f"mean {label(y)}" if y in ("completion_time", "messages",
                                                        "messages_sent", "computations",
                                                        "bytes") else label(y)))
    if title:
        ax.set_title(title)
    return fig


def plot_summary_vs(table: pd.DataFrame, x: str, y: str, hue: str = "scheme",
                    band: bool = True, log_x: bool = False, log_y: bool = False,
                    ylabel: str | None = None, xlabel: str | None = None,
                    title: str | None = None, invert_x: bool = False,
                    reference: Mapping[Any, float] | None = None,
                    reference_label: str = "reference") -> Figure:
    """``y`` against ``x`` per ``hue`` from a table of :func:`analysis.summary.summarize`
    (one row per point), with its Student-t 95% band ``ci_low``–``ci_high`` when ``band``.
    For large runs: bootstrapping 100,000 realizations per point would take minutes and
    give the same band. The legend names every level of ``hue`` and what the bands are
    (the table's ``ci_method``, a column or an entry of its ``attrs``, when it has one);
    each band has its line's colour, and it covers no line (:func:`place_legend`).
    ``invert_x`` runs the x axis from right to left (a tail that grows as its parameter
    falls, say). ``reference`` draws a dotted horizontal line per level of ``hue`` in its
    colour (its value without a bottleneck, say), named in the legend by
    ``reference_label``."""
    fig, ax = plt.subplots(figsize=(7.0, 4.5))
    palette = hue_palette(table[hue])
    sns.lineplot(data=table, x=x, y=y, hue=hue, hue_order=list(palette), palette=palette,
                 style=hue, style_order=list(palette), markers=True, dashes=False,
                 errorbar=None, ax=ax)
    handles, names = ax.get_legend_handles_labels()
    if band:
        for key, part in table.groupby(hue, sort=False):
            part = part.sort_values(x, kind="mergesort")
            ax.fill_between(part[x], part["ci_low"], part["ci_high"], alpha=0.25,
                            color=palette[key], linewidth=0)
        methods: list[Any] = (table["ci_method"].dropna().unique().tolist()
                              if "ci_method" in table else [table.attrs.get("ci_method")])
        method = str(methods[0]) if len(methods) == 1 and methods[0] else "ci_low to ci_high"
        handles.append(Patch(facecolor="0.5", alpha=0.25, linewidth=0))
        names.append(textwrap.fill(f"band: {method}", 36))
    if reference:
        for key, value in reference.items():
            if key in palette:
                ax.axhline(value, color=palette[key], linestyle=":", linewidth=1)
        handles.append(Line2D([], [], color="0.3", linestyle=":", linewidth=1))
        names.append(reference_label)
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    if invert_x:
        ax.invert_xaxis()
    ax.set_xlabel(xlabel or label(x, table.attrs.get("units")))
    ax.set_ylabel(ylabel or label(y, table.attrs.get("units")))
    if title:
        ax.set_title(title)
    legend = ax.get_legend()
    if legend is not None:
        legend.remove()
    fig.tight_layout()
    place_legend(ax, handles, names, title=hue, fontsize=8)
    fig.tight_layout()
    return fig


def _annotation(value: Any, column: str | None) -> str:
    if column is None or pd.isna(value):
        return ""
    if value == 0:
        return "tie"
    if column == "relative_margin":
        # Whole percents read best; below 10% one decimal keeps small wins visible.
        return f"{value:+.0%}" if abs(value) >= 0.095 else f"{value:+.1%}"
    return f"{value:+.3g}"


#: The legend entry of a hatched cell of :func:`plot_best_heatmap`.
TIE_LABEL = "hatched: tie, the best is not significantly faster than the runner-up"
#: The legend entry of a cell whose winner has several names (one scheme under each).
SAME_LABEL = f"A{SAME}B: one scheme under several names at this cell"
#: The colour of the hatching of tied cells, dark enough on every cell colour.
TIE_COLOR = (0.0, 0.0, 0.0, 0.5)


def _cell_name(name: str) -> str:
    """A winner's name in its cell: "GC = LCC = LCC-MMC-2" two names a line.

    >>> _cell_name("GC = LCC = LCC-MMC-2")
    'GC = LCC\\n= LCC-MMC-2'
    """
    parts = name.split(SAME)
    return f"\n{SAME.lstrip()}".join(SAME.join(parts[i:i + 2])
                                     for i in range(0, len(parts), 2))


def plot_best_heatmap(best: pd.DataFrame, x: str, y: str,
                      annotate: str | None = "relative_margin", name: str = "best",
                      title: str | None = None, significant: str | None = None,
                      tie_label: str = TIE_LABEL, same_label: str = SAME_LABEL) -> Figure:
    """Which scheme is best in each cell of an ``x`` × ``y`` grid, from
    :func:`analysis.frames.best_by_group` (grouped by ``[x, y]``): one colour per scheme,
    named on the colour bar, and each cell annotated "SCHEME\\n+12%" with ``annotate``
    (its margin over the runner-up; None for the name only).

    ``significant`` names a bool column (``significant`` of
    :func:`analysis.frames.paired_margin`): cells where it is False, whose winner is not
    significantly faster than the runner-up, are hatched as ties, and a legend below the
    grid says so with ``tie_label``. Missing values (no runner-up) are not ties.

    A winner named "GC = LCC" (:func:`analysis.frames.merge_identical`: several names of one
    scheme at that cell) is written a name or two a line, and the legend says what it
    means with ``same_label``.
    """
    cells = best[best[name].notna()]
    if cells.empty:
        raise ValueError(f"best: no rows with a {name!r} value to draw")
    if cells.duplicated([x, y]).any():
        raise ValueError(f"best: several rows for one ({x}, {y}) cell; group by both")
    xs, ys = sorted(cells[x].unique()), sorted(cells[y].unique())
    names = sorted(cells[name].unique())
    col = {v: i for i, v in enumerate(xs)}
    row = {v: i for i, v in enumerate(ys)}
    code = {v: i for i, v in enumerate(names)}
    grid = np.full((len(ys), len(xs)), np.nan)
    text = np.full((len(ys), len(xs)), "", dtype=object)
    extra = cells[annotate] if annotate is not None else pd.Series(np.nan, index=cells.index)
    for xv, yv, scheme, value in zip(cells[x], cells[y], cells[name], extra, strict=True):
        grid[row[yv], col[xv]] = code[scheme]
        note = _annotation(value, annotate)
        shown = _cell_name(str(scheme))
        text[row[yv], col[xv]] = f"{shown}\n{note}" if note else shown

    palette = _palette(len(names))
    # Constrained layout keeps room below the axes for the ties' legend.
    fig, ax = plt.subplots(figsize=(1.0 + 1.1 * len(xs), 1.2 + 0.7 * len(ys)),
                           layout="constrained")
    frame = pd.DataFrame(grid, index=[_tick(v) for v in ys], columns=[_tick(v) for v in xs])
    sns.heatmap(frame, cmap=ListedColormap(palette), vmin=-0.5, vmax=len(names) - 0.5,
                annot=text, fmt="", annot_kws={"fontsize": 8}, linewidths=0.5,
                linecolor="white", cbar_kws={"ticks": list(range(len(names)))}, ax=ax)
    colorbar = ax.collections[0].colorbar
    if colorbar is not None:
        colorbar.set_ticklabels(names)
        colorbar.set_label("best scheme")
    entries: list[Any] = []
    if significant is not None:
        ties = pd.Series(cells[significant], dtype="boolean").eq(False).fillna(False)
        for xv, yv in zip(cells.loc[ties.to_numpy(), x], cells.loc[ties.to_numpy(), y],
                          strict=True):
            ax.add_patch(Rectangle((col[xv], row[yv]), 1, 1, fill=False, hatch="///",
                                   edgecolor=TIE_COLOR, linewidth=0))
        entries.append(Patch(facecolor="white", edgecolor=TIE_COLOR, hatch="///",
                             label=tie_label))
    if any(SAME in str(v) for v in names):
        entries.append(Patch(facecolor="none", edgecolor="none", label=same_label))
    if entries:
        fig.legend(handles=entries, loc="outside lower center", fontsize=8, frameon=False)
    # The smallest y at the bottom, as on any other plot.
    ax.invert_yaxis()
    ax.set_xlabel(label(x, best.attrs.get("units")))
    ax.set_ylabel(label(y, best.attrs.get("units")))
    if title:
        ax.set_title(title)
    return fig


def plot_frontier(table: pd.DataFrame, x: str = "mean_messages",
                  y: str = "mean_completion_time", hue: str = "scheme",
                  annotate: str | None = None, title: str | None = None) -> Figure:
    """Every row of ``table`` as a point, the Pareto-optimal ones (both coordinates
    minimized; the ``pareto`` column, computed when absent) starred and joined by the
    frontier's staircase. ``annotate`` names a column written next to each point (e.g.
    ``load``). The legend covers no point.
    """
    data = table if "pareto" in table.columns else pareto_frontier(table, x, y)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    sns.scatterplot(data=data, x=x, y=y, hue=hue, s=50, zorder=2, ax=ax)
    front = data[data["pareto"].astype(bool)].sort_values([x, y])
    ax.step(front[x], front[y], where="post", color="black", linewidth=1, linestyle="--",
            zorder=1)
    ax.scatter(front[x], front[y], marker="*", s=260, facecolors="none",
               edgecolors="black", linewidths=1, zorder=3)
    if annotate is not None:
        for xv, yv, note in zip(data[x], data[y], data[annotate], strict=True):
            ax.annotate(_tick(note), (xv, yv), xytext=(4, 4), textcoords="offset points",
                        fontsize=7)
    legend = ax.get_legend()
    handles = list(legend.legend_handles) if legend is not None else []
    names = [t.get_text() for t in legend.get_texts()] if legend is not None else []
    handles.append(Line2D([], [], marker="*", markersize=12, markerfacecolor="none",
                          markeredgecolor="black", color="black", linestyle="--"))
    names.append("Pareto optimal")
    if legend is not None:
        legend.remove()
    ax.set_xlabel(label(x, table.attrs.get("units")))
    ax.set_ylabel(label(y, table.attrs.get("units")))
    if title:
        ax.set_title(title)
    fig.tight_layout()
    place_legend(ax, [h for h in handles if h is not None], names, title=hue, fontsize=8)
    fig.tight_layout()
    return fig


def plot_timeline(trace: pd.DataFrame, scheme: str, rep: int,
                  message_size: float | str | None = None,
                  master_bandwidth: float | str | None = None,
                  workers: int | None = None, load: int | None = None) -> Figure:
    """A Gantt chart of one iteration (one ``scheme`` and realization ``rep`` of the
    trace): per worker its computations (upper lane) and its transmissions, send_start to
    received (lower lane, hatched when still under way at T); a "master link" row with its
    occupancy (size / master_bandwidth before each reception, when ``master_bandwidth`` is
    given; sizes from ``message_size`` or the trace's ``bytes``); a marker on every message
    the master used (received by T), and a vertical line at T.

    ``workers`` (N) adds rows for workers that finished nothing by T; with ``load`` (r) the
    computation still under way at T is drawn hatched, from the worker's last finished
    computation (or 0) to T.
    """
    sub = trace[(trace["scheme"] == scheme) & (trace["rep"] == rep)]
    if sub.empty:
        raise ValueError(f"trace: no events for scheme {scheme!r}, rep {rep!r}")
    complete = sub.loc[sub["event"] == "complete", "time"]
    horizon = float(complete.max() if len(complete) else sub["time"].max())
    # A training run's iterations end one after the other: each T_t is a boundary.
    boundaries = sorted(complete.tolist())[:-1]
    comps, sends = computations(sub), transmissions(sub)
    ids = sorted({int(w) for w in sub["worker"].dropna()}
                 | set(range(workers if workers is not None else 0)))
    lane = {w: i for i, w in enumerate(ids)}
    master_row = len(ids)
    colors = sns.color_palette("tab10")

    # Alternating shades keep back-to-back computations distinguishable.
    odd, even = colors[0], (0.55, 0.7, 0.85)
    drawn: set[str] = set()

    fig, ax = plt.subplots(figsize=(8.0, 1.6 + 0.4 * (len(ids) + 1)))
    for _, group in comps.groupby("worker", sort=False):
        y = lane[int(group["worker"].iloc[0])]
        spans = list(zip(group["start"], group["end"] - group["start"], strict=True))
        shades = [odd if c % 2 else even for c in group["computation"]]
        ax.broken_barh(spans, (y + 0.05, 0.4), facecolors=shades)
        drawn |= {"odd" if c % 2 else "even" for c in group["computation"]}
    if load is not None:
        ends = comps.groupby("worker")["end"]
        done = dict(zip(ends.size().index.tolist(), ends.size().tolist(), strict=True))
        last = dict(zip(ends.max().index.tolist(), ends.max().tolist(), strict=True))
        for w in ids:
            if done.get(w, 0) < load:
                begin = float(last.get(w, 0.0))
                ax.broken_barh([(begin, horizon - begin)], (lane[w] + 0.05, 0.4),
                               facecolors="none", edgecolor=colors[0], hatch="///")
                drawn.add("computing")
    for _, group in sends.groupby("worker", sort=False):
        y = lane[int(group["worker"].iloc[0])]
        ended = group[group["end"].notna()]
        pending = group[group["end"].isna()]
        ax.broken_barh(list(zip(ended["start"], ended["end"] - ended["start"], strict=True)),
                       (y - 0.45, 0.4), facecolors=colors[1], edgecolor="white")
        ax.broken_barh(list(zip(pending["start"], horizon - pending["start"], strict=True)),
                       (y - 0.45, 0.4), facecolors="none",
                       edgecolor=colors[1], hatch="///")
        drawn |= {"sent"} if len(ended) else set()
        drawn |= {"sending"} if len(pending) else set()
    if "iteration" in sends and len(complete) > 1:
        iteration_end = sub[sub["event"] == "complete"].set_index("iteration")["time"]
        used = sends[sends["end"].notna()
                     & (sends["end"] <= sends["iteration"].map(iteration_end).to_numpy())]
    else:
        used = sends[sends["end"].notna() & (sends["end"] <= horizon)]
    ax.plot(used["end"], [lane[int(w)] - 0.25 for w in used["worker"]], linestyle="none",
            marker="v", color="black", markersize=5)
    ax.plot(used["end"], np.full(len(used), master_row - 0.3), linestyle="none", marker="v",
            color="black", markersize=5)

    entries = {"odd": Patch(color=odd, label="computation 1, 3, 5…"),
               "even": Patch(color=even, label="computation 2, 4, 6…"),
               "computing": Patch(facecolor="none", edgecolor=colors[0], hatch="///",
                                  label="computation under way at T"),
               "sent": Patch(color=colors[1], label="transmission"),
               "sending": Patch(facecolor="none", edgecolor=colors[1], hatch="///",
                                label="transmission under way at T")}
    handles: list[Any] = [patch for key, patch in entries.items() if key in drawn]
    if master_bandwidth is None:
        master_bandwidth = run_parameter(trace, "master_bandwidth")
    if master_bandwidth is not None:
        recv = sub[sub["event"] == "received"]
        # Units as on the command line: "4MB", "10Gbps".
        master_bandwidth = bandwidth("master_bandwidth", master_bandwidth)
        message_size = None if message_size is None else nbytes("message_size", message_size)
        size = recv["bytes"] if message_size is None else float(message_size)
        start = (recv["time"] - size / master_bandwidth).clip(lower=0.0)
        ax.broken_barh(list(zip(start, recv["time"] - start, strict=True)),
                       (master_row - 0.2, 0.6), facecolors=colors[2], edgecolor="white")
        handles.append(Patch(color=colors[2], label="master link busy"))
    for boundary in boundaries:
        ax.axvline(boundary, color="red", linestyle=":", linewidth=1.0)
    if boundaries:
        handles.append(Line2D([], [], color="red", linestyle=":",
                              label="end of an iteration"))
    ax.axvline(horizon, color="red", linestyle="--", linewidth=1.2)
    handles += [Line2D([], [], marker="v", color="black", linestyle="none",
                       label="received by T (used)"),
                Line2D([], [], color="red", linestyle="--", label=f"T = {horizon:.4g} s")]

    ax.set_yticks(range(len(ids) + 1), [f"worker {w}" for w in ids] + ["master link"])
    ax.set_ylim(-0.6, master_row + 0.6)
    ax.set_xlim(left=0.0)
    ax.set_xlabel(LABELS["time"])
    ax.set_title(f"{scheme}: realization {rep}, completion time T = {horizon:.4g} s")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return fig


def save(fig: Figure, path_without_suffix: str | Path,
         formats: Sequence[str] = ("png",)) -> list[Path]:
    """Write ``fig`` once per format (``path.png``, ``path.pdf``…) at 120 dpi, creating
    the folder, then close it. Returns the files written."""
    base = Path(path_without_suffix)
    base.parent.mkdir(parents=True, exist_ok=True)
    written = []
    try:
        for fmt in formats:
            # Appending, not with_suffix: names like "cdf_r0.5" keep their dot.
            out = base.with_name(f"{base.name}.{fmt.lstrip('.')}")
            fig.savefig(out, dpi=DPI, bbox_inches="tight")
            written.append(out)
    finally:
        plt.close(fig)
    return written

