"""Coded gradient descent with real numbers on the Fig. 2 cluster (N = 40, r = 4, mu = 10,
alpha = 0.01): least squares on synthetic data (m = 40,000 rows, d = 100 features, noise
1), each scheme's workers computing real gradients on their (encoded) partitions and the
master decoding what it holds at T_t, under network none, under a bottleneck (fifo,
messages of 8·d bytes, a master link of 2e5 B/s: 4 ms a message), and with Markov
stragglers (p_slow 0.05, p_recover 0.3, 4 times slower) without a network. Loss against wall-clock
time, the time to the target loss, and the decode error and condition number per scheme
and N for equispaced and Chebyshev evaluation points; then the LCC family over the reals
(Chebyshev points, and roots of unity) and over prime fields at N = 20, 40 and 80 on a
smaller problem (m = 8,000, d = 20): time to the target, final excess loss, decode error
and condition number per mode (docs/model.md, "Coded gradient descent", "LCC over a prime
field")."""

from __future__ import annotations

import functools
import sys
import warnings
from typing import Any

import pandas as pd

from pssim.analysis.convergence import (
    convergence_table,
    loss_curves,
    plot_loss_curves,
    rising,
)
from pssim.config import Config
from pssim.errors import Note
from pssim.learning import Problem, train
from pssim.scenarios.common import Output, Scenario, Study, in_parallel, register
from pssim.schemes.prime import DEFAULT_QUANTIZATION

#: The synthetic problem: rows, features, noise, data seed.
PROBLEM = (40_000, 100, 1.0, 0)
#: Iterations of each training run: the exact schemes reach the optimum to rounding in
#: about 20 on this problem, so 30 show the whole descent and the floor.
ITERATIONS = 30
#: The bottleneck: each d-dimensional float64 gradient holds the master's link 4 ms.
BOTTLENECK: dict[str, Any] = {"network": "fifo", "message_size": 8.0 * PROBLEM[1],
                              "master_bandwidth": 2e5, "latency": 50e-6}
#: Markov stragglers (docs/model.md, "Straggler models"): a worker turns slow (4 times
#: slower) with probability 0.05 and recovers with 0.3 between iterations.
MARKOV: dict[str, Any] = {"p_slow": 0.05, "p_recover": 0.3, "factor": 4.0}
#: The training runs' settings: the paper's stragglers without a network and under the
#: bottleneck, and persistent (Markov) stragglers without a network.
SETTINGS: dict[str, dict[str, Any]] = {"none": {"network": "none"},
                                       "bottleneck": BOTTLENECK,
                                       "markov": {"network": "none", "markov": MARKOV}}
LABELS = {"none": "network none", "bottleneck": "fifo, 4 ms a message",
          "markov": "network none, Markov stragglers"}
#: Targets, as (1 + within)·f(w*): the issue's 1%, and one close enough to the optimum to
#: show UC-MMC-PG's floor.
WITHIN = (1e-2, 1e-5)
#: The decode-error table: N, the point sets (with their basis), realizations of one
#: iteration at w_0 = 0 (where G is far from 0, so the error is the code's own).
TABLE_WORKERS = (10, 20, 40, 80)
POINTS = {"chebyshev": "chebyshev", "equispaced": "monomial"}
TABLE_REPS = 100
#: The single-iteration points of the sweep (the vectorized engine: cheap).
SINGLE_REPS = 2_000
ERROR_THRESHOLD = 1e-6
#: The comparison of fields: the LCC family at these N under network none, K = ITERATIONS,
#: on a problem small enough that the prime-field rows cost a few seconds in all (the
#: encoding in c fields is c times the real one's, on d² Gram matrices).
FIELD_PROBLEM = (8_000, 20, 1.0, 0)
FIELD_WORKERS = (20, 40, 80)
FIELD_REPS = 5
#: The modes compared, as (field, points, basis): over the reals at Chebyshev points, at
#: roots of unity, and over prime fields.
MODES = {"real": ("real", "chebyshev", "chebyshev"), "circle": ("real", "circle", "laurent"),
         "prime": ("prime", "chebyshev", "chebyshev")}
LCC_FAMILY = ("LCC", "LCC-MMC", "LCC-MMC-2")


@functools.lru_cache(maxsize=2)
def _problem(spec: tuple[int, int, float, int]) -> Problem:
    rows, features, noise, seed = spec
    return Problem.synthetic(rows, features, noise, seed)


