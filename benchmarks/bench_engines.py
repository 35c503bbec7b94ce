"""Vectorized engine against the SimPy engine, the paper's Fig. 2 grid, and peak memory.

Run: .venv/bin/python benchmarks/bench_engines.py [--des-reps 2000] [--reps 100000]
Prints realizations per second of both engines and their ratio (same process, same
draws) under networks none, fifo and fair, the time of the whole Fig. 2 grid, and the
peak memory of one run of 1,000,000 realizations at N = 40, r = 10 (measured in a child
process).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

from pssim import run
from pssim.schemes import feasible

N = 40
FIFO = {"network": "fifo", "message_size": 4e6, "master_bandwidth": 1e9}  # link busy
FAIR = {**FIFO, "network": "fair"}


def rate(engine: str, scheme: str, reps: int, **options: object) -> float:
    """Realizations per second, best of three."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        run(scheme, N, 5, reps=reps, seed=1, engine=engine, **options)  # type: ignore[arg-type]
        best = min(best, time.perf_counter() - start)
    return reps / best


def fig2_grid(reps: int) -> tuple[float, int]:
    start = time.perf_counter()
    points = 0
    for r in range(2, 11):
        names = [s for s in ("GC", "LCC", "LCC-MMC", "LCC-MMC-2", "UC-MMC", "UC-MMC-PG")
                 if feasible(s, N, r)]
        run(names, N, r, reps=reps, seed=1)
        points += len(names)
    return time.perf_counter() - start, points


def peak_memory_mib(reps: int) -> float:
    code = (f"from pssim import run; run('all', {N}, 10, reps={reps}, seed=1); "
            "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip()) / 1024  # ru_maxrss is KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--des-reps", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=100_000)
    parser.add_argument("--memory-reps", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"N = {N}, r = 5; realizations per second (best of 3)")
    print(f"{'case':<22} {'des':>10} {'vectorized':>12} {'ratio':>8}  target")
    for label, options, target in (("none", {}, 300), ("fifo (link busy)", FIFO, 100),
                                   ("fair (link busy)", FAIR, 300)):
        for scheme in ("LCC-MMC", "UC-MMC"):
            d = rate("des", scheme, args.des_reps, **options)
            v = rate("vectorized", scheme, args.reps, **options)
            print(f"{scheme + ', ' + label:<22} {d:>10.0f} {v:>12.0f} {v / d:>7.0f}x  "
                  f">= {target}x")
    seconds, points = fig2_grid(args.reps)
    print(f"Fig. 2 grid: {points} (scheme, r) points x {args.reps} realizations in "
          f"{seconds:.1f} s (target < 10 s)")
    print(f"peak memory, {args.memory_reps} realizations at N = {N}, r = 10, all schemes: "
          f"{peak_memory_mib(args.memory_reps):.0f} MiB (target < 2048 MiB)")
    print(f"this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
