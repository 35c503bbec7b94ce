"""Straggler models fitted to a measured trace of durations (docs/fitting.md).

A trace is a long-form table: ``worker``, ``duration`` (seconds), ``rep`` and/or
``iteration``, optionally ``computation``. :func:`fit_trace` fits the four shifted
families of the ``[stragglers]`` format by maximum likelihood, measures how slowness
persists and how much of it the cluster shares, and picks a model; :func:`write_report`
writes the tables, the model as TOML and the figures.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pssim.errors import ConfigError, finite, writable_folder
from pssim.files import write_atomically

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FAMILIES = ("exponential", "gamma", "lognormal", "pareto")

#: Each family's parameters under their names in the ``[stragglers]`` table.
PARAMETERS = {
    "exponential": ("alpha", "mu"),
    "gamma": ("alpha", "shape", "rate"),
    "lognormal": ("alpha", "mu_log", "sigma_log"),
    "pareto": ("alpha", "shape", "scale"),
}

FIT_COLUMNS = ["family", "alpha", "mu", "shape", "rate", "mu_log", "sigma_log", "scale",
               "loglik", "aic", "ks_stat", "ks_pvalue", "note"]

#: A worker-iteration is slow when its duration exceeds this multiple of the median of its
#: iteration's durations (docs/fitting.md, "Slowness").
DEFAULT_THRESHOLD = 2.0

#: |z| at or above which a statistic of persistence counts as significant.
SIGNIFICANT_Z = 3.0

TRACE_SUFFIXES = (".csv", ".parquet", ".pq")


class _NotEstimable(Exception):
    """A statistic the data cannot give; its message says why."""


# -- reading and checking a trace ------------------------------------------------------------


def read_trace(path: str | Path) -> pd.DataFrame:
    """The trace in a CSV or Parquet file, checked by :func:`check_trace`; any problem is a
    :class:`~pssim.errors.ConfigError` of parameter ``trace``."""
    p = Path(path)
    if not p.exists():
        raise ConfigError("trace", str(p), "no such file")
    if p.is_dir():
        raise ConfigError("trace", str(p), "must be a file, not a directory")
    suffix = p.suffix.lower()
    if suffix not in TRACE_SUFFIXES:
        raise ConfigError("trace", str(p), "must end in .csv, .parquet or .pq")
    try:
        frame = pd.read_csv(p) if suffix == ".csv" else pd.read_parquet(p)
    # Whatever the reader raises (a parse error, bad bytes, no permission, not Parquet),
    # the file cannot be read, and the user needs that and the reader's reason.
    except Exception as err:
        reason = " ".join(str(err).split())[:200] or type(err).__name__
        raise ConfigError("trace", str(p), f"could not be read ({reason})") from None
    return check_trace(frame, str(p))


def _keys(frame: pd.DataFrame) -> list[str]:
    return [c for c in ("rep", "iteration", "worker", "computation") if c in frame]


def check_trace(frame: pd.DataFrame, source: str = "DataFrame") -> pd.DataFrame:
    """The trace's columns (``rep``, ``iteration``, ``worker``, ``computation``,
    ``duration``: those it has), sorted by its keys, after checking that it has the
    columns it needs, finite durations > 0, integer reps, iterations and computations, no
    duplicate rows, and every worker in every rep and iteration. ``source`` names the
    trace in the :class:`~pssim.errors.ConfigError` raised otherwise."""
    missing = [c for c in ("worker", "duration") if c not in frame]
    if missing or not ("rep" in frame or "iteration" in frame):
        lacks = ", ".join(missing + ([] if "rep" in frame or "iteration" in frame
                                     else ["rep or iteration"]))
        raise ConfigError("trace", source, f"lacks the column(s) {lacks}; a trace has "
                          "worker, duration, rep and/or iteration, optionally computation")
    if len(frame) == 0:
        raise ConfigError("trace", source, "has no rows")
    keys = _keys(frame)
    out = frame[[*keys, "duration"]].reset_index(drop=True)
    for key in keys:
        absent = out[key].isna().to_numpy()
        if absent.any():
            row = int(np.flatnonzero(absent)[0])
            raise ConfigError("trace", source, f"has no {key} in data row {row + 1}")
        if key != "worker":
            out[key] = _integers(out[key], key, source)
    raw = out["duration"]
    duration = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~(np.isfinite(duration) & (duration > 0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ConfigError("trace", source, "must have finite durations > 0 (seconds); data "
                          f"row {row + 1} has duration {_plain(raw.iloc[row])!r}")
    out["duration"] = duration
    twice = out.duplicated(keys).to_numpy()
    if twice.any():
        row = int(np.flatnonzero(twice)[0])
        where = ", ".join(f"{k} {_label(_plain(out[k].iloc[row]))}" for k in keys)
        raise ConfigError("trace", source, f"has two rows for {where} "
                          f"(data row {row + 1} repeats an earlier one)")
    _check_complete(out, source)
    return out.sort_values(keys, kind="stable").reset_index(drop=True)


def _integers(column: pd.Series, key: str, source: str) -> pd.Series:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~(np.isfinite(values) & (values == np.round(values)))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ConfigError("trace", source, f"must have integer {key} values; data row "
                          f"{row + 1} has {key} {_plain(column.iloc[row])!r}")
    return pd.Series(values.astype(np.int64), index=column.index)


def _check_complete(trace: pd.DataFrame, source: str) -> None:
    """Every worker must have a row in every (rep, iteration) of the trace: a missing one
    would bias every statistic across workers, so it is refused rather than skipped."""
    axes = [c for c in ("rep", "iteration", "worker") if c in trace]
    codes, labels = zip(*(pd.factorize(trace[c], sort=True) for c in axes), strict=True)
    shape = tuple(len(u) for u in labels)
    seen = np.zeros(shape, dtype=bool)
    seen[tuple(codes)] = True
    if seen.all():
        return
    first = np.argwhere(~seen)[0]
    found = {axis: labels[i][first[i]] for i, axis in enumerate(axes)}
    worker = found.pop("worker")
    inside = ", ".join(f"{axis} {value}" for axis, value in found.items())
    raise ConfigError("trace", source, f"worker {_label(worker)} is missing in {inside}; "
                      f"every {' and '.join(found)} must have rows for all {shape[-1]} "
                      "workers")


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, so that messages show 3.0, not
    np.float64(3.0)."""
    return value.item() if isinstance(value, np.generic) else value


