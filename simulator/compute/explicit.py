"""Explicit durations: a table of measured or hand-written durations, replayed exactly
(docs/model.md, "Cluster and compute times").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pssim.compute.base import BLOCK, ComputeModel, multiples
from pssim.errors import ConfigError
from pssim.files import is_parquet

#: The largest worker, computation or rep id a durations table may hold (exact as a float).
MAX_ID = 2**53


class ExplicitDurations(ComputeModel):
    """Durations from a table with columns ``worker``, ``duration`` and optionally
    ``computation`` (1..r) and ``rep``.

    Without ``computation`` a worker's duration applies to each of its computations, so
    computation c finishes at c·duration; with it, at the sum of the durations of 1..c.
    Without ``rep`` every realization uses the same durations; with it, realization k uses
    the rows with rep == k. Likewise ``iteration`` (0-based): without it every iteration
    uses the same durations; with it, iteration t uses the rows with iteration == t, so a
    measured trace of many iterations replays exactly (a single-iteration run uses
    iteration 0).
    """

    name = "explicit"

    def __init__(self, table: pd.DataFrame, *, source: str = "the table") -> None:
        self.source = source

        def bad(problem: str) -> ConfigError:
            # One sentence about the file: what is wrong where, and what is allowed.
            return ConfigError("compute_times", source, problem)

        missing = [c for c in ("worker", "duration") if c not in table.columns]
        if missing:
            raise bad(f"has the columns {_describe(table)}, without "
                      f"{' and '.join(missing)}; it must have the columns worker and "
                      "duration (optional: computation, rep, iteration)")
        if table.empty:
            raise bad("has no rows; it must give at least one duration")

        def bad_row(i: int, column: str, value: Any, allowed: str) -> ConfigError:
            return bad(f"row {i + 1}, column {column}: {value} is not allowed; {allowed}")

        cols = ["worker", "duration"] + [c for c in ("computation", "rep", "iteration")
                                         if c in table.columns]
        t = table[cols]
        for c in cols:
            values = pd.to_numeric(t[c], errors="coerce").to_numpy(dtype=float)
            if c == "duration":
                wrong = ~np.isfinite(values) | (values <= 0)
                allowed = "durations must be finite numbers > 0"
            else:
                # Ids beyond 2^53 are not exact as the numbers a CSV reader gives, and
                # beyond 2^63 they would wrap to another worker: both are refused.
                wrong = (~np.isfinite(values) | (values != np.round(values)) | (values < 0)
                         | (values > MAX_ID))
                allowed = f"{c} must be an integer in [0, 2^53]"
                if c == "computation":
                    wrong |= values < 1
                    allowed = "computation must be an integer in [1, 2^53]"
            if wrong.any():
                i = int(np.flatnonzero(wrong)[0])
                value = t[c].iloc[i]  # a plain Python value, not np.float64(nan), in the text
                shown = value.item() if isinstance(value, np.generic) else value
                raise bad_row(i, c, shown, allowed)
        self.table = t.astype({c: "int64" for c in cols if c != "duration"}).astype(
            {"duration": "float64"})
        has_rep = "rep" in cols
        self.has_computation = "computation" in cols
        keys = [c for c in ("rep", "iteration", "worker", "computation") if c in cols]
        dup = self.table.duplicated(keys)
        if dup.any():
            first = self.table[dup].iloc[0]
            twice = ", ".join(f"{k} {int(first[k])}" for k in keys)
            raise bad(f"gives {twice} twice; each ({', '.join(keys)}) must appear once")
        self.rep = self.table["rep"].to_numpy() if has_rep else np.zeros(len(t), dtype=np.int64)
        self.worker = self.table["worker"].to_numpy()
        self.comp = (self.table["computation"].to_numpy() - 1 if self.has_computation
                     else np.zeros(len(t), dtype=np.int64))
        self.duration = self.table["duration"].to_numpy()
        self.reps_available: int | None = int(self.rep.max()) + 1 if has_rep else None
        self.iteration: np.ndarray | None = (self.table["iteration"].to_numpy()
                                             if "iteration" in cols else None)

    def _dense(self, start: int, stop: int, workers: int, load: int,
               iteration: int = 0) -> np.ndarray:
        """Durations of realizations start..stop-1 in ``iteration`` as a (reps, workers,
        computations) array, NaN where the table says nothing; rows beyond N, r or the
        realizations asked for are left out, so stray ids cost nothing."""
        width = load if self.has_computation else 1
        if self.reps_available is None:
            start, stop = 0, 1
        keep = ((self.worker < workers) & (self.comp < width) & (self.rep >= start)
                & (self.rep < stop))
        if self.iteration is not None:
            keep &= self.iteration == iteration
        dense = np.full((stop - start, workers, width), np.nan)
        dense[self.rep[keep] - start, self.worker[keep], self.comp[keep]] = self.duration[keep]
        return dense

    @classmethod
    def from_file(cls, path: str | Path) -> ExplicitDurations:
        """Read a CSV (or Parquet) file of durations."""
        p = Path(path)
        if not p.is_file():
            raise ConfigError("compute_times", str(path), "must be an existing file")
        try:
            table = pd.read_parquet(p) if is_parquet(p) else pd.read_csv(p)
        except Exception as exc:  # any reader failure means the same to a user
            reason = " ".join(str(exc).split())  # one line: pandas' messages end in "\n"
            raise ConfigError("compute_times", str(path),
                              f"must be a readable CSV or Parquet file ({reason})") from None
        return cls(table, source=str(path))

    def check(self, workers: int, load: int, reps: int, iterations: int = 1) -> None:
        if self.reps_available is not None and reps > self.reps_available:
            raise ConfigError("reps", reps, f"must be <= {self.reps_available}, the number "
                              f"of reps in {self.source}")
        if self.iteration is not None:
            present = set(np.unique(self.iteration).tolist())
            missing = [t for t in range(iterations) if t not in present]
            if missing:
                raise ConfigError("compute_times", self.source,
                                  f"has no rows of iteration {missing[0]}; its iteration "
                                  f"column must give every iteration 0..{iterations - 1}")
        for t in range(iterations if self.iteration is not None else 1):
            self._check_iteration(workers, load, reps, t)

    def _check_iteration(self, workers: int, load: int, reps: int, iteration: int) -> None:
        for start in range(0, reps if self.reps_available else 1, BLOCK):
            dense = self._dense(start, min(reps, start + BLOCK), workers, load, iteration)
            holes = np.argwhere(np.isnan(dense))
            if len(holes):
                rep, worker, comp = holes[0].tolist()
                where = f" (rep {start + rep})" if self.reps_available else ""
                if self.iteration is not None:
                    where += f" (iteration {iteration})"
                what = f", computation {comp + 1}" if self.has_computation else ""
                needs = (f"computations 1..{load} of " if self.has_computation
                         else "a duration for ")
                raise ConfigError("compute_times", self.source,
                                  f"has no duration for worker {worker}{what}{where}; it must "
                                  f"give {needs}every worker 0..{workers - 1}")

    def finish_times(self, seed: int, start: int, stop: int, workers: int, load: int,
                     iteration: int = 0) -> np.ndarray:
        d = self._dense(start, stop, workers, load, iteration)
        if self.reps_available is None:
            d = np.broadcast_to(d, (stop - start, *d.shape[1:]))
        if self.has_computation:
            return np.cumsum(d, axis=2)
        return multiples(d[:, :, 0], load)

    def parameters(self) -> dict[str, Any]:
        return {"model": self.name, "mu": float("nan"), "alpha": float("nan")}

    def __repr__(self) -> str:
        return f"ExplicitDurations({len(self.table)} rows from {self.source})"


def _describe(table: pd.DataFrame) -> str:
    return ", ".join(map(str, table.columns))
