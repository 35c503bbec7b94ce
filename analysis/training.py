"""Training runs in the summary (docs/model.md, "Training runs"): totals per run and the
progress of training against wall-clock time. The summary has a row per (scheme,
realization, iteration); these helpers take it as it is."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

#: One run of a training summary is identified by these columns (and any given ``by``).
RUN_KEYS = ["scheme", "rep"]


def training_totals(summary: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Per run (scheme, realization and ``by``): ``iterations``, ``training_time`` (T of
    the last iteration, seconds), ``mean_iteration_time``, ``late_messages`` (over all
    iterations) and ``wasted_computations``: computations finished by their iteration's T
    whose results the master did not receive by then (computations − messages × group).

    >>> s = pd.DataFrame({"scheme": "A", "rep": 0, "iteration": [0, 1], "group": 2,
    ...                   "start": [0.0, 1.5], "end": [1.0, 3.0],
    ...                   "completion_time": [1.0, 1.5], "messages": [2, 2],
    ...                   "computations": [5, 4], "late_messages": [1, 0]})
    >>> training_totals(s)[["training_time", "late_messages", "wasted_computations"]]
       training_time  late_messages  wasted_computations
    0            3.0              1                    1
    """
    keys = [*RUN_KEYS, *by]
    work = summary.assign(_wasted=summary["computations"] - summary["messages"]
                          * summary["group"])
    runs = work.groupby(keys, sort=False)
    out = runs.agg(iterations=("iteration", "size"), training_time=("end", "max"),
                   mean_iteration_time=("completion_time", "mean"),
                   late_messages=("late_messages", "sum"),
                   wasted_computations=("_wasted", "sum")).reset_index()
    return out


def training_progress(summary: pd.DataFrame, quantiles: tuple[float, float] = (0.1, 0.9),
                      by: Sequence[str] = ()) -> pd.DataFrame:
    """Per scheme (and ``by``) and completed iteration count: the mean wall-clock time by
    which that many iterations were done (``end`` of the iteration), and its ``low`` and
    ``high`` quantiles over realizations."""
    keys = ["scheme", *by, "iteration"]
    runs = summary.groupby(keys, sort=False)["end"]
    out = runs.agg(time="mean").reset_index()
    out["low"] = runs.quantile(quantiles[0]).to_numpy()
    out["high"] = runs.quantile(quantiles[1]).to_numpy()
    out.insert(len(keys), "completed", out["iteration"] + 1)
    return out.drop(columns="iteration")


def plot_training_progress(summary: pd.DataFrame, title: str | None = None,
                           quantiles: tuple[float, float] = (0.1, 0.9)) -> Figure:
    """Completed iterations against wall-clock time, a line per scheme (the mean over
    realizations) with a band between two quantiles over realizations; the legend covers
    no line."""
    import matplotlib.pyplot as plt

    from pssim.analysis.plots import hue_palette, place_legend

    progress = training_progress(summary, quantiles)
    palette = hue_palette(progress["scheme"])
    fig, ax = plt.subplots(figsize=(7.0, 4.5))
    for scheme, part in progress.groupby("scheme", sort=False):
        ax.plot(part["time"], part["completed"], color=palette[scheme], label=str(scheme))
        ax.fill_betweenx(part["completed"], part["low"], part["high"],
                         color=palette[scheme], alpha=0.2, linewidth=0)
    ax.set_xlabel("wall-clock time (s)")
    ax.set_ylabel("completed iterations")
    if title:
        ax.set_title(title)
    ax.set_ylim(bottom=0)
    fig.tight_layout()
    low, high = (f"{100 * q:g}%" for q in quantiles)
    place_legend(ax, title=f"scheme (band: {low}–{high} of realizations)", fontsize=8)
    fig.tight_layout()
    return fig


def iteration_times(summary: pd.DataFrame) -> pd.DataFrame:
    """Quantiles (10%, 50%, 90%, 99%) and the mean of the iteration time T_t − S_t per
    scheme, over every realization and iteration."""
    grouped = summary.groupby("scheme", sort=False)["completion_time"]
    out = grouped.quantile(np.array([0.1, 0.5, 0.9, 0.99])).unstack()
    out.columns = [f"q{q:g}" for q in out.columns]
    out.insert(0, "mean", grouped.mean())
    return out.reset_index().astype({c: np.float64 for c in out.columns})
