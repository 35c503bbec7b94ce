"""The fit of a trace as a report: :func:`fit_trace`, its text, its files and its figures
(docs/fitting.md)."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pssim.analysis.fits.families import PARAMETERS, chosen_family, fit_families, frozen
from pssim.analysis.fits.groups import GroupsFit, fit_groups
from pssim.analysis.fits.persistence import (
    DEFAULT_THRESHOLD,
    SIGNIFICANT_Z,
    SUGGESTED_SLOW_SHARE,
    Persistence,
    common,
    frame,
    measure,
)
from pssim.analysis.fits.slowdown import Slowdown, choose
from pssim.analysis.fits.trace import check_trace, cube, one_per_iteration, resolve_columns
from pssim.errors import finite, writable_folder
from pssim.files import write_atomically

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class FitReport:
    """What :func:`fit_trace` found; :meth:`text` is the printable report."""

    source: str
    trace: pd.DataFrame
    durations: np.ndarray = field(repr=False)
    granularity: str
    shape: tuple[int, int, int]
    fits: pd.DataFrame
    persistence: Persistence
    chosen: str | None
    markov: dict[str, float] | None
    toml: str | None
    notes: tuple[str, ...] = ()
    slowdown: Slowdown | None = None
    groups: GroupsFit | None = None

    def model(self) -> dict[str, Any] | None:
        """The chosen model as the ``[stragglers]`` table (None when no family fitted)."""
        if self.chosen is None:
            return None
        names = list(PARAMETERS[self.chosen])
        values = self.fits.loc[self.fits["family"] == self.chosen, names].to_numpy(float)[0]
        table: dict[str, Any] = {"family": self.chosen}
        table.update({k: float(v) for k, v in zip(names, values, strict=True)})
        table["granularity"] = self.granularity
        if self.markov is not None:
            name = "persistent" if "fraction" in self.markov else "markov"
            table[name] = dict(self.markov)
        if self.groups is not None and self.groups.significant:
            table["groups"] = self.groups.value()
        return table

    def text(self) -> str:
        reps, iterations, workers = self.shape
        draws = ("one per worker and iteration" if self.granularity == "per_iteration"
                 else "one per computation")
        x = self.trace["duration"].to_numpy(dtype=float)
        lines = [f"trace: {self.source}: {_count(workers, 'worker')}, "
                 f"{_count(iterations, 'iteration')}, {_count(reps, 'rep')}; "
                 f"{_count(len(x), 'duration')} ({draws}: {self.granularity})",
                 f"durations (s): {_spread(x)}"]
        if self.markov is not None:
            lines.append("fitted: the durations with the slow worker-iterations' divided by "
                         f"the factor {self.markov['factor']:.4g} (the fast state): "
                         f"{_spread(self.durations)}")
        lines += [*self.notes, "",
                  f"{'family':<12} {'parameters':<50} {'loglik':>14} {'AIC':>14} "
                  f"{'KS stat':>9} {'KS p':>9}"]
        for _, row in self.fits.iterrows():
            if not math.isfinite(row["aic"]):
                lines.append(f"{row['family']:<12} {row['note']}")
                continue
            params = " ".join(f"{k}={row[k]:.6g}" for k in PARAMETERS[row["family"]])
            lines.append(f"{row['family']:<12} {params:<50} {row['loglik']:>14.6g} "
                         f"{row['aic']:>14.6g} {row['ks_stat']:>9.4g} "
                         f"{row['ks_pvalue']:>9.3g}")
        lines.append("chosen: " + (f"{self.chosen} (lowest AIC)" if self.chosen
                                   else "none (no family could be fitted)"))
        lines += ["", *self._persistence_lines()]
        if self.toml is not None:
            lines += ["", "model.toml:", self.toml.rstrip()]
        return "\n".join(lines)

    def _persistence_lines(self) -> list[str]:
        p = self.persistence

        def show(name: str) -> str:
            return _show(p, name)

        def z(name: str) -> str:
            value = p.value(name)
            return "" if math.isnan(value) else f" (z = {value:.3g})"

        lines = [f"slowness: a worker-iteration is slow when its duration exceeds "
                 f"{p.threshold:g} × its iteration's median"]
        if p.slow is None:
            lines.append(f"  persistence: {p.note('slow_share')}")
        else:
            lines.append(f"  share of slow worker-iterations: {show('slow_share')}")
            if not p.slow.any():
                lines.append(self._no_slow_line())
            lines.append("  correlation of per-worker means, first vs second half of the "
                         f"iterations: {show('half_correlation')}{z('half_z')}")
            if p.slow.any():
                lines += ["  lag-1 autocorrelation of the slow indicator: pooled "
                          f"{show('lag1_autocorrelation')}{z('lag1_z')}, mean over workers "
                          f"{show('worker_lag1_mean')}", self._markov_line()]
        if math.isnan(p.value("common_share")):
            lines.append(f"  common factor: {p.note('common_share')}")
        else:
            lines.append(f"  common factor: {show('common_share')} of the variance of "
                         "ln(duration) (R² of the (rep, iteration) means; bias-corrected "
                         f"{show('common_share_adjusted')}, shared sigma "
                         f"{show('shared_sigma')})")
        if self.groups is not None:
            lines += self.groups.lines()
        if p.negative:
            which = " and ".join(f"{name} z = {p.value(key):.3g}"
                                 for name, key in (("half", "half_z"), ("lag-1", "lag1_z"))
                                 if p.value(key) <= -SIGNIFICANT_Z)
            lines.append(f"  significant negative persistence ({which}): workers slow in "
                         "one stretch of iterations are fast in the next more often than "
                         "by chance")
        if self.slowdown is not None:
            lines.append(f"  slowdown: {self.slowdown.kind}: {self.slowdown.why}")
            if self.markov is not None:
                lines.append("  the model includes it; the families are fitted to the "
                             "durations of its slow worker-iterations divided by its factor")
            elif self.slowdown.table is not None:
                lines.append("  --markov adds it to the model")
        return lines

    def _no_slow_line(self) -> str:
        p = self.persistence
        line = (f"  no worker-iteration is slow at threshold {p.threshold:g}: the largest "
                f"duration is {p.value('largest_ratio'):.3g} × its iteration's median")
        suggested = p.value("suggested_threshold")
        if math.isnan(suggested):
            return f"{line} ({p.note('suggested_threshold')})"
        return (f"{line}; --threshold {suggested:g} makes at least "
                f"{SUGGESTED_SLOW_SHARE:.0%} of them slow")

    def _markov_line(self) -> str:
        p = self.persistence
        if math.isnan(p.value("p_slow")) or math.isnan(p.value("p_recover")):
            return f"  Markov fit: {p.note('p_slow') or p.note('p_recover')}"
        line = (f"  Markov fit: p_slow {p.value('p_slow'):.4g} ± {p.value('p_slow_se'):.2g}, "
                f"p_recover {p.value('p_recover'):.4g} ± {p.value('p_recover_se'):.2g}, "
                f"factor {_show(p, 'factor')}")
        if math.isnan(p.value("beyond_markov_z")):
            return line
        return (f"{line}; the workers' shares of slow iterations correlate "
                f"{p.value('half_slow_correlation'):.4g} between the halves, the chain's "
                f"{p.value('markov_half_slow_correlation'):.4g} "
                f"(z = {p.value('beyond_markov_z'):.3g})")


def _show(p: Persistence, name: str) -> str:
    """A statistic's value, or why it is not estimable."""
    value = p.value(name)
    return p.note(name) if math.isnan(value) else f"{value:.4g}"


