"""Run a configuration over many realizations and collect the summary (docs/model.md,
"Outputs").

:func:`simulate` and :func:`run` take a :class:`~pssim.config.Config`, or keyword options
that build one; :func:`prepare` turns a configuration into its schemes, network discipline
and compute model through their registries, which is every check that can fail before a
realization is simulated.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from pssim import compute, provenance
from pssim import network as networks
from pssim import server as servers
from pssim.compute import BLOCK, ComputeModel, ExplicitDurations, ShiftedExponential
from pssim.config import Config
from pssim.engines import Engine, Outcome, TraceRow, choose
from pssim.engines.vectorized import Vectorized
from pssim.errors import ConfigError, Note, integer
from pssim.network import Discipline
from pssim.schemes import PAPER_SCHEMES, Scheme, is_alias, make_scheme
from pssim.server import Policy
from pssim.server import engine as server_engine
from pssim.training import TRAINING_FIELDS, Training

#: Realizations simulated per step at most. It bounds the memory of the vectorized engine (a
#: few MB of finish times at N = 40, r = 10, which stay in cache) and never changes results.
CHUNK_SIZE = 2 * BLOCK
#: Bytes a chunk's arrays may take: larger clusters get fewer realizations per chunk.
CHUNK_BUDGET = 256 * 2**20
#: Arrays of N·r floats that a realization holds at once (finish, ready, sent and arrival
#: times, a sort's indices and copies, under fifo).
ARRAYS_PER_REALIZATION = 12
#: Bytes per summary row (about 25 columns of 8 bytes) and per trace row (a Python tuple
#: while the run lasts), for the estimates that refuse a run too large for the machine.
SUMMARY_ROW_BYTES = 200
TRACE_ROW_BYTES = 150

#: A configuration, or the scheme names that start one.
ConfigLike = Config | str | Sequence[str] | None


@dataclass(frozen=True)
class Results:
    """What a run produced: the summary and, when asked for, the event trace."""

    summary: pd.DataFrame
    trace: pd.DataFrame | None = None
    #: Per scheme, when the master received each message: (reps, K, N, messages per
    #: worker), seconds from the run's start (``receptions=True``, vectorized engine).
    receptions: list[np.ndarray] | None = None


@dataclass(frozen=True)
class Prepared:
    """A configuration resolved into the objects the engines run."""

    config: Config
    schemes: list[Scheme]
    network: Discipline
    compute: ComputeModel
    training: Training
    #: Each scheme's server policy, or None under the synchronous server.
    policies: list[Policy] | None = None


def configure(config: ConfigLike = None, workers: int | None = None, load: int | None = None,
              **options: Any) -> Config:
    """A Config from a Config (with ``options`` changed) or from options alone; the first
    positional arguments are the scheme names, N and r."""
    if workers is not None:
        options["workers"] = workers
    if load is not None:
        options["load"] = load
    if isinstance(config, Config):
        return config.replace(**options) if options else config
    if config is not None:
        if "scheme" in options:
            raise ConfigError("scheme", options["scheme"], f"is given twice (first as "
                              f"{config!r}); give the schemes once")
        options["scheme"] = config
    built = Config(**options)
    implied = _implied_by_durations(built, given=set(options))
    return built.replace(**implied) if implied else built


def _implied_by_durations(config: Config, given: set[str]) -> dict[str, int]:
    """N, r and the realizations that a table of durations implies, where not given: its
    workers, its computations (when it has that column) and its reps (1 without a rep
    column, since every realization would be the same)."""
    source = config.compute_times
    if source is None or isinstance(source, ComputeModel) or given >= {"workers", "load",
                                                                        "reps"}:
        return {}
    table = build_compute(config)
    assert isinstance(table, ExplicitDurations)  # a path or a table: explicit durations
    implied = {"workers": int(table.worker.max()) + 1, "reps": table.reps_available or 1}
    if table.has_computation:
        implied["load"] = int(table.comp.max()) + 1
    return {k: v for k, v in implied.items() if k not in given}


def run(config: ConfigLike = None, workers: int | None = None, load: int | None = None,
        **options: Any) -> pd.DataFrame:
    """Simulate and return the summary only; see :func:`simulate`."""
    return simulate(config, workers, load, **options).summary


def simulate(config: ConfigLike = None, workers: int | None = None, load: int | None = None,
             *, trace: bool = False, progress: bool = False, chunk_size: int | None = None,
             first_rep: int = 0, receptions: bool = False, **options: Any) -> Results:
    """Simulate ``reps`` independent iterations of each scheme on common random numbers.

    ``config`` is a :class:`~pssim.config.Config`, or the scheme (a name, a comma-separated
    list, a list, or ``"all"``); ``options`` are Config fields (``reps``, ``seed``,
    ``network``, ``message_size``, …). Sizes are bytes, bandwidths bytes/s and times
    seconds; strings with units are accepted (``"10Gbps"``, ``"4MiB"``, ``"50us"``). The
    summary has one row per (scheme, realization); the trace (``trace=True``) one row per
    event; the reception times (``receptions=True``, vectorized engine) one array per
    scheme. Chunk sizes never change a result (bit for bit); the engines agree to 1e-9
    relative in completion time and exactly in counts. ``first_rep`` starts at
    realization k > 0, so that a long run can be split into pieces whose union equals the
    whole. Under a server policy (``server``, docs/model.md, "Server policies") the
    summary has one row per (scheme, realization, update) and the trace one row per
    gradient delivered.
    """
    first_rep = integer("first_rep", first_rep, low=0)
    prepared = prepare(configure(config, workers, load, **options), first_rep=first_rep)
    cfg, built, net, model = (prepared.config, prepared.schemes, prepared.network,
                              prepared.compute)
    training = prepared.training
    if prepared.policies is not None:
        if receptions:
            raise ConfigError("engine", cfg.engine, "gives no reception times under a server "
                              f"policy (server {cfg.server}); ask for the trace")
        return _simulate_policies(prepared, trace, progress, chunk_size, first_rep)
    engine = choose(cfg.engine, net, trace, training)
    if receptions:
        _check_receptions(engine, cfg, built)
    iterations = cfg.iterations
    workers, load, reps = cfg.workers, cfg.load, cfg.reps
    # The size checks hold whatever chunk size is asked for.
    fitting = fitting_chunk(cfg, len(built), trace)
    chunk_size = fitting if chunk_size is None else integer("chunk_size", chunk_size, low=1)
    results = [Outcome.empty(reps * iterations) for _ in built]
    # Trace records go to plain lists during the run, one per scheme, and become one
    # DataFrame at the end.
    rows: list[list[TraceRow]] = [[] for _ in built]
    received: list[list[np.ndarray]] = [[] for _ in built]
    with tqdm(total=reps * len(built), disable=not progress, unit="rep",
              desc="simulating") as bar:
        for start in range(0, reps, chunk_size):
            stop = min(reps, start + chunk_size)
            # One draw per chunk, shared by all schemes: common random numbers. Iteration 0
            # is asked for without naming it, so that a compute model written for single
            # iterations (no ``iteration`` argument) still runs them.
            with np.errstate(over="ignore"):  # overflow is refused just below, in words
                finish = [model.finish_times(cfg.seed, first_rep + start, first_rep + stop,
                                             workers, load, **({"iteration": t} if t else {}))
                          for t in range(iterations)]
            # Finish times grow with the computation: the last ones are finite or none is.
            if not all(np.isfinite(f[..., -1]).all() for f in finish):
                raise ConfigError("compute model", model, "gives finish times that are not "
                                  "finite numbers (they overflow): durations must be far "
                                  "below 1e308 seconds")
            for s, out, records, arrivals in zip(built, results, rows, received, strict=True):
                part = engine.simulate(s, net, finish, first_rep + start,
                                       records if trace else None, training,
                                       **({"receptions": arrivals} if receptions else {}))
                if not np.isfinite(part.completion_time).all():
                    raise ConfigError("configuration", f"{s.label} on network {net.name}",
                                      "gives completion times that are not finite numbers "
                                      "(they overflow): use smaller times or sizes")
                out[start * iterations:stop * iterations] = part
                bar.update(stop - start)
    summary = _summary(built, net, model, training, cfg.seed, results, first_rep)
    # The frames carry the run's configuration, so that analysis helpers can read what
    # they are not given (the message size, a bandwidth).
    summary.attrs["pssim"] = {"config": cfg.to_json(), **provenance.stamp()}
    reception_times = [np.concatenate(p) for p in received] if receptions else None
    if not trace:
        return Results(summary, receptions=reception_times)
    events = pd.concat([_trace_frame(r, s.label) for s, r in zip(built, rows, strict=True)],
                       ignore_index=True)
    events.attrs["pssim"] = summary.attrs["pssim"]
    return Results(summary, events, reception_times)


def _check_receptions(engine: Engine, config: Config, built: list[Scheme]) -> None:
    """Receptions come from the vectorized engine, and must fit in memory."""
    if not isinstance(engine, Vectorized):
        raise ConfigError("engine", engine.name, "gives no reception times; they come from "
                          "the vectorized engine (with des, ask for the trace)")
    size = sum(config.reps * config.iterations * s.workers * s.messages_per_worker * 8
               for s in built)
    if size > memory() / 4:
        raise ConfigError("reps", config.reps, f"the reception times would need about "
                          f"{size / 2**30:.3g} GiB, more than a quarter of this machine's "
                          "memory")


def memory() -> int:
    """Bytes of memory of this machine."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def fitting_chunk(config: Config, schemes: int, trace: bool,
                  policies: list[Policy] | None = None) -> int:
    """Realizations per chunk within :data:`CHUNK_BUDGET`; a run whose results could not
    fit in this machine's memory is refused with the estimate. Under server ``policies``
    a realization holds the draws of every round a worker may begin, which can be many
    more than the updates (k-batch-async at K > N)."""
    rounds = config.iterations if policies is None else max(
        p.max_rounds(config.iterations) for p in policies)
    # A training run keeps each iteration's reception times until its end (late messages).
    per_realization = (config.workers * config.load * 8
                       * (ARRAYS_PER_REALIZATION + rounds))
    available = memory()
    gib = 2.0**30
    if per_realization > available / 4:
        # Blame what makes the realization large: its iterations, or its N·r cells.
        culprit, value, beside = (
            # More rounds than updates come from the policy's K (k-batch-async): K is to
            # blame when the updates alone would fit.
            ("server_k", config.server_k, f"under server {config.server} gives up to "
             f"{rounds:.3g} rounds per worker in {config.iterations} update(s): at "
             f"N={config.workers}, r={config.load}")
            if config.workers * config.load * 8 * (ARRAYS_PER_REALIZATION + config.iterations)
            <= available / 4
            else ("iterations", config.iterations, f"at N={config.workers}, r={config.load}")
            if rounds > ARRAYS_PER_REALIZATION
            else ("workers", config.workers, f"with load {config.load}"))
        raise ConfigError(culprit, value, f"{beside}, one realization needs about "
                          f"{per_realization / gib:.3g} GiB, more than a quarter of this "
                          f"machine's {available / gib:.3g} GiB")
    summary = config.reps * config.iterations * schemes * SUMMARY_ROW_BYTES
    if summary > available / 2:
        culprit, value = (("iterations", config.iterations)
                          if config.iterations > config.reps else ("reps", config.reps))
        raise ConfigError(culprit, value, f"the summary of {config.reps} realization(s) × "
                          f"{config.iterations} iteration(s) × {schemes} scheme(s) would "
                          f"need about {summary / gib:.3g} GiB, more than half of this "
                          f"machine's {available / gib:.3g} GiB; run fewer realizations at "
                          "a time (in Python, simulate(first_rep=K) starts a part at "
                          "realization K), or use pssim sweep, which writes as it goes")
    if trace:
        # Under a policy the trace holds the gradients received; else every event.
        events = config.reps * schemes * (
            config.iterations * (3 * config.workers * config.load + config.workers + 1)
            if policies is None else max(p.max_gradients(config.iterations) for p in policies))
        if events * TRACE_ROW_BYTES > available / 4:
            raise ConfigError("trace", f"{events:.3g} events", f"would need about "
                              f"{events * TRACE_ROW_BYTES / gib:.3g} GiB; trace fewer "
                              "realizations (--reps)")
    return max(1, min(CHUNK_SIZE, CHUNK_BUDGET // per_realization))


def prepare(config: Config, first_rep: int = 0) -> Prepared:
    """Build a configuration's schemes, network and compute model: every check that can
    fail before a realization is simulated."""
    built = build_schemes(config)
    if isinstance(config.network, Discipline):
        beside = [name for name in ("uplink_bandwidth", "master_bandwidth", "latency",
                                    "message_size")
                  if getattr(config, name) != Config.model_fields[name].default]
        if beside:
            raise ConfigError("network", config.network, f"is a discipline object, which "
                              f"holds its own link parameters; give {', '.join(beside)} to "
                              "it, not beside it")
    net = networks.build(config.network, uplink_bandwidth=config.uplink_bandwidth,
                         master_bandwidth=config.master_bandwidth, latency=config.latency,
                         message_size=config.message_size, mtu=config.mtu,
                         buffer=config.buffer)
    model = build_compute(config)
    model.check(config.workers, config.load, first_rep + config.reps, config.iterations)
    if not isinstance(config.decode_time, float):
        raise ConfigError("decode_time", config.decode_time, "is a cost model that needs "
                          "the gradient's dimension: use pssim train (pssim.learning), or "
                          "give seconds")
    training = Training(config.iterations, config.late_policy, config.downlink,
                        config.downlink_bandwidth,
                        config.message_size if config.model_size is None else config.model_size,
                        config.decode_time,
                        # The downlink shares the network's latency where it has one.
                        net.latency if "latency" in net.uses else 0.0,
                        config.cancel_transfers)
    ignored = [f"{name}={getattr(config, name):g}" for name, default in
               (("uplink_bandwidth", math.inf), ("master_bandwidth", math.inf),
                ("latency", 0.0)) if name not in net.uses and getattr(config, name) != default]
    ignored += [f"{name}={getattr(config, name):g}" for name in ("mtu", "buffer")
                if not hasattr(net, name)
                and getattr(config, name) != Config.model_fields[name].default]
    if ignored:
        warnings.warn(f"{', '.join(ignored)} {'has' if len(ignored) == 1 else 'have'} no "
                      f"effect with network {net.name}", Note, stacklevel=3)
    policies = [servers.build(config.server, s, config.server_k, config.server_period)
                for s in built]
    if (config.server_period != Config.model_fields["server_period"].default
            and not any(p is not None and "server_period" in p.parameters()
                        for p in policies)):
        warnings.warn(f"server_period={config.server_period} has no effect with server "
                      f"{servers.resolve(config.server)}", Note, stacklevel=3)
    return Prepared(config, built, net, model, training,
                    None if policies[0] is None else [p for p in policies if p is not None])


def _simulate_policies(prepared: Prepared, trace: bool, progress: bool,
                       chunk_size: int | None, first_rep: int) -> Results:
    """:func:`simulate` under a server policy: one summary row per realization and
    update, one trace row per gradient delivered (docs/model.md, "Server policies")."""
    cfg, net, model, training = (prepared.config, prepared.network, prepared.compute,
                                 prepared.training)
    policies = prepared.policies
    assert policies is not None
    if cfg.engine not in ("auto", "des"):
        raise ConfigError("engine", cfg.engine, f"does not run server policies (server "
                          f"{cfg.server}); use des or auto")
    choose("des", net, trace, training)  # the discipline's SimPy processes
    fitting = fitting_chunk(cfg, len(policies), trace, policies)
    chunk_size = fitting if chunk_size is None else integer("chunk_size", chunk_size, low=1)
    parts: list[list[server_engine.Updates]] = [[] for _ in policies]
    rows: list[list[server_engine.GradientRow]] = [[] for _ in policies]
    with tqdm(total=cfg.reps * len(policies), disable=not progress, unit="rep",
              desc="simulating") as bar:
        for start in range(0, cfg.reps, chunk_size):
            stop = min(cfg.reps, start + chunk_size)
            # One set of draws per chunk, shared by all schemes: common random numbers.
            draws = server_engine.Draws(model, cfg.seed, first_rep + start, first_rep + stop,
                                        cfg.workers, cfg.load, cfg.server)
            for policy, done, records in zip(policies, parts, rows, strict=True):
                done.append(server_engine.simulate(policy, net, draws, first_rep + start,
                                                   stop - start, training,
                                                   records if trace else None))
                bar.update(stop - start)
    summary = _updates_summary(policies, net, model, training, cfg.seed, parts, first_rep)
    summary.attrs["pssim"] = {"config": cfg.to_json(), **provenance.stamp()}
    if not trace:
        return Results(summary)
    gradients = pd.concat([_gradient_frame(r, p.scheme.label)
                           for p, r in zip(policies, rows, strict=True)], ignore_index=True)
    gradients.attrs["pssim"] = summary.attrs["pssim"]
    return Results(summary, gradients)


def build_compute(config: Config) -> ComputeModel:
    """The compute model: explicit durations when given, else the straggler model of the
    configuration (the paper's ShiftedExponential(mu, alpha) by default)."""
    source = config.compute_times
    if source is None:
        return compute.build(config)
    beside = [name for name in compute.FIELDS
              if getattr(config, name) != Config.model_fields[name].default]
    if beside:
        raise ConfigError("compute_times", str(source) if not isinstance(
            source, pd.DataFrame) else "a table", f"replaces the straggler model; give "
            f"{', '.join(beside)} or compute_times, not both")
    if isinstance(source, ComputeModel):
        return source
    if isinstance(source, pd.DataFrame):
        return ExplicitDurations(source)
    return ExplicitDurations.from_file(source)


def check_load(config: Config) -> None:
    """r must be at most N (docs/model.md, "Cluster and compute times"): what no scheme
    can run is refused wherever a configuration enters, a sample of durations included."""
    if config.load > config.workers:
        raise ConfigError("load", config.load, f"must be between 1 and "
                          f"workers={config.workers}")


def build_schemes(config: Config) -> list[Scheme]:
    """The schemes of a run, all at the same N and r (each checks N and r as it is built).

    ``all`` stands for the paper's schemes that can run here: the others are skipped with
    a :class:`~pssim.errors.Note` (LCC-MMC-2 at an odd r, say, or the coded schemes under
    a server policy); a scheme named on its own that cannot run is an error.
    """
    # Each scheme takes the fields its constructor names (polynomials, pg_tolerance, …), so
    # a scheme's new parameter needs only its Config field.
    options = {k: v for k, v in config.fields().items() if k not in ("workers", "load")}
    check_load(config)  # no scheme can run: an error, not a skipped scheme
    named: list[tuple[str, Scheme]] = []
    skipped: list[str] = []
    for item in config.scheme:
        if item.lower() != "all":
            named.append((item, make_scheme(item, config.workers, config.load, **options)))
            continue
        for name in PAPER_SCHEMES:
            try:
                scheme = make_scheme(name, config.workers, config.load, **options)
            except ConfigError as err:
                skipped.append(f"{name} ({err.allowed})")
                continue
            if servers.accepts(config.server, scheme):
                named.append((name, scheme))
            else:
                skipped.append(f"{name} (not under server {servers.resolve(config.server)})")
    if not named:
        raise ConfigError("scheme", ",".join(config.scheme),
                          f"has no scheme that can run at N={config.workers}, "
                          f"r={config.load}: {'; '.join(skipped)}")
    if skipped:
        warnings.warn(f"all: skipped {'; '.join(skipped)} at N={config.workers}, "
                      f"r={config.load}", Note, stacklevel=3)
    unique: list[tuple[str, Scheme]] = []
    for name, s in named:
        twin = next(((n, u) for n, u in unique if u.identity() == s.identity()), None)
        if twin is None:
            unique.append((name, s))
        elif twin[0].strip().upper() == name.strip().upper():
            continue  # one name twice (LCC and lcc, or beside all): it runs once
        elif any(map(is_alias, (twin[0], name, twin[1].label, s.label))):
            raise ConfigError("scheme", ",".join(config.scheme),
                              f"names one scheme twice at load {s.load}: {twin[0]} and "
                              f"{name} (LCC is LCC(r), LCC-MMC LCC(1), LCC-MMC-2 LCC(2)); "
                              "list each scheme once")
        else:
            # The paper's own names may coincide at some r (LCC is LCC-MMC-2 at r = 2):
            # they are compared as the paper compares them.
            unique.append((name, s))
    return [s for _, s in unique]


def baseline_label(config: Config, name: str) -> str:
    """The summary's label of the scheme ``name`` among a run's schemes (its label, or a
    name of the same scheme: LCC(4) for LCC at r = 4), or a ConfigError that lists them."""
    labels = [s.label for s in build_schemes(config)]
    allowed = f"must be one of the run's schemes: {', '.join(labels)}"
    exact = [label for label in labels if label.upper() == name.strip().upper()]
    if exact:
        return exact[0]
    if "," in name or name.strip().lower() == "all":
        raise ConfigError("baseline", name, f"names one scheme; it {allowed}")
    try:
        wanted = build_schemes(config.replace(scheme=(name,)))[0]
    except ConfigError as err:
        raise ConfigError("baseline", name, f"{allowed} ({err.allowed})") from None
    same = [s.label for s in build_schemes(config) if s.identity() == wanted.identity()]
    if not same:
        raise ConfigError("baseline", name, allowed)
    return same[0]


def analyze(config: ConfigLike = None, workers: int | None = None, load: int | None = None,
            *, quantiles: tuple[float, ...] = (0.5, 0.9, 0.99), points: int = 200,
            **options: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The analytic engine: the paper's eqs. (12)–(18) for count-rule schemes under
    ShiftedExponential and network none.

    Returns a table with one row per scheme (mean and quantiles of T, seconds) and the
    CDF of T on ``points`` times per scheme, from 0 to its 99.99% quantile.
    """
    # Imported here: SciPy is needed only for the closed forms, and every worker process of
    # a sweep would otherwise pay for importing it.
    from pssim.engines import analytic

    cfg = configure(config, workers, load, **options)
    points = integer("points", points, low=2)
    if servers.resolve(cfg.server) != servers.SYNC:
        raise ConfigError("engine", "analytic", f"closed forms cover the synchronous server, "
                          f"not server {cfg.server}; use des")
    prepared = prepare(cfg)
    built, model = prepared.schemes, prepared.compute
    why = analytic.unsupported(built, prepared.network, model)
    if why is not None:
        raise ConfigError("engine", "analytic", f"{why}; use des or vectorized")
    # A training run's options would change what is computed: refused, never dropped.
    # (Realizations and message sizes have no meaning for a distribution, so a Config
    # written for a simulation is analyzed as it is.)
    refused = [f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"
               for name in TRAINING_FIELDS
               if (value := getattr(cfg, name)) != Config.model_fields[name].default]
    if refused:
        raise ConfigError("engine", "analytic", f"closed forms cover one iteration of the "
                          f"paper's model, which {', '.join(refused)} would change; use des "
                          "or vectorized")
    assert isinstance(model, ShiftedExponential)
    rows, curves = [], []
    for s in built:
        params: dict[str, Any] = {"workers": s.workers, "load": s.load, "group": s.group,
                                  "threshold": s.threshold, "mu": model.mu,
                                  "alpha": model.alpha}
        q = analytic.count_rule_quantile(list(quantiles), **params)
        rows.append({**s.parameters(), **model.parameters(),
                     "mean_completion_time": analytic.count_rule_mean(**params),
                     **{f"q{p:g}_completion_time": v for p, v in zip(quantiles, q,
                                                                    strict=True)}})
        t = np.linspace(0.0, float(analytic.count_rule_quantile(0.9999, **params)), points)
        curves.append(pd.DataFrame({"scheme": s.label, "time": t,
                                    "cdf": analytic.count_rule_cdf(t, **params)}))
    return pd.DataFrame(rows), pd.concat(curves, ignore_index=True)


PARAMETER_COLUMNS = ["scheme", "workers", "load", "group", "threshold", "polynomials",
                     "pg_tolerance", "model", "mu", "alpha", "network", "uplink_bandwidth",
                     "master_bandwidth", "latency", "message_size", "seed", "iterations",
                     "late_policy", "cancel_transfers", "downlink", "downlink_bandwidth",
                     "model_size", "decode_time"]


def _summary(built: list[Scheme], network: Discipline, model: ComputeModel,
             training: Training, seed: int, results: list[Outcome],
             first_rep: int = 0) -> pd.DataFrame:
    """One row per (scheme, realization, iteration), built column by column so that a
    million realizations never hold more than one copy of the table."""
    iterations = training.iterations
    rows = results[0].completion_time.shape[0]
    reps = rows // iterations
    scheme_keys = {k for s in built for k in s.parameters()}
    params = [{**s.parameters(), **model.parameters(), **network.parameters(), "seed": seed,
               **training.parameters()} for s in built]
    # The documented columns first, then whatever a scheme or model adds of its own.
    keys = PARAMETER_COLUMNS + [k for p in params for k in p if k not in PARAMETER_COLUMNS]
    out = Outcome.concat(results)
    # The parts are copied into ``out``: freed before any column is built, a million
    # realizations of six schemes never hold them beside the columns (a third of a GiB).
    results.clear()
    columns: dict[str, Any] = {}
    for key in dict.fromkeys(keys):
        columns[key] = _parameter_column([p.get(key) for p in params], rows,
                                         nullable_integer=key == "polynomials",
                                         run_level=key not in scheme_keys)
    columns["rep"] = np.tile(np.repeat(np.arange(first_rep, first_rep + reps, dtype=np.int64),
                                       iterations), len(built))
    columns["iteration"] = np.tile(np.arange(iterations, dtype=np.int64), reps * len(built))
    columns["start"] = out.start
    columns["end"] = out.end
    columns["completion_time"] = out.completion_time
    columns["messages"] = out.messages
    columns["messages_sent"] = out.messages_sent
    columns["computations"] = out.computations
    columns["late_messages"] = out.late_messages
    columns["bytes"] = out.messages * columns["message_size"]
    # Under complete nothing is aborted, under abort nothing is late: one expression for
    # both (docs/model.md, "Metrics"); NaN without a message size, as ``bytes``.
    columns["wasted_bytes"] = (out.aborted_bytes
                               + out.late_messages * columns["message_size"])
    return pd.DataFrame(columns, copy=False)


def _updates_summary(policies: list[Policy], network: Discipline, model: ComputeModel,
                     training: Training, seed: int, parts: list[list[server_engine.Updates]],
                     first_rep: int) -> pd.DataFrame:
    """One row per (scheme, realization, update) of a server policy."""
    updates = training.iterations
    rows = sum(p.start.shape[0] for p in parts[0])
    reps = rows // updates
    scheme_keys = {k for p in policies for k in {**p.scheme.parameters(), **p.parameters()}}
    params = [{**p.scheme.parameters(), **model.parameters(), **network.parameters(),
               "seed": seed, **training.parameters(), **p.parameters()} for p in policies]
    keys = PARAMETER_COLUMNS + [k for p in params for k in p if k not in PARAMETER_COLUMNS]
    columns: dict[str, Any] = {}
    for key in dict.fromkeys(keys):
        columns[key] = _parameter_column([p.get(key) for p in params], rows,
                                         nullable_integer=key == "polynomials",
                                         run_level=key not in scheme_keys)

    def joined(name: str) -> np.ndarray:
        return np.concatenate([getattr(u, name) for done in parts for u in done])

    columns["rep"] = np.tile(np.repeat(np.arange(first_rep, first_rep + reps, dtype=np.int64),
                                       updates), len(policies))
    columns["update"] = np.tile(np.arange(updates, dtype=np.int64), reps * len(policies))
    columns["server_k"] = np.concatenate([
        np.tile(np.array([p.k(u) for u in range(updates)], dtype=np.int64), reps)
        for p in policies])
    columns["start"] = joined("start")
    columns["end"] = joined("end")
    columns["completion_time"] = columns["end"] - columns["start"]
    columns["gradients"] = joined("gradients")
    columns["staleness_mean"] = joined("staleness_sum") / columns["gradients"]
    columns["staleness_max"] = joined("staleness_max")
    columns["messages"] = joined("messages")
    columns["late_messages"] = joined("late_messages")
    columns["cancelled"] = joined("cancelled")
    columns["bytes"] = columns["messages"] * columns["message_size"]
    return pd.DataFrame(columns, copy=False)


def _gradient_frame(rows: list[server_engine.GradientRow], label: str) -> pd.DataFrame:
    """The gradients a policy's master received, in order of arrival."""
    table = np.array(rows, dtype=float).reshape(len(rows), 6)
    ints = {name: table[:, c].astype(np.int64) for c, name in enumerate(
        ("rep", "worker", "partition", "version", "update"))}
    return pd.DataFrame({"scheme": pd.Series([label] * len(rows), dtype="str"), **ints,
                         "time": table[:, 5]})


def _parameter_column(values: list[Any], reps: int, nullable_integer: bool = False,
                      run_level: bool = False) -> Any:
    """One parameter's column: each scheme's value repeated over its realizations, with
    a missing value where a scheme has no such parameter (LCC's polynomials for GC);
    ``run_level`` when the value is the run's, not a scheme's."""
    given = [v for v in values if v is not None]
    if given and all(isinstance(v, str) for v in given):
        if run_level and len(given) == len(values) and len(set(given)) == 1:
            # The model's or the network's name, one for the whole run: categorical, one
            # byte a row instead of twenty, its one category the same whichever schemes
            # are run together (docs/model.md, "Outputs").
            return pd.Categorical.from_codes(np.zeros(len(values) * reps, dtype=np.int8),
                                             dtype=pd.CategoricalDtype(pd.Index(given[:1],
                                                                                dtype="str")))
        return pd.Series(np.repeat(np.array(values, dtype=object), reps), dtype="str")
    if nullable_integer or (given and all(isinstance(v, int | np.integer)
                                          and not isinstance(v, bool) for v in given)):
        ints = np.repeat([0 if v is None else v for v in values], reps).astype(np.int64)
        missing = np.repeat([v is None for v in values], reps)
        return (pd.arrays.IntegerArray(ints, missing) if nullable_integer or missing.any()
                else ints)
    return np.repeat([math.nan if v is None else float(v) for v in values], reps)


def _trace_frame(rows: list[TraceRow], label: str) -> pd.DataFrame:
    rep, time, worker, event, computation, message, size, iteration = map(
        list, zip(*rows, strict=True))
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
    frame["iteration"] = np.array(iteration, dtype=np.int64)
    return frame
