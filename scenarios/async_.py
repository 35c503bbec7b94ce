"""Is coding worth it against asynchronous and semi-synchronous servers? Real gradient
descent on one cluster (N = 40, the paper's compute model, mu = 10, alpha = 0.01, with
Markov stragglers: p_slow 0.05, p_recover 0.3, 4 times slower), under network none and a
fifo bottleneck (messages of 8·d bytes, 4 ms each on the master's link): the synchronous
schemes GC, LCC and UC-MMC-PG at r = 1, 4 and 8 (where feasible) against UC-MMC (r = 1;
k-batch-sync r = 4) under the server policies k-sync, k-batch-sync, k-async and
k-batch-async for several K (docs/model.md, "Server policies" and "Learning under a
server policy").

The problem is an ill-conditioned least-squares problem (its condition number is in the
finding), and the target an excess loss of 10⁻⁶ of the initial one, which takes tens of
updates: time per update and accuracy per update both matter. Loss against wall-clock
time per method at its best K (a synchronous scheme at its best r: each is given the
choice the policies get), the time to the target, and the error–runtime trade-off as K
(or r) varies.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pssim.analysis.convergence import (
    convergence_table,
    counter,
    loss_curves,
    plot_loss_curves,
)
from pssim.config import Config
from pssim.learning import Problem, train
from pssim.scenarios.common import Output, Scenario, Study, in_parallel, register
from pssim.schemes.registry import feasible

#: The problem: rows, features, condition number of XᵀX (as drawn: the columns of a
#: standard normal X scaled from 1 down to 1/√CONDITION), noise, data seed.
PROBLEM = (4_000, 20, 10.0, 0.03, 0)
#: Iterations of each synchronous run and updates of each run of a policy: the
#: synchronous schemes reach the target in about 50.
UPDATES = 100
#: An asynchronous policy's run has at least this many gradients (updates × K, rounded
#: up): its steps, divided by 1 + staleness, need more updates, which are short.
GRADIENTS = 1_500
#: The target: an excess loss f − f* of this share of the initial excess f(0) − f*.
WITHIN = 1e-6
#: The server policies compared on UC-MMC: their load r (at r = 1, k-batch-sync would be
#: k-sync: a worker computes at most r gradients a round) and their K.
POLICIES: dict[str, int] = {"k-sync": 1, "k-batch-sync": 4, "k-async": 1, "k-batch-async": 1}
KS: dict[str, tuple[int, ...]] = {"k-sync": (5, 10, 20, 40), "k-batch-sync": (5, 10, 20),
                                  "k-async": (5, 10, 20), "k-batch-async": (1, 5, 10, 20)}
#: The synchronous schemes compared, each at every load of LOADS and the base's (4, or
#: --load) that it is feasible at (LCC is not at r = 1, none beyond N), so that each has
#: its best r as each policy has its best K: under these stragglers GC is fastest at
#: r = 1, LCC and UC-MMC-PG at r = 8.
SYNC = ("GC", "LCC", "UC-MMC-PG")
LOADS = (1, 8)
#: The staleness exponent γ of the step η·(1 + s)^(−γ), per policy: the asynchronous
#: ones divide the step by 1 + s (with a constant step 1/L they diverge at small K).
POWER: dict[str, float] = {"k-sync": 0.0, "k-batch-sync": 0.0, "k-async": 1.0,
                           "k-batch-async": 1.0}
MARKOV: dict[str, float] = {"p_slow": 0.05, "p_recover": 0.3, "factor": 4.0}
#: The bottleneck: each d-dimensional float64 gradient holds the master's link 4 ms.
BOTTLENECK: dict[str, Any] = {"network": "fifo", "message_size": 8.0 * PROBLEM[1],
                              "master_bandwidth": 8.0 * PROBLEM[1] / 4e-3, "latency": 50e-6}
SETTINGS: dict[str, dict[str, Any]] = {"none": {"network": "none"}, "fifo": BOTTLENECK}
LABELS = {"none": "network none", "fifo": "fifo, 4 ms a message"}
#: The columns of the training summaries kept.
KEEP = ["scheme", "load", "rep", "start", "end", "completion_time", "loss",
        "gradient_error"]


def ill_conditioned(rows: int, features: int, condition: float, noise: float, seed: int
                    ) -> Problem:
    """Least squares whose XᵀX/m has eigenvalues from about 1 down to about 1/condition:
    X standard normal with column j scaled by condition^(−j/(2(d − 1))), a true w
    standard normal, y = Xw + noise·N(0, 1), all from ``seed``."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    scales = condition ** (-np.arange(features) / (2 * (features - 1)))
    x = rng.standard_normal((rows, features)) * scales
    y = x @ rng.standard_normal(features) + noise * rng.standard_normal(rows)
    return Problem(x, y, f"least squares {rows}x{features}, condition number "
                         f"{condition_number(x):.3g}, noise {noise:g}")