def _spread(x: np.ndarray) -> str:
    return (f"min {x.min():.6g}, median {np.median(x):.6g}, mean {x.mean():.6g}, "
            f"max {x.max():.6g}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _toml(table: dict[str, Any]) -> str:
    def value(v: Any) -> str:
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return repr(v) if isinstance(v, int) else repr(float(v))

    lines = ["# The lowest-AIC model of pssim fit (docs/fitting.md).", "[stragglers]"]
    lines += [f"{k} = {value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def fit_trace(trace: pd.DataFrame, *, threshold: float = DEFAULT_THRESHOLD,
              markov: bool = False, source: str = "DataFrame",
              columns: Mapping[str, str] | None = None,
              group_sizes: Sequence[int | str] | None = None) -> FitReport:
    """Fit the four shifted families to the trace's durations, measure the persistence and
    the sharing of slowness, choose the model of lowest AIC, and the slowdown the evidence
    picks (:func:`~pssim.analysis.fits.slowdown.choose`: none, markov or persistent).
    With ``markov``, the model adds that slowdown, and the families are fitted to the
    durations with its slow worker-iterations divided by its factor. ``columns`` maps
    the trace's column names to the frame's (:func:`~pssim.analysis.fits.trace.check_trace`).
    Groups of consecutive workers that slow together are tested at ``group_sizes``
    (default 2..N − 1) and, when significant, added to the model, the families then
    fitted to the durations without the block factors.
    """
    threshold = finite("threshold", threshold, low=1.0)
    checked = one_per_iteration(check_trace(trace, source, columns))
    renamed = [f"{name} ← {column}" for name, column
               in resolve_columns(trace, columns, source).items() if name != column]
    values = cube(checked)
    found = measure(values, threshold)
    groups = fit_groups(values, group_sizes)
    found = Persistence(threshold, pd.concat([found.statistics, frame(common(values)),
                                              frame(groups.rows())],
                                             ignore_index=True), found.workers, found.slow)
    picked = choose(found, values.values)
    if groups.factors is not None:
        values = dataclasses.replace(values, values=values.values / groups.factors,
                                     draws=values.draws / _rows(groups.factors, checked))
    durations = values.draws
    table = None
    if markov and picked.table is not None and picked.slow is not None:
        table = picked.table
        durations = np.where(_rows(picked.slow, checked), durations / table["factor"],
                             durations)
    fits = fit_families(durations)
    report = FitReport(source=source, trace=checked, durations=durations,
                       granularity=values.granularity, shape=values.values.shape,
                       fits=fits, persistence=found, chosen=chosen_family(fits),
                       markov=table, toml=None, slowdown=picked, groups=groups,
                       notes=(f"columns: {', '.join(renamed)}",) if renamed else ())
    model = report.model()
    return dataclasses.replace(report, toml=None if model is None else _toml(model))


def _rows(cells: np.ndarray, trace: pd.DataFrame) -> np.ndarray:
    """A (rep × iteration × worker) array's value at each row of the checked trace."""
    reps, its, workers = (pd.factorize(trace[c], sort=True)[0] if c in trace
                          else np.zeros(len(trace), dtype=np.int64)
                          for c in ("rep", "iteration", "worker"))
    return cells[reps, its, workers]


def write_report(report: FitReport, out_dir: str | Path) -> list[Path]:
    """Write ``fits.csv``, ``persistence.csv``, ``workers.csv``, ``groups.csv``,
    ``model.toml`` (when a family was fitted) and the figures ``ecdf.png`` and
    ``heatmap.png`` into ``out_dir``, each to a temporary name renamed into place. Returns
    the files written."""
    folder = Path(out_dir)
    writable_folder("out", folder)
    written = []
    tables = {"fits.csv": report.fits, "persistence.csv": report.persistence.statistics,
              "workers.csv": report.persistence.workers}
    if report.groups is not None:
        tables["groups.csv"] = report.groups.table
    for name, table in tables.items():
        path = folder / name
        write_atomically(path, functools.partial(_write_csv, table))
        written.append(path)
    if report.toml is not None:
        path = folder / "model.toml"
        text = report.toml
        write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        written.append(path)
    figures = {"ecdf.png": lambda: plot_duration_ecdf(report.durations, report.fits),
               "heatmap.png": lambda: plot_worker_heatmap(report.trace)}
    for name, draw in figures.items():
        written.append(save_figure(draw(), folder / name))
    return written


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False)


