"""One iteration, event by event: Gantt charts of UC-MMC and LCC on the same straggler
draws (same seed, same realization) at N = 10, r = 4 (mu = 10, alpha = 0.01), fifo
network, 4 MB messages, master link 1e9 bytes/s, 10 Gbps uplinks, 50 µs latency. Each
worker's computations and transmissions, the master link's occupancy and the instant T
the master decodes."""

from __future__ import annotations

import pandas as pd

from pssim.analysis.frames import busy_time, computations, link_utilization, transmissions
from pssim.api import simulate
from pssim.scenarios.common import GRADIENT_NETWORK, Output, Scenario, Study, register

#: The realization drawn; the others are simulated and kept in the trace.
DRAWN = 0

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


def report(study: Study, output: Output) -> pd.DataFrame:
    """The trace (every simulated realization, from the SimPy engine), summary.csv,
    link_utilization.csv, busy_time.csv (per worker, the computation under way at T
    included) and one Gantt chart per scheme of realization ``DRAWN``."""
    from pssim.analysis.plots import plot_timeline

    c = study.config
    result = simulate(c.replace(engine="des"), trace=True, progress=study.progress)
    trace = result.trace
    assert trace is not None  # asked for with trace=True
    size = c.message_size or float("nan")
    output.data(trace, "trace")
    output.table(result.summary, "summary")
    output.table(link_utilization(trace, size, c.master_bandwidth), "link_utilization")
    output.table(busy_time(trace, c.workers, load=c.load), "busy_time")
    for scheme in result.summary["scheme"].unique().tolist():
        one = trace[(trace["scheme"] == scheme) & (trace["rep"] == DRAWN)]
        fig = plot_timeline(trace, scheme, DRAWN, message_size=size,
                            master_bandwidth=c.master_bandwidth, workers=c.workers,
                            load=c.load)
        output.figure(fig, f"timeline_{scheme}", intervals(one, size, c.master_bandwidth))
    return trace


SCENARIO = register(Scenario(
    name="timeline",
    description="Gantt chart of one iteration (computations, transmissions, master link) "
                "for UC-MMC and LCC on the same draws, N = 10, r = 4, fifo, 4 MB messages",
    default_reps=1,
    base={"scheme": ["UC-MMC", "LCC"], "workers": 10, "load": 4, "mu": 10.0, "alpha": 0.01,
          "network": "fifo", **GRADIENT_NETWORK, "master_bandwidth": 1e9},
    settings=lambda config: {"trace": "SimPy engine", "drawn_rep": DRAWN},
    report=report,
))
