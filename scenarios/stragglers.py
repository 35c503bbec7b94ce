"""Training for 50 iterations on the Fig. 2 cluster (N = 40, r = 4) when stragglers are
not what the paper assumes: slowness that persists across iterations (Markov chains whose
p_recover falls from 1 to 0.05 at a fixed stationary slow fraction; a fixed set of slow
workers of growing size) and heavier tails (Pareto durations of shape 4 down to 1.25 at the
paper's mean), without a network and with a bottlenecked fifo master link. Where do the
multi-message schemes lose their lead?"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from pssim.analysis.frames import best_by_group
from pssim.analysis.summary import summarize
from pssim.analysis.training import training_totals
from pssim.scenarios.common import GRADIENT_NETWORK, Output, Scenario, Study, register

ITERATIONS = 50
#: The Markov chains' stationary slow fraction and every slowdown's factor.
SLOW_FRACTION, FACTOR = 0.1, 4.0
P_RECOVER = [1.0, 0.5, 0.2, 0.1, 0.05]
PERSISTENT = [0.05, 0.1, 0.15, 0.25]
#: Pareto shapes at the paper's mean of the random part, 1/mu = 0.1 s.
PARETO_SHAPES = [4.0, 3.0, 2.0, 1.5, 1.25]
MEAN_Y = 0.1
#: The bottleneck: the master's link under fifo (bytes/s), where the multi-message
#: schemes still lead with the paper's stragglers (the training scenario).
BOTTLENECK = 1e9
NETWORKS: dict[str, dict[str, Any]] = {
    "none": {"network": "none", "master_bandwidth": math.inf, "uplink_bandwidth": math.inf,
             "latency": 0.0},
    "fifo": {"network": "fifo", "master_bandwidth": BOTTLENECK, **GRADIENT_NETWORK},
}
#: The paper's schemes that send one message per worker; the others send several.
SINGLE_MESSAGE = ("GC", "LCC")


def markov(p_recover: float) -> dict[str, float]:
    """A chain slow a fraction SLOW_FRACTION of the time: p_slow/(p_slow + p_recover) is
    the stationary slow fraction."""
    return {"p_slow": SLOW_FRACTION * p_recover / (1 - SLOW_FRACTION),
            "p_recover": p_recover, "factor": FACTOR}


def pareto(shape: float) -> dict[str, Any]:
    """Pareto of mean MEAN_Y: shape·scale/(shape − 1) = MEAN_Y."""
    return {"family": "pareto", "shape": shape, "scale": MEAN_Y * (shape - 1) / shape}


#: Each straggler setting: (study, its parameter's value, its Config changes).
SETTINGS: list[tuple[str, float, dict[str, Any]]] = [
    ("markov", p, {"markov": markov(p)}) for p in P_RECOVER] + [
    ("persistent", 0.0, {})] + [
    ("persistent", f, {"persistent": {"fraction": f, "factor": FACTOR}})
    for f in PERSISTENT] + [
    ("pareto", s, pareto(s)) for s in PARETO_SHAPES]
PARAMETER = {"markov": "p_recover", "persistent": "slow fraction",
             "pareto": "pareto shape"}


#: Every point as (network, study, value, Config changes), in the scenario's order: the
#: first is the base configuration (no network, the paper's stragglers).
POINTS = [(network, study, value, {**NETWORKS[network], **changes})
          for network in NETWORKS for study, value, changes in SETTINGS]
POINTS.insert(0, POINTS.pop(next(i for i, p in enumerate(POINTS)
                                 if p[0] == "none" and not p[3].keys() - NETWORKS["none"])))


def report(study: Study, output: Output) -> pd.DataFrame:
    """training_time.csv (mean time of the K iterations per network, setting and scheme,
    with 95% CIs), fastest.csv (the fastest scheme per network and setting, its margin
    over the runner-up, and the lead of the best multi-message scheme over the best
    single-message one), a figure per study and network, and the finding."""
    from pssim.analysis.plots import plot_summary_vs

    labels = pd.DataFrame([p[:3] for p in POINTS], columns=["network", "study", "value"])
    data = study.data.drop(columns=[c for c in ("network",) if c in study.data])
    data = data.join(labels, on="point")
    totals = training_totals(data, by=["network", "study", "value"])
    keys = ["network", "study", "value", "scheme"]
    table = summarize(totals.assign(completion_time=totals["training_time"],
                                    messages=totals["late_messages"]), by=keys)
    table = table.rename(columns={"mean_completion_time": "mean_training_time",
                                  "mean_messages": "mean_late_messages"})
    output.table(table, "training_time")
    fastest = best_by_group(table, ["network", "study", "value"],
                            metric="mean_training_time")
    single = table[table["scheme"].isin(SINGLE_MESSAGE)]
    multi = table[~table["scheme"].isin(SINGLE_MESSAGE)]
    best = {name: part.loc[part.groupby(["network", "study", "value"])[
        "mean_training_time"].idxmin()].set_index(["network", "study", "value"])
        for name, part in (("single", single), ("multi", multi))}
    lead = fastest.set_index(["network", "study", "value"]).join(
        best["multi"][["scheme", "mean_training_time"]].rename(columns={
            "scheme": "best_multi", "mean_training_time": "best_multi_time"})).join(
        best["single"][["scheme", "mean_training_time"]].rename(columns={
            "scheme": "best_single", "mean_training_time": "best_single_time"}))
    lead["multi_lead"] = 1 - lead["best_multi_time"] / lead["best_single_time"]
    lead = lead.reset_index()
    output.table(lead, "fastest")
    for (network, study_name), part in table.groupby(["network", "study"], sort=False):
        name = str(study_name)
        # Persistence (falling p_recover) and the tail (falling shape) grow to the right.
        fig = plot_summary_vs(
            output.shown(part), "value", "mean_training_time", log_y=True,
            log_x=name == "markov", invert_x=name in ("markov", "pareto"),
            xlabel=PARAMETER[name], ylabel=f"mean time of {ITERATIONS} iterations (s)",
            title=f"{name} stragglers, network {network}\n(N = {study.config.workers}, r = "
                  f"{study.config.load}, {study.config.reps} realizations)")
        output.figure(fig, f"{name}_{network}", part)
    output.text(finding(lead) + "\n", "finding.txt")
    return lead


def finding(lead: pd.DataFrame) -> str:
    """Per network and study: the fastest scheme at each setting, with its margin over the
    runner-up, and the lead of the best multi-message scheme over the best single-message
    one (GC, LCC), and where it ends. Each percentage says which time it is taken from:
    a margin is the share of the slower scheme's time that the faster one saves."""
    singles = " or ".join(SINGLE_MESSAGE)
    parts = []
    for (network, study_name), part in lead.groupby(["network", "study"], sort=False):
        name = str(study_name)
        part = part.sort_values("value", ascending=name == "persistent")
        shown = "; ".join(
            f"{PARAMETER[name]} {row['value']:g}: {row['best']} ({row['best_value']:.3g} s, "
            f"{100 * row['relative_margin']:.1f}% less than the runner-up, "
            f"{row['runner_up']})"
            for row in part.to_dict("records"))
        losing = part[part["multi_lead"] <= 0]
        if losing.empty:
            least = part.iloc[int(np.argmin(part["multi_lead"].to_numpy()))]
            verdict = (f"the best multi-message scheme keeps its lead over the best "
                       f"single-message one ({singles}) throughout: at least "
                       f"{100 * least['multi_lead']:.1f}% less time than "
                       f"{least['best_single']} ({least['best_multi']} at "
                       f"{PARAMETER[name]} {least['value']:g})")
        else:
            first = losing.iloc[0]
            verdict = (f"the multi-message schemes lose their lead over the single-message "
                       f"ones ({singles}) from {PARAMETER[name]} {first['value']:g}: the "
                       f"best of them, {first['best_multi']}, takes "
                       f"{-100 * first['multi_lead']:.1f}% longer than "
                       f"{first['best_single']}")
        parts.append(f"Network {network}, {name}: {shown}. So {verdict}.")
    return "\n\n".join(parts)


SCENARIO = register(Scenario(
    name="stragglers",
    description=f"Time of {ITERATIONS} training iterations at N = 40, r = 4 as stragglers "
                "persist (Markov p_recover 1 to 0.05 at a 10% slow fraction; 5% to 25% "
                "persistently slow workers; factor 4) and as the tail grows (Pareto shape 4 "
                "to 1.25 at the paper's mean), network none and a fifo master link of 1e9 "
                "B/s: where the multi-message schemes lose their lead",
    default_reps=20,
    base={"scheme": ["all"], "workers": 40, "load": 4, "mu": 10.0, "alpha": 0.01,
          "pg_tolerance": 0.05, "message_size": GRADIENT_NETWORK["message_size"],
          "iterations": ITERATIONS, "model_size": 4e6, "downlink_bandwidth": 1.25e9,
          **NETWORKS["none"]},
    extra_points=tuple(p[3] for p in POINTS[1:]),
    chunk_size=10 * ITERATIONS,  # realization-iterations: 10 realizations a chunk
    report=report,
))
