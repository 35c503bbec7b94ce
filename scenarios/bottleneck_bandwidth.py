"""The master's link as the bottleneck: the Fig. 2 cluster (N = 40, r = 4, mu = 10,
alpha = 0.01) with a realistic gradient (10^6 float32 parameters, 4 MB per message),
10 Gbps uplinks and 50 µs latency, while the master's bandwidth sweeps four decades, under
the fifo, the fair and the tcp network. Which scheme is fastest changes with the
bandwidth: schemes that send many messages (UC-MMC-PG) win when the link is fast and lose
to those that send fewer (LCC-MMC-2, then LCC) as it slows; and where the disciplines
disagree on the winner, the study says so.

tcp, on the SimPy engine alone, runs one realization per point (``TCP_REPS``): enough
where the link decides the ranking (the schemes' times part by their message counts), not
where it does not, which two realizations did not settle either."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from pssim.analysis.frames import best_by_group
from pssim.analysis.summary import summarize
from pssim.config import Config
from pssim.scenarios.common import (
    GRADIENT_NETWORK,
    ITERATION_COLUMNS,
    Output,
    Scenario,
    Study,
    bandwidths,
    register,
)

#: The swept networks; network none (B → ∞) is drawn beside them as a reference.
NETWORKS = ["fifo", "fair", "tcp"]
REFERENCE = "none"
#: The fair network gets a fraction of the realizations: its vectorized recursion costs
#: about 50 µs per realization and scheme at N = 40 on a busy link, against a few µs for
#: fifo (the fraction predates it, and keeps the study's published numbers).
FAIR_FRACTION = 20
FAIR_MIN_REPS = 200
#: The tcp network moves every segment (2,897 of a 4 MB message) on the SimPy engine:
#: about 10 s per realization of the six schemes at N = 40, so one realization per point.
#: Its curves are resolved where the link decides (below about 1e9 B/s, where the schemes'
#: times part by their messages, 19 to 90 of them), not above, where two realizations were
#: not either (a Student-t interval on one degree of freedom is 12.7 standard errors wide).
TCP_REPS = 1
SUMMARY_KEYS = ["network", "master_bandwidth", "scheme"]


def reps_per_network(reps: int) -> dict[str, int]:
    fair = min(reps, max(FAIR_MIN_REPS, reps // FAIR_FRACTION))
    return {"fifo": reps, "fair": fair, "tcp": min(reps, TCP_REPS), REFERENCE: reps}


def point_reps(point: Config, reps: int) -> int:
    return reps_per_network(reps)[point.network]


def load_at_the_ends(data: pd.DataFrame) -> pd.DataFrame:
    """Mean messages received by T and transmissions begun by T, per scheme, at the
    slowest and the fastest bandwidth of each swept network: under a bottleneck the two
    part (docs/model.md, "Metrics")."""
    swept = data[data["network"].isin(NETWORKS)]
    bandwidth = swept.groupby("network")["master_bandwidth"]
    at_an_end = ((swept["master_bandwidth"] == bandwidth.transform("min"))
                 | (swept["master_bandwidth"] == bandwidth.transform("max")))
    keep = swept[at_an_end]
    table = keep.groupby(["network", "master_bandwidth", "scheme"], sort=False)[
        ["messages", "messages_sent"]].mean().reset_index()
    return table.rename(columns={"messages": "mean_messages",
                                 "messages_sent": "mean_messages_sent"})


def ranking(summary: pd.DataFrame) -> pd.DataFrame:
    """Per (network, bandwidth) the schemes from fastest to slowest mean T, rank 1 first."""
    cols = [*SUMMARY_KEYS, "n", "mean_completion_time", "ci_low", "ci_high", "mean_messages",
            "mean_bytes"]
    out = summary[cols].sort_values(["network", "master_bandwidth", "mean_completion_time"],
                                    kind="mergesort")
    out.insert(2, "rank", out.groupby(["network", "master_bandwidth"]).cumcount() + 1)
    return out.reset_index(drop=True)


def ranking_changes(summary: pd.DataFrame) -> pd.DataFrame:
    """Each pair of consecutive bandwidths of a network between which the fastest scheme
    changes, with both winners, their mean messages, and each winner's margin over its
    runner-up (relative to the runner-up's mean T) as a gauge of how settled it is."""
    swept = summary[np.isfinite(summary["master_bandwidth"])]
    best = best_by_group(swept, ["network", "master_bandwidth"])
    messages = swept.set_index(["network", "master_bandwidth", "scheme"])["mean_messages"]
    rows = []
    for net in swept["network"].unique():
        part = best[best["network"] == net].sort_values("master_bandwidth")
        for (_, a), (_, b) in zip(part.iterrows(), part.iloc[1:].iterrows(), strict=False):
            if a["best"] == b["best"]:
                continue
            rows.append({
                "network": net, "from_bandwidth": a["master_bandwidth"],
                "to_bandwidth": b["master_bandwidth"], "fastest_before": a["best"],
                "fastest_after": b["best"],
                "messages_before": messages[(net, a["master_bandwidth"], a["best"])],
                "messages_after": messages[(net, b["master_bandwidth"], b["best"])],
                "relative_margin_before": a["relative_margin"],
                "relative_margin_after": b["relative_margin"]})
    columns = ["network", "from_bandwidth", "to_bandwidth", "fastest_before", "fastest_after",
               "messages_before", "messages_after", "relative_margin_before",
               "relative_margin_after"]
    return pd.DataFrame(rows, columns=columns)


def fastest_by_network(summary: pd.DataFrame) -> pd.DataFrame:
    """Per swept bandwidth, the fastest scheme under each network, and whether they
    differ: where the answer depends on how the link is modelled."""
    swept = summary[np.isfinite(summary["master_bandwidth"])]
    best = best_by_group(swept, ["network", "master_bandwidth"])
    table = best.pivot(index="master_bandwidth", columns="network", values="best")
    table = table[[n for n in NETWORKS if n in table.columns]]
    table["differ"] = table.nunique(axis=1) > 1
    return table.reset_index()


def _bandwidth(b: float) -> str:
    """1e7 → "1e7", 3.16e8 → "3.16e8": short enough for a sentence."""
    exponent = math.floor(math.log10(b))
    return f"{b / 10**exponent:.3g}e{exponent}"


def finding(summary: pd.DataFrame) -> str:
    """One or two sentences per network: the fastest scheme at the slowest bandwidth, and
    between which bandwidths (bytes/s) it gives way to which scheme."""
    swept = summary[np.isfinite(summary["master_bandwidth"])]
    best = best_by_group(swept, ["network", "master_bandwidth"])
    messages = swept.set_index(["network", "master_bandwidth", "scheme"])["mean_messages"]
    changes = ranking_changes(summary)
    sentences = []
    for net in swept["network"].unique():
        part = best[best["network"] == net].sort_values("master_bandwidth")
        first = part.iloc[0]
        lowest = float(first["master_bandwidth"])
        highest = float(part["master_bandwidth"].iloc[-1])
        start = (f"Under {net}, {first['best']} "
                 f"({messages[(net, lowest, first['best'])]:.3g} messages) is fastest at "
                 f"B = {_bandwidth(lowest)} B/s")
        steps = changes[changes["network"] == net]
        if steps.empty:
            sentences.append(f"{start} and stays fastest up to {_bandwidth(highest)} B/s.")
            continue
        moves = [f"to {s['fastest_after']} ({s['messages_after']:.3g} messages) between "
                 f"{_bandwidth(float(s['from_bandwidth']))} and "
                 f"{_bandwidth(float(s['to_bandwidth']))} B/s"
                 for _, s in steps.iterrows()]
        sentences.append(f"{start}; the lead passes " + ", then ".join(moves) + ".")
    differ = fastest_by_network(summary)
    differ = differ[differ["differ"]]
    if not differ.empty:
        nets = [n for n in NETWORKS if n in differ.columns]
        at = "; ".join(f"B = {_bandwidth(float(row['master_bandwidth']))} B/s: "
                       + ", ".join(f"{n} {row[n]}" for n in nets)
                       for _, row in differ.iterrows())
        sentences.append(f"The fastest scheme depends on the network at {at}.")
    elif len(swept["network"].unique()) > 1:
        sentences.append("The networks agree on the fastest scheme at every bandwidth.")
    return " ".join(sentences)


def report(study: Study, output: Output) -> pd.DataFrame:
    """summary.csv, ranking.csv, ranking_changes.csv, finding.txt and, per network, the
    mean T and the communication load against the bandwidth."""
    c = study.config
    counts = reps_per_network(c.reps)
    summary = summarize(study.data, by=SUMMARY_KEYS)
    output.table(summary, "summary")
    output.table(ranking(summary), "ranking")
    output.table(ranking_changes(summary), "ranking_changes")
    output.text(finding(summary) + "\n", "finding.txt")
    output.table(load_at_the_ends(study.data), "load")
    output.table(fastest_by_network(summary), "fastest_by_network")
    size = (c.message_size or math.nan) / 1e6
    reference = summary[summary["network"] == REFERENCE]
    for net in NETWORKS:
        part = summary[summary["network"] == net]
        setting = (f"N = {c.workers}, r = {c.load}, {size:g} MB, {counts[net]} "
                   f"realization{'s' if counts[net] != 1 else ''} per point")
        numbers = pd.concat([part, reference], ignore_index=True)
        part = output.shown(part)
        output.figure(_plot(part, reference, "mean_completion_time",
                            "mean completion time E[T] (s)", log_y=True,
                            title=f"Mean completion time, {net} network\n({setting})"),
                      f"completion_time_{net}", numbers)
        output.figure(_plot(part, reference, "mean_messages",
                            f"mean messages received by T ({size:g} MB each)", log_y=False,
                            title=f"Communication load, {net} network\n({setting})"),
                      f"communication_load_{net}", numbers)
    return summary


def _plot(table: pd.DataFrame, reference: pd.DataFrame, y: str, ylabel: str, log_y: bool,
          title: str) -> Any:
    from pssim.analysis.plots import plot_summary_vs

    # One realization a point has no interval: no band, nor a legend entry for one.
    band = y == "mean_completion_time" and bool(table["ci_low"].notna().any())
    return plot_summary_vs(
        table, "master_bandwidth", y, band=band, log_x=True,
        log_y=log_y, ylabel=ylabel, title=title,
        reference=reference.groupby("scheme", sort=False)[y].first().astype(float).to_dict(),
        reference_label="network none (B → ∞)")


#: The swept bandwidths (half decades). fifo and fair run at each as a factor; tcp too, as
#: points of its own, so that a study can give it fewer.
BANDWIDTHS = bandwidths(7, 11, 9)
#: tcp's: up to 1e10 B/s, beyond which the link no longer decides the ranking.
TCP_BANDWIDTHS = BANDWIDTHS[:7]


def scenario(tcp_bandwidths: list[float] = TCP_BANDWIDTHS) -> Scenario:
    """The study, with tcp at ``tcp_bandwidths`` (each costs about 10 s of tcp's
    segments per realization of the six schemes)."""
    return Scenario(
        name="bottleneck_bandwidth",
        description="Mean T and communication load vs the master's bandwidth (1e7–1e11 "
                    "B/s) at N = 40, r = 4, 4 MB messages, fifo, fair and tcp networks: "
                    "where the fastest scheme changes, and where the networks disagree",
        default_reps=20_000,
        # All the paper's schemes that can run at the load, which a user may change.
        base={"scheme": ["all"], "workers": 40, "load": 4, "mu": 10.0, "alpha": 0.01,
              "pg_tolerance": 0.05, **GRADIENT_NETWORK},
        factors={"network": [n for n in NETWORKS if n != "tcp"],
                 "master_bandwidth": BANDWIDTHS},
        # Without links, bandwidths and latency have no effect: the reference point leaves
        # them out, whatever the base (or a user's override) gives the swept points.
        extra_points=(*({"network": "tcp", "master_bandwidth": b} for b in tcp_bandwidths),
                      {"network": REFERENCE, "master_bandwidth": math.inf,
                       "uplink_bandwidth": math.inf, "latency": 0.0}),
        point_reps=point_reps,
        chunk_size=500,
        # tcp's realizations take seconds each on the SimPy engine: a point per scheme
        # lets both processes share them.
        split_schemes=lambda point: point.network == "tcp",
        settings=lambda config: {"reps_per_network": reps_per_network(config.reps)},
        columns=ITERATION_COLUMNS,
        report=report,
    )


SCENARIO = register(scenario())
