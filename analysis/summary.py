"""Summaries of simulation results with confidence intervals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

# The t quantile from scipy.special: scipy.stats would triple the import time of every
# command that prints a table.
from scipy.special import stdtrit


def ci_method(confidence: float = 0.95) -> str:
    """How :func:`summarize` computes its interval, as written in its ``ci_method`` column.

    >>> ci_method(0.95)
    'Student-t 95% interval of the mean, lower bound clipped at 0'
    """
    return f"Student-t {100 * confidence:.4g}% interval of the mean, lower bound clipped at 0"


def t_quantile(n: ArrayLike, confidence: float = 0.95) -> np.ndarray:
    """The Student-t quantile of a two-sided interval at ``confidence`` from n
    observations (n − 1 degrees of freedom); NaN where n < 2, which has none and so no
    interval.

    >>> float(t_quantile([3])[0])  # doctest: +ELLIPSIS
    4.302...
    """
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.asarray(stdtrit(np.where(n >= 2, n - 1, np.nan), 0.5 + confidence / 2))


def summarize(summary: pd.DataFrame, by: str | Sequence[str] = "scheme",
              quantiles: Sequence[float] = (), confidence: float = 0.95,
              method_column: bool = False) -> pd.DataFrame:
    """Mean completion time with its confidence interval, chosen quantiles of the
    completion time, and mean messages and bytes, per group of ``by``.

    The interval (``ci_low``, ``ci_high``) is the Student-t interval of the mean at
    ``confidence``: mean ± t(1/2 + confidence/2, n − 1) · s/√n, with s the sample standard
    deviation (n − 1 in its denominator) of the group's n realizations. It is exact for
    normal data and widens with few realizations (t = 12.71 for n = 2 at 95%). A group of
    one realization has no interval: both bounds are NaN. A completion time cannot be
    negative, so the lower bound is clipped at 0: [max(0, mean − h), mean + h]. The true
    mean lies in the clipped interval whenever it lies in the unclipped one, so the
    coverage stays at least ``confidence``; the upper bound is left as it is.

    The result says so itself: ``attrs["ci_method"]`` always holds :func:`ci_method`'s text,
    and ``method_column=True`` adds it as a column ``ci_method`` after ``ci_high``, so that
    it reaches a CSV file (off by default: code that reads these tables by their columns
    keeps the columns it knows).

    >>> df = pd.DataFrame({"scheme": ["A", "A", "B"], "completion_time": [1.0, 3.0, 2.0],
    ...                    "messages": [4, 6, 5], "bytes": [4.0, 6.0, 5.0]})
    >>> summarize(df)[["scheme", "n", "mean_completion_time", "ci_low", "mean_messages"]]
      scheme  n  mean_completion_time  ci_low  mean_messages
    0      A  2                   2.0     0.0            5.0
    1      B  1                   2.0     NaN            5.0
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: {confidence!r}; must be between 0 and 1")
    keys = [by] if isinstance(by, str) else list(by)
    groups = summary.groupby(keys, sort=False, dropna=False)
    t = groups["completion_time"]
    out = pd.DataFrame({"n": t.size(), "mean_completion_time": t.mean()})
    n = out["n"].to_numpy(dtype=float)
    sem = t.std(ddof=1) / np.sqrt(n)
    half = sem * t_quantile(n, confidence)
    out["ci_low"] = (out["mean_completion_time"] - half).clip(lower=0.0)
    out["ci_high"] = out["mean_completion_time"] + half
    if method_column:
        out["ci_method"] = ci_method(confidence)
    for q in quantiles:
        out[f"q{q:g}_completion_time"] = t.quantile(q)
    out["mean_messages"] = groups["messages"].mean()
    if "bytes" in summary.columns:
        out["mean_bytes"] = groups["bytes"].mean()
    out = out.reset_index()
    out.attrs["ci_method"] = ci_method(confidence)
    return out


