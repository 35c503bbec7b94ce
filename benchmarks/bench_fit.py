"""``pssim fit`` of a 256-worker × 1,000-iteration trace (target: under 10 s).

Run: .venv/bin/python benchmarks/bench_fit.py [--workers 256] [--iterations 1000]
Writes a synthetic trace (shifted gamma durations, Markov stragglers, a shared factor) as
Parquet and as CSV into a temporary folder, then prints the seconds of the fit itself and
of the whole command (reading, fitting, printing, and with --out the tables and figures).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pssim.analysis.fits import fit_trace, read_trace


def trace(workers: int, iterations: int, seed: int = 1) -> pd.DataFrame:
    """Durations 0.01 + Gamma(3, rate 30) s, × 4 in the slow state of a Markov chain
    (p_slow 0.05, p_recover 0.3), × a shared factor e^(0.1·Z) per iteration."""
    rng = np.random.default_rng(seed)
    slow = np.empty((iterations, workers), dtype=bool)
    slow[0] = rng.random(workers) < 0.05 / 0.35
    for t in range(1, iterations):
        u = rng.random(workers)
        slow[t] = np.where(slow[t - 1], u >= 0.3, u < 0.05)
    x = 0.01 + rng.gamma(3.0, 1 / 30, (iterations, workers))
    x *= np.where(slow, 4.0, 1.0) * np.exp(0.1 * rng.standard_normal((iterations, 1)))
    return pd.DataFrame({"iteration": np.repeat(np.arange(iterations), workers),
                         "worker": np.tile(np.arange(workers), iterations),
                         "duration": x.ravel()})


def command(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pssim", "fit", *args], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=1000)
    args = parser.parse_args()
    data = trace(args.workers, args.iterations)
    with tempfile.TemporaryDirectory() as folder:
        parquet, csv = Path(folder) / "trace.parquet", Path(folder) / "trace.csv"
        data.to_parquet(parquet)
        data.to_csv(csv, index=False)
        read_trace(parquet)  # imports and caches, so that the fit alone is timed next
        start = time.perf_counter()
        report = fit_trace(read_trace(parquet))
        fitting = time.perf_counter() - start
        print(f"{args.workers} workers × {args.iterations} iterations "
              f"({len(data):,} durations); chosen: {report.chosen}")
        print(f"read_trace + fit_trace (Parquet)             {fitting:6.2f} s")
        print(f"pssim fit TRACE.parquet                      {command(str(parquet)):6.2f} s")
        print(f"pssim fit TRACE.csv                          {command(str(csv)):6.2f} s")
        out = str(Path(folder) / "out")
        print(f"pssim fit TRACE.parquet --out DIR            "
              f"{command(str(parquet), '--out', out):6.2f} s")
        print(f"pssim fit TRACE.parquet --out DIR --markov   "
              f"{command(str(parquet), '--out', out, '--markov'):6.2f} s")


if __name__ == "__main__":
    main()
