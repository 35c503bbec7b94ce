"""pssim sample at scale: 1,000,000 (realization, iteration) rows at N = 40, r = 4 (160
million long-form rows) written to Parquet, against a bare baseline in the same process:
the same number of Exp(1) draws written with pyarrow in the same chunks, without pssim.

    .venv/bin/python benchmarks/bench_sample.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pssim.sampling import CHUNK_ROWS, sample

N, R = 40, 4


def baseline(path: Path, cells: int) -> None:
    """Exp(1) draws and their cumulative sums, chunk by chunk, with the same columns."""
    rng = np.random.default_rng(0)
    per_cell = N * R
    rows_left = cells * per_cell
    writer = None
    rep = 0
    while rows_left:
        n = min(CHUNK_ROWS // per_cell * per_cell, rows_left)
        x = rng.standard_exponential(n)
        table = pa.table({"rep": np.repeat(np.arange(rep, rep + n // per_cell), per_cell),
                          "iteration": np.zeros(n, np.int32),
                          "worker": np.zeros(n, np.int32), "computation": np.ones(n, np.int32),
                          "duration": x, "finish": x * 2})
        writer = writer or pq.ParquetWriter(path, table.schema, use_dictionary=[
            "rep", "iteration", "worker", "computation"])
        writer.write_table(table)
        rows_left -= n
        rep += n // per_cell
    if writer is not None:
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="(realization, iteration) rows")
    args = parser.parse_args()
    reps, iterations = args.rows // 100, 100
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        baseline(Path(folder) / "bare.parquet", reps * iterations)
        bare = time.perf_counter() - t0
        for name, options in (("paper", {}), ("gamma+markov", {
                "family": "gamma", "shape": 2.0, "rate": 20.0, "markov": "0.05:0.3:4"})):
            out = Path(folder) / f"{name}.parquet"
            t0 = time.perf_counter()
            sample(workers=N, load=R, iterations=iterations, reps=reps, seed=1, out=out,
                   **options)
            took = time.perf_counter() - t0
            size = out.stat().st_size / 2**20
            print(f"{name:>13}: {reps * iterations:,} (rep, iteration) rows = "
                  f"{reps * iterations * N * R:,} durations in {took:.1f} s "
                  f"({took / bare:.2f}x the bare baseline's {bare:.1f} s), {size:,.0f} MiB")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(f"peak resident memory of the process: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