def condition_number(x: np.ndarray) -> float:
    """The condition number of XᵀX."""
    eigenvalues = np.linalg.eigvalsh(x.T @ x)
    return float(eigenvalues[-1] / eigenvalues[0])


@dataclass(frozen=True)
class Design:
    """What the study trains: the problem (rows, features, condition, noise, data seed),
    the updates of each run, the policies' K and the synchronous schemes' loads."""

    problem: tuple[int, int, float, float, int] = PROBLEM
    updates: int = UPDATES
    gradients: int = GRADIENTS
    ks: tuple[tuple[str, tuple[int, ...]], ...] = tuple(KS.items())
    loads: tuple[int, ...] = LOADS

    def policy_updates(self, policy: str, k: int) -> int:
        """The updates of a run of ``policy`` with this K."""
        if POWER[policy] == 0:
            return self.updates
        return max(self.updates, -(-self.gradients // k))


@functools.lru_cache(maxsize=2)
def _problem(spec: tuple[int, int, float, float, int]) -> Problem:
    return ill_conditioned(*spec)


def _train(fields: dict[str, Any], spec: tuple[int, int, float, float, int]
           ) -> tuple[pd.DataFrame, float, float]:
    """One training run (a process of the pool): its summary, f(0) and f(w*)."""
    result = train(Config(**fields), _problem(spec),
                   staleness_power=POWER.get(fields["server"], 0.0))
    summary = result.summary
    # A synchronous scheme's iterations are its updates: one counter for all runs.
    step = counter(summary)
    return (summary[[*KEEP, step]].rename(columns={step: "update"}),
            result.initial_loss, result.optimal_loss)


def jobs(config: Config, design: Design
         ) -> list[tuple[str, str, int | None, dict[str, Any]]]:
    """Every training run: (setting, method, K, Config fields)."""
    base = {**config.fields(), "iterations": design.updates, "decode_time": "model"}
    n = config.workers
    loads = [(scheme, r) for scheme in SYNC for r in sorted({*design.loads, config.load})
             if r <= n and feasible(scheme, n, r, pg_tolerance=config.pg_tolerance)]
    out: list[tuple[str, str, int | None, dict[str, Any]]] = []
    for key, changes in SETTINGS.items():
        out += [(key, scheme, None, {**base, **changes, "scheme": [scheme], "load": r})
                for scheme, r in loads]
        out += [(key, policy, k, {**base, **changes, "scheme": ["UC-MMC"],
                                  "load": POLICIES[policy], "server": policy, "server_k": k,
                                  "iterations": design.policy_updates(policy, k)})
                for policy, ks in design.ks for k in ks if k <= config.workers]
    return out


def report(study: Study, output: Output, design: Design = Design()) -> pd.DataFrame:
    """training.parquet, tradeoff.csv (per setting, method and K or r), best.csv (each
    method at its best K or r), loss_policies_NETWORK.png (excess loss against wall-clock
    at the best K or r; named apart from the convergence scenario's figures, which the
    gallery gathers in one folder), tradeoff.png (error against time per update as K or r
    varies) and the finding."""
    listed = jobs(study.config, design)
    done = in_parallel(_train, [(fields, design.problem) for *_, fields in listed],
                       study.progress, "async: training runs")
    initial, optimal = done[0][1], done[0][2]
    target = optimal + WITHIN * (initial - optimal)
    summary = pd.concat([
        frame.rename(columns={"load": "r"}).assign(setting=LABELS[key], method=method,
                                                   K=-1 if k is None else k)
        for (key, method, k, _), (frame, _, _) in zip(listed, done, strict=True)],
        ignore_index=True)
    output.data(summary, "training")
    # The analysis groups by "scheme": here a method (a scheme, or a policy on UC-MMC).
    runs = summary.drop(columns="scheme").rename(columns={"method": "scheme"})
    runs["condition_number"] = np.nan
    keys = ["scheme", "setting", "K", "r"]
    table = convergence_table(runs, target, by=keys[1:], spread=(0.1, 0.9))
    per_update = runs.groupby(keys, sort=False)["completion_time"]
    table = table.merge(per_update.mean().rename("mean_time_per_update").reset_index(),
                        on=keys)
    table["median_final_excess"] = (table["median_final_loss"] - optimal) / (initial - optimal)
    at = excess_at_horizon(runs, initial, optimal)
    table = table.merge(at, on=keys)
    tradeoff = table[["setting", "scheme", "K", "r", "reps", "reached", "mean_time_per_update",
                      "median_time_to_target", "low_time_to_target", "high_time_to_target",
                      "median_iterations_to_target", "median_final_excess", "horizon",
                      "median_excess_at_horizon"]].rename(
        columns={"scheme": "method", "median_iterations_to_target": "median_updates_to_target"})
    best = best_k(tradeoff)
    output.table(best, "best")
    for key, setting in LABELS.items():
        chosen = best[best["setting"] == setting]
        part = runs.merge(chosen[["setting", "method", "K", "r"]].rename(
            columns={"method": "scheme"}), on=keys)
        named = part.assign(scheme=[_name(m, k, r) for m, k, r in zip(
            part["scheme"], part["K"], part["r"], strict=True)])
        curves = loss_curves(named, initial, points=300, log=True)
        fig = plot_loss_curves(curves, optimal, log=True, title=(
            f"{_problem(design.problem).name}: {setting}\n(N = {study.config.workers}, Markov "
            f"stragglers, {study.config.reps} realizations; each method at its best K or r)"))
        output.figure(fig, f"loss_policies_{key}", curves)
    # The figure's numbers are the table: tradeoff.csv.
    output.figure(plot_tradeoff(tradeoff), "tradeoff", tradeoff)
    loads = sorted({int(r) for r in tradeoff.loc[tradeoff["K"] < 0, "r"]})
    output.text(finding(best, _problem(design.problem), design.updates, loads),
                "finding.txt")
    return summary


def _name(method: str, k: int, r: int) -> str:
    """A policy named with its K, a synchronous scheme (K = −1) with its r."""
    return f"{method} (r = {r})" if k < 0 else f"{method} (K = {k})"


def best_k(tradeoff: pd.DataFrame) -> pd.DataFrame:
    """Per setting and method, the K (a synchronous scheme's r) with the smallest median
    time to the target among those that reach it in every realization; where none does,
    the one with the smallest median final excess loss."""
    # Settings and methods stay in the table's order.
    rank = {column: {v: i for i, v in enumerate(dict.fromkeys(tradeoff[column]))}
            for column in ("setting", "method")}
    ranked = tradeoff.assign(_setting=tradeoff["setting"].map(rank["setting"]),
                             _method=tradeoff["method"].map(rank["method"]),
                             _missed=tradeoff["reached"] < 1,
                             _time=tradeoff["median_time_to_target"].fillna(np.inf))
    ranked = ranked.sort_values(["_setting", "_method", "_missed", "_time",
                                 "median_final_excess", "K", "r"], kind="stable")
    first = ranked.groupby(["_setting", "_method"], sort=False).head(1)
    return first.drop(columns=["_setting", "_method", "_missed", "_time"]).reset_index(
        drop=True)


def excess_at_horizon(runs: pd.DataFrame, initial: float, optimal: float
                      ) -> pd.DataFrame:
    """Per method, setting, K and r: ``horizon``, the wall-clock time every run of the
    setting lasts (the shortest run's end), and ``median_excess_at_horizon``, the median
    over realizations of the excess loss after the last update done by then, as a share of
    the initial excess (1 when none is)."""
    keys = ["scheme", "setting", "K", "r"]
    ends = runs.groupby([*keys, "rep"], sort=False)["end"].max()
    horizon = ends.groupby(level="setting", sort=False).min().rename("horizon")
    frame = runs.join(horizon, on="setting")
    done = frame[frame["end"] <= frame["horizon"]]
    last = done.sort_values("end", kind="stable").groupby([*keys, "rep"], sort=False).tail(1)
    per_run = ends.to_frame().join(horizon, on="setting").join(
        last.set_index([*keys, "rep"])["loss"])
    per_run["excess"] = (per_run["loss"].fillna(initial) - optimal) / (initial - optimal)
    out = per_run.groupby(keys, sort=False).agg(
        horizon=("horizon", "first"), median_excess_at_horizon=("excess", "median"))
    return out.reset_index()


def plot_tradeoff(tradeoff: pd.DataFrame) -> Any:
    """Per setting, the median excess loss at the setting's horizon against the mean time
    per update: a line through each policy's K and each synchronous scheme's r
    (labelled)."""
    import matplotlib.pyplot as plt

    from pssim.analysis.plots import hue_palette, place_legend

    settings = list(dict.fromkeys(tradeoff["setting"]))
    palette = hue_palette(tradeoff["method"])
    fig, axes = plt.subplots(1, len(settings), figsize=(5.5 * len(settings), 4.5),
                             squeeze=False, sharey=True)
    floor = np.finfo(float).eps
    for ax, setting in zip(axes[0], settings, strict=True):
        part = tradeoff[tradeoff["setting"] == setting]
        for method, rows in part.groupby("method", sort=False):
            rows = rows.sort_values(["K", "r"])
            y = rows["median_excess_at_horizon"].clip(lower=floor)
            ax.plot(rows["mean_time_per_update"], y, marker="o", color=palette[method],
                    label=str(method))
            for x_value, y_value, k, r in zip(rows["mean_time_per_update"], y, rows["K"],
                                              rows["r"], strict=True):
                ax.annotate(f"K={k}" if k > 0 else f"r={r}", (x_value, y_value),
                            fontsize=7, textcoords="offset points", xytext=(3, 3))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{setting}: after {part['horizon'].iloc[0]:.3g} s")
        ax.set_xlabel("mean time per update (s)")
    axes[0][0].set_ylabel("median excess loss at the horizon\n(share of the initial excess)")
    fig.tight_layout()
    place_legend(axes[0][-1], title="method", fontsize=8)
    fig.tight_layout()
    return fig


def finding(best: pd.DataFrame, problem: Problem, updates: int, loads: list[int]
            ) -> str:
    """The headline: per network, each method's median time to the target at its best K
    (a synchronous scheme at its best r of ``loads``), and the fastest."""
    decayed = ", ".join(name for name, power in POWER.items() if power == 1)
    parts = [f"Problem: {problem.name}; target: an excess loss of {WITHIN:g} of the "
             f"initial one; {updates} iterations per synchronous run; step 1/L, divided by "
             f"1 + staleness under {decayed}, whose runs have more updates (at least "
             "as many gradients as the others). Each synchronous scheme is at its best r "
             f"of {', '.join(map(str, loads))}: its updates are exact, but each waits "
             "for (nearly) every partition, where a policy's waits for K gradients."]
    for setting in dict.fromkeys(best["setting"]):
        rows = best[best["setting"] == setting]
        listed = [f"{_name(r.method, r.K, r.r)} {r.median_time_to_target:.3g} s "
                  f"({r.median_updates_to_target:.0f} updates of "
                  f"{r.mean_time_per_update:.3g} s)" if r.reached > 0
                  else f"{_name(r.method, r.K, r.r)} never (median final excess "
                       f"{r.median_final_excess:.2g})"
                  for r in rows.itertuples(index=False)]
        reached = rows[rows["reached"] > 0]
        fastest = ""
        if len(reached):
            top = reached.loc[reached["median_time_to_target"].idxmin()]
            fastest = f" Fastest: {_name(str(top['method']), int(top['K']), int(top['r']))}."
        parts.append(f"Median time to the target, {setting}, each method at its best K or r: "
                     f"{'; '.join(listed)}.{fastest}")
    return " ".join(parts)


def scenario(design: Design = Design()) -> Scenario:
    """The study, training as ``design`` says."""
    rows, features, condition, noise, seed = design.problem
    return Scenario(
        name="async",
        description="Coding against asynchronous and semi-synchronous servers with real "
                    "gradient descent (an ill-conditioned least-squares problem, N = 40, "
                    "Markov stragglers, network none and a fifo bottleneck): GC, LCC and "
                    "UC-MMC-PG against k-sync, k-batch-sync, k-async and k-batch-async on "
                    "UC-MMC: loss against wall-clock at each method's best K (a "
                    "synchronous scheme's best r), time to the target and the "
                    "error–runtime trade-off as K or r varies",
        default_reps=3,
        base={"scheme": list(SYNC), "workers": 40, "load": 4, "mu": 10.0, "alpha": 0.01,
              "pg_tolerance": 0.05, "network": "none", "markov": MARKOV,
              "master_flops": 1e9},
        extra_points=(BOTTLENECK,),
        settings=lambda config: {"problem": "ill-conditioned least squares", "rows": rows,
                                 "features": features, "condition": condition,
                                 "noise": noise, "data_seed": seed,
                                 "updates": design.updates,
                                 "gradients": design.gradients, "within": WITHIN,
                                 "policies": POLICIES, "ks": dict(design.ks),
                                 "staleness_power": POWER},
        report=functools.partial(report, design=design),
    )


SCENARIO = register(scenario())
