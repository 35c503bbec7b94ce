"""Loss against wall-clock time in training runs with real numbers (docs/model.md, "Coded
gradient descent"). The summary has a row per (scheme, realization, iteration) with
``end`` (T_t), ``loss`` (f after iteration t's update), ``gradient_error`` and
``condition_number``; these helpers take it as it is. Under a server policy the rows are
updates (column ``update`` in place of ``iteration``; docs/model.md, "Server policies"),
which the helpers count alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def counter(summary: pd.DataFrame) -> str:
    """The column that counts a run's steps: ``update`` under a server policy, else
    ``iteration``."""
    return "update" if "update" in summary.columns else "iteration"


def reaching(summary: pd.DataFrame, target: float, by: Sequence[str] = ()) -> pd.DataFrame:
    """Per run (scheme, ``by``, rep): ``iterations_to_target``, the first number of
    iterations after which the loss is at or below ``target``, and ``time_to_target``, the
    end of that iteration (seconds); NaN for a run that never gets there.

    >>> s = pd.DataFrame({"scheme": "A", "rep": 0, "iteration": [0, 1, 2],
    ...                   "end": [1.0, 2.0, 3.0], "loss": [5.0, 1.0, 0.5]})
    >>> reaching(s, 1.0)[["iterations_to_target", "time_to_target"]]
       iterations_to_target  time_to_target
    0                   2.0             2.0
    """
    keys = ["scheme", *by, "rep"]
    step = counter(summary)
    hit = summary[summary["loss"] <= target]
    first = hit.groupby(keys, sort=False)[[step, "end"]].min()
    runs = summary.groupby(keys, sort=False).size().rename("iterations").to_frame()
    out = runs.join(first).reset_index()
    out["iterations_to_target"] = out[step] + 1.0
    return out.rename(columns={"end": "time_to_target"}).drop(columns=[step, "iterations"])


def convergence_table(summary: pd.DataFrame, target: float, by: Sequence[str] = (),
                      spread: tuple[float, float] | None = None) -> pd.DataFrame:
    """Per scheme (and ``by``): the share of runs that reach ``target``, the median time
    and iterations to reach it (over the runs that do), the median final loss, the median
    and worst gradient error and the worst condition number (and the median and worst
    quantization error, where the summary has one). With ``spread`` (two
    quantiles, say (0.1, 0.9)), also ``low_time_to_target`` and ``high_time_to_target``,
    those quantiles of the time over the runs that reach the target."""
    keys = ["scheme", *by]
    reached = reaching(summary, target, by)
    step = counter(summary)
    # Each run's last row: runs may differ in length.
    last = summary.loc[summary.groupby([*keys, "rep"], sort=False)[step].idxmax()]
    runs = summary.groupby(keys, sort=False)
    out = reached.groupby(keys, sort=False).agg(
        reps=("rep", "size"), reached=("time_to_target", lambda v: v.notna().mean()),
        median_time_to_target=("time_to_target", "median"),
        median_iterations_to_target=("iterations_to_target", "median"))
    out["median_final_loss"] = last.groupby(keys, sort=False)["loss"].median()
    out["median_gradient_error"] = runs["gradient_error"].median()
    out["worst_gradient_error"] = runs["gradient_error"].max()
    out["worst_condition_number"] = runs["condition_number"].max()
    if "quantization_error" in summary.columns:
        out["median_quantization_error"] = runs["quantization_error"].median()
        out["worst_quantization_error"] = runs["quantization_error"].max()
    if spread is not None:
        times = reached.groupby(keys, sort=False)["time_to_target"]
        out["low_time_to_target"] = times.quantile(spread[0])
        out["high_time_to_target"] = times.quantile(spread[1])
    return out.reset_index()


def loss_curves(summary: pd.DataFrame, initial_loss: float, points: int = 200,
                quantiles: tuple[float, float] = (0.1, 0.9), by: Sequence[str] = (),
                log: bool = False) -> pd.DataFrame:
    """Per scheme (and ``by``), the loss against wall-clock time on a grid of ``points``
    instants from 0 to the latest end (with ``log``, log-spaced from the earliest end, for
    runs whose durations differ by orders of magnitude): each run's loss at time τ is the
    loss after the last iteration it completed by τ (``initial_loss`` before the first);
    the ``median`` and the ``low`` and ``high`` quantiles over runs."""
    keys = ["scheme", *by]
    latest = float(summary["end"].max())
    grid = (np.geomspace(float(summary["end"].min()), latest, points) if log
            else np.linspace(0.0, latest, points))
    parts = []
    for key, part in summary.groupby(keys, sort=False):
        ordered = part.sort_values(["rep", counter(summary)])
        reps = ordered["rep"].nunique()
        ends = ordered["end"].to_numpy().reshape(reps, -1)
        losses = ordered["loss"].to_numpy().reshape(reps, -1)
        done = np.stack([np.searchsorted(e, grid, side="right") for e in ends])
        padded = np.hstack([np.full((reps, 1), initial_loss), losses])
        at = np.take_along_axis(padded, done, axis=1)
        frame = pd.DataFrame({"time": grid, "median": np.median(at, axis=0),
                              "low": np.quantile(at, quantiles[0], axis=0),
                              "high": np.quantile(at, quantiles[1], axis=0)})
        values: tuple[Any, ...] = key if isinstance(key, tuple) else (key,)
        for name, value in zip(keys, values, strict=True):
            frame[name] = value
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)[[*keys, "time", "median", "low", "high"]]


def rising(curves: pd.DataFrame, target: float) -> list[str]:
    """The schemes whose median loss (:func:`loss_curves`) comes down to ``target`` and
    ends above it again: their iterates leave the optimum, which a figure should say.

    >>> c = pd.DataFrame({"scheme": ["A"] * 3 + ["B"] * 3, "time": [0.0, 1.0, 2.0] * 2,
    ...                   "median": [5.0, 1.0, 3.0, 5.0, 1.0, 1.0]})
    >>> rising(c, 2.0)
    ['A']
    """
    out = []
    for scheme, part in curves.groupby("scheme", sort=False):
        median = part.sort_values("time", kind="mergesort")["median"].to_numpy()
        if len(median) and median.min() <= target < median[-1]:
            out.append(str(scheme))
    return out


def plot_loss_curves(curves: pd.DataFrame, optimal_loss: float, title: str | None = None,
                     quantiles: tuple[float, float] = (0.1, 0.9), note: str | None = None,
                     log: bool = False) -> Figure:
    """The excess loss f − f* against wall-clock time (log scale, floored at the loss's
    precision, ε·|f*|), a line per scheme (the median over realizations) and a band
    between two quantiles, on an x axis that ends where the curves do; ``note`` is printed
    under the axes (why a scheme's loss rises, say); ``log`` draws time on a log axis. The
    legend covers no curve."""
    import textwrap

    import matplotlib.pyplot as plt

    from pssim.analysis.plots import hue_palette, place_legend

    palette = hue_palette(curves["scheme"])
    fig, ax = plt.subplots(figsize=(7.0, 4.5))
    # The excess reaches exactly 0 when the iterates round to the optimum: shown at the
    # loss's own precision instead, which a log axis can draw.
    floor = np.finfo(float).eps * max(abs(optimal_loss), np.finfo(float).tiny)
    for scheme, part in curves.groupby("scheme", sort=False):
        ax.plot(part["time"], (part["median"] - optimal_loss).clip(lower=floor),
                color=palette[scheme], label=str(scheme), drawstyle="steps-post")
        ax.fill_between(part["time"], (part["low"] - optimal_loss).clip(lower=floor),
                        (part["high"] - optimal_loss).clip(lower=floor),
                        color=palette[scheme], alpha=0.2, linewidth=0, step="post")
    ax.set_yscale("log")
    if log:
        ax.set_xscale("log")
    ax.set_xlim(float(curves["time"].min()), float(curves["time"].max()))
    ax.set_xlabel("wall-clock time (s)")
    ax.set_ylabel("excess loss f(w) − f(w*)")
    if title:
        ax.set_title(title)
    caption = textwrap.fill(note, 110) if note else ""
    # The axes leave the bottom of the figure to the caption, a line of 8 points each.
    room = (0.0, 0.045 * (caption.count("\n") + 1), 1.0, 1.0) if caption else None
    if caption:
        fig.text(0.01, 0.01, caption, fontsize=8, va="bottom", ha="left")
    fig.tight_layout(rect=room)
    low, high = (f"{100 * q:g}%" for q in quantiles)
    place_legend(ax, title=f"scheme (median; band {low}–{high})", fontsize=8)
    fig.tight_layout(rect=room)
    return fig
