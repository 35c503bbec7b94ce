"""Groups of workers that slow together: the block size and sigma of a ``groups``
slowdown, estimated from a trace, and a test for them (docs/fitting.md, "Groups that slow
together").

The model (docs/model.md, "Straggler models") multiplies every duration of the workers of
a block of ``size`` consecutive ids by one factor exp(sigma·Z) per iteration, so on the log
scale two workers of a block share sigma² of covariance and workers of different blocks
none. After the factors common to an iteration (``shared``) and to a worker (``speeds``,
``persistent``) are taken out, the mean product of two workers' log durations within a
block minus that across blocks estimates sigma², and its standard error over the
iterations gives a z statistic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pssim.analysis.fits.persistence import SIGNIFICANT_Z, statistic
from pssim.analysis.fits.trace import Cube, NotEstimable
from pssim.errors import ConfigError, integer

#: The columns of the table of candidate sizes.
GROUP_COLUMNS = ["size", "blocks", "within_minus_across", "sigma", "sigma_se", "z"]

#: The statistics of the groups test, in the order of the statistics table.
GROUP_STATISTICS = ("groups_size", "groups_sigma", "groups_sigma_se", "groups_z",
                    "groups_z_needed")


@dataclass(frozen=True)
class GroupsFit:
    """The test of every candidate size (``table``: one row per size, columns
    :data:`GROUP_COLUMNS`) and the best one: the size of largest z, significant when z is
    at least ``needed`` (:data:`SIGNIFICANT_Z` corrected for the number of sizes tried).
    ``why`` says why nothing could be tested (empty otherwise); ``factors`` are the block
    factors taken out of each worker-iteration when significant (rep × iteration ×
    worker)."""

    table: pd.DataFrame
    needed: float
    why: str = ""
    factors: np.ndarray | None = field(default=None, repr=False)

    @property
    def best(self) -> pd.Series | None:
        """The row of the size of largest z (None when no size could be tested)."""
        known = self.table[np.isfinite(self.table["z"].to_numpy(dtype=float))]
        return None if known.empty else known.loc[known["z"].idxmax()]

    @property
    def significant(self) -> bool:
        best = self.best
        return best is not None and float(best["z"]) >= self.needed

    def value(self) -> dict[str, float]:
        """The ``groups`` table of the model: the best size and its sigma."""
        best = self.best
        if best is None:
            raise NotEstimable(self.why)
        return {"size": int(best["size"]), "sigma": float(best["sigma"])}

    def rows(self) -> list[tuple[str, float, str]]:
        """The rows of the statistics table."""
        best = self.best
        if best is None:
            return [(name, math.nan, f"not estimable: {self.why}") for name in GROUP_STATISTICS]
        return [("groups_size", float(best["size"]), ""),
                statistic("groups_sigma", float, best["sigma"]),
                statistic("groups_sigma_se", float, best["sigma_se"]),
                ("groups_z", float(best["z"]), ""),
                ("groups_z_needed", self.needed, "")]

    def lines(self) -> list[str]:
        """The report's lines."""
        sizes = self.table["size"].astype(int).tolist()
        tried = (f"size {sizes[0]}" if len(sizes) == 1
                 else f"sizes {_ranges(sizes)}" if sizes else "no size")
        head = f"  groups of consecutive workers slowing together ({tried} tried): "
        best = self.best
        if best is None:
            return [head + f"not estimable: {self.why}"]
        se = f" ± {best['sigma_se']:.2g}" if math.isfinite(best["sigma_se"]) else ""
        found = (f"best size {int(best['size'])}, sigma {best['sigma']:.4g}{se} "
                 f"(z = {best['z']:.3g}")
        if not self.significant:
            return [head + f"none significant ({found} < {self.needed:.3g})"]
        return [head + f"{found} ≥ {self.needed:.3g}): the model includes them; the "
                "families are fitted to the durations with the block factors taken out"]


