"""The ``pssim`` command line.

``pssim run``'s options are the fields of :class:`~pssim.config.Config`, with their help
texts, so a new parameter appears here by itself. They are read from :mod:`pssim.fields`,
plain data, and everything heavy (pydantic and the Config, pandas, SimPy, SciPy,
matplotlib) is imported only by the command that needs it, so ``pssim --help`` is fast
(docs/performance.md, "Start-up").
"""

from __future__ import annotations

import inspect
import math
import os
import re
import shlex
import signal
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pssim.errors import ConfigError, Note, finite, writable_folder
from pssim.fields import SPECS, grouped
from pssim.files import TABLE_SUFFIXES_TEXT, is_parquet, is_table

if TYPE_CHECKING:
    import pandas as pd

    from pssim.config import Config

# The group's own --help, when not given, would be None, which Typer converts through a
# pydantic TypeAdapter (about 0.1 s to import and build for `pssim run --help`); False, a
# bool, it passes as it is.
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"],
                                    "default_map": {"help": False}},
                  help="Simulate straggler-tolerant distributed gradient descent.")

#: How each kind of field is shown in the options' help.
_METAVARS = {"int": "INTEGER", "float": "NUMBER", "quantity": "QUANTITY", "str": "TEXT",
             "names": "NAMES", "floats": "NUMBERS", "table": "X:Y[:Z]"}


def _literal(text: str) -> str:
    """``text`` as the help shows it: Rich reads ``[stragglers]`` or ``[default: 40]`` as
    markup and drops it, so each such bracket is escaped (Rich's own rule, without
    importing Rich for every command)."""
    return re.sub(r"(\\*)(\[[a-z#/@][^[]*?])",
                  lambda m: f"{m.group(1)}{m.group(1)}\\{m.group(2)}", text)


def _fail(err: ConfigError) -> None:
    typer.echo(f"Error: {err}", err=True)
    raise typer.Exit(2)


def _stopped(stop: Exception, resume: str) -> None:
    """A run that stopped before its end (Ctrl-C, a worker lost): one line saying what is
    kept and how to resume; exit 130 when interrupted, else 1."""
    from pssim.execution import Interrupted

    typer.echo(f"{stop}; resume with: {resume}", err=True)
    raise typer.Exit(130 if isinstance(stop, Interrupted) else 1)


