from __future__ import annotations

import json

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


def toml(config: dict) -> str:
    """A sweep file's text from its tables."""
    lines = []
    for section, values in config.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"
