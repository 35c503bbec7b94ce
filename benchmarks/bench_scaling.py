"""Cost against the size of the cluster, N = 40 to 10,000 workers at load r = 10.

For each N, in one process:

1. realizations per second of the SimPy and the vectorized engine (``run``, LCC-MMC)
   under networks none, fifo and fair, and the peak memory the vectorized run allocated
   (tracemalloc, which sees numpy's arrays) with the realizations it ran per chunk;
2. the SimPy engine's cost per event against a bare SimPy model of the same iteration
   (benchmarks/bench_des.py's minimal models, which complete at the same 2N − 1 messages),
   under none and fifo, garbage collector off while the bare model is timed.

The links: 4 MB messages, uplinks unbounded, the master's link 25 MB/s per worker (1 GB/s
at N = 40, as in bench_engines.py), so that it is as busy at every N. Each measurement
runs realizations until ``--budget`` seconds have passed (at least one); a case whose one
realization would take longer than ``--budget`` times ``--patience``, judged from the
cost at the previous N as growing like N, is left out with that estimate. Under a minute
at N ≤ 640; about five minutes in all with the defaults.

Run: .venv/bin/python benchmarks/bench_scaling.py [--budget 3] [--sizes 40,160,640,2560,10000]
     [--networks none,fifo,fair]
"""

from __future__ import annotations

import argparse
import gc
import math
import time
import tracemalloc
from typing import Any

import numpy as np
from bench_des import minimal_fifo, minimal_none

from pssim import network as networks
from pssim import run
from pssim.api import CHUNK_BUDGET, CHUNK_SIZE
from pssim.compute import ShiftedExponential
from pssim.engines import des
from pssim.schemes import make_scheme

LOAD = 10
SCHEME = "LCC-MMC"
MESSAGE_SIZE = 4e6
PER_WORKER = 25e6  # bytes/s of the master's link per worker
NETWORKS = ("none", "fifo", "fair")
#: How a realization's cost grows with N, to leave out what would not finish in time (fair:
#: N log N events of the link's virtual clock, close enough to N).
GROWTH = {"none": 1, "fifo": 1, "fair": 1}


def options(network: str, n: int) -> dict[str, Any]:
    if network == "none":
        return {}
    return {"network": network, "message_size": MESSAGE_SIZE,
            "master_bandwidth": PER_WORKER * n}