def _ranges(sizes: list[int]) -> str:
    """2..39, or 4, 8 when not consecutive."""
    if len(sizes) > 2 and sizes == list(range(sizes[0], sizes[-1] + 1)):
        return f"{sizes[0]}..{sizes[-1]}"
    return ", ".join(map(str, sizes))


def needed_z(candidates: int) -> float:
    """The z a best size must reach: the one-sided level of :data:`SIGNIFICANT_Z`, divided
    among the candidates (Bonferroni), so that a trace without groups is claimed to have
    them at most that often whatever the number of sizes tried."""
    from scipy import stats

    return float(stats.norm.isf(stats.norm.sf(SIGNIFICANT_Z) / max(candidates, 1)))


@dataclass(frozen=True)
class Residuals:
    """Log durations less their iteration's mean over the workers and their worker's mean
    over the iterations of the rep (over the reps, when each has one iteration): ``r``,
    one row per (rep, iteration); ``kappa`` = 1 − 1/K, the factor by which the second
    centring scales every covariance. The running sums of ``r`` and ``r²`` along the
    workers give any block's sums at the cost of two subtractions."""

    r: np.ndarray
    kappa: float
    running: np.ndarray = field(repr=False)
    running_squares: np.ndarray = field(repr=False)

    def block_sums(self, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sums of ``r`` and of ``r²`` over each block (rows × blocks)."""
        ends = np.append(starts[1:], self.r.shape[1])
        return (self.running[:, ends] - self.running[:, starts],
                self.running_squares[:, ends] - self.running_squares[:, starts])

    def pair_means(self, starts: np.ndarray, counts: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Each row's mean product of two workers of a block, and of two of different
        blocks."""
        workers = self.r.shape[1]
        within_pairs = float((counts * (counts - 1) / 2).sum())
        across_pairs = workers * (workers - 1) / 2 - within_pairs
        sums, squares = self.block_sums(starts)
        within = (sums**2 - squares).sum(axis=1) / 2
        every = (self.running[:, -1] ** 2 - self.running_squares[:, -1]) / 2
        return within / within_pairs, (every - within) / across_pairs


def residuals(values: np.ndarray) -> Residuals:
    """The :class:`Residuals` of the worker-iteration durations ``values[rep, iteration,
    worker]``."""
    logs = np.log(values)
    reps, iterations, workers = logs.shape
    r = logs - logs.mean(axis=2, keepdims=True)
    if iterations >= 2:
        r, kappa = r - r.mean(axis=1, keepdims=True), 1 - 1 / iterations
    elif reps >= 2:
        r, kappa = r - r.mean(axis=0, keepdims=True), 1 - 1 / reps
    else:
        raise NotEstimable("a single rep and iteration")
    rows = r.reshape(reps * iterations, workers)
    zero = np.zeros((len(rows), 1))
    return Residuals(rows, kappa, np.hstack([zero, np.cumsum(rows, axis=1)]),
                     np.hstack([zero, np.cumsum(rows * rows, axis=1)]))


def blocks(workers: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The first worker of each block and the number of workers in each."""
    starts = np.arange(0, workers, size)
    return starts, np.diff(np.append(starts, workers))


def coefficients(workers: int, counts: np.ndarray) -> tuple[float, float]:
    """E[within − across mean product] and E[diagonal − within mean product] of the
    row-centred block indicator, per unit of sigma²: 1 and 0 when the blocks are equal."""
    n = float(workers)
    within_pairs = float((counts * (counts - 1) / 2).sum())
    across_pairs = n * (n - 1) / 2 - within_pairs
    # Row centring subtracts r_i + r_j − r̄ from pair (i, j), r_i = (i's block size)/N.
    within_r = float((counts**2 * (counts - 1)).sum()) / n / within_pairs
    across_r = ((n - 1) * float((counts**2).sum()) / n - within_r * within_pairs) / across_pairs
    return 1 - within_r + across_r, within_r - 2 * float((counts**2).sum()) / n**2


def size_statistics(res: Residuals, size: int) -> dict[str, float]:
    """One candidate size: the mean over iterations of (mean product within blocks − mean
    product across), sigma from it, and their standard errors from its spread over the
    iterations."""
    groups, workers = res.r.shape
    starts, counts = blocks(workers, size)
    within, across = res.pair_means(starts, counts)
    d = within - across
    mean, se = float(d.mean()), float(d.std(ddof=1)) / math.sqrt(groups)
    scale = res.kappa * coefficients(workers, counts)[0]
    variance, variance_se = mean / scale, se / scale
    sigma = math.sqrt(max(variance, 0.0))
    return {"size": size, "blocks": len(starts), "within_minus_across": mean,
            "sigma": sigma, "sigma_se": variance_se / (2 * sigma) if sigma > 0 else math.nan,
            "z": mean / se if se > 0 else math.nan}


def block_factors(res: Residuals, size: int, sigma: float) -> np.ndarray:
    """The factor to take out of each worker-iteration (rows of ``res.r``): exp(λ'·m) with
    m its block's mean residual and λ' = 1 − √(1 − λ), λ = sigma²/(sigma² + noise²/n) the
    shrinkage of a block of n. Taking out λ'·m, not the mean itself, leaves log durations
    with no covariance within a block and the variance of the noise (docs/fitting.md)."""
    workers = res.r.shape[1]
    starts, counts = blocks(workers, size)
    within = float(res.pair_means(starts, counts)[0].mean())
    # Diagonal minus within-block mean product: kappa·(noise² + sigma²·offset).
    noise = max(0.0, (float((res.r * res.r).mean()) - within) / res.kappa
                - sigma**2 * coefficients(workers, counts)[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        shrink = np.where(noise > 0, sigma**2 / (sigma**2 + noise / counts), 1.0)
    means = res.block_sums(starts)[0] / counts
    return np.exp(np.repeat((1 - np.sqrt(1 - shrink)) * means, counts, axis=1))


def check_sizes(sizes: Sequence[int | str] | None, workers: int) -> list[int]:
    """The sizes to try: every size from 2 to N − 1 by default (a block of N is the
    ``shared`` factor, one of 1 no block)."""
    if sizes is None:
        return list(range(2, workers))
    out = []
    for size in sizes:
        s = integer("group_sizes", size, low=2)
        if s > workers - 1:
            raise ConfigError("group_sizes", size, f"must be from 2 to N − 1 = {workers - 1} "
                              "(a block of N workers is the shared factor)")
        out.append(s)
    if not out:
        raise ConfigError("group_sizes", list(sizes), "must give at least one size")
    return sorted(set(out))


def fit_groups(found: Cube, sizes: Sequence[int | str] | None = None) -> GroupsFit:
    """Test each candidate size on the trace's worker-iterations (blocks of consecutive
    workers in sorted order); the best is the size of largest z."""
    workers = found.values.shape[2]
    empty = pd.DataFrame(columns=GROUP_COLUMNS)
    if workers < 3:
        return GroupsFit(empty, math.nan, "fewer than 3 workers")
    candidates = check_sizes(sizes, workers)
    needed = needed_z(len(candidates))
    try:
        res = residuals(found.values)
    except NotEstimable as why:
        return GroupsFit(empty.assign(size=candidates), needed, str(why))
    with np.errstate(all="ignore"):
        table = pd.DataFrame([size_statistics(res, s) for s in candidates],
                             columns=GROUP_COLUMNS)
    tested = np.isfinite(table["z"].to_numpy(dtype=float)).any()
    fitted = GroupsFit(table, needed, "" if tested else
                       "the durations do not vary within iterations")
    if not fitted.significant:
        return fitted
    best = fitted.value()
    factors = block_factors(res, int(best["size"]), best["sigma"])
    return GroupsFit(table, needed, factors=factors.reshape(found.values.shape))

