"""Training for 100 iterations on the Fig. 2 cluster (N = 40, r = 4, mu = 10, alpha =
0.01) with 4 MB messages and models, 10 Gbps uplinks and downlink, 50 µs latency, while
the master's link sweeps the bottleneck range under the fifo network, with late work
cancelled or drained. How long training takes per scheme, how much of it the coupling of
iterations costs (late messages on the links, drained work; against the same iterations
each on empty links), and which scheme is fastest where."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from pssim.analysis.frames import best_by_group
from pssim.analysis.summary import summarize
from pssim.analysis.training import plot_training_progress, training_totals
from pssim.scenarios.common import GRADIENT_NETWORK, Output, Scenario, Study, bandwidths, register

POLICIES = ["cancel", "drain"]
BANDWIDTHS = bandwidths(8, 10, 5)
#: The same training under each network, at one bandwidth and for a few iterations (tcp
#: moves every segment: about a second per iteration of the six schemes at N = 40), with
#: late work cancelled; realizations per network.
NETWORKS = {"fifo": 4, "fair": 2, "tcp": 1}
COMPARE_BANDWIDTH = 1e9
COMPARE_ITERATIONS = 10
#: Realizations of the single-iteration points (the vectorized engine: cheap).
SINGLE_REPS = 5_000
KEYS = ["late_policy", "master_bandwidth", "scheme"]


def isolated(study: Study) -> pd.Series:
    """Per (bandwidth, scheme), the expected time of the same training run if iterations
    did not couple: each on links left empty and workers left idle by the one before.
    Iterations draw alike, so that is K times the mean single-iteration T (from the
    single-iteration points) plus K − 1 downlinks and decodes."""
    c = study.config
    single = study.data[study.data["iterations"] == 1]
    mean = single.groupby(["master_bandwidth", "scheme"], sort=False)["completion_time"].mean()
    downlink = ((c.model_size or c.message_size or 0.0) / c.downlink_bandwidth + c.latency
                + float(c.decode_time))
    return c.iterations * mean + (c.iterations - 1) * downlink


def report(study: Study, output: Output) -> pd.DataFrame:
    """training_time.csv (mean total time per policy, bandwidth and scheme, with 95%
    CIs), coupling_cost.csv (what the coupling of iterations costs: the time beyond the
    same iterations each on empty links and idle workers), fastest.csv, a figure of
    training time against the bandwidth per policy, and the progress of training at the
    slowest bandwidth."""
    from pssim.analysis.plots import plot_summary_vs

    c = study.config
    data = study.data
    compared = _compared(data, c.iterations)
    runs = data[(data["iterations"] > 1) & ~compared]
    totals = training_totals(runs, by=["late_policy", "master_bandwidth"])
    # summarize's interval of a mean, on the training time; "messages" is the run's late
    # messages, reported as mean_late_messages.
    table = summarize(totals.assign(completion_time=totals["training_time"],
                                    messages=totals["late_messages"]), by=KEYS)
    table = table.rename(columns={"mean_completion_time": "mean_training_time",
                                  "mean_messages": "mean_late_messages"})
    output.table(table, "training_time")
    free = isolated(study)
    table["without_coupling"] = [free.get((b, s), np.nan) for b, s in
                                  zip(table["master_bandwidth"], table["scheme"], strict=True)]
    table["coupling_cost"] = table["mean_training_time"] - table["without_coupling"]
    table["coupling_cost_share"] = table["coupling_cost"] / table["mean_training_time"]
    output.table(table[[*KEYS, "mean_training_time", "without_coupling", "coupling_cost",
                        "coupling_cost_share"]], "coupling_cost")
    fastest = best_by_group(table.rename(columns={"mean_training_time":
                                                  "mean_completion_time"}),
                            ["late_policy", "master_bandwidth"])
    output.table(fastest, "fastest")
    size = (c.message_size or math.nan) / 1e6
    for policy in POLICIES:
        part = table[table["late_policy"] == policy]
        fig = plot_summary_vs(output.shown(part), "master_bandwidth", "mean_training_time",
                              log_x=True, log_y=True,
                              ylabel=f"mean time of {c.iterations} iterations (s)",
                              title=f"Training time, {policy}, fifo\n(N = {c.workers}, r = "
                                    f"{c.load}, {size:g} MB, {c.reps} realizations)")
        output.figure(fig, f"training_time_{policy}", part)
    slowest = runs[(runs["master_bandwidth"] == runs["master_bandwidth"].min())
                   & (runs["late_policy"] == "cancel")]
    output.figure(plot_training_progress(slowest, title=(
        f"Training progress, cancel, B = {runs['master_bandwidth'].min():g} bytes/s")),
        "progress", slowest[["scheme", "rep", "iteration", "end"]])
    networks = network_table(data[compared])
    output.table(networks, "networks")
    output.text(finding(table) + " " + network_finding(networks) + "\n", "finding.txt")
    timeline(study, output)
    return table


def _compared(data: pd.DataFrame, iterations: int) -> pd.Series:
    """The rows of the network comparison's points (none when a user's ``iterations`` is
    the comparison's: its points are then the base's own)."""
    return ((data["iterations"] == COMPARE_ITERATIONS) & (data["iterations"] != iterations)
            & (data["late_policy"] == "cancel")
            & (data["master_bandwidth"] == COMPARE_BANDWIDTH)
            & data["network"].isin(list(NETWORKS)))


def network_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean training time per network and scheme, and each network's fastest scheme."""
    totals = training_totals(runs, by=["network"])
    table = totals.groupby(["network", "scheme"], sort=False).agg(
        n=("training_time", "size"), mean_training_time=("training_time", "mean"),
        mean_late_messages=("late_messages", "mean")).reset_index()
    table["rank"] = table.groupby("network")["mean_training_time"].rank(method="first")
    return table.sort_values(["network", "rank"], kind="mergesort").reset_index(drop=True)