@contextmanager
def _terminate_as_ctrl_c() -> Iterator[None]:
    """Meanwhile, SIGTERM (kill's default, a batch scheduler's stop) ends the command as
    Ctrl-C does: temporary files removed, finished chunks kept, the resume command
    printed. A second SIGTERM kills at once."""

    def stop(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _notes() -> Iterator[None]:
    """Print each :class:`~pssim.errors.Note` raised meanwhile as one line on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", Note)
        try:
            yield
        finally:
            for note in dict.fromkeys(str(w.message) for w in caught
                                      if issubclass(w.category, Note)):
                typer.echo(f"note: {note}", err=True)


def _check_output(parameter: str, path: Path | None) -> None:
    """Everything about an output path that can be checked before simulating: its suffix,
    its folder, the length of its name, and that a file can be created beside it."""
    if path is None:
        return
    if not is_table(path):
        raise ConfigError(parameter, str(path), f"must end in {TABLE_SUFFIXES_TEXT}")
    writable_folder(parameter, path.parent, path)
    limit = os.pathconf(path.parent, "PC_NAME_MAX")
    if len(os.fsencode(path.name)) > limit:
        raise ConfigError(parameter, str(path), f"has a name longer than the {limit} bytes "
                          "this file system allows")
    if path.is_dir():
        raise ConfigError(parameter, str(path), "must be a file path, not a directory")
    probe = path.parent / f".pssim-probe-{os.getpid()}.tmp"
    try:
        probe.write_bytes(b"")
    except OSError as err:
        raise ConfigError(parameter, str(path), f"must be in a folder where files can be "
                          f"created ({err.strerror})") from None
    probe.unlink()


def write_table(frame: pd.DataFrame, path: Path, meta: dict[str, Any]) -> None:
    """Write ``frame`` as Parquet (with ``meta`` in its metadata) or CSV, by the file's
    suffix, to a temporary name renamed into place: a failed write leaves no partial
    file at ``path``."""
    from pssim.execution import write_parquet
    from pssim.files import write_atomically

    if is_parquet(path):
        write_parquet(frame, path, meta)
        return
    write_atomically(path, lambda tmp: frame.to_csv(tmp, index=False))


def _version(value: bool) -> None:
    if value:
        from pssim import provenance

        commit = provenance.commit()
        typer.echo(f"pssim {provenance.version()}" + (f" ({commit})" if commit else ""))
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="Print the version (and the git commit of a checkout) and exit.")] = False,
          ) -> None:
    """pssim: a parameter-server cluster with stragglers."""


def _shown(value: Any) -> str | None:
    """A default as the command line writes it (the Config reads it back to the same
    value)."""
    if value is None:
        return None
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return str(value)


def _config_options(skip: tuple[str, ...] = (), defaults: bool = True,
                    panel: str | None = None) -> Any:
    """Give a command one option per Config field (``--message-size`` for
    ``message_size``), except ``skip``, each taken as text and converted by the Config
    itself, so the command line and the Python API accept the same values and report the
    same errors. An option not given is None; ``defaults`` shows the Config's default in
    the help."""

    def decorate(command: Any) -> Any:
        params = []
        for name, spec in SPECS.items():
            if name in skip:
                continue
            shown = _shown(spec.default)
            # Given options only reach the Config, so that what a file of durations
            # implies (N, r, reps) is used where nothing was given.
            text = spec.help + (f" [default: {shown}]" if defaults and shown else "")
            option = typer.Option(f"--{name.replace('_', '-')}", help=_literal(text),
                                  metavar=_METAVARS.get(spec.kind, "TEXT"),
                                  rich_help_panel=panel)
            params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY,
                                            default=None,
                                            annotation=Annotated[str | None, option]))
        if not set(grouped("stragglers")) <= set(skip):
            option = typer.Option("--stragglers", metavar="FILE", rich_help_panel=panel,
                                  help=_literal("TOML file with a [stragglers] table (the "
                                  "straggler model, as pssim fit writes it); options given "
                                  "beside it take precedence."))
            params.append(inspect.Parameter("stragglers", inspect.Parameter.KEYWORD_ONLY,
                                            default=None,
                                            annotation=Annotated[str | None, option]))
        return _with_parameters(command, params)

    return decorate


def _given(options: dict[str, str | None]) -> dict[str, Any]:
    """The Config options given on the command line, with the keys of a ``--stragglers``
    file beneath them."""
    given: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    path = given.pop("stragglers", None)
    if path is None:
        return given
    from pssim.compute import stragglers

    return {**stragglers.read(path), **given}


def _with_parameters(command: Any, params: list[inspect.Parameter]) -> Any:
    """``command`` with ``params`` added before its own options (Typer reads the signature
    and the annotations); the command receives them through its ``**`` parameter."""
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values()
           if p.kind is not inspect.Parameter.VAR_KEYWORD]
    # Arguments first, then options: the order a signature requires (the sort is stable).
    command.__signature__ = inspect.Signature(sorted(params + own, key=lambda p: p.kind))
    command.__annotations__ = {**{p.name: p.annotation for p in params},
                               **{p.name: p.annotation for p in own}}
    return command


@app.command()
@_config_options()
def run(
    *,
    trace: Annotated[Path | None, typer.Option(
        help="Write the event trace here (.parquet or .csv).")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Write the summary here (.parquet or .csv; with --engine analytic, the CDF "
             "of T).")] = None,
    progress: Annotated[bool | None, typer.Option(
        help="Show a progress bar (default: when stderr is a terminal).")] = None,
    baseline: Annotated[str | None, typer.Option(
        help="A scheme of the run: print each scheme's completion time (a training run's "
             "total time) relative to it, with a 95% CI paired on common realizations.")
    ] = None,
    **given: str | None,
) -> None:
    """Run schemes over many realizations; print mean completion time (seconds) with its
    95% confidence interval and mean messages per scheme, then the run's assumptions."""
    from pssim import api

    try:
        _check_output("out", out)
        _check_output("trace", trace)
        if out is not None and trace is not None and out.resolve() == trace.resolve():
            raise ConfigError("trace", str(trace), "must be another file than --out (the "
                              "summary would be overwritten)")
        with _notes():
            options = _given(given)
            config = api.configure(**options)
            if config.engine == "analytic":
                if baseline is not None:
                    raise ConfigError("baseline", baseline, "needs realizations to pair; "
                                      "the analytic engine gives distributions: use des "
                                      "or vectorized")
                _analytic(config, trace, out, options)
                return
            label = None if baseline is None else api.baseline_label(config, baseline)
            result = api.simulate(config, trace=trace is not None,
                                  progress=sys.stderr.isatty() if progress is None
                                  else progress)
    except ConfigError as err:
        _fail(err)
        return
    from pssim import provenance

    meta = {"config": config.to_json(), **provenance.stamp()}
    failed = []
    for path, frame in ((out, result.summary), (trace, result.trace)):
        if path is not None and frame is not None:
            try:
                write_table(frame, path, meta)
            except OSError as err:
                failed.append(f"Error: could not write {path} ({err.strerror or err})")
    from pssim.assumptions import describe

    typer.echo(format_table(result.summary, label))
    typer.echo(f"assumptions: {describe(config)}")
    if failed:
        typer.echo("\n".join(failed), err=True)
        raise typer.Exit(1)


def _analytic(config: Config, trace: Path | None, out: Path | None,
              given: dict[str, Any]) -> None:
    from pssim.api import analyze
    from pssim.assumptions import describe

    if trace is not None:
        raise ConfigError("engine", "analytic", "gives distributions, not an event trace; "
                          "use des")
    from pssim import provenance

    table, cdf = analyze(config)
    # Options written for the other engines still run, and are said to do nothing here.
    unused = [f"--{name.replace('_', '-')} {given[name]}"
              for name in ("reps", "seed", "message_size") if name in given]
    if unused:
        warnings.warn(f"{', '.join(unused)} {'has' if len(unused) == 1 else 'have'} no "
                      "effect with engine analytic (a distribution, not realizations)", Note,
                      stacklevel=2)
    if out is not None:
        write_table(cdf, out, {"config": config.to_json(), **provenance.stamp()})
    quantiles = [c for c in table.columns if c.startswith("q")]
    typer.echo(f"{'scheme':<12} {'mean T (s)':>11} " + " ".join(
        f"{c.split('_')[0][1:] + ' q (s)':>11}" for c in quantiles))
    for _, row in table.iterrows():
        typer.echo(f"{row['scheme']:<12} {_number(row['mean_completion_time'], 11)} "
                   + " ".join(_number(row[c], 11) for c in quantiles))
    typer.echo("")
    typer.echo(f"assumptions: {describe(config)}")


def _number(value: float, width: int, decimals: int = 6, widest: int | None = None) -> str:
    """``value`` right-aligned in ``width``: fixed-point with ``decimals``, unless that
    is wider than ``widest`` (default ``width``: 1e300 would take 300 digits) or keeps a
    single digit of a small number (1e-9); then in as many significant digits."""
    text = f"{value:.{decimals}f}"
    if (len(text) > (widest or width)
            or (value != 0 and abs(value) < 10.0 ** (1 - decimals))):
        text = f"{value:.{decimals}g}"
    return f"{text:>{width}}"


def _interval(low: float, high: float, width: int, decimals: int = 6) -> str:
    """``[low, high]`` right-aligned in ``width``; blank when there is no interval."""
    if math.isnan(low):
        return " " * width
    bounds = (_number(x, 0, decimals, widest=decimals + 7) for x in (low, high))
    return f"{'[{}, {}]'.format(*bounds):>{width}}"


def format_table(summary: pd.DataFrame, baseline: str | None = None) -> str:
    """Per-scheme mean completion time with its 95% CI, and mean messages; for training
    runs, per iteration, with the mean total training time (T_{K−1}) and its 95% CI and
    the mean late messages per iteration. With ``baseline`` (a scheme of the summary),
    each scheme's ratio to it on the same realizations, with its paired 95% CI (on the
    total time of a training run), and a line that says how it is computed."""
    from pssim.analysis.summary import paired_ratio, summarize

    if "update" in summary:
        return _format_updates(summary, baseline)
    iterations = int(summary["iteration"].max()) + 1 if "iteration" in summary else 1
    s = summarize(summary)
    more = summary.groupby("scheme", sort=False)[["messages_sent", "computations",
                                                  *(["late_messages"] if iterations > 1
                                                    else [])]].mean()
    last = summary[summary["iteration"] == iterations - 1] if iterations > 1 else summary
    time = "end" if iterations > 1 else "completion_time"
    ratios: list[str] = [""] * len(s)
    if baseline is not None:
        paired = paired_ratio(last, baseline, value=time).set_index("scheme")
        ratios = [f" {_number(paired.loc[name, 'ratio'], 8, 4)} "
                  f"{_interval(paired.loc[name, 'ci_low'], paired.loc[name, 'ci_high'], 18, 4)}"
                  for name in s["scheme"]]
    extra = f" {'ratio':>8} {'95% CI (ratio)':>18}" if baseline is not None else ""
    if iterations > 1:
        total = summarize(last.assign(completion_time=last["end"]))
        lines = [f"{'scheme':<12} {'reps':>7} {'training (s)':>13} {'95% CI (s)':>23} "
                 f"{'T/iter (s)':>11} {'messages':>9} {'sent':>9} {'late':>7}{extra}"]
        rows = zip(total["scheme"].tolist(), total["n"].tolist(),
                   total["mean_completion_time"].tolist(), total["ci_low"].tolist(),
                   total["ci_high"].tolist(), s["mean_completion_time"].tolist(),
                   s["mean_messages"].tolist(), more["messages_sent"].tolist(),
                   more["late_messages"].tolist(), ratios, strict=True)
        for name, n, mean, low, high, per, messages, sent, late, ratio in rows:
            lines.append(f"{name:<12} {n:>7} {_number(mean, 13)} {_interval(low, high, 23)} "
                         f"{_number(per, 11)} {_number(messages, 9, 3)} "
                         f"{_number(sent, 9, 3)} {_number(late, 7, 3)}{ratio}")
    else:
        lines = [f"{'scheme':<12} {'reps':>7} {'mean T (s)':>11} {'95% CI (s)':>23} "
                 f"{'messages':>9} {'sent':>9} {'computations':>12}{extra}"]
        columns = zip(s["scheme"].tolist(), s["n"].tolist(),
                      s["mean_completion_time"].tolist(), s["ci_low"].tolist(),
                      s["ci_high"].tolist(), s["mean_messages"].tolist(),
                      more["messages_sent"].tolist(), more["computations"].tolist(), ratios,
                      strict=True)
        for name, n, mean, low, high, messages, sent, computations, ratio in columns:
            lines.append(f"{name:<12} {n:>7} {_number(mean, 11)} {_interval(low, high, 23)} "
                         f"{_number(messages, 9, 3)} {_number(sent, 9, 3)} "
                         f"{_number(computations, 12, 3)}{ratio}")
    lines.append("")
    if baseline is not None:
        what = "training time" if iterations > 1 else "T"
        lines.append(f"ratio: each scheme's {what} over {baseline}'s on the same "
                     "realizations (common random numbers): the geometric mean of the "
                     "per-realization ratios, with the paired Student-t 95% CI of their "
                     "logs")
    return "\n".join(lines)


def _format_updates(summary: pd.DataFrame, baseline: str | None) -> str:
    """Under a server policy, per scheme: the mean training time (the last update's end)
    with its 95% CI, and per update the mean time, gradients used, their staleness, late
    messages and cancelled computations; with ``baseline``, the training time's paired
    ratio to it."""
    from pssim.analysis.summary import paired_ratio, summarize

    last = summary[summary["update"] == summary["update"].max()]
    ratios: dict[str, str] = {}
    if baseline is not None:
        paired = paired_ratio(last, baseline, value="end").set_index("scheme")
        ratios = {str(name): f" {_number(row['ratio'], 8, 4)} "
                             f"{_interval(row['ci_low'], row['ci_high'], 18, 4)}"
                  for name, row in paired.iterrows()}
    total = summarize(last.assign(completion_time=last["end"]))
    per = summary.groupby("scheme", sort=False)[["completion_time", "gradients",
                                                 "staleness_mean", "late_messages",
                                                 "cancelled"]].mean()
    lines = [f"{'scheme':<12} {'reps':>7} {'training (s)':>13} {'95% CI (s)':>23} "
             f"{'T/update (s)':>13} {'gradients':>9} {'staleness':>9} {'late':>7} "
             f"{'cancelled':>9}" + (f" {'ratio':>8} {'95% CI (ratio)':>18}"
                                     if baseline is not None else "")]
    rows = zip(total["scheme"].tolist(), total["n"].tolist(),
               total["mean_completion_time"].tolist(), total["ci_low"].tolist(),
               total["ci_high"].tolist(), strict=True)
    for name, n, mean, low, high in rows:
        p = per.loc[name]
        lines.append(f"{name:<12} {n:>7} {_number(mean, 13)} {_interval(low, high, 23)} "
                     f"{_number(p['completion_time'], 13)} {_number(p['gradients'], 9, 3)} "
                     f"{_number(p['staleness_mean'], 9, 3)} "
                     f"{_number(p['late_messages'], 7, 3)} {_number(p['cancelled'], 9, 3)}"
                     f"{ratios.get(name, '')}")
    lines.append("")
    if baseline is not None:
        lines.append(f"ratio: each scheme's training time over {baseline}'s on the same "
                     "realizations (common random numbers), as for training runs")
    return "\n".join(lines)


@app.command()
@_config_options(skip=("reps", "seed"), defaults=False,
                 panel="Overrides of the scenario's base configuration")
def scenario(
    name: Annotated[str | None, typer.Argument(help="Scenario to run (see --list).")] = None,
    *,
    list_: Annotated[bool, typer.Option("--list", help="Describe the scenarios.")] = False,
    reps: Annotated[int | None, typer.Option(
        help="Realizations per point (default: the scenario's full size).")] = None,
    seed: Annotated[int, typer.Option(help="Root seed (integer >= 0).")] = 0,
    out: Annotated[Path | None, typer.Option(
        help="Output folder (default results/NAME). Running again into it skips the "
             "finished chunks: a finished folder is only reported again.")] = None,
    svg: Annotated[bool, typer.Option(help="Also write SVG figures.")] = False,
    executor: Annotated[str, typer.Option(help="serial, processes (default) or dask.")
                        ] = "processes",
    workers_per_host: Annotated[int | None, typer.Option(
        help="Processes (or Dask workers); default: all cores.")] = None,
    bandwidth_unit: Annotated[str, typer.Option(
        help="Unit of the bandwidths in tables and figures: B/s, kB/s, MB/s, GB/s, kbps, "
             "Mbps, Gbps or Tbps.")] = "B/s",
    progress: Annotated[bool | None, typer.Option(
        help="Show a progress bar (default: when stderr is a terminal).")] = None,
    **overrides: str | None,
) -> None:
    """Run a scenario: its base configuration over the factors it varies, through the
    sweep machinery, then its figures (PNG), the numbers behind each (CSV), its data
    (data/*.parquet) and its resolved configuration (config.json) in one folder. Any base
    parameter the scenario does not vary can be overridden (--workers 80, say)."""
    from pssim.scenarios import common

    if list_ or name is None:
        for key, known in common.scenarios().items():
            typer.echo(f"{key:<22} {known.description} (default {known.default_reps} reps)")
        return
    from pssim.execution import Stopped

    try:
        given = _given(overrides)
        with _notes():
            output = common.execute(name, reps, seed, out, svg, progress, executor=executor,
                                    workers_per_host=workers_per_host,
                                    bandwidth_unit=bandwidth_unit, overrides=given)
    except ConfigError as err:
        _fail(err)
        return
    except Stopped as stop:
        again = " ".join([f"pssim scenario {name}", *(f"--{k.replace('_', '-')} {v}"
                                                      for k, v in given.items()),
                          *(f"--{k} {v}" for k, v in (("reps", reps), ("seed", seed))
                            if v is not None),
                          f"--out {out or Path('results') / name}"])
        _stopped(stop, again)
        return
    typer.echo(f"{name}: wrote {len(output.written)} files and data/ to {output.folder}")


_SAMPLED = ("workers", "load", "iterations", "reps", "seed", "compute_times",
            *grouped("stragglers"))


@app.command()
@_config_options(skip=tuple(name for name in SPECS if name not in _SAMPLED))
def sample(
    *,
    out: Annotated[Path, typer.Option(
        help="Write the durations here (.parquet, .pq or .csv).")],
    plot: Annotated[bool, typer.Option(
        help="Also draw the durations' ECDF and a heatmap of worker × iteration (rep 0), "
             "beside --out (NAME_ecdf.png, NAME_heatmap.png).")] = False,
    **given: str | None,
) -> None:
    """Draw durations from a straggler model (or a table of durations) and write them
    long-form: rep, iteration, worker, computation, duration and finish (seconds from the
    start of the iteration), one row per computation."""
    from pssim import api, sampling

    try:
        _check_output("out", out)
        with _notes(), _terminate_as_ctrl_c():
            config = api.configure(**_given(given))
            sampling.sample(config, out=out)
    except ConfigError as err:
        _fail(err)
        return
    except OSError as err:  # the disk filled or the folder went away: nothing is left
        typer.echo(f"Error: could not write {out} ({err.strerror or err})", err=True)
        raise typer.Exit(1) from None
    rows = config.reps * config.iterations * config.workers * config.load
    typer.echo(f"wrote {rows} durations ({config.reps} reps × {config.iterations} "
               f"iterations × {config.workers} workers × {config.load} computations) to {out}")
    if plot:
        try:
            figures = _plot_sample(out)
        except OSError as err:
            typer.echo(f"Error: could not write the figures beside {out} "
                       f"({err.strerror or err})", err=True)
            raise typer.Exit(1) from None
        for figure in figures:
            typer.echo(f"wrote {figure}")


def _plot_sample(path: Path) -> list[Path]:
    """The ECDF of a sample's durations (its first million) and the heatmap of rep 0."""
    import pandas as pd

    from pssim.analysis import fits

    columns = ["rep", "iteration", "worker", "duration"]
    if is_parquet(path):
        import pyarrow.parquet as pq

        source = pq.ParquetFile(path)
        head = next(source.iter_batches(batch_size=2**20, columns=columns)).to_pandas()
    else:
        head = pd.read_csv(path, usecols=columns, nrows=2**20)
    stem = path.with_suffix("")
    return [fits.save_figure(fits.plot_duration_ecdf(head["duration"]),
                             stem.with_name(f"{stem.name}_ecdf.png")),
            fits.save_figure(fits.plot_worker_heatmap(head[head["rep"] == 0]),
                             stem.with_name(f"{stem.name}_heatmap.png"))]


@app.command()
def report(
    out: Annotated[Path, typer.Option(help="Folder of the report.")] = Path("results"),
    reps: Annotated[int | None, typer.Option(
        help="Realizations per point for every scenario (default: each one's full size).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Root seed (integer >= 0).")] = 0,
    gallery: Annotated[Path | None, typer.Option(
        help="Also write half-size copies of the figures here.")] = None,
    executor: Annotated[str, typer.Option(help="serial, processes (default) or dask.")
                        ] = "processes",
    bandwidth_unit: Annotated[str, typer.Option(
        help="Unit of the bandwidths in tables and figures: B/s, kB/s, MB/s, GB/s, kbps, "
             "Mbps, Gbps or Tbps.")] = "B/s",
    progress: Annotated[bool | None, typer.Option(
        help="Show progress bars (default: when stderr is a terminal).")] = None,
) -> None:
    """Run the paper's figures and the bottleneck studies into one folder and write
    REPORT.md (the main job of ``make run``)."""
    from pssim.execution import Stopped
    from pssim.scenarios.report import make_report

    try:
        with _notes():
            path = make_report(out, reps, seed, gallery, progress, typer.echo,
                               executor=executor, bandwidth_unit=bandwidth_unit)
    except Stopped as stop:
        _stopped(stop, f"pssim report --out {out}" + (f" --reps {reps}" if reps else "")
                 + f" --seed {seed}")
        return
    except ConfigError as err:
        _fail(err)
        return
    typer.echo(f"wrote {path}")


#: ``pssim train``'s own defaults where the Config's would make a dull or slow run: a
#: training run of 100 iterations, 10 realizations (under fifo or fair, the SimPy engine
#: with its trace gives the clock).
TRAIN_DEFAULTS = {"iterations": "100", "reps": "10"}
#: The quantiles over realizations between which ``pssim train`` shows the time to target.
TRAIN_SPREAD = (0.1, 0.9)


@app.command()
@_config_options()
def train(
    *,
    data: Annotated[Path | None, typer.Option(
        help="CSV or Parquet table: the --target column is y, every other column a "
             "feature (numbers only, none missing).", rich_help_panel="Problem")] = None,
    target: Annotated[str | None, typer.Option(
        help="The target column of --data.", rich_help_panel="Problem")] = None,
    synthetic: Annotated[str | None, typer.Option(
        help="ROWS,FEATURES[,NOISE]: X and the true w standard normal, y = Xw + "
             "NOISE·N(0, 1) (least squares; for logistic see --problem) (default "
             "40000,100,1 when no --data).",
        rich_help_panel="Problem")] = None,
    data_seed: Annotated[int, typer.Option(
        help="Seed of the synthetic data.", rich_help_panel="Problem")] = 0,
    problem: Annotated[str, typer.Option(
        help="The learning problem: least_squares, or logistic (labels 0 or 1; --synthetic "
             "draws y = 1 with probability σ(x·w/NOISE), w ~ N(0, I/d); L = "
             "λ_max(XᵀX)/(4m); not the LCC family).", rich_help_panel="Problem")
    ] = "least_squares",
    step: Annotated[float | None, typer.Option(
        help="Step size η (default 1/L, L = λ_max(XᵀX)/m for least squares and "
             "λ_max(XᵀX)/(4m) for logistic).", rich_help_panel="Problem")
    ] = None,
    points: Annotated[str, typer.Option(
        help="LCC's evaluation points: chebyshev, equispaced, or circle (roots of unity, "
             "with --basis laurent).", rich_help_panel="Problem")
    ] = "chebyshev",
    basis: Annotated[str, typer.Option(
        help="LCC's interpolation basis: chebyshev, barycentric, monomial, or laurent "
             "(with --points circle).",
        rich_help_panel="Problem")] = "chebyshev",
    staleness_power: Annotated[float, typer.Option(
        help="Under a --server policy, a gradient of staleness s steps by "
             "η·(1 + s)^(−STALENESS_POWER) (>= 0; 0: a constant step, 1: divided by 1 + s).",
        rich_help_panel="Problem")] = 0.0,
    field: Annotated[str, typer.Option(
        help="The LCC family's arithmetic: real, or prime (exact over prime fields on "
             "fixed-point data and model; least squares, LCC schemes only).",
        rich_help_panel="Problem")] = "real",
    quantization: Annotated[int | None, typer.Option(
        help="Fraction bits of the fixed-point data and model with --field prime "
             "(default 16).", rich_help_panel="Problem")] = None,
    within: Annotated[float, typer.Option(
        help="The target loss is (1 + WITHIN)·f(w*).", rich_help_panel="Problem")] = 0.01,
    out: Annotated[Path | None, typer.Option(
        help="Write the per-iteration table (timing, loss, gradient_error, "
             "condition_number) here (.parquet or .csv).")] = None,
    weights: Annotated[Path | None, typer.Option(
        help="Write the final models here (.parquet or .csv): scheme, rep, feature, "
             "weight.")] = None,
    **given: str | None,
) -> None:
    """Coded gradient descent with real numbers: each scheme's workers compute least-squares
    (or logistic) gradients on their (encoded) partitions, the master decodes from the
    messages it holds at T_t, and the loss is reported against the simulated clock. Prints
    per scheme the time and iterations to the target loss, the final loss and the gradient
    error. Unless given, --iterations is 100 and --reps 10."""
    from pssim import api, learning

    try:
        _check_output("out", out)
        _check_output("weights", weights)
        if out is not None and weights is not None and out.resolve() == weights.resolve():
            raise ConfigError("weights", str(weights), "must be another file than --out")
        within = finite("within", within, low=0.0)
        if data is not None and synthetic is not None:
            raise ConfigError("data", str(data), "is given with --synthetic: choose one")
        if data is None and target is not None:
            raise ConfigError("target", target, "needs --data FILE")
        with _notes():
            options: dict[str, Any] = {**TRAIN_DEFAULTS, **_given(given)}
            config = api.configure(**options)
            task = (learning.Problem.from_file(data, target, problem) if data is not None
                    else learning.Problem.parse_synthetic(
                        synthetic or learning.DEFAULT_SYNTHETIC, data_seed, problem))
            result = learning.train(config, task, step=step, points=points, basis=basis,
                                    staleness_power=staleness_power, field=field,
                                    quantization=quantization)
    except ConfigError as err:
        _fail(err)
        return
    from pssim import provenance
    from pssim.analysis.convergence import convergence_table

    meta = {"config": config.to_json(), **provenance.stamp(),
            "problem": task.name, "step": result.step, "optimal_loss": result.optimal_loss,
            "field": field, "quantization": quantization}
    failed = []
    for path, frame in ((out, result.summary), (weights, result.weights)):
        if path is not None:
            try:
                write_table(frame, path, meta)
            except OSError as err:
                failed.append(f"Error: could not write {path} ({err.strerror or err})")
    from pssim.assumptions import describe

    goal = (1 + within) * result.optimal_loss
    table = convergence_table(result.summary, goal, spread=TRAIN_SPREAD)
    quantiles = "–".join(f"{100 * q:g}%" for q in TRAIN_SPREAD)
    steps = "iterations" if config.server == "sync" else "updates"
    typer.echo(f"{task.name}; step {result.step:.6g}; f(w*) = {result.optimal_loss:.6g}, "
               f"target loss {goal:.6g}")
    typer.echo(f"{'scheme':<12} {'reached':>8} {'median time (s)':>15} {quantiles + ' (s)':>21} "
               f"{steps:>10} {'final loss':>12} {'worst error':>12} "
               f"{'worst cond':>11}" + (f" {'quant. error':>12}" if field == "prime" else ""))
    spreads = ["" if math.isnan(low) else f"[{low:.4g}, {high:.4g}]"
               for low, high in zip(table["low_time_to_target"].tolist(),
                                    table["high_time_to_target"].tolist(), strict=True)]
    for row, spread in zip(table.itertuples(index=False), spreads, strict=True):
        typer.echo(f"{row.scheme:<12} {row.reached:>8.0%} {row.median_time_to_target:>15.4g} "
                   f"{spread:>21} {row.median_iterations_to_target:>10.4g} "
                   f"{row.median_final_loss:>12.6g} {row.worst_gradient_error:>12.3g} "
                   f"{row.worst_condition_number:>11.3g}"
                   + (f" {row.worst_quantization_error:>12.3g}" if field == "prime" else ""))
    typer.echo("")
    typer.echo(f"time, {steps} and final loss are medians over the realizations (time "
               f"and {steps} over those that reach the target); {quantiles}: the spread "
               f"of the time to the target over them, between those quantiles")
    if field == "prime":
        typer.echo(f"field prime: {result.arithmetic}; the decode is exact, so "
                   f"the gradient error is the quantization error (‖G_q − G‖/‖G‖, "
                   f"G_q the fixed-point gradient)")
    typer.echo(f"assumptions: {describe(config)}")
    if failed:
        typer.echo("\n".join(failed), err=True)
        raise typer.Exit(1)


@app.command(help=(
    "Run a parameter sweep; finished chunks are kept, so a killed sweep resumes.\n\n"
    # Rich reads [name] as markup: the backslash keeps the table names.
    "The sweep file is TOML with three tables: \\[sweep] (seed, reps, schemes, chunk_size), "
    "\\[grid] (lists, whose product is the points) and \\[fixed] (one value each); see "
    "docs/sweeps.md. Exits with 1 when a point failed (after writing all the others) or the "
    "disk is full, and 130 when interrupted (Ctrl-C or SIGTERM); finished chunks are kept."))
def sweep(
    file: Annotated[Path, typer.Argument(help="Sweep file (TOML).")],
    out: Annotated[Path, typer.Option(help="Output folder (data/*.parquet, sweep.json, "
                                           "failures.json).")],
    executor: Annotated[str, typer.Option(help="serial, processes (default) or dask.")
                        ] = "processes",
    workers_per_host: Annotated[int | None, typer.Option(
        help="Processes (or Dask workers of a local cluster); default: all cores.")] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Address of a running Dask scheduler (tcp://HOST:PORT), with --executor "
             "dask.")] = None,
    connect_timeout: Annotated[float, typer.Option(
        help="Seconds to wait for the Dask scheduler to answer.")] = 10.0,
    chunk_size: Annotated[int | None, typer.Option(
        help="Realizations per chunk (default: the file's chunk_size, else 5000).")] = None,
    resume: Annotated[bool, typer.Option(
        help="Continue the sweep already in --out (re-running into it does the same).")
    ] = False,
    force: Annotated[bool, typer.Option(
        help="Run even a sweep beyond the size limits (10^5 points, 10^6 tasks, 10^9 "
             "summary rows).")] = False,
    progress: Annotated[bool | None, typer.Option(
        help="Show a progress bar (default: when stderr is a terminal).")] = None,
) -> None:
    from pssim.execution import Stopped
    from pssim.sweep import load_file, run_sweep

    try:
        with _notes(), _terminate_as_ctrl_c():
            result = run_sweep(load_file(file), out, executor=executor,
                               workers_per_host=workers_per_host, scheduler=scheduler,
                               connect_timeout=connect_timeout, chunk_size=chunk_size,
                               resume=resume, force=force,
                               progress=sys.stderr.isatty() if progress is None else progress)
    except ConfigError as err:
        _fail(err)
        return
    except Stopped as stop:
        options = {"--executor": None if executor == "processes" else executor,
                   "--scheduler": scheduler, "--workers-per-host": workers_per_host,
                   "--chunk-size": chunk_size}
        # --resume insists on the folder's sweep.json, which a run stopped at its start
        # has not written.
        again = ["pssim", "sweep", str(file), "--out", str(out),
                 *(["--resume"] if (out / "sweep.json").is_file() else []),
                 *(x for k, v in options.items() if v is not None for x in (k, str(v))),
                 *(["--force"] if force else [])]
        _stopped(stop, shlex.join(again))
        return
    typer.echo(result.describe())
    if result.failures:
        typer.echo(f"Error: {len(result.failures)} of {result.points} points failed (see "
                   f"{out / 'failures.json'}); the others are written", err=True)
        raise typer.Exit(1)


