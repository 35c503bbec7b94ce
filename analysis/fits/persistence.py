"""How slowness persists across iterations and how much of it the cluster shares
(docs/fitting.md, "Slowness and its persistence" and "The common factor").

Each statistic is a function of the trace's worker-iteration durations ``values[rep,
iteration, worker]`` (a :class:`~pssim.analysis.fits.trace.Cube`'s) or of their slow
indicator; it raises :class:`~pssim.analysis.fits.trace.NotEstimable` when the trace cannot
give it, and :func:`statistic` turns that into a row of the statistics table.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pssim.analysis.fits.trace import Cube, NotEstimable, check_trace, cube
from pssim.errors import finite

#: A worker-iteration is slow when its duration exceeds this multiple of the median of its
#: iteration's durations (docs/fitting.md, "Slowness").
DEFAULT_THRESHOLD = 2.0

#: |z| at or above which a statistic of persistence counts as significant.
SIGNIFICANT_Z = 3.0

#: The statistics of persistence, in the order of the table.
PERSISTENCE_STATISTICS = ("slow_share", "largest_ratio", "suggested_threshold",
                          "half_correlation", "half_z", "lag1_autocorrelation", "lag1_z",
                          "worker_lag1_mean", "p_slow", "p_slow_se", "p_recover",
                          "p_recover_se", "factor", "half_slow_correlation",
                          "markov_half_slow_correlation", "beyond_markov_z")

#: The share of worker-iterations that the suggested threshold makes slow.
SUGGESTED_SLOW_SHARE = 0.05


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

    @property
    def negative(self) -> bool:
        """Slowness alternates: one of the two is at least :data:`SIGNIFICANT_Z` standard
        errors below zero (workers slow in one half of the iterations fast in the other,
        or slow iterations followed by fast ones more often than by chance)."""
        return any(self.value(z) <= -SIGNIFICANT_Z for z in ("lag1_z", "half_z"))


def statistic(name: str, compute: Callable[..., float], *args: Any) -> tuple[str, float, str]:
    """The row ``(name, value, note)`` of ``compute(*args)``: NaN and the reason when it is
    not estimable."""
    try:
        with np.errstate(all="ignore"):
            value = float(compute(*args))
    except NotEstimable as why:
        return name, math.nan, f"not estimable: {why}"
    if not math.isfinite(value):
        return name, math.nan, "not estimable"
    return name, value, ""


def frame(rows: list[tuple[str, float, str]]) -> pd.DataFrame:
    """The statistics table of ``rows``."""
    return pd.DataFrame(rows, columns=["statistic", "value", "note"])


def correlation(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
    """Pearson correlations along ``axis`` (NaN where either side is constant)."""
    da = a - a.mean(axis=axis, keepdims=True)
    db = b - b.mean(axis=axis, keepdims=True)
    with np.errstate(all="ignore"):
        r = (da * db).sum(axis=axis) / np.sqrt((da * da).sum(axis=axis)
                                               * (db * db).sum(axis=axis))
    return np.asarray(r)


# -- the statistics --------------------------------------------------------------------------


def halves(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each rep's per-worker mean durations over the first ⌊K/2⌋ iterations and over the
    rest (rep × worker each)."""
    iterations = values.shape[1]
    return (values[:, : iterations // 2, :].mean(axis=1),
            values[:, iterations // 2:, :].mean(axis=1))


def slow_indicator(values: np.ndarray, threshold: float) -> np.ndarray:
    """Whether each worker-iteration's duration exceeds ``threshold`` × its iteration's
    median over the workers."""
    return values > threshold * np.median(values, axis=2, keepdims=True)


def ratios(values: np.ndarray) -> np.ndarray:
    """Each worker-iteration's duration over its iteration's median over the workers: the
    threshold above which it would count as slow."""
    return values / np.median(values, axis=2, keepdims=True)


def largest_ratio(values: np.ndarray) -> float:
    """The largest of :func:`ratios`: a threshold at or above it finds no slow one."""
    return float(ratios(values).max())


def suggested_threshold(values: np.ndarray) -> float:
    """A threshold (≥ 1) that makes at least :data:`SUGGESTED_SLOW_SHARE` of the
    worker-iterations slow: the quantile of :func:`ratios` that leaves that share above
    it, rounded down to 3 significant digits, or below the largest ratio when ties leave
    none above that quantile."""
    r = ratios(values)
    if not r.max() > 1:
        raise NotEstimable("no duration exceeds its iteration's median")
    q = float(np.quantile(r, 1 - SUGGESTED_SLOW_SHARE))
    if not (r > q).any():
        q = float(r[r < q].max())
    digits = 2 - math.floor(math.log10(q))
    return max(1.0, math.floor(q * 10.0**digits) / 10.0**digits)


def _fisher_z(values: np.ndarray) -> np.ndarray:
    """Fisher's z = atanh r of each rep's correlation between halves (the reps whose
    per-worker means vary)."""
    r = correlation(*halves(values), axis=1)
    return np.arctanh(np.clip(r[np.isfinite(r)], -1 + 1e-15, 1 - 1e-15))


def half_z(values: np.ndarray) -> float:
    """The reps' mean Fisher z of the correlation between halves over its standard error
    1/√(reps·(N − 3)): standard normal without persistence."""
    workers = values.shape[2]
    if workers < 4:
        raise NotEstimable("fewer than 4 workers")
    z = _fisher_z(values)
    if z.size == 0:
        raise NotEstimable("the per-worker means do not vary")
    return float(np.mean(z) * math.sqrt(z.size * (workers - 3)))


def half_correlation(values: np.ndarray) -> float:
    """The correlation of per-worker means between the first and second half of the
    iterations, the reps pooled by averaging Fisher's z."""
    half_z(values)
    return math.tanh(float(np.mean(_fisher_z(values))))


def slow_share(slow: np.ndarray) -> float:
    """The share of slow worker-iterations."""
    return float(slow.mean())


def _pairs(slow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The slow indicator before and after each step of one iteration, within each rep."""
    return slow[:, :-1, :], slow[:, 1:, :]


def lag1_autocorrelation(slow: np.ndarray) -> float:
    """The correlation of slow(t) and slow(t + 1) over all consecutive pairs of all
    workers and reps."""
    if not 0 < np.count_nonzero(slow) < slow.size:
        raise NotEstimable("no slow worker-iteration" if not slow.any()
                           else "every worker-iteration is slow")
    before, after = _pairs(slow)
    return float(correlation(before.ravel(), after.ravel(), axis=0))


def lag1_z(slow: np.ndarray) -> float:
    """:func:`lag1_autocorrelation` times √pairs: under independence, standard normal."""
    return lag1_autocorrelation(slow) * math.sqrt(_pairs(slow)[0].size)


def worker_lag1(slow: np.ndarray) -> np.ndarray:
    """Each worker's lag-1 autocorrelation of its slow indicator (NaN for a worker never or
    always slow)."""
    workers = slow.shape[2]
    before, after = _pairs(slow)
    return correlation(before.astype(float).transpose(2, 0, 1).reshape(workers, -1),
                       after.astype(float).transpose(2, 0, 1).reshape(workers, -1), axis=1)


def worker_lag1_mean(slow: np.ndarray) -> float:
    """The mean of :func:`worker_lag1` over the workers that have one."""
    lags = worker_lag1(slow)
    known = lags[np.isfinite(lags)]
    if known.size == 0:
        raise NotEstimable("no worker has both slow and fast iterations")
    return float(known.mean())


def transitions(slow: np.ndarray) -> dict[tuple[bool, bool], int]:
    """The number of steps from each state (slow or not) to each, within each rep."""
    before, after = _pairs(slow)
    return {(a, b): int(np.count_nonzero((before == a) & (after == b)))
            for a in (False, True) for b in (False, True)}


def _leaving(slow: np.ndarray, state: bool) -> tuple[int, int]:
    """The steps from ``state`` that change it, and all the steps from ``state``."""
    counts = transitions(slow)
    return counts[state, not state], counts[state, False] + counts[state, True]


def p_slow(slow: np.ndarray) -> float:
    """The Markov chain's MLE of P(fast → slow): (fast → slow steps)/(steps from fast)."""
    changed, total = _leaving(slow, False)
    if total == 0:
        raise NotEstimable("no worker is ever fast before the last iteration")
    return changed / total


def p_recover(slow: np.ndarray) -> float:
    """The Markov chain's MLE of P(slow → fast): (slow → fast steps)/(steps from slow)."""
    changed, total = _leaving(slow, True)
    if total == 0:
        raise NotEstimable("no worker is ever slow before the last iteration")
    return changed / total


def p_slow_se(slow: np.ndarray) -> float:
    """The binomial standard error of :func:`p_slow`."""
    p = p_slow(slow)
    return math.sqrt(p * (1 - p) / _leaving(slow, False)[1])


def p_recover_se(slow: np.ndarray) -> float:
    """The binomial standard error of :func:`p_recover`."""
    p = p_recover(slow)
    return math.sqrt(p * (1 - p) / _leaving(slow, True)[1])


def _slow_share_z(slow: np.ndarray) -> np.ndarray:
    """Fisher's z of each rep's correlation, across workers, of the share of slow
    iterations in the first half and in the second (the reps where the shares vary)."""
    r = correlation(*halves(slow.astype(float)), axis=1)
    return np.arctanh(np.clip(r[np.isfinite(r)], -1 + 1e-15, 1 - 1e-15))


def half_slow_correlation(slow: np.ndarray) -> float:
    """The correlation of the workers' shares of slow iterations between the first and
    the second half of the iterations, the reps pooled by averaging Fisher's z."""
    if slow.shape[2] < 4:
        raise NotEstimable("fewer than 4 workers")
    z = _slow_share_z(slow)
    if z.size == 0:
        raise NotEstimable("the workers' shares of slow iterations do not vary")
    return math.tanh(float(np.mean(z)))


def markov_half_correlation(p_slow: float, p_recover: float, iterations: int) -> float:
    """The correlation between the halves (⌊K/2⌋ and K − ⌊K/2⌋ iterations) of one worker's
    share of slow iterations under a stationary two-state chain: its indicator's
    autocorrelation at lag k is λ^k, λ = 1 − p_slow − p_recover."""
    first, second = iterations // 2, iterations - iterations // 2
    if first < 1:
        raise NotEstimable("fewer than two iterations")
    k = np.arange(1, iterations)
    powers = np.power(1.0 - p_slow - p_recover, k.astype(float))

    def within(h: int) -> float:
        return h + 2.0 * float(np.sum((h - k[: h - 1]) * powers[: h - 1]))

    # Pairs (i in the first half, j in the second) with j − i = k.
    pairs = np.minimum(np.minimum(k, iterations - k), min(first, second))
    return float(np.sum(pairs * powers)) / math.sqrt(within(first) * within(second))


def beyond_markov_z(slow: np.ndarray) -> float:
    """How far, in standard errors 1/√(reps·(N − 3)), the Fisher z of
    :func:`half_slow_correlation` exceeds that of the fitted Markov chain's
    :func:`markov_half_correlation`: ≥ 3 when the workers keep their state longer than
    the chain does."""
    half_slow_correlation(slow)
    z = _slow_share_z(slow)
    implied = markov_half_correlation(p_slow(slow), p_recover(slow), slow.shape[1])
    expected = math.atanh(min(max(implied, -1 + 1e-15), 1 - 1e-15))
    return (float(np.mean(z)) - expected) * math.sqrt(z.size * (slow.shape[2] - 3))


def markov_half_slow_correlation(slow: np.ndarray) -> float:
    """:func:`markov_half_correlation` at the fitted p_slow and p_recover."""
    return markov_half_correlation(p_slow(slow), p_recover(slow), slow.shape[1])


def slowdown_factor(values: np.ndarray, slow: np.ndarray) -> float:
    """The mean duration of slow worker-iterations over that of fast ones."""
    if not 0 < np.count_nonzero(slow) < slow.size:
        raise NotEstimable("needs both slow and fast worker-iterations")
    return float(values[slow].mean() / values[~slow].mean())


# -- the common factor -----------------------------------------------------------------------


def _anova(values: np.ndarray) -> tuple[int, int, float, float]:
    """The groups ((rep, iteration) pairs), the workers, and the between- and
    within-group sums of squares of ln(duration)."""
    logs = np.log(values)
    reps, iterations, workers = logs.shape
    groups = reps * iterations
    means = logs.mean(axis=2, keepdims=True)
    between = float(workers * ((means - logs.mean()) ** 2).sum())
    within = float(((logs - means) ** 2).sum())
    if groups < 2:
        raise NotEstimable("a single rep and iteration")
    if workers < 2:
        raise NotEstimable("a single worker")
    # Not between + within > 0: rounding makes the mean of equal logs differ from them.
    if logs.min() == logs.max():
        raise NotEstimable("the durations do not vary")
    return groups, workers, between, within


def common_share(values: np.ndarray) -> float:
    """The share of the variance of ln(duration) explained by the (rep, iteration) means
    (one-way ANOVA R²)."""
    _, _, between, within = _anova(values)
    return between / (between + within)


def _component(values: np.ndarray) -> tuple[float, float]:
    """The ANOVA estimator of the variance of the per-iteration factor, and the
    within-group mean square."""
    groups, workers, between, within = _anova(values)
    within_mean = within / (groups * (workers - 1))
    return max(0.0, (between / (groups - 1) - within_mean) / workers), within_mean


def common_share_adjusted(values: np.ndarray) -> float:
    """:func:`common_share` corrected for chance: the intraclass correlation of the ANOVA
    estimator."""
    component, within_mean = _component(values)
    return component / (component + within_mean)


def shared_sigma(values: np.ndarray) -> float:
    """The standard deviation of the common factor of ln(duration)."""
    return math.sqrt(_component(values)[0])


def common(found: Cube) -> list[tuple[str, float, str]]:
    """The rows of the common-factor statistics."""
    return [statistic("common_share", common_share, found.values),
            statistic("common_share_adjusted", common_share_adjusted, found.values),
            statistic("shared_sigma", shared_sigma, found.values)]


def common_factor_share(trace: pd.DataFrame) -> float:
    """The share of the variance of ln(duration) explained by a factor common to all
    workers in each (rep, iteration): the one-way ANOVA R² of the worker-iterations'
    log durations grouped by (rep, iteration); NaN when not estimable."""
    return common(cube(check_trace(trace)))[0][1]


# -- the table -------------------------------------------------------------------------------


def persistence(trace: pd.DataFrame, threshold: float = DEFAULT_THRESHOLD) -> Persistence:
    """Persistence of slowness in a trace (checked by :func:`check_trace`): the correlation
    of per-worker means between the first and second half of the iterations, the lag-1
    autocorrelation of the slow indicator (a worker-iteration is slow when its duration
    exceeds ``threshold`` × its iteration's median), and the two-state Markov chain's
    p_slow, p_recover and slowdown factor. Reps are analysed apart and pooled
    (docs/fitting.md)."""
    threshold = finite("threshold", threshold, low=1.0)
    return measure(cube(check_trace(trace)), threshold)


def measure(found: Cube, threshold: float) -> Persistence:
    """The :class:`Persistence` of a checked trace's cube at ``threshold``."""
    d = found.values
    iterations = d.shape[1]
    reason = ("the trace has no iteration column (its reps are independent realizations, "
              "in no order)" if not found.has_iteration
              else "fewer than two iterations" if iterations < 2 else "")
    worker_table = pd.DataFrame({"worker": found.workers,
                                 "mean_duration": d.mean(axis=(0, 1))})
    if reason:
        rows = [(n, math.nan, f"not estimable: {reason}") for n in PERSISTENCE_STATISTICS]
        return Persistence(threshold, frame([("threshold", threshold, ""), *rows]),
                           worker_table)
    first, second = halves(d)
    slow = slow_indicator(d, threshold)
    worker_table = worker_table.assign(
        first_half_mean=first.mean(axis=0), second_half_mean=second.mean(axis=0),
        slow_share=slow.mean(axis=(0, 1)), lag1_autocorrelation=worker_lag1(slow))
    rows = [("threshold", threshold, ""),
            statistic("slow_share", slow_share, slow),
            statistic("largest_ratio", largest_ratio, d),
            statistic("suggested_threshold", suggested_threshold, d),
            statistic("half_correlation", half_correlation, d),
            statistic("half_z", half_z, d),
            statistic("lag1_autocorrelation", lag1_autocorrelation, slow),
            statistic("lag1_z", lag1_z, slow),
            statistic("worker_lag1_mean", worker_lag1_mean, slow),
            statistic("p_slow", p_slow, slow),
            statistic("p_slow_se", p_slow_se, slow),
            statistic("p_recover", p_recover, slow),
            statistic("p_recover_se", p_recover_se, slow),
            statistic("factor", slowdown_factor, d, slow),
            statistic("half_slow_correlation", half_slow_correlation, slow),
            statistic("markov_half_slow_correlation", markov_half_slow_correlation, slow),
            statistic("beyond_markov_z", beyond_markov_z, slow)]
    return Persistence(threshold, frame(rows), worker_table, slow)

