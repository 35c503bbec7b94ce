"""Coded gradient descent with real numbers at N = 40, r = 4, m = 40,000, d = 100.

1. The numerical work of one iteration (the workers' messages, the decode, the exact
   gradient and the loss), per realization, against the bare numpy cost of computing the
   N partition gradients X_pᵀ(X_p w − y_p) of one model.
2. The convergence scenario's workload: K iterations × R realizations of the six schemes
   under network none, its clock (the timing run: the vectorized engine's reception
   times) and its numbers timed apart, in one process and on a pool of 2 processes (a
   scheme a task, as the scenario runs them).

Run: .venv/bin/python benchmarks/bench_learning.py [--reps 100] [--iterations 100]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import pssim
from pssim import learning
from pssim.learning import Problem, descend, held, train
from pssim.schemes import PAPER_SCHEMES, make_scheme

SPEC = (40_000, 100, 1.0)
WORKERS, LOAD = 40, 4


def best(repeats: int, call: object) -> float:
    fastest = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        fastest = min(fastest, time.perf_counter() - start)
    return fastest


def per_iteration(problem: Problem, reps: int, repeats: int) -> None:
    x, y = problem.partitions(WORKERS)
    w = np.random.default_rng(0).standard_normal(problem.features)

    def bare() -> None:
        for xp, yp in zip(x, y, strict=True):
            xp.T @ (xp @ w - yp)

    baseline = best(repeats, bare)
    print(f"bare numpy, N = {WORKERS} partition gradients of one model: "
          f"{1e3 * baseline:.3f} ms")
    geometry = problem.geometry
    config = pssim.Config(scheme="all", workers=WORKERS, load=LOAD, iterations=1, reps=reps)
    for name in PAPER_SCHEMES:
        scheme = make_scheme(name, WORKERS, LOAD)
        code = scheme.code(x, y)
        timing = pssim.simulate(config.replace(scheme=name), trace=True)
        assert timing.trace is not None
        received = held(timing.summary, timing.trace, config, scheme)
        seconds = best(repeats, lambda code=code, received=received: descend(
            code, geometry, received, 1.0 / geometry.lipschitz))
        each = seconds / reps
        print(f"  {name:<10} one iteration, per realization ({reps} in lockstep): "
              f"{1e3 * each:.3f} ms = {each / baseline:.2f}x the bare cost")


def one_scheme(args: tuple[str, int, int]) -> tuple[float, float]:
    """Seconds of one scheme's training runs, and of the clock within them (the timing
    run)."""
    name, reps, iterations = args
    problem = Problem.synthetic(*SPEC)
    problem.geometry  # noqa: B018  (computed once, outside the timings)
    clock = [0.0]
    simulate = learning.simulate

    def timed(*a: object, **k: object) -> object:
        start = time.perf_counter()
        out = simulate(*a, **k)  # type: ignore[arg-type]
        clock[0] += time.perf_counter() - start
        return out

    learning.simulate = timed  # type: ignore[assignment]
    try:
        start = time.perf_counter()
        train(pssim.Config(scheme=name, workers=WORKERS, load=LOAD, iterations=iterations,
                           reps=reps, decode_time="model"), problem)
        total = time.perf_counter() - start
    finally:
        learning.simulate = simulate
    return total, clock[0]


def workload(reps: int, iterations: int) -> None:
    jobs = [(name, reps, iterations) for name in PAPER_SCHEMES]
    parts = [one_scheme(job) for job in jobs]
    total = sum(p[0] for p in parts)
    clock = sum(p[1] for p in parts)
    print(f"{iterations} iterations x {reps} realizations x 6 schemes, network none, one "
          f"process: {total:.1f} s (the clock, the timing run: {clock:.1f} s; the numbers, "
          f"encoding included: {total - clock:.1f} s)")
    for (name, *_), (seconds, timing) in zip(jobs, parts, strict=True):
        print(f"  {name:<10} {seconds:.1f} s, clock {timing:.1f} s")
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        list(pool.map(train_only, jobs))
    print(f"  the same on 2 processes: {time.perf_counter() - start:.1f} s")


def train_only(args: tuple[str, int, int]) -> None:
    name, reps, iterations = args
    train(pssim.Config(scheme=name, workers=WORKERS, load=LOAD, iterations=iterations,
                       reps=reps, decode_time="model"), Problem.synthetic(*SPEC))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    per_iteration(Problem.synthetic(*SPEC), args.reps, args.repeats)
    workload(args.reps, args.iterations)


if __name__ == "__main__":
    main()
