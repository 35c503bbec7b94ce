"""The paper's Fig. 2: mean completion time (a) and communication load (b) against the
load r at N = 40 (mu = 10, alpha = 0.01) for every scheme, and the claims of its Section V
set beside the measured values."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

from pssim.analysis.plots import plot_summary_vs
from pssim.analysis.summary import summarize
from pssim.config import Config
from pssim.scenarios.common import ITERATION_COLUMNS, Output, Scenario, Study, register
from pssim.schemes import PAPER_SCHEMES, feasible, make_scheme


def feasible_schemes(config: Config) -> list[str]:
    """The paper's schemes that can run at this point's N and r (LCC-MMC-2 needs an even
    r)."""
    return [s for s in PAPER_SCHEMES if feasible(s, config.workers, config.load)]


def report(study: Study, output: Output) -> pd.DataFrame:
    """fig2_summary.csv, both figures and the claims table."""
    data, config = study.data, study.config
    table = summarize(data, by=["scheme", "load"], method_column=True)
    output.table(table, "fig2_summary")
    n = config.workers
    output.figure(plot_summary_vs(table, "load", "mean_completion_time",
                                  xlabel="computation load r (computations per worker)",
                                  title=f"Fig. 2(a): mean completion time, N = {n}"),
                  "fig2a_completion_time", table)
    output.figure(plot_summary_vs(table, "load", "mean_messages", band=False,
                                  xlabel="computation load r (computations per worker)",
                                  ylabel="communication load (messages received by T)",
                                  title=f"Fig. 2(b): communication load, N = {n}"),
                  "fig2b_communication_load", table)
    result = claims(data, config)
    output.table(result, "claims")
    return result


SCENARIO = register(Scenario(
    name="paper_fig2",
    description="Mean T and communication load vs r at N = 40 for the six schemes, and a "
                "table of the paper's Section V claims against the measured values",
    default_reps=100_000,
    base={"scheme": list(PAPER_SCHEMES), "workers": 40, "mu": 10.0, "alpha": 0.01,
          "pg_tolerance": 0.05, "network": "none"},
    factors={"load": list(range(2, 11))},
    schemes=feasible_schemes,
    columns=ITERATION_COLUMNS,
    report=report,
))


def _ratio(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """mean(a)/mean(b) and its delta-method standard error for paired samples."""
    n = len(a)
    ma, mb = a.mean(), b.mean()
    cov = np.cov(a, b)
    var = (cov[0, 0] / mb**2 + ma**2 * cov[1, 1] / mb**4 - 2 * ma * cov[0, 1] / mb**3) / n
    return float(ma / mb), float(np.sqrt(max(var, 0.0)))


@dataclass(frozen=True)
class Rule:
    """The cut-off that decides whether a claim holds, tested on the measured value. The
    claims table shows its text beside ``holds``, and both come from this one object, so
    what is shown cannot drift from what is tested.

    >>> rule = Rule("=", 9, note="all r")
    >>> str(rule), rule.holds(9), rule.holds(8)
    ('= 9 (all r)', True, False)
    >>> str(Rule("in", 0.4, 0.6)), Rule("in", 0.4, 0.6).holds(0.6)
    ('in (0.4, 0.6)', False)
    """

    op: str  # ">", "<", "=", or "in" (between, both bounds excluded)
    bound: float
    upper: float | None = None
    note: str = ""

    def holds(self, value: float) -> bool:
        if self.op == ">":
            return bool(value > self.bound)
        if self.op == "<":
            return bool(value < self.bound)
        if self.op == "=":
            return bool(value == self.bound)
        if self.op == "in" and self.upper is not None:
            return bool(self.bound < value < self.upper)
        raise ValueError(f"rule: unknown comparison {self.op!r}")

    def __str__(self) -> str:
        text = (f"in ({self.bound:g}, {self.upper:g})" if self.op == "in"
                else f"{self.op} {self.bound:g}")
        return f"{text} ({self.note})" if self.note else text


def claims(data: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Each quantitative claim of the paper's Section V beside the measured value, with its
    standard error where it is a random quantity (0 where it is exact), the ``rule`` that
    decides from the measured value whether it ``holds`` (a :class:`Rule`: "> 0.5",
    "= 9 (all r)"), and ``holds``."""
    t = {(s, r): g.to_numpy() for (s, r), g in
         data.groupby(["scheme", "load"], sort=False)["completion_time"]}
    msg = data.groupby(["scheme", "load"], sort=False)["messages"].mean()
    loads = sorted(data["load"].unique().tolist())
    even = [r for r in loads if ("LCC-MMC-2", r) in t]
    rows: list[dict[str, object]] = []

    def add(claim: str, paper: str, measured: float, se: float, rule: Rule) -> None:
        rows.append({"claim": claim, "paper": paper, "measured": measured, "se": se,
                     "rule": str(rule), "holds": rule.holds(measured)})

    every_r = Rule("=", len(loads), note="all r")

    def reduction(a: str, b: str, r: int) -> tuple[float, float]:
        q, se = _ratio(t[(a, r)], t[(b, r)])
        return 1 - q, se

    r0 = loads[0]
    red = {r: reduction("UC-MMC-PG", "LCC", r) for r in loads}
    best = max(red, key=lambda r: red[r][0])
    add(f"UC-MMC-PG vs LCC: largest reduction of mean T (at r = {best})", "up to 70%",
        red[best][0], red[best][1], Rule(">", 0.5))
    red_uc = {r: reduction("UC-MMC-PG", "UC-MMC", r) for r in loads}
    best_uc = max(red_uc, key=lambda r: red_uc[r][0])
    add(f"UC-MMC-PG vs UC-MMC: largest reduction of mean T (at r = {best_uc})", "up to 33%",
        red_uc[best_uc][0], red_uc[best_uc][1], Rule(">", 0.2))
    workers = config.workers
    missing = workers - make_scheme("UC-MMC-PG", workers, r0,
                                    pg_tolerance=config.pg_tolerance).threshold
    add("UC-MMC-PG: gradient values missing per iteration (N − ⌈(1 − τ)N⌉, by design)", "2",
        missing, 0.0, Rule("=", 2))
    add("UC-MMC-PG: fewer messages than UC-MMC at every r (count of r where it holds)",
        "also reduces the load", sum(msg[("UC-MMC-PG", r)] < msg[("UC-MMC", r)]
                                     for r in loads), 0.0, every_r)
    wins = sum(t[("UC-MMC", r)].mean() < t[("LCC", r)].mean() for r in loads)
    add("UC-MMC faster than LCC (count of r where it holds)", f"all {len(loads)} values of r",
        wins, 0.0, every_r)
    q, se = _ratio(t[("UC-MMC", r0)], t[("LCC-MMC", r0)])
    add(f"UC-MMC / LCC-MMC mean T at r = {r0}", "below 1: UC-MMC outperforms at r = 2",
        q, se, Rule("<", 1))
    ratios = {r: _ratio(t[("UC-MMC", r)], t[("LCC-MMC", r)]) for r in loads[1:]}
    far = max(ratios, key=lambda r: ratios[r][0])
    add(f"UC-MMC / LCC-MMC mean T, largest over r > {r0} (at r = {far})",
        "very close to LCC-MMC", ratios[far][0], ratios[far][1], Rule("<", 1.4))
    flat = [float(msg[("LCC-MMC", r)]) for r in loads]
    add("LCC-MMC messages: max − min over r", "constant with r (2N − 1 = 79)",
        max(flat) - min(flat), 0.0, Rule("=", 0))
    lcc = [float(msg[("LCC", r)]) for r in loads]
    uc = [float(msg[("UC-MMC", r)]) for r in loads]
    add("LCC messages decrease with r (steps that do not)", "monotonically decreasing",
        sum(b > a for a, b in pairwise(lcc)), 0.0, Rule("=", 0))
    add("UC-MMC messages increase with r (steps that do not)", "monotonically increasing",
        sum(b < a for a, b in pairwise(uc)), 0.0, Rule("=", 0))
    gap = {r: abs(msg[("UC-MMC", r)] - msg[("LCC", r)]) for r in loads}
    closest = min(gap, key=lambda r: gap[r])
    add("r where LCC and UC-MMC loads are closest", "r = 2", closest, 0.0, Rule("=", 2))
    least = sum(msg[("LCC", r)] <= msg.xs(r, level="load").min() for r in loads)
    most = sum(msg[("UC-MMC", r)] >= msg.xs(r, level="load").max() for r in loads)
    add("LCC has the lowest load (count of r)", "LCC best in load", least, 0.0, every_r)
    add("UC-MMC has the highest load (count of r)", "UC-MMC highest", most, 0.0, every_r)
    if even:
        halves = [msg[("LCC-MMC-2", r)] / msg[("LCC-MMC", r)] for r in even]
        add("LCC-MMC-2 / LCC-MMC messages (mean over even r)", "about half",
            float(np.mean(halves)), 0.0, Rule("in", 0.4, 0.6))
        costs = [_ratio(t[("LCC-MMC-2", r)], t[("LCC-MMC", r)]) for r in even]
        add("LCC-MMC-2 / LCC-MMC mean T − 1 (largest over even r)",
            "relatively small increase", max(q for q, _ in costs) - 1,
            max(costs)[1], Rule("<", 0.35))
    mmc = sum(t[("LCC-MMC", r)].mean() < min(t[("LCC", r)].mean(), t[("GC", r)].mean())
              for r in loads)
    add("LCC-MMC faster than LCC and GC (count of r)", "outperforms both (Fig. 1)", mmc, 0.0,
        every_r)
    return pd.DataFrame(rows)

