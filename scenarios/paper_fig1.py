"""The paper's Fig. 1: CDF of the completion time for GC, LCC and LCC-MMC at N = 10, r = 5
(mu = 10, alpha = 0.01), closed form (eqs. 15 and 18) against Monte Carlo."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pssim.api import analyze, prepare
from pssim.config import Config
from pssim.engines.analytic import unsupported
from pssim.errors import ConfigError
from pssim.scenarios.common import Output, Scenario, Study, register


def closed_forms_apply(config: Config) -> None:
    """Refuse, before simulating, a configuration the closed forms (eqs. 15 and 18) do not
    cover: the figure sets Monte Carlo beside them."""
    prepared = prepare(config)
    why = unsupported(prepared.schemes, prepared.network, prepared.compute,
                      prepared.training)
    if why is not None:
        raise ConfigError("scenario", "paper_fig1", f"sets Monte Carlo beside the closed "
                          f"forms (eqs. 15 and 18), and {why}")


def report(study: Study, output: Output) -> pd.DataFrame:
    """The two CDFs on one grid, and the figure."""
    from pssim.analysis.plots import plot_cdf

    data, config = study.data, study.config
    _, closed = analyze(config.replace(engine="auto"), points=400)
    rows = []
    for scheme, curve in closed.groupby("scheme", sort=False):
        t = np.sort(data.loc[data["scheme"] == scheme, "completion_time"].to_numpy())
        grid = curve["time"].to_numpy()
        rows.append(pd.DataFrame({
            "scheme": scheme, "time": grid, "closed_form": curve["cdf"].to_numpy(),
            "monte_carlo": np.searchsorted(t, grid, side="right") / len(t)}))
    numbers = pd.concat(rows, ignore_index=True)
    long = numbers.melt(id_vars=["scheme", "time"], value_vars=["closed_form", "monte_carlo"],
                        var_name="source", value_name="cdf")
    long["source"] = long["source"].map({
        "closed_form": "closed form",
        "monte_carlo": f"Monte Carlo ({config.reps} realizations)"})
    fig = plot_cdf(long, x="time", y="cdf", hue="scheme", style="source",
                   title=f"Fig. 1: CDF of the completion time, N = {config.workers}, "
                         f"r = {config.load}")
    output.figure(fig, "fig1_cdf", numbers)
    return numbers


SCENARIO = register(Scenario(
    name="paper_fig1",
    description="CDF of T for GC, LCC, LCC-MMC at N = 10, r = 5: closed form vs Monte Carlo",
    default_reps=100_000,
    base={"scheme": ["GC", "LCC", "LCC-MMC"], "workers": 10, "load": 5, "mu": 10.0,
          "alpha": 0.01, "network": "none"},
    check=closed_forms_apply,
    report=report,
))