def _train(fields: dict[str, Any], points: str, basis: str, field: str = "real",
           spec: tuple[int, int, float, int] = PROBLEM
           ) -> tuple[pd.DataFrame, float, float, list[str]]:
    """One training run (a process of the pool): its summary, f(0), f(w*) and the notes
    it raised, kept for the study's own file (printed by the pool's processes, each would
    come with a line of source)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", Note)
        result = train(Config(**fields), _problem(spec), points=points, basis=basis,
                       field=field)
    notes = [str(w.message) for w in caught if issubclass(w.category, Note)]
    keep = ["scheme", "workers", "network", "rep", "iteration", "start", "end",
            "completion_time", "decode_time", "loss", "gradient_error", "condition_number"]
    if field != "real":
        keep.append("quantization_error")
    return result.summary[keep], result.initial_loss, result.optimal_loss, notes


Job = tuple[dict[str, Any], str, str, str, tuple[int, int, float, int]]


def _runs(c: Config) -> dict[str, Any]:
    return {**c.fields(), "iterations": ITERATIONS, "decode_time": "model"}


def report(study: Study, output: Output) -> pd.DataFrame:
    """loss_NETWORK.png (excess loss against wall-clock, median and 10–90% band),
    time_to_target.csv, decode_error.csv (per scheme, N and point set), fields.csv (the LCC
    family over the reals and over prime fields per N), the finding, and the runs' notes
    (notes.txt)."""
    c = study.config
    schemes = ["GC", "LCC", "LCC-MMC", "LCC-MMC-2", "UC-MMC", "UC-MMC-PG"]
    training: list[Job] = [({**_runs(c), **changes, "scheme": s}, "chebyshev", "chebyshev",
                            "real", PROBLEM)
                           for changes in SETTINGS.values() for s in schemes]
    table_jobs: list[Job] = [({**c.fields(), "workers": n, "iterations": 1,
                               "reps": TABLE_REPS, "scheme": s}, points, basis, "real",
                              PROBLEM)
                             for n in TABLE_WORKERS for points, basis in POINTS.items()
                             for s in schemes if points == "chebyshev" or s.startswith("LCC")]
    field_jobs: list[Job] = [({**_runs(c), "network": "none", "workers": n,
                               "reps": FIELD_REPS, "scheme": s}, points, basis, field,
                              FIELD_PROBLEM)
                             for field, points, basis in MODES.values()
                             for n in FIELD_WORKERS for s in LCC_FAMILY]
    done = in_parallel(_train, training + table_jobs + field_jobs, study.progress,
                       "convergence: training runs")
    runs = done[:len(training)]
    table_runs = done[len(training):len(training) + len(table_jobs)]
    field_runs = done[len(training) + len(table_jobs):]
    initial, optimal = runs[0][1], runs[0][2]
    keys = [key for key in SETTINGS for _ in schemes]
    summary = pd.concat([r[0].assign(setting=LABELS[key])
                         for r, key in zip(runs, keys, strict=True)], ignore_index=True)
    output.data(summary, "training")
    tables = []
    for within in WITHIN:
        table = convergence_table(summary, (1 + within) * optimal, by=["setting"])
        tables.append(table.assign(within=within))
    times = pd.concat(tables, ignore_index=True)
    output.table(times, "time_to_target")
    for key, setting in LABELS.items():
        part = summary[summary["setting"] == setting]
        curves = loss_curves(part, initial)
        fig = plot_loss_curves(curves, optimal, note=rising_note(
            curves, times[(times["setting"] == setting) & (times["within"] == WITHIN[0])],
            optimal), title=(
            f"Least squares, m = {PROBLEM[0]}, d = {PROBLEM[1]}: {setting}\n(N = {c.workers}, "
            f"r = {c.load}, {c.reps} realizations, decode time modelled)"))
        output.figure(fig, f"loss_{key}", curves)
    errors = pd.concat([r[0].assign(points=job[1], basis=job[2])
                        for r, job in zip(table_runs, table_jobs, strict=True)],
                       ignore_index=True)
    decode = errors.groupby(["scheme", "points", "basis", "workers"], sort=False).agg(
        median_gradient_error=("gradient_error", "median"),
        worst_gradient_error=("gradient_error", "max"),
        median_condition_number=("condition_number", "median"),
        worst_condition_number=("condition_number", "max")).reset_index()
    output.table(decode, "decode_error")
    fields = field_table(field_runs, field_jobs)
    output.table(fields, "fields")
    output.text(finding(times, decode, optimal) + " " + field_finding(fields), "finding.txt")
    notes = [note for r in done for note in r[3]]
    if notes:
        # A note names its scheme first ("LCC-MMC: the loss diverges ...").
        schemes_noted = ", ".join(dict.fromkeys(note.split(":")[0] for note in notes))
        path = output.text("\n".join(notes) + "\n", "notes.txt")
        print(f"convergence: {len(notes)} training runs gave a note ({schemes_noted}; most "
              f"often a loss that diverges), listed in {path}", file=sys.stderr)
    return summary


def field_table(runs: list[tuple[pd.DataFrame, float, float, list[str]]], jobs: list[Job]
                ) -> pd.DataFrame:
    """Per LCC scheme, mode (a name of :data:`MODES`, found from each job's field and
    points) and N: the time-to-target table's columns (target 1% above f(w*)), the median
    final excess loss, and the decode of the first iteration (w_0 = 0, where G is far from
    0): median and worst gradient error, median condition number (NaN over prime fields),
    median quantization error (NaN over the reals)."""
    modes = {(field, points): name for name, (field, points, _) in MODES.items()}
    summary = pd.concat([r[0].assign(mode=modes[(job[3], job[1])])
                         for r, job in zip(runs, jobs, strict=True)], ignore_index=True)
    optimal = runs[0][2]
    keys = ["scheme", "mode", "workers"]
    table = convergence_table(summary, (1 + WITHIN[0]) * optimal, by=keys[1:])
    table = table.drop(columns=[c for c in table.columns if "quantization" in c])
    table["median_final_excess_loss"] = table["median_final_loss"] - optimal
    first = summary[summary["iteration"] == 0].reindex(
        columns=[*summary.columns, "quantization_error"])
    errors = first.groupby(keys, sort=False).agg(
        first_median_gradient_error=("gradient_error", "median"),
        first_worst_gradient_error=("gradient_error", "max"),
        first_median_condition_number=("condition_number", "median"),
        first_median_quantization_error=("quantization_error", "median")).reset_index()
    return table.merge(errors, on=keys, how="left")


def field_finding(fields: pd.DataFrame, workers: tuple[int, ...] = (40, 80)) -> str:
    """Each LCC scheme's final excess loss and time to the target at each N of
    ``workers``, in each mode."""
    rows = {(str(r["scheme"]), str(r["mode"]), int(r["workers"])): r
            for r in fields.to_dict("records")}
    parts = []
    for n in workers:
        listed = []
        for scheme in LCC_FAMILY:
            said = []
            for mode in MODES:
                row = rows[(scheme, mode, n)]
                time = (f"{row['median_time_to_target']:.3g} s" if row["reached"] > 0
                        else "never")
                said.append(f"{mode} {row['median_final_excess_loss']:.3g} ({time})")
            listed.append(f"{scheme} {', '.join(said)}")
        parts.append(f"N = {n}: {'; '.join(listed)}.")
    rows_, features = FIELD_PROBLEM[:2]
    return (f"The LCC family over the reals at Chebyshev points (real) and at roots of "
            f"unity (circle), and over prime fields (prime) (m = {rows_}, d = {features}, "
            f"{FIELD_REPS} realizations, network none), median final excess loss after "
            f"{ITERATIONS} iterations (median time to within {WITHIN[0]:.0%} of f(w*)): "
            + " ".join(parts))


def rising_note(curves: pd.DataFrame, table: pd.DataFrame, optimal: float) -> str | None:
    """Why a scheme's median loss comes within 1% of f(w*) and rises again, from its row of
    the time-to-target ``table`` (one setting): its decoding over the reals is
    ill-conditioned, and a bad decode throws the iterate off, which the next iterations
    start from. None when no scheme rises."""
    rows = table.set_index("scheme")
    parts = []
    for scheme in rising(curves, (1 + WITHIN[0]) * optimal):
        row = rows.loc[scheme]
        parts.append(
            f"{scheme}'s median loss comes within {WITHIN[0]:.0%} of f(w*) = {optimal:.4g} "
            f"and rises again, to {row['median_final_loss']:.4g} after {ITERATIONS} "
            f"iterations: its decoding over the reals is ill-conditioned (condition number "
            f"up to {row['worst_condition_number']:.2g}, relative gradient error ‖Ĝ − G‖/‖G‖ "
            f"up to {row['worst_gradient_error']:.2g}), so a bad decode throws "
            "the iterate off, and the next iterations start from there.")
    return " ".join(parts) or None


def first_failing(decode: pd.DataFrame, scheme: str, points: str) -> str:
    """The smallest N of the table at which the median decode error passes the threshold."""
    part = decode[(decode["scheme"] == scheme) & (decode["points"] == points)]
    over = part[part["median_gradient_error"] > ERROR_THRESHOLD]["workers"]
    return f"N = {int(over.min())}" if len(over) else f"beyond N = {max(TABLE_WORKERS)}"


def finding(times: pd.DataFrame, decode: pd.DataFrame, optimal: float) -> str:
    rows: dict[tuple[str, float, str], dict[Any, Any]] = {
        (str(r["setting"]), float(r["within"]), str(r["scheme"])): r
        for r in times.to_dict("records")}
    settings = list(dict.fromkeys(str(v) for v in times["setting"]))
    schemes = list(dict.fromkeys(str(v) for v in times["scheme"]))
    parts = []
    for setting in settings:
        listed = []
        for scheme in schemes:
            row = rows[(setting, WITHIN[0], scheme)]
            listed.append(f"{scheme} {row['median_time_to_target']:.3g} s "
                          f"({row['median_iterations_to_target']:.0f} it.)"
                          if row["reached"] > 0 else f"{scheme} never")
        parts.append(f"Median time to within 1% of the optimal loss, {setting}: "
                     f"{', '.join(listed)}.")
    stuck = [f"{scheme} {rows[(settings[0], WITHIN[0], scheme)]['median_final_loss']:.4g}"
             for scheme in schemes
             if rows[(settings[0], WITHIN[0], scheme)]["median_final_loss"]
             > (1 + WITHIN[0]) * optimal]
    if stuck:
        parts.append(f"Median final loss above the 1% target ({settings[0]}; f(w*) = "
                     f"{optimal:.4g}): {', '.join(stuck)}, its decode errors compounding "
                     f"over {ITERATIONS} iterations.")
    if {"UC-MMC", "UC-MMC-PG"} <= set(schemes):
        setting = settings[0]
        costs = []
        for within in WITHIN:
            full, partial = (rows[(setting, within, s)] for s in ("UC-MMC", "UC-MMC-PG"))
            if partial["reached"] == 1 and full["reached"] == 1:
                extra = (partial["median_iterations_to_target"]
                         - full["median_iterations_to_target"])
                costs.append(f"{extra:+.0f} iterations to within {within:g} of the optimum")
            else:
                costs.append(f"to within {within:g} of the optimum it gets in "
                             f"{100 * partial['reached']:.0f}% of runs within "
                             f"{ITERATIONS} iterations (UC-MMC in "
                             f"{100 * full['reached']:.0f}%): its bias sets a floor at a "
                             f"median final loss of {partial['median_final_loss']:.7g} "
                             f"against {full['median_final_loss']:.7g}")
        parts.append(f"UC-MMC-PG's dropped partitions ({setting}) cost {'; '.join(costs)}.")
    lcc = [s for s in ("LCC", "LCC-MMC-2", "LCC-MMC") if s in set(decode["scheme"])]
    for points in POINTS:
        at = ", ".join(f"{s} at {first_failing(decode, s, points)}" for s in lcc)
        parts.append(f"LCC's median decode error over the reals passes {ERROR_THRESHOLD:g} "
                     f"with {points} points ({POINTS[points]} basis): {at}.")
    gc = decode[decode["scheme"] == "GC"]
    if len(gc):
        parts.append(f"GC's worst decode error: {gc['worst_gradient_error'].max():.2g} "
                     f"(condition number up to {gc['worst_condition_number'].max():.2g}).")
    return " ".join(parts)


SCENARIO = register(Scenario(
    name="convergence",
    description="Coded gradient descent with real numbers: loss against wall-clock time "
                "per scheme (least squares, m = 40,000, d = 100, N = 40, r = 4, network "
                "none, a fifo bottleneck, and Markov stragglers), time to target loss, "
                "LCC's decode error and condition number per N for Chebyshev and "
                "equispaced points, and the LCC family over the reals (Chebyshev points, "
                "roots of unity) and over prime fields at N = 20, 40, 80 (m = 8,000, "
                "d = 20)",
    default_reps=20,
    base={"scheme": ["all"], "workers": 40, "load": 4, "mu": 10.0, "alpha": 0.01,
          "pg_tolerance": 0.05, "network": "none", "master_flops": 1e9},
    extra_points=(BOTTLENECK,),
    point_reps=lambda point, reps: SINGLE_REPS,
    settings=lambda config: {"problem": "synthetic least squares", "rows": PROBLEM[0],
                             "features": PROBLEM[1], "noise": PROBLEM[2],
                             "data_seed": PROBLEM[3], "iterations": ITERATIONS,
                             "points": "chebyshev", "basis": "chebyshev",
                             "table_workers": list(TABLE_WORKERS),
                             "table_reps": TABLE_REPS, "within": list(WITHIN),
                             "field_problem": list(FIELD_PROBLEM),
                             "field_workers": list(FIELD_WORKERS),
                             "field_reps": FIELD_REPS,
                             "modes": {k: list(v) for k, v in MODES.items()},
                             "quantization": DEFAULT_QUANTIZATION},
    report=report,
))
