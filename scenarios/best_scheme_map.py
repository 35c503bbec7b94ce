"""Which scheme to use: the fastest scheme in mean completion time over the load r (2 to
10) and the master's bandwidth (1e7 to 1e10 bytes/s) at N = 40 (mu = 10, alpha = 0.01),
fifo network, 4 MB messages, 10 Gbps uplinks, 50 µs latency; and the trade-off between
mean completion time and communication load over the paper's six schemes and every
LCC(p) with p dividing r, with its Pareto-optimal schemes."""

from __future__ import annotations

from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from pssim.analysis.frames import best_by_group, pareto_frontier
from pssim.analysis.summary import summarize
from pssim.api import run as run_config
from pssim.scenarios.common import GRADIENT_NETWORK, Output, bandwidths
from pssim.schemes import PAPER_SCHEMES, feasible

DESCRIPTION = "Fastest scheme per (load r, master bandwidth) under fifo with 4 MB messages, " \
              "and the completion time / communication load frontier with LCC(p)"
DEFAULT_REPS = 20_000
CONFIG: dict[str, Any] = {
    "workers": 40, "loads": list(range(2, 11)), "mu": 10.0, "alpha": 0.01,
    "schemes": list(PAPER_SCHEMES), "lcc_family": "LCC(p) for every p dividing r",
    "pg_tolerance": 0.05, "network": "fifo", **GRADIENT_NETWORK,
    "master_bandwidths": bandwidths(7, 10, 7),  # half-decade steps
    "frontier_load": 8, "frontier_bandwidth": 1e9,
}
KEEP = ["scheme", "load", "master_bandwidth", "rep", "completion_time", "messages",
        "messages_sent", "computations", "bytes"]
SUMMARY_KEYS = ["load", "master_bandwidth", "scheme"]


def schemes_at(workers: int, load: int) -> list[str]:
    """The feasible paper schemes and LCC(p) for each p dividing r. p = 1, 2 and r are
    LCC-MMC, LCC-MMC-2 and LCC under other names, so they are not repeated."""
    candidates = [*CONFIG["schemes"], *(f"LCC({p})" for p in range(3, load)
                                         if load % p == 0)]
    names = [name for name in candidates if feasible(name, workers, load)]
    return names


def simulate_grid(reps: int, seed: int, progress: bool = False) -> pd.DataFrame:
    """Realizations of every scheme at every (r, bandwidth), on common random numbers per
    r (draws depend only on seed, rep, N and r)."""
    c = CONFIG
    points = [(r, b) for r in c["loads"] for b in c["master_bandwidths"]]
    frames = []
    for r, b in tqdm(points, disable=not progress, desc="(r, bandwidth)", unit="point"):
        s = run_config(schemes_at(c["workers"], r), c["workers"], r, mu=c["mu"],
                       alpha=c["alpha"], pg_tolerance=c["pg_tolerance"], network=c["network"],
                       message_size=c["message_size"], master_bandwidth=b,
                       uplink_bandwidth=c["uplink_bandwidth"], latency=c["latency"],
                       reps=reps, seed=seed)
        frames.append(s[KEEP])
    data = pd.concat(frames, ignore_index=True)
    # A handful of names over millions of rows.
    data["scheme"] = data["scheme"].astype("category")
    return data


def run(reps: int, seed: int, output: Output, progress: bool = False) -> pd.DataFrame:
    """Write the realizations, summary.csv, the best-scheme heatmaps (best.png/.csv over the
    paper's schemes, best_lcc_family.png/.csv with LCC(p) too), frontier.csv (Pareto flags
    per (r, bandwidth)) and the frontier figure at one (r, bandwidth)."""
    from pssim.analysis.plots import plot_best_heatmap, plot_frontier

    c = CONFIG
    output.config({**c, "reps": reps, "seed": seed, "engine": "auto"})
    data = simulate_grid(reps, seed, progress)
    output.data(data, "realizations")
    data["scheme"] = data["scheme"].astype(str)
    summary = summarize(data, by=SUMMARY_KEYS)
    summary.insert(3, "paper_scheme", summary["scheme"].isin(c["schemes"]))
    output.table(summary, "summary")

    setting = f"fifo, N = {c['workers']}, {c['message_size'] / 1e6:g} MB, {reps} realizations"
    by = ["master_bandwidth", "load"]
    best = best_by_group(summary[summary["paper_scheme"]], by)
    output.figure(plot_best_heatmap(best, x="master_bandwidth", y="load", title=(
        f"Fastest of the paper's schemes ({setting})\nmargin: mean T of the runner-up over "
        "the winner's, relative to the runner-up's")), "best", best)
    family = best_by_group(summary, by)
    output.figure(plot_best_heatmap(family, x="master_bandwidth", y="load", title=(
        f"Fastest scheme including LCC(p), p dividing r ({setting})\nmargin: relative to "
        "the runner-up's mean T")), "best_lcc_family", family)

    frontier = pareto_frontier(summary, by=["load", "master_bandwidth"])
    output.table(frontier, "frontier")
    r, b = c["frontier_load"], c["frontier_bandwidth"]
    point = frontier[(frontier["load"] == r) & (frontier["master_bandwidth"] == b)]
    output.figure(plot_frontier(point, title=(
        f"Completion time against communication load, r = {r}, B = {b:g} bytes/s\n"
        f"({setting})")), f"frontier_r{r}", point)
    return best