def _label(worker: Any) -> str:
    return repr(worker) if isinstance(worker, str) else str(worker)


@dataclass(frozen=True)
class _Cube:
    """A checked trace as arrays: ``values[rep, iteration, worker]`` the duration of a
    worker-iteration (the mean over its computations), ``draws`` the durations fitted."""

    values: np.ndarray
    draws: np.ndarray
    workers: np.ndarray
    iterations: np.ndarray
    has_iteration: bool
    granularity: str


def _cube(trace: pd.DataFrame) -> _Cube:
    reps, rep_labels = (pd.factorize(trace["rep"], sort=True) if "rep" in trace
                        else (np.zeros(len(trace), dtype=np.int64), np.array([0])))
    its, it_labels = (pd.factorize(trace["iteration"], sort=True) if "iteration" in trace
                      else (np.zeros(len(trace), dtype=np.int64), np.array([0])))
    workers, worker_labels = pd.factorize(trace["worker"], sort=True)
    shape = (len(rep_labels), len(it_labels), len(worker_labels))
    flat = np.ravel_multi_index((reps, its, workers), shape)
    draws = trace["duration"].to_numpy(dtype=float)
    size = int(np.prod(shape))
    total = np.bincount(flat, weights=draws, minlength=size)
    count = np.bincount(flat, minlength=size)
    return _Cube(values=(total / count).reshape(shape), draws=draws,
                 workers=np.asarray(worker_labels), iterations=np.asarray(it_labels),
                 has_iteration="iteration" in trace,
                 granularity="per_computation" if "computation" in trace else "per_iteration")


# -- the four shifted families ---------------------------------------------------------------