def network_finding(table: pd.DataFrame) -> str:
    """Which scheme trains fastest under each network, and whether they agree."""
    if table.empty:
        return ""
    best = table[table["rank"] == 1].set_index("network")["scheme"]
    at = ", ".join(f"{net} {best[net]}" for net in NETWORKS if net in best.index)
    agree = "the networks agree" if best.nunique() == 1 else "the networks disagree"
    return (f"Training {COMPARE_ITERATIONS} iterations at B = {COMPARE_BANDWIDTH:.3g} B/s "
            f"(cancel), the fastest scheme is: {at}; {agree}.")


#: The scheme, bandwidth (bytes/s) and iterations of the timeline figure, of realization 0.
TIMELINE_SCHEME, TIMELINE_BANDWIDTH, TIMELINE_ITERATIONS = "LCC-MMC-2", 1e9, 4


def timeline(study: Study, output: Output) -> None:
    """A few iterations of one realization as a Gantt chart, with the end of each
    iteration marked: where late messages hold the master's link into the next."""
    from pssim.analysis.frames import computations, transmissions
    from pssim.analysis.plots import plot_timeline
    from pssim.api import simulate

    c = study.config.replace(scheme=(TIMELINE_SCHEME,), reps=1,
                             iterations=TIMELINE_ITERATIONS, late_policy="cancel",
                             master_bandwidth=TIMELINE_BANDWIDTH, engine="des")
    one = simulate(c, trace=True).trace
    assert one is not None  # asked for with trace=True
    fig = plot_timeline(one, TIMELINE_SCHEME, 0, workers=c.workers)
    bars = pd.concat([computations(one).assign(kind="computation"),
                      transmissions(one).assign(kind="transmission")], ignore_index=True)
    output.figure(fig, "timeline_iterations", bars)


def finding(swept: pd.DataFrame) -> str:
    """Per policy: the fastest scheme at the slowest and fastest bandwidth, and the
    largest share of training time that the coupling of iterations costs."""
    parts = []
    for policy, part in swept.groupby("late_policy", sort=False):
        ends = part[part["master_bandwidth"].isin([part["master_bandwidth"].min(),
                                                  part["master_bandwidth"].max()])]
        best = ends.loc[ends.groupby("master_bandwidth")["mean_training_time"].idxmin()]
        at = "; ".join(f"{row.scheme} at B = {row.master_bandwidth:.3g} B/s "
                       f"({row.mean_training_time:.3g} s)" for row in best.itertuples())
        worst = part.iloc[int(np.argmax(part["coupling_cost_share"].to_numpy()))]
        parts.append(f"Under {policy}, fastest: {at}. The coupling of iterations (late "
                     "messages still on the links; under drain, work finished late too) "
                     f"costs up to {100 * worst['coupling_cost_share']:.0f}% of the training "
                     f"time ({worst['scheme']} at B = {worst['master_bandwidth']:.3g} B/s).")
    return " ".join(parts)


def extra_points() -> tuple[dict[str, Any], ...]:
    """Single iterations at each bandwidth (what an iteration takes on empty links), and
    the network comparison's points."""
    return (*({"iterations": 1, "late_policy": "cancel", "master_bandwidth": b}
              for b in BANDWIDTHS),
            *({"network": net, "iterations": COMPARE_ITERATIONS, "late_policy": "cancel",
               "master_bandwidth": COMPARE_BANDWIDTH} for net in NETWORKS))


SCENARIO = register(Scenario(
    name="training",
    description="Time of 100 training iterations vs the master's bandwidth (1e8–1e10 B/s) "
                "at N = 40, r = 4, 4 MB messages and models, fifo, cancel and drain: what "
                "the coupling of iterations costs and which scheme is fastest",
    default_reps=12,
    base={"scheme": ["all"], "workers": 40, "load": 4, "mu": 10.0, "alpha": 0.01,
          "pg_tolerance": 0.05, "network": "fifo", **GRADIENT_NETWORK, "iterations": 100,
          "model_size": 4e6, "downlink_bandwidth": 1.25e9},
    factors={"late_policy": POLICIES, "master_bandwidth": BANDWIDTHS},
    # Single iterations at each bandwidth: what an iteration takes on empty links.
    extra_points=extra_points(),
    point_reps=lambda point, reps: (SINGLE_REPS if point.iterations == 1 else
                                    min(reps, NETWORKS[point.network])
                                    if point.iterations == COMPARE_ITERATIONS else reps),
    chunk_size=200,  # realization-iterations: 2 realizations of 100 iterations a chunk
    # tcp's one realization takes minutes on the SimPy engine: a point per scheme lets
    # both processes share it.
    split_schemes=lambda point: point.network == "tcp",
    report=report,
))
