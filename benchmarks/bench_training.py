"""Training runs: K = 100 iterations at N = 40, r = 4 (LCC-MMC), the vectorized engine
against the SimPy engine under network none, fifo and fair (4 MB messages, the master's
link at 1 GB/s), and the SimPy engine's cost per iteration against its cost for a
single-iteration run of the same configuration (network none).

Run: .venv/bin/python benchmarks/bench_training.py [--des-reps 20] [--reps 2000]
Prints realizations per second of both engines (same process, same draws) and the ratios.
"""

from __future__ import annotations

import argparse
import time

from pssim import run

BASE = {"scheme": "LCC-MMC", "workers": 40, "load": 4, "seed": 1}
NETWORKS: dict[str, dict[str, object]] = {
    "none": {},
    "fifo": {"network": "fifo", "message_size": "4MB", "master_bandwidth": "1GB/s"},
    "fair": {"network": "fair", "message_size": "4MB", "master_bandwidth": "1GB/s"},
}


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
    print(f"K = {k} iterations, N = 40, r = 4, LCC-MMC; best of {args.repeats}")
    print(f"{'network':<8} {'des realizations/s':>19} {'vectorized':>11} {'ratio':>7}")
    for network, links in NETWORKS.items():
        des = args.des_reps / best(args.repeats, reps=args.des_reps, iterations=k,
                                   engine="des", **links)
        vec = args.reps / best(args.repeats, reps=args.reps, iterations=k,
                               engine="vectorized", **links)
        print(f"{network:<8} {des:>19,.1f} {vec:>11,.1f} {vec / des:>6.0f}x (target >= 100x)")
        if network == "none":
            single = (args.des_reps * k) / best(args.repeats, reps=args.des_reps * k,
                                                engine="des")
            per_iteration = 1 / (des * k)
            print(f"des cost per iteration: {per_iteration * 1e6:.1f} us, single-iteration "
                  f"run: {1e6 / single:.1f} us per realization, ratio "
                  f"{per_iteration * single:.2f}x (target <= 1.2x)")

if __name__ == "__main__":
    main()
