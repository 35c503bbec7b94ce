"""Training runs: K = 100 iterations at N = 40, r = 4 (LCC-MMC, network none), the
vectorized engine against the SimPy engine, and the SimPy engine's cost per iteration
against its cost for a single-iteration run of the same configuration.

Run: .venv/bin/python benchmarks/bench_training.py [--des-reps 20] [--reps 2000]
Prints realizations per second of both engines (same process, same draws) and the ratios.
"""

from __future__ import annotations

import argparse
import time

from pssim import run

BASE = {"scheme": "LCC-MMC", "workers": 40, "load": 4, "seed": 1}


def best(repeats: int, **options: object) -> float:
    """Seconds of the fastest of ``repeats`` runs."""
    fastest = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run(**BASE, **options)  # type: ignore[arg-type]
        fastest = min(fastest, time.perf_counter() - start)
    return fastest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--des-reps", type=int, default=20)
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    k = args.iterations
    des = args.des_reps / best(args.repeats, reps=args.des_reps, iterations=k, engine="des")
    vec = args.reps / best(args.repeats, reps=args.reps, iterations=k, engine="vectorized")
    single = (args.des_reps * k) / best(args.repeats, reps=args.des_reps * k, engine="des")
    print(f"K = {k} iterations, N = 40, r = 4, LCC-MMC, network none; best of {args.repeats}")
    print(f"{'engine':<12} {'realizations/s':>15}")
    print(f"{'des':<12} {des:>15,.1f}")
    print(f"{'vectorized':<12} {vec:>15,.1f}")
    print(f"vectorized / des: {vec / des:.0f}x (target >= 100x)")
    per_iteration = 1 / (des * k)
    print(f"des cost per iteration: {per_iteration * 1e6:.1f} us, single-iteration run: "
          f"{1e6 / single:.1f} us per realization, ratio {per_iteration * single:.2f}x "
          "(target <= 1.2x)")


if __name__ == "__main__":
    main()