def chunk(n: int) -> int:
    """Realizations per chunk at N, as pssim.api.fitting_chunk sizes them."""
    from pssim.api import ARRAYS_PER_REALIZATION
    return max(1, min(CHUNK_SIZE, CHUNK_BUDGET // (n * LOAD * 8 * ARRAYS_PER_REALIZATION)))


def rate(engine: str, network: str, n: int, budget: float, first: int) -> tuple[float, int]:
    """Realizations per second of ``run`` on ``engine``: ``first`` realizations, then as
    many more as ``budget`` allows at that pace (at most 64 times as many)."""
    reps = first
    while True:
        start = time.perf_counter()
        run(SCHEME, n, LOAD, reps=reps, seed=1, engine=engine, **options(network, n))
        seconds = time.perf_counter() - start
        more = int(reps * min(64.0, budget / seconds))
        if seconds >= budget / 4 or more <= reps:
            return reps / seconds, reps
        reps = more


def peak_mib(network: str, n: int, reps: int) -> float:
    tracemalloc.start()
    try:
        run(SCHEME, n, LOAD, reps=reps, seed=1, engine="vectorized", **options(network, n))
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def events(scheme: Any, net: Any, finish: np.ndarray) -> int:
    """SimPy events the pssim engine schedules over the realizations of ``finish``."""
    counted: list[int] = []
    real = des._Iteration.run

    def counting(self: des._Iteration, times: np.ndarray) -> Any:
        result = real(self, times)
        counted.append(next(self.env._eid))  # type: ignore[attr-defined]
        return result

    des._Iteration.run = counting  # type: ignore[method-assign]
    try:
        des.Des().simulate(scheme, net, [finish])
    finally:
        des._Iteration.run = real  # type: ignore[method-assign]
    return sum(counted)


def per_event(n: int, budget: float) -> dict[str, tuple[float, float]]:
    """µs per SimPy event of the pssim engine and of the bare model, none and fifo."""
    scheme = make_scheme(SCHEME, n, LOAD)
    needed = scheme.threshold
    out: dict[str, tuple[float, float]] = {}
    for network in ("none", "fifo"):
        net = networks.build(**{"network": network, **options(network, n)})
        reps = 1
        while True:
            finish = ShiftedExponential(mu=10.0, alpha=0.01).finish_times(1, 0, reps, n, LOAD)
            ours = events(scheme, net, finish)
            bare_events: list[int] = []
            times = [finish[k].tolist() for k in range(reps)]
            best = [math.inf, math.inf]
            for _ in range(2):
                start = time.perf_counter()
                des.Des().simulate(scheme, net, [finish])
                best[0] = min(best[0], time.perf_counter() - start)
                gc.collect()
                gc.disable()
                try:
                    bare_events.clear()
                    start = time.perf_counter()
                    for t in times:
                        if network == "none":
                            minimal_none(t, needed, bare_events)
                        else:
                            minimal_fifo(t, net.master_time, needed, bare_events)
                    best[1] = min(best[1], time.perf_counter() - start)
                finally:
                    gc.enable()
            if sum(best) >= budget / 4 or reps >= 4096:
                break
            reps = min(4096, int(reps * max(2.0, budget / 2 / sum(best))))
        out[network] = (best[0] / ours * 1e6, best[1] / sum(bare_events) * 1e6)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=3.0,
                        help="seconds per measurement (default 3)")
    parser.add_argument("--patience", type=float, default=4.0,
                        help="run a case only if one realization is expected to take at most "
                             "this many budgets (default 4)")
    parser.add_argument("--sizes", default="40,160,640,2560,10000")
    parser.add_argument("--networks", default=",".join(NETWORKS),
                        help=f"networks to measure (default {','.join(NETWORKS)})")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    chosen = [n for n in NETWORKS if n in args.networks.split(",")]
    print(f"{SCHEME}, r = {LOAD}; 4 MB messages, master's link 25 MB/s per worker; "
          f"realizations per second over about {args.budget:g} s each")
    header = (f"{'N':>6} {'network':<8} {'des/s':>10} {'vectorized/s':>13} {'ratio':>7} "
              f"{'vec per N·r':>12} {'peak MiB':>9} {'chunk':>6}")
    print(header)
    print("-" * len(header))
    for network in chosen:
        # fifo's and fair's compiled loops are loaded (or compiled) on first use, once per
        # process: not what is measured.
        run(SCHEME, LOAD, LOAD, reps=1, engine="vectorized", **options(network, LOAD))
    seconds_per_rep: dict[tuple[str, str], tuple[int, float]] = {}
    throughput: dict[str, float] = {}
    for n in sizes:
        for network in chosen:
            cells = []
            rates = {}
            for engine in ("des", "vectorized"):
                known = seconds_per_rep.get((engine, network))
                if known is not None:
                    m, s = known
                    guess = s * (n / m) ** GROWTH[network]
                    if guess > args.budget * args.patience:
                        cells.append(f"(~{guess:.0f} s)")
                        continue
                first = 1 if engine == "des" else min(chunk(n), 64)
                r, _ = rate(engine, network, n, args.budget, first)
                rates[engine] = r
                seconds_per_rep[engine, network] = (n, 1 / r)
                cells.append(f"{r:.4g}")
            ratio = (f"{rates['vectorized'] / rates['des']:.0f}x"
                     if len(rates) == 2 else "")
            per_nr = ""
            peak = ""
            if "vectorized" in rates:
                # Computations simulated per second, per (worker × computation).
                work = rates["vectorized"] * n * LOAD
                base = throughput.setdefault(network, work)
                per_nr = f"{work:.3g} ({work / base:.2f})"
                # Two chunks, or what the budget allows.
                reps = min(chunk(n) * 2, max(1, int(rates["vectorized"] * args.budget)))
                peak = f"{peak_mib(network, n, reps):.0f}"
            print(f"{n:>6} {network:<8} {cells[0]:>10} {cells[1]:>13} {ratio:>7} "
                  f"{per_nr:>12} {peak:>9} {chunk(n):>6}", flush=True)
    print()
    print("SimPy engine, µs per event against a bare SimPy model (none and fifo; relative "
          "to N = 40 in brackets)")
    header = f"{'N':>6} {'network':<8} {'pssim µs/event':>18} {'bare µs/event':>18} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    first: dict[str, tuple[float, float]] = {}
    for n in sizes:
        for network, (ours, bare) in per_event(n, args.budget).items():
            a, b = first.setdefault(network, (ours, bare))
            print(f"{n:>6} {network:<8} {ours:>9.2f} ({ours / a:4.2f}) {bare:>9.2f} "
                  f"({bare / b:4.2f}) {ours / bare:>6.2f}x", flush=True)


if __name__ == "__main__":
    main()
