"""The ``pssim`` command line."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from pssim.analysis.summary import summarize
from pssim.api import MAX_SEED, analyze, simulate
from pssim.errors import ConfigError, integer, writable_folder
from pssim.network import Network

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Simulate straggler-tolerant distributed gradient descent.")

OUTPUT_SUFFIXES = (".parquet", ".csv")


def _fail(err: ConfigError) -> None:
    typer.echo(f"Error: {err}", err=True)
    raise typer.Exit(2)


def _check_output(parameter: str, path: Path | None) -> None:
    if path is not None and path.suffix not in OUTPUT_SUFFIXES:
        raise ConfigError(parameter, str(path), "must end in .parquet or .csv")
    if path is not None and path.is_dir():
        raise ConfigError(parameter, str(path), "must be a file path, not a directory")
    if path is not None:
        writable_folder(parameter, path.parent, path)


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as Parquet or CSV, by the file's suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


@app.callback()
def _root() -> None:
    """pssim: a parameter-server cluster with stragglers."""


@app.command()
def run(
    scheme: Annotated[str, typer.Option(
        help="Scheme name, comma-separated list run on common random numbers, LCC(p), "
             "or 'all' (GC, LCC, LCC-MMC, LCC-MMC-2, UC-MMC, UC-MMC-PG).")] = "all",
    workers: Annotated[int, typer.Option(help="Number of workers N.")] = 40,
    load: Annotated[int, typer.Option(help="Computation load r per worker, 1..N.")] = 4,
    polynomials: Annotated[int | None, typer.Option(
        help="Polynomials p of the LCC family (must divide the load); default p = r.")] = None,
    pg_tolerance: Annotated[float, typer.Option(
        help="UC-MMC-PG tolerance τ in [0, 1): it stops at ⌈(1−τ)N⌉ partitions.")] = 0.05,
    mu: Annotated[float, typer.Option(help="Straggling rate μ > 0 (1/seconds).")] = 10.0,
    alpha: Annotated[float, typer.Option(help="Minimum duration α >= 0 of one computation "
                                              "(seconds).")] = 0.01,
    compute_times: Annotated[Path | None, typer.Option(
        help="CSV of explicit durations (seconds): columns worker, duration, and optionally "
             "computation (1..r) and rep. Replaces --mu/--alpha.")] = None,
    network: Annotated[str, typer.Option(help="none, fifo or fair.")] = "none",
    uplink_bandwidth: Annotated[str, typer.Option(
        help="Each worker's uplink: bytes/s, or with a unit ('10Gbps', '1.25GB/s').")] = "inf",
    master_bandwidth: Annotated[str, typer.Option(
        help="The master's shared link: bytes/s, or with a unit.")] = "inf",
    latency: Annotated[str, typer.Option(
        help="Propagation delay: seconds, or with a unit ('50us', '2ms').")] = "0",
    message_size: Annotated[str | None, typer.Option(
        help="Bytes per message, or with a unit ('4MB', '4MiB'); required for fifo "
             "and fair.")] = None,
    reps: Annotated[int, typer.Option(help="Realizations (independent iterations).")] = 1000,
    seed: Annotated[int, typer.Option(help="Root seed (integer >= 0).")] = 0,
    engine: Annotated[str, typer.Option(
        help="auto (default: vectorized where it applies, else des), des (SimPy: every "
             "network, traces), vectorized (numpy: networks none and fifo), or analytic "
             "(closed forms: count-rule schemes, ShiftedExponential, network none; prints "
             "mean and quantiles, --out writes the CDF).")] = "auto",
    trace: Annotated[Path | None, typer.Option(
        help="Write the event trace here (.parquet or .csv).")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Write the summary here (.parquet or .csv).")] = None,
    progress: Annotated[bool | None, typer.Option(
        help="Show a progress bar (default: when stderr is a terminal).")] = None,
) -> None:
    """Run schemes over many realizations; print mean completion time (seconds) with its
    95% confidence interval and mean messages per scheme."""
    try:
        _check_output("out", out)
        _check_output("trace", trace)
        if engine == "analytic":
            # The options the closed forms do not use must still be valid ones.
            integer("reps", reps, low=1)
            integer("seed", seed, low=0, high=MAX_SEED)
            Network.build(network, uplink_bandwidth=uplink_bandwidth,
                          master_bandwidth=master_bandwidth, latency=latency,
                          message_size=message_size)
            _analytic(scheme, workers, load, polynomials, pg_tolerance, mu, alpha,
                      compute_times, network, trace, out)
            return
        result = simulate(
            scheme, workers, load, polynomials=polynomials, pg_tolerance=pg_tolerance, mu=mu,
            alpha=alpha, compute_times=compute_times, network=network,
            uplink_bandwidth=uplink_bandwidth, master_bandwidth=master_bandwidth,
            latency=latency, message_size=message_size, reps=reps, seed=seed, engine=engine,
            trace=trace is not None,
            progress=sys.stderr.isatty() if progress is None else progress)
    except ConfigError as err:
        _fail(err)
        return
    if out is not None:
        write_table(result.summary, out)
    if trace is not None and result.trace is not None:
        write_table(result.trace, trace)
    typer.echo(format_table(result.summary))


def _analytic(scheme: str, workers: int, load: int, polynomials: int | None,
              pg_tolerance: float, mu: float, alpha: float, compute_times: Path | None,
              network: str, trace: Path | None, out: Path | None) -> None:
    for given, what in ((compute_times is not None, "explicit compute times"),
                        (network != "none", f"network {network!r}"),
                        (trace is not None, "a trace")):
        if given:
            raise ConfigError("engine", "analytic",
                              f"closed forms cover ShiftedExponential with network none and "
                              f"no trace, not {what}; use des or vectorized")
    table, cdf = analyze(scheme, workers, load, polynomials=polynomials,
                         pg_tolerance=pg_tolerance, mu=mu, alpha=alpha)
    if out is not None:
        write_table(cdf, out)
    quantiles = [c for c in table.columns if c.startswith("q")]
    typer.echo(f"{'scheme':<12} {'mean T (s)':>11} " + " ".join(
        f"{c.split('_')[0][1:] + ' q (s)':>11}" for c in quantiles))
    for _, row in table.iterrows():
        typer.echo(f"{row['scheme']:<12} {row['mean_completion_time']:>11.6f} "
                   + " ".join(f"{row[c]:>11.6f}" for c in quantiles))


def format_table(summary: pd.DataFrame) -> str:
    """Per-scheme mean completion time with its 95% CI, and mean messages."""
    s = summarize(summary)
    lines = [f"{'scheme':<12} {'reps':>7} {'mean T (s)':>11} {'95% CI (s)':>23} "
             f"{'messages':>9} {'sent':>9} {'computations':>12}"]
    more = summary.groupby("scheme", sort=False)[["messages_sent", "computations"]].mean()
    columns = zip(s["scheme"].tolist(), s["n"].tolist(), s["mean_completion_time"].tolist(),
                  s["ci_low"].tolist(), s["ci_high"].tolist(), s["mean_messages"].tolist(),
                  more["messages_sent"].tolist(), more["computations"].tolist(), strict=True)
    for name, n, mean, low, high, messages, sent, computations in columns:
        ci = "" if math.isnan(low) else f"[{low:.6f}, {high:.6f}]"
        lines.append(f"{name:<12} {n:>7} {mean:>11.6f} {ci:>23} {messages:>9.3f} {sent:>9.3f} "
                     f"{computations:>12.3f}")
    return "\n".join(lines)


@app.command()
def scenario(
    name: Annotated[str | None, typer.Argument(help="Scenario to run (see --list).")] = None,
    list_: Annotated[bool, typer.Option("--list", help="Describe the scenarios.")] = False,
    reps: Annotated[int | None, typer.Option(
        help="Realizations per point (default: the scenario's full size).")] = None,
    seed: Annotated[int, typer.Option(help="Root seed (integer >= 0).")] = 0,
    out: Annotated[Path | None, typer.Option(
        help="Output folder (default results/NAME).")] = None,
    svg: Annotated[bool, typer.Option(help="Also write SVG figures.")] = False,
    progress: Annotated[bool | None, typer.Option(
        help="Show a progress bar (default: when stderr is a terminal).")] = None,
) -> None:
    """Run a scenario script: data (Parquet), figures (PNG), the numbers behind each figure
    (CSV) and the resolved configuration (JSON) in one folder."""
    from pssim.scenarios import common

    if list_ or name is None:
        for key in common.NAMES:
            module = common.load(key)
            typer.echo(f"{key:<22} {module.DESCRIPTION} (default {module.DEFAULT_REPS} reps)")
        return
    try:
        output = common.execute(name, reps, seed, out, svg, progress)
    except ConfigError as err:
        _fail(err)
        return
    typer.echo(f"{name}: wrote {len(output.written)} files to {output.folder}")


@app.command()
def sweep(
    file: Annotated[Path, typer.Argument(help="Sweep file (TOML): [sweep], [grid], [fixed].")],
    out: Annotated[Path, typer.Option(help="Output folder (data/*.parquet, sweep.json, "
                                           "failures.json).")],
    executor: Annotated[str, typer.Option(help="serial, processes (default) or dask.")
                        ] = "processes",
    workers_per_host: Annotated[int | None, typer.Option(
        help="Processes (or Dask workers of a local cluster); default: all cores.")] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Address of a running Dask scheduler (tcp://HOST:PORT), with --executor "
             "dask.")] = None,
    chunk_size: Annotated[int | None, typer.Option(
        help="Realizations per chunk (default: [sweep] chunk_size, else 5000).")] = None,
    resume: Annotated[bool, typer.Option(
        help="Continue the sweep already in --out (re-running into it does the same).")
    ] = False,
    progress: Annotated[bool | None, typer.Option(
        help="Show a progress bar (default: when stderr is a terminal).")] = None,
) -> None:
    """Run a parameter sweep; finished chunks are kept, so a killed sweep resumes."""
    from pssim.sweep import load_file, run_sweep

    if scheduler is not None and executor != "dask":
        _fail(ConfigError("scheduler", scheduler, "needs --executor dask"))
    try:
        report = run_sweep(load_file(file), out, executor=executor,
                           workers_per_host=workers_per_host, scheduler=scheduler,
                           chunk_size=chunk_size, resume=resume,
                           progress=sys.stderr.isatty() if progress is None else progress)
    except ConfigError as err:
        _fail(err)
        return
    typer.echo(report.describe())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
