"""The paper's Fig. 1: CDF of the completion time for GC, LCC and LCC-MMC at N = 10, r = 5
(mu = 10, alpha = 0.01), closed form (eqs. 15 and 18) against Monte Carlo."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pssim.api import analyze, simulate
from pssim.scenarios.common import Output

DESCRIPTION = "CDF of T for GC, LCC, LCC-MMC at N = 10, r = 5: closed form vs Monte Carlo"
DEFAULT_REPS = 100_000
CONFIG: dict[str, Any] = {"schemes": ["GC", "LCC", "LCC-MMC"], "workers": 10, "load": 5, "mu": 10.0,
          "alpha": 0.01, "network": "none"}


def run(reps: int, seed: int, output: Output, progress: bool = False) -> pd.DataFrame:
    """Write the realizations, the two CDFs on one grid, and the figure."""
    from pssim.analysis.plots import plot_cdf

    c = CONFIG
    output.config({**c, "reps": reps, "seed": seed, "engine": "auto"})
    summary = simulate(c["schemes"], c["workers"], c["load"], mu=c["mu"], alpha=c["alpha"],
                       reps=reps, seed=seed, progress=progress).summary
    output.data(summary, "realizations")
    _, closed = analyze(c["schemes"], c["workers"], c["load"], mu=c["mu"], alpha=c["alpha"],
                        points=400)
    rows = []
    for scheme, curve in closed.groupby("scheme", sort=False):
        t = np.sort(summary.loc[summary["scheme"] == scheme, "completion_time"].to_numpy())
        grid = curve["time"].to_numpy()
        rows.append(pd.DataFrame({
            "scheme": scheme, "time": grid, "closed_form": curve["cdf"].to_numpy(),
            "monte_carlo": np.searchsorted(t, grid, side="right") / len(t)}))
    numbers = pd.concat(rows, ignore_index=True)
    long = numbers.melt(id_vars=["scheme", "time"], value_vars=["closed_form", "monte_carlo"],
                        var_name="source", value_name="cdf")
    long["source"] = long["source"].map({"closed_form": "closed form",
                                         "monte_carlo": f"Monte Carlo ({reps} realizations)"})
    fig = plot_cdf(long, x="time", y="cdf", hue="scheme", style="source",
                   title="Fig. 1: CDF of the completion time, N = 10, r = 5")
    output.figure(fig, "fig1_cdf", numbers)
    return numbers

