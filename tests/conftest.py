from __future__ import annotations

import pandas as pd


def durations(per_worker: list[float] | list[list[float]]) -> pd.DataFrame:
    """An explicit-durations table: one duration per worker, or one per computation."""
    rows = []
    for w, d in enumerate(per_worker):
        if isinstance(d, list):
            rows += [{"worker": w, "computation": c + 1, "duration": x} for c, x in enumerate(d)]
        else:
            rows.append({"worker": w, "duration": d})
    return pd.DataFrame(rows)
