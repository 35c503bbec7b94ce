"""One iteration, event by event: Gantt charts of UC-MMC and LCC on the same straggler
draws (same seed, same realization) at N = 10, r = 4 (mu = 10, alpha = 0.01), fifo
network, 4 MB messages, master link 1e9 bytes/s, 10 Gbps uplinks, 50 µs latency. Each
worker's computations and transmissions, the master link's occupancy and the instant T
the master decodes."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pssim.analysis.frames import computations, link_utilization, transmissions
from pssim.api import simulate
from pssim.scenarios.common import GRADIENT_NETWORK, Output

DESCRIPTION = "Gantt chart of one iteration (computations, transmissions, master link) for " \
              "UC-MMC and LCC on the same draws, N = 10, r = 4, fifo, 4 MB messages"
DEFAULT_REPS = 1
CONFIG: dict[str, Any] = {
    "schemes": ["UC-MMC", "LCC"], "workers": 10, "load": 4, "mu": 10.0, "alpha": 0.01,
    "network": "fifo", **GRADIENT_NETWORK, "master_bandwidth": 1e9,
    # The realization drawn; the others are simulated and kept in the trace.
    "rep": 0,
}


def intervals(trace: pd.DataFrame, message_size: float, master_bandwidth: float
              ) -> pd.DataFrame:
    """The bars of a Gantt chart of one (scheme, rep): ``kind`` (computation,
    transmission, master_link), ``worker``, ``index`` (the computation or message number),
    ``start`` and ``end`` (seconds; ``end`` NaN for a transmission still under way at T)."""
    comps = computations(trace).rename(columns={"computation": "index"})
    sends = transmissions(trace).rename(columns={"message": "index"})
    # Under fifo a message holds the master's link for size / bandwidth just before it is
    # received.
    link = sends[sends["end"].notna()].copy()
    link["start"] = (link["end"] - message_size / master_bandwidth).clip(lower=0.0)
    parts = [comps.assign(kind="computation"), sends.assign(kind="transmission"),
             link.assign(kind="master_link")]
    columns = ["scheme", "rep", "kind", "worker", "index", "start", "end"]
    return pd.concat([p[columns] for p in parts], ignore_index=True)


def run(reps: int, seed: int, output: Output, progress: bool = False) -> pd.DataFrame:
    """Write the trace (every simulated realization), summary.csv, link_utilization.csv and
    one Gantt chart per scheme of realization ``CONFIG["rep"]``."""
    from pssim.analysis.plots import plot_timeline

    c = CONFIG
    output.config({**c, "reps": reps, "seed": seed, "engine": "des", "trace": True})
    result = simulate(c["schemes"], c["workers"], c["load"], mu=c["mu"], alpha=c["alpha"],
                      network=c["network"], message_size=c["message_size"],
                      master_bandwidth=c["master_bandwidth"],
                      uplink_bandwidth=c["uplink_bandwidth"], latency=c["latency"],
                      reps=reps, seed=seed, trace=True, engine="des", progress=progress)
    trace = result.trace
    assert trace is not None  # asked for with trace=True
    output.data(trace, "trace")
    output.table(result.summary, "summary")
    output.table(link_utilization(trace, c["message_size"], c["master_bandwidth"]),
                 "link_utilization")
    for scheme in c["schemes"]:
        one = trace[(trace["scheme"] == scheme) & (trace["rep"] == c["rep"])]
        fig = plot_timeline(trace, scheme, c["rep"], message_size=c["message_size"],
                            master_bandwidth=c["master_bandwidth"], workers=c["workers"],
                            load=c["load"])
        output.figure(fig, f"timeline_{scheme}",
                      intervals(one, c["message_size"], c["master_bandwidth"]))
    return trace

