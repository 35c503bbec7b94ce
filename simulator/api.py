"""Run a configuration over many realizations and collect the summary (DESIGN 3)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from pssim.compute import BLOCK, ComputeModel, ExplicitDurations, ShiftedExponential
from pssim.engines import des, vectorized
from pssim.errors import ConfigError, finite, integer
from pssim.network import Network
from pssim.schemes import Scheme, expand_names, make_scheme

ENGINES = ("auto", "des", "vectorized", "analytic")

#: The largest seed: the summary's seed column is int64.
MAX_SEED = 2**63 - 1

#: Realizations simulated per step. It bounds the memory of the vectorized engine (a few MB
#: of finish times at N = 40, r = 10, which stay in cache) and never changes results.
CHUNK_SIZE = 2 * BLOCK

def build_compute(mu: Any = 10.0, alpha: Any = 0.01,
                  compute_times: str | Path | pd.DataFrame | ComputeModel | None = None
                  ) -> ComputeModel:
    """The compute model: explicit durations when given, else ShiftedExponential(mu, alpha)."""
    if isinstance(compute_times, ComputeModel):
        return compute_times
    if isinstance(compute_times, pd.DataFrame):
        return ExplicitDurations(compute_times)
    if compute_times is not None:
        return ExplicitDurations.from_file(compute_times)
    return ShiftedExponential(mu, alpha)


@dataclass(frozen=True)
class Results:
    """What a run produced: the summary and, when asked for, the event trace."""

    summary: pd.DataFrame
    trace: pd.DataFrame | None = None


def run(scheme: str | list[str] = "all", workers: int = 40, load: int = 4,
        **options: Any) -> pd.DataFrame:
    """Simulate and return the summary only; see :func:`simulate` for the parameters."""
    return simulate(scheme, workers, load, **options).summary


def simulate(scheme: str | list[str] = "all", workers: int = 40, load: int = 4, *,
        polynomials: int | None = None, pg_tolerance: float = 0.05,
        mu: float = 10.0, alpha: float = 0.01,
        compute_times: str | Path | pd.DataFrame | ComputeModel | None = None,
        network: str = "none", uplink_bandwidth: float | str = math.inf,
        master_bandwidth: float | str = math.inf, latency: float | str = 0.0,
        message_size: float | str | None = None, reps: int = 1000, seed: int = 0,
        engine: str = "auto", trace: bool = False, progress: bool = False,
        chunk_size: int = CHUNK_SIZE, first_rep: int = 0) -> Results:
    """Simulate ``reps`` independent iterations of each scheme on common random numbers.

    ``scheme`` is a name, a comma-separated list, a list, or ``"all"`` (the paper's six).
    Sizes are bytes, bandwidths bytes/s and times seconds; strings with units are
    accepted (``"10Gbps"``, ``"4MiB"``, ``"50us"``). The summary has one row per
    (scheme, realization); the trace (``trace=True``) one row per event.

    ``engine`` is ``des`` (SimPy, everything), ``vectorized`` (numpy; networks none and
    fifo, no trace) or ``auto`` (vectorized where it applies). Engines and chunk sizes give
    identical results. ``first_rep`` starts at realization k > 0, so that a long run can
    be split into pieces whose union equals the whole.
    """
    built, net, model = prepare(
        scheme, workers, load, polynomials=polynomials, pg_tolerance=pg_tolerance, mu=mu,
        alpha=alpha, compute_times=compute_times, network=network,
        uplink_bandwidth=uplink_bandwidth, master_bandwidth=master_bandwidth,
        latency=latency, message_size=message_size, reps=reps, first_rep=first_rep)
    workers, load = built[0].workers, built[0].load
    seed = integer("seed", seed, low=0, high=MAX_SEED)
    chunk_size = integer("chunk_size", chunk_size, low=1)
    vector = _use_vectorized(engine, net, trace)

    results = [np.empty((reps, 4)) for _ in built]
    # Trace records go to plain lists during the run, one per scheme, and become one
    # DataFrame at the end.
    rows: list[list[des.TraceRow]] = [[] for _ in built]
    with tqdm(total=reps * len(built), disable=not progress, unit="rep",
              desc="simulating") as bar:
        for start in range(0, reps, chunk_size):
            stop = min(reps, start + chunk_size)
            # One draw per chunk, shared by all schemes: common random numbers.
            finish = model.finish_times(seed, first_rep + start, first_rep + stop, workers,
                                        load)
            for s, out, records in zip(built, results, rows, strict=True):
                out[start:stop] = (vectorized.simulate(s, net, finish) if vector else
                                   des.simulate(s, net, finish, first_rep + start,
                                                records if trace else None))
                bar.update(stop - start)
    summary = _summary(built, net, model, seed, results, first_rep)
    if not trace:
        return Results(summary)
    return Results(summary, pd.concat([_trace_frame(r, s.label) for s, r in
                                       zip(built, rows, strict=True)], ignore_index=True))


def prepare(scheme: str | list[str] = "all", workers: int = 40, load: int = 4, *,
            polynomials: int | None = None, pg_tolerance: float = 0.05, mu: float = 10.0,
            alpha: float = 0.01,
            compute_times: str | Path | pd.DataFrame | ComputeModel | None = None,
            network: str = "none", uplink_bandwidth: float | str = math.inf,
            master_bandwidth: float | str = math.inf, latency: float | str = 0.0,
            message_size: float | str | None = None, reps: int = 1, first_rep: int = 0
            ) -> tuple[list[Scheme], Network, ComputeModel]:
    """Validate a configuration and build its schemes, network and compute model: every
    check that can fail before a realization is simulated (the defaults are those of
    :func:`simulate`)."""
    built = build_schemes(scheme, workers, load, polynomials, pg_tolerance)
    reps = integer("reps", reps, low=1)
    first_rep = integer("first_rep", first_rep, low=0)
    net = Network.build(network, uplink_bandwidth=uplink_bandwidth,
                        master_bandwidth=master_bandwidth, latency=latency,
                        message_size=message_size)
    model = build_compute(mu, alpha, compute_times)
    model.check(built[0].workers, built[0].load, first_rep + reps)
    return built, net, model


def build_schemes(names: str | list[str], workers: int, load: int, polynomials: int | None,
                  pg_tolerance: float) -> list[Scheme]:
    """The schemes of a run, all at the same N and r (each checks N and r as it is built)."""
    # Checked even when no scheme in the list takes them, so a typo never passes silently.
    if polynomials is not None:
        polynomials = integer("polynomials", polynomials, low=1)
    if not 0 <= finite("pg_tolerance", pg_tolerance, low=0.0) < 1:
        raise ConfigError("pg_tolerance", pg_tolerance, "must be in [0, 1)")
    built = [make_scheme(n, workers, load, polynomials=polynomials, pg_tolerance=pg_tolerance)
             for n in expand_names(names)]
    labels = [s.label for s in built]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise ConfigError("scheme", names, f"names {twice[0]} twice at load {built[0].load} "
                          "(LCC is LCC(r), LCC-MMC LCC(1), LCC-MMC-2 LCC(2)); list each "
                          "scheme once")
    return built


def analyze(scheme: str | list[str] = "all", workers: int = 40, load: int = 4, *,
            polynomials: int | None = None, pg_tolerance: float = 0.05, mu: float = 10.0,
            alpha: float = 0.01, quantiles: tuple[float, ...] = (0.5, 0.9, 0.99),
            points: int = 200) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The analytic engine: the paper's eqs. (12)–(18) for count-rule schemes under
    ShiftedExponential and network none.

    Returns a table with one row per scheme (mean and quantiles of T, seconds) and the
    CDF of T on ``points`` times per scheme, from 0 to its 99.99% quantile.
    """
    # Imported here: SciPy is needed only for the closed forms, and every worker process of
    # a sweep would otherwise pay for importing it.
    from pssim.engines import analytic as closed_forms

    built = build_schemes(scheme, workers, load, polynomials, pg_tolerance)
    model = ShiftedExponential(mu, alpha)
    points = integer("points", points, low=2)
    for s in built:
        if not s.count_rule:
            raise ConfigError("engine", "analytic",
                              f"closed forms cover count-rule schemes only, not {s.label} "
                              "(its master needs distinct partitions); use des or vectorized")
    rows, curves = [], []
    for s in built:
        params: dict[str, Any] = {"workers": s.workers, "load": s.load, "group": s.group,
                  "threshold": s.threshold, "mu": model.mu, "alpha": model.alpha}
        q = closed_forms.count_rule_quantile(list(quantiles), **params)
        rows.append({**s.parameters(), **model.parameters(),
                     "mean_completion_time": closed_forms.count_rule_mean(**params),
                     **{f"q{p:g}_completion_time": v for p, v in zip(quantiles, q,
                                                                    strict=True)}})
        t = np.linspace(0.0, float(closed_forms.count_rule_quantile(0.9999, **params)), points)
        curves.append(pd.DataFrame({"scheme": s.label, "time": t,
                                    "cdf": closed_forms.count_rule_cdf(t, **params)}))
    return pd.DataFrame(rows), pd.concat(curves, ignore_index=True)


def _use_vectorized(engine: str, network: Network, trace: bool) -> bool:
    if engine not in ENGINES:
        raise ConfigError("engine", engine, f"must be one of {', '.join(ENGINES)}")
    if engine == "analytic":
        raise ConfigError("engine", engine, "gives distributions, not realizations: call "
                          "analyze() (on the command line, pssim run --engine analytic)")
    possible = network.kind in vectorized.NETWORKS and not trace
    if engine == "vectorized" and not possible:
        why = "an event trace" if trace else f"network {network.kind!r}"
        raise ConfigError("engine", engine,
                          f"the vectorized engine covers networks "
                          f"{' and '.join(vectorized.NETWORKS)} without a trace, not {why}; "
                          "use engine 'des' or 'auto'")
    return possible and engine != "des"


PARAMETER_COLUMNS = ["scheme", "workers", "load", "group", "threshold", "polynomials",
                     "pg_tolerance", "model", "mu", "alpha", "network", "uplink_bandwidth",
                     "master_bandwidth", "latency", "message_size", "seed"]


def _summary(built: list[Scheme], network: Network, model: ComputeModel, seed: int,
             results: list[np.ndarray], first_rep: int = 0) -> pd.DataFrame:
    """One row per (scheme, realization), built column by column so that a million
    realizations never hold more than one copy of the table."""
    reps = results[0].shape[0]
    params = [{**s.parameters(), **model.parameters(), **network.parameters(), "seed": seed}
              for s in built]
    # The documented columns first, then whatever a scheme or model adds of its own.
    keys = PARAMETER_COLUMNS + [k for p in params for k in p if k not in PARAMETER_COLUMNS]
    columns: dict[str, Any] = {}
    for key in dict.fromkeys(keys):
        columns[key] = _parameter_column([p.get(key) for p in params], reps,
                                         nullable_integer=key == "polynomials")
    out = np.concatenate(results)
    messages = out[:, 1].astype(np.int64)
    columns["rep"] = np.tile(np.arange(first_rep, first_rep + reps, dtype=np.int64),
                             len(built))
    columns["completion_time"] = out[:, 0]
    columns["messages"] = messages
    columns["messages_sent"] = out[:, 2].astype(np.int64)
    columns["computations"] = out[:, 3].astype(np.int64)
    columns["bytes"] = messages * columns["message_size"]
    return pd.DataFrame(columns, copy=False)


def _parameter_column(values: list[Any], reps: int, nullable_integer: bool = False) -> Any:
    """One parameter's column: each scheme's value repeated over its realizations, with
    a missing value where a scheme has no such parameter (LCC's polynomials for GC)."""
    given = [v for v in values if v is not None]
    if given and all(isinstance(v, str) for v in given):
        return pd.Series(np.repeat(np.array(values, dtype=object), reps), dtype="str")
    if nullable_integer or (given and all(isinstance(v, int | np.integer)
                                          and not isinstance(v, bool) for v in given)):
        ints = np.repeat([0 if v is None else v for v in values], reps).astype(np.int64)
        missing = np.repeat([v is None for v in values], reps)
        return (pd.arrays.IntegerArray(ints, missing) if nullable_integer or missing.any()
                else ints)
    return np.repeat([math.nan if v is None else float(v) for v in values], reps)


def _trace_frame(rows: list[des.TraceRow], label: str) -> pd.DataFrame:
    rep, time, worker, event, computation, message, size = map(list, zip(*rows, strict=True))
    frame = pd.DataFrame({"scheme": label, "rep": np.array(rep, dtype=np.int64),
                          "time": np.array(time)})
    for name, values in (("worker", worker), ("event", None), ("computation", computation),
                         ("message", message)):
        if values is None:
            frame["event"] = pd.Series(event, dtype="str")
            continue
        arr = np.array(values, dtype=np.int64)
        frame[name] = pd.arrays.IntegerArray(arr, arr < 0)
    frame["bytes"] = np.array(size)
    return frame