def paired_ratio(data: pd.DataFrame, baseline: str, value: str = "completion_time",
                 label: str = "scheme", pair: str = "rep", by: str | Sequence[str] = (),
                 confidence: float = 0.95) -> pd.DataFrame:
    """Each ``label``'s ``value`` relative to ``baseline``'s, paired realization by
    realization (docs/model.md, "Baseline").

    Realizations with the same ``pair`` (rep) within a group of ``by`` drew the same
    stragglers (common random numbers), so the comparison is on the per-realization log
    ratios ℓ_k = ln(value_k / baseline_k), over the pairs both have. ``ratio`` is
    exp(mean ℓ), the geometric mean of the per-realization ratios, and (``ci_low``,
    ``ci_high``) is exp(mean ℓ ± t·se), se = sd(ℓ)/√n, the Student-t interval at
    ``confidence`` with n − 1 degrees of freedom, taken back from the log scale: it is
    never negative, and the interval of A to B is the reciprocal of that of B to A.
    Columns: ``by``…, ``label``, ``pairs`` (n), ``ratio``, ``ci_low``, ``ci_high``,
    ``mean_log_ratio``, ``se_log_ratio``; rows in the data's order of ``label``. The
    baseline's own row is 1 with the interval [1, 1]. Fewer than two pairs give no
    interval (NaN), and a pair with a value ≤ 0, which has no log, makes its label's
    statistics NaN.

    >>> d = pd.DataFrame({"scheme": ["A"] * 2 + ["B"] * 2, "rep": [0, 1] * 2,
    ...                   "completion_time": [1.0, 2.0, 2.0, 4.0]})
    >>> paired_ratio(d, "A")[["scheme", "pairs", "ratio", "ci_low", "ci_high"]]
      scheme  pairs  ratio  ci_low  ci_high
    0      A      2    1.0     1.0      1.0
    1      B      2    2.0     2.0      2.0
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: {confidence!r}; must be between 0 and 1")
    keys = [by] if isinstance(by, str) else list(by)
    rows = data.loc[data[value].notna(), [*keys, label, pair, value]]
    if rows.duplicated([*keys, label, pair]).any():
        raise ValueError(f"data: several rows for one ({', '.join([*keys, label])}, "
                         f"{pair}); each {pair} must appear once per {label} and group")
    if not (rows[label] == baseline).any():
        raise ValueError(f"baseline: {baseline!r} is not a {label} of the data")
    base = rows.loc[rows[label] == baseline, [*keys, pair, value]]
    paired = rows.merge(base, on=[*keys, pair], suffixes=("", "_baseline"))
    x = paired[value].to_numpy(dtype=float)
    b = paired[f"{value}_baseline"].to_numpy(dtype=float)
    positive = (x > 0) & (b > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log = pd.Series(np.where(positive, np.log(np.where(positive, x, 1.0))
                                 - np.log(np.where(positive, b, 1.0)), np.nan))
    groups = [paired[k] for k in [*keys, label]]
    stats = log.groupby(groups, sort=False, dropna=False).agg(["size", "mean", "std"])
    undefined = log.isna().groupby(groups, sort=False, dropna=False).any()
    out = stats.rename(columns={"size": "pairs", "mean": "mean_log_ratio"})
    out["se_log_ratio"] = out.pop("std") / np.sqrt(out["pairs"])
    out.loc[undefined, ["mean_log_ratio", "se_log_ratio"]] = np.nan
    half = out["se_log_ratio"].to_numpy() * t_quantile(out["pairs"].to_numpy(), confidence)
    out["ratio"] = np.exp(out["mean_log_ratio"])
    out["ci_low"] = np.exp(out["mean_log_ratio"] - half)
    out["ci_high"] = np.exp(out["mean_log_ratio"] + half)
    out = out.reset_index()
    return out[[*keys, label, "pairs", "ratio", "ci_low", "ci_high", "mean_log_ratio",
                "se_log_ratio"]]
