"""Summaries of simulation results with confidence intervals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

# The t quantile from scipy.special: scipy.stats would triple the import time of every
# command that prints a table.
from scipy.special import stdtrit


def ci_method(confidence: float = 0.95) -> str:
    """How :func:`summarize` computes its interval, as written in its ``ci_method`` column.

    >>> ci_method(0.95)
    'Student-t 95% interval of the mean, lower bound clipped at 0'
    """
    return f"Student-t {100 * confidence:.4g}% interval of the mean, lower bound clipped at 0"


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
    # n − 1 degrees of freedom; with n = 1 there are none, and no interval.
    quantile = stdtrit(np.where(n >= 2, n - 1, np.nan), 0.5 + confidence / 2)
    half = sem * quantile
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
