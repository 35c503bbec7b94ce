"""Summaries of simulation results with confidence intervals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats


def summarize(summary: pd.DataFrame, by: str | Sequence[str] = "scheme",
              quantiles: Sequence[float] = (), confidence: float = 0.95) -> pd.DataFrame:
    """Mean completion time with its confidence interval (Student t), chosen quantiles of
    the completion time, and mean messages and bytes, per group of ``by``.

    >>> df = pd.DataFrame({"scheme": ["A", "A", "B"], "completion_time": [1.0, 3.0, 2.0],
    ...                    "messages": [4, 6, 5], "bytes": [4.0, 6.0, 5.0]})
    >>> summarize(df)[["scheme", "n", "mean_completion_time", "mean_messages"]]
      scheme  n  mean_completion_time  mean_messages
    0      A  2                   2.0            5.0
    1      B  1                   2.0            5.0
    """
    keys = [by] if isinstance(by, str) else list(by)
    groups = summary.groupby(keys, sort=False, dropna=False)
    t = groups["completion_time"]
    out = pd.DataFrame({"n": t.size(), "mean_completion_time": t.mean()})
    sem = t.std(ddof=1) / np.sqrt(out["n"])
    half = sem * stats.t.ppf(0.5 + confidence / 2, np.maximum(out["n"] - 1, 1))
    out["ci_low"] = out["mean_completion_time"] - half
    out["ci_high"] = out["mean_completion_time"] + half
    for q in quantiles:
        out[f"q{q:g}_completion_time"] = t.quantile(q)
    out["mean_messages"] = groups["messages"].mean()
    if "bytes" in summary.columns:
        out["mean_bytes"] = groups["bytes"].mean()
    return out.reset_index()