@app.command()
def fit(
    trace: Annotated[Path, typer.Argument(
        help="Trace of durations (.csv, .parquet or .pq): columns worker, duration (s), rep "
             "and/or iteration, optionally computation (other names: --columns).")],
    out: Annotated[Path | None, typer.Option(
        help="Also write fits.csv, persistence.csv, workers.csv, groups.csv, model.toml and "
             "the figures (ecdf.png, heatmap.png) into this folder.")] = None,
    threshold: Annotated[float, typer.Option(
        help="A worker-iteration is slow when its duration exceeds THRESHOLD × its "
             "iteration's median (>= 1).")] = 2.0,
    markov: Annotated[bool, typer.Option(
        help="Add to the model the slowdown the evidence picks, a Markov chain or "
             "persistent stragglers, when there is one (the families are then fitted to "
             "the durations with the slowdown taken out).")] = False,
    columns: Annotated[str | None, typer.Option(
        help="The trace's own column names, NAME=COLUMN pairs such as "
             "iteration=round,worker=worker_id,duration=step_time_s (NAME: rep, iteration, "
             "worker, computation, duration); common aliases need none.")] = None,
    group_sizes: Annotated[str | None, typer.Option(
        metavar="SIZES", help="Block sizes to test for groups of consecutive workers that "
        "slow together, comma-separated ('4,8'; default every size from 2 to N − 1).")] = None,
) -> None:
    """Fit straggler models to a measured trace: maximum-likelihood fits of the four shifted
    families (exponential, gamma, lognormal, pareto) with log-likelihood, AIC and KS
    test, the persistence of slowness (correlation between halves, lag-1 autocorrelation,
    a Markov fit), the share of a factor common to all workers and groups of workers
    that slow together; the model of lowest AIC in the \\[stragglers] format
    (docs/fitting.md)."""
    from pssim.analysis.fits import fit_trace, parse_columns, read_table, write_report

    try:
        if out is not None:
            writable_folder("out", out)
        mapping = None if columns is None else parse_columns(columns)
        report = fit_trace(read_table(trace), threshold=threshold, markov=markov,
                           source=str(trace), columns=mapping,
                           group_sizes=None if group_sizes is None else group_sizes.split(","))
    except ConfigError as err:
        _fail(err)
        return
    typer.echo(report.text())
    if out is None:
        return
    try:
        written = write_report(report, out)
    except ConfigError as err:
        _fail(err)
        return
    except OSError as err:
        typer.echo(f"Error: could not write into {out} ({err.strerror or err})", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {len(written)} files to {out}")


def main(args: list[str] | None = None) -> None:
    """The ``pssim`` command: a parser error (an unknown option, a value of the wrong type)
    is one line that names the option and the value, with exit code 2."""
    import importlib

    try:  # recent Typer releases carry their own copy of Click
        clicks: Any = importlib.import_module("typer._click.exceptions")
    except ImportError:
        clicks = importlib.import_module("click.exceptions")

    command = typer.main.get_command(app)
    try:
        code = command.main(args=args, prog_name="pssim", standalone_mode=False)
    except clicks.NoArgsIsHelpError as err:
        # Rich has printed the help already; plain Click hands it over as the message.
        if (text := err.format_message().strip()):
            typer.echo(text)
        sys.exit(0)
    except clicks.UsageError as err:
        # BadParameter names the option itself; one line, whatever Click's wording.
        typer.echo(f"Error: {' '.join(err.format_message().split())}", err=True)
        sys.exit(2)
    except typer.Abort:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
