"""Which scheme to use: the fastest scheme in mean completion time over the load r (2 to
10) and the master's bandwidth (1e7 to 1e10 bytes/s) at N = 40 (mu = 10, alpha = 0.01),
fifo network, 4 MB messages, 10 Gbps uplinks, 50 µs latency; and the trade-off between
mean completion time and communication load over the paper's six schemes and every
LCC(p) with p dividing r, with its Pareto-optimal schemes.

10,000 realizations per point: against 20,000, every cell of the heatmaps has the same
winner and the same verdict (win or tie) but two, where the best two schemes lie within
0.4% of each other (LCC-MMC and UC-MMC-PG at B = 1e10 B/s, r = 9 and 10): a tie at both
sizes changes its named winner, and a win by 0.36% becomes a tie (docs/performance.md,
"make run")."""

from __future__ import annotations

import pandas as pd

from pssim.analysis.frames import (
    SAME,
    best_by_group,
    merge_identical,
    paired_margin,
    pareto_frontier,
)
from pssim.analysis.summary import ci_method, summarize
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
from pssim.schemes import PAPER_SCHEMES, feasible

SUMMARY_KEYS = ["load", "master_bandwidth", "scheme"]
#: The (r, bandwidth) whose time–load frontier is drawn.
FRONTIER_LOAD, FRONTIER_BANDWIDTH = 8, 1e9
#: The confidence of the paired test that tells a win from a tie.
CONFIDENCE = 0.95
#: What a hatched cell of the heatmaps means.
TIE_LABEL = ("hatched: tie, the best is not significantly faster than the runner-up "
             f"(paired on the same realizations, {100 * CONFIDENCE:g}% Student-t interval of "
             "the mean difference in T contains 0)")
#: What the results of schemes must share to be one scheme at a cell, and what a cell
#: named "GC = LCC" means.
SAME_COLUMNS = ("completion_time", "messages", "messages_sent")
SAME_LABEL = (f"A{SAME}B: one scheme under several names at this (r, B): the same T and "
              "messages in every realization")


def schemes_at(config: Config) -> list[str]:
    """The feasible paper schemes and LCC(p) for each p dividing r. p = 1, 2 and r are
    LCC-MMC, LCC-MMC-2 and LCC under other names, so they are not repeated."""
    n, r = config.workers, config.load
    candidates = [*PAPER_SCHEMES, *(f"LCC({p})" for p in range(3, r) if r % p == 0)]
    return [name for name in candidates if feasible(name, n, r)]


def report(study: Study, output: Output) -> pd.DataFrame:
    """summary.csv, the best-scheme heatmaps (best.png/.csv over the paper's schemes,
    best_lcc_family.png/.csv with LCC(p) too) with their paired tests (best_paired.csv,
    best_lcc_family_paired.csv: cells whose winner is not significantly faster than the
    runner-up are hatched as ties; schemes that are one at a cell are named together, "GC
    = LCC = LCC-MMC-2", and ranked as one), frontier.csv (Pareto flags per (r, bandwidth)) and the
    frontier figure at one (r, bandwidth)."""
    from pssim.analysis.plots import plot_best_heatmap, plot_frontier

    c = study.config
    summary = summarize(study.data, by=SUMMARY_KEYS)
    summary.insert(3, "paper_scheme", summary["scheme"].isin(PAPER_SCHEMES))
    # No ci_method column: summary.csv keeps the columns its readers know, and config.json
    # states the interval's method instead.
    output.table(summary, "summary")

    size = (c.message_size or float("nan")) / 1e6
    setting = f"fifo, N = {c.workers}, {size:g} MB, {c.reps} realizations"
    by = ["master_bandwidth", "load"]
    paper = study.data[study.data["scheme"].isin(PAPER_SCHEMES)]
    tables = {}
    for rows, name, heading in (
            (paper, "best", "Fastest of the paper's schemes"),
            (study.data, "best_lcc_family", "Fastest scheme including LCC(p), p dividing r")):
        # Schemes that are one at a cell (GC, LCC and LCC-MMC-2 at r = 2) are ranked as
        # the one scheme they are, so that the runner-up is a scheme that differs.
        one = merge_identical(rows, SUMMARY_KEYS[:2], columns=SAME_COLUMNS)
        table = best_by_group(summarize(one, by=SUMMARY_KEYS), by)
        # Both rank the same means with the same order among equals, so their best and
        # runner-up agree cell by cell.
        paired = paired_margin(one, by, confidence=CONFIDENCE)
        output.table(paired, f"{name}_paired")
        marked = table.merge(paired[[*by, "significant"]], on=by, how="left")
        output.figure(plot_best_heatmap(
            output.shown(marked), x="master_bandwidth", y="load", significant="significant",
            tie_label=TIE_LABEL, same_label=SAME_LABEL, title=(
                f"{heading} ({setting})\nmargin: mean T of the runner-up over the "
                "winner's, relative to the runner-up's")), name, table)
        tables[name] = table

    frontier = pareto_frontier(summary, by=["load", "master_bandwidth"])
    output.table(frontier, "frontier")
    r, b = FRONTIER_LOAD, FRONTIER_BANDWIDTH
    point = frontier[(frontier["load"] == r) & (frontier["master_bandwidth"] == b)]
    shown = output.shown(pd.DataFrame({"master_bandwidth": [b]}))
    unit = shown.attrs.get("units", {}).get("master_bandwidth", "bytes/s")
    output.figure(plot_frontier(point, title=(
        f"Completion time against communication load, r = {r}, "
        f"B = {shown['master_bandwidth'].iloc[0]:g} {unit}\n({setting})")),
        f"frontier_r{r}", point)
    return tables["best"]


SCENARIO = register(Scenario(
    name="best_scheme_map",
    description="Fastest scheme per (load r, master bandwidth) under fifo with 4 MB "
                "messages, and the completion time / communication load frontier with LCC(p)",
    default_reps=10_000,
    base={"scheme": list(PAPER_SCHEMES), "workers": 40, "mu": 10.0, "alpha": 0.01,
          "pg_tolerance": 0.05, "network": "fifo", **GRADIENT_NETWORK},
    factors={"load": list(range(2, 11)),
             "master_bandwidth": bandwidths(7, 10, 7)},  # half-decade steps
    schemes=schemes_at,
    settings=lambda config: {"lcc_family": "LCC(p) for every p dividing r",
                             "frontier_load": FRONTIER_LOAD,
                             "frontier_bandwidth": FRONTIER_BANDWIDTH,
                             "summary_interval": ci_method(),
                             "tie": TIE_LABEL.removeprefix("hatched: ")},
    columns=ITERATION_COLUMNS,
    report=report,
))