def frozen(family: str, params: dict[str, float]) -> Any:
    """The scipy.stats distribution of X = alpha + Y for ``family`` with ``params`` under
    their ``[stragglers]`` names."""
    from scipy import stats

    alpha = params["alpha"]
    if family == "exponential":
        return stats.expon(loc=alpha, scale=1.0 / params["mu"])
    if family == "gamma":
        return stats.gamma(params["shape"], loc=alpha, scale=1.0 / params["rate"])
    if family == "lognormal":
        return stats.lognorm(params["sigma_log"], loc=alpha, scale=math.exp(params["mu_log"]))
    if family == "pareto":
        # scipy's pareto is scale·Z + loc with P(Z > z) = z^−b, z ≥ 1: Y ≥ scale as here.
        return stats.pareto(params["shape"], loc=alpha, scale=params["scale"])
    raise ValueError(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")


def _log_moments(x: np.ndarray) -> Callable[[float], tuple[float, float]]:
    """(mean, variance) of ln(x − alpha) as a function of alpha, remembered: the three
    profile likelihoods share their evaluations."""

    @functools.lru_cache(maxsize=512)
    def moments(alpha: float) -> tuple[float, float]:
        logs = np.log(x - alpha)
        mean = float(logs.mean())
        return mean, float(np.mean((logs - mean) ** 2))

    return moments


def _gamma_shape(s: float) -> float:
    """The gamma MLE of the shape k, the root of ln k − ψ(k) = s = ln(mean y) − mean(ln y),
    by Minka's generalized Newton iteration (a handful of steps from his start)."""
    from scipy import special

    k = (3.0 - s + math.sqrt((s - 3.0) ** 2 + 24.0 * s)) / (12.0 * s)
    for _ in range(8):
        step = (-s + math.log(k) - float(special.digamma(k))) / (
            k * k * (1.0 / k - float(special.polygamma(1, k))))
        k = 1.0 / (1.0 / k + step)
    return k


def _at_alpha(family: str, x: np.ndarray, moments: Callable[[float], tuple[float, float]],
              alpha: float) -> tuple[dict[str, float], float]:
    """The MLE of the family's other parameters with the shift fixed at ``alpha``, and the
    log-likelihood there."""
    n = len(x)
    mean_log, var_log = moments(alpha)
    if family == "gamma":
        mean = float(x.mean()) - alpha
        s = math.log(mean) - mean_log
        if not s > 0:
            raise _NotEstimable("the durations do not vary")
        k = _gamma_shape(s)
        rate = k / mean
        loglik = n * (k * math.log(rate) - math.lgamma(k) + (k - 1.0) * mean_log - k)
        return {"alpha": alpha, "shape": k, "rate": rate}, loglik
    if family == "lognormal":
        if not var_log > 0:
            raise _NotEstimable("the durations do not vary")
        sigma = math.sqrt(var_log)
        loglik = -n * (mean_log + math.log(sigma) + 0.5 * (math.log(2 * math.pi) + 1.0))
        return {"alpha": alpha, "mu_log": mean_log, "sigma_log": sigma}, loglik
    # pareto: for a fixed shift the scale's MLE is the least y, and the shape's is closed.
    scale = float(x.min()) - alpha
    spread = mean_log - math.log(scale)
    if not spread > 0:
        raise _NotEstimable("the durations do not vary")
    shape = 1.0 / spread
    loglik = n * (math.log(shape) + shape * math.log(scale) - (shape + 1.0) * mean_log)
    return {"alpha": alpha, "shape": shape, "scale": scale}, loglik


def _profile(x: np.ndarray, loglik: Callable[[float], float]) -> float:
    """The shift alpha in [0, min x) that maximizes the profile log-likelihood ``loglik``.

    The search runs over ln(min x − alpha): the likelihood changes on the scale of that gap,
    which spans many decades between no shift and a shift just below the least duration.
    A coarse grid finds the best region (the profile can have more than one local
    maximum) and a bounded Brent search refines it. The gap is kept at least half the
    distance from the least duration to the next larger one: closer, the likelihood of a
    gamma shape below 1, and the lognormal's, grow without bound with the density at the
    least duration (a spike rather than a fit, and what a tied least duration always
    gives), while the bound moves the shift by less than one spacing of the smallest
    order statistics, far below its standard error.
    """
    from scipy import optimize

    low = float(x.min())
    if not float(np.median(x)) > low:
        raise _NotEstimable("half the durations or more equal the least one")
    floor = max(0.5 * (float(x[x > low].min()) - low), 1e-12 * low)
    if low <= floor:
        return 0.0
    top = math.log(low)

    def alpha_of(u: float) -> float:
        return 0.0 if u >= top else max(0.0, low - math.exp(u))

    def value(u: float) -> float:
        try:
            v = loglik(alpha_of(u))
        except _NotEstimable:
            return -math.inf
        return v if math.isfinite(v) else -math.inf

    grid = np.linspace(math.log(floor), top, 25)
    values = np.array([value(float(u)) for u in grid])
    if not np.isfinite(values).any():
        raise _NotEstimable("no shift in [0, min x) gives a finite likelihood")
    i = int(np.argmax(values))
    lo, hi = float(grid[max(i - 1, 0)]), float(grid[min(i + 1, len(grid) - 1)])
    found = optimize.minimize_scalar(lambda u: -value(u), bounds=(lo, hi), method="bounded",
                                     options={"xatol": 1e-7})
    best = float(found.x) if -float(found.fun) >= values[i] else float(grid[i])
    return alpha_of(best)


def fit_family(family: str, durations: Any) -> dict[str, float]:
    """Maximum-likelihood parameters of the shifted ``family`` (under their ``[stragglers]``
    names) and ``loglik``. The shifted exponential's are closed: alpha = min x,
    mu = 1/(mean x − min x); the other families' shift maximizes the profile likelihood
    over [0, min x). Raises ValueError when the data cannot give them."""
    x = np.asarray(durations, dtype=float).ravel()
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")
    if len(x) < 3 or not (np.isfinite(x).all() and (x > 0).all()):
        raise ValueError("needs at least 3 finite durations > 0")
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if family == "exponential":
                alpha = float(x.min())
                gap = float(x.mean()) - alpha
                if not gap > 0:
                    raise _NotEstimable("the durations do not vary")
                mu = 1.0 / gap
                # mu·Σ(x − alpha) = n at the MLE.
                return {"alpha": alpha, "mu": mu, "loglik": len(x) * (math.log(mu) - 1.0)}
            moments = _log_moments(x)
            alpha = _profile(x, lambda a: _at_alpha(family, x, moments, a)[1])
            params, loglik = _at_alpha(family, x, moments, alpha)
    except (_NotEstimable, ArithmeticError) as err:
        raise ValueError(str(err) or type(err).__name__) from None
    if not (math.isfinite(loglik) and all(math.isfinite(v) for v in params.values())):
        raise ValueError("the fit did not converge to finite values")
    return {**params, "loglik": loglik}


def fit_families(durations: Any) -> pd.DataFrame:
    """One row per family (:data:`FIT_COLUMNS`): its MLE parameters, log-likelihood, AIC,
    and the Kolmogorov–Smirnov statistic and p-value against the fitted distribution. A
    family that cannot be fitted has NaN and says why in ``note``."""
    from scipy import stats

    x = np.asarray(durations, dtype=float).ravel()
    rows = []
    for family in FAMILIES:
        row: dict[str, Any] = dict.fromkeys(FIT_COLUMNS, math.nan)
        row.update(family=family, note="")
        try:
            fitted = fit_family(family, x)
        except ValueError as err:
            row["note"] = f"not estimable: {err}"
            rows.append(row)
            continue
        params = {k: fitted[k] for k in PARAMETERS[family]}
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ks = stats.kstest(x, frozen(family, params).cdf)
        row.update(params, loglik=fitted["loglik"],
                   aic=2 * len(params) - 2 * fitted["loglik"],
                   ks_stat=float(ks.statistic), ks_pvalue=float(ks.pvalue))
        rows.append(row)
    return pd.DataFrame(rows, columns=FIT_COLUMNS)


def chosen_family(fits: pd.DataFrame) -> str | None:
    """The family of lowest AIC among those fitted, or None when none was."""
    fitted = fits[np.isfinite(fits["aic"].to_numpy(dtype=float))]
    if fitted.empty:
        return None
    return str(fitted.loc[fitted["aic"].idxmin(), "family"])


# -- persistence and sharing of slowness -----------------------------------------------------


@dataclass(frozen=True)
class Persistence:
    """How slowness persists across iterations (docs/fitting.md, "Slowness and its
    persistence").

    ``statistics`` has one row per statistic (``statistic``, ``value``, ``note``; NaN with
    a "not estimable: …" note when the trace cannot give it); ``workers`` one row per
    worker (mean duration, means over the first and second half of the iterations, share
    of slow iterations, lag-1 autocorrelation of its slow indicator); ``slow`` the slow
    indicator of each worker-iteration (rep × iteration × worker), None when not
    estimable.
    """

    threshold: float
    statistics: pd.DataFrame
    workers: pd.DataFrame
    slow: np.ndarray | None = field(default=None, repr=False)

    def value(self, statistic: str) -> float:
        """The value of one statistic (NaN when not estimable)."""
        return float(self._lookup(statistic, "value"))

    def note(self, statistic: str) -> str:
        """Why a statistic is not estimable (empty when it is)."""
        return str(self._lookup(statistic, "note"))

    def _lookup(self, statistic: str, column: str) -> Any:
        found = np.flatnonzero(self.statistics["statistic"].to_numpy() == statistic)
        if found.size == 0:
            raise KeyError(statistic)
        return self.statistics[column].to_numpy()[found[0]]

    @property
    def significant(self) -> bool:
        """Slowness persists: the lag-1 autocorrelation of the slow indicator or the
        correlation between halves is at least :data:`SIGNIFICANT_Z` standard errors above
        zero."""
        return any(self.value(z) >= SIGNIFICANT_Z for z in ("lag1_z", "half_z"))


def _statistic(name: str, compute: Callable[[], float]) -> tuple[str, float, str]:
    try:
        with np.errstate(all="ignore"):
            value = float(compute())
    except _NotEstimable as why:
        return name, math.nan, f"not estimable: {why}"
    if not math.isfinite(value):
        return name, math.nan, "not estimable"
    return name, value, ""


def _correlation(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
    """Pearson correlations along ``axis`` (NaN where either side is constant)."""
    da = a - a.mean(axis=axis, keepdims=True)
    db = b - b.mean(axis=axis, keepdims=True)
    with np.errstate(all="ignore"):
        r = (da * db).sum(axis=axis) / np.sqrt((da * da).sum(axis=axis)
                                               * (db * db).sum(axis=axis))
    return np.asarray(r)


def persistence(trace: pd.DataFrame, threshold: float = DEFAULT_THRESHOLD) -> Persistence:
    """Persistence of slowness in a trace (checked by :func:`check_trace`): the correlation
    of per-worker means between the first and second half of the iterations, the lag-1
    autocorrelation of the slow indicator (a worker-iteration is slow when its duration
    exceeds ``threshold`` × its iteration's median), and the two-state Markov chain's
    p_slow, p_recover and slowdown factor. Reps are analysed apart and pooled
    (docs/fitting.md)."""
    threshold = finite("threshold", threshold, low=1.0)
    return _persistence(_cube(check_trace(trace)), threshold)


def _persistence(cube: _Cube, threshold: float) -> Persistence:
    d = cube.values
    _, iterations, workers = d.shape
    reason = ("the trace has no iteration column (its reps are independent realizations, "
              "in no order)" if not cube.has_iteration
              else "fewer than two iterations" if iterations < 2 else "")
    names = ["slow_share", "half_correlation", "half_z", "lag1_autocorrelation", "lag1_z",
             "worker_lag1_mean", "p_slow", "p_slow_se", "p_recover", "p_recover_se",
             "factor"]
    worker_table = pd.DataFrame({"worker": cube.workers,
                                 "mean_duration": d.mean(axis=(0, 1))})
    if reason:
        rows = [(n, math.nan, f"not estimable: {reason}") for n in names]
        return Persistence(threshold, _frame([("threshold", threshold, ""), *rows]),
                           worker_table)
    first = d[:, : iterations // 2, :].mean(axis=1)
    second = d[:, iterations // 2:, :].mean(axis=1)
    slow = d > threshold * np.median(d, axis=2, keepdims=True)
    before, after = slow[:, :-1, :], slow[:, 1:, :]
    pairs = before.size
    counts = {(a, b): int(np.count_nonzero((before == a) & (after == b)))
              for a in (False, True) for b in (False, True)}
    from_fast = counts[False, False] + counts[False, True]
    from_slow = counts[True, False] + counts[True, True]

    # Fisher's z pools the reps' correlations: its mean has a known standard error.
    r = _correlation(first, second, axis=1)
    z = np.arctanh(np.clip(r[np.isfinite(r)], -1 + 1e-15, 1 - 1e-15))

    def half_z() -> float:
        if workers < 4:
            raise _NotEstimable("fewer than 4 workers")
        if z.size == 0:
            raise _NotEstimable("the per-worker means do not vary")
        return float(np.mean(z) * math.sqrt(z.size * (workers - 3)))

    def half() -> float:
        half_z()
        return math.tanh(float(np.mean(z)))

    def lag1() -> float:
        if not 0 < np.count_nonzero(slow) < slow.size:
            raise _NotEstimable("no slow worker-iteration" if not slow.any()
                                else "every worker-iteration is slow")
        return float(_correlation(before.ravel(), after.ravel(), axis=0))

    def p_slow() -> float:
        if from_fast == 0:
            raise _NotEstimable("no worker is ever fast before the last iteration")
        return counts[False, True] / from_fast

    def p_recover() -> float:
        if from_slow == 0:
            raise _NotEstimable("no worker is ever slow before the last iteration")
        return counts[True, False] / from_slow

    def factor() -> float:
        if not 0 < np.count_nonzero(slow) < slow.size:
            raise _NotEstimable("needs both slow and fast worker-iterations")
        return float(d[slow].mean() / d[~slow].mean())

    worker_lag = _correlation(before.astype(float).transpose(2, 0, 1).reshape(workers, -1),
                              after.astype(float).transpose(2, 0, 1).reshape(workers, -1),
                              axis=1)
    worker_table = worker_table.assign(
        first_half_mean=first.mean(axis=0), second_half_mean=second.mean(axis=0),
        slow_share=slow.mean(axis=(0, 1)), lag1_autocorrelation=worker_lag)

    def worker_mean() -> float:
        known = worker_lag[np.isfinite(worker_lag)]
        if known.size == 0:
            raise _NotEstimable("no worker has both slow and fast iterations")
        return float(known.mean())

    def se(p: Callable[[], float], n: int) -> Callable[[], float]:
        return lambda: math.sqrt(p() * (1 - p()) / n)

    rows = [("threshold", threshold, ""),
            _statistic("slow_share", lambda: float(slow.mean())),
            _statistic("half_correlation", half),
            _statistic("half_z", half_z),
            _statistic("lag1_autocorrelation", lag1),
            # Under independence √(pairs)·r is standard normal.
            _statistic("lag1_z", lambda: lag1() * math.sqrt(pairs)),
            _statistic("worker_lag1_mean", worker_mean),
            _statistic("p_slow", p_slow),
            _statistic("p_slow_se", se(p_slow, from_fast)),
            _statistic("p_recover", p_recover),
            _statistic("p_recover_se", se(p_recover, from_slow)),
            _statistic("factor", factor)]
    return Persistence(threshold, _frame(rows), worker_table, slow)


def _frame(rows: list[tuple[str, float, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["statistic", "value", "note"])


def _common(cube: _Cube) -> list[tuple[str, float, str]]:
    """The share of the variance of ln(duration) explained by the (rep, iteration) means
    (one-way ANOVA R²), its bias-corrected form (the intraclass correlation of the ANOVA
    estimator) and the standard deviation of the common factor it implies."""
    logs = np.log(cube.values)
    reps, iterations, workers = logs.shape
    groups = reps * iterations
    means = logs.mean(axis=2, keepdims=True)
    between = float(workers * ((means - logs.mean()) ** 2).sum())
    within = float(((logs - means) ** 2).sum())

    def check() -> None:
        if groups < 2:
            raise _NotEstimable("a single rep and iteration")
        if workers < 2:
            raise _NotEstimable("a single worker")
        if not between + within > 0:
            raise _NotEstimable("the durations do not vary")

    def share() -> float:
        check()
        return between / (between + within)

    def component() -> float:
        check()
        # The ANOVA estimator of the variance of the per-iteration factor.
        return max(0.0, (between / (groups - 1) - within / (groups * (workers - 1)))
                   / workers)

    def adjusted() -> float:
        return component() / (component() + within / (groups * (workers - 1)))

    return [_statistic("common_share", share),
            _statistic("common_share_adjusted", adjusted),
            _statistic("shared_sigma", lambda: math.sqrt(component()))]


def common_factor_share(trace: pd.DataFrame) -> float:
    """The share of the variance of ln(duration) explained by a factor common to all
    workers in each (rep, iteration): the one-way ANOVA R² of the worker-iterations'
    log durations grouped by (rep, iteration); NaN when not estimable."""
    return _common(_cube(check_trace(trace)))[0][1]


# -- the report ------------------------------------------------------------------------------


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
        return table

    def text(self) -> str:
        reps, iterations, workers = self.shape
        draws = ("one per worker and iteration" if self.granularity == "per_iteration"
                 else "one per computation")
        x = self.durations
        lines = [f"trace: {self.source}: {workers} workers, {iterations} iteration(s), "
                 f"{reps} rep(s); {len(x)} durations ({draws}: {self.granularity})",
                 f"durations (s): min {x.min():.6g}, median {np.median(x):.6g}, "
                 f"mean {x.mean():.6g}, max {x.max():.6g}",
                 *self.notes, "",
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
            value = p.value(name)
            return p.note(name) if math.isnan(value) else f"{value:.4g}"

        def z(name: str) -> str:
            value = p.value(name)
            return "" if math.isnan(value) else f" (z = {value:.3g})"

        lines = [f"slowness: a worker-iteration is slow when its duration exceeds "
                 f"{p.threshold:g} × its iteration's median"]
        if p.slow is None:
            lines.append(f"  persistence: {p.note('slow_share')}")
        else:
            lines += [f"  share of slow worker-iterations: {show('slow_share')}",
                      "  correlation of per-worker means, first vs second half of the "
                      f"iterations: {show('half_correlation')}{z('half_z')}",
                      "  lag-1 autocorrelation of the slow indicator: pooled "
                      f"{show('lag1_autocorrelation')}{z('lag1_z')}, mean over workers "
                      f"{show('worker_lag1_mean')}"]
            if math.isnan(p.value("p_slow")) or math.isnan(p.value("p_recover")):
                why = p.note("p_slow") or p.note("p_recover")
                lines.append(f"  Markov fit: {why}")
            else:
                lines.append(f"  Markov fit: p_slow {show('p_slow')} ± "
                             f"{p.value('p_slow_se'):.2g}, p_recover {show('p_recover')} ± "
                             f"{p.value('p_recover_se'):.2g}, factor {show('factor')}")
        lines.append(f"  common factor: {show('common_share')} of the variance of "
                     "ln(duration) (R² of the (rep, iteration) means; bias-corrected "
                     f"{show('common_share_adjusted')}, shared sigma {show('shared_sigma')})")
        if self.markov is not None:
            lines.append("  the model includes the slowdown; the families are fitted to the "
                         "durations of slow worker-iterations divided by its factor")
        elif p.significant:
            lines.append(f"  slowness persists (z ≥ {SIGNIFICANT_Z:g}): --markov adds it to "
                         "the model")
        elif p.slow is not None:
            lines.append(f"  no significant persistence (both z < {SIGNIFICANT_Z:g})")
        return lines


def _toml(table: dict[str, Any]) -> str:
    def value(v: Any) -> str:
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return repr(float(v))

    lines = ["# The lowest-AIC model of pssim fit (docs/fitting.md).", "[stragglers]"]
    lines += [f"{k} = {value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def fit_trace(trace: pd.DataFrame, *, threshold: float = DEFAULT_THRESHOLD,
              markov: bool = False, source: str = "DataFrame") -> FitReport:
    """Fit the four shifted families to the trace's durations, measure the persistence and
    the sharing of slowness, and choose the model of lowest AIC. With ``markov``, the
    model adds the fitted Markov slowdown (or a persistent one, when no worker ever
    changes state) and the families are fitted to the durations with slow
    worker-iterations divided by its factor."""
    threshold = finite("threshold", threshold, low=1.0)
    checked = _one_per_iteration(check_trace(trace, source))
    cube = _cube(checked)
    found = _persistence(cube, threshold)
    found = Persistence(threshold, pd.concat([found.statistics, _frame(_common(cube))],
                                             ignore_index=True), found.workers, found.slow)
    durations = cube.draws
    slowdown = None
    notes: list[str] = []
    if markov:
        slowdown, durations, why = _slowdown(found, checked, cube)
        if why:
            notes.append(f"note: --markov: {why}; the model has no slowdown")
    fits = fit_families(durations)
    chosen = chosen_family(fits)
    report = FitReport(source=source, trace=checked, durations=durations,
                       granularity=cube.granularity, shape=cube.values.shape, fits=fits,
                       persistence=found, chosen=chosen, markov=slowdown, toml=None,
                       notes=tuple(notes))
    table = report.model()
    return dataclasses.replace(report, toml=None if table is None else _toml(table))


def _one_per_iteration(trace: pd.DataFrame) -> pd.DataFrame:
    """A trace whose computations of each worker-iteration all took the same time (a
    per_iteration model's sample, or a log that repeats a worker's duration) holds one
    draw per worker-iteration: it is fitted as that, per_iteration, not as r equal draws."""
    if "computation" not in trace:
        return trace
    keys = [c for c in ("rep", "iteration", "worker") if c in trace]
    duration = trace.groupby(keys, sort=False)["duration"]
    if not (duration.transform("max") == duration.transform("min")).all():
        return trace
    return trace.drop_duplicates(keys).drop(columns="computation").reset_index(drop=True)


def _slowdown(found: Persistence, trace: pd.DataFrame, cube: _Cube
              ) -> tuple[dict[str, float] | None, np.ndarray, str]:
    """The slowdown table for the model, the durations with the slowdown taken out, and
    why there is no slowdown (empty when there is one)."""
    p_slow, p_recover, factor = (found.value(k) for k in ("p_slow", "p_recover", "factor"))
    if found.slow is None or not all(map(math.isfinite, (p_slow, p_recover, factor))):
        reason = next((found.note(k) for k in ("p_slow", "p_recover", "factor")
                       if found.note(k)), "not estimable")
        return None, cube.draws, reason
    if factor < 1:
        return None, cube.draws, f"slow worker-iterations are not slower (factor {factor:.3g})"
    if p_slow + p_recover == 0:
        # No worker ever changes state: the slow ones are slow throughout.
        table = {"fraction": float(found.slow.mean()), "factor": factor}
    else:
        table = {"p_slow": p_slow, "p_recover": p_recover, "factor": factor}
    reps, its, workers = (pd.factorize(trace[c], sort=True)[0] if c in trace
                          else np.zeros(len(trace), dtype=np.int64)
                          for c in ("rep", "iteration", "worker"))
    slow_rows = found.slow[reps, its, workers]
    return table, np.where(slow_rows, cube.draws / factor, cube.draws), ""


def write_report(report: FitReport, out_dir: str | Path) -> list[Path]:
    """Write ``fits.csv``, ``persistence.csv``, ``workers.csv``, ``model.toml`` (when a
    family was fitted) and the figures ``ecdf.png`` and ``heatmap.png`` into ``out_dir``,
    each to a temporary name renamed into place. Returns the files written."""
    folder = Path(out_dir)
    writable_folder("out", folder)
    written = []
    tables = {"fits.csv": report.fits, "persistence.csv": report.persistence.statistics,
              "workers.csv": report.persistence.workers}
    for name, frame in tables.items():
        path = folder / name
        write_atomically(path, functools.partial(_write_csv, frame))
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