# -- figures ---------------------------------------------------------------------------------


def _pyplot() -> Any:
    """pyplot, on the backend of the analysis figures (Agg unless a session chose one)."""
    from pssim.analysis import plots

    return plots.plt


def save_figure(fig: Figure, path: Path) -> Path:
    """Write ``fig`` to ``path`` (its format from the suffix) through a temporary name, then
    close it."""
    from pssim.analysis.plots import DPI

    plt = _pyplot()
    try:
        write_atomically(path, lambda tmp: fig.savefig(tmp, format=path.suffix.lstrip("."),
                                                       dpi=DPI, bbox_inches="tight"))
    finally:
        plt.close(fig)
    return path


def plot_duration_ecdf(durations: pd.DataFrame | pd.Series | np.ndarray,
                       fits: pd.DataFrame | None = None) -> Figure:
    """The empirical CDF of the durations (the ``duration`` column of a trace, or the
    values) against the CDF of each fitted family (rows of :func:`fit_families`): the CDF
    on a log time axis, and the tail P(X > x) on log-log axes."""
    from pssim.analysis.plots import hue_palette

    plt = _pyplot()
    values = durations["duration"] if isinstance(durations, pd.DataFrame) else durations
    x = np.sort(np.asarray(values, dtype=float).ravel())
    x = x[np.isfinite(x) & (x > 0)]
    n = len(x)
    # A few thousand ranks draw the same curve as every point of a large trace.
    ranks = np.unique(np.linspace(0, n - 1, min(n, 4000)).astype(np.int64))
    ex, cdf = x[ranks], (ranks + 1) / n
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 4.2))
    left.step(ex, cdf, where="post", color="black", lw=1.6, label="trace")
    right.step(ex, 1 - cdf + 1 / n, where="post", color="black", lw=1.6, label="trace")
    if fits is not None:
        fitted = fits[np.isfinite(fits["aic"].to_numpy(dtype=float))]
        palette = hue_palette(fitted["family"])
        grid = np.geomspace(x[0], x[-1], 400)
        for _, row in fitted.iterrows():
            family = str(row["family"])
            dist = frozen(family, {k: float(row[k]) for k in PARAMETERS[family]})
            with np.errstate(all="ignore"):
                left.plot(grid, dist.cdf(grid), color=palette[family], lw=1.1, ls="--",
                          label=f"{family} (AIC {row['aic']:.4g})")
                right.plot(grid, dist.sf(grid), color=palette[family], lw=1.1, ls="--",
                           label=family)
    left.set_xscale("log")
    left.set_xlabel("duration (s)")
    left.set_ylabel("CDF  P(X ≤ x)")
    left.legend(fontsize=8)
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_ylim(bottom=0.5 / n)
    right.set_xlabel("duration (s)")
    right.set_ylabel("tail  P(X > x)")
    fig.tight_layout()
    return fig


