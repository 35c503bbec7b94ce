from __future__ import annotations

import json
from typing import Any

import pandas as pd
from hypothesis import strategies as st


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


def tied_durations(draw: st.DrawFn, workers: int, load: int) -> dict[str, Any]:
    """Explicit durations drawn from a coarse grid (1 to 3 reps, one per worker or per
    computation), so that finish times, arrivals and receptions tie: the Config options
    ``compute_times`` and ``reps``."""
    grid = st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0])
    reps = draw(st.integers(1, 3))
    per_computation = draw(st.booleans())
    rows = [{"rep": k, "worker": w, "computation": c + 1, "duration": draw(grid)}
            for k in range(reps) for w in range(workers)
            for c in range(load if per_computation else 1)]
    table = pd.DataFrame(rows)
    return {"compute_times": table if per_computation else table.drop(columns="computation"),
            "reps": reps}