def plot_worker_heatmap(trace: pd.DataFrame, rep: Any = None) -> Figure:
    """The durations of one rep (the first when ``rep`` is None) as workers × iterations
    (× reps for a trace without iterations), the mean over computations per cell; the
    colour scale spans the 1st to 99th percentiles, so stragglers stand out."""
    plt = _pyplot()
    frame = trace
    if "rep" in frame and "iteration" in frame:
        rep = frame["rep"].min() if rep is None else rep
        frame = frame[frame["rep"] == rep]
    across = "iteration" if "iteration" in frame else "rep"
    table = frame.pivot_table(index="worker", columns=across, values="duration",
                              aggfunc="mean", sort=True)
    values = table.to_numpy(dtype=float)
    low, high = np.nanpercentile(values, [1, 99])
    fig, ax = plt.subplots(figsize=(8.0, 4.8))
    image = ax.imshow(values, aspect="auto", interpolation="nearest", cmap="viridis",
                      vmin=low, vmax=high, origin="lower",
                      extent=(*_span(table.columns), *_span(table.index)))
    fig.colorbar(image, ax=ax, extend="both", label="duration (s)")
    ax.set_xlabel(across if across == "iteration" else "rep (realization)")
    ax.set_ylabel("worker")
    if "rep" in trace and "iteration" in trace:
        ax.set_title(f"rep {rep}")
    return fig


def _span(labels: pd.Index) -> tuple[float, float]:
    """The axis limits of a row of cells: their labels when these are consecutive integers,
    else their positions (labels such as host names are drawn in sorted order)."""
    values = labels.to_numpy()
    if (np.issubdtype(values.dtype, np.integer)
            and np.array_equal(values, np.arange(values[0], values[0] + len(values)))):
        return float(values[0]) - 0.5, float(values[-1]) + 0.5
    return -0.5, len(values) - 0.5
